"""Matrix multiplication with NumPy's rules for 1-D, 2-D and batched operands."""

from __future__ import annotations

import numpy as np

from ..errors import DTypeError, ShapeError
from .base import Op, register


def _dims(shape) -> str:
    return "x".join(str(s) for s in shape)


@register
class MatMul(Op):
    twice_differentiable = True
    reads = staticmethod(lambda needs: (needs[1], needs[0]))
    name = "matmul"
    inputs = ("a", "b")
    formula, formula_latex = "(AB)_ij = Σ_k A_ik B_kj", r"(AB)_{ij}=\sum_k A_{ik}B_{kj}"
    derivative, derivative_latex = "∂/∂A = G Bᵀ, ∂/∂B = Aᵀ G", r"\frac{\partial}{\partial A}=G B^{\top},\ \frac{\partial}{\partial B}=A^{\top}G"

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ShapeError(f"matmul: both arguments need at least 1 dimension, got shapes {a.shape} and {b.shape}")
        inner_a = a.shape[-1]
        inner_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
        if inner_a != inner_b:
            raise ShapeError(
                f"matmul: mat1 and mat2 shapes cannot be multiplied ({_dims(a.shape)} and {_dims(b.shape)})"
            )
        if a.ndim > 2 or b.ndim > 2:
            batch_a, batch_b = a.shape[:-2], b.shape[:-2]
            try:
                np.broadcast_shapes(batch_a, batch_b)
            except ValueError:
                raise ShapeError(
                    f"matmul: batch dimensions {batch_a} and {batch_b} cannot be broadcast together "
                    f"(shapes {_dims(a.shape)} and {_dims(b.shape)})"
                ) from None
        if a.dtype != b.dtype:
            raise DTypeError(
                f"matmul: expected both operands to have the same dtype, but got {a.dtype} and {b.dtype}"
            )
        return a @ b

    def vjp(self, n, g, a, b):
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        if b.ndim == 1:  # restore the dropped axes, last one first (1-D @ 1-D gives a 0-d g)
            g = n.xp.expand_dims(g, -1)
        if a.ndim == 1:
            g = n.xp.expand_dims(g, -2)
        ga = gb = None
        if n.needs[0]:
            ga = g @ n.xp.swapaxes(b2, -1, -2)
            if a.ndim == 1:
                ga = ga[..., 0, :]
        if n.needs[1]:
            gb = n.xp.swapaxes(a2, -1, -2) @ g
            if b.ndim == 1:
                gb = gb[..., 0]
        return ga, gb


@register
class Linear(Op):
    """``x @ Wᵀ + b`` in one node (weight stored (out, in) as in PyTorch); bias optional."""

    twice_differentiable = True
    reads = staticmethod(lambda needs: (needs[1], needs[0], False)[:len(needs)])
    name = "linear"
    inputs = ("x", "W", "b")
    formula, formula_latex = "z_j = Σ_i w_ij·x_i + b_j", r"z_j=\sum_i w_{ij}x_i+b_j"
    derivative, derivative_latex = "∂z_j/∂w_ij = x_i, ∂z_j/∂x_i = w_ij, ∂z_j/∂b_j = 1", r"\frac{\partial z_j}{\partial w_{ij}}=x_i,\ \frac{\partial z_j}{\partial x_i}=w_{ij},\ \frac{\partial z_j}{\partial b_j}=1"
    # Explanation rule (chainrule.explain): templates filled with symbols or with numbers.
    # One term w_ij·x_i per input; the local derivatives of z_j: by w_ij it is x_i, by x_i it is w_ij, by b_j 1.
    explain = {"term": "{w}·{x}", "term_latex": "{w}{x}", "num": "{w}×{x}", "num_latex": r"{w}\times {x}",
               "d_weight": "{x}", "d_input": "{w}", "d_bias": "1"}

    def describe(self, node):
        if len(node.parents) == 3:
            return self.formula, self.derivative
        return "z_j = Σ_i w_ij·x_i", "∂z_j/∂w_ij = x_i, ∂z_j/∂x_i = w_ij"

    def forward(self, x, w, b=None):
        if x.ndim == 0 or x.shape[-1] != w.shape[1]:
            rows = "x".join(str(s) for s in (x.shape[:-1] or (1,)))
            raise ShapeError(
                f"linear: mat1 and mat2 shapes cannot be multiplied ({rows}x{x.shape[-1] if x.ndim else 0} "
                f"and {w.shape[1]}x{w.shape[0]}): the input has {x.shape[-1] if x.ndim else 0} features, "
                f"the layer expects {w.shape[1]} (input shape {x.shape}, weight shape {w.shape})"
            )
        if x.dtype != w.dtype:
            raise DTypeError(
                f"linear: input dtype {x.dtype} does not match weight dtype {w.dtype}; convert one "
                f"(e.g. model.double() or x.float())"
            )
        out = x @ w.T
        if b is not None:
            out += b
        return out

    def vjp(self, n, g, x, w, b=None):
        needs = n.needs
        gx = g @ w if needs[0] else None
        gw = gb = None
        g2 = g if g.ndim == 2 else g.reshape(-1, g.shape[-1])  # every leading axis is a batch axis
        if needs[1]:
            gw = g2.T @ (x if x.ndim == 2 else x.reshape(-1, x.shape[-1]))
        if b is not None and needs[2]:
            gb = n.xp.sum(g2, axis=0)
        return gx, gw, gb

    # Code export. Scalar Python writes every sum out (z_1 = x_1 * w_1_11 + x_2 * w_1_21); NumPy and
    # PyTorch name the weight in (from, to) order, W[i, j] = w_ij, so the layer is z = x @ W + b.
    def export(self, c, t):
        x, w, *b = t.grad_fn.parents
        if c.lang == "torch":
            return [f"{c.v(t)} = {c.layer(w)}({c.v(x)})"]
        if c.lang == "np":
            return [f"{c.v(t)} = {c.v(x)} @ {c.v(w)}" + (f" + {c.v(b[0])}" if b else "")]
        lines = []
        for j in range(w.shape[0]):
            terms = [f"{c.v(x, i)} * {c.v(w, (j, i))}" for i in range(w.shape[1])] + [c.v(b[0], j) for _ in b]
            lines.append(f"{c.v(t, j)} = {' + '.join(terms)}")
        return lines

    def export_vjp(self, c, t):
        x, w, *b = t.grad_fn.parents
        if c.lang == "np" and x.ndim > 2:  # over every step of a sequence: the rows of all steps at once
            n_in, n_out = w.shape[1], w.shape[0]
            lines = [c.acc(w, None, f"{c.v(x)}.reshape(-1, {n_in}).T @ {c.g(t)}.reshape(-1, {n_out})")] if w.requires_grad else []
            lines += [c.acc(b[0], None, f"{c.g(t)}.reshape(-1, {n_out}).sum(axis=0)") for _ in b if b[0].requires_grad]
            return lines + ([c.acc(x, None, f"{c.g(t)} @ {c.v(w)}.T")] if x.requires_grad else [])
        if c.lang == "np":
            lines = [c.acc(w, None, f"{c.v(x)}.T @ {c.g(t)}")] if w.requires_grad else []
            lines += [c.acc(b[0], None, f"{c.g(t)}.sum(axis=0)") for _ in b if b[0].requires_grad]
            return lines + ([c.acc(x, None, f"{c.g(t)} @ {c.v(w)}.T")] if x.requires_grad else [])
        lines = []
        for j in range(w.shape[0]):
            if w.requires_grad:
                lines += [c.acc(w, (j, i), f"{c.g(t, j)} * {c.v(x, i)}") for i in range(w.shape[1])]
            lines += [c.acc(b[0], j, c.g(t, j)) for _ in b if b[0].requires_grad]
        if x.requires_grad:
            for i in range(w.shape[1]):
                lines.append(c.acc(x, i, " + ".join(f"{c.g(t, j)} * {c.v(w, (j, i))}" for j in range(w.shape[0]))))
        return lines
