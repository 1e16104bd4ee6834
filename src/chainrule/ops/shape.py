"""Ops that move values around without changing them: reshape, permute, index, cat, stack."""

from __future__ import annotations

import numpy as np

from .base import Op, register


@register
class Reshape(Op):
    name = "reshape"
    uses_inputs = False
    formula = formula_latex = "reshape(z)"
    derivative = derivative_latex = "identity on each element"

    def forward(self, a, shape=None):
        return a.reshape(shape)

    def vjp(self, n, g, a):
        return (g.reshape(a.shape),)


@register
class Permute(Op):
    name = "permute"
    uses_inputs = False
    formula, formula_latex = "zᵀ", "z^{\\top}"
    derivative = derivative_latex = "identity on each element"

    def forward(self, a, axes=None):
        return a.transpose(axes)

    def vjp(self, n, g, a):
        return (g.transpose(np.argsort(n.attrs["axes"])),)


def _has_array(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, (np.ndarray, list)) for i in items)


@register
class GetItem(Op):
    name = "getitem"
    uses_inputs = False
    formula = formula_latex = "z[index]"
    derivative = derivative_latex = "1 at each selected position (summed over repeats)"

    def forward(self, a, index=None):
        out = a[index]
        if type(out) is not np.ndarray:  # one element: a 0-d view instead (t[i] is a view in PyTorch)
            out = a[(index if isinstance(index, tuple) else (index,)) + (Ellipsis,)]
        return out

    def vjp(self, n, g, a):
        index = n.attrs["index"]
        out = np.zeros(a.shape, dtype=g.dtype)
        if _has_array(index):
            np.add.at(out, index, g)
        else:
            out[index] = g
        return (out,)


@register
class Cat(Op):
    name = "cat"
    uses_inputs = False
    formula = formula_latex = "cat(z_1, …, z_k)"
    derivative = derivative_latex = "identity on each element"

    def forward(self, *arrays, axis=0):
        return np.concatenate(arrays, axis=axis)

    def vjp(self, n, g, *arrays):
        bounds = np.cumsum([a.shape[n.attrs["axis"]] for a in arrays])[:-1]
        return tuple(np.split(g, bounds, axis=n.attrs["axis"]))


@register
class Stack(Op):
    name = "stack"
    uses_inputs = False
    formula = formula_latex = "stack(z_1, …, z_k)"
    derivative = derivative_latex = "identity on each element"

    def forward(self, *arrays, axis=0):
        return np.stack(arrays, axis=axis)

    def vjp(self, n, g, *arrays):
        return tuple(np.moveaxis(g, n.attrs["axis"], 0))
