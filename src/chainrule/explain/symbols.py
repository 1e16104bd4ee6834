"""Symbols of a derivation, each as a (text, LaTeX) pair, and numbers written for both forms.

Built on ``chainrule.notation`` (the seed's primes w'_ij / w''_ij, or w^(l)_ij), with the seed's
conventions on top: a layer without activation has a = z (so the seed's y' = w''_11 z_1 + ...), the
network's output is y' (y'_j when there are several), and batch samples carry a superscript [s].
"""

from __future__ import annotations

import math

from .. import notation
from ..numbers import fmt

Sym = tuple  # (text, latex)


def num_text(value, precision: int, signed: bool = False) -> str:
    text = fmt(value, precision)
    if text.startswith("-"):
        text = "−" + text[1:]
        return f"({text})" if signed else text
    return text


def num_latex(value, precision: int, signed: bool = False) -> str:
    x = float(value)
    if math.isnan(x):
        return r"\mathrm{NaN}"
    if math.isinf(x):
        text = r"\infty" if x > 0 else r"-\infty"
    else:
        text = fmt(x, precision)
        if "e" in text:
            mantissa, exp = text.split("e")
            neg = mantissa.startswith("-")
            mantissa = mantissa.lstrip("-")
            power = f"10^{{{int(exp)}}}"
            text = ("-" if neg else "") + (power if mantissa == "1" else rf"{mantissa}\times {power}")
    return f"({text})" if signed and text.startswith("-") else text


class Symbols:
    """Names for one network: inputs, z, a, δ, targets, parameters; 0-based indices in, 1-based out."""

    def __init__(self, layers: list[int], activations: list[str], style: str, batch: bool):
        self.layers = layers
        self.depth = len(layers) - 1
        self.activations = activations
        self.style = style
        self.batch = batch
        self.n_out = layers[-1]

    def _sample(self, sym: Sym, s) -> Sym:
        if not self.batch or s is None:
            return sym
        return f"{sym[0]}[{s + 1}]", f"{{{sym[1]}}}^{{[{s + 1}]}}"

    def x(self, i: int, s=None) -> Sym:
        return self._sample((f"x_{i + 1}", f"x_{{{i + 1}}}"), s)

    def y(self, j: int, s=None) -> Sym:
        base = ("y", "y") if self.n_out == 1 else (f"y_{j + 1}", f"y_{{{j + 1}}}")
        return self._sample(base, s)

    def output(self, j: int, s=None) -> Sym:
        base = ("y'", "y^{\\prime}") if self.n_out == 1 else (f"y'_{j + 1}", f"y^{{\\prime}}_{{{j + 1}}}")
        return self._sample(base, s)

    def _neuron(self, kind: str, layer: int, j: int) -> Sym:
        return (notation.neuron(kind, layer + 1, j + 1, self.depth, self.style),
                notation.neuron(kind, layer + 1, j + 1, self.depth, self.style, latex=True))

    def z(self, layer: int, j: int, s=None) -> Sym:
        """Pre-activation of neuron j in weight layer ``layer`` (0-based); the output is y' when it has no activation."""
        if layer == self.depth - 1 and self.activations[layer] == "none":
            return self.output(j, s)
        return self._sample(self._neuron("z", layer, j), s)

    def a(self, layer: int, j: int, s=None) -> Sym:
        """Activation; layer -1 is the input x. Without an activation function a is z itself."""
        if layer < 0:
            return self.x(j, s)
        if layer == self.depth - 1:
            return self.output(j, s)
        if self.activations[layer] == "none":
            return self.z(layer, j, s)
        return self._sample(self._neuron("a", layer, j), s)

    def delta(self, layer: int, j: int, s=None) -> Sym:
        text, latex = self._neuron("z", layer, j)
        return self._sample(("δ" + text[1:], r"\delta" + latex[1:]), s)

    def param(self, name: str, index: tuple) -> Sym:
        return notation.param(name, index, self.style), notation.param(name, index, self.style, latex=True)

    def layer_vector(self, kind: str, layer: int) -> Sym:
        """Whole-layer symbols for the matrix form: z^(l), a^(l), δ^(l), W^(l), b^(l)."""
        greek = {"delta": ("δ", r"\delta")}.get(kind, (kind, kind))
        return f"{greek[0]}^({layer + 1})", f"{greek[1]}^{{({layer + 1})}}"


def d(num: Sym, den: Sym) -> Sym:
    """∂num/∂den in both forms."""
    return f"∂{num[0]}/∂{den[0]}", rf"\frac{{\partial {num[1]}}}{{\partial {den[1]}}}"


LOSS: Sym = ("L", "L")
