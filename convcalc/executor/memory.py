"""Keeping freed array memory for reuse, as PyTorch's caching allocator does.

glibc's malloc hands blocks above its mmap threshold (at most 32 MiB by default) straight back
to the kernel when NumPy frees them, so the next im2col buffer of the same size starts with
fresh pages, and touching every page costs as much as the copy itself (measured: a 64-channel
3x3 conv step on 8x64x56x56 spends a fifth of its time in page faults). Raising the mmap and
trim thresholds keeps those blocks in the heap for the next step. It changes nothing but
speed, only where glibc is the allocator, and only for the process running the executor.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
_KEEP = 1 << 30  # blocks up to 1 GiB stay in the heap once freed


def keep_freed_memory() -> bool:
    """Ask glibc to reuse large freed blocks; False where that is not possible (not Linux/glibc)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(M_MMAP_THRESHOLD, _KEEP)) and bool(mallopt(M_TRIM_THRESHOLD, _KEEP))
