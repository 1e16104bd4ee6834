"""Worksheets: one variant of a network per student, with hand-friendly numbers, and the rules that
keep a variant fair.

A variant keeps the template spec's shape (layers, activations, biases, loss, optimizer) and draws
new weights, biases, inputs and targets from small pools of "hand-friendly" values (one decimal, or
a small integer). ``variant(template, seed, index)`` is a pure function of its arguments: the same
seed and student number always give the same numbers.

A drawn variant is rejected (and the next draw tried) when

* ``mistake-invisible``: a classic mistake the grader knows would go unseen: every blank it changes
  still comes out right to the grader's tolerance, or (for the factor taken from the wrong neuron, a
  mistake made in one blank) it gives the right number in some blank. The mistakes are the grader's
  own: every knob ``chainrule.grade`` replays (sign of ∂L/∂y', the ½ of the loss, the 1/N of a mean,
  a missing activation derivative, weights already updated, an update the wrong way, and any added
  there later) plus the factor taken from the wrong neuron;
* ``factor-of-one``: a weight or an input is 0 or ±1 (a factor of one hides a forgotten factor: the
  seed's w'' = 1 trap; the pools never draw them, the rule guards hand-made specs);
* ``saturated``: an activation sits where its slope vanishes (σ with |z| > 3, tanh with |z| > 2,
  ReLU exactly at its kink, a softmax probability over 0.99), so the backward pass is all zeros;
* ``unwieldy``: a blank's value is larger than 1000 or smaller than 0.001 (but not 0) in magnitude.

The blanks are the derivation's own entries (``chainrule.explain``), in the order it writes them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from . import grade as grade_mod
from .errors import SpecError
from .network import run as run_spec
from .numbers import fmt
from .spec import Spec, load_spec

MAX_TRIES = 500
MAX_SAMPLES = 4
MAX_PARAMS = 40
LIMIT_BIG, LIMIT_SMALL = 1000.0, 1e-3
SATURATION = {"sigmoid": 3.0, "tanh": 2.0}
RULES = ("mistake-invisible", "factor-of-one", "saturated", "unwieldy")

# hand-friendly pools: one decimal, never 0 or ±1 (a factor of one hides a forgotten factor)
WEIGHTS = tuple(v / 10 for v in range(-9, 10) if v not in (0,))
BIASES = tuple(v / 10 for v in range(-5, 6) if v != 0)
INPUTS_INT = (-3, -2, 2, 3, 4, 5)
INPUTS_DEC = tuple(v / 10 for v in range(-9, 10) if v != 0)
TARGETS_INT = tuple(range(-5, 11))
TARGETS_UNIT = tuple(v / 10 for v in range(1, 10))
LEARNING_RATES = (0.5, 0.1, 0.05, 0.01)


@dataclass
class Variant:
    """One student's numbers: ``id`` (``s01``), its ``spec`` and the draws rejected before it."""

    id: str
    index: int
    seed: int
    spec: Spec
    raw: dict
    rejected: list = field(default_factory=list)   # [(rule, detail)] of the draws before this one


# ----------------------------------------------------------------------------- drawing
def check_template(template: Spec) -> None:
    where = f"worksheet: spec '{template.name}'"
    if template.batch_size > MAX_SAMPLES:
        raise SpecError(f"{where} has {template.batch_size} samples; a worksheet worked by hand takes at most {MAX_SAMPLES}")
    if template.n_params > MAX_PARAMS:
        raise SpecError(f"{where} has {template.n_params} parameters; a worksheet takes at most {MAX_PARAMS}")
    if template.optimizer != "sgd":
        raise SpecError(f"{where} uses {template.optimizer}; worksheets are for plain SGD (optimizer = \"sgd\")")


def _lr(template: Spec) -> float:
    """The template's η when it is hand-friendly (one significant digit, 0.01..1), else 0.1."""
    lr = template.lr
    if 0.01 <= lr <= 1 and float(f"{lr:.1g}") == lr:
        return lr
    return 0.1


def draw_raw(template: Spec, rng: np.random.Generator, lr: float | None = None) -> dict:
    """A spec dict shaped like ``template`` with freshly drawn hand-friendly numbers."""
    sizes, acts, n = template.layers, template.activations, template.batch_size
    linear = all(a in ("none", "relu", "leaky_relu") for a in acts)

    def pick(pool, shape):
        kind = int if all(isinstance(v, int) for v in pool) else float
        return np.asarray(pool, dtype=kind)[rng.integers(0, len(pool), size=shape)].tolist()

    weights = [pick(WEIGHTS, (sizes[k], sizes[k + 1])) for k in range(template.depth)]
    biases = [pick(BIASES, (sizes[k + 1],)) if template.bias[k] else None for k in range(template.depth)]
    x = pick(INPUTS_INT if linear else INPUTS_DEC, (n, sizes[0]))
    out = sizes[-1]
    if template.loss == "cross_entropy":
        y = [int(v) for v in rng.integers(0, out, size=n)]
    elif template.loss == "bce":
        y = pick((0.0, 1.0), (n, out))
    elif acts[-1] in ("sigmoid", "softmax"):
        y = pick(TARGETS_UNIT, (n, out))
    elif acts[-1] == "tanh":
        y = pick(INPUTS_DEC, (n, out))
    else:
        y = pick(TARGETS_INT, (n, out))
    if template.single_sample:
        x, y = x[0], (y[0] if isinstance(y[0], list) else y)
    raw = {
        "name": template.name, "layers": list(sizes), "activations": list(acts), "bias": list(template.bias),
        "loss": template.loss, "lr": lr if lr is not None else _lr(template), "steps": 1, "optimizer": "sgd",
        "init": {"weights": weights}, "data": {"x": x, "y": y},
    }
    if any(template.bias):
        raw["init"]["biases"] = [b if b is not None else 0.0 for b in biases]
    if "leaky_relu" in acts:
        raw["negative_slope"] = template.negative_slope
    return raw


def variant(template, seed: int, index: int, lr: float | None = None, sig_digits: int = 3) -> Variant:
    """Student ``index`` (1-based) of the class drawn with ``seed``: the first draw that breaks no rule."""
    template = load_spec(template)
    check_template(template)
    rng = np.random.default_rng([int(seed), int(index)])
    keys = blank_keys(template)  # the blanks depend on the network's shape only
    rejected = []
    for _ in range(MAX_TRIES):
        raw = draw_raw(template, rng, lr)
        raw["name"] = f"{template.name}-s{index:02d}"
        spec = load_spec(raw)
        why = reasons(spec, sig_digits=sig_digits, keys=keys)
        if not why:
            return Variant(f"s{index:02d}", index, seed, spec, raw, rejected)
        rejected.append(why[0])
    raise SpecError(f"worksheet: spec '{template.name}': no fair variant in {MAX_TRIES} draws "
                    f"(last rejected: {rejected[-1][0]}: {rejected[-1][1]})")


# ----------------------------------------------------------------------------- the rules
def blank_keys(spec) -> list[str]:
    """The keys a worksheet asks for, in the derivation's order (one per written line)."""
    return [key for key, _ in blanks(spec)]


def blanks(spec, lang: str = "en", derivation=None) -> list[tuple[str, dict]]:
    """(key, entry) per blank: the derivation's entries for step 1, one per written line."""
    from .explain import derive

    dv = derivation if derivation is not None else derive(spec, lang=lang)
    out, seen_lines = [], set()
    for e in dv.entries:
        if e["step"] != 1:
            continue
        line = (e["symbol"], e["expression"])
        if line in seen_lines:  # z and a of a neuron without activation: one line, one blank
            continue
        seen_lines.add(line)
        out.append((e["key"], e))
    return out


def reasons(spec, sig_digits: int = 3, keys=None) -> list[tuple[str, str]]:
    """Why ``spec`` makes an unfair worksheet: [(rule, detail)], empty when it is fine. ``keys``: the
    blanks (default: the derivation's entries)."""
    spec = load_spec(spec)
    with np.errstate(all="ignore"):
        result = run_spec(spec, steps=1)
    truth = grade_mod._truth_paths(result.steps[0].to_dict())
    keys = [k for k in (keys if keys is not None else blank_keys(spec)) if k in truth]
    out = []
    out += _factor_of_one(spec)
    out += _saturated(spec, result)
    out += _unwieldy(truth, keys)
    if not out:
        out += invisible_mistakes(spec, keys, sig_digits)
    return out


def _factor_of_one(spec) -> list:
    out = []
    for k, w in enumerate(spec.weights, 1):
        if np.any(np.isin(np.abs(np.asarray(w, dtype=float)), (0.0, 1.0))):
            out.append(("factor-of-one", f"a weight of layer {k} is 0 or ±1"))
    if np.any(np.isin(np.abs(np.asarray(spec.x, dtype=float)), (0.0, 1.0))):
        out.append(("factor-of-one", "an input is 0 or ±1"))
    return out


def _saturated(spec, result) -> list:
    rec = result.steps[0]
    out = []
    for k, (act, z, a) in enumerate(zip(spec.activations, rec.zs, rec.acts), 1):
        z, a = z.detach().numpy().astype(float), a.detach().numpy().astype(float)
        if act in SATURATION and np.any(np.abs(z) > SATURATION[act]):
            out.append(("saturated", f"{act} of layer {k} at z = {fmt(float(np.max(np.abs(z))), 4)}: its slope is nearly 0"))
        elif act in ("relu", "leaky_relu") and np.any(z == 0):
            out.append(("saturated", f"{act} of layer {k} exactly at its kink (z = 0)"))
        elif act == "softmax" and np.any(a > 0.99):
            out.append(("saturated", f"softmax of layer {k} gives a probability over 0.99"))
    return out


def _unwieldy(truth, keys) -> list:
    for key in keys:
        v = abs(truth[key])
        if not math.isfinite(v) or v > LIMIT_BIG or 1e-9 < v < LIMIT_SMALL:  # below 1e-9: a 0 in float noise
            return [("unwieldy", f"{key} = {fmt(truth[key], 4)}")]
    return []


def _perturbed(spec: Spec) -> Spec:
    """The same network with every given number nudged: which blanks a mistake changes *in general*."""
    raw = {"name": spec.name, "layers": spec.layers, "activations": spec.activations, "bias": spec.bias,
           "loss": spec.loss, "lr": spec.lr * 1.0371, "steps": 1, "optimizer": spec.optimizer,
           "negative_slope": spec.negative_slope}
    rng = np.random.default_rng(12345)

    def nudge(a):
        a = np.asarray(a, dtype=float)
        return (a * (1 + 0.031 * rng.uniform(0.2, 1.0, a.shape)) + 0.0137 * rng.uniform(0.2, 1.0, a.shape)).tolist()

    raw["init"] = {"weights": [nudge(w) for w in spec.weights]}
    if any(spec.bias):
        raw["init"]["biases"] = [nudge(b) if on else 0.0 for b, on in zip(spec.biases, spec.bias)]
    x = nudge(spec.x)
    y = spec.y.tolist() if spec.loss in ("cross_entropy", "bce") else nudge(spec.y)
    raw["data"] = {"x": x[0] if spec.single_sample else x,
                   "y": (y[0] if spec.single_sample and spec.y.ndim == 2 else y)}
    return load_spec(raw)


def mistake_worlds(spec) -> dict:
    """Per classic mistake the grader knows (its knobs): every quantity of step 1 as a learner making
    that mistake, and nothing else wrong, would compute it."""
    spec = load_spec(spec)
    with np.errstate(all="ignore"):
        ctx = grade_mod._Context(spec, run_spec(spec, steps=1))
        return {knob: ctx.replay(1, {}, knob).world for knob in grade_mod._knobs(spec)}


def _wrong_neuron(spec, world) -> dict:
    """``{key: [values]}``: each gradient computed with a factor from the wrong neuron (grade's
    mistake: another neuron's δ, another input, another neuron's outgoing weights) and each forward
    value taken from another neuron of the same layer."""
    out: dict = {}
    idx = (lambda s, j: f"[{j}]") if spec.single_sample else (lambda s, j: f"[{s}][{j}]")
    N, sizes = spec.batch_size, spec.layers
    for layer in range(1, spec.depth + 1):
        def a_prev(s, i, layer=layer):
            return float(spec.x[s][i]) if layer == 1 else world[f"forward[{layer - 2}].a{idx(s, i)}"]

        for i in range(sizes[layer - 1]):
            for j in range(sizes[layer]):
                key = f"grad.W{layer}[{i}][{j}]"
                cands = out.setdefault(key, [])
                for j2 in range(sizes[layer]):
                    if j2 != j:
                        cands.append(sum(world[f"delta[{layer - 1}]{idx(s, j2)}"] * a_prev(s, i) for s in range(N)))
                for i2 in range(sizes[layer - 1]):
                    if i2 != i:
                        cands.append(sum(world[f"delta[{layer - 1}]{idx(s, j)}"] * a_prev(s, i2) for s in range(N)))
        for part in ("z", "a"):
            for s in range(N):
                for j in range(sizes[layer]):
                    key = f"forward[{layer - 1}].{part}{idx(s, j)}"
                    out.setdefault(key, []).extend(world[f"forward[{layer - 1}].{part}{idx(s, j2)}"]
                                                   for j2 in range(sizes[layer]) if j2 != j)
    return out


def invisible_mistakes(spec, keys=None, sig_digits: int = 3) -> list[tuple[str, str]]:
    """[("mistake-invisible", detail)] for each classic mistake the grader could not see on this sheet.

    A mistake that runs through the whole pass (a grader knob) goes unseen when every blank it changes
    (for this network with other numbers) still comes out right to the grader's tolerance: the student
    who makes it gets full marks. The factor from the wrong neuron is a mistake in one blank (the
    seed's ∂z_1/∂w'_13 with w''_11 = w''_31 = 1), so it must show in every blank it can happen in."""
    spec = load_spec(spec)
    close = grade_mod.tolerance_check(sig_digits)
    keys = keys if keys is not None else blank_keys(spec)
    with np.errstate(all="ignore"):
        truth = grade_mod._truth_paths(run_spec(spec, steps=1).steps[0].to_dict())
        nudged = _perturbed(spec)
        nudged_truth = grade_mod._truth_paths(run_spec(nudged, steps=1).steps[0].to_dict())
        worlds, nudged_worlds = mistake_worlds(spec), mistake_worlds(nudged)
    out = []
    for knob, world in worlds.items():
        changed = [k for k in keys if k in world and k in nudged_worlds[knob]
                   and not math.isclose(nudged_worlds[knob][k], nudged_truth[k], rel_tol=1e-9, abs_tol=1e-12)]
        if changed and all(close(world[k], truth[k]) for k in changed):
            name = knob if isinstance(knob, str) else "-".join(map(str, knob))
            out.append(("mistake-invisible", f"mistake '{name}' changes {len(changed)} blank(s), "
                                             "and every one still comes out right"))
    for key, cands in _wrong_neuron(spec, truth).items():
        if key in keys and any(close(c, truth[key]) for c in cands):
            out.append(("mistake-invisible", f"a factor from the wrong neuron gives the right {key} = {fmt(truth[key], 4)}"))
    return out
