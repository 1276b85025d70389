"""BLAS threads chosen by the size of each matrix product, and large products split over a
small pool of Python threads that each call BLAS on one thread.

OpenBLAS splits every product over all its threads, and its threads wait for each other by
spinning. On a small product the threads spend more time waking and waiting than multiplying,
and on a busy machine a waiting thread loses its core: a training run of small convolutions
took 6.7 s with two threads and 1.4 s with one, and the row-shift forward of a 64→64 3x3 conv
on 8x64x56x56 took 220–400 ms with two OpenBLAS threads against 42–60 ms split image by image
over two Python threads (2 cores shared with other work). So:

* products below :data:`SMALL_PRODUCT` multiply-adds run on one BLAS thread, larger ones on the
  library's default (:func:`for_product`; the count is set only when the size class changes,
  setting it costs ~10 µs) — unless the layer's batch has an image per thread: a batch that
  large shares its products over the helpers below, and runs any product it does not cut on
  one BLAS thread, so that OpenBLAS's own workers never wake and spin beside the helpers;
* :func:`parallel` runs independent pieces of a large job (the images of a row-shift
  convolution, blocks of columns or rows of a batch's product, blocks of groups) on ``default``
  threads — the caller and ``default − 1`` helpers — with BLAS on one thread each: a thread
  that loses its core delays only the piece it is on, the others take the rest. A layer whose
  batch has fewer images than threads leaves its one large product to the library's own
  threads instead (faster there; :func:`convcalc.compute.windows.grouped_matmul`). Each piece
  computes exactly what it would compute alone (no sum is split), so the results do not depend
  on how the pieces were shared out (they can differ in the last bit from one unsplit product,
  as OpenBLAS's own results do between thread counts); work below :data:`SMALL_PRODUCT` is
  never split (:func:`shares`).

Needs ``threadpoolctl`` (``pip install convcalc[fast]``); without it, or when the library's
default is already one thread, nothing changes and :func:`parallel` runs the pieces in order.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable
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
        self.pool: Any = None
        self.busy = threading.Lock()  # held while a parallel() runs: the count stays 1 meanwhile

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

    def set(self, wanted: int) -> None:
        if wanted != self.current:
            self.library.set_num_threads(wanted)
            self.current = wanted

    def for_product(self, multiply_adds: int, images: int) -> None:
        if not self.looked:
            self._look()
        if self.library is None or self.default <= 1 or self.busy.locked():
            return
        self.set(1 if multiply_adds < SMALL_PRODUCT or images >= self.default else self.default)

    def workers(self) -> int:
        if not self.looked:
            self._look()
        return self.default if self.library is not None else 1

    def shares(self, multiply_adds: int) -> bool:
        return self.workers() > 1 and multiply_adds >= SMALL_PRODUCT and not self.busy.locked()

    def parallel(self, task: Callable[[int], None], count: int, large: bool) -> None:
        workers = self.workers()
        if workers <= 1 or count <= 1 or not large or not self.busy.acquire(blocking=False):
            # small work, one thread, one piece, or already inside a parallel(): in order, here,
            # with the BLAS threads as they are (as the loop ran before it was shared)
            for i in range(count):
                task(i)
            return
        try:
            self.set(1)
            self._share(task, count, workers)
        finally:
            self.busy.release()

    def _share(self, task: Callable[[int], None], count: int, workers: int) -> None:
        """The caller and ``workers − 1`` pool threads take pieces in turn from one counter
        (``next`` on an ``itertools.count`` is atomic): the caller works instead of waiting, and
        a thread that loses its core holds up only the piece it is on."""
        from concurrent.futures import ThreadPoolExecutor, wait

        counter = itertools.count()

        def take() -> None:
            for i in counter:
                if i >= count:
                    return
                task(i)

        if self.pool is None:
            self.pool = ThreadPoolExecutor(workers - 1, thread_name_prefix="convcalc-blas")
        helpers = [self.pool.submit(take) for _ in range(workers - 1)]
        try:
            take()
        finally:
            wait(helpers)  # every piece is done before the caller reads the results
        for helper in helpers:
            helper.result()  # re-raises a piece's exception here


_THREADS = _Threads()


def _forget_threads_in_child() -> None:
    """A forked child has none of its parent's pool threads (and may inherit a held lock): it
    starts a pool of its own when it first shares work out."""
    _THREADS.pool = None
    _THREADS.busy = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_threads_in_child)


def for_product(m: int, k: int, n: int, groups: int = 1, images: int = 1) -> None:
    """Set the BLAS threads for ``groups`` products of (m × k) @ (k × n) in a layer whose batch
    has ``images`` images: one thread for a small product, and for any product of a batch with
    an image per thread of :func:`workers` — such a batch shares its large products over
    :func:`parallel`'s threads, and OpenBLAS's own threads, once woken, spin for a while after
    the product and take a core from them (one train step of the course's CIFAR CNN at batch
    32: 326–330 ms with its two Linear layers' products on the library's threads, whose worker
    then spent 160 ms of CPU per step spinning, against 279–283 ms with them on one thread);
    else the library's default."""
    _THREADS.for_product(groups * m * k * n, images)


def workers() -> int:
    """How many threads :func:`parallel` shares pieces over (the BLAS library's default; 1
    without threadpoolctl)."""
    return _THREADS.workers()


def shares(multiply_adds: int) -> bool:
    """Whether :func:`parallel` would share work of this size over threads (else a caller does
    the product in one piece, as it would without threads: OpenBLAS's result for a block of
    columns can differ in the last bit from the same columns of the whole product)."""
    return _THREADS.shares(multiply_adds)


def parallel(task: Callable[[int], None], count: int, multiply_adds: int) -> None:
    """Run ``task(0)``, …, ``task(count − 1)``, pieces of ``multiply_adds`` in all: on
    :func:`workers` threads with BLAS on one thread each when the work is at least
    :data:`SMALL_PRODUCT` and there are several pieces and threads, else in order on this
    thread. The pieces must write disjoint outputs; a piece's exception is raised here."""
    _THREADS.parallel(task, count, multiply_adds >= SMALL_PRODUCT)


#: Entries (of the largest array read or written) from which memory-bound work — a copy, an
#: elementwise pass — of a batch with an image per thread is shared out by :func:`share_blocks`:
#: im2col of 32x256x10x10 for 3x3 windows (4.7 M entries) 4.6 ms on one thread, 2.4 on two.
SHARED_ENTRIES = 1 << 19


def share_blocks(task: Callable[[int, int], None], size: int, entries: int, images: int) -> None:
    """Run ``task(start, stop)`` over [start, stop) blocks covering ``range(size)`` (an axis the
    task cuts its arrays along): on :func:`parallel`'s threads when the layer's batch has an
    image per thread of :func:`workers` — the batch whose products are shared out too — and the
    work touches at least :data:`SHARED_ENTRIES` entries; else ``task(0, size)`` here. The
    blocks must write disjoint outputs; each entry is computed as it would be in one piece."""
    workers = _THREADS.workers()
    if workers <= 1 or images < workers or entries < SHARED_ENTRIES or size < 2:
        task(0, size)
        return
    cuts = blocks(size, 2 * workers)
    _THREADS.parallel(lambda i: task(*cuts[i]), len(cuts), True)


def blocks(size: int, pieces: int, minimum: int = 1) -> list[tuple[int, int]]:
    """[start, stop) ranges cutting ``size`` into at most ``pieces`` nearly equal blocks of at
    least ``minimum`` (fewer blocks when ``size`` is small)."""
    count = max(1, min(pieces, size // max(minimum, 1)))
    step, extra = divmod(size, count)
    out, start = [], 0
    for i in range(count):
        stop = start + step + (1 if i < extra else 0)
        out.append((start, stop))
        start = stop
    return out


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
