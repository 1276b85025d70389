"""The built-in zoo: well-known networks written with ``convcalc.network.build``.

Each family lives in its own module and registers its networks with :func:`register`;
modules are imported on first use, so ``convcalc shape`` never pays for them.

A builder may take keyword options — ``classes`` (the classifier's width), ``aux`` (the
auxiliary classifiers of GoogLeNet and Inception v3), ``width`` (a MobileNet's width
multiplier), ``padding`` ("tf": TensorFlow's SAME padding, for TF-slim's MobileNet V1) — with
the network's published default as the default value; :func:`get` passes the ones asked for
and refuses the ones a builder does not take.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from convcalc.errors import InputError

if TYPE_CHECKING:  # arch --list and --search read the generated index and build no network
    from convcalc.network.model import Network

_FAMILIES = ("classic", "resnet", "squeezenet", "densenet", "inception", "mobile", "efficient", "regnet", "convnext",
             "transformer", "swin", "maxvit", "slim", "keras", "keras_efficient", "keras_mobilenetv3",
             "keras_convnext")

#: The heading each family module's networks are listed under (``arch --list``).
FAMILY_TITLES = {
    "classic": "Classic CNNs (LeNet, AlexNet, ZF Net, NiN, VGG)",
    "resnet": "ResNets (ResNet, ResNeXt, Wide ResNet, SE-ResNet, CIFAR ResNets)",
    "squeezenet": "SqueezeNet",
    "densenet": "DenseNet",
    "inception": "Inception (GoogLeNet, Inception v3)",
    "mobile": "Mobile networks (MobileNet V1-V3, ShuffleNet V2, MNASNet)",
    "efficient": "EfficientNet (B0-B7, V2)",
    "regnet": "RegNet (X and Y)",
    "convnext": "ConvNeXt",
    "transformer": "Vision Transformers (ViT)",
    "swin": "Swin Transformers (V1, V2)",
    "maxvit": "MaxViT",
    "slim": "TF-slim variants (ResNet v1)",
    "keras": "Keras applications (keras.*: Keras's layers and names)",
    "keras_efficient": "Keras applications: EfficientNet (B0-B7, V2)",
    "keras_mobilenetv3": "Keras applications: MobileNetV3",
    "keras_convnext": "Keras applications: ConvNeXt",
}

@dataclass(frozen=True)
class ZooEntry:
    name: str
    build: Callable[..., Network]
    source: str  # "torchvision" or the paper / course it follows
    summary: str
    family: str = ""  # the module that registers it ("resnet", "mobile", ...)

    @property
    def options(self) -> tuple[str, ...]:
        """The keyword options the builder takes (``classes``, ``aux``, ``width``)."""
        return tuple(name for name, p in inspect.signature(self.build).parameters.items()
                     if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is not p.empty)


@dataclass(frozen=True)
class Listing:
    """What ``arch --list`` and ``--search`` show of a network, read from the generated index
    (no family module imported): its name, source, summary, family and builder options."""

    name: str
    source: str
    summary: str
    family: str
    options: tuple[str, ...]


_REGISTRY: dict[str, ZooEntry] = {}
_loaded = False


def register(name: str, source: str, summary: str,
             family: str | None = None) -> Callable[[Callable[..., Network]], Callable[..., Network]]:
    """Decorator: ``@register("resnet18", "torchvision", "ResNet-18 (He et al. 2016)")`` on a builder.

    The family is the registering module's name; a module that extends a family from a file of
    its own (``keras_inception`` for ``keras``) names it, and the family's module imports it."""

    def wrap(build: Callable[..., Network]) -> Callable[..., Network]:
        if name in _REGISTRY:
            raise RuntimeError(f"zoo network {name!r} registered twice")
        _REGISTRY[name] = ZooEntry(name, build, source, summary, family or build.__module__.rpartition(".")[2])
        return build

    return wrap


def _load() -> None:
    global _loaded
    if not _loaded:
        for family in _FAMILIES:
            importlib.import_module(f"convcalc.zoo.{family}")
        _loaded = True


def _load_for(key: str) -> None:
    """Import only the family that registers ``key`` (the generated :mod:`convcalc.zoo.index`
    says which), so ``arch vit_h_14`` does not import the other eleven; anything else: all."""
    from convcalc.zoo.index import INDEX

    family = INDEX[key][0] if key in INDEX else None
    if family is None or _loaded:
        _load()
    else:
        importlib.import_module(f"convcalc.zoo.{family}")
        if key not in _REGISTRY:  # a stale index: fall back to every family
            _load()


def index_text() -> str:
    """The source of :mod:`convcalc.zoo.index` as the families register their networks."""
    _load()
    lines = ['"""Every zoo network: (family module, source, summary, builder options), for ``arch --list``,',
             "``--search`` and loading one family only.", "",
             "GENERATED by ``python -m convcalc.zoo``; do not edit (a test checks it).", '"""', "",
             "INDEX: dict[str, tuple[str, str, str, tuple[str, ...]]] = {"]
    # family by family (the registry's own order depends on which family was imported first)
    ordered = [e for family in _FAMILIES for e in _REGISTRY.values() if e.family == family]
    lines += [f"    {e.name!r}: ({e.family!r}, {e.source!r}, {e.summary!r}, {e.options!r})," for e in ordered]
    return "\n".join(lines + ["}"]) + "\n"


def listing() -> list[Listing]:
    """Every network as the generated index lists it, in registration order."""
    from convcalc.zoo.index import INDEX

    return [Listing(name, source, summary, family, options) for name,
            (family, source, summary, options) in INDEX.items()]


def canonical(name: str) -> str:
    """A name as the zoo compares names: case and ``-``/``_`` ignored; a Keras application as its
    module or class spells it (``keras.inception_resnet_v2``, ``keras.InceptionResNetV2``) is the
    entry named after the class, lowercased (``keras.inceptionresnetv2``)."""
    key = name.strip().lower().replace("-", "_")
    if key.startswith("keras.") and "_" in key:
        from convcalc.zoo.index import INDEX

        joined = key.replace("_", "")
        if key not in INDEX and joined in INDEX:
            return joined
    return key


def entries() -> list[ZooEntry]:
    """Every registered network, family by family."""
    _load()
    order = {family: i for i, family in enumerate(_FAMILIES)}
    return sorted(_REGISTRY.values(), key=lambda e: order.get(e.family, len(order)))


def names() -> list[str]:
    return [e.name for e in entries()]


def has(name: str) -> bool:
    key = canonical(name)
    _load_for(key)
    return key in _REGISTRY


def grouped(found: list[Listing] | None = None) -> list[tuple[str, list[Listing]]]:
    """``found`` (default: every network) grouped by family, in the families' order: (title, entries)."""
    found = listing() if found is None else found
    groups: dict[str, list[Listing]] = {}
    for entry in found:
        groups.setdefault(entry.family, []).append(entry)
    order = {family: i for i, family in enumerate(_FAMILIES)}
    return [(FAMILY_TITLES.get(family, family), groups[family])
            for family in sorted(groups, key=lambda f: order.get(f, len(order)))]


def search(term: str) -> list[Listing]:
    """The entries whose name (``-``/``_`` ignored), summary or source contain ``term``, case-insensitive."""
    key = canonical(term)
    if not key:
        raise InputError("--search needs a word (e.g. --search vit)")
    plain = key.replace("_", "")
    found = []
    for e in listing():
        text = f"{e.summary} {e.source}".lower()
        if key in e.name or plain in e.name.replace("_", "") or term.strip().lower() in text:
            found.append(e)
    return found


def suggestions(name: str, n: int = 5) -> list[str]:
    """Close names for an unknown ``name``: names that contain it (``vit`` → ``vit_b_16``…), then
    spelling neighbours (``resnet5`` → ``resnet50``)."""
    from convcalc.zoo.index import INDEX

    key = canonical(name)
    contained = [n_ for n_ in INDEX if key and key in n_] if len(key) >= 3 else []
    close = difflib.get_close_matches(key, list(INDEX), n=n, cutoff=0.6)
    return list(dict.fromkeys(contained[:n] + close))[:n]


def get(name: str, **options: Any) -> Network:
    """The zoo network ``name`` (``-`` and ``_`` interchangeable); unknown names suggest close ones.

    ``options`` (``classes=10``, ``aux=True``, ``width=0.75``) go to the builder; None means
    the default, an option the builder does not take is refused."""
    key = canonical(name)
    _load_for(key)
    if key not in _REGISTRY:
        close = suggestions(name)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise InputError(f"unknown network '{name}'{hint} (convcalc arch --list shows all, --search WORD finds some)")
    entry = _REGISTRY[key]
    given = {k: v for k, v in options.items() if v is not None and v is not False}
    return entry.build(**check_options(entry, given)) if given else entry.build()


def check_options(entry: ZooEntry, given: Mapping[str, Any]) -> dict[str, Any]:
    """``given`` if the builder of ``entry`` takes every option in it; else one clear error."""
    takes = entry.options
    for option, value in given.items():
        if option not in takes:
            others = [e.name for e in entries() if option in e.options]
            where = (f"only {', '.join(others)} {'takes' if len(others) == 1 else 'take'} it" if len(others) <= 6 else
                     f"{len(others)} networks take it (convcalc arch --list --json lists each network's options)")
            raise InputError(f"{entry.name} has no --{option} option; {where}")
        if option == "classes" and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise InputError(f"--classes must be a whole number ≥ 1; got {value!r}")
        if option == "padding" and value not in ("torch", "tf"):
            raise InputError(f"--padding must be torch (PyTorch's symmetric padding) or tf (TensorFlow's SAME); "
                             f"got {value!r}")
        if option == "width" and not (isinstance(value, int | float) and 0 < value <= 8):
            raise InputError(f"--width must be a multiplier between 0 and 8 (e.g. 0.75); got {value!r}")
    return dict(given)
