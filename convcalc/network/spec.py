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
word followed by options — see :func:`chain_help` (written from the layer descriptors).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from convcalc.errors import InputError
from convcalc.jsontext import load_json
from convcalc.layers.descriptor import all_words, descriptors, lookup, normalise
from convcalc.limits import check_digits, check_whole
from convcalc.network import build
from convcalc.network.model import Leaf, Module, Network, Sequential
from convcalc.notation import parse_ints, parse_padding, parse_shape, torch_spelling_note

# --- leaves ---------------------------------------------------------------------------------

def _ints(value, what):
    values = parse_ints(value, what)
    return values[0] if len(values) == 1 else values


def _ints0(value, what):
    values = parse_ints(value, what, minimum=0)
    return values[0] if len(values) == 1 else values


def _pad(value, what):
    return parse_padding(value, what, strict=True)  # a spec file uses PyTorch's names: 'same', not 'SAME'


def _bool(value, what):
    if not isinstance(value, bool):
        raise InputError(f"{what} must be true or false; got {value!r}")
    return value


def _count(value, what):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{what} must be a whole number ≥ 1; got {value!r}")
    return check_whole(value, what)


def _prob(value, what):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise InputError(f"{what} must be a probability between 0 and 1; got {value!r}")
    return float(value)


def _size(value, what):
    """An adaptive pool's output size: whole numbers ≥ 0 (0 gives an empty tensor, as in PyTorch) or null."""
    if isinstance(value, (list, tuple)):
        return tuple(None if v is None else (0 if v == 0 and not isinstance(v, bool) else _count(v, what))
                     for v in value)
    return parse_ints(value, what, minimum=0)


def _word(value, what):
    if not isinstance(value, str):
        raise InputError(f"{what} must be a word; got {value!r}")
    return value


def _int(value, what):
    return int(value)


def _float(value, what):
    return float(value)


#: how a spec value of each kind (``Option.kind`` of the layer descriptors) is read
READERS: dict[str, Callable[[Any, str], Any]] = {
    "ints": _ints, "ints0": _ints0, "pad": _pad, "bool": _bool, "count": _count, "prob": _prob, "size": _size,
    "word": _word, "int": _int, "float": _float,
}
CONTAINER_TYPES = ("sequence", "residual", "parallel", "concat", "add", "mul", "se", "repeat")


def canonical_type(word: str) -> str:
    """A spec or chain word → its type's canonical name (``convT`` → ``conv_transpose``); unknown words unchanged."""
    descriptor = lookup("spec", word)
    return descriptor.name if descriptor is not None else normalise("spec", word)


def known_types() -> list[str]:
    return sorted(d.name for d in descriptors() if d.build is not None)


def make_leaf(kind: str, options: dict[str, Any], where: str) -> Leaf:
    """Build one leaf from its type and options; errors name ``where``."""
    descriptor = lookup("spec", kind)
    prefix = "" if where == "layer" else f"{where}: "
    if descriptor is None or descriptor.build is None:
        import difflib

        word = normalise("spec", kind)
        close = difflib.get_close_matches(word, list(all_words("spec")), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise InputError(f"{prefix}unknown layer type '{word}'{hint} (valid: {', '.join(known_types())})")
    kind = descriptor.name
    options, declared_size = _declared_size(kind, options, where)
    if options and not descriptor.options:
        raise InputError(f"{where}: {kind} takes no options; got {', '.join(options)}")
    kwargs: dict[str, Any] = {}
    for raw_key, value in options.items():
        option = descriptor.option(str(raw_key).lower().replace("-", "_"))
        if option is None:
            valid = ", ".join(o.key for o in descriptor.options)
            raise InputError(f"{prefix}{kind} has no option '{raw_key}' (valid: {valid})")
        try:
            kwargs[option.keyword] = READERS[option.kind](value, f"{where}.{raw_key}")
        except (TypeError, ValueError) as error:
            if isinstance(error, InputError):
                raise
            raise InputError(f"{where}.{raw_key}: bad value {value!r}") from None
    missing = [o.key for o in descriptor.options if o.required and o.keyword not in kwargs]
    if missing:
        raise InputError(f"{where}: {kind} needs {', '.join(missing)}")
    try:
        leaf = Leaf(descriptor.build(**kwargs))
    except InputError as error:
        if error.field is not None:  # named by its JSON path, as the spec wrote the key
            written = {o.keyword: key for key, o in ((k, descriptor.option(str(k).lower().replace("-", "_")))
                                                     for k in options) if o is not None}

            def spec_path(field: str) -> str:  # a setting the message names, as this spec writes it
                if field == "input":  # the network's input shape: the spec's top-level key
                    return field
                word = written.get(field, next((o.key for o in descriptor.options if o.keyword == field), field))
                return f"{where}.{word}" if where != "layer" else word
            raise error.spelled(spec_path) from None
        raise InputError(f"{where}: {error}" if where != "layer" else str(error)) from None
    if declared_size is None:
        return leaf
    from convcalc.network.declared import declare

    return declare(leaf, *declared_size)


# the size a layer may declare it receives ("in" in specs, in=N in chains), as PyTorch names it
DECLARES = {"linear": "in_features", "conv": "in_channels", "conv_transpose": "in_channels",
            "batchnorm": "num_features", "groupnorm": "num_channels"}
DECLARED_KEYS = ("in", "in_channels", "in_features", "num_features", "num_channels")


def _declared_size(kind: str, options: dict[str, Any], where: str) -> tuple[dict[str, Any], tuple[str, int] | None]:
    """Split a declared input size off the options: ``{"in": 400}`` on a linear is in_features=400.

    The walk checks it against what flows in; a mismatch is listed by the shape debugger
    (layer, declared, received, the fix) and makes ``arch`` exit 2.
    """
    given = [k for k in options if str(k).lower().replace("-", "_") in DECLARED_KEYS]
    if not given:
        return options, None
    prefix = "" if where == "layer" else f"{where}: "
    what = DECLARES.get(kind)
    key = given[0]
    word = str(key).lower().replace("-", "_")
    if what is None:
        raise InputError(f"{prefix}{kind} declares no input size ('{key}' applies to "
                         f"{', '.join(sorted(DECLARES))})")
    if len(given) > 1 or (word not in ("in", what) and not (what == "num_features" and word == "in_channels")):
        raise InputError(f"{prefix}{kind} declares its input size once, as 'in' or '{what}'; got {', '.join(given)}")
    value = options[key]
    if isinstance(value, str) and re.fullmatch(r"\d+", value.strip()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{prefix}{key} must be a whole number ≥ 1 (the {what} the layer expects); got {value!r}")
    check_digits(str(value), f"{prefix}{key}")
    return {k: v for k, v in options.items() if k != key}, (what, value)


# --- JSON spec files ------------------------------------------------------------------------

def load_spec_file(path: str) -> Network:
    """Read a JSON spec file; malformed JSON reports the line and column."""
    from convcalc.files import read_text

    return parse_spec_text(read_text(path, "spec file"), source=path)


def parse_spec_text(text: str, source: str = "<spec>") -> Network:
    return parse_spec(load_json(text, source), source)


def parse_spec(data: Any, source: str = "<spec>") -> Network:
    if not isinstance(data, dict):
        raise InputError(f"{source}: the top level must be an object with 'input' and 'layers'")
    allowed = {"name", "input", "layers", "description", "source", "$schema", "notes"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InputError(f"{source}: unknown top-level key(s) {', '.join(unknown)} (valid: "
                         f"{', '.join(sorted(allowed))})")
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
        raise InputError(f"{source}: {where} must be a layer object like {{\"type\": \"conv\", \"out\": 16, \"k\": 3}} "
                         "or a word like \"relu\"")
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


MAX_REPEATED_LAYERS = 10_000
"""The most layers one ``repeat`` expands to (times × the layers of one copy)."""


def _leaf_count(module: Module) -> int:
    if isinstance(module, Leaf):
        return 1
    if isinstance(module, Sequential):
        return sum(_leaf_count(child) for _, child in module.children)
    parts = [getattr(module, name) for name in ("body", "gate") if hasattr(module, name)]
    parts += [child for _, child in (getattr(module, "branches", ()) or ())]
    parts += [child for _, child in getattr(module, "post", ())]
    shortcut = getattr(module, "shortcut", None)
    if shortcut is not None:
        parts.append(shortcut[1])
    return sum(_leaf_count(part) for part in parts)


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
        # Modules are immutable: the copies, named 0..times−1 as nn.Sequential numbers its children,
        # share one parsed body. Every walk visits each copy, so the expansion is bounded.
        body = _sequence(layers, f"{where}.layers", source)
        expanded = times * max(1, _leaf_count(body))
        if expanded > MAX_REPEATED_LAYERS:
            raise InputError(f"{source}: {where}.times: {times:,} copies of {_leaf_count(body):,} layer(s) would make "
                             f"{expanded:,} layers; a repeat expands to at most {MAX_REPEATED_LAYERS:,}")
        single = body.children[0][1] if isinstance(layers, list) and len(layers) == 1 else body
        return build.seq(*((str(i), single) for i in range(times)))
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
        path = (f"{where}.branches.{branch_name}" if isinstance(branches, dict)
                else f"{where}.branches[{branch_name[6:]}]")
        if isinstance(branch, list):
            built.append((branch_name, _sequence(branch, path, source)))
        else:
            built.append((branch_name, _entry(branch, path, source)[1]))
    return build.parallel(*built, merge=merge, kind=block)


# --- inline chains --------------------------------------------------------------------------

def chain_help(width: int = 78) -> str:
    """The inline chain's syntax from the descriptors: a line for each type that explains
    itself, the plain ones packed together, then the activations."""
    lines = ["Inline chain: segments separated by '|'; the first may be the input shape (or use --in)."]
    plain: list[str] = []
    activations = []
    for descriptor in descriptors():
        if descriptor.build is None:
            continue
        syntax, *note = re.split(r"\s{2,}", descriptor.chain_help, maxsplit=1)
        if note:
            lines.append(f"  {syntax:<42} {note[0]}")
        elif syntax:
            plain.append(syntax)
        else:
            activations.append(descriptor.name)
    for group in (plain, activations):
        line = " "
        for word in group:
            if len(line) + len(word) + 3 > width:
                lines.append(line)
                line = " "
            line += f" {word}" if line == " " else f"   {word}"
        lines.append(line)
    return "\n".join(lines)


def looks_like_chain(text: str) -> bool:
    if "|" in text:
        return True
    first = text.strip().split()[0] if text.strip() else ""
    descriptor = lookup("spec", first) if first else None
    return descriptor is not None and descriptor.build is not None


def parse_chain(text: str, input_shape: tuple | None = None) -> Network:
    """An inline chain → a Network; errors say ``at token N 'segment': problem``."""
    segments = [s.strip() for s in text.split("|")]
    shape = input_shape
    children = []
    leaves: dict[str, Leaf] = {}  # a long chain repeats a few segments: each is read once (leaves are frozen)
    notes: list[str] = []
    for index, segment in enumerate(segments, start=1):
        if not segment:
            raise InputError(f"at token {index}: empty segment (two '|' in a row?)")
        words = segment.split()
        if index == 1 and (re.match(r"^[\d(\[]", words[0])
                           or (lookup("spec", words[0]) is None and re.fullmatch(r"\w+(x\w+)+", words[0]))):
            try:
                parsed, _ = parse_shape(segment, "input shape", allow_symbols=False)
            except InputError as error:
                raise InputError(f"at token 1 '{segment}': {error}") from None
            if shape is None:
                shape = parsed
            continue
        try:
            if segment not in leaves:
                leaves[segment] = _chain_leaf(words, notes)
            children.append(leaves[segment])
        except InputError as error:
            raise InputError(f"at token {index} '{segment}': {error}") from None
    if shape is None:
        raise InputError("the chain needs an input shape: start it with one (\"3x32x32 | conv 6 k5 | "
                         "...\") or give --in")
    if not children:
        raise InputError("the chain has no layers after the input shape")
    return Network("chain", tuple(shape), build.seq(*children), source="inline chain",
                   notes=tuple(dict.fromkeys(notes)))


def _chain_leaf(words: list[str], notes: list[str] | None = None) -> Leaf:
    """One chain segment → a Leaf. Words are read case-insensitively; a padding word in a spelling
    PyTorch refuses (``pSAME``) adds a note to ``notes``, as ``shape`` says it."""
    descriptor = lookup("spec", words[0])
    if descriptor is None or descriptor.build is None:
        make_leaf(words[0], {}, "layer")  # raises: unknown type, with suggestions
    assert descriptor is not None
    kind = descriptor.name
    options: dict[str, Any] = {}
    positional: list[str] = []
    flags = {o.flag[0]: (o.key, o.flag[1]) for o in descriptor.options if o.flag}
    bare = {word: o.key for o in descriptor.options for word in o.chain_words}
    prefixes = {o.chain: o for o in descriptor.options if o.chain}
    for word in words[1:]:
        low = word.lower()
        if "=" in low and low.split("=", 1)[0] in DECLARED_KEYS:  # in=400: the declared input size
            options[low.split("=", 1)[0]] = low.split("=", 1)[1]
        elif low in flags:
            key, value = flags[low]
            options[key] = value
        elif low in bare:
            options[bare[low]] = low
            _spelling(word, low, bare[low], descriptor, notes)
        elif re.match(r"^\d", word) or re.match(r"^0?\.\d", word):
            positional.append(word)
        elif prefix := next((p for p in sorted(prefixes, key=len, reverse=True)
                             if low.startswith(p) and len(low) > len(p)), ""):
            options[prefixes[prefix].key] = low[len(prefix):]
            if prefixes[prefix].kind == "pad":
                _spelling(word[len(prefix):], low[len(prefix):], prefixes[prefix].key, descriptor, notes)
        else:
            raise InputError(f"'{word}' is not an option of {kind} (see convcalc arch --help)")
    filled = next((o for o in descriptor.options if o.positional), None)
    if positional:
        if filled is None or len(positional) > 1:
            raise InputError(f"unexpected number '{positional[-1] if filled else positional[0]}' for {kind}")
        raw = positional[0]
        if filled.kind == "pad":
            options[filled.key] = raw
        else:
            options[filled.key] = float(raw) if filled.kind in ("prob", "float") else _chain_int(raw, filled.key)
    for option in descriptor.options:
        value = options.get(option.key)
        if isinstance(value, str) and option.kind in ("ints", "ints0"):
            options[option.key] = _chain_per_axis(value, option.key)
        elif isinstance(value, str) and option.kind == "count":
            options[option.key] = _chain_int(value, option.key)
        elif isinstance(value, str) and option.kind == "float" and option.chain:
            options[option.key] = float(_chain_per_axis(value, option.key))
        if option.chain_default is not None:
            options.setdefault(option.key, option.chain_default)
    return make_leaf(kind, options, "layer")


def _spelling(written: str, word: str, key: str, descriptor, notes: list[str] | None) -> None:
    note = torch_spelling_note(written, word, f"{descriptor.name} {key}")
    if note is not None and notes is not None:
        notes.append(note)


def _chain_int(raw: str, what: str) -> int:
    if not re.fullmatch(r"\d+", raw):
        raise InputError(f"{what} must be a whole number; got '{raw}'")
    check_digits(raw, what)
    return int(raw)


def _chain_per_axis(raw: Any, key: str):
    what = {"k": "kernel", "stride": "stride", "dilation": "dilation", "output_padding": "output padding"}.get(key, key)
    minimum = 0 if key == "output_padding" else 1
    try:
        values = parse_ints(raw, what, minimum=minimum)
    except InputError as error:
        text = str(error)
        if "must be at least" in text:
            raise InputError(f"{what} must be ≥ {minimum}") from None
        raise
    return values[0] if len(values) == 1 else values


def parse_spec_or_chain_text(text: str, source: str, input_shape: tuple | None = None) -> Network:
    """The text of a file or of standard input: a JSON spec (it starts with ``{``), else an
    inline chain written over one or more lines — a line break separates layers as ``|`` does,
    a ``|`` at the start or end of a line is the same break, blank lines and lines starting
    with ``#`` are skipped. So a chain too long for the command line (the system's argument
    limit is about 128 KiB) can come from a file or a pipe."""
    body = text.lstrip("\ufeff \t\r\n")
    if body.startswith("{") or source.endswith(".json"):
        return parse_spec_text(text, source=source)
    lines = []
    for line in body.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("|").removesuffix("|").strip()
        lines.append(line)
    chain = " | ".join(lines)
    if not chain:
        raise InputError(f"{source} is empty: give a JSON spec or a chain of layers (3x32x32 | conv 6 k5 | relu)")
    if not looks_like_chain(chain):
        first = lines[0] if len(lines[0]) <= 60 else lines[0][:57] + "..."
        raise InputError(f"{source} is neither a JSON spec (an object starting with {{) nor a chain of layers "
                         f"(3x32x32 | conv 6 k5 | relu, or one layer a line); it starts with '{first}'")
    try:
        return parse_chain(chain, input_shape)
    except InputError as error:
        raise InputError(f"{source}: {error}") from None
