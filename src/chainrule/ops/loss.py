"""Loss functions as fused ops: one forward, one exact backward, no intermediate nodes.

Each takes (prediction, target) and a ``reduction`` of 'mean', 'sum' or 'none'.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from .base import Op, register


def _reduce(values, reduction):
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    return values


def _scale(g, values_size, reduction):
    """The upstream gradient spread over the per-element losses."""
    return g / values_size if reduction == "mean" else g


def _same_shape(op, pred, target):
    if pred.shape != target.shape:
        raise ShapeError(
            f"{op}: prediction and target must have the same shape, got prediction {pred.shape} "
            f"and target {target.shape}"
        )


@register
class MSELoss(Op):
    name = "mse_loss"
    formula, formula_latex = "L = (1/N) Σ (y'_i − y_i)²", r"L=\frac{1}{N}\sum_i (y'_i-y_i)^2"
    derivative, derivative_latex = "∂L/∂y'_i = 2(y'_i − y_i)/N", r"\frac{\partial L}{\partial y'_i}=\frac{2}{N}(y'_i-y_i)"

    def forward(self, pred, target, reduction="mean"):
        _same_shape(self.name, pred, target)
        d = pred - target
        return _reduce(d * d, reduction)

    def vjp(self, n, g, pred, target):
        gd = _scale(g, pred.size, n.attrs["reduction"]) * 2 * (pred - target)
        return gd, (-gd if n.needs[1] else None)


@register
class HalfSSELoss(Op):
    name = "half_sse_loss"
    formula, formula_latex = "L = ½ Σ (y_i − y'_i)²", r"L=\frac{1}{2}\sum_i (y_i-y'_i)^2"
    derivative, derivative_latex = "∂L/∂y'_i = y'_i − y_i", r"\frac{\partial L}{\partial y'_i}=y'_i-y_i"

    def forward(self, pred, target):
        _same_shape(self.name, pred, target)
        d = pred - target
        return 0.5 * (d * d).sum()

    def vjp(self, n, g, pred, target):
        gd = g * (pred - target)
        return gd, (-gd if n.needs[1] else None)


def _check_labels(labels, classes):
    if not np.issubdtype(labels.dtype, np.integer):
        raise ShapeError(f"cross_entropy: labels must be integer class indices, got dtype {labels.dtype}")
    bad = np.flatnonzero((labels < 0) | (labels >= classes))
    if bad.size:
        i = int(bad[0])
        raise ShapeError(
            f"cross_entropy: label {int(labels[i])} at index {i} is out of range for {classes} classes "
            f"(valid labels are 0..{classes - 1})"
        )


@register
class CrossEntropyLoss(Op):
    """Softmax cross-entropy from logits (N, C) or (C,) and integer class labels."""

    name = "cross_entropy"
    formula, formula_latex = "L = −log softmax(z)_y", r"L=-\log\frac{e^{z_y}}{\sum_j e^{z_j}}"
    derivative, derivative_latex = "∂L/∂z_j = softmax(z)_j − [j = y]", r"\frac{\partial L}{\partial z_j}=\operatorname{softmax}(z)_j-[j=y]"

    def forward(self, logits, labels=None, reduction="mean"):
        logits2 = logits[None, :] if logits.ndim == 1 else logits
        labels2 = np.atleast_1d(labels)
        if logits2.ndim != 2 or labels2.shape != (logits2.shape[0],):
            raise ShapeError(
                f"cross_entropy: expected logits (N, C) with labels (N,), got logits {logits.shape} "
                f"and labels {np.shape(labels)}"
            )
        _check_labels(labels2, logits2.shape[1])
        shifted = logits2 - logits2.max(axis=1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        losses = -logp[np.arange(len(labels2)), labels2]
        if logits.ndim == 1 and reduction == "none":
            losses = losses.reshape(())
        return _reduce(losses, reduction)

    def vjp(self, n, g, logits):
        labels, reduction = n.attrs["labels"], n.attrs["reduction"]
        logits2 = logits[None, :] if logits.ndim == 1 else logits
        labels2 = np.atleast_1d(labels)
        e = np.exp(logits2 - logits2.max(axis=1, keepdims=True))
        grad = e / e.sum(axis=1, keepdims=True)
        grad[np.arange(len(labels2)), labels2] -= 1
        g = _scale(g, len(labels2), reduction)
        g = g.reshape(-1, 1) if g.ndim else g
        return ((grad * g).reshape(logits.shape),)


_LOG_FLOOR = -100.0  # PyTorch clamps BCE's logarithms here so that p = 0 or 1 gives a finite loss


@register
class BCELoss(Op):
    name = "binary_cross_entropy"
    formula, formula_latex = "L = −[y log p + (1 − y) log(1 − p)]", r"L=-\left[y\log p+(1-y)\log(1-p)\right]"
    derivative, derivative_latex = "∂L/∂p = (p − y) / (p(1 − p))", r"\frac{\partial L}{\partial p}=\frac{p-y}{p(1-p)}"

    def forward(self, p, target, reduction="mean"):
        _same_shape(self.name, p, target)
        outside = np.flatnonzero(~((p >= 0) & (p <= 1)))
        if outside.size:
            i = tuple(int(k) for k in np.unravel_index(int(outside[0]), p.shape))
            raise ShapeError(
                f"binary_cross_entropy: all elements of input should be between 0 and 1, but input{list(i)} = "
                f"{float(p[i])!r} (input shape {p.shape}); apply sigmoid first, or use "
                f"binary_cross_entropy_with_logits on raw scores"
            )
        with np.errstate(divide="ignore"):
            log_p = np.maximum(np.log(p), _LOG_FLOOR)
            log_q = np.maximum(np.log1p(-p), _LOG_FLOOR)
        return _reduce(-(target * log_p + (1 - target) * log_q), reduction)

    def vjp(self, n, g, p, target):
        g = _scale(g, p.size, n.attrs["reduction"])
        gp = gt = None
        if n.needs[0]:
            gp = g * (p - target) / np.maximum(p * (1 - p), 1e-12)
        if n.needs[1]:
            with np.errstate(divide="ignore"):
                gt = g * (np.maximum(np.log1p(-p), _LOG_FLOOR) - np.maximum(np.log(p), _LOG_FLOOR))
        return gp, gt


@register
class BCEWithLogitsLoss(Op):
    name = "binary_cross_entropy_with_logits"
    formula, formula_latex = "L = −[y log σ(z) + (1 − y) log(1 − σ(z))]", r"L=-\left[y\log\sigma(z)+(1-y)\log(1-\sigma(z))\right]"
    derivative, derivative_latex = "∂L/∂z = σ(z) − y", r"\frac{\partial L}{\partial z}=\sigma(z)-y"

    def forward(self, z, target, reduction="mean"):
        _same_shape(self.name, z, target)
        return _reduce(np.maximum(z, 0) - z * target + np.log1p(np.exp(-np.abs(z))), reduction)

    def vjp(self, n, g, z, target):
        g = _scale(g, z.size, n.attrs["reduction"])
        gz = g * (0.5 * (1 + np.tanh(0.5 * z)) - target) if n.needs[0] else None
        gt = -g * z if n.needs[1] else None
        return gz, gt
