"""One descriptor per layer type: every name it goes by, its options, its labels and hooks.

A layer type's math (shape rule, parameters, MACs, receptive field, forward, backward) is
its class in a module of :mod:`convcalc.layers`; its :class:`LayerDescriptor` sits in the
same module, right after the class, and says everything the front ends need around the math:

* its names — the canonical spec/chain type (``conv_transpose``), more words for spec files
  and inline chains (``convT``, ``deconv``), the ``convcalc shape --op`` name
  (``conv-transpose``), the backprop spec type (``conv_transpose2d``), the torch.nn classes
  (``ConvTranspose{rank}d``), ONNX operator types (``ConvTranspose``) and Keras layer classes
  (``Conv2DTranspose``);
* its options with their spec keys, how a value is read and how an inline chain writes it;
* its short label in narrow tables and what each entry of its "other work" counts as;
* the default tensor names a backprop trace gives its output and parameters.

Every front end — the ``shape`` options, the arch spec reader and the inline chain, the
backprop spec reader, the torch builder, the renderers, help texts and completions — reads
its tables from here (:func:`descriptors`, :func:`lookup`). Concerns that are not math and
need heavy imports (the torch module a layer stands for, a trace's explanation) are hooks
registered by class with :func:`register_hook` and found with :func:`find_hook`.

So that ``convcalc shape`` loads only the rules it uses, a generated index
(:mod:`convcalc.layers.index`, rewritten by ``python -m convcalc.layers.descriptor``) says
which module holds each word; a test checks that the index matches the descriptors.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import import_module
from typing import Any

#: The front ends that name layer types, and what each name is for.
FRONT_ENDS = ("spec", "cli", "trace", "torch", "onnx", "keras")

#: How a spec or chain value is read (the readers live with each front end).
VALUE_KINDS = ("ints", "ints0", "pad", "bool", "count", "prob", "size", "word", "int", "float", "pads")


@dataclass(frozen=True)
class Option:
    """One option of a layer type as spec files and inline chains write it.

    ``key`` is the spec key (``k``, ``stride``, ``ceil_mode``); ``aliases`` are more spec keys
    meaning the same (``kernel_size``); ``keyword`` the argument of the descriptor's ``build``
    it feeds (default: ``key``). In an inline chain, ``chain`` is the prefix of a token
    (``k3``, ``s2``), ``flag`` a bare word and the value it sets (``("ceil", True)``), and
    ``positional`` marks the option a bare number fills (``conv 64``); ``chain_default`` is
    the value a chain gives when the option is left out (``aap`` alone pools to 1);
    ``chain_words`` are bare words that set the option to themselves (``upsample bilinear``)."""

    key: str
    kind: str
    keyword: str = ""
    aliases: tuple[str, ...] = ()
    required: bool = False
    chain: str = ""
    flag: tuple[str, Any] | None = None
    positional: bool = False
    chain_default: Any = None
    chain_words: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in VALUE_KINDS:
            raise ValueError(f"option {self.key}: unknown value kind {self.kind!r}")
        if not self.keyword:
            object.__setattr__(self, "keyword", self.key)


@dataclass(frozen=True)
class LayerDescriptor:
    """Everything around one layer type's math; see the module docstring."""

    name: str
    summary: str
    classes: tuple[str, ...]
    build: Callable[..., Any] | None = None
    options: tuple[Option, ...] = ()
    aliases: tuple[str, ...] = ()
    chain_help: str = ""
    cli: str | None = None
    cli_aliases: tuple[str, ...] = ()
    cli_options: tuple[str, ...] = ()
    cli_build: Callable[..., Any] | None = None
    spatial: bool = True
    trace: str | None = None
    trace_aliases: tuple[str, ...] = ()
    trace_output: str = ""
    trace_params: Mapping[str, str] = field(default_factory=dict)
    torch: tuple[str, ...] = ()
    onnx: tuple[str, ...] = ()
    keras: tuple[str, ...] = ()  # Keras layer class names (a model config's class_name)
    label: tuple[str, str] | None = None  # (report op prefix, short label) for narrow tables
    work: Mapping[str, str] = field(default_factory=dict)
    home: str = ""

    def option(self, key: str) -> Option | None:
        """The option a spec key (or one of its aliases) names."""
        for opt in self.options:
            if key == opt.key or key in opt.aliases:
                return opt
        return None

    def words(self, front: str) -> tuple[str, ...]:
        """Every word this front end accepts for the type, normalised as it compares them."""
        raw: tuple[str, ...]
        if front == "spec":
            raw = ((self.name,) + self.aliases) if self.build is not None else ()
        elif front == "cli":
            raw = ((self.cli,) + self.cli_aliases) if self.cli else ()
        elif front == "trace":
            raw = ((self.trace,) + self.trace_aliases) if self.trace else ()
        elif front == "torch":
            raw = self.torch
        elif front == "onnx":
            raw = self.onnx
        elif front == "keras":
            raw = self.keras
        else:
            raise ValueError(f"unknown front end {front!r}")
        return tuple(dict.fromkeys(normalise(front, w) for w in raw))

    def category(self, work: str) -> str:
        """The ``--count`` category of one entry of this type's other work."""
        return self.work.get(work, self.work.get("*", "other"))


def normalise(front: str, word: str) -> str:
    """A word as a front end compares it: spec/chain ``conv-Transpose`` → ``conv_transpose``;
    the command line ignores case, ``-``, ``_`` and spaces; so do backprop specs, which also
    drop an ``nn.`` prefix; torch, ONNX and Keras names are exact (``Conv{rank}d`` stands for all ranks)."""
    text = str(word).strip()
    if front == "spec":
        return text.lower().replace("-", "_")
    if front == "cli":
        return re.sub(r"[\s_\-]", "", text.lower())
    if front == "trace":
        return re.sub(r"[\s_\-]", "", text.lower().removeprefix("nn."))
    return text


# --- the catalogue ------------------------------------------------------------------------------

def _index() -> Any:
    from convcalc.layers import index

    return index


def modules() -> tuple[str, ...]:
    """The modules of :mod:`convcalc.layers` that define layer types."""
    return tuple(_index().MODULES)


@cache  # one entry per layer module; a deep network asks once per layer
def _module_descriptors(module: str) -> tuple[LayerDescriptor, ...]:
    found = getattr(import_module(f"convcalc.layers.{module}"), "DESCRIPTORS", ())
    return tuple(found)


def descriptors() -> tuple[LayerDescriptor, ...]:
    """Every layer type's descriptor, in the order of the modules and their definitions.

    This imports every layer module; front ends that need one type use :func:`lookup`."""
    return tuple(d for module in modules() for d in _module_descriptors(module))


def lookup(front: str, word: str) -> LayerDescriptor | None:
    """The descriptor a front end's word names, importing only the module that defines it."""
    return _lookup_normalised(front, normalise(front, word))


@lru_cache(maxsize=1024)  # a long chain or spec names a few types many times; descriptors are frozen
def _lookup_normalised(front: str, key: str) -> LayerDescriptor | None:
    module = _index().WORDS.get(front, {}).get(key)
    if module is None:
        return None
    for descriptor in _module_descriptors(module):
        if key in descriptor.words(front):
            return descriptor
    return None


def by_name(name: str) -> LayerDescriptor:
    """The descriptor of a canonical type name (``conv``, ``pixel_shuffle``)."""
    for descriptor in descriptors():
        if descriptor.name == name:
            return descriptor
    raise KeyError(name)


def all_words(front: str) -> dict[str, LayerDescriptor]:
    """Every word a front end accepts, with its descriptor (imports every layer module)."""
    return {word: d for d in descriptors() for word in d.words(front)}


def of_layer(layer: Any) -> LayerDescriptor | None:
    """The descriptor of a layer object, by its class or the nearest base class that has one
    (an imported model may wrap a layer in a subclass of its own)."""
    for cls in type(layer).__mro__:
        package, _, module = cls.__module__.rpartition(".")
        if package != "convcalc.layers":
            continue
        candidates = _module_descriptors(module)
        for descriptor in candidates:
            if cls.__name__ in descriptor.classes:
                return _specialise(descriptor, layer, candidates)
    return None


def _specialise(descriptor: LayerDescriptor, layer: Any, candidates: tuple[LayerDescriptor, ...]) -> LayerDescriptor:
    """Types that share one class (the activations, adaptive avg/max pooling) tell themselves
    apart by the layer's ``type_name``."""
    type_name = getattr(layer, "type_name", None)
    if type_name is None:
        return descriptor
    for other in candidates:
        if other.name == type_name:
            return other
    return descriptor


# --- hooks: concerns that are not math, registered by class ---------------------------------------

_HOOKS: dict[str, dict[type, Callable[..., Any]]] = {}


def register_hook(concern: str, *classes: type) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``function`` as the ``concern`` (``"torch"``, ``"trace.forward"`` …) of ``classes``."""

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        table = _HOOKS.setdefault(concern, {})
        for cls in classes:
            table[cls] = function
        return function

    return decorate


def find_hook(concern: str, layer: Any) -> Callable[..., Any] | None:
    """The hook of ``concern`` for ``layer``'s class or its nearest base class."""
    table = _HOOKS.get(concern, {})
    for cls in type(layer).__mro__:
        if cls in table:
            return table[cls]
    return None


# --- the generated index ------------------------------------------------------------------------

#: The modules listed first keep the order in which messages and help have always listed the
#: types; any other module of the package that defines DESCRIPTORS follows, alphabetically.
_FIRST = ("conv", "pool", "separable", "dense", "norm", "elementwise", "resample", "channels")
_NOT_LAYERS = ("base", "descriptor", "index", "registry")


def layer_modules() -> tuple[str, ...]:
    """The modules of :mod:`convcalc.layers` that define DESCRIPTORS (found on disk)."""
    import pkgutil

    import convcalc.layers as package

    found = sorted(m.name for m in pkgutil.iter_modules(package.__path__) if m.name not in _NOT_LAYERS)
    ordered = [m for m in _FIRST if m in found] + [m for m in found if m not in _FIRST]
    return tuple(m for m in ordered if _module_descriptors(m))


def index_text() -> str:
    """The source of :mod:`convcalc.layers.index` as the descriptors define it."""
    words: dict[str, dict[str, str]] = {front: {} for front in FRONT_ENDS}
    found = layer_modules()
    for module in found:
        for descriptor in _module_descriptors(module):
            for front in FRONT_ENDS:
                for word in descriptor.words(front):
                    other = words[front].setdefault(word, module)
                    if other != module:
                        raise ValueError(f"{front} word {word!r} is defined in both {other} and {module}")
    lines = [
        '"""Which module of convcalc.layers defines each word a front end accepts.',
        "",
        "GENERATED from the layer descriptors by ``python -m convcalc.layers.descriptor``; do not edit.",
        '"""',
        "",
        f"MODULES = {found!r}",
        "",
        "WORDS: dict[str, dict[str, str]] = {",
    ]
    for front in FRONT_ENDS:
        lines.append(f"    {front!r}: {{")
        lines.extend(f"        {word!r}: {module!r}," for word, module in sorted(words[front].items()))
        lines.append("    },")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _main() -> None:  # pragma: no cover - a maintenance command
    from pathlib import Path

    target = Path(__file__).with_name("index.py")
    target.write_text(index_text(), encoding="utf-8")
    print(f"wrote {target}")



if __name__ == "__main__":  # pragma: no cover
    _main()


# --- options many types share (spec keys as PyTorch and the chain write them) ----------------------

OUT_ALIASES = ("out_channels", "out_features", "channels", "features")


def out_option(keyword: str = "out_channels", required: bool = True) -> Option:
    return Option("out", "count", keyword=keyword, aliases=OUT_ALIASES, required=required, positional=True)


KERNEL = Option("k", "ints", keyword="kernel_size", aliases=("kernel", "kernel_size"), required=True, chain="k")
STRIDE = Option("stride", "ints", aliases=("s",), chain="s")
PAD = Option("pad", "pad", keyword="padding", aliases=("p", "padding"), chain="p")
DILATION = Option("dilation", "ints", aliases=("d",), chain="d")
GROUPS = Option("groups", "count", aliases=("g",), chain="g")
BIAS = Option("bias", "bool", flag=("nobias", False))
CEIL_MODE = Option("ceil_mode", "bool", aliases=("ceil",), flag=("ceil", True))


def required(options: Mapping[str, Any], key: str, op: str) -> Any:
    """A ``convcalc shape`` option an op cannot do without."""
    if key not in options:
        example = {"k": "--k 3", "output-size": "--output-size 6x6"}[key]
        from convcalc.errors import InputError

        raise InputError(f"{op} needs --{key} (e.g. {example})")
    return options[key]
