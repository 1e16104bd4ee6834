"""chainrule.allocator.keep_freed_memory: applies on Linux (glibc), and computing after it is unchanged."""

from __future__ import annotations

import sys

import numpy as np
import pytest

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


def test_scratch_reuses_a_buffer_only_once_nothing_else_holds_it():
    from chainrule.allocator import release_scratch, scratch

    release_scratch()
    a = scratch((3, 4), np.float32)
    first = a.__array_interface__["data"][0]
    kept = a[1:]  # a view keeps its base alive: the buffer is in use
    del a
    b = scratch((3, 4), np.float32)
    assert not np.shares_memory(b, kept)
    del b
    assert scratch((3, 4), np.float32).__array_interface__["data"][0] != first  # still held through ``kept``
    del kept
    assert scratch((3, 4), np.float32).__array_interface__["data"][0] == first  # only the pool refers to it now
    assert scratch((3, 4), np.float64).dtype == np.float64  # another dtype, another buffer
    release_scratch()


def test_conv_windows_in_scratch_memory_survive_a_second_forward_before_backward():
    """Two forward passes through one conv before backward (gradient accumulation, a shared layer): the
    first pass's saved windows must not be overwritten by the second's. Reference: PyTorch."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x1, x2 = rng.standard_normal((2, 2, 2, 6, 6)).astype(np.float32)
    w = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    wc = cr.tensor(w, requires_grad=True)
    ((cr.conv2d(cr.tensor(x1), wc) ** 2).sum() + cr.conv2d(cr.tensor(x2), wc).sum()).backward()
    wt = torch.tensor(w, requires_grad=True)
    ((torch.nn.functional.conv2d(torch.tensor(x1), wt) ** 2).sum()
     + torch.nn.functional.conv2d(torch.tensor(x2), wt).sum()).backward()
    np.testing.assert_allclose(wc.grad.array, wt.grad.numpy(), rtol=1e-5, atol=1e-4)
    for _ in range(2):  # and step after step, the pooled memory gives the same gradients
        wc.grad = None
        (cr.conv2d(cr.tensor(x1), wc) ** 2).sum().backward()
        wt.grad = None
        (torch.nn.functional.conv2d(torch.tensor(x1), wt) ** 2).sum().backward()
        np.testing.assert_allclose(wc.grad.array, wt.grad.numpy(), rtol=1e-5, atol=1e-4)
