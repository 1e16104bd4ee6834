"""More element-wise functions: sin, cos, log1p, remainder and floor division."""

from __future__ import annotations

import numpy as np

from .base import Op, register


@register
class Sin(Op):
    twice_differentiable = True
    name = "sin"
    formula, formula_latex = "sin z", r"\sin z"
    derivative, derivative_latex = "cos z", r"\cos z"

    def forward(self, a):
        return np.sin(a)

    def vjp(self, n, g, a):
        return (g * n.xp.cos(a),)


@register
class Cos(Op):
    twice_differentiable = True
    name = "cos"
    formula, formula_latex = "cos z", r"\cos z"
    derivative, derivative_latex = "−sin z", r"-\sin z"

    def forward(self, a):
        return np.cos(a)

    def vjp(self, n, g, a):
        return (-g * n.xp.sin(a),)


@register
class Log1p(Op):
    twice_differentiable = True
    name = "log1p"
    formula, formula_latex = "ln(1 + z)", r"\ln(1+z)"
    derivative, derivative_latex = "1/(1 + z)", r"\frac{1}{1+z}"

    def forward(self, a):
        return np.log1p(a)

    def vjp(self, n, g, a):
        return (g / (1 + a),)


@register
class Remainder(Op):
    """``a % b`` with the sign of ``b`` (Python's and PyTorch's rule)."""

    twice_differentiable = True
    name = "remainder"
    inputs = ("a", "b")
    formula, formula_latex = "a − b·⌊a/b⌋", r"a-b\lfloor a/b\rfloor"
    derivative, derivative_latex = "∂/∂a = 1, ∂/∂b = −⌊a/b⌋", r"\frac{\partial}{\partial a}=1,\ \frac{\partial}{\partial b}=-\lfloor a/b\rfloor"

    def forward(self, a, b):
        return np.remainder(a, b)

    def vjp(self, n, g, a, b):
        gb = -g * np.floor_divide(n.xp.values(a), n.xp.values(b)) if n.needs[1] else None
        return g, gb


@register
class FloorDivide(Op):
    """``a // b``: its derivative is zero almost everywhere, and PyTorch does not define it."""

    name = "floor_divide"
    inputs = ("a", "b")
    uses_inputs = False
    formula, formula_latex = "⌊a/b⌋", r"\lfloor a/b\rfloor"
    derivative = derivative_latex = "not defined (PyTorch raises)"

    def forward(self, a, b):
        return np.floor_divide(a, b)

    def vjp(self, n, g, a, b):
        raise NotImplementedError("derivative for floor_divide is not implemented (as in PyTorch)")
