"""BLAS threads chosen by the size of each matrix product.

OpenBLAS splits every product over all its threads. On a small product the threads spend more
time waking and waiting than multiplying, and on a busy machine a waiting thread loses its core:
a training run of small convolutions took 6.7 s with two threads and 1.4 s with one. So products
below :data:`SMALL_PRODUCT` multiply-adds run on one thread, larger ones on the library's
default. The count is set only when the size class changes (setting it costs ~10 µs).

Needs ``threadpoolctl`` (``pip install convcalc[fast]``); without it, or when the library's
default is already one thread, nothing changes.
"""

from __future__ import annotations

from typing import Any

#: m·k·n below which one thread is faster than several (measured on 2 cores, float32).
SMALL_PRODUCT = 1 << 23


class _Threads:
    """The BLAS library's thread setting (process-wide by nature: the library has one)."""

    def __init__(self) -> None:
        self.library: Any = None
        self.default = 1
        self.current: int | None = None
        self.looked = False

    def _look(self) -> None:
        self.looked = True
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            return
        blas = ThreadpoolController().select(user_api="blas").lib_controllers
        if len(blas) == 1:  # one BLAS under NumPy: the one the products run on
            self.library = blas[0]
            self.default = self.current = self.library.num_threads

    def for_product(self, multiply_adds: int) -> None:
        if not self.looked:
            self._look()
        if self.library is None or self.default <= 1:
            return
        wanted = 1 if multiply_adds < SMALL_PRODUCT else self.default
        if wanted != self.current:
            self.library.set_num_threads(wanted)
            self.current = wanted


_THREADS = _Threads()


def for_product(m: int, k: int, n: int, groups: int = 1) -> None:
    """Set the BLAS threads for ``groups`` products of (m × k) @ (k × n)."""
    _THREADS.for_product(groups * m * k * n)


def kernel() -> dict[str, Any]:
    """Which BLAS runs and how (for benchmarks): library, kernel architecture, threads."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return {"library": "unknown (pip install threadpoolctl)"}
    for info in threadpool_info():
        if info.get("user_api") == "blas":
            return {"library": info.get("internal_api"), "version": info.get("version"),
                    "architecture": info.get("architecture"), "threads": info.get("num_threads")}
    return {"library": "none found"}
