"""Grade hand-worked answers: each value right or wrong, the correct value, the derivation line, the
likely cause of a mistake, and carried errors (wrong only because an earlier answer was wrong).

Answers come in the JSON shape of ``StepRecord.to_dict()`` / ``chainrule derive --format json``
(any subset). The engine's numbers are the truth. To find causes and carried errors, one training
step is replayed element by element (``_Pass``) three ways: in the learner's world (every quantity
computed from the learner's own earlier answers where given), and under each classic mistake
("knobs": sign of ∂L/∂y', the ½ of the loss, the 1/N of a mean, a missing activation derivative,
weights already updated), both from the learner's answers and from the engine's numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from . import notation
from .errors import SpecError
from .io import parse_config, read_text
from .network import run as run_spec
from .spec import load_spec

STEP_KEYS = {"step", "forward", "output", "loss", "dL_doutput", "delta", "grad", "params_after", "params_before"}
IGNORED_STEP_KEYS = {"entries", "check", "warnings"}               # present in derive's JSON, not answers
IGNORED_TOP_KEYS = {"format", "version", "spec", "lang", "notation", "precision", "form", "name"}
MAX_BYTES = 1_000_000
KNOBS = ("sign", "factor2", "updated", "ascent")                    # plus ("skip", layer) per activation layer
MEAN_LOSSES = ("mse", "bce", "cross_entropy")                       # + "mean" (1/N forgotten) where N > 1


# ----------------------------------------------------------------------------- reading answers
def _parse_file(path: str) -> dict:
    text = read_text(path, kind="answer files", max_bytes=MAX_BYTES, missing="no such answer file")
    return parse_config(text, path, as_json=path.endswith(".json") or text.lstrip().startswith("{"))


def _steps_of(raw: dict, where: str) -> list[tuple[int, dict]]:
    if "steps" in raw:
        extra = sorted(set(raw) - {"steps"} - IGNORED_TOP_KEYS)
        if extra:
            raise SpecError(f"{where}: key '{extra[0]}': not allowed next to 'steps' (put it inside a step)")
        if not isinstance(raw["steps"], list) or not raw["steps"]:
            raise SpecError(f"{where}: key 'steps': expected a non-empty list of steps")
        items = raw["steps"]
    else:
        items = [{k: v for k, v in raw.items() if k not in IGNORED_TOP_KEYS}]
    out = []
    for n, item in enumerate(items):
        prefix = f"steps[{n}]." if "steps" in raw else ""
        if not isinstance(item, dict):
            raise SpecError(f"{where}: key '{prefix.rstrip('.') or 'steps'}': expected a table of answers")
        unknown = sorted(set(item) - STEP_KEYS - IGNORED_STEP_KEYS)
        if unknown:
            raise SpecError(f"{where}: key '{prefix}{unknown[0]}': unknown (answer keys: {', '.join(sorted(STEP_KEYS))})")
        step = item.get("step", n + 1)
        if isinstance(step, bool) or not isinstance(step, int) or step < 1:
            raise SpecError(f"{where}: key '{prefix}step': expected a step number 1, 2, ..., got {step!r}")
        out.append((step, item))
    steps = [s for s, _ in out]
    if len(set(steps)) != len(steps):
        raise SpecError(f"{where}: key 'steps': step {max(steps, key=steps.count)} is answered twice")
    return out


def _flatten(answer, truth, path: str, where: str, out: dict) -> None:
    """Walk ``answer`` alongside the engine's ``truth`` of the same shape; leaves go to ``out[path]``."""
    if answer is None or (isinstance(answer, str) and answer.strip() in ("", "?")):
        return  # left blank
    if isinstance(truth, list):
        if not isinstance(answer, list):
            if len(truth) == 1 and not isinstance(truth[0], list):
                answer = [answer]
            else:
                raise SpecError(f"{where}: key '{path}': expected a list of {len(truth)} values, got {answer!r}")
        if len(answer) != len(truth):
            raise SpecError(f"{where}: key '{path}': expected {len(truth)} entries, got {len(answer)}")
        for k, (a, t) in enumerate(zip(answer, truth)):
            _flatten(a, t, f"{path}[{k}]", where, out)
        return
    if isinstance(answer, bool) or not isinstance(answer, (int, float)) or not math.isfinite(answer):
        raise SpecError(f"{where}: key '{path}': expected a number, got {answer!r}")
    out[path] = float(answer)


def _flatten_step(item: dict, truth: dict, where: str, prefix: str) -> dict:
    out = {}
    for key, value in item.items():
        if key in ("step", *IGNORED_STEP_KEYS):
            continue
        if key == "forward":
            if not isinstance(value, list):
                raise SpecError(f"{where}: key '{prefix}forward': expected a list of layers ([[forward]] in TOML)")
            for n, layer in enumerate(value):
                if not isinstance(layer, dict):
                    raise SpecError(f"{where}: key '{prefix}forward[{n}]': expected a table with z and/or a")
                index = layer.get("layer", n + 1)
                if isinstance(index, bool) or not isinstance(index, int) or not 1 <= index <= len(truth["forward"]):
                    raise SpecError(f"{where}: key '{prefix}forward[{n}].layer': expected 1..{len(truth['forward'])}, "
                                    f"got {index!r}")
                extra = sorted(set(layer) - {"layer", "z", "a"})
                if extra:
                    raise SpecError(f"{where}: key '{prefix}forward[{n}].{extra[0]}': unknown (a layer has z and a)")
                for part in ("z", "a"):
                    if part in layer:
                        _flatten(layer[part], truth["forward"][index - 1][part], f"forward[{index - 1}].{part}", where, out)
            continue
        if value is None:
            continue
        if truth.get(key) is None:
            raise SpecError(f"{where}: key '{prefix}{key}': not defined for this network "
                            "(with cross-entropy the loss takes the logits z: answer delta instead)")
        if key in ("grad", "params_after", "params_before"):
            if not isinstance(value, dict):
                raise SpecError(f"{where}: key '{prefix}{key}': expected a table of parameters ({', '.join(truth[key])})")
            for name, v in value.items():
                if name not in truth[key]:
                    raise SpecError(f"{where}: key '{prefix}{key}.{name}': no such parameter "
                                    f"(this network has {', '.join(truth[key])}; W matrices in (from, to) order)")
                _flatten(v, truth[key][name], f"{key}.{name}", where, out)
            continue
        _flatten(value, truth[key], key, where, out)
    return out


# ----------------------------------------------------------------------------- replaying a step
def _truth_paths(d, path="") -> dict:
    out = {}
    if isinstance(d, list):
        for k, v in enumerate(d):
            out.update(_truth_paths(v, f"{path}[{k}]"))
    elif isinstance(d, dict):
        for k, v in d.items():
            out.update(_truth_paths(v, f"{path}.{k}" if path else k))
    elif isinstance(d, (int, float)) and not isinstance(d, bool):
        out[path] = float(d)
    return out


def _activate(kind, zs, slope):
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


def _slope(kind, z, a, slope):
    """da/dz of an element-wise activation (from z for the kinks, from a for σ and tanh)."""
    return {"none": 1.0, "relu": 1.0 if z > 0 else 0.0, "leaky_relu": 1.0 if z > 0 else slope,
            "sigmoid": a * (1 - a), "tanh": 1 - a * a}[kind]


@dataclass
class _Pass:
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
    status: dict = field(default_factory=dict)    # filled only by the grading pass
    classify: object = None                       # callback(key, answer, computed, taint) -> (status, taint)

    def put(self, key, computed, deps=()):
        self.expected[key] = computed
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


class _Context:
    """The spec, the run and the paths; replays steps with answers and knobs."""

    def __init__(self, spec, run):
        self.spec, self.run = spec, run
        self.single = spec.single_sample
        self.truth = [_truth_paths(s.to_dict()) for s in run.steps]
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

    def update(self, step, name, index, p, g, ascent=False):
        spec, sign = self.spec, (-1.0 if ascent else 1.0)
        state = self.opt_state[step - 1].get(name, {})
        if spec.optimizer == "sgd":
            return p - sign * spec.lr * g
        if spec.optimizer == "momentum":
            buf = g if "buf" not in state else spec.momentum * float(state["buf"][index]) + g
            return p - sign * spec.lr * buf
        b1, b2 = spec.betas
        m = b1 * float(state["m"][index]) + (1 - b1) * g if "m" in state else (1 - b1) * g
        v = b2 * float(state["v"][index]) + (1 - b2) * g * g if "v" in state else (1 - b2) * g * g
        denom = math.sqrt(v) / math.sqrt(1 - b2**step) + spec.eps
        return p - sign * (spec.lr / (1 - b1**step)) * m / denom

    def replay(self, step, answers, knob=None, classify=None, prev=None) -> _Pass:
        spec, ps = self.spec, _Pass(self, step, answers, knob, truth=self.truth[step - 1], classify=classify)
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

        def b(layer, j):
            return f"params_before.b{layer}[{j}]"

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
                avals = _activate(acts[layer - 1], zs, spec.negative_slope)
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
                        terms.append((p - t) ** 2)
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

        for s in range(N):
            L1 = L - 1
            if spec.loss == "cross_entropy":
                if acts[L1] == "softmax":
                    probs = [ps.world[f"forward[{L1}].a{self.idx(s, j)}"] for j in range(sizes[L])]
                    deps = [f"forward[{L1}].a{self.idx(s, j)}" for j in range(sizes[L])]
                else:
                    probs = _activate("softmax", z_out[s], 0)
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
                        d = gs[j] * _slope(acts[L1], z, a[j], spec.negative_slope)
                        deps = [gkeys[j], akeys[j], f"forward[{L1}].z{self.idx(s, j)}"]
                    ps.put(f"delta[{L1}]{self.idx(s, j)}", d, deps)
            for layer in range(L - 1, 0, -1):
                for j in range(sizes[layer]):
                    total, deps = 0.0, []
                    for k in range(sizes[layer + 1]):
                        wkey = W(layer + 1, j, k)
                        if knob == "updated":
                            after = wkey.replace("params_before.", "params_after.", 1)
                            w = self.answers_or_truth(ps, after)
                        else:
                            w = ps.world[wkey]
                        dkey = f"delta[{layer}]{self.idx(s, k)}"
                        total += ps.world[dkey] * w
                        deps += [dkey, wkey]
                    zkey, akey = f"forward[{layer - 1}].z{self.idx(s, j)}", f"forward[{layer - 1}].a{self.idx(s, j)}"
                    if not skip(layer):
                        total *= _slope(acts[layer - 1], ps.world[zkey], ps.world[akey], spec.negative_slope)
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
                    ps.put(f"grad.W{layer}[{i}][{j}]", total, deps)
            if has_b(layer):
                for j in range(sizes[layer]):
                    keys = [f"delta[{layer - 1}]{self.idx(s, j)}" for s in range(N)]
                    ps.put(f"grad.b{layer}[{j}]", sum(ps.world[k] for k in keys), keys)
        for key in [k for k in truth if k.startswith("params_after.")]:
            name = key.split(".")[1].split("[")[0]
            index = tuple(int(v) for v in key[key.index("["):].strip("[]").split("]["))
            before, gkey = key.replace("params_after.", "params_before.", 1), key.replace("params_after.", "grad.", 1)
            ps.put(key, self.update(step, name, index, ps.world[before], ps.world[gkey], ascent=knob == "ascent"),
                   [before, gkey])
        return ps

    @staticmethod
    def answers_or_truth(ps, key):
        return ps.answers.get(key, ps.truth[key])


# ----------------------------------------------------------------------------- grading
@dataclass
class Mark:
    step: int
    key: str
    symbol: str
    given: float
    correct: float
    status: str                 # "right", "wrong" or "carried"
    derivation: str
    cause: str | None = None
    carried_from: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"step": self.step, "key": self.key, "symbol": self.symbol, "given": self.given,
                "correct": self.correct, "status": self.status, "derivation": self.derivation,
                "cause": self.cause, "carried_from": self.carried_from}


@dataclass
class Report:
    spec: str
    marks: list
    tolerance: str

    @property
    def counts(self) -> dict:
        return {s: sum(m.status == s for m in self.marks) for s in ("right", "wrong", "carried")}

    @property
    def all_right(self) -> bool:
        return all(m.status == "right" for m in self.marks)

    def to_dict(self) -> dict:
        return {"spec": self.spec, "tolerance": self.tolerance, "counts": self.counts,
                "all_right": self.all_right, "marks": [m.to_dict() for m in self.marks]}


def tolerance_check(sig_digits: int | None = 3, rtol: float | None = None):
    """``close(answer, value)``: equal to ``sig_digits`` significant digits (half a unit in the last
    digit kept), or within ``rtol`` relative error when given."""
    def close(a, v):
        if rtol is not None:
            return abs(a - v) <= rtol * abs(v) + 1e-12
        if v == 0 or abs(v) < 1e-300:
            return abs(a) <= 0.5 * 10.0 ** (-sig_digits - 6)
        unit = 10.0 ** (math.floor(math.log10(abs(v))) - sig_digits + 1)
        return abs(a - v) <= 0.5 * unit * (1 + 1e-9)
    return close


def _derivation_lines(spec, steps: int) -> dict:
    """(step, key) -> (symbol, expression) from the derivation explainer (chainrule.explain)."""
    from .explain import derive

    try:
        entries = derive(spec, steps=steps).entries
    except Exception:  # noqa: BLE001 - a derivation that cannot be written still leaves the grade usable
        return {}
    return {(e["step"], e["key"]): (e["symbol"], e["expression"]) for e in entries}


def _fallback_symbol(spec, key: str) -> str:
    style = notation.default_style(spec.depth)
    for part in ("grad.", "params_after.", "params_before."):
        if key.startswith(part):
            name = key[len(part):].split("[")[0]
            index = tuple(int(v) for v in key[key.index("["):].strip("[]").split("]["))
            symbol = notation.param(name, index, style)
            return {"grad.": f"∂L/∂{symbol}", "params_after.": f"{symbol} (after)", "params_before.": symbol}[part]
    return key


def grade(spec, answers_path: str, sig_digits: int | None = 3, rtol: float | None = None) -> Report:
    """Mark every answer in ``answers_path`` against the engine's run of ``spec``."""
    spec = load_spec(spec)
    where = str(answers_path)
    items = _steps_of(_parse_file(where), where)
    n_steps = max(step for step, _ in items)
    result = run_spec(spec, steps=n_steps)
    ctx = _Context(spec, result)
    answers = {}
    for n, (step, item) in enumerate(items):
        prefix = f"steps[{n}]." if len(items) > 1 or "step" in item else ""
        answers[step] = _flatten_step(item, result.steps[step - 1].to_dict(), where, prefix)
    if not any(answers.values()):
        raise SpecError(f"{where}: no answers found (give e.g. loss = ..., or [grad] W1 = [[...]])")
    close = tolerance_check(sig_digits, rtol)
    lines = _derivation_lines(spec, n_steps)
    knobs = _knobs(spec)
    marks, prev = [], None
    for step in range(1, n_steps + 1):
        given = answers.get(step, {})
        variants = {}
        for knob in knobs:  # each mistake, from the learner's answers and from the engine's numbers
            variants[knob] = (ctx.replay(step, given, knob).expected, ctx.replay(step, {}, knob).world)
        causes: dict = {}

        def classify(ps, key, answer, computed, taint, variants=variants, causes=causes):
            truth = ps.truth[key]
            if close(answer, truth):
                causes[key] = ("right", None, [])
                return frozenset()
            if taint and close(answer, computed):
                causes[key] = ("carried", None, sorted(taint))
                return taint
            causes[key] = ("wrong", _cause(ctx, ps, key, answer, truth, variants, close), [])
            return frozenset({key})

        ps = ctx.replay(step, given, None, classify=classify, prev=prev)
        prev = ps
        for key in ps.expected:
            if key not in given:
                continue
            status, cause, origin = causes[key]
            symbol, derivation = lines.get((step, key), (None, None))
            symbol = symbol or _fallback_symbol(spec, key)
            truth = ps.truth[key]
            marks.append(Mark(step, key, symbol, given[key], truth, status,
                              derivation or f"{symbol} = {truth!r}", cause, list(origin)))
    symbols = {(m.step, m.key): m.symbol for m in marks}
    for m in marks:
        m.carried_from = [f"{symbols.get((m.step, k), k)} ({k})" for k in m.carried_from]
    tol = f"rtol {rtol:g}" if rtol is not None else f"{sig_digits} significant digits"
    return Report(spec.name, marks, tol)


def _mean_count(spec) -> int:
    """The N a mean loss divides by: every output element (mse, bce) or every sample (cross-entropy)."""
    return spec.batch_size * (1 if spec.loss == "cross_entropy" else spec.layers[-1])


def _knobs(spec) -> list:
    """The classic mistakes that can happen with this spec's loss, activations and batch."""
    knobs = [k for k in KNOBS if k != "factor2" or spec.loss in ("half_sse", "mse", "sse")]
    if spec.loss in MEAN_LOSSES and _mean_count(spec) > 1:
        knobs.append("mean")
    return knobs + [("skip", layer) for layer in range(1, spec.depth + 1)
                    if spec.activations[layer - 1] != "none"
                    and not (layer == spec.depth and spec.loss == "cross_entropy")]


def _neuron(spec, layer, j):
    """Symbol of z_j in ``layer`` (1-based), the seed's way for two-layer networks."""
    style = notation.default_style(spec.depth)
    if layer == spec.depth:
        return f"z_out,{j + 1}" if spec.layers[-1] > 1 else "z_out"
    return notation.neuron("z", layer, j + 1, spec.depth, style)


def _cause(ctx, ps, key, answer, truth, variants, close) -> str | None:
    """The classic mistake that reproduces ``answer``, if one does."""
    spec = ctx.spec
    names = {
        "sign": "a sign error in ∂L/∂y': it is y' − y (prediction minus target), not y − y'",
        "factor2": ("the ½ of the loss forgotten (a factor of 2): with L = ½(y − y')², ∂L/∂y' = y' − y"
                    if spec.loss == "half_sse" else
                    "a factor of 2: the derivative of (y' − y)² is 2(y' − y)"),
        "updated": ("the update applied with already-updated weights: every gradient of this step must use "
                    "the weights from before the update"),
        "ascent": "the update went the wrong way: w ← w − η·∂L/∂w (minus, down the gradient)",
        "mean": (f"the 1/N of the mean forgotten (N = {_mean_count(spec)}, the number of "
                 f"{'samples' if spec.loss == 'cross_entropy' else 'values averaged, samples × outputs'}): "
                 "the loss is a mean, so it and every gradient carry the factor 1/N"),
    }
    found = []  # every classic mistake that reproduces the answer (some coincide, e.g. sign and ascent)
    for knob, (learner_world, truth_world) in variants.items():
        for candidate in (learner_world.get(key), truth_world.get(key)):
            if candidate is not None and not close(candidate, truth) and close(answer, candidate):
                if isinstance(knob, tuple):
                    layer = knob[1]
                    text = (f"a missing activation derivative: the {spec.activations[layer - 1]}'(z) factor of "
                            f"layer {layer} belongs in this product")
                elif knob == "sign" and not key.startswith(("dL_doutput", "delta", "grad", "params_after")):
                    continue
                else:
                    text = names[knob]
                if text not in found:
                    found.append(text)
    if found:
        return "; or ".join(found)
    # a factor taken from the wrong neuron (the seed's ∂z_1/∂w'_13)
    w = ps.world
    idx = ctx.idx
    if key.startswith("grad.W"):
        layer = int(key[6:key.index("[")])
        i, j = (int(v) for v in key[key.index("["):].strip("[]").split("]["))
        N = spec.batch_size

        def a_prev(s, i2):
            return float(spec.x[s][i2]) if layer == 1 else w[f"forward[{layer - 2}].a{idx(s, i2)}"]

        for j2 in range(spec.layers[layer]):
            if j2 != j:
                cand = sum(w[f"delta[{layer - 1}]{idx(s, j2)}"] * a_prev(s, i) for s in range(N))
                if not close(cand, truth) and close(answer, cand):
                    return (f"a factor taken from the wrong neuron: ∂L/∂{_neuron(spec, layer, j2)} used where "
                            f"∂L/∂{_neuron(spec, layer, j)} belongs (like the seed's ∂z_1/∂w'_13)")
        for i2 in range(spec.layers[layer - 1]):
            if i2 != i:
                cand = sum(w[f"delta[{layer - 1}]{idx(s, j)}"] * a_prev(s, i2) for s in range(N))
                if not close(cand, truth) and close(answer, cand):
                    src = f"x_{i2 + 1}" if layer == 1 else notation.neuron("a", layer - 1, i2 + 1, spec.depth)
                    right = f"x_{i + 1}" if layer == 1 else notation.neuron("a", layer - 1, i + 1, spec.depth)
                    return f"a factor taken from the wrong neuron: {src} used where {right} belongs"
        if layer < spec.depth:  # δ_j built from another neuron's outgoing weights
            for j2 in range(spec.layers[layer]):
                if j2 == j:
                    continue
                cand = 0.0
                for s in range(N):
                    back = sum(w[f"delta[{layer}]{idx(s, k)}"] * w[f"params_before.W{layer + 1}[{j2}][{k}]"]
                               for k in range(spec.layers[layer + 1]))
                    z, a = w[f"forward[{layer - 1}].z{idx(s, j)}"], w[f"forward[{layer - 1}].a{idx(s, j)}"]
                    cand += back * _slope(spec.activations[layer - 1], z, a, spec.negative_slope) * a_prev(s, i)
                if not close(cand, truth) and close(answer, cand):
                    return (f"a factor taken from the wrong neuron: the weights out of {_neuron(spec, layer, j2)} "
                            f"used where those out of {_neuron(spec, layer, j)} belong")
    if key.startswith(("forward[", "output")):
        head, _, rest = key.partition("[")
        base = key[:key.rindex("[")]
        last = int(key[key.rindex("[") + 1:-1])
        for j2 in range(spec.layers[-1] if head == "output" else spec.layers[int(rest.split("]")[0]) + 1]):
            other = f"{base}[{j2}]"
            if j2 != last and other in ps.truth and close(answer, ps.truth[other]) and not close(ps.truth[other], truth):
                return f"the value of another neuron (neuron {j2 + 1} instead of {last + 1})"
    return None
