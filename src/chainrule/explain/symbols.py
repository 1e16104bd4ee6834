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


CONTEXTS = ("value", "operand", "base")


def number(value, precision: int, context: str = "value") -> Sym:
    """The one way a number is written in a derivation, as (text, LaTeX), for where it stands.

    ``value``: on its own or after "=" (−0.5, 1.2e-6 / 1.2\\times 10^{-6}); ``operand``: inside a sum
    or product, negatives in parentheses (2 × (−0.5)); ``base``: raised to a power, negatives and
    scientific notation in parentheses, so that (1.2e-6)² never reads as 10^{-6}^{2} (which LaTeX
    and MathML refuse).
    """
    if context not in CONTEXTS:
        raise ValueError(f"number: context must be one of {', '.join(CONTEXTS)}, got {context!r}")
    x = float(value)
    text = fmt(x, precision)
    if text.startswith("-"):
        text = "−" + text[1:]
    if math.isnan(x):
        latex = r"\mathrm{NaN}"
    elif math.isinf(x):
        latex = r"\infty" if x > 0 else r"-\infty"
    else:
        latex = fmt(x, precision)
        if "e" in latex:
            mantissa, exp = latex.split("e")
            neg = mantissa.startswith("-")
            mantissa = mantissa.lstrip("-")
            power = f"10^{{{int(exp)}}}"
            latex = ("-" if neg else "") + (power if mantissa == "1" else rf"{mantissa}\times {power}")
    wrap = text.startswith("−") if context == "operand" else (
        context == "base" and (text.startswith("−") or "e" in text or math.isinf(x)))
    if wrap:
        return f"({text})", rf"\left({latex}\right)" if context == "base" else f"({latex})"
    return text, latex


def num_text(value, precision: int, signed: bool = False, context: str | None = None) -> str:
    """The text of ``number``; ``signed`` is the ``operand`` context."""
    return number(value, precision, context or ("operand" if signed else "value"))[0]


def num_latex(value, precision: int, signed: bool = False, context: str | None = None) -> str:
    """The LaTeX of ``number``; ``signed`` is the ``operand`` context."""
    return number(value, precision, context or ("operand" if signed else "value"))[1]


PROFILES = ("prime", "indexed", "textbook", "mazur")


class Symbols:
    """Names for one network: inputs, z, a, δ, targets, parameters; 0-based indices in, 1-based out.

    Notation profiles: ``prime`` (the seed's w'_ij, w''_ij, z_j, y'), ``indexed`` / ``textbook``
    (w^(l)_ij, z^(l)_j, δ^(l)_j written the same way at every layer), ``mazur`` (Mazur's i1, h1, o1,
    net_h1, out_o1, w1…w8 numbered per neuron, b1, b2, E_total; two weight layers only).
    """

    def __init__(self, layers: list[int], activations: list[str], style: str, batch: bool, shared=None):
        self.layers = layers
        self.depth = len(layers) - 1
        self.activations = activations
        self.profile = style
        self.style = "indexed" if style == "textbook" else style
        self.batch = batch
        self.n_out = layers[-1]
        self.shared = shared or [False] * self.depth
        self.loss: Sym = ("E_total", r"E_{\mathrm{total}}") if style == "mazur" else ("L", "L")

    def _sample(self, sym: Sym, s) -> Sym:
        if not self.batch or s is None:
            return sym
        return f"{sym[0]}[{s + 1}]", f"{{{sym[1]}}}^{{[{s + 1}]}}"

    # Mazur's names: i1, i2 (inputs), h1, h2 (hidden), o1, o2 (outputs); net_ before, out_ after σ
    def _mazur_unit(self, layer: int, j: int) -> str:
        return ("i" if layer < 0 else "o" if layer == self.depth - 1 else "h") + str(j + 1)

    def _mazur(self, prefix: str, layer: int, j: int) -> Sym:
        unit = self._mazur_unit(layer, j)
        return (f"{prefix}_{unit}", rf"\mathrm{{{prefix}}}_{{{unit}}}") if prefix else (unit, unit)

    def x(self, i: int, s=None) -> Sym:
        if self.profile == "mazur":
            return self._sample(self._mazur("", -1, i), s)
        return self._sample((f"x_{i + 1}", f"x_{{{i + 1}}}"), s)

    def y(self, j: int, s=None) -> Sym:
        if self.profile == "mazur":
            return self._sample(self._mazur("target", self.depth - 1, j), s)
        base = ("y", "y") if self.n_out == 1 else (f"y_{j + 1}", f"y_{{{j + 1}}}")
        return self._sample(base, s)

    def output(self, j: int, s=None) -> Sym:
        if self.profile == "mazur":
            return self._sample(self._mazur("out", self.depth - 1, j), s)
        base = ("y'", "y^{\\prime}") if self.n_out == 1 else (f"y'_{j + 1}", f"y^{{\\prime}}_{{{j + 1}}}")
        return self._sample(base, s)

    def _neuron(self, kind: str, layer: int, j: int) -> Sym:
        if self.profile == "mazur":
            return self._mazur({"z": "net", "a": "out"}[kind], layer, j)
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
        if self.profile == "mazur":
            unit = self._mazur_unit(layer, j)
            return self._sample((f"δ_{unit}", rf"\delta_{{{unit}}}"), s)
        text, latex = self._neuron("z", layer, j)
        return self._sample(("δ" + text[1:], r"\delta" + latex[1:]), s)

    def param(self, name: str, index: tuple) -> Sym:
        if self.profile == "mazur":
            layer = int(name[1:])
            if name[0] == "b":   # one bias per layer (b1, b2), or b1 per neuron of a layer: b1_h2
                k = str(layer) if self.shared[layer - 1] else f"{layer},{self._mazur_unit(layer - 1, index[0])}"
                return f"b{k}", f"b_{{{k}}}"
            before = sum(a * b for a, b in zip(self.layers[:layer - 1], self.layers[1:layer]))
            i, j = index
            k = before + j * self.layers[layer - 1] + i + 1        # Mazur numbers each neuron's inputs in turn
            return f"w{k}", f"w_{{{k}}}"
        text, latex = notation.param(name, index, self.style), notation.param(name, index, self.style, latex=True)
        if name[0] == "b" and self.shared[int(name[1:]) - 1]:   # one bias for the layer: b', not b'_1
            text = text.rsplit("_", 1)[0]
            latex = latex.replace("_{1}", "", 1) if self.style == "prime" else latex.rsplit("_{", 1)[0]
        return text, latex

    def layer_vector(self, kind: str, layer: int) -> Sym:
        """Whole-layer symbols for the matrix form: z^(l), a^(l), δ^(l), W^(l), b^(l)."""
        greek = {"delta": ("δ", r"\delta")}.get(kind, (kind, kind))
        return f"{greek[0]}^({layer + 1})", f"{greek[1]}^{{({layer + 1})}}"


def d(num: Sym, den: Sym) -> Sym:
    """∂num/∂den in both forms."""
    return f"∂{num[0]}/∂{den[0]}", rf"\frac{{\partial {num[1]}}}{{\partial {den[1]}}}"


LOSS: Sym = ("L", "L")


def derive_options(labels, lang: str, precision, default: int) -> int:
    """Check a derivation's ``lang`` (a key of its ``labels``) and ``precision`` (significant digits,
    ``None`` for ``default``); return the precision as an int."""
    if lang not in labels:
        raise ValueError(f"derive: lang must be one of {', '.join(labels)}, got {lang!r}")
    p = default if precision is None else int(precision)
    if not 1 <= p <= 17:
        raise ValueError(f"derive: precision must be between 1 and 17 significant digits, got {p}")
    return p
