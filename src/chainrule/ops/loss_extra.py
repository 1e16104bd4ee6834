"""More losses as fused ops: NLL (class weights, ignore_index, (N, C, d…)), L1, smooth L1, Huber, and
binary cross-entropy from logits with ``weight`` and ``pos_weight``.

Cross-entropy with PyTorch's extra arguments is not an op of its own: ``F.cross_entropy`` writes it
as log-softmax followed by ``nll_loss`` (and label smoothing or probability targets as sums of
log-probabilities), so its gradient is the chain of these rules.
"""

from __future__ import annotations

import numpy as np

from ..errors import LabelRangeError, ShapeError
from .base import Op, register
from .loss import _reduce, _same_shape, _scale


def _class_last(a):
    """(N, C, d…) → (N, d…, C); (C,) → (1, C)."""
    return a[None, :] if a.ndim == 1 else np.moveaxis(a, 1, -1)


def _class_back(a, ndim):
    return a[0] if ndim == 1 else np.moveaxis(a, -1, 1)


def check_targets(op, logp_shape, target, ignore_index):
    """Integer class indices of the right shape and range (ignore_index excepted)."""
    if not np.issubdtype(target.dtype, np.integer):
        raise ShapeError(f"{op}: target must hold integer class indices, got dtype {target.dtype}")
    expected = () if len(logp_shape) == 1 else (logp_shape[0],) + tuple(logp_shape[2:])
    if target.shape != expected:
        raise ShapeError(
            f"{op}: expected target of shape {expected} for input of shape {tuple(logp_shape)} (class dimension 1), "
            f"got target of shape {target.shape}"
        )
    classes = logp_shape[0] if len(logp_shape) == 1 else logp_shape[1]
    bad = np.flatnonzero(((target < 0) | (target >= classes)) & (target != ignore_index))
    if bad.size:
        i = int(bad[0])
        raise LabelRangeError(
            f"{op}: target {int(target.ravel()[i])} at flat index {i} is out of bounds for {classes} classes "
            f"(valid targets are 0..{classes - 1}, or ignore_index={ignore_index})"
        )


@register
class NLLLoss(Op):
    name = "nll_loss"
    formula = "ℓ_k = −w_{y_k} · logp[k, y_k] (0 where y_k = ignore_index); mean: Σ ℓ_k / Σ w_{y_k}"
    formula_latex = r"\ell_k=-w_{y_k}\log p_{k,y_k},\quad L=\frac{\sum_k \ell_k}{\sum_k w_{y_k}}"
    derivative = "∂L/∂logp[k, c] = −w_{y_k}/Σ w_{y_j} where c = y_k (not ignored), else 0"
    derivative_latex = r"\frac{\partial L}{\partial \log p_{k,c}}=-\frac{w_{y_k}[c=y_k]}{\sum_j w_{y_j}}"

    @staticmethod
    def _picked(logp, target, weight, ignore_index):
        lp = _class_last(logp)
        t = np.atleast_1d(target) if logp.ndim == 1 else target
        ignored = t == ignore_index
        safe = np.where(ignored, 0, t)
        w = np.ones(safe.shape, dtype=logp.dtype) if weight is None else weight[safe].astype(logp.dtype, copy=False)
        w = np.where(ignored, 0, w).astype(logp.dtype, copy=False)
        return lp, safe, w

    def forward(self, logp, target=None, weight=None, ignore_index=-100, reduction="mean"):
        check_targets(self.name, logp.shape, target, ignore_index)
        lp, safe, w = self._picked(logp, target, weight, ignore_index)
        losses = -w * np.take_along_axis(lp, safe[..., None], axis=-1)[..., 0]
        if reduction == "mean":
            with np.errstate(invalid="ignore", divide="ignore"):  # every target ignored: nan, as PyTorch
                return np.asarray(losses.sum() / w.sum(), dtype=logp.dtype)
        if reduction == "sum":
            return losses.sum()
        return losses[0] if logp.ndim == 1 else losses

    def vjp(self, n, g, logp):
        a = n.attrs
        lp, safe, w = self._picked(logp, a["target"], a["weight"], a["ignore_index"])
        if a["reduction"] == "mean":
            total = w.sum()  # 0 when every target is ignored: the loss is nan, its gradient 0 (PyTorch)
            scale = g / total if total else np.zeros_like(g)
        else:
            scale = g.reshape(safe.shape) if a["reduction"] == "none" else g
        out = np.zeros(lp.shape, dtype=g.dtype)
        picked = 0.0 - w * scale  # not −w·scale: an ignored target's 0 stays +0, as PyTorch's does
        np.put_along_axis(out, safe[..., None], picked[..., None].astype(g.dtype, copy=False), axis=-1)
        return (_class_back(out, logp.ndim),)


class _Elementwise(Op):
    """A loss of the difference d = prediction − target, element by element."""

    inputs = ("role_pred", "role_target")

    def forward(self, pred, target, reduction="mean", **kw):
        _same_shape(self.name, pred, target)
        return _reduce(self.value(pred - target, **kw), reduction)

    def vjp(self, n, g, pred, target):
        a = n.attrs
        kw = {k: v for k, v in a.items() if k != "reduction"}
        gd = _scale(g, pred.size, a["reduction"]) * self.slope(pred - target, **kw)
        return gd, (-gd if n.needs[1] else None)


@register
class L1Loss(_Elementwise):
    name = "l1_loss"
    formula, formula_latex = "L = (1/N) Σ |y'_i − y_i|", r"L=\frac{1}{N}\sum_i\lvert y'_i-y_i\rvert"
    derivative, derivative_latex = "∂L/∂y'_i = sign(y'_i − y_i)/N (0 where they are equal)", r"\frac{\partial L}{\partial y'_i}=\frac{\operatorname{sign}(y'_i-y_i)}{N}"

    def value(self, d):
        return np.abs(d)

    def slope(self, d):
        return np.sign(d)


@register
class SmoothL1Loss(_Elementwise):
    name = "smooth_l1_loss"
    formula = "ℓ_i = ½d²/β if |d| < β else |d| − ½β, d = y'_i − y_i"
    formula_latex = r"\ell_i=\begin{cases}\frac{d^2}{2\beta} & \lvert d\rvert<\beta\\ \lvert d\rvert-\frac{\beta}{2} & \text{otherwise}\end{cases}"
    derivative = "∂ℓ_i/∂y'_i = d/β if |d| < β else sign(d)"
    derivative_latex = r"\frac{\partial \ell_i}{\partial y'_i}=\begin{cases}d/\beta & \lvert d\rvert<\beta\\ \operatorname{sign}(d) & \text{otherwise}\end{cases}"

    def value(self, d, beta=1.0):
        a = np.abs(d)
        if beta == 0:
            return a
        return np.where(a < beta, 0.5 * d * d / beta, a - 0.5 * beta).astype(d.dtype, copy=False)

    def slope(self, d, beta=1.0):
        if beta == 0:
            return np.sign(d)
        return np.where(np.abs(d) < beta, d / beta, np.sign(d)).astype(d.dtype, copy=False)


@register
class HuberLoss(_Elementwise):
    name = "huber_loss"
    formula = "ℓ_i = ½d² if |d| < δ else δ(|d| − ½δ), d = y'_i − y_i"
    formula_latex = r"\ell_i=\begin{cases}\frac{1}{2}d^2 & \lvert d\rvert<\delta\\ \delta(\lvert d\rvert-\frac{\delta}{2}) & \text{otherwise}\end{cases}"
    derivative = "∂ℓ_i/∂y'_i = d if |d| < δ else δ·sign(d)"
    derivative_latex = r"\frac{\partial \ell_i}{\partial y'_i}=\begin{cases}d & \lvert d\rvert<\delta\\ \delta\operatorname{sign}(d) & \text{otherwise}\end{cases}"

    def value(self, d, delta=1.0):
        a = np.abs(d)
        return np.where(a < delta, 0.5 * d * d, delta * (a - 0.5 * delta)).astype(d.dtype, copy=False)

    def slope(self, d, delta=1.0):
        return np.where(np.abs(d) < delta, d, delta * np.sign(d)).astype(d.dtype, copy=False)


def _softplus(x):
    """log(1 + eˣ) without overflow."""
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


@register
class WeightedBCEWithLogitsLoss(Op):
    """Binary cross-entropy from logits with per-element ``weight`` and per-class ``pos_weight``
    (both constants, broadcast against the logits as in PyTorch)."""

    name = "binary_cross_entropy_with_logits_weighted"
    inputs = ("role_logits", "role_target")
    formula = "ℓ = −w[p_w · y · log σ(z) + (1 − y) · log(1 − σ(z))]"
    formula_latex = r"\ell=-w\left[p_w\,y\log\sigma(z)+(1-y)\log(1-\sigma(z))\right]"
    derivative = "∂ℓ/∂z = w[(1 + (p_w − 1)y)σ(z) − p_w·y]; ∂ℓ/∂y = w[(p_w − 1)·softplus(−z) − z]"
    derivative_latex = r"\frac{\partial\ell}{\partial z}=w\left[(1+(p_w-1)y)\sigma(z)-p_w y\right]"

    def forward(self, z, y, weight=None, pos_weight=None, reduction="mean"):
        _same_shape("binary_cross_entropy_with_logits", z, y)
        if pos_weight is None:
            losses = (1 - y) * z + _softplus(-z)
        else:
            losses = (1 - y) * z + (1 + (pos_weight - 1) * y) * _softplus(-z)
        if weight is not None:
            losses = losses * weight
        losses = losses.astype(z.dtype, copy=False)
        return _reduce(losses, reduction)

    def vjp(self, n, g, z, y):
        a = n.attrs
        w, pw = a["weight"], a["pos_weight"]
        size = np.broadcast_shapes(z.shape, *(np.shape(v) for v in (w, pw) if v is not None))
        g = _scale(g, int(np.prod(size)), a["reduction"])
        if w is not None:
            g = g * w
        s = 0.5 * (1 + np.tanh(0.5 * z))
        gz = gy = None
        if n.needs[0]:
            gz = g * (s - y) if pw is None else g * ((1 + (pw - 1) * y) * s - pw * y)
        if n.needs[1]:
            gy = -g * z if pw is None else g * ((pw - 1) * _softplus(-z) - z)
        return gz, gy
