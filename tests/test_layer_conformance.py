"""Every layer type × every front end: the descriptors are the one source of the names, and
each front end accepts what they say (and what the docs say). A failure names the gap."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import convcalc.layers as layers_package
from convcalc.layers import descriptor as D

ROOT = Path(__file__).resolve().parents[1]

#: one working spec entry and input (C x spatial) per spec type; a new type needs its row here
SPEC_EXAMPLES: dict[str, tuple[dict, tuple[int, ...]]] = {
    "conv": ({"out": 4, "k": 3, "pad": 1}, (3, 8, 8)),
    "conv_transpose": ({"out": 4, "k": 3, "stride": 2}, (3, 5, 5)),
    "maxpool": ({"k": 2}, (3, 8, 8)),
    "avgpool": ({"k": 2, "count_include_pad": False}, (3, 8, 8)),
    "adaptive_avgpool": ({"size": 2}, (3, 8, 8)),
    "adaptive_maxpool": ({"size": 2}, (3, 8, 8)),
    "global_avgpool": ({}, (3, 8, 8)),
    "global_maxpool": ({}, (3, 8, 8)),
    "linear": ({"out": 5}, (12,)),
    "flatten": ({}, (3, 4, 4)),
    "batchnorm": ({}, (3, 4, 4)),
    "groupnorm": ({"groups": 2}, (4, 4, 4)),
    "layernorm2d": ({}, (3, 4, 4)),
    "layernorm": ({"dims": 1}, (3, 4, 4)),
    "lrn": ({"size": 3}, (4, 4, 4)),
    "prelu": ({"num_parameters": 3}, (3, 4, 4)),
    "dropout": ({"p": 0.25}, (3, 4, 4)),
    "identity": ({}, (3, 4, 4)),
    "upsample": ({"scale": 2}, (3, 4, 4)),
    "channel_shuffle": ({"groups": 2}, (4, 4, 4)),
    "shortcut_a": ({"out": 6, "stride": 2}, (3, 4, 4)),
    "pad": ({"pad": "1:0x0:2"}, (3, 4, 4)),
    "crop": ({"crop": "1:0x0:2"}, (3, 4, 4)),
    "scale": ({"factor": 0.17}, (3, 4, 4)),
    "pixel_shuffle": ({"factor": 2}, (8, 4, 4)),
    "pixel_unshuffle": ({"factor": 2}, (2, 4, 4)),
    # the transformers' layers: token sequences are L x D, token groups G x P x D
    "tokens": ({}, (3, 4, 4)),
    "patch_embed": ({"dim": 8, "patch": 2}, (3, 8, 8)),
    "class_token": ({}, (16, 8)),
    "position_embedding": ({}, (16, 8)),
    "token_select": ({"index": 0}, (16, 8)),
    "self_attention": ({"heads": 2}, (16, 8)),
    "window_attention": ({"heads": 2, "window": 2, "shift": 1}, (4, 4, 4)),
    "window_partition": ({"size": 2, "grid": True}, (3, 4, 4)),
    "window_departition": ({"size": 2}, (4, 4, 3)),
    "relpos_attention": ({"head_dim": 4}, (4, 4, 8)),
    "layer_scale": ({"init": 0.5}, (3, 4, 4)),
    "stochastic_depth": ({"p": 0.25}, (3, 4, 4)),
    **{kind: ({}, (3, 4, 4)) for kind in ("relu", "relu6", "leaky_relu", "elu", "gelu", "sigmoid", "tanh", "silu",
                                           "hardswish", "hardsigmoid", "softmax", "log_softmax", "mish", "softplus")},
}
#: types that only imported models (ONNX, torch.fx, Keras) produce: analysed, not yet run on numbers
ANALYSIS_ONLY = {"Reshape", "Permute", "Pad", "Pointwise", "Unmapped"}


def _layer_classes():
    for info in pkgutil.iter_modules(layers_package.__path__):
        module = importlib.import_module(f"convcalc.layers.{info.name}")
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and not name.startswith("_") and "analyze" in dir(cls):
                yield info.name, cls


def _spec_descriptors():
    return [d for d in D.descriptors() if d.build is not None]


def test_the_generated_index_matches_the_descriptors():
    text = (ROOT / "convcalc" / "layers" / "index.py").read_text(encoding="utf-8")
    assert text == D.index_text(), "convcalc/layers/index.py is stale: run python -m convcalc.layers.descriptor"


@pytest.mark.parametrize("module,cls", list(_layer_classes()), ids=lambda v: getattr(v, "__name__", v))
def test_every_layer_class_has_a_descriptor_in_its_module(module, cls):
    names = {c for d in importlib.import_module(f"convcalc.layers.{module}").DESCRIPTORS for c in d.classes}
    assert cls.__name__ in names, f"{module}.{cls.__name__} has no LayerDescriptor in its module"


@pytest.mark.parametrize("module,cls", list(_layer_classes()), ids=lambda v: getattr(v, "__name__", v))
def test_every_layer_class_keeps_the_layer_contract(module, cls):
    from convcalc.compute import LayerType

    if cls.__name__ in ANALYSIS_ONLY and module == "tensor":
        pytest.skip(f"{cls.__name__}: analysis-only type of imported models (no forward/backward yet)")
    missing = [m for m in ("analyze", "parameter_shapes", "buffer_shapes",
                           "forward", "backward") if not hasattr(cls, m)]
    assert not missing, f"{cls.__name__} lacks {missing}"
    assert issubclass(cls, LayerType)


@pytest.mark.parametrize("descriptor", _spec_descriptors(), ids=lambda d: d.name)
def test_analyze_reads_one_sample_with_the_batch_apart(descriptor):
    """The layer contract's one shape convention, for every type: ``analyze`` takes one sample
    and the batch as the keyword; a batched shape is read by ``analyze_batched`` to the same
    numbers, and a layer of a fixed spatial rank refuses it given to ``analyze`` directly."""
    from convcalc.errors import InputError
    from convcalc.layers.base import analyze_batched
    from convcalc.network.spec import make_leaf

    options, sample = SPEC_EXAMPLES[descriptor.name]
    layer = make_leaf(descriptor.name, dict(options), "layer").layer
    one = layer.analyze(sample, batch=3)
    assert one.batch == 3 and not one.output_has_batch, f"{descriptor.name}: the batch is a keyword, not an entry"
    batched = analyze_batched(layer, (3, *sample))
    assert batched.output == (3, *one.output), descriptor.name
    assert (batched.params, batched.macs, batched.activation_elements) == \
        (one.params, one.macs, one.activation_elements), descriptor.name
    rank = getattr(layer, "rank", None)
    if rank is not None and len(sample) == rank + 1:
        with pytest.raises(InputError, match="the batch given on its own"):
            layer.analyze((3, *sample))


def test_every_spec_type_has_an_example_here():
    missing = sorted(d.name for d in _spec_descriptors() if d.name not in SPEC_EXAMPLES)
    assert not missing, f"add a SPEC_EXAMPLES row for {missing}"


@pytest.mark.parametrize("descriptor", _spec_descriptors(), ids=lambda d: d.name)
def test_spec_files_accept_every_word_and_build_the_type(descriptor):
    from convcalc.network import build
    from convcalc.network.model import Network
    from convcalc.network.spec import make_leaf
    from convcalc.network.walk import walk

    options, shape = SPEC_EXAMPLES[descriptor.name]
    for word in (descriptor.name, *descriptor.aliases):
        leaf = make_leaf(word, dict(options), "layer")
        assert D.of_layer(leaf.layer) is descriptor, f"spec word {word!r} built {type(leaf.layer).__name__}"
    report = walk(Network("t", shape, build.seq(leaf)))
    assert report.output, descriptor.name


@pytest.mark.parametrize("descriptor", _spec_descriptors(), ids=lambda d: d.name)
def test_inline_chains_accept_the_type_as_its_help_line_writes_it(descriptor):
    from convcalc.network.spec import chain_help, parse_chain

    options, shape = SPEC_EXAMPLES[descriptor.name]
    words = [descriptor.name]
    positional = next((o for o in descriptor.options if o.positional), None)
    for key, value in options.items():
        option = descriptor.option(key)
        assert option is not None
        if option is positional:
            words.append(str(value))
        elif option.chain:
            words.append(f"{option.chain}{value}")
        elif option.flag and value == option.flag[1]:
            words.append(option.flag[0])
    chain = " | ".join(["x".join(map(str, shape)), " ".join(words)])
    network = parse_chain(chain)
    assert D.of_layer(network.body.children[0][1].layer) is descriptor, chain
    if descriptor.options or descriptor.chain_help:
        first = (descriptor.chain_help or descriptor.name).split()[0]
        assert D.lookup("spec", first) is descriptor, f"chain help names {first!r}"
    shown = chain_help()
    assert (descriptor.chain_help.split()[0] if descriptor.chain_help else descriptor.name) in shown


@pytest.mark.parametrize("descriptor", [d for d in D.descriptors() if d.cli], ids=lambda d: d.name)
def test_shape_accepts_every_op_name_and_option(descriptor):
    from convcalc.layers.registry import resolve_op
    from convcalc.requests import LAYER_PARSERS

    for word in (descriptor.cli, *descriptor.cli_aliases):
        spec, _ = resolve_op(word)
        assert spec.name == descriptor.cli, f"--op {word} resolved to {spec.name}"
    unknown = [o for o in descriptor.cli_options if o not in LAYER_PARSERS]
    assert not unknown, f"{descriptor.cli}: options {unknown} have no parser in convcalc/requests.py"
    shape_source = (ROOT / "convcalc" / "cli" / "shape.py").read_text(encoding="utf-8")
    for option in descriptor.cli_options:
        assert f'"--{option}' in shape_source, f"convcalc shape has no --{option} flag ({descriptor.cli})"


@pytest.mark.parametrize("descriptor", [d for d in D.descriptors() if d.trace], ids=lambda d: d.name)
def test_backprop_specs_accept_every_trace_word(descriptor):
    from convcalc.trace.layer_specs import LAYER_TYPES, OUTPUT_NAMES, canonical_type

    assert descriptor.trace in LAYER_TYPES
    assert OUTPUT_NAMES[descriptor.trace], f"{descriptor.trace} has no default output name"
    for word in (descriptor.trace, *descriptor.trace_aliases):
        assert canonical_type(word, "layer 1") == descriptor.trace


@pytest.mark.torch
@pytest.mark.parametrize("descriptor", _spec_descriptors(), ids=lambda d: d.name)
def test_the_torch_builder_builds_every_type_as_its_descriptor_names_it(descriptor):
    pytest.importorskip("torch")
    from convcalc.network import build
    from convcalc.network.model import Network
    from convcalc.network.spec import make_leaf
    from convcalc.network.torch_build import build_torch

    options, shape = SPEC_EXAMPLES[descriptor.name]
    leaf = make_leaf(descriptor.name, dict(options), "layer")
    model = build_torch(Network("t", shape, build.seq(("layer", leaf))))
    module = model.get_submodule("layer")
    names = {cls.__name__ for cls in type(module).__mro__}
    if descriptor.torch:
        assert names & set(descriptor.torch), \
            f"{descriptor.name} became {type(module).__name__}, not {descriptor.torch}"


def test_importers_accept_the_torch_and_onnx_names_the_descriptors_give():
    """The importers' name tables are the descriptors' words: every torch.nn class and ONNX
    operator a descriptor names has a reader, and every reader belongs to a descriptor that
    names at least one (no name-keyed table of the importer's own)."""
    from convcalc.interop import keras_model, onnx_model, torch_model

    torch_gaps = sorted(w for d in D.descriptors() for w in d.torch if torch_model.reader(w) is None)
    onnx_gaps = sorted(w for d in D.descriptors() for w in d.onnx if onnx_model.reader(w) is None)
    keras_gaps = sorted(w for d in D.descriptors() for w in d.keras if keras_model.reader(w) is None)
    assert not torch_gaps, f"torch.nn names no importer reads: {torch_gaps}"
    assert not onnx_gaps, f"ONNX operators no importer reads: {onnx_gaps}"
    assert not keras_gaps, f"Keras classes no importer reads: {keras_gaps}"
    by_name = {d.name: d for d in D.descriptors()}
    fronts = ((torch_model.READERS, "torch"), (onnx_model.READERS, "onnx"), (keras_model.READERS, "keras"))
    for readers, front in fronts:
        orphans = sorted(n for n in readers if n not in by_name or not by_name[n].words(front))
        assert not orphans, f"{front} readers of types no descriptor gives a {front} name: {orphans}"
    # the operators read outside the descriptors are the merges alone
    assert onnx_model.mapped_operators() - set(D.all_words("onnx")) == set(onnx_model.MERGE_OPERATORS)
    assert torch_model.mapped_modules() == set(D.all_words("torch"))
    extra = set(keras_model.WRAPPERS) | set(keras_model.MERGES)
    assert set(keras_model.mapped_classes()) - set(D.all_words("keras")) == extra
    # Keras's activation names are the activation types' spec words
    for name in ("relu", "swish", "hard_sigmoid", "gelu", "softmax"):
        assert keras_model.reader("Activation")({"activation": name})


def test_every_chain_word_the_readme_documents_is_accepted():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    chain = text[text.index("Chain segments are separated by"):]
    chain = chain[:chain.index("\n\n")]
    words = {m.split()[0] for m in re.findall(r"`([^`]+)`", chain) if m[0].isalpha()}
    refused = sorted(w for w in words if D.lookup("spec", w) is None)
    assert not refused, f"README documents chain words that are refused: {refused}"


def test_the_arch_help_lists_every_chain_type():
    from convcalc.cli.arch import epilog

    EPILOG = epilog()
    missing = [d.name for d in _spec_descriptors() if d.chain_help and d.chain_help.split()[0] not in EPILOG]
    assert not missing, f"arch --help does not list {missing}"
