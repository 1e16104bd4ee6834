"""What a derivation replays and warns about: optimizer state and symmetric units.

Optimizer state (momentum buffers, Adam moments) is replayed by the engine's optimizer on the
recorded gradients. Finite differences are ``network.SpecLoss``, shared with ``chainrule check``.
"""

from __future__ import annotations

import numpy as np

from ..network import engine_layout, make_optimizer
from ..nn.module import Parameter
from ..tensor import Tensor


def replay_optimizer(spec, steps) -> list[dict]:
    """Per step, {param name: (state before, state after)} from the engine's optimizer on the recorded grads."""
    names = [k for k in steps[0].params_before if k in steps[0].grads]   # frozen parameters have no state
    params = [Parameter(engine_layout(k, steps[0].params_before[k]).copy()) for k in names]
    opt = make_optimizer(spec, params)
    out = []
    for rec in steps:
        for k, p in zip(names, params):
            p.array[...] = engine_layout(k, rec.params_before[k])
            p.grad = Tensor(engine_layout(k, rec.grads[k]), dtype=p.dtype)
        before = {k: {s: (v.copy() if isinstance(v, np.ndarray) else v) for s, v in opt.state.get(id(p), {}).items()}
                  for k, p in zip(names, params)}
        with np.errstate(all="ignore"):
            opt.step()
        after = {k: dict(opt.state.get(id(p), {})) for k, p in zip(names, params)}
        out.append({k: (before[k], after[k]) for k in names})
    return out


def symmetric_units(params: dict, depth: int) -> list[tuple[int, list[int]]]:
    """(layer, units) for hidden units with identical incoming weights, bias and outgoing weights."""
    found = []
    for li in range(depth - 1):
        w_in, w_out = params[f"W{li + 1}"], params[f"W{li + 2}"]
        b = params.get(f"b{li + 1}")
        groups: dict = {}
        for j in range(w_in.shape[1]):
            sig = (tuple(w_in[:, j]), None if b is None else float(b[j if len(b) > 1 else 0]), tuple(w_out[j, :]))
            groups.setdefault(sig, []).append(j)
        for units in groups.values():
            if len(units) > 1:
                found.append((li, units))
    return found
