"""chainrule.allocator.keep_freed_memory: applies on Linux (glibc), and computing after it is unchanged."""

from __future__ import annotations

import sys

import numpy as np

import chainrule as cr
from chainrule.allocator import keep_freed_memory


def test_keep_freed_memory_applies_on_linux_and_changes_no_result():
    x = cr.tensor(np.arange(64 * 64, dtype=np.float32).reshape(1, 1, 64, 64) / 4096)
    w = cr.tensor(np.ones((2, 1, 3, 3), dtype=np.float32))
    before = cr.conv2d(x, w).array.copy()
    assert keep_freed_memory() is sys.platform.startswith("linux")
    np.testing.assert_array_equal(cr.conv2d(x, w).array, before)
    # hand algebra: a 3×3 box sum of (r·64 + c)/4096 around (1, 1) is 9·(64 + 1)/4096
    assert before[0, 0, 0, 0] == np.float32(9 * 65 / 4096)
