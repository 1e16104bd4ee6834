"""Replaying one training step element by element, the way a learner works it by hand.

A ``Pass`` recomputes every quantity of a step (forward, loss, ∂L/∂y', δ, gradients, update) from
scalars. ``answers`` override computed values (the learner's world: each quantity from the learner's
own earlier answers); a ``knob`` switches on one classic mistake (see ``grading.mistakes``). The
engine's numbers stay the truth: a replay only explains them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


def truth_paths(d, path="") -> dict:
    out = {}
    if isinstance(d, list):
        for k, v in enumerate(d):
            out.update(truth_paths(v, f"{path}[{k}]"))
    elif isinstance(d, dict):
        for k, v in d.items():
            out.update(truth_paths(v, f"{path}.{k}" if path else k))
    elif isinstance(d, (int, float)) and not isinstance(d, bool):
        out[path] = float(d)
    return out


def activate(kind, zs, slope):
    if kind == "none":
        return list(zs)
    if kind == "relu":
        return [max(z, 0.0) for z in zs]
    if kind == "leaky_relu":
        return [z if z > 0 else z * slope for z in zs]
    if kind == "sigmoid":
        return [0.5 * (1 + math.tanh(0.5 * z)) for z in zs]
    if kind == "tanh":
        return [math.tanh(z) for z in zs]
    top = max(zs)
    e = [math.exp(z - top) for z in zs]
    return [v / sum(e) for v in e]


def slope(kind, z, a, slope):
    """da/dz of an element-wise activation (from z for the kinks, from a for σ and tanh)."""
    return {"none": 1.0, "relu": 1.0 if z > 0 else 0.0, "leaky_relu": 1.0 if z > 0 else slope,
            "sigmoid": a * (1 - a), "tanh": 1 - a * a}[kind]


@dataclass
class Pass:
    """One element-wise replay of a step. ``answers`` override computed values (the learner's world);
    ``knob`` switches on one classic mistake."""

    ctx: object
    step: int
    answers: dict
    knob: object = None
    close: object = None
    truth: dict = field(default_factory=dict)
    world: dict = field(default_factory=dict)
    expected: dict = field(default_factory=dict)
    taint: dict = field(default_factory=dict)
    deps: dict = field(default_factory=dict)      # key -> the keys it was computed from directly
    status: dict = field(default_factory=dict)    # filled only by the grading pass
    classify: object = None                       # callback(key, answer, computed, taint) -> (status, taint)

    def put(self, key, computed, deps=()):
        self.expected[key] = computed
        self.deps[key] = tuple(deps)
        t = frozenset().union(*(self.taint.get(d, frozenset()) for d in deps))
        if key in self.answers:
            answer = self.answers[key]
            if self.classify is not None:
                t = self.classify(self, key, answer, computed, t)
            self.world[key] = answer
        else:
            self.world[key] = computed
        self.taint[key] = t
        return self.world[key]


class Context:
    """The spec, the run and the paths; replays steps with answers and knobs."""

    def __init__(self, spec, run):
        self.spec, self.run = spec, run
        self.single = spec.single_sample
        self.truth = [truth_paths(s.to_dict()) for s in run.steps]
        self.opt_state = self._optimizer_states()

    def idx(self, s, j):
        return f"[{j}]" if self.single else f"[{s}][{j}]"

    def _optimizer_states(self):
        """Per step, per parameter: the optimizer's state before that step (from the engine's gradients)."""
        spec, states, prev = self.spec, [], {}
        for step in self.run.steps:
            states.append({n: dict(v) for n, v in prev.items()})
            for name, g in step.grads.items():
                st = prev.setdefault(name, {})
                if spec.optimizer == "momentum":
                    st["buf"] = g.copy() if "buf" not in st else spec.momentum * st["buf"] + g
                elif spec.optimizer == "adam":
                    b1, b2 = spec.betas
                    st["m"] = b1 * st.get("m", 0 * g) + (1 - b1) * g
                    st["v"] = b2 * st.get("v", 0 * g) + (1 - b2) * g * g
        return states

    def update(self, step, name, index, p, g, ascent=False, plain=False, uncorrected=False):
        """The parameter after the step (``plain``: as plain SGD, whatever the optimizer; ``uncorrected``:
        Adam without its bias correction)."""
        spec, sign = self.spec, (-1.0 if ascent else 1.0)
        state = self.opt_state[step - 1].get(name, {})
        if spec.optimizer == "sgd" or plain:
            return p - sign * spec.lr * g
        if spec.optimizer == "momentum":
            buf = g if "buf" not in state else spec.momentum * float(state["buf"][index]) + g
            return p - sign * spec.lr * buf
        b1, b2 = spec.betas
        m = b1 * float(state["m"][index]) + (1 - b1) * g if "m" in state else (1 - b1) * g
        v = b2 * float(state["v"][index]) + (1 - b2) * g * g if "v" in state else (1 - b2) * g * g
        if uncorrected:
            return p - sign * spec.lr * m / (math.sqrt(v) + spec.eps)
        denom = math.sqrt(v) / math.sqrt(1 - b2**step) + spec.eps
        return p - sign * (spec.lr / (1 - b1**step)) * m / denom

    def replay(self, step, answers, knob=None, classify=None, prev=None) -> Pass:
        spec, ps = self.spec, Pass(self, step, answers, knob, truth=self.truth[step - 1], classify=classify)
        L, sizes, acts = spec.depth, spec.layers, spec.activations
        N = spec.batch_size
        truth = self.truth[step - 1]
        # parameters before the step: the engine's for step 1, else the previous replay's params_after
        for key in [k for k in truth if k.startswith("params_before.")]:
            after = key.replace("params_before.", "params_after.", 1)
            if prev is not None and after in prev.world:
                ps.taint[after] = prev.taint.get(after, frozenset())
                ps.world[after] = prev.world[after]
                ps.put(key, prev.world[after], [after])
            else:
                ps.put(key, truth[key])

        def W(layer, i, j):
            return f"params_before.W{layer}[{i}][{j}]"

        def b(layer, j):  # a bias shared by the layer is one number, b[0]
            return f"params_before.b{layer}[{0 if shared(layer) else j}]"

        def shared(layer):
            return sizes[layer] > 1 and f"params_before.b{layer}[1]" not in truth

        def has_b(layer):
            return f"params_before.b{layer}[0]" in truth

        # forward
        prev_a = [[("x", float(spec.x[s][i])) for i in range(sizes[0])] for s in range(N)]
        for layer in range(1, L + 1):
            for s in range(N):
                zs = []
                for j in range(sizes[layer]):
                    keys, total = [], 0.0
                    for i, (akey, aval) in enumerate(prev_a[s]):
                        w = ps.world[W(layer, i, j)]
                        total += (aval if akey == "x" else ps.world[akey]) * w
                        keys += [W(layer, i, j)] + ([akey] if akey != "x" else [])
                    if has_b(layer):
                        total += ps.world[b(layer, j)]
                        keys.append(b(layer, j))
                    zkey = f"forward[{layer - 1}].z{self.idx(s, j)}"
                    zs.append(ps.put(zkey, total, keys))
                zkeys = [f"forward[{layer - 1}].z{self.idx(s, j)}" for j in range(sizes[layer])]
                avals = activate(acts[layer - 1], zs, spec.negative_slope)
                row = []
                for j, av in enumerate(avals):
                    akey = f"forward[{layer - 1}].a{self.idx(s, j)}"
                    deps = zkeys if acts[layer - 1] == "softmax" else [zkeys[j]]
                    ps.put(akey, av, deps)
                    row.append((akey, None))
                prev_a[s] = row
        out = [[ps.put(f"output{self.idx(s, j)}", ps.world[f"forward[{L - 1}].a{self.idx(s, j)}"],
                       [f"forward[{L - 1}].a{self.idx(s, j)}"]) for j in range(sizes[L])] for s in range(N)]
        out_keys = [f"output{self.idx(s, j)}" for s in range(N) for j in range(sizes[L])]
        z_out = [[ps.world[f"forward[{L - 1}].z{self.idx(s, j)}"] for j in range(sizes[L])] for s in range(N)]
        z_keys = [f"forward[{L - 1}].z{self.idx(s, j)}" for s in range(N) for j in range(sizes[L])]

        # loss and ∂L/∂y'
        y = spec.y
        n_total = N * sizes[L]
        # the divisors of a mean: every element (mse, bce) or every sample (cross-entropy); knob "mean"
        # is the learner who forgot them (a sum where the loss is a mean)
        n_mean, n_rows = (1, 1) if knob == "mean" else (n_total, N)
        factor = 1.0
        if knob == "factor2":
            factor = 2.0 if spec.loss == "half_sse" else 0.5
        if spec.loss == "cross_entropy":
            loss = 0.0
            for s in range(N):
                top = max(z_out[s])
                lse = top + math.log(sum(math.exp(z - top) for z in z_out[s]))
                loss += (lse - z_out[s][int(y[s])]) / n_rows
            ps.put("loss", loss, z_keys)
        else:
            terms = []
            for s in range(N):
                for j in range(sizes[L]):
                    p, t = out[s][j], float(y[s][j])
                    if spec.loss == "bce":
                        terms.append(-(t * max(math.log(max(p, 1e-300)), -100.0)
                                       + (1 - t) * max(math.log(max(1 - p, 1e-300)), -100.0)) / n_mean)
                    else:
                        terms.append((p - t) * (p - t))  # inf for huge answers; ** would raise
            scale = {"half_sse": 0.5, "mse": 1 / n_mean, "sse": 1.0, "bce": 1.0}[spec.loss]
            ps.put("loss", factor * scale * sum(terms), out_keys)
            for s in range(N):
                for j in range(sizes[L]):
                    p, t = out[s][j], float(y[s][j])
                    if spec.loss == "half_sse":
                        g = p - t
                    elif spec.loss in ("mse", "sse"):
                        g = 2 * (p - t) / (n_mean if spec.loss == "mse" else 1)
                    else:
                        g = (p - t) / max(p * (1 - p), 1e-12) / n_mean
                    g *= factor * (-1.0 if knob == "sign" else 1.0)
                    ps.put(f"dL_doutput{self.idx(s, j)}", g, [f"output{self.idx(s, j)}"])

        # error terms δ = ∂L/∂z, from the output layer down
        def skip(layer):
            return knob == ("skip", layer)

        def on_path(layer, k):
            """Whether the path through neuron k of the layer above is in ∂L/∂a of ``layer``."""
            if isinstance(knob, tuple) and knob[0] in ("only", "drop") and knob[1] == layer:
                return (k == knob[2]) == (knob[0] == "only")
            return True

        for s in range(N):
            L1 = L - 1
            if spec.loss == "cross_entropy":
                if acts[L1] == "softmax":
                    probs = [ps.world[f"forward[{L1}].a{self.idx(s, j)}"] for j in range(sizes[L])]
                    deps = [f"forward[{L1}].a{self.idx(s, j)}" for j in range(sizes[L])]
                else:
                    probs = activate("softmax", z_out[s], 0)
                    deps = [f"forward[{L1}].z{self.idx(s, j)}" for j in range(sizes[L])]
                for j in range(sizes[L]):
                    d = (probs[j] - (1.0 if j == int(y[s]) else 0.0)) / n_rows
                    ps.put(f"delta[{L1}]{self.idx(s, j)}", -d if knob == "sign" else d, deps)
            else:
                gs = [ps.world[f"dL_doutput{self.idx(s, j)}"] for j in range(sizes[L])]
                gkeys = [f"dL_doutput{self.idx(s, j)}" for j in range(sizes[L])]
                a = [ps.world[f"forward[{L1}].a{self.idx(s, j)}"] for j in range(sizes[L])]
                akeys = [f"forward[{L1}].a{self.idx(s, j)}" for j in range(sizes[L])]
                for j in range(sizes[L]):
                    if skip(L) or acts[L1] == "none":
                        d, deps = gs[j], [gkeys[j]]
                    elif acts[L1] == "softmax":
                        d = sum(gs[k] * a[k] * ((1.0 if k == j else 0.0) - a[j]) for k in range(sizes[L]))
                        deps = gkeys + akeys
                    else:
                        z = ps.world[f"forward[{L1}].z{self.idx(s, j)}"]
                        d = gs[j] * slope(acts[L1], z, a[j], spec.negative_slope)
                        deps = [gkeys[j], akeys[j], f"forward[{L1}].z{self.idx(s, j)}"]
                    ps.put(f"delta[{L1}]{self.idx(s, j)}", d, deps)
            for layer in range(L - 1, 0, -1):
                for j in range(sizes[layer]):
                    total, deps = 0.0, []
                    for k in range(sizes[layer + 1]):
                        if not on_path(layer, k):
                            continue
                        wkey = W(layer + 1, j, k)
                        if knob == "updated":
                            after = wkey.replace("params_before.", "params_after.", 1)
                            w = self.answers_or_truth(ps, after)
                        else:
                            w = ps.world[wkey]
                        if knob == ("weight", layer):
                            w = 1.0
                        dkey = f"delta[{layer}]{self.idx(s, k)}"
                        total += ps.world[dkey] * w
                        deps += [dkey, wkey]
                    zkey, akey = f"forward[{layer - 1}].z{self.idx(s, j)}", f"forward[{layer - 1}].a{self.idx(s, j)}"
                    if not skip(layer):
                        total *= slope(acts[layer - 1], ps.world[zkey], ps.world[akey], spec.negative_slope)
                        deps += [zkey, akey]
                    ps.put(f"delta[{layer - 1}]{self.idx(s, j)}", total, deps)

        # gradients, from the output layer down (the order backpropagation finds them, and so the order
        # in which the report looks for the first real mistake), then the update
        for layer in range(L, 0, -1):
            for i in range(sizes[layer - 1]):
                for j in range(sizes[layer]):
                    total, deps = 0.0, []
                    for s in range(N):
                        dkey = f"delta[{layer - 1}]{self.idx(s, j)}"
                        if layer == 1:
                            a = float(spec.x[s][i])
                        else:
                            akey = f"forward[{layer - 2}].a{self.idx(s, i)}"
                            a = ps.world[akey]
                            deps.append(akey)
                        total += ps.world[dkey] * a
                        deps.append(dkey)
                    if f"grad.W{layer}[{i}][{j}]" in truth:  # frozen weights have no gradient
                        ps.put(f"grad.W{layer}[{i}][{j}]", total, deps)
            if has_b(layer) and f"grad.b{layer}[0]" in truth:
                groups = [list(range(sizes[layer]))] if shared(layer) else [[j] for j in range(sizes[layer])]
                for g, js in enumerate(groups):
                    keys = [f"delta[{layer - 1}]{self.idx(s, j)}" for s in range(N) for j in js]
                    ps.put(f"grad.b{layer}[{g}]", sum(ps.world[k] for k in keys), keys)
        for key in [k for k in truth if k.startswith("params_after.")]:
            name = key.split(".")[1].split("[")[0]
            index = tuple(int(v) for v in key[key.index("["):].strip("[]").split("]["))
            before, gkey = key.replace("params_after.", "params_before.", 1), key.replace("params_after.", "grad.", 1)
            if gkey not in truth:  # a frozen parameter keeps its value
                ps.put(key, ps.world[before], [before])
                continue
            ps.put(key, self.update(step, name, index, ps.world[before], ps.world[gkey], ascent=knob == "ascent",
                                      plain=knob == "momentum", uncorrected=knob == "adam_bias"),
                   [before, gkey])
        return ps

    @staticmethod
    def answers_or_truth(ps, key):
        return ps.answers.get(key, ps.truth[key])

