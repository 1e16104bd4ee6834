"""Softmax and log-softmax along one axis, computed from shifted logits so ±1000 is fine."""

from __future__ import annotations

import functools
import math

import numpy as np

from .base import Op, register


def log_softmax(a, axis=-1):
    """z − max − log Σ e^(z − max), with the sum's largest term (exactly 1) taken out and added back by
    log1p: the top class keeps its digits (log softmax = −e^(−gap), not 0, when the gap is 40 in
    float64), and the result is a sum of two non-positive terms, so nothing cancels."""
    return _finite_rows(a, axis, softmax=False)[0]


def picked_log_softmax(a, picks, softmax=False):
    """For rows of logits (N, C): the entries of log softmax(a) at the flat indices ``picks`` (one per row,
    ``row_starts(N, C) + labels`` for cross-entropy's true classes), and softmax(a) after it when asked,
    from one pass of exponentials (cross-entropy's loss and gradient need no more; the other entries of
    log softmax are never formed). Softmax is e^(z − max) / Σ e^(z − max), every entry to full relative
    precision."""
    return _finite_rows(a, 1, softmax, picks)


def _finite_rows(a, axis, softmax, picks=None):
    if not a.size:  # nothing to normalise: empty results, as in PyTorch (a maximum over nothing fails)
        log_p = a.copy() if picks is None else np.zeros(len(picks), a.dtype)
        return [log_p, a.copy()] if softmax else [log_p]
    if a.ndim == 2 and axis in (1, -1):
        # Rows of logits: each row's largest by argmax (the first, or the first nan, as a maximum would
        # propagate it), read at its flat index. NumPy's maximum over a short last axis is 3-4x slower
        # than argmax, and reading or writing at flat indices 3-4x faster than at (row, column) pairs.
        at_top = row_starts(*a.shape) + a.argmax(axis=1)
        top = a.take(at_top)[:, None]
    else:
        at_top, top = None, np.maximum.reduce(a, axis=axis, keepdims=True)  # the ufunc: a.max() adds dispatch
    # One sum tells whether every maximum is finite (an overflowing sum only sends a finite input the
    # careful way, which gives the same numbers).
    if math.isfinite(np.add.reduce(top, axis=None)):
        return _log_softmax(a, top, axis, softmax, picks, at_top)
    with np.errstate(invalid="ignore"):  # an inf or nan along the axis gives nan there, as in PyTorch
        finite = np.isfinite(top)
        return [np.where(finite if x.ndim == a.ndim else finite[:, 0], x, np.nan)
                for x in _log_softmax(a, top, axis, softmax, picks, at_top)]


@functools.lru_cache(maxsize=32)
def row_starts(n: int, c: int) -> np.ndarray:
    """``arange(n) * c``, made once per shape and read-only: where each row of a C-ordered (n, c) array
    starts in its flat order, so ``row_starts(n, c) + columns`` picks one entry per row."""
    index = np.arange(n) * c
    index.flags.writeable = False
    return index


def _log_softmax(a, top, axis, softmax, picks=None, at_top=None):
    shifted = np.subtract(a, top, order="C")  # C order whatever a's: flat indices and views rely on it
    e = np.exp(shifted)
    # The top term e^0 = 1 is set aside for the sum (log1p adds it back exactly).
    if at_top is not None:  # rows of logits (2-D, last axis), at_top their flat indices
        flat = e.reshape(-1)  # a view: e is this function's own C-ordered array
        flat[at_top] = 0
        rest = np.add.reduce(e, axis=1, keepdims=True)
        if softmax:
            flat[at_top] = 1
    else:
        at_top = np.expand_dims(np.argmax(a, axis=axis), axis)
        np.put_along_axis(e, at_top, 0, axis=axis)
        rest = e.sum(axis=axis, keepdims=True)
        if softmax:
            np.put_along_axis(e, at_top, 1, axis=axis)
    log_sum = np.log1p(rest)
    log_p = shifted - log_sum if picks is None else shifted.take(picks) - log_sum[:, 0]
    if not softmax:
        return [log_p]
    e /= 1 + rest  # e is this function's own array: divided in place
    return [log_p, e]


@register
class Softmax(Op):
    twice_differentiable = True
    name = "softmax"
    uses_output = True
    uses_inputs = False
    formula, formula_latex = "s_i = e^(z_i) / Σ_j e^(z_j)", r"s_i=\frac{e^{z_i}}{\sum_j e^{z_j}}"
    derivative, derivative_latex = "∂s_i/∂z_j = s_i(δ_ij − s_j)", r"\frac{\partial s_i}{\partial z_j}=s_i(\delta_{ij}-s_j)"
    # Explanation rule (chainrule.explain): templates filled with symbols or with numbers.
    # {exps} is the denominator written out; {kd} is 1 when i = j, else 0.
    explain = {"name": "softmax", "f": "e^({z})/({exps})", "f_latex": r"\frac{{e^{{{z}}}}}{{{exps}}}",
               "exp": "e^({z})", "exp_latex": "e^{{{z}}}",
               "d": "{si}({kd} − {sj})", "d_latex": r"{si}\left({kd}-{sj}\right)"}

    def forward(self, a, axis=-1):
        if not a.size:  # nothing to normalise: the empty result, as in PyTorch (a maximum over nothing fails)
            return a.copy()
        e = np.exp(a - a.max(axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True)

    def vjp(self, n, g, a):
        s = n.out
        return (s * (g - (g * s).sum(axis=n.attrs["axis"], keepdims=True)),)

    # Code export (over the last axis, the only one a spec uses): shift by the largest logit, as forward does.
    # The helpers are named after the logits (z_out_max, z_out_sum, ...): a cross-entropy over the same
    # logits reuses them instead of computing the softmax again (CrossEntropyLoss.export).
    def export(self, c, t):
        z = t.grad_fn.parents[0]
        if c.lang == "torch":
            return [f"{c.v(t)} = torch.softmax({c.v(z)}, dim=-1)"]
        if c.lang == "np":
            shifted, e, total = c.tmp(z, "shifted"), c.tmp(z, "exp"), c.tmp(z, "sum")
            return ["# shifted by the largest logit, so that e^z cannot overflow",
                    f"{shifted} = {c.v(z)} - {c.v(z)}.max(axis=-1, keepdims=True)",
                    f"{e} = np.exp({shifted})",
                    f"{total} = {e}.sum(axis=-1, keepdims=True)",
                    f"{c.v(t)} = {e} / {total}"]
        top, total = c.tmp(z, "max"), c.tmp(z, "sum")
        js = list(c.elements(t))
        lines = ["# shifted by the largest logit, so that e^z cannot overflow",
                 f"{top} = max({', '.join(c.v(z, j) for j in js)})"]
        lines.append(f"{total} = {' + '.join(f'math.exp({c.v(z, j)} - {top})' for j in js)}")
        return lines + [f"{c.v(t, j)} = math.exp({c.v(z, j)} - {top}) / {total}" for j in js]

    def export_vjp(self, c, t):
        z = t.grad_fn.parents[0]
        if not z.requires_grad:
            return []
        if c.lang == "np":
            return [c.acc(z, None, f"{c.v(t)} * ({c.g(t)} - ({c.g(t)} * {c.v(t)}).sum(axis=-1, keepdims=True))")]
        dot = c.tmp(t, "dot")
        js = list(c.elements(t))
        lines = [f"{dot} = {' + '.join(f'{c.g(t, j)} * {c.v(t, j)}' for j in js)}"]
        return lines + [c.acc(z, j, f"{c.v(t, j)} * ({c.g(t, j)} - {dot})") for j in js]


@register
class LogSoftmax(Op):
    twice_differentiable = True
    name = "log_softmax"
    uses_output = True
    uses_inputs = False
    formula, formula_latex = "z_i − log Σ_j e^(z_j)", r"z_i-\log\sum_j e^{z_j}"
    derivative, derivative_latex = "∂/∂z_j = δ_ij − softmax(z)_j", r"\delta_{ij}-\operatorname{softmax}(z)_j"

    def forward(self, a, axis=-1):
        return log_softmax(a, axis)

    def vjp(self, n, g, a):
        axis = n.attrs["axis"]
        return (g - n.xp.exp(n.out) * g.sum(axis=axis, keepdims=True),)


@register
class LogSumExp(Op):
    twice_differentiable = True
    name = "logsumexp"
    uses_output = True
    formula, formula_latex = "log Σ_j e^(z_j)", r"\log\sum_j e^{z_j}"
    derivative, derivative_latex = "∂/∂z_j = softmax(z)_j", r"\operatorname{softmax}(z)_j"

    def forward(self, a, axis=-1, keepdims=False):
        if not a.size:  # log of an empty sum is −inf, as in PyTorch (a maximum over nothing fails)
            with np.errstate(divide="ignore"):
                return np.log(np.add.reduce(np.exp(a), axis=axis, keepdims=keepdims))
        top = a.max(axis=axis, keepdims=True)
        finite = np.isfinite(top)
        top = np.where(finite, top, 0)  # all -inf (or an inf) along the axis: no shift
        e = np.exp(a - top)
        total = e.sum(axis=axis, keepdims=True)
        # After the shift the largest term is e^0 = 1: log1p of the others keeps them when they are tiny.
        np.put_along_axis(e, np.expand_dims(np.argmax(a, axis=axis), axis), 0, axis=axis)
        with np.errstate(divide="ignore"):
            out = top + np.where(finite, np.log1p(e.sum(axis=axis, keepdims=True)), np.log(total))
        return out if keepdims else out.squeeze(axis)

    def vjp(self, n, g, a):
        axis = n.attrs["axis"]
        xp = n.xp
        out = n.out if n.attrs["keepdims"] else xp.expand_dims(n.out, axis)
        g = g if n.attrs["keepdims"] else xp.expand_dims(g, axis)
        values = xp.values(a)  # a is a tensor under create_graph
        top = values.max(axis=axis, keepdims=True) if values.size else None
        if top is None or not np.isfinite(top).all():  # (an empty a: the empty gradient)
            with np.errstate(invalid="ignore"):  # inf − inf: nan where PyTorch has nan, without the warning
                return (g * xp.exp(a - out),)
        # softmax(z) from the shifted logits, not e^(z − out): out is rounded, and at |out| = 1000 that
        # rounding alone would cost e^(z − out) three digits.
        e = xp.exp(a - top)
        return (g * (e / e.sum(axis=axis, keepdims=True)),)
