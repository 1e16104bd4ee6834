"""Reductions: sum, mean, max, min (over all elements or the given axes)."""

from __future__ import annotations

import numpy as np

from .base import Op, register


def _expand(g, shape, axis, keepdims):
    """Reinsert the reduced axes of ``g`` so it broadcasts against the input shape."""
    if keepdims or axis is None:
        return g.reshape([1] * len(shape)) if axis is None and not keepdims else g
    axes = (axis,) if isinstance(axis, int) else axis
    return np.expand_dims(g, tuple(ax % len(shape) for ax in axes))


def _count(shape, axis):
    if axis is None:
        return int(np.prod(shape, dtype=np.int64))
    axes = (axis,) if isinstance(axis, int) else axis
    return int(np.prod([shape[ax] for ax in axes], dtype=np.int64))


@register
class Sum(Op):
    name = "sum"
    uses_inputs = False
    formula, formula_latex = "Σ z_i", r"\sum_i z_i"
    derivative, derivative_latex = "1 for every term", r"\frac{\partial}{\partial z_i}=1"

    def forward(self, a, axis=None, keepdims=False):
        return a.sum(axis=axis, keepdims=keepdims)

    def vjp(self, n, g, a):
        g = _expand(g, a.shape, n.attrs["axis"], n.attrs["keepdims"])
        return (np.broadcast_to(g, a.shape),)


@register
class Mean(Op):
    name = "mean"
    uses_inputs = False
    formula, formula_latex = "(1/N) Σ z_i", r"\frac{1}{N}\sum_i z_i"
    derivative, derivative_latex = "1/N for every term", r"\frac{\partial}{\partial z_i}=\frac{1}{N}"

    def forward(self, a, axis=None, keepdims=False):
        return a.mean(axis=axis, keepdims=keepdims)

    def vjp(self, n, g, a):
        axis = n.attrs["axis"]
        g = _expand(g, a.shape, axis, n.attrs["keepdims"]) / _count(a.shape, axis)
        return (np.broadcast_to(g, a.shape),)


class _Extremum(Op):
    """max/min; ties share the gradient equally (as torch.amax/amin do)."""

    reducer = None

    def forward(self, a, axis=None, keepdims=False):
        return self.reducer(a, axis=axis, keepdims=keepdims)

    def vjp(self, n, g, a):
        axis, keepdims = n.attrs["axis"], n.attrs["keepdims"]
        out = _expand(n.out, a.shape, axis, keepdims)
        mask = a == out
        count = mask.sum(axis=axis, keepdims=True)
        g = _expand(g, a.shape, axis, keepdims)
        return (np.where(mask, g / count, 0).astype(g.dtype, copy=False),)


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
