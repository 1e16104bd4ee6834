"""An opt-in tweak of glibc's malloc for NumPy-heavy training loops.

Each training step of a CNN allocates and frees the same few large arrays (im2col windows, feature
maps, their gradients). By default glibc hands arrays over ~128 kB to the kernel with mmap and
gives freed heap memory back when more than a few MB sit free at its top, so every step pays the
kernel again to map and zero fresh pages: measured here, a third of a LeNet step on CPU.
``keep_freed_memory()`` raises both thresholds so that freed memory stays in the process and is
reused; the price is that the process keeps its peak memory instead of returning it.

Nothing calls it implicitly: a library should not change its host's allocator on import.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def keep_freed_memory(mmap_threshold_mb: int = 32, trim_threshold_mb: int = 512) -> bool:
    """Serve arrays up to ``mmap_threshold_mb`` from the heap and keep up to ``trim_threshold_mb`` of
    freed memory for reuse (glibc's ``mallopt``). Returns False, changing nothing, off glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    ok = mallopt(_M_MMAP_THRESHOLD, int(mmap_threshold_mb) << 20) == 1
    return ok and mallopt(_M_TRIM_THRESHOLD, int(trim_threshold_mb) << 20) == 1
