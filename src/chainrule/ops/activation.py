"""Smooth activations of modern networks: GELU (exact and tanh form), ELU, SiLU."""

from __future__ import annotations

import math

import numpy as np

from .base import Op, register

_erf = np.frompyfunc(math.erf, 1, 1)  # NumPy has no erf; math.erf is correct to the last bit
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def erf(x):
    return _erf(x).astype(x.dtype)


def _sigmoid(x):
    return 0.5 * (1 + np.tanh(0.5 * x))


@register
class Gelu(Op):
    name = "gelu"
    formula = "x · Φ(x) = ½x(1 + erf(x/√2)); approximate='tanh': ½x(1 + tanh(√(2/π)(x + 0.044715x³)))"
    formula_latex = r"x\,\Phi(x)=\tfrac{1}{2}x\left(1+\operatorname{erf}\left(x/\sqrt{2}\right)\right)"
    derivative = "Φ(x) + x·φ(x), φ(x) = e^(−x²/2)/√(2π) (the tanh form differentiates its own formula)"
    derivative_latex = r"\Phi(x)+x\,\varphi(x),\ \varphi(x)=\frac{e^{-x^2/2}}{\sqrt{2\pi}}"
    code = {"torch": "torch.nn.functional.gelu({z}, approximate={approximate!r})"}

    def forward(self, x, approximate="none"):
        if approximate == "tanh":
            return 0.5 * x * (1 + np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x**3)))
        return 0.5 * x * (1 + erf(x / math.sqrt(2.0)))

    def vjp(self, n, g, x):
        if n.attrs["approximate"] == "tanh":
            inner = _SQRT_2_OVER_PI * (x + 0.044715 * x**3)
            t = np.tanh(inner)
            d = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)
        else:
            d = 0.5 * (1 + erf(x / math.sqrt(2.0))) + x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
        return (g * d.astype(g.dtype, copy=False),)


@register
class Elu(Op):
    name = "elu"
    formula, formula_latex = "x if x > 0 else α(eˣ − 1)", r"\begin{cases}x & x>0\\\alpha(e^{x}-1) & x\le 0\end{cases}"
    derivative, derivative_latex = "1 if x > 0 else α·eˣ (= y + α)", r"\begin{cases}1 & x>0\\\alpha e^{x} & x\le 0\end{cases}"
    code = {"np": "np.where({z} > 0, {z}, {alpha!r} * np.expm1(np.minimum({z}, 0)))",
            "torch": "torch.nn.functional.elu({z}, {alpha!r})",
            "np_d": "np.where({z} > 0, 1.0, {alpha!r} * np.exp(np.minimum({z}, 0)))"}

    def forward(self, x, alpha=1.0):
        return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))).astype(x.dtype, copy=False)

    def vjp(self, n, g, x):
        alpha = n.attrs["alpha"]
        return (g * np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0))).astype(g.dtype, copy=False),)


@register
class Silu(Op):
    name = "silu"
    formula, formula_latex = "x · σ(x)", r"x\,\sigma(x)"
    derivative, derivative_latex = "σ(x)(1 + x(1 − σ(x)))", r"\sigma(x)\left(1+x(1-\sigma(x))\right)"
    code = {"np": "{z} * 0.5 * (1 + np.tanh(0.5 * {z}))", "torch": "torch.nn.functional.silu({z})",
            "np_d": "0.5 * (1 + np.tanh(0.5 * {z})) * (1 + {z} * (1 - 0.5 * (1 + np.tanh(0.5 * {z}))))"}

    def forward(self, x):
        return x * _sigmoid(x)

    def vjp(self, n, g, x):
        s = _sigmoid(x)
        return (g * s * (1 + x * (1 - s)),)
