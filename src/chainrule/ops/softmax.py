"""Softmax and log-softmax along one axis, computed from shifted logits so ±1000 is fine."""

from __future__ import annotations

import numpy as np

from .base import Op, register


@register
class Softmax(Op):
    name = "softmax"
    uses_inputs = False
    formula, formula_latex = "s_i = e^(z_i) / Σ_j e^(z_j)", r"s_i=\frac{e^{z_i}}{\sum_j e^{z_j}}"
    derivative, derivative_latex = "∂s_i/∂z_j = s_i(δ_ij − s_j)", r"\frac{\partial s_i}{\partial z_j}=s_i(\delta_{ij}-s_j)"

    def forward(self, a, axis=-1):
        e = np.exp(a - a.max(axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True)

    def vjp(self, n, g, a):
        s = n.out
        return (s * (g - (g * s).sum(axis=n.attrs["axis"], keepdims=True)),)


@register
class LogSoftmax(Op):
    name = "log_softmax"
    uses_inputs = False
    formula, formula_latex = "z_i − log Σ_j e^(z_j)", r"z_i-\log\sum_j e^{z_j}"
    derivative, derivative_latex = "∂/∂z_j = δ_ij − softmax(z)_j", r"\delta_{ij}-\operatorname{softmax}(z)_j"

    def forward(self, a, axis=-1):
        shifted = a - a.max(axis=axis, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))

    def vjp(self, n, g, a):
        axis = n.attrs["axis"]
        return (g - np.exp(n.out) * g.sum(axis=axis, keepdims=True),)


@register
class LogSumExp(Op):
    name = "logsumexp"
    formula, formula_latex = "log Σ_j e^(z_j)", r"\log\sum_j e^{z_j}"
    derivative, derivative_latex = "∂/∂z_j = softmax(z)_j", r"\operatorname{softmax}(z)_j"

    def forward(self, a, axis=-1, keepdims=False):
        top = a.max(axis=axis, keepdims=True)
        top = np.where(np.isfinite(top), top, 0)  # all -inf (or an inf) along the axis: no shift
        out = top + np.log(np.exp(a - top).sum(axis=axis, keepdims=True))
        return out if keepdims else out.squeeze(axis)

    def vjp(self, n, g, a):
        axis = n.attrs["axis"]
        out = n.out if n.attrs["keepdims"] else np.expand_dims(n.out, axis)
        g = g if n.attrs["keepdims"] else np.expand_dims(g, axis)
        return (g * np.exp(a - out),)
