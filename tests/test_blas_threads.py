"""Large products shared over threads (``compute.blas_threads``) give the same numbers as one
product: the pieces never split a sum, so the kernels' results do not depend on the threads."""

from __future__ import annotations

import itertools
import os
import threading
import time

import numpy as np
import pytest

from convcalc.compute import blas_threads, conv_kernels, windows


@pytest.mark.parametrize("size, pieces, minimum", [(10, 3, 1), (3, 8, 1), (1000, 8, 256), (100, 8, 256), (0, 4, 1)])
def test_blocks_cover_the_range_in_order(size, pieces, minimum):
    cuts = blas_threads.blocks(size, pieces, minimum)
    assert cuts[0][0] == 0 and cuts[-1][1] == size
    assert all(a[1] == b[0] for a, b in itertools.pairwise(cuts))
    assert len(cuts) <= max(1, pieces)
    if len(cuts) > 1:
        assert min(stop - start for start, stop in cuts) >= minimum
        assert max(stop - start for start, stop in cuts) - min(stop - start for start, stop in cuts) <= 1


def test_parallel_runs_every_piece_once_and_raises_a_pieces_error():
    seen = []
    lock = threading.Lock()

    def task(i):
        with lock:
            seen.append(i)

    blas_threads.parallel(task, 37, blas_threads.SMALL_PRODUCT * 10)
    assert sorted(seen) == list(range(37))

    def failing(i):
        if i == 5:
            raise ValueError("piece 5")

    with pytest.raises(ValueError, match="piece 5"):
        blas_threads.parallel(failing, 9, blas_threads.SMALL_PRODUCT * 10)


def test_nested_parallel_runs_in_order_inside():
    inner = []

    def outer(i):
        blas_threads.parallel(lambda j: inner.append((i, j)), 3, blas_threads.SMALL_PRODUCT * 10)

    blas_threads.parallel(outer, 2, blas_threads.SMALL_PRODUCT * 10)
    assert sorted(inner) == [(i, j) for i in range(2) for j in range(3)]


def _serial(monkeypatch):
    """blas_threads.parallel as a plain loop on this thread, BLAS on one thread (as each piece runs)."""
    def loop(task, count, multiply_adds):
        blas_threads.for_product(1, 1, 1)  # a tiny product: one BLAS thread
        for i in range(count):
            task(i)
    monkeypatch.setattr(blas_threads, "parallel", loop)


@pytest.mark.parametrize("images", [1, 64])  # one image: BLAS's own threads; a batch: blocks shared out
@pytest.mark.parametrize("groups, m, k, n", [(1, 64, 288, 4096), (4, 16, 72, 4096), (1, 48, 600, 3000)])
def test_grouped_products_equal_their_serial_form(monkeypatch, groups, m, k, n, images):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((groups * m, k)).astype(np.float32)
    b = rng.standard_normal((groups * k, n)).astype(np.float32)
    at = rng.standard_normal((groups * k, m)).astype(np.float32)
    dy = rng.standard_normal((groups * m, n)).astype(np.float32)

    def products():
        return (windows.grouped_matmul(a, b, groups, images=images),
                windows.grouped_matmul(at, b, groups, transpose_a=True, images=images),
                windows.grouped_contract(dy, b, groups, images=images))

    shared = products()
    _serial(monkeypatch)
    alone = products()
    for x, y in zip(shared, alone):
        assert x.shape == y.shape and np.array_equal(x, y)
    reference = np.concatenate([a[j * m:(j + 1) * m] @ b[j * k:(j + 1) * k] for j in range(groups)])
    np.testing.assert_allclose(shared[0], reference, rtol=1e-4, atol=1e-3)


def test_row_shift_conv_equals_its_serial_form(monkeypatch):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 48, 30, 30)).astype(np.float32)
    w = (rng.standard_normal((32, 48, 3, 3)) * 0.1).astype(np.float32)
    b = rng.standard_normal(32).astype(np.float32)
    geometry = {"kernel_size": (3, 3), "stride": (1, 1), "dilation": (1, 1), "pads": ((1, 1), (1, 1)),
                "padding_mode": "zeros", "groups": 1, "out_spatial": (30, 30)}
    g = rng.standard_normal((4, 32, 30, 30)).astype(np.float32)

    def both():
        y, cache = conv_kernels.conv_forward(x, w, b, **geometry)
        assert isinstance(cache, conv_kernels.RowShiftConvCache)
        dx, grads = conv_kernels.conv_backward(g, cache, kernel_size=(3, 3), stride=(1, 1), dilation=(1, 1),
                                               padding_mode="zeros")
        return y, dx, grads["weight"], grads["bias"]

    shared = both()
    _serial(monkeypatch)
    for x_, y_ in zip(shared, both()):
        assert np.array_equal(x_, y_)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_shares_work_with_its_own_helpers():
    """The helpers are threads of the parent: a child forked after they started gets a fresh
    pool (else its first shared job would wait forever for threads that do not exist)."""
    done = []
    blas_threads.parallel(done.append, 4, blas_threads.SMALL_PRODUCT * 10)  # the parent's pool, if any
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only if the shared job finishes
        seen = []
        lock = threading.Lock()

        def task(i):
            with lock:
                seen.append(i)

        try:
            blas_threads.parallel(task, 8, blas_threads.SMALL_PRODUCT * 10)
            os._exit(0 if sorted(seen) == list(range(8)) else 1)
        except BaseException:
            os._exit(1)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        finished, status = os.waitpid(pid, os.WNOHANG)
        if finished:
            assert os.waitstatus_to_exitcode(status) == 0
            return
        time.sleep(0.05)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    pytest.fail("the forked child's shared job did not finish in 60 s")


class _CountingLibrary:
    """A stand-in for the BLAS controller: records the thread counts it is set to."""

    def __init__(self) -> None:
        self.num_threads = 2
        self.settings: list[int] = []

    def set_num_threads(self, n: int) -> None:
        self.settings.append(n)
        self.num_threads = n


def _counting(monkeypatch) -> _CountingLibrary:
    library = _CountingLibrary()
    for name, value in (("library", library), ("default", 2), ("current", 2), ("looked", True)):
        monkeypatch.setattr(blas_threads._THREADS, name, value)
    return library


def test_a_batch_with_an_image_per_thread_never_wakes_the_librarys_threads(monkeypatch):
    """Small products run on one BLAS thread; a large one on the library's threads only when the
    batch has fewer images than threads (a larger batch shares its products over the helpers,
    and OpenBLAS's workers, once woken, spin beside them)."""
    library = _counting(monkeypatch)
    large = blas_threads.SMALL_PRODUCT
    blas_threads.for_product(large, 1, 1, images=1)
    assert blas_threads._THREADS.current == 2 and library.settings == []
    blas_threads.for_product(large, 1, 1, images=2)
    assert library.settings == [1]
    blas_threads.for_product(large, 1, 1, images=1)
    blas_threads.for_product(1, 1, 1, images=1)
    blas_threads.for_product(large, 1, 1, images=64)
    assert library.settings == [1, 2, 1]  # set only when the count changes


@pytest.mark.parametrize("batch, features", [(1, 4096), (32, 1024)])
def test_linear_layers_take_the_batchs_threading_scheme(monkeypatch, batch, features):
    """A Linear layer's three products at batch 32 never ask for the library's threads, and give
    the numbers of the plain products; at batch 1 a large product runs on the library's threads."""
    from convcalc.layers.dense import Linear

    library = _counting(monkeypatch)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((batch, 4096)).astype(np.float32)
    params = {"weight": rng.standard_normal((features, 4096)).astype(np.float32) * 0.01,
              "bias": rng.standard_normal(features).astype(np.float32)}
    layer = Linear(out_features=features)
    forward = layer.forward(x, params)
    dy = rng.standard_normal(forward.output.shape).astype(np.float32)
    backward = layer.backward(dy, forward.cache)
    if batch >= 2:
        assert 2 not in library.settings
    else:
        assert library.settings == [] and blas_threads._THREADS.current == 2
    np.testing.assert_allclose(forward.output, x @ params["weight"].T + params["bias"], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(backward.grad_input, dy @ params["weight"], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(backward.grads["weight"], dy.T @ x, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(backward.grads["bias"], dy.sum(axis=0), rtol=1e-5, atol=1e-5)


def test_share_blocks_covers_the_axis_once_and_only_for_a_batch_with_an_image_per_thread(monkeypatch):
    _counting(monkeypatch)  # two threads, whatever this machine's BLAS has
    monkeypatch.setattr(blas_threads, "SHARED_ENTRIES", 10)
    seen: list[tuple[int, int]] = []
    lock = threading.Lock()

    def task(start, stop):
        with lock:
            seen.append((start, stop))

    blas_threads.share_blocks(task, 37, 10, images=2)
    assert sorted(i for start, stop in seen for i in range(start, stop)) == list(range(37))
    assert len(seen) > 1
    for images, entries in ((1, 10), (64, 9)):  # one image, or too little work: one piece, here
        seen.clear()
        blas_threads.share_blocks(task, 37, entries, images=images)
        assert seen == [(0, 37)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_shared_memory_bound_passes_equal_one_piece_bit_for_bit(monkeypatch, dtype):
    """im2col's copy and max pooling's maxima, winners and backward, shared over threads by
    blocks (of channels, of images), give every byte of the one-piece computation."""
    from convcalc.layers.pool import MaxPool

    _counting(monkeypatch)  # two threads, whatever this machine's BLAS has
    rng = np.random.default_rng(4)
    x = rng.standard_normal((6, 5, 17, 17)).astype(dtype)
    x[rng.random(x.shape) < 0.2] = 0.5  # ties
    pools = (MaxPool(rank=2, kernel_size=(2, 2), stride=(2, 2)),
             MaxPool(rank=2, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), ceil_mode=True))
    grads = [rng.standard_normal(pool.forward(x, {}).output.shape).astype(dtype) for pool in pools]

    def passes():
        out = [windows.im2col(windows.pad(x, ((1, 1), (1, 1))), (3, 3), (1, 1), (1, 1), (17, 17), layout="gemm",
                              images=6)]
        for pool, grad in zip(pools, grads):
            forward = pool.forward(x, {})
            out += [forward.output, forward.cache.winning_taps, pool.backward(grad, forward.cache).grad_input]
        return out

    monkeypatch.setattr(blas_threads, "SHARED_ENTRIES", 1 << 40)
    alone = passes()
    monkeypatch.setattr(blas_threads, "SHARED_ENTRIES", 0)
    shared = passes()
    assert all(a.tobytes() == b.tobytes() for a, b in zip(alone, shared))


@pytest.mark.parametrize("shape, dtype, gamma_dtype", [
    ((6, 5, 9, 9), np.float32, np.float32), ((4, 1, 30), np.float64, np.float64), ((3, 7, 4, 5, 6), np.float32, None),
    ((8, 16, 12, 12), np.float32, np.float64),
])
def test_shared_batch_norm_equals_one_piece_bit_for_bit(monkeypatch, shape, dtype, gamma_dtype):
    """Batch norm's training forward and backward, shared over threads by blocks of channels,
    give every byte (and dtype) of the one-piece computation: each statistic is one channel's."""
    from convcalc.compute import norm_kernels

    _counting(monkeypatch)  # two threads, whatever this machine's BLAS has
    rng = np.random.default_rng(5)
    x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    c = shape[1]
    gamma = None if gamma_dtype is None else rng.standard_normal(c).astype(gamma_dtype)
    beta = None if gamma_dtype is None else rng.standard_normal(c).astype(gamma_dtype)
    running = {"running_mean": np.zeros(c, dtype), "running_var": np.ones(c, dtype),
               "num_batches_tracked": np.array(0, np.int64)}

    def both():
        y, cache, updated = norm_kernels.batch_norm_forward(x, gamma, beta, running, training=True, eps=1e-5,
                                                            momentum=0.1, unbiased=False)
        dx, grads = norm_kernels.batch_norm_backward(dy, cache, gamma is not None)
        return [y, cache[0], cache[1], dx, *grads.values(), *(v for k, v in updated.items())]

    monkeypatch.setattr(blas_threads, "SHARED_ENTRIES", 1 << 40)
    alone = both()
    monkeypatch.setattr(blas_threads, "SHARED_ENTRIES", 0)
    shared = both()
    assert len(alone) == len(shared)
    for a, b in zip(alone, shared):
        a, b = np.asarray(a), np.asarray(b)
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def test_row_shift_bias_added_per_image_is_add_bias_afterwards():
    """The row-shift forward adds the bias inside each image's job; every byte must be the
    sum's plus the bias added afterwards, as add_bias does it."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((4, 48, 12, 12)).astype(np.float32)
    w = (rng.standard_normal((16, 48, 3, 3)) * 0.1).astype(np.float32)
    b = rng.standard_normal(16).astype(np.float32)
    geometry = {"kernel_size": (3, 3), "stride": (1, 1), "dilation": (1, 1), "pads": ((1, 1), (1, 1)),
                "padding_mode": "zeros", "groups": 1, "out_spatial": (12, 12)}
    y, cache = conv_kernels.conv_forward(x, w, b, **geometry)
    assert isinstance(cache, conv_kernels.RowShiftConvCache)
    unbiased, _ = conv_kernels.conv_forward(x, w, None, **geometry)
    assert y.tobytes() == conv_kernels.add_bias(unbiased.copy(), b, 2).tobytes()  # (in place)
    wide, _ = conv_kernels.conv_forward(x, w, b.astype(np.float64), **geometry)  # promoted, as add_bias promotes
    assert wide.dtype == np.float64 and wide.tobytes() == (unbiased + b.astype(np.float64).reshape(-1, 1, 1)).tobytes()
