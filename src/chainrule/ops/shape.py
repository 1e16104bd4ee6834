"""Ops that move values around without changing them: reshape, permute, index, cat, stack."""

from __future__ import annotations

import numpy as np

from ..xp import scatter_add_along
from .base import Op, register


@register
class Reshape(Op):
    twice_differentiable = True
    name = "reshape"
    uses_inputs = False
    formula = formula_latex = "reshape(z)"
    derivative = derivative_latex = "identity on each element"

    def forward(self, a, shape=None):
        return a.reshape(shape)

    def vjp(self, n, g, a):
        return (g.reshape(a.shape),)

    def export(self, c, t):
        if c.lang == "py":
            return super().export(c, t)
        return [f"{c.v(t)} = {c.v(t.grad_fn.parents[0])}.reshape{tuple(t.shape)}"]

    def export_vjp(self, c, t):
        a = t.grad_fn.parents[0]
        if c.lang == "py" or not a.requires_grad:
            return super().export_vjp(c, t) if c.lang == "py" else []
        return [c.acc(a, None, f"{c.g(t)}.reshape{tuple(a.shape)}")]


@register
class Permute(Op):
    twice_differentiable = True
    name = "permute"
    uses_inputs = False
    formula, formula_latex = "zᵀ", "z^{\\top}"
    derivative = derivative_latex = "identity on each element"

    def forward(self, a, axes=None):
        return a.transpose(axes)

    def vjp(self, n, g, a):
        return (n.xp.transpose(g, np.argsort(n.attrs["axes"])),)

    def export(self, c, t):
        if c.lang != "np":
            return super().export(c, t)
        return [f"{c.v(t)} = {c.v(t.grad_fn.parents[0])}.transpose({tuple(t.grad_fn.attrs['axes'])})"]

    def export_vjp(self, c, t):
        a = t.grad_fn.parents[0]
        if c.lang != "np" or not a.requires_grad:
            return super().export_vjp(c, t) if c.lang != "np" else []
        back = tuple(int(i) for i in np.argsort(t.grad_fn.attrs["axes"]))
        return [c.acc(a, None, f"{c.g(t)}.transpose({back})")]


@register
class GetItem(Op):
    twice_differentiable = True
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
        return (n.xp.index_add(a.shape, n.attrs["index"], g),)

    # Code export (NumPy): the selected part; backward puts its gradient back in place in an array of zeros.
    def export(self, c, t):
        if c.lang != "np":
            return super().export(c, t)
        return [f"{c.v(t)} = {c.v(t.grad_fn.parents[0])}[{t.grad_fn.attrs['index']!r}]"]

    def export_vjp(self, c, t):
        a = t.grad_fn.parents[0]
        if c.lang != "np" or not a.requires_grad:
            return super().export_vjp(c, t) if c.lang != "np" else []
        back = c.tmp(t, "back")
        return [f"{back} = np.zeros({tuple(a.shape)})", f"np.add.at({back}, {t.grad_fn.attrs['index']!r}, {c.g(t)})",
                c.acc(a, None, back)]


@register
class Cat(Op):
    twice_differentiable = True
    name = "cat"
    uses_inputs = False
    formula = formula_latex = "cat(z_1, …, z_k)"
    derivative = derivative_latex = "identity on each element"

    def forward(self, *arrays, axis=0):
        return np.concatenate(arrays, axis=axis)

    def vjp(self, n, g, *arrays):
        bounds = np.cumsum([a.shape[n.attrs["axis"]] for a in arrays])[:-1]
        return tuple(n.xp.split(g, bounds, axis=n.attrs["axis"]))


@register
class Stack(Op):
    twice_differentiable = True
    name = "stack"
    uses_inputs = False
    formula = formula_latex = "stack(z_1, …, z_k)"
    derivative = derivative_latex = "identity on each element"

    def forward(self, *arrays, axis=0):
        return np.stack(arrays, axis=axis)

    def vjp(self, n, g, *arrays):
        return tuple(n.xp.moveaxis(g, n.attrs["axis"], 0))

    def export(self, c, t):
        if c.lang != "np":
            return super().export(c, t)
        parts = ", ".join(c.v(p) for p in t.grad_fn.parents)
        return [f"{c.v(t)} = np.stack([{parts}], axis={t.grad_fn.attrs['axis']})"]

    def export_vjp(self, c, t):
        if c.lang != "np":
            return super().export_vjp(c, t)
        axis = t.grad_fn.attrs["axis"]
        return [c.acc(p, None, f"{c.g(t)}[{k}]" if axis == 0 else f"np.take({c.g(t)}, {k}, axis={axis})")
                for k, p in enumerate(t.grad_fn.parents) if p.requires_grad]


@register
class SetItem(Op):
    """``a[index] = v`` out of place: what an in-place assignment records in the graph."""

    twice_differentiable = True
    name = "setitem"
    inputs = ("a", "v")
    uses_inputs = False
    formula = formula_latex = "a with a[index] = v"
    derivative = derivative_latex = "∂/∂a = 1 outside index, 0 inside; ∂/∂v = 1 at index"

    def forward(self, a, v, index=None):
        out = a.copy()
        out[index] = v
        return out

    def vjp(self, n, g, a, v):
        index = n.attrs["index"]
        ga = gv = None
        if n.needs[0]:
            ga = n.xp.where(_mask(a.shape, index), 0, g)
        if n.needs[1]:
            gv = g[index]
        return ga, gv


def _mask(shape, index) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    mask[index] = True
    return mask


@register
class Clone(Op):
    twice_differentiable = True
    name = "clone"
    uses_inputs = False
    formula = formula_latex = "z"
    derivative = derivative_latex = "1"

    def forward(self, a):
        return a.copy()

    def vjp(self, n, g, a):
        return (g,)


@register
class Expand(Op):
    """Broadcast to a larger shape (``expand``/``broadcast_to``); backward sums the copies."""

    twice_differentiable = True
    name = "expand"
    uses_inputs = False
    formula = formula_latex = "broadcast(z)"
    derivative = derivative_latex = "1 for each copy (summed)"

    def forward(self, a, shape=None):
        return np.broadcast_to(a, shape)

    def vjp(self, n, g, a):
        return (g,)  # the engine's sum_to undoes the broadcast


@register
class Repeat(Op):
    twice_differentiable = True
    name = "repeat"
    uses_inputs = False
    formula = formula_latex = "tile(z)"
    derivative = derivative_latex = "1 for each copy (summed)"

    def forward(self, a, reps=None):
        return np.tile(a, reps)

    def vjp(self, n, g, a):
        reps = n.attrs["reps"]
        shape = (1,) * (len(reps) - a.ndim) + a.shape
        split = []
        for r, s in zip(reps, shape):
            split += [r, s]
        return (g.reshape(split).sum(axis=tuple(range(0, 2 * len(reps), 2))).reshape(a.shape),)


@register
class Gather(Op):
    twice_differentiable = True
    name = "gather"
    uses_inputs = False
    formula = formula_latex = "out[i][j] = z[i][index[i][j]] (along dim)"
    derivative = derivative_latex = "1 at each gathered position (summed over repeats)"

    def forward(self, a, dim=0, index=None):
        return np.take_along_axis(a, index, axis=dim)

    def vjp(self, n, g, a):
        dim, index = n.attrs["dim"], n.attrs["index"]
        return (n.xp.scatter_add_along(np.zeros(a.shape, dtype=g.dtype), index, g, dim),)


@register
class ScatterAdd(Op):
    twice_differentiable = True
    name = "scatter_add"
    inputs = ("a", "src")
    uses_inputs = False
    formula = formula_latex = "out = z; out[index[i][j]][j] += src[i][j] (along dim)"
    derivative = derivative_latex = "∂/∂z = 1, ∂/∂src = 1 at each scattered position"

    def forward(self, a, src, dim=0, index=None):
        return scatter_add_along(a.copy(), index, src, dim)

    def vjp(self, n, g, a, src):
        dim, index = n.attrs["dim"], n.attrs["index"]
        gsrc = None
        if n.needs[1]:  # read where src was added: g cut to the index's extent in every other dim
            block = tuple(slice(None) if d == dim else slice(0, k) for d, k in enumerate(index.shape))
            gsrc = n.xp.take_along_axis(g[block], index, dim)
        return (g if n.needs[0] else None), gsrc

