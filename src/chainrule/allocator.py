"""Memory reuse for NumPy-heavy training loops: scratch buffers reused across steps, and an opt-in
tweak of glibc's malloc.

``scratch(shape, dtype)`` hands out a buffer for a large array an op fills completely and may keep
until its backward (the convolution's im2col windows): once nothing but the pool refers to it any
more, the next step gets the same memory back instead of freshly mapped pages.

Each training step of a CNN allocates and frees the same few large arrays (im2col windows, feature
maps, their gradients). By default glibc hands arrays over ~128 kB to the kernel with mmap and
gives freed heap memory back when more than a few MB sit free at its top, so every step pays the
kernel again to map and zero fresh pages: measured here, a third of a LeNet step on CPU.
``keep_freed_memory()`` raises both thresholds so that freed memory stays in the process and is
reused; the price is that the process keeps its peak memory instead of returning it.

Nothing calls it implicitly: a library should not change its host's allocator on import.
"""

from __future__ import annotations

import sys
import threading

import numpy as np

_POOL_SIZE = 8  # buffers kept per thread: enough for the convolutions of one network
_pools = threading.local()


def scratch(shape: tuple, dtype) -> np.ndarray:
    """An uninitialised array of ``shape`` and ``dtype``, reused from earlier calls when free.

    A pooled buffer is free when the pool holds its only reference: an op that still keeps it (a
    convolution's windows saved for backward), or any view of it, holds another, so it is never
    handed out twice while in use. Each thread has its own pool of at most ``_POOL_SIZE`` buffers;
    past that, fresh arrays are returned and not kept. ``release_scratch()`` empties the pool.
    """
    pool = getattr(_pools, "buffers", None)
    if pool is None:
        pool = _pools.buffers = []
    dtype = np.dtype(dtype)
    for buf in pool:
        # references: the pool's list, ``buf`` here, getrefcount's argument; any more means in use
        if buf.shape == shape and buf.dtype == dtype and sys.getrefcount(buf) == 3:
            return buf
    buf = np.empty(shape, dtype)
    if len(pool) < _POOL_SIZE:
        pool.append(buf)
    return buf


def release_scratch() -> None:
    """Forget this thread's pooled scratch buffers (their memory is freed once no op holds them)."""
    _pools.buffers = []


_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def keep_freed_memory(mmap_threshold_mb: int = 32, trim_threshold_mb: int = 512) -> bool:
    """Serve arrays up to ``mmap_threshold_mb`` from the heap and keep up to ``trim_threshold_mb`` of
    freed memory for reuse (glibc's ``mallopt``). Returns False, changing nothing, off glibc."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes  # here, not at import: ctypes.util loads subprocess, and conv2d imports this module
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    ok = mallopt(_M_MMAP_THRESHOLD, int(mmap_threshold_mb) << 20) == 1
    return ok and mallopt(_M_TRIM_THRESHOLD, int(trim_threshold_mb) << 20) == 1
