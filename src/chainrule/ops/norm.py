"""Normalisation and regularisation ops: batch norm, layer norm, dropout, embedding lookup."""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from .base import Op, register


def _channel_shape(x):
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


@register
class BatchNorm(Op):
    """``y = (x − μ)/√(σ² + ε) · γ + β`` per channel (axis 1).

    ``mean`` and ``var`` arrive as attributes: in training they are the batch's own statistics
    (``batch_stats=True``, so they depend on x and backward has the three-term rule); in evaluation
    they are the running statistics, constants, and backward is a per-channel scaling.
    """

    name = "batch_norm"
    inputs = ("x", "γ", "β")
    formula = "y = γ · (x − μ_B) / √(σ²_B + ε) + β, with μ_B, σ²_B the mean and (biased) variance of the channel over the batch"
    formula_latex = r"y=\gamma\,\frac{x-\mu_B}{\sqrt{\sigma_B^2+\epsilon}}+\beta"
    derivative = ("x̂ = (x − μ_B)/√(σ²_B + ε); ∂L/∂x = (1/√(σ²_B + ε)) · (ĝ − mean(ĝ) − x̂ · mean(ĝ · x̂)) with ĝ = γ · ∂L/∂y "
                  "(the three terms: direct, through μ_B, through σ²_B); ∂L/∂γ = Σ ∂L/∂y · x̂; ∂L/∂β = Σ ∂L/∂y. "
                  "In evaluation (running statistics) ∂L/∂x = γ · ∂L/∂y / √(σ² + ε)")
    derivative_latex = (r"\frac{\partial L}{\partial x}=\frac{1}{\sqrt{\sigma_B^2+\epsilon}}\left(\hat g-\overline{\hat g}"
                        r"-\hat x\,\overline{\hat g\,\hat x}\right),\ \hat g=\gamma\frac{\partial L}{\partial y},\ "
                        r"\frac{\partial L}{\partial\gamma}=\sum\frac{\partial L}{\partial y}\hat x,\ "
                        r"\frac{\partial L}{\partial\beta}=\sum\frac{\partial L}{\partial y}")

    def forward(self, x, weight, bias, mean=None, var=None, eps=1e-5, batch_stats=True):
        shape = _channel_shape(x)
        invstd = (1.0 / np.sqrt(var + eps)).astype(x.dtype, copy=False).reshape(shape)
        scale = weight.reshape(shape) * invstd
        return x * scale + (bias.reshape(shape) - mean.astype(x.dtype, copy=False).reshape(shape) * scale)

    def vjp(self, n, g, x, weight, bias):
        a = n.attrs
        shape = _channel_shape(x)
        axes = (0,) + tuple(range(2, x.ndim))
        invstd = (1.0 / np.sqrt(a["var"] + a["eps"])).astype(x.dtype, copy=False).reshape(shape)
        xhat = (x - a["mean"].astype(x.dtype, copy=False).reshape(shape)) * invstd
        gx = gw = gb = None
        if n.needs[0]:
            gh = g * weight.reshape(shape)
            if a["batch_stats"]:
                gx = invstd * (gh - gh.mean(axis=axes, keepdims=True)
                               - xhat * (gh * xhat).mean(axis=axes, keepdims=True))
            else:
                gx = gh * invstd
        if n.needs[1]:
            gw = (g * xhat).sum(axis=axes)
        if n.needs[2]:
            gb = g.sum(axis=axes)
        return gx, gw, gb

    # Code export (NumPy, training mode: the batch's own statistics). The forward names x̂ and 1/√(σ² + ε),
    # which the three-term backward reads again.
    def _numpy_names(self, c, t):
        x = t.grad_fn.parents[0]
        if not t.grad_fn.attrs["batch_stats"]:
            raise NotImplementedError("op 'batch_norm' in evaluation mode (running statistics) has no code-export "
                                      "rule for NumPy")
        axes = (0,) + tuple(range(2, x.ndim))
        shape = (1, -1) + (1,) * (x.ndim - 2)
        return x, axes, shape, c.tmp(t, "xhat"), c.tmp(t, "invstd")

    def export(self, c, t):
        if c.lang != "np":
            return super().export(c, t)
        x, axes, shape, xhat, invstd = self._numpy_names(c, t)
        _, gamma, beta = t.grad_fn.parents
        mean, var = c.tmp(t, "mean"), c.tmp(t, "var")
        return [f"# the mean μ_B and the biased variance σ²_B of each channel over the batch (axes {axes})",
                f"{mean} = {c.v(x)}.mean(axis={axes}, keepdims=True)",
                f"{var} = {c.v(x)}.var(axis={axes}, keepdims=True)",
                f"{invstd} = 1 / np.sqrt({var} + {t.grad_fn.attrs['eps']!r})",
                f"{xhat} = ({c.v(x)} - {mean}) * {invstd}",
                f"{c.v(t)} = {c.v(gamma)}.reshape{shape} * {xhat} + {c.v(beta)}.reshape{shape}"]

    def export_vjp(self, c, t):
        if c.lang != "np":
            return super().export_vjp(c, t)
        x, axes, shape, xhat, invstd = self._numpy_names(c, t)
        _, gamma, beta = t.grad_fn.parents
        lines = []
        if gamma.requires_grad:
            lines.append(c.acc(gamma, None, f"({c.g(t)} * {xhat}).sum(axis={axes})"))
        if beta.requires_grad:
            lines.append(c.acc(beta, None, f"{c.g(t)}.sum(axis={axes})"))
        if x.requires_grad:
            gh = c.tmp(t, "g_hat")
            lines += [f"{gh} = {c.g(t)} * {c.v(gamma)}.reshape{shape}",
                      "# the three terms: directly, through the mean μ_B, through the variance σ²_B",
                      c.acc(x, None, f"{invstd} * ({gh} - {gh}.mean(axis={axes}, keepdims=True) "
                                     f"- {xhat} * ({gh} * {xhat}).mean(axis={axes}, keepdims=True))")]
        return lines


@register
class LayerNorm(Op):
    name = "layer_norm"
    inputs = ("x", "γ", "β")
    formula = "y = γ · (x − μ) / √(σ² + ε) + β, with μ, σ² the mean and (biased) variance over the normalized (last) dims of each sample"
    formula_latex = r"y=\gamma\,\frac{x-\mu}{\sqrt{\sigma^2+\epsilon}}+\beta"
    derivative = ("x̂ = (x − μ)/√(σ² + ε); ∂L/∂x = (1/√(σ² + ε)) · (ĝ − mean(ĝ) − x̂ · mean(ĝ · x̂)) over the same dims, "
                  "ĝ = γ · ∂L/∂y; ∂L/∂γ = Σ_samples ∂L/∂y · x̂; ∂L/∂β = Σ_samples ∂L/∂y")
    derivative_latex = (r"\frac{\partial L}{\partial x}=\frac{1}{\sqrt{\sigma^2+\epsilon}}\left(\hat g-\overline{\hat g}"
                        r"-\hat x\,\overline{\hat g\,\hat x}\right),\ \hat g=\gamma\frac{\partial L}{\partial y}")

    @staticmethod
    def _stats(x, k, eps):
        axes = tuple(range(x.ndim - k, x.ndim))
        mean = x.mean(axis=axes, keepdims=True)
        d = x - mean
        var = (d * d).mean(axis=axes, keepdims=True)
        return axes, d * (1.0 / np.sqrt(var + eps)), 1.0 / np.sqrt(var + eps)

    def forward(self, x, weight, bias, normalized_ndim=1, eps=1e-5):
        _, xhat, _ = self._stats(x, normalized_ndim, eps)
        return xhat * weight + bias

    def vjp(self, n, g, x, weight, bias):
        k = n.attrs["normalized_ndim"]
        axes, xhat, invstd = self._stats(x, k, n.attrs["eps"])
        lead = tuple(range(x.ndim - k))
        gx = gw = gb = None
        if n.needs[0]:
            gh = g * weight
            gx = invstd * (gh - gh.mean(axis=axes, keepdims=True) - xhat * (gh * xhat).mean(axis=axes, keepdims=True))
        if n.needs[1]:
            gw = (g * xhat).sum(axis=lead)
        if n.needs[2]:
            gb = g.sum(axis=lead)
        return gx, gw, gb


@register
class Dropout(Op):
    """``y = x · m / (1 − p)`` with a fixed 0/1 mask ``m`` (drawn by the caller, kept in the node)."""

    name = "dropout"
    uses_inputs = False
    formula, formula_latex = "y = x · m / (1 − p), m_i ∈ {0, 1} kept with probability 1 − p", r"y=\frac{x\,m}{1-p}"
    derivative, derivative_latex = "∂y/∂x = m / (1 − p): the same cells dropped, the same scale", r"\frac{\partial y}{\partial x}=\frac{m}{1-p}"

    def forward(self, x, mask=None, p=0.5):
        scale = np.asarray(0.0 if p >= 1 else 1.0 / (1.0 - p), dtype=x.dtype)
        return x * (mask * scale)

    def vjp(self, n, g, x):
        p = n.attrs["p"]
        scale = np.asarray(0.0 if p >= 1 else 1.0 / (1.0 - p), dtype=g.dtype)
        return (g * (n.attrs["mask"] * scale),)


@register
class Embedding(Op):
    name = "embedding"
    inputs = ("W",)
    uses_inputs = False
    formula, formula_latex = "y[..., :] = W[index[...], :]", r"y_{\ldots,:}=W_{\text{index}_{\ldots},:}"
    derivative = "∂L/∂W[r, :] = Σ over the positions whose index is r of ∂L/∂y[..., :] (0 for padding_idx)"
    derivative_latex = r"\frac{\partial L}{\partial W_{r,:}}=\sum_{k:\ \text{index}_k=r}\frac{\partial L}{\partial y_{k,:}}"

    def forward(self, weight, index=None, padding_idx=None):
        if weight.ndim != 2:
            raise ShapeError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got shape {weight.shape}")
        bad = np.flatnonzero((index < 0) | (index >= weight.shape[0]))
        if bad.size:
            raise IndexError(
                f"embedding: index {int(index.ravel()[bad[0]])} is out of range for {weight.shape[0]} embeddings "
                f"(valid indices are 0..{weight.shape[0] - 1})"
            )
        return weight[index]

    def vjp(self, n, g, weight):
        index, pad = n.attrs["index"], n.attrs["padding_idx"]
        gw = np.zeros(weight.shape, dtype=g.dtype)
        np.add.at(gw, index.ravel(), g.reshape(-1, weight.shape[1]))
        if pad is not None:
            gw[pad] = 0
        return (gw,)
