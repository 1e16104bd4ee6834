"""Loss functions as fused ops: one forward, one exact backward, no intermediate nodes.

Each takes (prediction, target) and a ``reduction`` of 'mean', 'sum' or 'none'.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import LabelRangeError, ShapeError
from .base import Op, register
from .elementwise import sigmoid
from .reduce import mean_of_nothing
from .softmax import picked_log_softmax, row_starts


def _reduce(values, reduction):
    if reduction == "mean":
        return _mean(values)
    if reduction == "sum":
        return values.sum()
    return values


def _mean(values):
    """``values.mean()`` to the same bits without its ~4 µs of Python-level bookkeeping: for float32
    and float64 NumPy sums in the values' dtype, divides by the count in float64 and rounds back."""
    dtype = values.dtype
    if values.size == 0:
        return mean_of_nothing(values)
    if dtype.kind != "f" or dtype.itemsize not in (4, 8):
        return values.mean()  # integers, float16 (summed in float32), long double: NumPy's own rules
    # a Python float divides in float64, as NumPy's mean does, without making NumPy scalars
    return dtype.type(float(np.add.reduce(values, axis=None)) / values.size)


def _scale(g, values_size, reduction):
    """The upstream gradient spread over the per-element losses.

    A 0-d float32 or float64 gradient (the usual loss.backward()) is divided as a Python float: the
    double quotient rounded to float32 is the correctly rounded float32 quotient itself (double has more
    than twice its digits), so the number is NumPy's, without NumPy's ~0.7 µs per scalar operation.
    (Counts over 2**24, which float32 cannot hold exactly, and other dtypes go through NumPy.)"""
    if reduction != "mean" or not values_size:  # spread over no elements, the gradient is empty anyway
        return g
    if type(g) is np.ndarray and g.ndim == 0 and g.dtype.kind == "f" and g.dtype.itemsize in (4, 8) \
            and values_size <= 16_777_216:
        return g.dtype.type(float(g) / values_size)
    return g / values_size


def _size(x) -> int:
    """Element count of an array or a tensor (whose ``size`` is a method, as in PyTorch)."""
    return math.prod(x.shape)  # np.prod costs ~3 µs of Python-level dispatch per call


def _same_shape(op, pred, target):
    if pred.shape != target.shape:
        raise ShapeError(
            f"{op}: prediction and target must have the same shape, got prediction {pred.shape} "
            f"and target {target.shape}"
        )


def _per(reduction, count):
    """Code export: the divisor a 'mean' reduction writes (nothing for 'sum' or a count of 1)."""
    if reduction not in ("mean", "sum"):
        raise NotImplementedError(f"reduction {reduction!r} has no code-export rule")
    return f" / {count}" if reduction == "mean" and count != 1 else ""


def _total(terms):
    """Code export: a sum of per-element terms, parenthesised when there is more than one."""
    return terms[0] if len(terms) == 1 else f"({' + '.join(terms)})"


@register
class MSELoss(Op):
    twice_differentiable = True
    name = "mse_loss"
    inputs = ("role_pred", "role_target")
    formula, formula_latex = "L = (1/N) Σ (y'_i − y_i)²", r"L=\frac{1}{N}\sum_i (y'_i-y_i)^2"
    derivative, derivative_latex = "∂L/∂y'_i = 2(y'_i − y_i)/N", r"\frac{\partial L}{\partial y'_i}=\frac{2}{N}(y'_i-y_i)"
    # Explanation rule (chainrule.explain): templates filled with symbols or with numbers.
    # {n} counts the averaged elements; "_sum" variants are reduction="sum" (the spec's sse), "_1" is n = 1.
    explain = {"count": "size", "term": "({y} − {p})²", "term_latex": r"\left({y}-{p}\right)^{{2}}",
               "loss": "(1/{n})[{terms}]", "loss_latex": r"\frac{{1}}{{{n}}}\left[{terms}\right]",
               "loss_1": "{terms}", "loss_1_latex": "{terms}", "loss_sum": "{terms}", "loss_sum_latex": "{terms}",
               "d": "2({p} − {y})/{n}", "d_latex": r"\frac{{2\left({p}-{y}\right)}}{{{n}}}",
               "d_1": "2({p} − {y})", "d_1_latex": r"2\left({p}-{y}\right)",
               "d_sum": "2({p} − {y})", "d_sum_latex": r"2\left({p}-{y}\right)"}

    def forward(self, pred, target, reduction="mean"):
        _same_shape(self.name, pred, target)
        d = pred - target
        return _reduce(d * d, reduction)

    def vjp(self, n, g, pred, target):
        gd = _scale(g, _size(pred), n.attrs["reduction"]) * 2 * (pred - target)
        return gd, (-gd if n.needs[1] else None)

    def export(self, c, t):
        p, per = t.grad_fn.parents[0], _per(t.grad_fn.attrs["reduction"], t.grad_fn.parents[0].array.size)
        if c.lang == "torch":
            return [f"{c.v(t)} = torch.nn.functional.mse_loss({c.v(p)}, {c.target()}, reduction={t.grad_fn.attrs['reduction']!r})"]
        if c.lang == "np":
            return [f"{c.v(t)} = np.sum(({c.v(p)} - {c.target()}) ** 2){per}"]
        return [c.loss_line(_total([f"({c.v(p, j)} - {c.target(j)}) ** 2" for j in c.elements(p)]) + per)]

    def export_vjp(self, c, t):
        p, per = t.grad_fn.parents[0], _per(t.grad_fn.attrs["reduction"], t.grad_fn.parents[0].array.size)
        return [c.acc(p, j, f"2 * ({c.v(p, j)} - {c.target(j)}){per}") for j in c.elements(p)]


@register
class HalfSSELoss(Op):
    twice_differentiable = True
    name = "half_sse_loss"
    inputs = ("role_pred", "role_target")
    formula, formula_latex = "L = ½ Σ (y_i − y'_i)²", r"L=\frac{1}{2}\sum_i (y_i-y'_i)^2"
    derivative, derivative_latex = "∂L/∂y'_i = y'_i − y_i", r"\frac{\partial L}{\partial y'_i}=y'_i-y_i"
    # Explanation rule (chainrule.explain): templates filled with symbols or with numbers.
    explain = {"count": "size", "term": "({y} − {p})²", "term_latex": r"\left({y}-{p}\right)^{{2}}",
               "loss": "½[{terms}]", "loss_latex": r"\frac{{1}}{{2}}\left[{terms}\right]",
               "loss_1": "½{terms}", "loss_1_latex": r"\frac{{1}}{{2}}{terms}",
               "d": "{p} − {y}", "d_latex": "{p}-{y}"}

    def forward(self, pred, target):
        _same_shape(self.name, pred, target)
        d = pred - target
        return 0.5 * (d * d).sum()

    def vjp(self, n, g, pred, target):
        gd = g * (pred - target)
        return gd, (-gd if n.needs[1] else None)

    def export(self, c, t):
        p = t.grad_fn.parents[0]
        if c.lang == "torch":
            return [f"{c.v(t)} = 0.5 * (({c.target()} - {c.v(p)}) ** 2).sum()"]
        if c.lang == "np":
            return [f"{c.v(t)} = 0.5 * np.sum(({c.target()} - {c.v(p)}) ** 2)"]
        return [c.loss_line("0.5 * " + _total([f"({c.target(j)} - {c.v(p, j)}) ** 2" for j in c.elements(p)]))]

    def export_vjp(self, c, t):
        p = t.grad_fn.parents[0]
        return [c.acc(p, j, f"{c.v(p, j)} - {c.target(j)}") for j in c.elements(p)]


_UNSIGNED = {np.dtype(t): np.dtype(t).str.replace("i", "u") for t in (np.int8, np.int16, np.int32, np.int64)}


def labels_in_range(labels, classes) -> bool:
    """Whether every integer label is in 0..classes-1, in one reduction: read as unsigned integers,
    negative labels are the largest values, so one maximum bounds both ends."""
    if not labels.size:
        return True
    dtype = labels.dtype
    unsigned = labels if dtype.kind == "u" else labels.view(_UNSIGNED.get(dtype) or dtype.str.replace("i", "u"))
    return bool(np.maximum.reduce(unsigned, axis=None) < classes)


def _check_labels(labels, classes):
    if labels.dtype.kind not in "iu":
        raise ShapeError(f"cross_entropy: labels must be integer class indices, got dtype {labels.dtype}")
    if not labels_in_range(labels, classes):  # the culprit is looked for only on failure
        bad = np.flatnonzero((labels < 0) | (labels >= classes))
        i = int(bad[0])
        raise LabelRangeError(
            f"cross_entropy: label {int(labels[i])} at index {i} is out of range for {classes} classes "
            f"(valid labels are 0..{classes - 1})"
        )


def _flat_index(logits, labels) -> np.ndarray:
    """Where each row's true class sits in the flat order of C-ordered (N, C) logits, after checking that
    the labels (N,) are class indices."""
    _check_labels(labels, logits.shape[1])
    return np.add(row_starts(*logits.shape), labels, dtype=np.intp)


@register
class CrossEntropyLoss(Op):
    """Softmax cross-entropy from logits (N, C) or (C,) and integer class labels."""

    name = "cross_entropy"
    formula, formula_latex = "L = −log softmax(z)_y", r"L=-\log\frac{e^{z_y}}{\sum_j e^{z_j}}"
    derivative, derivative_latex = "∂L/∂z_j = softmax(z)_j − [j = y]", r"\frac{\partial L}{\partial z_j}=\operatorname{softmax}(z)_j-[j=y]"
    # Explanation rule (chainrule.explain): templates filled with symbols or with numbers.
    # {s} is softmax(z)_j (for the loss: of the true class), {t} is [j = y] (1 or 0), {n} the batch size.
    explain = {"count": "rows", "term": "ln {s}", "term_latex": r"\ln {s}",
               "loss": "−(1/{n})[{terms}]", "loss_latex": r"-\frac{{1}}{{{n}}}\left[{terms}\right]",
               "loss_1": "−{terms}", "loss_1_latex": "-{terms}",
               "d": "({s} − {t})/{n}", "d_latex": r"\frac{{{s}-{t}}}{{{n}}}", "d_1": "{s} − {t}", "d_1_latex": "{s}-{t}"}

    def forward(self, logits, labels=None, reduction="mean", saved=None):
        """``saved`` (a dict, given when a backward may follow) receives the true classes' log softmax,
        the softmax (from the same pass of exponentials) and the true classes' flat indices, so backward
        does not compute them again."""
        logits2 = logits[None, :] if logits.ndim == 1 else logits
        labels2 = labels if labels.ndim else labels.reshape(1)
        if logits2.ndim != 2 or labels2.shape != (logits2.shape[0],):
            raise ShapeError(
                f"cross_entropy: expected logits (N, C) with labels (N,), got logits {logits.shape} "
                f"and labels {np.shape(labels)}"
            )
        at_label = _flat_index(logits2, labels2)
        if saved is None:  # log softmax of each sample's true class
            (picked,) = picked_log_softmax(logits2, at_label)
        else:
            picked, saved["softmax"] = picked_log_softmax(logits2, at_label, softmax=True)
            saved["picked"], saved["at_label"] = picked, at_label
        if reduction == "none":
            return (-picked).reshape(()) if logits.ndim == 1 else -picked
        loss = -_reduce(picked, reduction)  # −Σ log p and Σ −log p are the same number (negation is exact)
        return loss if picked.size else loss + 0  # but an empty sum is +0 (PyTorch's too), and −(+0) is −0

    def vjp(self, n, g, logits):
        saved = n.attrs.get("saved") or {}
        logits2 = logits[None, :] if logits.ndim == 1 else logits
        # The true classes as they were in the forward pass, kept for every backward (the labels array
        # is the caller's, who may change it in place between two backward passes of a retained graph).
        at_label = saved.get("at_label")
        if at_label is None:
            labels = n.attrs["labels"]
            at_label = _flat_index(logits2, labels if labels.ndim else labels.reshape(1))
        if "softmax" in saved:  # the forward's; the gradient is written into it, so take it only once
            picked, grad = saved.pop("picked"), saved.pop("softmax")
        else:
            picked, grad = picked_log_softmax(logits2, at_label, softmax=True)
        # softmax − 1 at the true class as expm1(log softmax): the digits of 1 − p survive when p ≈ 1.
        grad.reshape(-1)[at_label] = np.expm1(picked)  # grad is C-ordered: reshape gives a view
        g = _scale(g, len(at_label), n.attrs["reduction"])
        grad *= g.reshape(-1, 1) if g.ndim else g  # grad is this backward's own array
        return (grad.reshape(logits.shape),)

    # Code export: the targets are written one-hot (c.target(j) is 1 for the sample's class, else 0).
    # When the graph also has softmax(z) (the spec's softmax output layer), its lines come first and
    # name the shifted logits and the sum of exponentials after z (Softmax.export): the loss reuses
    # them, and its backward is the softmax output minus the target, so nothing is computed twice.
    def export(self, c, t):
        z, attrs = t.grad_fn.parents[0], t.grad_fn.attrs
        per = _per(attrs["reduction"], np.atleast_1d(attrs["labels"]).size)
        if c.lang == "torch":
            return [f"{c.v(t)} = torch.nn.functional.cross_entropy({c.v(z)}, {c.target()}, reduction={attrs['reduction']!r})"]
        probs = c.softmax_of(z, before=t)
        if c.lang == "np":
            shifted, total, log_p = c.tmp(z, "shifted"), c.tmp(z, "sum"), c.tmp(z, "log_p")
            lines = [] if probs is not None else [
                f"{shifted} = {c.v(z)} - {c.v(z)}.max(axis=-1, keepdims=True)",
                f"{total} = np.exp({shifted}).sum(axis=-1, keepdims=True)"]
            return lines + ["# log softmax(z), from the shifted logits: finite even where softmax(z) underflows to 0",
                            f"{log_p} = {shifted} - np.log({total})",
                            f"{c.v(t)} = -np.sum({c.target()} * {log_p}){per}"]
        top, total, js = c.tmp(z, "max"), c.tmp(z, "sum"), list(c.elements(z))
        lines = [] if probs is not None else [
            f"{top} = max({', '.join(c.v(z, j) for j in js)})",
            f"{total} = {' + '.join(f'math.exp({c.v(z, j)} - {top})' for j in js)}"]
        return lines + [
            "# log softmax(z)_j = z_j − max − log(sum): finite even where softmax(z)_j underflows to 0",
            c.loss_line(f"-({' + '.join(f'{c.target(j)} * ({c.v(z, j)} - {top} - math.log({total}))' for j in js)}){per}")]

    def export_vjp(self, c, t):
        z, attrs = t.grad_fn.parents[0], t.grad_fn.attrs
        per = _per(attrs["reduction"], np.atleast_1d(attrs["labels"]).size)
        probs = c.softmax_of(z, before=t)
        if c.lang == "np":
            p = c.v(probs) if probs is not None else f"np.exp({c.tmp(z, 'log_p')})"
            return [c.acc(z, None, f"({p} - {c.target()}){per}")]
        top, total = c.tmp(z, "max"), c.tmp(z, "sum")
        lines = []
        for j in c.elements(z):
            p = c.v(probs, j) if probs is not None else f"math.exp({c.v(z, j)} - {top}) / {total}"
            lines.append(c.acc(z, j, f"({p} - {c.target(j)}){per}" if per else f"{p} - {c.target(j)}"))
        return lines


_BCE_EPS = float(np.float32(1e-12))  # PyTorch's clamp of p(1 − p) in BCE's backward (a float32 1e-12)
_LOG_FLOOR = -100.0  # PyTorch clamps BCE's logarithms here so that p = 0 or 1 gives a finite loss


@register
class BCELoss(Op):
    twice_differentiable = True
    name = "binary_cross_entropy"
    inputs = ("role_pred", "role_target")
    formula, formula_latex = "L = −[y log p + (1 − y) log(1 − p)]", r"L=-\left[y\log p+(1-y)\log(1-p)\right]"
    derivative, derivative_latex = "∂L/∂p = (p − y) / (p(1 − p))", r"\frac{\partial L}{\partial p}=\frac{p-y}{p(1-p)}"
    # Explanation rule (chainrule.explain): templates filled with symbols or with numbers.
    explain = {"count": "size", "term": "{y}·ln {p} + (1 − {y})·ln(1 − {p})",
               "term_latex": r"{y}\ln {p}+\left(1-{y}\right)\ln\left(1-{p}\right)",
               "loss": "−(1/{n})[{terms}]", "loss_latex": r"-\frac{{1}}{{{n}}}\left[{terms}\right]",
               "loss_1": "−[{terms}]", "loss_1_latex": r"-\left[{terms}\right]",
               "d": "({p} − {y})/({n}·{p}(1 − {p}))", "d_latex": r"\frac{{{p}-{y}}}{{{n}\,{p}\left(1-{p}\right)}}",
               "d_1": "({p} − {y})/({p}(1 − {p}))", "d_1_latex": r"\frac{{{p}-{y}}}{{{p}\left(1-{p}\right)}}"}

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
        outside = np.flatnonzero(~((target >= 0) & (target <= 1)))
        if outside.size:
            i = tuple(int(k) for k in np.unravel_index(int(outside[0]), target.shape))
            raise ShapeError(
                f"binary_cross_entropy: all elements of target should be between 0 and 1, but target{list(i)} = "
                f"{float(target[i])!r} (target shape {target.shape}); targets are probabilities (0 or 1 for a label)"
            )
        # PyTorch's kernel, term for term: (y − 1)·max(log1p(−p), −100) − y·max(log p, −100).
        with np.errstate(divide="ignore"):
            log_p = np.maximum(np.log(p), _LOG_FLOOR)
            log_q = np.maximum(np.log1p(-p), _LOG_FLOOR)
        return _reduce((target - 1) * log_q - target * log_p, reduction)

    def vjp(self, n, g, p, target):
        g = _scale(g, _size(p), n.attrs["reduction"])
        gp = gt = None
        if n.needs[0]:
            # PyTorch: (p − y) / max((1 − p)p, 1e-12), so p = 0 or 1 gives a large finite slope.
            gp = g * (p - target) / n.xp.maximum((1 - p) * p, _BCE_EPS)
        if n.needs[1]:
            # PyTorch: −logit(p) = −log(p/(1 − p)), unclamped: +inf at p = 0, −inf at p = 1.
            with np.errstate(divide="ignore"):
                gt = g * -n.xp.log(p / (1 - p))
        return gp, gt

    # Code export: the logarithms are clamped at -100 as in forward (and PyTorch), so p = 0 or 1 stays finite.
    def export(self, c, t):
        p, per = t.grad_fn.parents[0], _per(t.grad_fn.attrs["reduction"], t.grad_fn.parents[0].array.size)
        if c.lang == "torch":
            return [f"{c.v(t)} = torch.nn.functional.binary_cross_entropy({c.v(p)}, {c.target()}, "
                    f"reduction={t.grad_fn.attrs['reduction']!r})"]
        if c.lang == "np":
            p, y = c.v(p), c.target()
            return [f"{c.v(t)} = -np.sum({y} * np.maximum(np.log({p}), -100.0) "
                    f"+ (1 - {y}) * np.maximum(np.log1p(-{p}), -100.0)){per}"]
        terms = [f"{c.target(j)} * max(math.log(max({c.v(p, j)}, 1e-300)), -100.0) + (1 - {c.target(j)}) * "
                 f"max(math.log(max(1 - {c.v(p, j)}, 1e-300)), -100.0)" for j in c.elements(p)]
        return [c.loss_line(f"-({' + '.join(terms)}){per}")]

    def export_vjp(self, c, t):
        p, per = t.grad_fn.parents[0], _per(t.grad_fn.attrs["reduction"], t.grad_fn.parents[0].array.size)
        if c.lang == "np":
            return [c.acc(p, None, f"({c.v(p)} - {c.target()}) / np.maximum({c.v(p)} * (1 - {c.v(p)}), 1e-12){per}")]
        return [c.acc(p, j, f"({c.v(p, j)} - {c.target(j)}) / max({c.v(p, j)} * (1 - {c.v(p, j)}), 1e-12){per}")
                for j in c.elements(p)]


@register
class BCEWithLogitsLoss(Op):
    twice_differentiable = True
    name = "binary_cross_entropy_with_logits"
    inputs = ("role_logits", "role_target")
    formula, formula_latex = "L = −[y log σ(z) + (1 − y) log(1 − σ(z))]", r"L=-\left[y\log\sigma(z)+(1-y)\log(1-\sigma(z))\right]"
    derivative, derivative_latex = "∂L/∂z = σ(z) − y", r"\frac{\partial L}{\partial z}=\sigma(z)-y"

    def forward(self, z, target, reduction="mean"):
        _same_shape(self.name, z, target)
        return _reduce(np.maximum(z, 0) - z * target + np.log1p(np.exp(-np.abs(z))), reduction)

    def vjp(self, n, g, z, target):
        g = _scale(g, _size(z), n.attrs["reduction"])
        # σ(z) − y written as (1 − y)σ(z) − yσ(−z): no 1 − ε cancellation when y = 1 and z ≫ 0.
        gz = g * ((1 - target) * sigmoid(z, n.xp) - target * sigmoid(-z, n.xp)) if n.needs[0] else None
        gt = -g * z if n.needs[1] else None
        return gz, gt
