"""Shared test helpers: the PyTorch twin and central finite differences.

Expected values come from PyTorch (float64) or from finite differences, never from chainrule.
"""

from __future__ import annotations

import numpy as np

import chainrule as cr

RTOL = 1e-10
ATOL = 1e-12


def assert_close(actual, expected, rtol=RTOL, atol=ATOL, what=""):
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != expected {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)


def twin(fn, *arrays, grad_of=None, fn_torch=None, upstream_seed=0, rtol=RTOL, atol=ATOL):
    """Run ``fn(lib, *tensors)`` in chainrule (lib=cr) and PyTorch (lib=torch); compare value and grads.

    ``arrays`` are NumPy arrays (float arrays become float64 leaves requiring grad unless ``grad_of``
    lists the indices that should). Integer/bool arrays are passed as constants. The output is
    back-propagated with a random upstream gradient of its shape, so every entry of every
    vector-Jacobian product is compared, not just the sum. ``fn_torch`` overrides ``fn`` for torch.
    Returns (chainrule output, torch output) for further checks.
    """
    import torch

    fn_torch = fn_torch or fn
    if grad_of is None:
        grad_of = [i for i, a in enumerate(arrays) if np.asarray(a).dtype.kind == "f"]
    ours, theirs = [], []
    for i, a in enumerate(arrays):
        a = np.asarray(a)
        if a.dtype.kind == "f":
            a = a.astype(np.float64)
        ours.append(cr.tensor(a.copy(), requires_grad=i in grad_of))
        theirs.append(torch.tensor(a.copy(), requires_grad=i in grad_of))
    out = fn(cr, *ours)
    ref = fn_torch(torch, *theirs)
    assert out.dtype == np.float64, f"output dtype {out.dtype}"
    assert_close(out.data, ref.detach().numpy(), rtol, atol, "value")
    rng = np.random.default_rng(upstream_seed)
    g = rng.standard_normal(ref.shape)
    if out.requires_grad or ref.requires_grad:
        assert out.requires_grad and ref.requires_grad
        out.backward(gradient=g)
        ref.backward(gradient=torch.tensor(g))
        for i in grad_of:
            expected = theirs[i].grad
            expected = np.zeros(arrays[i].shape) if expected is None else expected.numpy()
            actual = ours[i].grad
            assert actual is not None, f"input {i}: no gradient"
            assert_close(actual, expected, rtol, atol, f"grad of input {i}")
    return out, ref


def finite_diff(f, arrays, eps=1e-6):
    """Central differences of scalar ``f(*arrays)`` with respect to every array (float64)."""
    grads = []
    for k, a in enumerate(arrays):
        g = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            plus = [x.copy() for x in arrays]
            minus = [x.copy() for x in arrays]
            plus[k][idx] += eps
            minus[k][idx] -= eps
            g[idx] = (f(*plus) - f(*minus)) / (2 * eps)
        grads.append(g)
    return grads
