"""Networks written by the user: a JSON spec file, or an inline chain on the command line.

Both end as a :class:`~convcalc.network.model.Network` built with ``convcalc.network.build``
(the same constructors as the zoo), so every shape and count rule stays in ``convcalc.layers``.

JSON spec (documented with examples in ``examples/README.md``)::

    {"name": "lenet5", "input": "1x32x32",
     "layers": [{"type": "conv", "out": 6, "k": 5}, "tanh", {"type": "avgpool", "k": 2}, ...]}

An entry is a leaf (``{"type": "conv", ...}`` or just ``"relu"``) or a container:
``sequence`` (``layers``), ``residual`` (``body``, ``shortcut``, ``post``), ``parallel`` /
``concat`` / ``add`` (``branches``), ``se`` (``layers``) and ``repeat`` (``times``, ``layers``).
Errors name the JSON path of the bad entry (``layers[3].k``), or the line and column for
malformed JSON.

Inline chain (``convcalc arch "3x32x32 | conv 6 k5 | relu | maxpool k2 | flatten | fc 10"``):
segments separated by ``|``; the first may be the input shape; each segment is a layer
word followed by options — see :data:`CHAIN_HELP`.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from convcalc.errors import InputError
from convcalc.jsontext import load_json
from convcalc.network import build
from convcalc.network.model import Leaf, Module, Network, Sequential
from convcalc.notation import parse_ints, parse_padding, parse_shape

# --- leaves ---------------------------------------------------------------------------------

# Option names accepted in spec files (left) and the constructor keyword they feed (right).
_KEY_ALIASES = {
    "kernel": "k", "kernel_size": "k", "s": "stride", "p": "pad", "padding": "pad", "d": "dilation",
    "g": "groups", "out_channels": "out", "out_features": "out", "channels": "out", "features": "out",
    "ceil": "ceil_mode", "size": "size", "output_size": "size", "scale_factor": "scale", "num_parameters": "num_parameters",
}


def _ints(value, what):
    values = parse_ints(value, what)
    return values[0] if len(values) == 1 else values


def _ints0(value, what):
    values = parse_ints(value, what, minimum=0)
    return values[0] if len(values) == 1 else values


def _pad(value, what):
    parsed = parse_padding(value, what)
    return parsed


def _bool(value, what):
    if not isinstance(value, bool):
        raise InputError(f"{what} must be true or false; got {value!r}")
    return value


def _count(value, what):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{what} must be a whole number ≥ 1; got {value!r}")
    return value


def _prob(value, what):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise InputError(f"{what} must be a probability between 0 and 1; got {value!r}")
    return float(value)


def _size(value, what):
    if isinstance(value, (list, tuple)):
        return tuple(None if v is None else _count(v, what) for v in value)
    return parse_ints(value, what)


def _word(value, what):
    if not isinstance(value, str):
        raise InputError(f"{what} must be a word; got {value!r}")
    return value


# type → (constructor, {option: (keyword, parser)}, required options)
_O = {
    "out": ("out", _count), "k": ("k", _ints), "stride": ("stride", _ints), "pad": ("pad", _pad),
    "dilation": ("dilation", _ints), "groups": ("groups", _count), "bias": ("bias", _bool),
}
LEAF_TYPES: dict[str, tuple[Callable[..., Leaf], dict[str, tuple[str, Callable]], tuple[str, ...]]] = {
    "conv": (build.conv, {**_O, "padding_mode": ("padding_mode", _word)}, ("out", "k")),
    "conv_transpose": (build.conv_t, {**_O, "output_padding": ("output_padding", _ints0)}, ("out", "k")),
    "maxpool": (build.maxpool, {"k": ("k", _ints), "stride": ("stride", _ints), "pad": ("pad", _pad),
                                "dilation": ("dilation", _ints), "ceil_mode": ("ceil_mode", _bool)}, ("k",)),
    "avgpool": (build.avgpool, {"k": ("k", _ints), "stride": ("stride", _ints), "pad": ("pad", _pad),
                                "ceil_mode": ("ceil_mode", _bool), "count_include_pad": ("count_include_pad", _bool)}, ("k",)),
    "adaptive_avgpool": (build.adaptive_avgpool, {"size": ("size", _size)}, ("size",)),
    "adaptive_maxpool": (build.adaptive_maxpool, {"size": ("size", _size)}, ("size",)),
    "global_avgpool": (build.global_avgpool, {}, ()),
    "linear": (build.linear, {"out": ("out", _count), "bias": ("bias", _bool)}, ("out",)),
    "flatten": (build.flatten, {"start_dim": ("start_dim", int), "end_dim": ("end_dim", int)}, ()),
    "batchnorm": (build.bn, {"affine": ("affine", _bool), "eps": ("eps", float), "momentum": ("momentum", float)}, ()),
    "groupnorm": (build.groupnorm, {"groups": ("groups", _count)}, ("groups",)),
    "layernorm2d": (build.layernorm2d, {}, ()),
    "layernorm": (build.layernorm, {"dims": ("dims", _count)}, ()),
    "lrn": (build.lrn, {"size": ("size", _count), "alpha": ("alpha", float), "beta": ("beta", float), "k": ("k", float)}, ()),
    "prelu": (build.prelu, {"num_parameters": ("num_parameters", _count)}, ()),
    "dropout": (build.dropout, {"p": ("p", _prob)}, ()),
    "identity": (build.identity, {}, ()),
    "upsample": (build.upsample, {"scale": ("scale", _count), "mode": ("mode", _word)}, ()),
    "channel_shuffle": (build.channel_shuffle, {"groups": ("groups", _count)}, ("groups",)),
    "shortcut_a": (build.shortcut_a, {"out": ("out_channels", _count), "stride": ("stride", _count)}, ("out",)),
}
_ACTIVATIONS = ("relu", "relu6", "leaky_relu", "elu", "gelu", "sigmoid", "tanh", "silu", "swish", "hardswish",
                "hardsigmoid", "softmax", "log_softmax", "mish", "softplus")
TYPE_ALIASES = {
    "conv2d": "conv", "convolution": "conv", "conv_t": "conv_transpose", "convt": "conv_transpose",
    "deconv": "conv_transpose", "conv_transpose2d": "conv_transpose", "maxpool2d": "maxpool", "max_pool": "maxpool",
    "avgpool2d": "avgpool", "avg_pool": "avgpool", "adaptive_avg_pool": "adaptive_avgpool", "adaptiveavg": "adaptive_avgpool",
    "aap": "adaptive_avgpool", "adaptivemax": "adaptive_maxpool", "gap": "global_avgpool", "global_avg_pool": "global_avgpool",
    "fc": "linear", "dense": "linear", "bn": "batchnorm", "batchnorm2d": "batchnorm", "gn": "groupnorm",
    "ln": "layernorm", "ln2d": "layernorm2d", "localresponsenorm": "lrn", "drop": "dropout", "id": "identity",
    "shuffle": "channel_shuffle", "option_a": "shortcut_a", "up": "upsample",
}
CONTAINER_TYPES = ("sequence", "residual", "parallel", "concat", "add", "mul", "se", "repeat")


def canonical_type(word: str) -> str:
    key = word.strip().lower().replace("-", "_")
    return TYPE_ALIASES.get(key, key)


def known_types() -> list[str]:
    return sorted(set(LEAF_TYPES) | set(_ACTIVATIONS))


def make_leaf(kind: str, options: dict[str, Any], where: str) -> Leaf:
    """Build one leaf from its type and options; errors name ``where``."""
    kind = canonical_type(kind)
    if kind in _ACTIVATIONS:
        extra = [k for k in options]
        if extra:
            raise InputError(f"{where}: {kind} takes no options; got {', '.join(extra)}")
        return build.act(kind)
    if kind not in LEAF_TYPES:
        import difflib

        close = difflib.get_close_matches(kind, known_types() + list(TYPE_ALIASES), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        where = "" if where == "layer" else f"{where}: "
        raise InputError(f"{where}unknown layer type '{kind}'{hint} (valid: {', '.join(known_types())})")
    constructor, accepted, required = LEAF_TYPES[kind]
    kwargs: dict[str, Any] = {}
    for raw_key, value in options.items():
        key = raw_key.lower().replace("-", "_")
        if key not in accepted:
            key = _KEY_ALIASES.get(key, key)
        if key not in accepted:
            prefix = f"{where}: " if where != "layer" else ""
            raise InputError(f"{prefix}{kind} has no option '{raw_key}' (valid: {', '.join(accepted) or 'none'})")
        keyword, parse = accepted[key]
        try:
            kwargs[keyword] = parse(value, f"{where}.{raw_key}")
        except (TypeError, ValueError) as error:
            if isinstance(error, InputError):
                raise
            raise InputError(f"{where}.{raw_key}: bad value {value!r}") from None
    missing = [r for r in required if accepted[r][0] not in kwargs]
    if missing:
        raise InputError(f"{where}: {kind} needs {', '.join(missing)}")
    try:
        return constructor(**kwargs)
    except InputError as error:
        raise InputError(f"{where}: {error}" if where != "layer" else str(error)) from None


# --- JSON spec files ------------------------------------------------------------------------

def load_spec_file(path: str) -> Network:
    """Read a JSON spec file; malformed JSON reports the line and column."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror}") from None
    return parse_spec_text(text, source=path)


def parse_spec_text(text: str, source: str = "<spec>") -> Network:
    return parse_spec(load_json(text, source), source)


def parse_spec(data: Any, source: str = "<spec>") -> Network:
    if not isinstance(data, dict):
        raise InputError(f"{source}: the top level must be an object with 'input' and 'layers'")
    allowed = {"name", "input", "layers", "description", "source", "$schema", "notes"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InputError(f"{source}: unknown top-level key(s) {', '.join(unknown)} (valid: {', '.join(sorted(allowed))})")
    if "input" not in data:
        raise InputError(f"{source}: missing 'input' (e.g. \"input\": \"3x32x32\")")
    if "layers" not in data:
        raise InputError(f"{source}: missing 'layers' (a list of layers)")
    shape, _ = parse_shape(data["input"], f"{source}: input", allow_symbols=False)
    body = _sequence(data["layers"], "layers", source)
    name = data.get("name") or source.rsplit("/", 1)[-1].removesuffix(".json")
    return Network(str(name), tuple(shape), body, source=str(data.get("source", source)),
                   description=str(data.get("description", "")))


def _sequence(items: Any, path: str, source: str, kind: str = "Sequential") -> Sequential:
    if not isinstance(items, list):
        raise InputError(f"{source}: {path} must be a list of layers")
    children = []
    names: set[str] = set()
    for index, item in enumerate(items):
        where = f"{path}[{index}]"
        name, module = _entry(item, where, source)
        name = name if name is not None else str(index)
        if name in names:
            raise InputError(f"{source}: {where}: the name '{name}' is used twice in the same sequence")
        names.add(name)
        children.append((name, module))
    return build.seq(*children, kind=kind)


def _entry(item: Any, where: str, source: str) -> tuple[str | None, Module]:
    """One list entry: (its name or None, its module)."""
    if isinstance(item, str):
        return None, _leaf_or_fail(item, {}, where, source)
    if not isinstance(item, dict):
        raise InputError(f"{source}: {where} must be a layer object like {{\"type\": \"conv\", \"out\": 16, \"k\": 3}} or a word like \"relu\"")
    if "type" not in item:
        raise InputError(f"{source}: {where} has no 'type'")
    kind = canonical_type(str(item["type"]))
    name = item.get("name")
    if name is not None and (not isinstance(name, str) or not name or "." in name):
        raise InputError(f"{source}: {where}.name must be a non-empty word without dots; got {name!r}")
    options = {k: v for k, v in item.items() if k not in ("type", "name", "comment")}
    if kind in CONTAINER_TYPES:
        return name, _container(kind, options, where, source)
    return name, _leaf_or_fail(kind, options, where, source)


def _leaf_or_fail(kind: str, options: dict, where: str, source: str) -> Leaf:
    try:
        return make_leaf(kind, options, where)
    except InputError as error:
        raise InputError(f"{source}: {error}") from None


def _only(options: dict, allowed: tuple[str, ...], kind: str, where: str, source: str) -> None:
    extra = sorted(set(options) - set(allowed))
    if extra:
        raise InputError(f"{source}: {where}: {kind} has no key(s) {', '.join(extra)} (valid: {', '.join(allowed)})")


def _block_kind(options: dict, default: str, where: str, source: str) -> str:
    """The optional ``"kind"`` of a container (``"BasicBlock"``): what ``--depth`` shows for it folded."""
    kind = options.pop("kind", default)
    if not isinstance(kind, str) or not kind.strip() or len(kind) > 40:
        raise InputError(f"{source}: {where}.kind must be a short word like \"BasicBlock\"; got {kind!r}")
    return kind.strip()


def _container(kind: str, options: dict, where: str, source: str) -> Module:
    options = dict(options)
    if kind == "sequence":
        block = _block_kind(options, "Sequential", where, source)
        _only(options, ("layers",), kind, where, source)
        return _sequence(options.get("layers"), f"{where}.layers", source, kind=block)
    if kind == "repeat":
        _only(options, ("times", "layers"), kind, where, source)
        times = options.get("times")
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            raise InputError(f"{source}: {where}.times must be a whole number ≥ 1; got {times!r}")
        layers = options.get("layers")
        # Each copy is a named block 0..times−1 (as nn.Sequential numbers its children).
        copies = [(str(i), _sequence(layers, f"{where}.layers", source)) for i in range(times)]
        if isinstance(layers, list) and len(layers) == 1:
            return build.seq(*[(str(i), s.children[0][1]) for i, (_, s) in enumerate(copies)])
        return build.seq(*copies)
    if kind == "residual":
        block = _block_kind(options, "Residual", where, source)
        _only(options, ("body", "shortcut", "post"), kind, where, source)
        body = _sequence(options.get("body"), f"{where}.body", source)
        shortcut = options.get("shortcut")
        short: tuple[str, Module] | None = None
        if shortcut is not None:
            if isinstance(shortcut, list):
                short = ("downsample", _sequence(shortcut, f"{where}.shortcut", source))
            else:
                sname, smod = _entry(shortcut, f"{where}.shortcut", source)
                short = (sname or "downsample", smod)
        post = options.get("post", [])
        post_seq = _sequence(post, f"{where}.post", source)
        return build.residual(*body.children, shortcut=short, post=post_seq.children, kind=block)
    if kind == "se":
        block = _block_kind(options, "SqueezeExcitation", where, source)
        _only(options, ("layers",), kind, where, source)
        return build.gate(*_sequence(options.get("layers"), f"{where}.layers", source).children, kind=block)
    # parallel / concat / add / mul
    block = _block_kind(options, "Parallel", where, source)
    _only(options, ("branches", "merge"), kind, where, source)
    merge = options.get("merge", "concat" if kind == "parallel" else kind)
    if merge not in ("concat", "add", "mul"):
        raise InputError(f"{source}: {where}.merge must be concat, add or mul; got {merge!r}")
    branches = options.get("branches")
    if isinstance(branches, dict):
        named = [(str(n), b) for n, b in branches.items()]
    elif isinstance(branches, list):
        named = [(f"branch{i + 1}", b) for i, b in enumerate(branches)]
    else:
        raise InputError(f"{source}: {where}.branches must be a list of layer lists, or an object name → layer list")
    if len(named) < 2:
        raise InputError(f"{source}: {where}.branches needs at least two branches")
    built: list[tuple[str, Module]] = []
    for branch_name, branch in named:
        path = f"{where}.branches.{branch_name}" if isinstance(branches, dict) else f"{where}.branches[{branch_name[6:]}]"
        if isinstance(branch, list):
            built.append((branch_name, _sequence(branch, path, source)))
        else:
            built.append((branch_name, _entry(branch, path, source)[1]))
    return build.parallel(*built, merge=merge, kind=block)


# --- inline chains --------------------------------------------------------------------------

CHAIN_HELP = """Inline chain: segments separated by '|'; the first may be the input shape (or use --in).
  conv OUT kK [sS] [pP] [dD] [gG] [nobias]   e.g. conv 64 k3 s2 p1, conv 32 k3x5 psame
  convT OUT kK [sS] [pP] [opN]               transposed conv (also deconv)
  maxpool kK [sS] [pP] [dD] [ceil]           stride defaults to the kernel
  avgpool kK [sS] [pP] [ceil] [nopad]        nopad: count_include_pad=False
  aap N (adaptive avg pool to NxN), amp N, gap (global average pool)
  fc N | linear N [nobias]    flatten    bn    gn G    ln    lrn    dropout [P]
  relu relu6 leaky_relu elu gelu silu tanh sigmoid hardswish softmax prelu [N]
  upsample [S] [bilinear]    shuffle G    identity"""

_TOKEN = re.compile(r"^(op|k|s|p|d|g)(.+)$")
_CHAIN_FLAGS = {"nobias": ("bias", False), "ceil": ("ceil_mode", True), "nopad": ("count_include_pad", False)}
_CHAIN_PREFIX = {"k": "k", "s": "stride", "p": "pad", "d": "dilation", "g": "groups", "op": "output_padding"}


def looks_like_chain(text: str) -> bool:
    if "|" in text:
        return True
    first = text.strip().split()[0] if text.strip() else ""
    return canonical_type(first) in LEAF_TYPES or canonical_type(first) in _ACTIVATIONS


def parse_chain(text: str, input_shape: tuple | None = None) -> Network:
    """An inline chain → a Network; errors say ``at token N 'segment': problem``."""
    segments = [s.strip() for s in text.split("|")]
    shape = input_shape
    children = []
    for index, segment in enumerate(segments, start=1):
        if not segment:
            raise InputError(f"at token {index}: empty segment (two '|' in a row?)")
        words = segment.split()
        if index == 1 and re.match(r"^[\d(\[]", words[0]):
            try:
                parsed, _ = parse_shape(segment, "input shape", allow_symbols=False)
            except InputError as error:
                raise InputError(f"at token 1 '{segment}': {error}") from None
            if shape is None:
                shape = parsed
            continue
        try:
            children.append(_chain_leaf(words))
        except InputError as error:
            raise InputError(f"at token {index} '{segment}': {error}") from None
    if shape is None:
        raise InputError("the chain needs an input shape: start it with one (\"3x32x32 | conv 6 k5 | ...\") or give --in")
    if not children:
        raise InputError("the chain has no layers after the input shape")
    return Network("chain", tuple(shape), build.seq(*children), source="inline chain")


def _chain_leaf(words: list[str]) -> Leaf:
    kind = canonical_type(words[0])
    if kind not in LEAF_TYPES and kind not in _ACTIVATIONS:
        make_leaf(kind, {}, "layer")  # raises: unknown type, with suggestions
    options: dict[str, Any] = {}
    positional: list[str] = []
    value: Any
    for word in words[1:]:
        low = word.lower()
        if low in _CHAIN_FLAGS:
            key, value = _CHAIN_FLAGS[low]
            options[key] = value
        elif kind == "upsample" and low in ("nearest", "bilinear", "bicubic"):
            options["mode"] = low
        elif re.match(r"^\d", word) or re.match(r"^0?\.\d", word):
            positional.append(word)
        elif (m := _TOKEN.match(low)) and (kind not in ("batchnorm", "dropout")):
            key = _CHAIN_PREFIX[m.group(1)]
            value = m.group(2)
            if key == "pad":
                options[key] = value
            else:
                options[key] = value
        else:
            raise InputError(f"'{word}' is not an option of {kind} (see convcalc arch --help)")
    positional_key = {"conv": "out", "conv_transpose": "out", "linear": "out", "adaptive_avgpool": "size",
                      "adaptive_maxpool": "size", "groupnorm": "groups", "channel_shuffle": "groups", "dropout": "p",
                      "prelu": "num_parameters", "upsample": "scale", "shortcut_a": "out"}.get(kind)
    if positional:
        if positional_key is None or len(positional) > 1:
            raise InputError(f"unexpected number '{positional[-1] if positional_key else positional[0]}' for {kind}")
        raw = positional[0]
        options[positional_key] = float(raw) if kind == "dropout" else _chain_int(raw, positional_key)
    for key in ("k", "stride", "dilation", "output_padding"):
        if key in options:
            options[key] = _chain_per_axis(options[key], key)
    if "groups" in options and isinstance(options["groups"], str):
        options["groups"] = _chain_int(options["groups"], "groups")
    if kind == "adaptive_avgpool" or kind == "adaptive_maxpool":
        options.setdefault("size", 1)
    return make_leaf(kind, options, "layer")


def _chain_int(raw: str, what: str) -> int:
    if not re.fullmatch(r"\d+", raw):
        raise InputError(f"{what} must be a whole number; got '{raw}'")
    return int(raw)


def _chain_per_axis(raw: Any, key: str):
    what = {"k": "kernel", "stride": "stride", "dilation": "dilation", "output_padding": "output padding"}[key]
    minimum = 0 if key == "output_padding" else 1
    try:
        values = parse_ints(raw, what, minimum=minimum)
    except InputError as error:
        text = str(error)
        if "must be at least" in text:
            raise InputError(f"{what} must be ≥ {minimum}") from None
        raise
    return values[0] if len(values) == 1 else values
