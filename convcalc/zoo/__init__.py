"""The built-in zoo: well-known networks written with ``convcalc.network.build``.

Each family lives in its own module and registers its networks with :func:`register`;
modules are imported on first use, so ``convcalc shape`` never pays for them.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from dataclasses import dataclass

from convcalc.errors import InputError
from convcalc.network.model import Network

_FAMILIES = ("classic", "resnet", "squeezenet", "densenet", "inception", "mobile", "efficient", "regnet", "convnext")


@dataclass(frozen=True)
class ZooEntry:
    name: str
    build: Callable[[], Network]
    source: str  # "torchvision" or the paper / course it follows
    summary: str


_REGISTRY: dict[str, ZooEntry] = {}
_loaded = False


def register(name: str, source: str, summary: str) -> Callable[[Callable[[], Network]], Callable[[], Network]]:
    """Decorator: ``@register("resnet18", "torchvision", "ResNet-18 (He et al. 2016)")`` on a builder."""

    def wrap(build: Callable[[], Network]) -> Callable[[], Network]:
        if name in _REGISTRY:
            raise RuntimeError(f"zoo network {name!r} registered twice")
        _REGISTRY[name] = ZooEntry(name, build, source, summary)
        return build

    return wrap


def _load() -> None:
    global _loaded
    if not _loaded:
        for family in _FAMILIES:
            importlib.import_module(f"convcalc.zoo.{family}")
        _loaded = True


def canonical(name: str) -> str:
    return name.strip().lower().replace("-", "_")


def entries() -> list[ZooEntry]:
    _load()
    return list(_REGISTRY.values())


def names() -> list[str]:
    return [e.name for e in entries()]


def has(name: str) -> bool:
    _load()
    return canonical(name) in _REGISTRY


def get(name: str) -> Network:
    """The zoo network ``name`` (``-`` and ``_`` interchangeable); unknown names suggest close ones."""
    _load()
    key = canonical(name)
    if key not in _REGISTRY:
        close = difflib.get_close_matches(key, list(_REGISTRY), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise InputError(f"unknown network '{name}'{hint} (convcalc arch --list shows all)")
    return _REGISTRY[key].build()
