"""Batch norm's step (``chainrule derive batchnorm``) replayed from a learner's own answers, so that
``chainrule grade batchnorm`` can tell a carried error (σ² right for the learner's wrong μ) from a new
mistake. Each quantity is computed with the engine's ops — the forward pass and backward passes through
the pieces of the elementary graph that ``explain/batchnorm.py`` records (μ = Σx/N, σ² = Σ(x − μ)²/N,
x̂ = (x − μ)/√(σ² + ε), y = γx̂ + β) — from the learner's earlier answers where given (a NaN cell: not
answered, the computed value stands in). The names are the derivation JSON's ``grids`` (and ``loss``).
"""

from __future__ import annotations

import numpy as np

from .given import Given, grad_of, leaf


def replay(spec, given: dict | None = None) -> dict:
    from ..nn import Parameter
    from ..optim import SGD

    given_ = Given(given)

    def use(name, computed):
        return given_.use(name, np.asarray(computed, dtype=np.float64))

    xs, ts = spec.batch()
    b = spec.blocks[0]
    n, eps, m = xs.shape[0], float(b.get("eps", 1e-5)), float(b.get("momentum", 0.1))
    x = leaf(xs)
    # forward
    mu = use("mu", np.array((x.sum(0) / n).array))
    var = use("var", np.array((((x - leaf(mu)) ** 2).sum(0) / n).array))
    sigma = use("sigma", np.array((leaf(var) + eps).sqrt().array))
    xhat = use("xhat", np.array(((x - leaf(mu)) / leaf(sigma)).array))
    gamma = leaf(np.asarray(b.get("weight", [1.0]), dtype=np.float64), grad=True)
    beta = leaf(np.asarray(b.get("bias", [0.0]), dtype=np.float64), grad=True)
    xhat_leaf = leaf(xhat, grad=True)
    y_t = xhat_leaf * gamma + beta
    y = use("y", np.array(y_t.array))
    y_leaf = leaf(y, grad=True)
    loss = 0.5 * ((y_leaf - leaf(ts)) ** 2).sum()
    loss.backward()
    use("loss", np.array(loss.array))
    # backward: y = γx̂ + β
    dy = use("dL_dy", grad_of(y_leaf))
    y_t.backward(leaf(dy))
    dgamma, dbeta = use("dL_dgamma", grad_of(gamma)), use("dL_dbeta", grad_of(beta))
    dxhat = use("dL_dxhat", grad_of(xhat_leaf))
    # ∂L/∂σ²: through x̂ = (x − μ)/√(σ² + ε)
    var_leaf = leaf(var, grad=True)
    ((x - leaf(mu)) / (var_leaf + eps).sqrt()).backward(leaf(dxhat))
    dvar = use("dL_dvar", grad_of(var_leaf))
    # ∂L/∂μ: through x̂ (σ held at its value) and through σ² = Σ(x − μ)²/N
    mu_leaf = leaf(mu, grad=True)
    d = x - mu_leaf
    (((d / leaf(sigma)) * leaf(dxhat)).sum() + (((d ** 2).sum(0) / n) * leaf(dvar)).sum()).backward()
    dmu = use("dL_dmu", grad_of(mu_leaf))
    # ∂L/∂x as its three terms: x_i directly in x̂_i, through μ, through σ²
    terms = []
    for name, piece, upstream in (("dL_dx_direct", lambda v: (v - leaf(mu)) / leaf(sigma), dxhat),
                                  ("dL_dx_mean", lambda v: v.sum(0) / n, dmu),
                                  ("dL_dx_var", lambda v: ((v - leaf(mu)) ** 2).sum(0) / n, dvar)):
        x_leaf = leaf(xs, grad=True)
        piece(x_leaf).backward(leaf(upstream))
        terms.append(use(name, grad_of(x_leaf)))
    use("dL_dx", terms[0] + terms[1] + terms[2])
    # the SGD step on γ and β, by the engine's optimizer
    for name, value, grad in (("gamma_after", gamma, dgamma), ("beta_after", beta, dbeta)):
        w = Parameter(leaf(np.array(value.array)))
        w.grad = leaf(grad)
        SGD([w], lr=spec.lr).step()
        use(name, np.array(w.array))
    # the running statistics from fresh buffers (0 and 1), PyTorch's rule: the unbiased σ²·N/(N − 1)
    use("running_mean", (1 - m) * 0.0 + m * mu)
    use("running_var", (1 - m) * 1.0 + m * var * n / (n - 1))
    return given_.computed
