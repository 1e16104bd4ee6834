"""Batch norm's step (``chainrule derive batchnorm``) replayed from a learner's own answers, so that
``chainrule grade batchnorm`` can tell a carried error (σ² right for the learner's wrong μ) from a new
mistake. Each quantity is computed with the engine's ops — the forward pass and backward passes through
the pieces of the elementary graph that ``explain/batchnorm.py`` records (μ = Σx/N, σ² = Σ(x − μ)²/N,
x̂ = (x − μ)/√(σ² + ε), y = γx̂ + β) — from the learner's earlier answers where given (a NaN cell: not
answered, the computed value stands in). The names are the derivation JSON's ``grids`` (and ``loss``).
"""

from __future__ import annotations

import numpy as np


def _t(a, grad=False):
    from .. import float64, tensor

    return tensor(np.asarray(a, dtype=np.float64), dtype=float64, requires_grad=grad)


def _grad(t):
    return np.array(t.grad.array)


def replay(spec, given: dict | None = None) -> dict:
    from ..nn import Parameter
    from ..optim import SGD

    g = given or {}
    q = {}

    def use(name, computed):
        """Record the computed value; go on with the learner's where given."""
        computed = np.asarray(computed, dtype=np.float64)
        q[name] = computed
        if name not in g:
            return computed
        a = np.asarray(g[name], dtype=np.float64).reshape(computed.shape)
        return np.where(np.isnan(a), computed, a)

    xs, ts = spec.batch()
    b = spec.blocks[0]
    n, eps, m = xs.shape[0], float(b.get("eps", 1e-5)), float(b.get("momentum", 0.1))
    x = _t(xs)
    # forward
    mu = use("mu", np.array((x.sum(0) / n).array))
    var = use("var", np.array((((x - _t(mu)) ** 2).sum(0) / n).array))
    sigma = use("sigma", np.array((_t(var) + eps).sqrt().array))
    xhat = use("xhat", np.array(((x - _t(mu)) / _t(sigma)).array))
    gamma = _t(np.asarray(b.get("weight", [1.0]), dtype=np.float64), grad=True)
    beta = _t(np.asarray(b.get("bias", [0.0]), dtype=np.float64), grad=True)
    xhat_leaf = _t(xhat, grad=True)
    y_t = xhat_leaf * gamma + beta
    y = use("y", np.array(y_t.array))
    y_leaf = _t(y, grad=True)
    loss = 0.5 * ((y_leaf - _t(ts)) ** 2).sum()
    loss.backward()
    use("loss", np.array(loss.array))
    # backward: y = γx̂ + β
    dy = use("dL_dy", _grad(y_leaf))
    y_t.backward(_t(dy))
    dgamma, dbeta = use("dL_dgamma", _grad(gamma)), use("dL_dbeta", _grad(beta))
    dxhat = use("dL_dxhat", _grad(xhat_leaf))
    # ∂L/∂σ²: through x̂ = (x − μ)/√(σ² + ε)
    var_leaf = _t(var, grad=True)
    ((x - _t(mu)) / (var_leaf + eps).sqrt()).backward(_t(dxhat))
    dvar = use("dL_dvar", _grad(var_leaf))
    # ∂L/∂μ: through x̂ (σ held at its value) and through σ² = Σ(x − μ)²/N
    mu_leaf = _t(mu, grad=True)
    d = x - mu_leaf
    (((d / _t(sigma)) * _t(dxhat)).sum() + (((d ** 2).sum(0) / n) * _t(dvar)).sum()).backward()
    dmu = use("dL_dmu", _grad(mu_leaf))
    # ∂L/∂x as its three terms: x_i directly in x̂_i, through μ, through σ²
    terms = []
    for name, piece, upstream in (("dL_dx_direct", lambda v: (v - _t(mu)) / _t(sigma), dxhat),
                                  ("dL_dx_mean", lambda v: v.sum(0) / n, dmu),
                                  ("dL_dx_var", lambda v: ((v - _t(mu)) ** 2).sum(0) / n, dvar)):
        leaf = _t(xs, grad=True)
        piece(leaf).backward(_t(upstream))
        terms.append(use(name, _grad(leaf)))
    use("dL_dx", terms[0] + terms[1] + terms[2])
    # the SGD step on γ and β, by the engine's optimizer
    for name, value, grad in (("gamma_after", gamma, dgamma), ("beta_after", beta, dbeta)):
        w = Parameter(_t(np.array(value.array)))
        w.grad = _t(grad)
        SGD([w], lr=spec.lr).step()
        use(name, np.array(w.array))
    # the running statistics from fresh buffers (0 and 1), PyTorch's rule: the unbiased σ²·N/(N − 1)
    use("running_mean", (1 - m) * 0.0 + m * mu)
    use("running_var", (1 - m) * 1.0 + m * var * n / (n - 1))
    return q
