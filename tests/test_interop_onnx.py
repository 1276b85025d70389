"""ONNX files written with onnx.helper (no torch): every shape checked against a hand computation
from the ONNX operator specification (docs/Operators.md: pads are [x1_begin, x2_begin, …,
x1_end, x2_end]; SAME_UPPER puts the odd padding at the end, SAME_LOWER at the beginning;
pooling strides default to 1; AveragePool's count_include_pad defaults to 0)."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from convcalc.errors import InputError  # noqa: E402
from convcalc.interop import onnx_model  # noqa: E402
from convcalc.network.walk import walk  # noqa: E402


def _init(name, shape):
    return numpy_helper.from_array(np.zeros(shape, dtype=np.float32), name)


def _model(tmp_path, nodes, inits, in_shape, out_name="y", opset=17, name="m.onnx", in_dims=None):
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_dims or [1, *in_shape])],
        [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, None)],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="test")
    model.ir_version = 7 if opset > 7 else 3
    path = tmp_path / name
    path.write_bytes(model.SerializeToString())
    return str(path)


def _walk_one(tmp_path, node, inits, in_shape, **kw):
    net = onnx_model.load(_model(tmp_path, [node], inits, in_shape, **kw))
    return walk(net)


def test_conv_explicit_pads_begin_then_end(tmp_path):
    # pads [top, left, bottom, right] = [1, 0, 2, 3]: H 10 + 1 + 2 − 3 + 1 = 11, W 10 + 0 + 3 − 3 + 1 = 11
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 0, 2, 3])
    report = _walk_one(tmp_path, node, [_init("w", (8, 3, 3, 3)), _init("b", (8,))], (3, 10, 10))
    assert report.output == (8, 11, 11)
    assert report.totals.params == 8 * 3 * 9 + 8
    assert report.totals.macs == 11 * 11 * 8 * 27
    row = report.leaves()[0]
    assert row.report.hyper["padding"] == [[1, 2], [0, 3]]


@pytest.mark.parametrize(
    "auto_pad, expected_pads, out",
    [
        # i = 10, k = 4, s = 3: o = ceil(10/3) = 4, total = (4 − 1)·3 + 4 − 10 = 3 → 1:2 (UPPER), 2:1 (LOWER)
        ("SAME_UPPER", [1, 2], 4),
        ("SAME_LOWER", [2, 1], 4),
        # VALID: floor((10 − 4)/3) + 1 = 3
        ("VALID", [0, 0], 3),
    ],
)
def test_conv_auto_pad(tmp_path, auto_pad, expected_pads, out):
    node = helper.make_node("Conv", ["x", "w"], ["y"], auto_pad=auto_pad, strides=[3, 3], kernel_shape=[4, 4])
    report = _walk_one(tmp_path, node, [_init("w", (2, 1, 4, 4))], (1, 10, 10))
    assert report.output == (2, out, out)
    assert report.leaves()[0].report.hyper["padding"] == [expected_pads, expected_pads]
    assert report.totals.params == 2 * 16  # no bias input


def test_grouped_dilated_conv(tmp_path):
    # group 4: W (8, 16/4, 3, 3); dilation 2: k_eff 5, o = 12 − 5 + 1 = 8
    node = helper.make_node("Conv", ["x", "w"], ["y"], group=4, dilations=[2, 2])
    report = _walk_one(tmp_path, node, [_init("w", (8, 4, 3, 3))], (16, 12, 12))
    assert report.output == (8, 8, 8)
    assert report.totals.params == 8 * 4 * 9
    assert report.leaves()[0].rf[0].size == 5


def test_conv_transpose_output_padding_and_output_shape(tmp_path):
    # o = s(i − 1) + output_padding + d(k − 1) + 1 − pads = 2·4 + 1 + 2 + 1 − 2 = 10
    node = helper.make_node(
        "ConvTranspose", ["x", "w"], ["y"], strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1]
    )
    report = _walk_one(tmp_path, node, [_init("w", (4, 6, 3, 3))], (4, 5, 5))
    assert report.output == (6, 10, 10)
    assert report.totals.params == 4 * 6 * 9
    # output_shape 9: total = 2·4 + 0 + 3 − 9 = 2 → begin 1, end 1
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[2, 2], output_shape=[9, 9])
    report = _walk_one(tmp_path, node, [_init("w", (4, 6, 3, 3))], (4, 5, 5), name="t2.onnx")
    assert report.output == (6, 9, 9)
    assert report.leaves()[0].report.hyper["padding"] == [[1, 1], [1, 1]]


def test_pool_strides_default_to_one_and_ceil_mode(tmp_path):
    # ONNX default stride 1: 7 − 3 + 1 = 5
    node = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3, 3])
    assert _walk_one(tmp_path, node, [], (2, 7, 7)).output == (2, 5, 5)
    # ceil_mode: ceil((8 − 3)/2) + 1 = 4 (floor gives 3)
    node = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)
    assert _walk_one(tmp_path, node, [], (2, 8, 8), name="p2.onnx").output == (2, 4, 4)


def test_average_pool_count_include_pad_default(tmp_path):
    node = helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[2, 2], strides=[2, 2], pads=[1, 1, 1, 1])
    report = _walk_one(tmp_path, node, [], (3, 6, 6))
    assert report.output == (3, 4, 4)
    assert report.leaves()[0].layer.count_include_pad is False


def test_gemm_global_pool_flatten_chain(tmp_path):
    nodes = [
        helper.make_node("GlobalAveragePool", ["x"], ["p"]),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("Gemm", ["f", "w", "b"], ["y"], transB=1),
    ]
    net = onnx_model.load(_model(tmp_path, nodes, [_init("w", (10, 64)), _init("b", (10,))], (64, 7, 7)))
    report = walk(net)
    assert report.output == (10,)
    assert report.totals.params == 650
    assert report.totals.macs == 640
    assert [r.type for r in report.leaves()] == ["global-avgpool2d", "flatten", "linear"]


def test_residual_add_and_concat_become_blocks(tmp_path):
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["a"], pads=[1, 1, 1, 1], name="body_conv"),
        helper.make_node("Relu", ["a"], ["r"], name="body_relu"),
        helper.make_node("Add", ["r", "x"], ["s"], name="add"),
        helper.make_node("Conv", ["s", "w2"], ["c1"], name="left"),
        helper.make_node("MaxPool", ["s"], ["c2"], kernel_shape=[1, 1], name="right"),
        helper.make_node("Concat", ["c1", "c2"], ["y"], axis=1, name="cat"),
    ]
    net = onnx_model.load(_model(tmp_path, nodes, [_init("w1", (4, 4, 3, 3)), _init("w2", (6, 4, 1, 1))], (4, 8, 8)))
    report = walk(net)
    assert report.output == (10, 8, 8)
    types = [r.type for r in report.leaves()]
    assert types.count("add") == 1 and types.count("concat") == 1
    assert report.totals.params == 4 * 4 * 9 + 6 * 4


def test_split_reshape_transpose_pad_clip(tmp_path):
    nodes = [
        helper.make_node("Split", ["x", "sizes"], ["a", "b"], axis=1),
        helper.make_node("Clip", ["a", "lo", "hi"], ["c"]),
        helper.make_node("Pad", ["c", "pads"], ["d"]),
        helper.make_node("Transpose", ["d"], ["e"], perm=[0, 1, 3, 2]),
        helper.make_node("Reshape", ["e", "shape"], ["y"]),
    ]
    inits = [
        numpy_helper.from_array(np.array([2, 4], dtype=np.int64), "sizes"),
        numpy_helper.from_array(np.array(0, dtype=np.float32), "lo"),
        numpy_helper.from_array(np.array(6, dtype=np.float32), "hi"),
        numpy_helper.from_array(np.array([0, 0, 1, 2, 0, 0, 1, 2], dtype=np.int64), "pads"),
        numpy_helper.from_array(np.array([1, 2, -1], dtype=np.int64), "shape"),
    ]
    report = walk(onnx_model.load(_model(tmp_path, nodes, inits, (6, 4, 5))))
    # split keeps 2 channels; pad H 1+4+1 = 6, W 2+5+2 = 9; transpose → 2x9x6; reshape → 2x54
    assert [r.type for r in report.leaves()] == ["slice", "relu6", "pad", "permute", "reshape"]
    assert report.output == (2, 54)


def test_unmapped_op_keeps_inferred_shape_and_is_named(tmp_path):
    nodes = [helper.make_node("Conv", ["x", "w"], ["a"]), helper.make_node("Abs", ["a"], ["y"], name="odd")]
    net = onnx_model.load(_model(tmp_path, nodes, [_init("w", (2, 3, 3, 3))], (3, 5, 5)))
    report = walk(net)
    assert report.output == (2, 3, 3)
    assert any("Abs ×1" in note for note in net.notes)


def test_opset_7_clip_attributes_and_initializer_inputs(tmp_path):
    # opset 7: Clip's bounds are attributes; old files list initializers among the graph inputs
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["a"], pads=[1, 1, 1, 1]),
        helper.make_node("Clip", ["a"], ["y"], min=0.0, max=6.0),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 9, 9]),
            helper.make_tensor_value_info("w", TensorProto.FLOAT, [4, 3, 3, 3]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=[_init("w", (4, 3, 3, 3))],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 7)])
    model.ir_version = 3
    path = tmp_path / "op7.onnx"
    path.write_bytes(model.SerializeToString())
    net = onnx_model.load(str(path))
    report = walk(net)
    assert "opset 7" in net.source
    assert report.output == (4, 9, 9)
    assert [r.type for r in report.leaves()] == ["conv2d", "relu6"]


def test_opset_18_reduce_mean_axes_input_and_split_num_outputs(tmp_path):
    nodes = [
        helper.make_node("Split", ["x"], ["a", "b"], axis=1, num_outputs=2),
        helper.make_node("ReduceMean", ["a", "axes"], ["y"], keepdims=0),
    ]
    inits = [numpy_helper.from_array(np.array([2, 3], dtype=np.int64), "axes")]
    net = onnx_model.load(_model(tmp_path, nodes, inits, (8, 4, 4), opset=18))
    report = walk(net)
    assert "opset 18" in net.source
    assert report.output == (4,)


def test_dynamic_input_needs_in(tmp_path, cli):
    node = helper.make_node("Relu", ["x"], ["y"])
    path = _model(tmp_path, [node], [], (3, 8, 8), in_dims=["N", 3, "H", "W"])
    result = cli("arch", path)
    assert result.code == 2 and "dynamic shape" in result.err and "--in" in result.err
    result = cli("arch", path, "--in", "3x16x16", "--json")
    assert result.code == 0 and result.json()["output"] == [3, 16, 16]


def test_not_onnx_and_truncated(tmp_path, cli):
    text = tmp_path / "notes.onnx"
    text.write_text("this is not a model\n")
    result = cli("arch", str(text))
    assert result.code == 2 and "ONNX" in result.err and "Traceback" not in result.err
    node = helper.make_node("Conv", ["x", "w"], ["y"])
    path = _model(tmp_path, [node], [_init("w", (8, 3, 3, 3))], (3, 10, 10))
    with open(path, "rb") as handle:
        data = handle.read()
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(data[: len(data) // 2])
    result = cli("arch", str(cut))
    assert result.code == 2 and "Traceback" not in result.err


@pytest.mark.parametrize("op,shape,block,out", [
    # DepthToSpace: C·b² x H x W → C x bH x bW; SpaceToDepth the inverse (ONNX Operators.md)
    ("DepthToSpace", (8, 3, 5), 2, (2, 6, 10)),
    ("SpaceToDepth", (3, 6, 4), 2, (12, 3, 2)),
])
def test_depth_to_space_and_back_are_pixel_shuffles(tmp_path, op, shape, block, out):
    node = helper.make_node(op, ["x"], ["y"], blocksize=block, **({"mode": "CRD"} if op == "DepthToSpace" else {}))
    report = _walk_one(tmp_path, node, [], shape)
    assert report.output == out and report.totals.params == 0
    assert report.leaves()[0].type.startswith("pixel")


# --- layers an exporter writes as several nodes (onnx_rewrite) --------------------------------


def _const(name, value, dtype=np.float32):
    return numpy_helper.from_array(np.array(value, dtype=dtype), name)


def test_torch_exported_local_response_norm_is_one_lrn(tmp_path):
    # F.local_response_norm(x, 5, alpha, beta, k) as torch writes it for a 4-D input:
    # div = x²; view (N, 1, C, H, W); pad the C axis 5//2 before, (5−1)//2 after; avg-pool (5, 1, 1)
    # stride 1; squeeze axis 1; view back; ·α + k, ^β; x / that.
    c, h, w = 8, 6, 6
    nodes = [
        helper.make_node("Mul", ["x", "x"], ["sq"], name="/norm/Mul"),
        helper.make_node("Reshape", ["sq", "lift_shape"], ["lifted"], name="/norm/Reshape"),
        helper.make_node("Pad", ["lifted", "pads"], ["padded"], name="/norm/Pad"),
        helper.make_node("AveragePool", ["padded"], ["pooled"], kernel_shape=[5, 1, 1], strides=[1, 1, 1],
                         name="/norm/AveragePool"),
        helper.make_node("Squeeze", ["pooled", "axis1"], ["dropped"], name="/norm/Squeeze"),
        helper.make_node("Reshape", ["dropped", "back_shape"], ["back"], name="/norm/Reshape_1"),
        helper.make_node("Mul", ["back", "alpha"], ["scaled"], name="/norm/Mul_1"),
        helper.make_node("Add", ["scaled", "k"], ["shifted"], name="/norm/Add"),
        helper.make_node("Pow", ["shifted", "beta"], ["den"], name="/norm/Pow"),
        helper.make_node("Div", ["x", "den"], ["y"], name="/norm/Div"),
    ]
    inits = [
        _const("lift_shape", [1, 1, c, h, w], np.int64),
        _const("pads", [0, 0, 2, 0, 0, 0, 0, 2, 0, 0], np.int64),
        _const("axis1", [1], np.int64),
        _const("back_shape", [1, c, h, w], np.int64),
        _const("alpha", 1e-4), _const("k", 2.0), _const("beta", 0.75),
    ]
    report = walk(onnx_model.load(_model(tmp_path, nodes, inits, (c, h, w))))
    [row] = report.leaves()
    assert (row.name, row.type, row.output) == ("norm", "lrn", (c, h, w))
    layer = row.layer
    assert (layer.size, layer.alpha, layer.beta, layer.k) == (5, pytest.approx(1e-4), 0.75, 2.0)
    # the ONNX LRN operator itself gives the same layer
    direct = helper.make_node("LRN", ["x"], ["y"], size=5, alpha=1e-4, beta=0.75, bias=2.0)
    same = _walk_one(tmp_path, direct, [], (c, h, w), name="lrn.onnx")
    assert same.totals == report.totals
    # other pads (not n//2, (n−1)//2 on the channel axis) are not a local response norm
    inits[1] = _const("pads", [0, 0, 1, 0, 0, 0, 0, 3, 0, 0], np.int64)
    other = walk(onnx_model.load(_model(tmp_path, nodes, inits, (c, h, w), name="other.onnx")))
    assert "lrn" not in [r.type for r in other.leaves()]


def test_gelu_before_opset_20_is_one_gelu(tmp_path):
    # x · ½ · (1 + erf(x / √2)): torch's GELU before the Gelu operator (opset 20)
    nodes = [
        helper.make_node("Div", ["x", "sqrt2"], ["d"], name="/act/Div"),
        helper.make_node("Erf", ["d"], ["e"], name="/act/Erf"),
        helper.make_node("Add", ["e", "one"], ["a"], name="/act/Add"),
        helper.make_node("Mul", ["x", "a"], ["m"], name="/act/Mul"),
        helper.make_node("Mul", ["m", "half"], ["y"], name="/act/Mul_1"),
    ]
    inits = [_const("sqrt2", 2**0.5), _const("one", 1.0), _const("half", 0.5)]
    report = walk(onnx_model.load(_model(tmp_path, nodes, inits, (4, 5, 5))))
    assert [(r.name, r.type) for r in report.leaves()] == [("act", "gelu")]
    # a different constant (x·½·(1 + erf(x/2))) is not GELU: it stays element-wise ops
    inits[0] = _const("sqrt2", 2.0)
    other = walk(onnx_model.load(_model(tmp_path, nodes, inits, (4, 5, 5), name="g2.onnx")))
    assert "gelu" not in [r.type for r in other.leaves()]


def test_channel_shuffle_as_reshape_transpose_reshape(tmp_path):
    nodes = [
        helper.make_node("Reshape", ["x", "split"], ["s"], name="/shuffle/Reshape"),
        helper.make_node("Transpose", ["s"], ["t"], perm=[0, 2, 1, 3, 4], name="/shuffle/Transpose"),
        helper.make_node("Reshape", ["t", "back"], ["y"], name="/shuffle/Reshape_1"),
    ]
    inits = [_const("split", [1, 3, 4, 5, 5], np.int64), _const("back", [1, 12, 5, 5], np.int64)]
    report = walk(onnx_model.load(_model(tmp_path, nodes, inits, (12, 5, 5))))
    [row] = report.leaves()
    assert (row.name, row.type, row.output, row.layer.groups) == ("shuffle", "channel-shuffle", (12, 5, 5), 3)
    # swapping other axes is not a channel shuffle
    nodes[1] = helper.make_node("Transpose", ["s"], ["t"], perm=[0, 1, 2, 4, 3], name="/shuffle/Transpose")
    other = walk(onnx_model.load(_model(tmp_path, nodes, inits, (12, 5, 5), name="s2.onnx")))
    assert "channel-shuffle" not in [r.type for r in other.leaves()]


def test_channels_last_layer_norm_with_negative_perm_keeps_the_receptive_field(tmp_path):
    # ConvNeXt's LayerNorm2d as torch exports it: permute(0, 2, 3, 1), LayerNorm(C), permute(0, -1, 1, 2)
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="/stem/Conv", kernel_shape=[4, 4], strides=[4, 4]),
        helper.make_node("Transpose", ["c"], ["t"], perm=[0, 2, 3, 1], name="/norm/Transpose"),
        helper.make_node("LayerNormalization", ["t", "g", "b"], ["n"], axis=-1, epsilon=1e-6,
                         name="/norm/LayerNormalization"),
        helper.make_node("Transpose", ["n"], ["y"], perm=[0, -1, 1, 2], name="/norm/Transpose_1"),
    ]
    inits = [_init("w", (8, 3, 4, 4)), _init("g", (8,)), _init("b", (8,))]
    report = walk(onnx_model.load(_model(tmp_path, nodes, inits, (3, 16, 16))))
    rows = report.leaves()
    assert [(r.name, r.type, r.output) for r in rows] == [("stem", "conv2d", (8, 4, 4)),
                                                          ("norm", "layernorm", (8, 4, 4))]
    assert rows[1].layer.channels_first  # over the channels of each position: LayerNorm2d
    assert report.totals.params == 8 * 3 * 16 + 16
    assert rows[1].rf[0].size == 4 and rows[1].rf[0].jump == 4


def test_identity_of_a_deduplicated_weight_is_still_a_weight(tmp_path):
    # torch's exporter keeps one of two equal initializers and reads it through Identity
    nodes = [
        helper.make_node("Identity", ["gamma"], ["gamma_copy"]),
        helper.make_node("Mul", ["x", "gamma"], ["a"]),
        helper.make_node("Mul", ["a", "gamma_copy"], ["y"]),
    ]
    report = walk(onnx_model.load(_model(tmp_path, nodes, [_init("gamma", (4, 1, 1))], (4, 3, 3))))
    assert report.totals.params == 8  # both layer scales learnable, 4 each


def test_weight_shapes_declare_sizes_for_the_shape_debugger(tmp_path, cli):
    # a LeNet head: 16x4x4 = 256 features reach a Gemm whose weight declares 400
    nodes = [
        helper.make_node("Flatten", ["x"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "w", "b"], ["h"], transB=1, name="fc1"),
        helper.make_node("Relu", ["h"], ["r"], name="relu"),
        helper.make_node("Gemm", ["r", "w2"], ["y"], transB=1, name="fc2"),
    ]
    inits = [_init("w", (120, 400)), _init("b", (120,)), _init("w2", (10, 84))]
    path = _model(tmp_path, nodes, inits, (16, 4, 4))
    result = cli("arch", path)
    assert result.code == 2
    assert "fc1 (linear) declares in_features=400 but receives 256 features" in result.err
    assert "fix: in_features=256" in result.err
    # the walk went on with the declared 400, so fc2's own mismatch (120 reach 84) is listed too
    assert "fc2 (linear) declares in_features=84 but receives 120" in result.err
    assert "Traceback" not in result.err


def test_input_too_small_is_explained_by_the_layer(tmp_path, cli):
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv1"),
        helper.make_node("MaxPool", ["c"], ["y"], kernel_shape=[2, 2], strides=[2, 2], name="pool"),
    ]
    path = _model(tmp_path, nodes, [_init("w", (6, 3, 5, 5))], (3, 32, 32))
    result = cli("arch", path, "--in", "3x3x3")
    assert result.code == 2
    assert "conv1 (conv2d)" in result.err and "kernel 5 is larger" in result.err


def test_flattened_concatenation_across_nested_branches(tmp_path):
    # Inception-E: cat(a(x), b(y), c(y), d(x)) with y = f(x), as exporters flatten cat(a, cat(b, c), d)
    nodes = [
        helper.make_node("Conv", ["x", "wa"], ["a"], name="/m/a/Conv"),
        helper.make_node("Conv", ["x", "wy"], ["y1"], name="/m/y/Conv"),
        helper.make_node("Conv", ["y1", "wb"], ["b"], name="/m/b/Conv", pads=[0, 1, 0, 1], kernel_shape=[1, 3]),
        helper.make_node("Conv", ["y1", "wc"], ["c"], name="/m/c/Conv", pads=[1, 0, 1, 0], kernel_shape=[3, 1]),
        helper.make_node("MaxPool", ["x"], ["d"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], name="/m/d/MaxPool"),
        helper.make_node("Concat", ["a", "b", "c", "d"], ["y"], axis=1, name="/m/Concat"),
    ]
    inits = [_init("wa", (4, 3, 1, 1)), _init("wy", (5, 3, 1, 1)), _init("wb", (6, 5, 1, 3)), _init("wc", (7, 5, 3, 1))]
    report = walk(onnx_model.load(_model(tmp_path, nodes, inits, (3, 8, 8))))
    assert report.output == (4 + 6 + 7 + 3, 8, 8)
    assert report.totals.params == 12 + 15 + 90 + 105
    convs = [(r.name, r.rf[0].size, r.rf[1].size) for r in report.leaves() if r.type == "conv2d"]
    assert convs == [("m.a", 1, 1), ("m.y", 1, 1), ("m.b", 1, 3), ("m.c", 3, 1)]


def test_product_with_an_unpooled_branch_is_element_wise(tmp_path):
    # x · tanh(x): no pooling in the branch, so not a squeeze-and-excitation gate
    nodes = [helper.make_node("Tanh", ["x"], ["t"]), helper.make_node("Mul", ["x", "t"], ["y"])]
    report = walk(onnx_model.load(_model(tmp_path, nodes, [], (4, 5, 5))))
    assert report.output == (4, 5, 5)
    assert [r.type for r in report.leaves()] == ["identity", "tanh", "mul"]


def test_zero_pad_read_by_a_conv_is_the_convs_padding(tmp_path):
    # TensorFlow's SAME for k3 s2 on 8x8: pad 0 before, 1 after (F.pad in a module, then its conv)
    nodes = [
        helper.make_node("Pad", ["x", "pads"], ["p"], name="/conv1/Pad"),
        helper.make_node("Conv", ["p", "w"], ["y"], strides=[2, 2], name="/conv1/conv/Conv"),
    ]
    inits = [_const("pads", [0, 0, 0, 0, 0, 0, 1, 1], np.int64), _init("w", (4, 3, 3, 3))]
    report = walk(onnx_model.load(_model(tmp_path, nodes, inits, (3, 8, 8))))
    [row] = report.leaves()
    assert (row.name, row.type, row.output) == ("conv1", "conv2d", (4, 4, 4))  # floor((8 + 1 − 3)/2) + 1
    assert row.report.hyper["padding"] == [[0, 1], [0, 1]]
    # padding the channels is not a convolution's padding: the Pad stays a layer
    inits[0] = _const("pads", [0, 1, 0, 0, 0, 0, 1, 1], np.int64)
    nodes[1] = helper.make_node("Conv", ["p", "w2"], ["y"], strides=[2, 2], name="/conv1/conv/Conv")
    other = walk(onnx_model.load(_model(tmp_path, nodes, inits + [_init("w2", (4, 4, 3, 3))], (3, 8, 8),
                                        name="p2.onnx")))
    assert [r.type for r in other.leaves()] == ["pad", "conv2d"]


def test_a_missing_file_is_named_before_the_missing_package(tmp_path, monkeypatch):
    """Without onnx installed, a mistyped path says the file is missing; an existing file says
    which extra to install."""
    import sys

    from convcalc.errors import InputError

    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    with pytest.raises(InputError, match="does not exist"):
        onnx_model.load(str(tmp_path / "missing.onnx"))
    present = tmp_path / "present.onnx"
    present.write_bytes(b"\x08\x07")
    with pytest.raises(InputError, match=r"pip install 'convcalc\[onnx\]'"):
        onnx_model.load(str(present))


def test_shape_arithmetic_is_folded_for_a_pad_computed_at_run_time(tmp_path):
    """A Pad whose pads are computed from the input's shape with Equal/Where (-1 placeholders),
    Mod and Sqrt/Cast (an exporter's index arithmetic): ONNX's inference sees no constant; folded,
    the pads are [0, 0, 1, 1, 0, 0, 1, 1] — H: (−10) mod 4 = 2 split 1:1, the same for W."""
    const = lambda name, value, dtype=np.int64: helper.make_node(  # noqa: E731
        "Constant", [], [name], value=numpy_helper.from_array(np.array(value, dtype=dtype)))
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        const("i", [2]), helper.make_node("Gather", ["s", "i"], ["h"]),                       # [10]
        const("neg", [-1]), helper.make_node("Mul", ["h", "neg"], ["minus"]),                  # [-10]
        const("four", [4]), helper.make_node("Mod", ["minus", "four"], ["gap"]),               # [2] (Python's mod)
        const("two", [2]), helper.make_node("Div", ["gap", "two"], ["half"]),                  # [1]
        helper.make_node("Cast", ["half"], ["f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["f", "f"], ["sq"]), helper.make_node("Sqrt", ["sq"], ["r"]),  # 1.0
        helper.make_node("Cast", ["r"], ["one"], to=TensorProto.INT64),
        const("minus1", [-1, 0]), const("zero", [0, 0]),
        helper.make_node("Equal", ["minus1", "neg"], ["is_placeholder"]),                      # [True, False]
        helper.make_node("Where", ["is_placeholder", "zero", "minus1"], ["lead"]),             # [0, 0]
        helper.make_node("Concat", ["lead", "one", "one", "lead", "one", "one"], ["pads"], axis=0),
        helper.make_node("Pad", ["x", "pads"], ["y"]),
    ]
    report = walk(onnx_model.load(_model(tmp_path, nodes, [], (3, 10, 10))))
    assert report.output == (3, 12, 12)


def test_mod_follows_the_fmod_attribute(tmp_path):
    """ONNX Mod: fmod=0 takes the divisor's sign (−7 mod 4 = 1), fmod=1 the dividend's (−3)."""
    from convcalc.interop.onnx_model import _fold

    node = helper.make_node("Mod", ["a", "b"], ["c"])
    values = [np.array([-7]), np.array([4])]
    assert _fold(node, values, {}, {}, 17).tolist() == [1]
    assert _fold(node, values, {"fmod": 1}, {}, 17).tolist() == [-3]


@pytest.mark.parametrize("gamma, beta, params, scale", [
    ("init", "init", 2 * 4, True),       # γ and β learnt (initializers)
    ("ones", "zeros", 0, True),          # torch's affine=False: the identity, written as constants
    ("ones", "init", 4, False),          # Keras's scale=False: β alone
])
def test_batch_norm_counts_only_the_weights_it_learns(tmp_path, gamma, beta, params, scale):
    c = 4
    nodes, inits = [], [_init("mean", (c,)), _init("var", (c,))]
    for name, kind in (("gamma", gamma), ("beta", beta)):
        if kind == "init":
            inits.append(numpy_helper.from_array(np.ones(c, dtype=np.float32), name))
        else:
            value = np.ones(c, dtype=np.float32) if kind == "ones" else np.zeros(c, dtype=np.float32)
            nodes.append(helper.make_node("Constant", [], [name], value=numpy_helper.from_array(value)))
    nodes.append(helper.make_node("BatchNormalization", ["x", "gamma", "beta", "mean", "var"], ["y"]))
    report = walk(onnx_model.load(_model(tmp_path, nodes, inits, (c, 5, 5))))
    assert report.totals.params == params
    assert report.totals.buffers == 2 * c + 1  # running mean and variance (and torch's batch counter)
    assert report.leaves()[0].report.hyper.get("scale", True) is scale


def test_a_tensor_whose_first_axis_is_not_the_batch_is_refused_not_miscounted(tmp_path):
    """(1, 6, 4) reshaped to (2, 3, 4) folds data into the batch axis (as op-by-op attention does
    with its heads): the walk cannot follow it, so one message says so instead of counting with
    the wrong batch."""
    shape = helper.make_node("Constant", [], ["s"], value=numpy_helper.from_array(np.array([2, 3, 4], np.int64)))
    back = helper.make_node("Constant", [], ["t"], value=numpy_helper.from_array(np.array([1, 6, 4], np.int64)))
    nodes = [shape, back, helper.make_node("Reshape", ["x", "s"], ["r"]),
             helper.make_node("Relu", ["r"], ["a"]), helper.make_node("Reshape", ["a", "t"], ["y"])]
    with pytest.raises(InputError) as caught:
        onnx_model.load(_model(tmp_path, nodes, [], (6, 4)))
    assert "gives 2x3x4, whose first axis is not the batch" in str(caught.value)


def test_a_module_of_a_depthwise_then_a_pointwise_conv_is_one_separable_conv(tmp_path):
    # Keras's SeparableConv2D as a torch module exports: /sep/depthwise/Conv (group = C) reading
    # x, /sep/pointwise/Conv (1x1) reading it alone: one layer, Dk²·M + M·N weights
    nodes = [
        helper.make_node("Conv", ["x", "wd"], ["d"], group=8, pads=[1, 1, 1, 1], name="/sep/depthwise/Conv"),
        helper.make_node("Conv", ["d", "wp"], ["y"], name="/sep/pointwise/Conv"),
    ]
    inits = [_init("wd", (8, 1, 3, 3)), _init("wp", (16, 8, 1, 1))]
    report = walk(onnx_model.load(_model(tmp_path, nodes, inits, (8, 10, 10))))
    [row] = report.leaves()
    assert (row.name, row.type, row.output) == ("sep", "depthwise-separable2d", (16, 10, 10))
    assert report.totals.params == 8 * 9 + 8 * 16
    assert report.totals.macs == 10 * 10 * (8 * 9 + 8 * 16)
    assert row.rf[0].size == 3
    # MobileNet's pair has a batch norm between: two convs, each under its own name
    nodes = [
        helper.make_node("Conv", ["x", "wd"], ["d"], group=8, pads=[1, 1, 1, 1], name="/blk/depthwise/Conv"),
        helper.make_node("BatchNormalization", ["d", "g", "b", "m", "v"], ["n"], name="/blk/bn/BatchNormalization"),
        helper.make_node("Conv", ["n", "wp"], ["y"], name="/blk/pointwise/Conv"),
    ]
    inits += [_init(name, (8,)) for name in "gbmv"]
    report = walk(onnx_model.load(_model(tmp_path, nodes, inits, (8, 10, 10), name="mb.onnx")))
    assert [r.type for r in report.leaves()] == ["conv2d", "batchnorm", "conv2d"]


def test_negative_pads_crop(tmp_path):
    # the Pad spec: a negative amount removes that many elements; H 10 + 1 − 2 = 9, W 10 − 1 + 0 = 9
    nodes = [helper.make_node("Pad", ["x", "pads"], ["y"], name="crop")]
    inits = [_const("pads", [0, 0, 1, -1, 0, 0, -2, 0], np.int64)]
    report = walk(onnx_model.load(_model(tmp_path, nodes, inits, (3, 10, 10))))
    assert [r.type for r in report.leaves()] == ["pad", "crop2d"]
    assert report.output == (3, 9, 9)
    nodes = [helper.make_node("Pad", ["x", "pads"], ["y"], name="crop")]
    inits = [_const("pads", [0, 0, 0, -1, 0, 0, -1, 0], np.int64)]
    [row] = walk(onnx_model.load(_model(tmp_path, nodes, inits, (3, 10, 10), name="c.onnx"))).leaves()
    assert (row.type, row.output, row.rf[1].start) == ("crop2d", (3, 9, 9), 1)  # W's first unit is input 1


def test_an_activation_the_exporter_shared_between_branches_is_computed_per_branch(tmp_path):
    # torch.onnx's common-subexpression pass merges relu(x) of two branches into one Relu; its
    # readers then sit in two nested merges (a bridge, no nesting of chains and branches)
    nodes = [
        helper.make_node("Relu", ["x"], ["r"], name="/a/act/Relu"),
        helper.make_node("Conv", ["r", "w1"], ["c1"], name="/a/conv/Conv"),
        helper.make_node("Concat", ["x", "c1"], ["a"], axis=1, name="/a/Concat"),
        helper.make_node("Conv", ["r", "w2"], ["c2"], name="/b/conv/Conv"),
        helper.make_node("Concat", ["a", "c2"], ["y"], axis=1, name="/Concat"),
    ]
    inits = [_init("w1", (5, 4, 1, 1)), _init("w2", (6, 4, 1, 1))]
    report = walk(onnx_model.load(_model(tmp_path, nodes, inits, (4, 6, 6))))
    assert report.output == (4 + 5 + 6, 6, 6)
    assert report.totals.params == 5 * 4 + 6 * 4
    assert report.totals.macs == 36 * (5 * 4 + 6 * 4)
    relus = [r.name for r in report.leaves() if r.type == "relu"]
    assert relus == ["a.act", "b.act"]  # the copy is named in its reader's module


@pytest.mark.parametrize("adapted", [True, False])
def test_keras_normalization_exported_as_sub_and_div_by_a_square_root(tmp_path, adapted):
    # (x − mean) / √variance per channel: Keras's Normalization, whose adapted mean, variance and
    # count are weights (2·3 + 1 buffers); as constants of the graph it holds none
    mean, variance = np.array([0.5, 0.4, 0.3], np.float32), np.array([4.0, 1.0, 0.25], np.float32)
    view = _const("view", [1, 3, 1, 1], np.int64)
    if adapted:
        stats = [numpy_helper.from_array(mean, "mean"), numpy_helper.from_array(variance, "var")]
        nodes = []
    else:
        stats = []
        nodes = [helper.make_node("Constant", [], ["mean"], value=numpy_helper.from_array(mean)),
                 helper.make_node("Constant", [], ["var"], value=numpy_helper.from_array(variance))]
    nodes += [
        helper.make_node("Reshape", ["mean", "view"], ["m"], name="/normalization/Reshape"),
        helper.make_node("Reshape", ["var", "view"], ["v"], name="/normalization/Reshape_1"),
        helper.make_node("Sqrt", ["v"], ["root"], name="/normalization/Sqrt"),
        helper.make_node("Sub", ["x", "m"], ["centred"], name="/normalization/Sub"),
        helper.make_node("Div", ["centred", "root"], ["y"], name="/normalization/Div"),
    ]
    report = walk(onnx_model.load(_model(tmp_path, nodes, stats + [view], (3, 8, 8))))
    [row] = report.leaves()
    assert (row.name, row.type, row.output) == ("normalization", "normalization", (3, 8, 8))
    assert report.totals.params == 0
    assert report.totals.buffers == (7 if adapted else 0)
    if not adapted:
        assert row.report.hyper["mean"] == pytest.approx([0.5, 0.4, 0.3])
        assert row.report.hyper["variance"] == pytest.approx([4.0, 1.0, 0.25])


def _external(tmp_path, weight_shape, threshold):
    """A conv model saved with its initializers in external data files (as a model past 2 GB is)."""
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("Reshape", ["c", "shape"], ["y"], name="flat")]
    inits = [numpy_helper.from_array(np.ones(weight_shape, np.float32), "w"), _const("shape", [1, -1], np.int64)]
    source = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, weight_shape[1], 8, 8])
    graph = helper.make_graph(nodes, "g", [source], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "external.onnx"
    onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=False,
                    size_threshold=threshold)
    return path


def test_external_data_the_weights_are_counted_by_shape_the_small_values_read(tmp_path, cli):
    # every initializer external: the Reshape's target shape (2 values) is read from its file
    path = _external(tmp_path, (8, 3, 3, 3), 0)
    report = walk(onnx_model.load(str(path)))
    assert report.output == (8 * 8 * 8,) and report.totals.params == 8 * 3 * 9
    # a large weight's data is never read: the walk needs its shape only, so it runs without the file
    path = _external(tmp_path, (64, 64, 3, 3), 1024)
    (tmp_path / "w").unlink()
    report = walk(onnx_model.load(str(path)))
    assert report.totals.params == 64 * 64 * 9 and report.totals.macs == 64 * 64 * 64 * 9
    # a small value's file missing is named, exit 2
    path = _external(tmp_path, (8, 3, 3, 3), 0)
    (tmp_path / "shape").unlink()
    result = cli("arch", str(path))
    assert result.code == 2 and "Traceback" not in result.err
    assert "external data file 'shape'" in result.err and "beside it" in result.err
