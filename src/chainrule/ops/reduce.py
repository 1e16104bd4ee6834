"""Reductions: sum, mean, max, min (over all elements or the given axes)."""

from __future__ import annotations

import math

import numpy as np

from ..xp import NUMPY
from .base import Op, register


def _expand(g, shape, axis, keepdims, xp=np):
    """Reinsert the reduced axes of ``g`` so it broadcasts against the input shape."""
    if keepdims or axis is None:
        return g.reshape([1] * len(shape)) if axis is None and not keepdims else g
    axes = (axis,) if isinstance(axis, int) else axis
    return xp.expand_dims(g, tuple(ax % len(shape) for ax in axes))


def _spread(g, shape, xp):
    """``g`` (with the reduced axes kept as 1s) broadcast to ``shape``, the input's shape.

    ``np.broadcast_to`` spends ~2.4 µs in Python-level checks; for a one-element ``g`` (a full
    reduction, as a loss's ``.sum()``) and a small input, filling a fresh array is 6× cheaper.
    Large inputs keep the free read-only view.
    """
    if xp is NUMPY and g.size == 1 and math.prod(shape) <= 4096:
        out = np.empty(shape, g.dtype)
        out.fill(g.reshape(()))
        return out
    return xp.broadcast_to(g, shape)


def _count(shape, axis):
    if axis is None:
        return int(np.prod(shape, dtype=np.int64))
    axes = (axis,) if isinstance(axis, int) else axis
    return int(np.prod([shape[ax] for ax in axes], dtype=np.int64))


@register
class Sum(Op):
    twice_differentiable = True
    name = "sum"
    uses_inputs = False
    formula, formula_latex = "Σ z_i", r"\sum_i z_i"
    derivative, derivative_latex = "1 for every term", r"\frac{\partial}{\partial z_i}=1"

    def forward(self, a, axis=None, keepdims=False):
        return a.sum(axis=axis, keepdims=keepdims)

    def vjp(self, n, g, a):
        g = _expand(g, a.shape, n.attrs["axis"], n.attrs["keepdims"], n.xp)
        return (_spread(g, a.shape, n.xp),)


@register
class Mean(Op):
    twice_differentiable = True
    name = "mean"
    uses_inputs = False
    formula, formula_latex = "(1/N) Σ z_i", r"\frac{1}{N}\sum_i z_i"
    derivative, derivative_latex = "1/N for every term", r"\frac{\partial}{\partial z_i}=\frac{1}{N}"

    def forward(self, a, axis=None, keepdims=False):
        if a.size == 0:
            return mean_of_nothing(a, axis, keepdims)
        return a.mean(axis=axis, keepdims=keepdims)

    def vjp(self, n, g, a):
        axis = n.attrs["axis"]
        count = _count(a.shape, axis)
        g = _expand(g, a.shape, axis, n.attrs["keepdims"], n.xp)
        return (_spread(g / count if count else g, a.shape, n.xp),)  # a count of 0: no element to reach


def mean_of_nothing(a, axis=None, keepdims=False):
    """The mean of an empty array: 0 / 0 where nothing is averaged, nan as PyTorch's (its sign too),
    without NumPy's "Mean of empty slice" and "invalid value" warnings."""
    with np.errstate(invalid="ignore"):
        return np.divide(np.add.reduce(a, axis=axis, keepdims=keepdims), _count(a.shape, axis))


def nonempty_along(shape, axis) -> None:
    """PyTorch's IndexError for a maximum, a minimum or their index over an empty dim (NumPy's own error
    is a ValueError about a reduction with no identity)."""
    for ax in range(len(shape)) if axis is None else (axis,) if isinstance(axis, int) else axis:
        if shape[ax] == 0:
            raise IndexError(f"Expected reduction dim {ax % len(shape)} to have non-zero size")


class _Extremum(Op):
    """max/min; ties share the gradient equally (as torch.amax/amin do)."""

    twice_differentiable = True
    reducer = None

    def forward(self, a, axis=None, keepdims=False):
        if not a.size:
            nonempty_along(a.shape, axis)
        return self.reducer(a, axis=axis, keepdims=keepdims)

    def vjp(self, n, g, a):
        axis, keepdims = n.attrs["axis"], n.attrs["keepdims"]
        a = n.xp.values(a)
        out = _expand(self.reducer(a, axis=axis, keepdims=keepdims), a.shape, axis, keepdims)
        mask = a == out
        count = mask.sum(axis=axis, keepdims=True)
        g = _expand(g, a.shape, axis, keepdims, n.xp)
        return (n.xp.where(mask, g / count, 0).astype(g.dtype, copy=False),)


@register
class Max(_Extremum):
    name = "max"
    reducer = staticmethod(np.max)
    formula, formula_latex = "max_i z_i", r"\max_i z_i"
    derivative, derivative_latex = "1 for the largest term (shared on ties), 0 elsewhere", r"[z_i=\max_j z_j]/\#\text{ties}"


@register
class Min(_Extremum):
    name = "min"
    reducer = staticmethod(np.min)
    formula, formula_latex = "min_i z_i", r"\min_i z_i"
    derivative, derivative_latex = "1 for the smallest term (shared on ties), 0 elsewhere", r"[z_i=\min_j z_j]/\#\text{ties}"


class _ExtremumAlongDim(Op):
    """``max(dim)``/``min(dim)`` values: the gradient goes to the index returned, one per slice (PyTorch)."""

    twice_differentiable = True
    uses_inputs = False
    finder = None

    def forward(self, a, axis=None, keepdims=False):
        if not a.size:
            nonempty_along(a.shape, axis)
        idx = np.expand_dims(self.finder(a, axis=axis), axis)
        out = np.take_along_axis(a, idx, axis=axis)
        return out if keepdims else np.squeeze(out, axis=axis)

    def vjp(self, n, g, a):
        axis = n.attrs["axis"]
        idx = np.expand_dims(self.finder(a, axis=axis), axis)
        g = g if n.attrs["keepdims"] else n.xp.expand_dims(g, axis)
        return (n.xp.scatter_add_along(np.zeros(a.shape, dtype=g.dtype), idx, g, axis),)


@register
class MaxDim(_ExtremumAlongDim):
    name = "max_dim"
    uses_inputs = True
    finder = staticmethod(np.argmax)
    formula, formula_latex = "max_i z_i", r"\max_i z_i"
    derivative, derivative_latex = "1 for the (first) largest term, 0 elsewhere", r"[i=\arg\max_j z_j]"


@register
class MinDim(_ExtremumAlongDim):
    name = "min_dim"
    uses_inputs = True
    finder = staticmethod(np.argmin)
    formula, formula_latex = "min_i z_i", r"\min_i z_i"
    derivative, derivative_latex = "1 for the (first) smallest term, 0 elsewhere", r"[i=\arg\min_j z_j]"


@register
class Norm2(Op):
    twice_differentiable = True
    name = "norm2"
    uses_output = True
    formula, formula_latex = "‖z‖ = √(Σ z_i²)", r"\lVert z\rVert=\sqrt{\sum_i z_i^2}"
    derivative, derivative_latex = "z_i / ‖z‖ (0 where ‖z‖ = 0)", r"\frac{z_i}{\lVert z\rVert}"

    def forward(self, a, axis=None, keepdims=False):
        return np.sqrt((a * a).sum(axis=axis, keepdims=keepdims))

    def vjp(self, n, g, a):
        axis, keepdims = n.attrs["axis"], n.attrs["keepdims"]
        norm = _expand(n.out, a.shape, axis, keepdims, n.xp)
        g = _expand(g, a.shape, axis, keepdims, n.xp)
        safe = n.xp.where(norm == 0, 1, norm)
        return (n.xp.where(norm == 0, 0, g * a / safe),)
