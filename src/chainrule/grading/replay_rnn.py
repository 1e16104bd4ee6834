"""The unrolled RNN's step (``chainrule derive rnn``) replayed from a learner's own answers, so that
``chainrule grade rnn`` can tell a carried error (∂L/∂a_t right for the learner's wrong ∂L/∂h_t) from a
new mistake. Each quantity is computed with the engine's ops — ``linear`` and the activation forward,
their vector-Jacobian products backward, one SGD step — from the learner's earlier answers where
given (a NaN cell: not answered, the computed value stands in). Backpropagation through time runs
from the last step back, each ∂L/∂h_t from the learner's ∂L/∂ŷ_t and ∂L/∂a_(t+1). The names are the
derivation JSON's ``grids`` (and ``loss``).
"""

from __future__ import annotations

import numpy as np

from .given import Given, grad_of, leaf


def replay(spec, given: dict | None = None) -> dict:
    from .. import functional as F
    from ..nn import Parameter
    from ..optim import SGD

    given_ = Given(given)
    g = given_.given

    def use(name, computed):
        return given_.use(name, np.asarray(computed, dtype=np.float64))

    rnn, lin = spec.blocks
    act = F.tanh if rnn.get("nonlinearity", "tanh") == "tanh" else F.relu
    T, _ = spec.input_shape
    H, n_out = int(rnn["hidden_size"]), int(lin["out"])
    steps = [T - 1] if rnn.get("last", False) else list(range(T))  # the steps with a readout (0-based)
    X = np.asarray(spec.x, dtype=np.float64)
    Y = np.asarray(spec.y, dtype=np.float64).reshape(-1, n_out)
    W = {"W_ih": np.asarray(rnn["weight_ih"], dtype=np.float64), "W_hh": np.asarray(rnn["weight_hh"], dtype=np.float64),
         "V": np.asarray(lin["weight"], dtype=np.float64)}
    for k, key in (("b_ih", "bias_ih"), ("b_hh", "bias_hh")):
        if rnn.get("bias", True):
            W[k] = np.asarray(rnn[key], dtype=np.float64)
    h0 = np.asarray(rnn.get("h0", np.zeros(H)), dtype=np.float64)

    def b(k):
        return leaf(W[k]) if k in W else None

    # forward, step by step, each from the learner's h_(t−1)
    a_rows, h_rows = [], []
    a_given, h_given = g.get("a"), g.get("h")
    prev = h0
    for t in range(T):
        a_t = F.linear(leaf(X[t]), leaf(W["W_ih"]), b("b_ih")) + F.linear(leaf(prev), leaf(W["W_hh"]), b("b_hh"))
        a_rows.append(np.array(a_t.array))
        a_used = _pick(a_given, t, a_rows[-1])
        h_rows.append(np.array(act(leaf(a_used)).array))
        prev = _pick(h_given, t, h_rows[-1])
    A, HS = use("a", np.stack(a_rows)), use("h", np.stack(h_rows))
    prevs = [h0] + [HS[t] for t in range(T - 1)]
    YH = use("yhat", np.stack([np.array(F.linear(leaf(HS[t]), leaf(W["V"])).array) for t in steps]))
    yhat_leaf = leaf(YH, grad=True)
    loss = 0.5 * ((yhat_leaf - leaf(Y)) ** 2).sum()
    loss.backward()
    use("loss", np.array(loss.array))
    GY = use("dL_dyhat", grad_of(yhat_leaf))
    row = {t: r for r, t in enumerate(steps)}
    # backpropagation through time: ∂L/∂h_t from ŷ_t and from a_(t+1); ∂L/∂a_t through the activation
    dh_rows, da_rows = [None] * T, [None] * T
    dh_given, da_given = g.get("dL_dh"), g.get("dL_da")
    da_next = None
    for t in range(T - 1, -1, -1):
        h_leaf = leaf(HS[t], grad=True)
        paths = []  # the last step always has a readout; every earlier one has the step after it
        if t in row:
            paths.append((F.linear(h_leaf, leaf(W["V"])) * leaf(GY[row[t]])).sum())
        if da_next is not None:
            paths.append((F.linear(h_leaf, leaf(W["W_hh"])) * leaf(da_next)).sum())
        sum(paths[1:], paths[0]).backward()
        dh_rows[t] = grad_of(h_leaf)
        dh_used = _pick(dh_given, t, dh_rows[t])
        a_leaf = leaf(A[t], grad=True)
        act(a_leaf).backward(leaf(dh_used))
        da_rows[t] = grad_of(a_leaf)
        da_next = _pick(da_given, t, da_rows[t])
    use("dL_dh", np.stack(dh_rows))
    DA = use("dL_da", np.stack(da_rows))

    # each shared weight's gradient: one term per step (the linear op's vector-Jacobian product), summed
    def term(inp, upstream, shape):
        w = leaf(np.zeros(shape), grad=True)
        F.linear(leaf(inp), w).backward(leaf(upstream))
        return grad_of(w)

    terms = {"W_hh": use("dL_dW_hh_terms", np.stack([term(prevs[t], DA[t], W["W_hh"].shape) for t in range(T)])),
             "W_ih": use("dL_dW_ih_terms", np.stack([term(X[t], DA[t], W["W_ih"].shape) for t in range(T)])),
             "V": use("dL_dV_terms", np.stack([term(HS[t], GY[row[t]], W["V"].shape) for t in steps]))}
    grads = {}
    for k in W:
        if k in terms:
            value = terms[k].sum(0)
        else:  # a bias: each step adds ∂L/∂a_t
            value = DA.sum(0)
        shown = value[None] if value.ndim == 1 else value
        grads[k] = use(f"dL_d{k}", shown).reshape(value.shape)
    for k, value in W.items():
        w = Parameter(leaf(value))
        w.grad = leaf(grads[k])
        SGD([w], lr=spec.lr).step()
        after = np.array(w.array)
        use(f"{k}_after", after[None] if after.ndim == 1 else after)
    return given_.computed


def _pick(given, t, computed):
    """Row ``t`` of the learner's grid where answered (NaN cells: the computed value), else ``computed``."""
    if given is None:
        return computed
    row = np.asarray(given, dtype=np.float64)[t].reshape(computed.shape)
    return np.where(np.isnan(row), computed, row)
