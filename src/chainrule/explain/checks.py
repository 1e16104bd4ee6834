"""What a derivation checks and warns about: finite differences, optimizer state, warnings.

Finite differences re-run the engine's own forward pass (``SpecNetwork``) under ``no_grad`` on a
copy of the step's starting parameters, one nudged element at a time, in float64. Optimizer state
(momentum buffers, Adam moments) is replayed by the engine's optimizer on the recorded gradients.
"""

from __future__ import annotations

import numpy as np

from ..autograd import no_grad
from ..network import SpecNetwork, make_optimizer
from ..nn.module import Parameter
from ..tensor import Tensor


def _engine(name, arr):
    """(from, to) record orientation → the engine's (out, in) weight layout."""
    return np.asarray(arr).T if name[0] == "W" else np.asarray(arr)


class LossFunction:
    """L(params) for the spec's data, by the engine's forward pass without recording a graph."""

    def __init__(self, spec):
        self.model = SpecNetwork(spec)
        self.weights = self.model.named_weights()
        self.x = Tensor(spec.x, dtype=np.float64)
        self.y = Tensor(spec.y, dtype=np.int64 if spec.loss == "cross_entropy" else np.float64)

    def load(self, params: dict) -> None:
        for name, p in self.weights.items():
            p.data[...] = _engine(name, params[name])

    def __call__(self) -> float:
        with no_grad(), np.errstate(all="ignore"):
            zs, acts = self.model.forward_trace(self.x)
            return float(self.model.loss(zs, acts, self.y).data)

    def central_difference(self, name: str, index: tuple) -> float:
        p = self.weights[name].data
        at = tuple(reversed(index)) if name[0] == "W" else index
        w = float(p[at])
        h = 1e-6 * max(1.0, abs(w))
        p[at] = w + h
        up = self()
        p[at] = w - h
        down = self()
        p[at] = w
        return (up - down) / (2 * h)


def relative_error(a: float, b: float) -> float:
    scale = max(abs(a), abs(b))
    if not np.isfinite(scale):
        return float("nan")
    return 0.0 if scale < 1e-300 else abs(a - b) / scale


def replay_optimizer(spec, steps) -> list[dict]:
    """Per step, {param name: (state before, state after)} from the engine's optimizer on the recorded grads."""
    names = list(steps[0].params_before)
    params = [Parameter(_engine(k, steps[0].params_before[k]).copy()) for k in names]
    opt = make_optimizer(spec, params)
    out = []
    for rec in steps:
        for k, p in zip(names, params):
            p.data[...] = _engine(k, rec.params_before[k])
            p.grad = _engine(k, rec.grads[k]).copy()
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
            sig = (tuple(w_in[:, j]), None if b is None else float(b[j]), tuple(w_out[j, :]))
            groups.setdefault(sig, []).append(j)
        for units in groups.values():
            if len(units) > 1:
                found.append((li, units))
    return found
