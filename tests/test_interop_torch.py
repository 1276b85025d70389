"""Zoo networks built by convcalc's own torch builder, imported back — through the PyTorch path
(torch.fx, and the forward-hook tracer) and through an ONNX export (torch.onnx.export, legacy
exporter, no constant folding so batch norms are not fused into the convolutions) — must give
the zoo walk's parameters, buffers, MACs, output shape, and every conv/linear layer with its
receptive field.

A representative set runs by default; CONVCALC_INTEROP_ALL=1 runs every zoo network that
torch can export."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import sys
import warnings
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from convcalc import zoo  # noqa: E402
from convcalc.interop import torch_model  # noqa: E402
from convcalc.network.torch_build import build_torch  # noqa: E402
from convcalc.network.walk import walk  # noqa: E402

pytestmark = pytest.mark.torch

FIXTURES = Path(__file__).parent / "fixtures"
REPRESENTATIVE = [
    "lenet5",
    "alexnet_paper",  # LRN, exported op by op
    "inception_v3",  # a concatenation flattened across nested branches
    "convnext_tiny",  # channels-last layer norm between transposes; GELU before opset 20
    "shufflenet_v2_x1_0",  # channel shuffle as Reshape/Transpose/Reshape
    "keras.mobilenet",  # TensorFlow SAME as F.pad then the conv
    "resnet20",
    "resnet18",
    "se_resnet50",
    "squeezenet1_0",
    "densenet121",
    "googlenet",
    "mobilenet_v3_small",
    "efficientnet_b0",
    "regnet_y_400mf",
    "vit_b_32",  # attention exported op by op, the class token's Expand, the position embedding's Add
    "keras.xception",  # separable convs: a module of a depthwise then a pointwise conv
    "keras.nasnetmobile",  # cells the exporter's common-subexpression pass shares slices and relus across
    "keras.efficientnetb0",  # Keras's Normalization as Sub and Div by a square root
    "swin_t",  # shifted-window attention exported op by op (rolls, windows, mask), patch merging as views
    "maxvit_t",  # window and grid partitions as views, attention within token groups op by op
]
# torch has no ONNX symbolic for aten::channel_shuffle (ShuffleNet's nn.ChannelShuffle): the
# export registers one that writes it as torchvision's own channel_shuffle exports (Reshape,
# Transpose, Reshape). Every zoo network goes through ONNX: Swin's and MaxViT's windowed
# attention included.
NAMES = zoo.names() if os.environ.get("CONVCALC_INTEROP_ALL") else REPRESENTATIVE


def _layers(report):
    return [
        (r.type, r.output, r.params.total, r.macs, tuple((s.size, s.jump, s.start) for s in r.rf) if r.rf else None)
        for r in report.leaves()
        if r.type.startswith(("conv", "linear"))
    ]


def _same(zoo_report, imported):
    assert imported.totals.params == zoo_report.totals.params
    assert imported.totals.buffers == zoo_report.totals.buffers
    assert imported.totals.macs == zoo_report.totals.macs
    assert imported.output == zoo_report.output
    assert _layers(imported) == _layers(zoo_report)


def _channel_shuffle_symbolic(g, x, groups):
    """aten::channel_shuffle as torchvision's functional channel_shuffle exports:
    view (N, g, C/g, …), transpose 1 and 2, view back (N, C, …)."""
    from torch.onnx import symbolic_helper

    sizes = symbolic_helper._get_tensor_sizes(x)
    groups = symbolic_helper._get_const(groups, "i", "groups")
    n, c, rest = sizes[0], sizes[1], list(sizes[2:])
    y = g.op("Reshape", x, g.op("Constant", value_t=torch.tensor([n, groups, c // groups] + rest)))
    y = g.op("Transpose", y, perm_i=[0, 2, 1] + list(range(3, 3 + len(rest))))
    return g.op("Reshape", y, g.op("Constant", value_t=torch.tensor([n, c] + rest)))


@pytest.fixture(scope="module")
def channel_shuffle_export():
    torch.onnx.register_custom_op_symbolic("aten::channel_shuffle", _channel_shuffle_symbolic, 9)
    yield
    torch.onnx.unregister_custom_op_symbolic("aten::channel_shuffle", 9)


# Opset 20 has Gelu as one operator (before it torch writes x·½·(1 + erf(x/√2))).
ONNX_CASES = [(name, 17) for name in NAMES] + [("convnext_tiny", 20)]


@pytest.mark.usefixtures("channel_shuffle_export")
@pytest.mark.parametrize("name,opset", ONNX_CASES)
def test_zoo_through_onnx_export(name, opset, tmp_path):
    pytest.importorskip("onnx")
    from convcalc.interop import onnx_model

    net = zoo.get(name)
    model = build_torch(net).eval()
    # weights as a trained model has them: a freshly built one holds exact zeros and ones, and the
    # exporter shares one initializer between such a parameter and an equal constant of the graph
    # (a zero bias becomes a batch norm's constant β too), which no trained model gives it
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.rand(parameter.shape, generator=generator) + 0.5)
    path = tmp_path / f"{name}.onnx"
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, torch.zeros((1,) + net.input), str(path), dynamo=False, do_constant_folding=False,
            opset_version=opset,
        )
    imported = onnx_model.load(str(path))
    reference = walk(net)
    _same(reference, walk(imported))
    names = [r.name for r in walk(imported).leaves() if r.type.startswith(("conv", "linear"))]
    assert names == [r.name for r in reference.leaves() if r.type.startswith(("conv", "linear"))]


@pytest.mark.parametrize("tracer", ["torch.fx", "forward hooks"])
@pytest.mark.parametrize("name", NAMES)
def test_zoo_through_the_torch_path(name, tracer, monkeypatch):
    """Through torch.fx (the path a user's model takes first: every zoo network's forward traces)
    and through the forward-hook tracer (the path of models fx cannot trace)."""
    net = zoo.get(name)
    model = build_torch(net).eval()
    module = type(sys)("convcalc_test_zoo_model")
    module.model = model
    monkeypatch.setitem(sys.modules, "convcalc_test_zoo_model", module)
    if tracer == "forward hooks":
        def no_fx(*args):
            raise RuntimeError("fx left out: the hook tracer is under test")

        monkeypatch.setattr(torch_model, "_trace_fx", no_fx)
    imported = torch_model.load("convcalc_test_zoo_model:model", net.input)
    assert f"traced with {tracer}" in imported.source
    reference = walk(net)
    _same(reference, walk(imported))
    assert sum(p.numel() for p in model.parameters()) == reference.totals.params


def test_user_file_and_factory_call(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(FIXTURES)
    result = cli("arch", "cifar_cnn_tutorial.py:fixed()", "--in", "3x32x32", "--json")
    assert result.code == 0, result.err
    data = result.json()
    assert data["totals"]["params"] == 5_852_170  # torch: sum(p.numel()) of the fixed model
    assert data["output"] == [10]


def test_seed_004_stray_linear_is_diagnosed(cli):
    path = FIXTURES / "cifar_cnn_tutorial.py"
    result = cli("arch", f"{path}:CifarCNN", "--in", "3x32x32")
    assert result.code == 2
    err = result.err
    # the stray Linear(128, 10) on the 128x8x8 map: it acts on the last dimension (8)
    assert "conv_layer.13 (linear) declares in_features=128 but receives 8" in err
    assert "forgotten flatten" in err and "conv_layer.11 (maxpool2d)" in err
    # the walk went on with the declared 128: 256x4x5 = 5120 features reach fc_layer.1's 4096
    assert "fc_layer.1 (linear) declares in_features=4096 but receives 5120" in err
    assert "fix: in_features=5120" in err
    assert "Traceback" not in err


def test_input_size_fix_is_found(cli, tmp_path):
    code = (
        "import torch.nn as nn\n"
        "class LeNet(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.features = nn.Sequential(nn.Conv2d(3, 6, 5), nn.ReLU(), nn.MaxPool2d(2),\n"
        "                                      nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())\n"
        "        self.fc = nn.Linear(400, 120)\n"
        "    def forward(self, x):\n"
        "        return self.fc(self.features(x))\n"
    )
    (tmp_path / "lenet_bug.py").write_text(code)
    result = cli("arch", f"{tmp_path / 'lenet_bug.py'}:LeNet", "--in", "3x28x28")
    assert result.code == 2
    # 28 → 24 → 12 → 8 → 4: 16x4x4 = 256 features; 3x32x32 gives 16x5x5 = 400
    assert "fc (linear) declares in_features=400 but receives 256 features" in result.err
    assert "in_features=256" in result.err and "3x32x32" in result.err


@pytest.mark.parametrize("given", ["3x32", "32x32"])
def test_an_input_without_its_channels_is_named_with_the_model_s_own(cli, given):
    """``--in 3x32`` (a dimension short) or ``32x32`` into a model whose first Conv2d declares 3
    input channels: one message naming the conv, its in_channels and the shape to write."""
    result = cli("arch", f"{FIXTURES / 'cifar_cnn_tutorial.py'}:fixed()", "--in", given)
    assert result.code == 2, result.out
    assert f"on input {given}: its input has no channel axis" in result.err
    assert "declares in_channels=3" in result.err and "e.g. 3x32x32" in result.err
    assert "kernel" not in result.err and "Traceback" not in result.err


def test_bad_python_targets(cli, tmp_path):
    (tmp_path / "boom.py").write_text("raise ValueError('no GPU here')\n")
    result = cli("arch", f"{tmp_path / 'boom.py'}:Net", "--in", "3x8x8")
    assert result.code == 2 and "ValueError: no GPU here" in result.err and "boom.py:1" in result.err
    result = cli("arch", f"{FIXTURES / 'cifar_cnn_tutorial.py'}:NotAModule", "--in", "3x8x8")
    assert result.code == 2 and "not a torch.nn.Module" in result.err
    result = cli("arch", f"{FIXTURES / 'cifar_cnn_tutorial.py'}:fixed(width=__import__('os'))", "--in", "3x8x8")
    assert result.code == 2 and "literals" in result.err
    result = cli("arch", f"{FIXTURES / 'cifar_cnn_tutorial.py'}:CifarCNN")
    assert result.code == 2 and "--in" in result.err


def test_torch_missing_is_one_line(cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    result = cli("arch", f"{FIXTURES / 'cifar_cnn_tutorial.py'}:CifarCNN", "--in", "3x32x32")
    assert result.code == 2 and "pip install" in result.err and "Traceback" not in result.err


@pytest.mark.parametrize("make,shape", [
    (lambda nn: nn.ZeroPad2d((1, 2, 3, 4)), (3, 8, 8)),
    (lambda nn: nn.ConstantPad1d((2, 0), 1.5), (3, 8)),
    (lambda nn: nn.ConstantPad3d(1, 0.0), (2, 4, 4, 4)),
    (lambda nn: nn.ZeroPad1d(3), (2, 5)),
    (lambda nn: nn.PixelShuffle(2), (8, 4, 4)),
    (lambda nn: nn.PixelUnshuffle(2), (2, 4, 6)),
    (lambda nn: nn.AdaptiveMaxPool1d(3), (2, 10)),
    (lambda nn: nn.AdaptiveMaxPool3d((1, 2, 3)), (2, 4, 5, 6)),
])
def test_every_torch_name_a_descriptor_gives_imports_with_torchs_shape(make, shape, monkeypatch):
    model = torch.nn.Sequential(make(torch.nn))
    expected = tuple(model(torch.zeros((1, *shape))).shape[1:])
    holder = type(sys)("convcalc_test_one_module")
    holder.model = model
    monkeypatch.setitem(sys.modules, "convcalc_test_one_module", holder)
    report = walk(torch_model.load("convcalc_test_one_module:model", shape))
    assert report.output == expected and report.totals.params == 0
    assert not any(r.type == "unmapped" for r in report.leaves())
    kind = report.leaves()[0].type.replace("-", "").replace("_", "")
    assert kind.startswith(("pad", "pixelshuffle", "pixelunshuffle", "adaptivemaxpool")), kind
    assert ("un" in kind) == ("Unshuffle" in type(model[0]).__name__)


# A 3x16x16 input, 4x4 patches of 32 features: L = 16 + 1 (the class token) tokens of D = 32.
# MACs: the patch conv 32·16·(3·4·4) = 24,576; each block's attention 4LD² + 2L²D = 69,632 + 18,496
# and MLP 2·L·D·2D = 69,632; the head 32·10 = 320.
TINY_VIT_MACS = 24_576 + 2 * (69_632 + 18_496 + 69_632) + 320


def _tiny_vit_checks(data: dict) -> None:
    assert data["totals"]["params"] == 19_562  # torch: sum(p.numel()) of TinyViT
    assert data["totals"]["macs"] == TINY_VIT_MACS
    assert data["output"] == [10]
    rows = {row["name"]: row for row in data["layers"]}
    attention = [row for row in data["layers"] if row["type"] == "self-attention"]
    assert len(attention) == 2 and all(row["params"] == 4 * 32 * 32 + 4 * 32 for row in attention)
    assert all(row["macs"] == 69_632 + 18_496 for row in attention)
    assert any(row["type"] == "class-token" and row["output"] == [17, 32] for row in rows.values())
    assert any(row["type"] == "position-embedding" and row["params"] == 17 * 32 for row in rows.values())
    assert any(row["type"] == "token-select" for row in rows.values())
    assert not any("not mapped" in note for note in data.get("notes", []))
    # flatten(2).transpose(1, 2) is the tokens layer: each token keeps its 4x4 patch's field
    # up to the first attention (a flatten alone would end it)
    tokens = next(row for row in data["layers"] if row["type"] == "tokens")
    assert tokens["output"] == [16, 32] and tokens["rf"] == {"size": [4, 4], "jump": [4, 4], "start": ["3/2", "3/2"]}
    token_rows = [row for row in data["layers"] if row["type"] in ("class-token", "position-embedding")]
    assert all(row["rf"]["size"] == [4, 4] for row in token_rows)


def test_a_users_vision_transformer_through_torch_fx(cli):
    """nn.MultiheadAttention called as attention(y, y, y, need_weights=False)[0], a class token
    concatenated in front and a learned position embedding added: each read as its layer."""
    result = cli("arch", f"{FIXTURES / 'tiny_vit.py'}:TinyViT", "--in", "3x16x16", "--json", "--depth", "9")
    assert result.code == 0, result.err
    _tiny_vit_checks(result.json())


def test_a_users_vision_transformer_through_onnx(cli, tmp_path):
    """The same model exported op by op: q·kᵀ, Softmax and ·v between the packed in-projection and
    the out-projection are found again as one self-attention, the Expand of the class token and
    the MatMul + Add of each linear as theirs — the torch path's counts."""
    pytest.importorskip("onnx")
    sys.path.insert(0, str(FIXTURES))
    try:
        from tiny_vit import TinyViT
    finally:
        sys.path.remove(str(FIXTURES))
    path = tmp_path / "tiny_vit.onnx"
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(TinyViT().eval(), torch.zeros(1, 3, 16, 16), str(path), dynamo=False, opset_version=17)
    result = cli("arch", str(path), "--json", "--depth", "9")
    assert result.code == 0, result.err
    _tiny_vit_checks(result.json())


def test_cross_attention_is_not_read_as_self_attention(cli):
    result = cli("arch", f"{FIXTURES / 'tiny_vit.py'}:Cross", "--in", "3x16x16")
    assert result.code == 2 and "Traceback" not in result.err
    assert "attention (MultiheadAttention) is not mapped" in result.err and "same tensor as query" in result.err


def test_a_batch_norm_subclass_with_a_bias_of_its_own_is_keras_scale_false(cli, tmp_path):
    """BatchNorm2d(affine=False) plus a learnt β added after it (Keras's scale=False, written
    as a torch subclass): one batch norm with β alone — C parameters, 2C + 1 buffers, as torch counts."""
    (tmp_path / "shift_bn.py").write_text(
        "import torch\nimport torch.nn as nn\n"
        "class ShiftBN(nn.BatchNorm2d):\n"
        "    def __init__(self, c):\n"
        "        super().__init__(c, affine=False)\n"
        "        self.bias = nn.Parameter(torch.zeros(c))\n"
        "    def forward(self, x):\n"
        "        return super().forward(x) + self.bias.reshape(1, -1, 1, 1)\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.conv = nn.Conv2d(3, 8, 3, bias=False)\n"
        "        self.bn = ShiftBN(8)\n"
        "    def forward(self, x):\n"
        "        return self.bn(self.conv(x))\n"
    )
    result = cli("arch", f"{tmp_path / 'shift_bn.py'}:Net", "--in", "3x8x8", "--json")
    assert result.code == 0, result.err
    data = result.json()
    assert data["totals"]["params"] == 8 * 3 * 9 + 8  # torch: sum(p.numel())
    assert data["totals"]["buffers"] == 2 * 8 + 1  # running_mean, running_var, num_batches_tracked
    assert [row["type"] for row in data["layers"]] == ["conv2d", "batchnorm"]


NORMS = ["nn.BatchNorm2d(8)", "nn.BatchNorm2d(8, affine=False)", "nn.GroupNorm(2, 8)",
         "nn.GroupNorm(2, 8, affine=False)", "nn.InstanceNorm2d(8)", "nn.InstanceNorm2d(8, affine=True)",
         "nn.LayerNorm(6)",
         "nn.LayerNorm(6, elementwise_affine=False)", "nn.LayerNorm([8, 6, 6], elementwise_affine=False)"]


@pytest.mark.parametrize("norm", NORMS)
def test_a_norm_counts_its_learnt_weights_only_through_both_importers(cli, tmp_path, norm):
    """torch's sum(p.numel()) for a conv and a norm with and without its affine γ, β — through
    the PyTorch path and through an ONNX export (which writes a missing γ, β as identity
    constants, and a group norm's as a Mul and an Add of its reshaped weights)."""
    pytest.importorskip("onnx")
    (tmp_path / "norm_net.py").write_text(
        f"import torch.nn as nn\ndef net():\n    return nn.Sequential(nn.Conv2d(3, 8, 3, bias=False), {norm})\n")
    sys.path.insert(0, str(tmp_path))
    try:
        import norm_net
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("norm_net", None)
    model = norm_net.net().eval()
    expected = sum(p.numel() for p in model.parameters())
    through_torch = cli("arch", f"{tmp_path / 'norm_net.py'}:net()", "--in", "3x8x8", "--json")
    assert through_torch.code == 0, through_torch.err
    assert through_torch.json()["totals"]["params"] == expected
    path = tmp_path / "norm_net.onnx"
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(model, torch.zeros(1, 3, 8, 8), str(path), dynamo=False, do_constant_folding=False,
                          opset_version=17)
    through_onnx = cli("arch", str(path), "--json")
    assert through_onnx.code == 0, through_onnx.err
    assert through_onnx.json()["totals"]["params"] == expected


class _Separable(torch.nn.Module):
    """Xception's separable conv as a user writes it (a module of depthwise then pointwise),
    Keras's cropping as a negative ZeroPad2d, and F.pad with a negative amount."""

    def __init__(self):
        super().__init__()
        self.sep = torch.nn.Sequential(
            torch.nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False), torch.nn.Conv2d(8, 16, 1, bias=False)
        )
        self.bn = torch.nn.BatchNorm2d(16)
        self.crop = torch.nn.ZeroPad2d((-1, 0, -1, 0))
        self.mobile = torch.nn.Sequential(  # MobileNet's pair: a batch norm between, two convs
            torch.nn.Conv2d(16, 16, 3, groups=16, bias=False), torch.nn.BatchNorm2d(16),
            torch.nn.Conv2d(16, 4, 1, bias=False),
        )

    def forward(self, x):
        y = self.crop(self.bn(self.sep(x)))
        return self.mobile(torch.nn.functional.pad(y, (1, -2, 0, 0)))


def test_a_separable_module_and_a_crop_through_both_importers(monkeypatch, tmp_path):
    model = _Separable().eval()
    holder = type(sys)("convcalc_test_separable")
    holder.model = model
    monkeypatch.setitem(sys.modules, "convcalc_test_separable", holder)
    expected = tuple(model(torch.zeros(1, 8, 12, 12)).shape[1:])  # crop 11x11; pad W 11+1−2 = 10; k3 → 9x8
    reports = [walk(torch_model.load("convcalc_test_separable:model", (8, 12, 12)))]
    if importlib.util.find_spec("onnx") is not None:
        from convcalc.interop import onnx_model

        path = tmp_path / "separable.onnx"
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            torch.onnx.export(model, torch.zeros(1, 8, 12, 12), str(path), dynamo=False, do_constant_folding=False)
        reports.append(walk(onnx_model.load(str(path))))
    for report in reports:
        assert report.output == expected == (4, 9, 8)
        rows = {r.name: r for r in report.leaves()}
        assert rows["sep"].type == "depthwise-separable2d" and rows["sep"].params.total == 8 * 9 + 8 * 16
        assert rows["crop"].type == "crop2d" and rows["crop"].output == (16, 11, 11)
        assert [r.type for r in report.leaves() if r.name.startswith("mobile")] == ["conv2d", "batchnorm", "conv2d"]
        assert report.totals.params == sum(p.numel() for p in model.parameters())
        # sep 12·12·(8·9 + 8·16); the depthwise 9·8·16·9 on 16x11x10; the pointwise 9·8·16·4
        assert report.totals.macs == 144 * (8 * 9 + 8 * 16) + 9 * 8 * 16 * 9 + 9 * 8 * 16 * 4


class ShiftedWindowAttention(torch.nn.Module):
    """torchvision's class as the importer sees it: its attributes (window_size, shift_size,
    num_heads, qkv, proj, relative_position_bias_table) and a channels-last (N, H, W, C) map in
    and out (the forward here only keeps the shape; the importer reads the module, not its math)."""

    def __init__(self, dim=32, window=4, shift=2, heads=4):
        super().__init__()
        self.window_size, self.shift_size, self.num_heads = [window, window], [shift, shift], heads
        self.qkv = torch.nn.Linear(dim, 3 * dim)
        self.proj = torch.nn.Linear(dim, dim)
        self.relative_position_bias_table = torch.nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))

    def forward(self, x):
        return self.proj(self.qkv(x)[..., : x.shape[-1]])


class RelativePositionalMultiHeadAttention(torch.nn.Module):
    """torchvision's MaxViT attention on (N, G, P, D) token groups, as the importer sees it."""

    def __init__(self, dim=32, head_dim=8, size=4):
        super().__init__()
        self.head_dim, self.size = head_dim, size
        self.to_qkv = torch.nn.Linear(dim, 3 * dim)
        self.merge = torch.nn.Linear(dim, dim)
        self.relative_position_bias_table = torch.nn.Parameter(torch.zeros((2 * size - 1) ** 2, dim // head_dim))

    def forward(self, x):
        return self.merge(self.to_qkv(x)[..., : x.shape[-1]])


class _Windows(torch.nn.Module):
    def __init__(self, attention):
        super().__init__()
        self.embed = torch.nn.Conv2d(3, 32, 4, stride=4)
        self.attn = attention

    def forward(self, x):
        return self.attn(self.embed(x).permute(0, 2, 3, 1))


@pytest.mark.parametrize("tracer", ["torch.fx", "forward hooks"])
def test_torchvisions_window_attentions_are_read_by_their_attributes(monkeypatch, tracer):
    from convcalc.layers.partition import RelativePositionAttention
    from convcalc.layers.window import WindowAttention

    if tracer == "forward hooks":
        monkeypatch.setattr(torch_model, "_trace_fx", lambda *a: (_ for _ in ()).throw(RuntimeError("no fx")))
    holder = type(sys)("convcalc_test_windows")
    monkeypatch.setitem(sys.modules, "convcalc_test_windows", holder)
    # Swin's: a channels-last 8x8x32 map, read between moves of the channels first and back
    holder.model = _Windows(ShiftedWindowAttention()).eval()
    report = walk(torch_model.load("convcalc_test_windows:model", (3, 32, 32)))
    rows = [r for r in report.leaves() if r.name.startswith("attn")]
    assert [r.type for r in rows] == ["permute", "window-attention", "permute"]
    expected = WindowAttention(dim=32, heads=4, window=4, shift=2).analyze((32, 8, 8))
    assert rows[1].params.total == expected.params.total == sum(p.numel() for p in holder.model.attn.parameters())
    assert rows[1].macs == expected.macs and report.output == (8, 8, 32)
    # MaxViT's on (G, P, D) token groups
    holder.model = torch.nn.Sequential(RelativePositionalMultiHeadAttention()).eval()
    report = walk(torch_model.load("convcalc_test_windows:model", (4, 16, 32)))
    [row] = report.leaves()
    expected = RelativePositionAttention(dim=32, head_dim=8, size=4).analyze((4, 16, 32))
    assert row.type == "relpos-attention" and row.params.total == expected.params.total == 4 * 32 * 32 + 4 * 32 + 49 * 4
    assert row.macs == expected.macs
    # a module of the name without torchvision's attributes is walked through: its linears count
    plain = RelativePositionalMultiHeadAttention()
    del plain.size
    holder.model = torch.nn.Sequential(plain).eval()
    report = walk(torch_model.load("convcalc_test_windows:model", (4, 16, 32)))
    assert [r.type for r in report.leaves() if r.type == "linear"] == ["linear", "linear"]


def _swin_fixture():
    spec = importlib.util.spec_from_file_location("convcalc_test_swin_windows", FIXTURES / "swin_windows.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# (options, input size, constant folding): a 10x10 map padded to 12x12 windows of 4 and shifted
# by 2; an 8x8 map unshifted and shifted; V2's cosine attention with its position-bias MLP
_SWIN_CASES = [({"shift": 2}, 40, True), ({"shift": 2}, 40, False), ({"shift": 0}, 32, True),
               ({"shift": 2}, 32, False), ({"shift": 2, "v2": True}, 40, False), ({"shift": 2, "v2": True}, 40, True)]


@pytest.mark.parametrize("options,size,fold", _SWIN_CASES)
def test_torchvision_style_window_attention_through_onnx_is_one_layer(options, size, fold, tmp_path):
    """Swin's window attention as torchvision computes it on channels-last maps, exported op by op
    (pad, roll as Slice/Concat, windows as Reshape/Transpose, the mask built by ScatterND, the
    bias gathered from its table or made by the MLP, cosine attention for V2): one window attention
    between moves of the channels first and back, its parameters the module's own and its MACs the
    layer's; with constant folding the exporter folds the bias table into a constant — still counted
    as the table it was."""
    pytest.importorskip("onnx")
    from convcalc.interop import onnx_model
    from convcalc.layers.window import WindowAttention

    net = _swin_fixture().Net(**options).eval()
    path = tmp_path / "swin.onnx"
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(net, torch.randn(1, 3, size, size), str(path), dynamo=False, opset_version=17,
                          do_constant_folding=fold)
    report = walk(onnx_model.load(str(path)))
    rows = [r for r in report.leaves() if r.name.startswith("attn")]
    assert [(r.name, r.type) for r in rows] == [("attn_permute", "permute"), ("attn", "window-attention"),
                                                ("attn_permute_1", "permute")]
    side = size // 4
    expected = WindowAttention(dim=32, heads=4, window=4, shift=options["shift"],
                               v2=options.get("v2", False)).analyze((32, side, side))
    attention = rows[1]
    hyper = attention.report.hyper
    assert hyper["shift"] == options["shift"] and hyper["v2"] == options.get("v2", False)
    assert attention.params.total == expected.params.total == sum(p.numel() for p in net.attn.parameters())
    assert attention.macs == expected.macs and report.output == (side, side, 32)
    # the receptive field: the patch conv's 4, then a window of 4 on the 4-pixel grid either side
    assert [(s.size, s.jump) for s in attention.rf] == [(4 + 2 * 3 * 4, 4)] * 2


def test_a_window_attention_of_other_sizes_is_left_op_by_op_and_refused(tmp_path):
    """A bias table that is not Swin's ((2w − 1)², h) — so not Swin's layer — is not fused: the
    windows folded into the batch axis are then refused by name, not counted with the wrong batch."""
    pytest.importorskip("onnx")
    from convcalc.errors import InputError
    from convcalc.interop import onnx_model

    net = _swin_fixture().Net(shift=2).eval()
    table = net.attn.relative_position_bias_table
    net.attn.relative_position_bias_table = torch.nn.Parameter(torch.randn(table.shape[0] + 1, table.shape[1]))
    path = tmp_path / "other.onnx"
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(net, torch.randn(1, 3, 32, 32), str(path), dynamo=False, opset_version=17,
                          do_constant_folding=False)
    with pytest.raises(InputError) as caught:
        onnx_model.load(str(path))
    assert "whose first axis is not the batch" in str(caught.value)


@pytest.mark.parametrize("module,out", [(torch.nn.PixelUnshuffle(2), (32, 4, 4)),
                                        (torch.nn.PixelShuffle(2), (2, 16, 16))])
def test_pixel_shuffles_exported_as_views_are_one_layer(module, out, tmp_path):
    """torch writes pixel (un)shuffle as Reshape/Transpose views: checked to move every element as
    the layer does, they are that layer (with its receptive field); a transpose of the same sizes
    that moves them otherwise stays op by op."""
    pytest.importorskip("onnx")
    from convcalc.interop import onnx_model

    class Net(torch.nn.Module):
        def __init__(self, shuffle):
            super().__init__()
            self.conv, self.shuffle = torch.nn.Conv2d(3, 8, 3, padding=1), shuffle

        def forward(self, x):
            return self.shuffle(self.conv(x))

    path = tmp_path / "shuffle.onnx"
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(Net(module).eval(), torch.zeros(1, 3, 8, 8), str(path), dynamo=False, opset_version=17)
    report = walk(onnx_model.load(str(path)))
    [row] = [r for r in report.leaves() if r.type.startswith("pixel")]
    assert row.type == ("pixel-unshuffle" if isinstance(module, torch.nn.PixelUnshuffle) else "pixel-shuffle")
    assert report.output == out and row.rf is not None

    class Moved(torch.nn.Module):  # (1, 8, 8, 8) → (1, 8, 2, 4, 2, 4) → axes swapped otherwise → (1, 32, 4, 4)
        def forward(self, x):
            return x.reshape(1, 8, 2, 4, 2, 4).permute(0, 1, 2, 4, 3, 5).reshape(1, 32, 4, 4)

    path = tmp_path / "moved.onnx"
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), Moved()).eval(),
                          torch.zeros(1, 3, 8, 8), str(path), dynamo=False, opset_version=17)
    report = walk(onnx_model.load(str(path)))
    assert not [r for r in report.leaves() if r.type.startswith("pixel")] and report.output == (32, 4, 4)


@pytest.mark.parametrize("grid", [False, True])
@pytest.mark.parametrize("fold", [True, False])
def test_maxvit_style_group_attention_through_onnx_is_one_layer(grid, fold, tmp_path):
    """MaxViT's block (or grid) attention as torchvision computes it — the map cut into token
    groups by views, q·kᵀ and a·v as einsum, the bias gathered from its table — exported op by
    op: a partition, one relative-position attention with the module's parameters, the departition."""
    pytest.importorskip("onnx")
    from convcalc.interop import onnx_model
    from convcalc.layers.partition import RelativePositionAttention

    net = _swin_fixture().Groups(grid=grid).eval()
    path = tmp_path / "groups.onnx"
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(net, torch.randn(1, 3, 16, 16), str(path), dynamo=False, opset_version=17,
                          do_constant_folding=fold)
    report = walk(onnx_model.load(str(path)))
    kind = "grid" if grid else "window"
    assert [r.type for r in report.leaves()] == ["conv2d", f"{kind}-partition", "relpos-attention",
                                                 f"{kind}-departition"]
    attention = report.leaves()[2]
    expected = RelativePositionAttention(dim=32, head_dim=8, size=4).analyze((4, 16, 32))
    assert attention.input == (4, 16, 32) and attention.params.total == expected.params.total
    assert attention.params.total == sum(p.numel() for p in net.attn.parameters()) and attention.macs == expected.macs
    assert report.output == (32, 8, 8)
