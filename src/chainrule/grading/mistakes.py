"""The classic mistakes the grader knows, as knobs of the replay (``grading.replay``), and what it
says about them: the likely cause of a wrong answer, and the mistakes an exercise cannot detect.

Knobs: "sign" (∂L/∂y' = y − y'), "factor2" (the ½ of the loss or the 2 of a square), "updated" (the
layer below computed with already-updated weights), "ascent" (w + η·∂L/∂w), "mean" (a forgotten 1/N),
"momentum" (optimizer = "momentum" updated as plain SGD, w − η·∂L/∂w, without the velocity),
"adam_bias" (Adam without its bias correction: m and v not divided by 1 − β^t),
("skip", l) (no activation derivative in layer l), ("weight", l) (δ of layer l without the outgoing
weights), ("only", l, k) / ("drop", l, k) (∂L/∂a of layer l through one path only / without one).
Checks that are not knobs: a factor from the wrong neuron, a transposed matrix, early rounding.
"""

from __future__ import annotations

import math

from .. import notation
from .messages import ACT_SYMBOL, message
from .replay import slope

GLOBAL_KNOBS = ("sign", "factor2", "updated", "ascent")
MEAN_LOSSES = ("mse", "bce", "cross_entropy")


def mean_count(spec) -> int:
    """The N a mean loss divides by: every output element (mse, bce) or every sample (cross-entropy)."""
    return spec.batch_size * (1 if spec.loss == "cross_entropy" else spec.layers[-1])


def knobs(spec) -> list:
    """The classic mistakes that can happen with this spec's loss, activations, depth and batch."""
    out = [k for k in GLOBAL_KNOBS if k != "factor2" or spec.loss in ("half_sse", "mse", "sse")]
    if spec.loss in MEAN_LOSSES and mean_count(spec) > 1:
        out.append("mean")
    if spec.optimizer == "momentum":
        out.append("momentum")
    if spec.optimizer == "adam":
        out.append("adam_bias")
    out += [("skip", layer) for layer in range(1, spec.depth + 1)
            if spec.activations[layer - 1] != "none" and not (layer == spec.depth and spec.loss == "cross_entropy")]
    for layer in range(1, spec.depth):        # hidden layers: δ sums paths through the layer above
        out.append(("weight", layer))
        n = spec.layers[layer + 1]
        if n > 1:
            out += [("only", layer, k) for k in range(n)]
            if n > 2:                         # with two paths, "only one" and "without the other" coincide
                out += [("drop", layer, k) for k in range(n)]
    return out


def _style(spec):
    return notation.default_style(spec.depth)


def _a(spec, layer, j):
    return notation.neuron("a", layer, j + 1, spec.depth, _style(spec))


def _z(spec, layer, j):
    """Symbol of z_j in ``layer`` (1-based), the seed's way for two-layer networks."""
    if layer == spec.depth:
        return f"z_out,{j + 1}" if spec.layers[-1] > 1 else "z_out"
    return notation.neuron("z", layer, j + 1, spec.depth, _style(spec))


def _weights_above(spec, layer):
    """The outgoing weights of ``layer`` as a family name: w'' (prime style) or w^(l+1)."""
    return "w" + "'" * (layer + 1) if _style(spec) == "prime" else f"w^({layer + 1})"


def _unit(key):
    """(layer, j) of the neuron a key belongs to (1-based layer, 0-based j), or None."""
    if key.startswith(("grad.W", "params_after.W", "params_before.W")):
        head = key.split(".", 1)[1]
        layer = int(head[1:head.index("[")])
        return layer, int(head[head.rindex("[") + 1:-1])
    if key.startswith("delta["):
        return int(key[6:key.index("]")]) + 1, int(key[key.rindex("[") + 1:-1])
    return None


def knob_text(knob, spec, lang, key=None, short=False) -> str:
    """What mistake ``knob`` is: the cause of a wrong answer at ``key``, or its short name."""
    m = (lambda k, **v: message(lang, "name_" + k, **v)) if short else (lambda k, **v: message(lang, k, **v))
    if knob == "factor2":
        return m("factor2") if short else m("factor2_half" if spec.loss == "half_sse" else "factor2_square")
    if knob == "mean":
        if short:
            return m("mean")
        what = message(lang, "mean_samples" if spec.loss == "cross_entropy" else "mean_values")
        return m("mean", n=mean_count(spec), what=what)
    if knob == "momentum":
        return m("momentum") if short else m("momentum", mu=f"{spec.momentum:g}")
    if knob == "adam_bias":
        return m("adam_bias") if short else m("adam_bias", b1=f"{spec.betas[0]:g}", b2=f"{spec.betas[1]:g}")
    if isinstance(knob, str):
        return m(knob)
    kind, layer = knob[0], knob[1]
    act = ACT_SYMBOL[spec.activations[layer - 1]]
    if kind == "skip":
        return m("skip", act=act, layer=layer)
    if kind == "weight":
        return m("weight", w=_weights_above(spec, layer), layer=layer, act=act)
    unit = _unit(key) if key else None
    j = unit[1] if unit and unit[0] == layer else None
    a = _a(spec, layer, j) if j is not None else "a_j"
    return m(kind, via=_a(spec, layer + 1, knob[2]), a=a, n=spec.layers[layer + 1])


def _close_tight(a, b):
    return abs(a - b) <= 1e-9 * max(1.0, abs(b))


def find_cause(ctx, ps, key, answer, truth, variants, right, close, lang, sig_digits=None) -> str | None:
    """The classic mistakes that reproduce ``answer``, joined; None when none does.

    ``variants[knob]`` = (the knob's replay from the learner's answers, from the engine's numbers);
    ``right`` = the learner's right answers of this step, which can rule a mistake out (``ruled_out``).
    """
    spec = ctx.spec
    found = []
    for knob, worlds in variants.items():
        if ruled_out(knob, worlds, ps, key, right, close):
            continue
        for candidate in (w.get(key) for w in worlds):
            if candidate is None or close(candidate, truth) or not close(answer, candidate):
                continue
            if knob == "sign" and not key.startswith(("dL_doutput", "delta", "grad", "params_after")):
                continue
            text = knob_text(knob, spec, lang, key)
            if text not in found:
                found.append(text)
    if found:
        return message(lang, "or").join(found)
    return (_wrong_neuron(ctx, ps, key, answer, truth, close, lang) or _transposed(ps, key, answer, truth, close, lang)
            or _rounded(answer, truth, sig_digits, lang))


def _wrong_neuron(ctx, ps, key, answer, truth, close, lang):
    """A factor taken from the wrong neuron (the seed's ∂z_1/∂w'_13), or another neuron's value."""
    spec, w, idx = ctx.spec, ps.world, ctx.idx
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
                    return message(lang, "wrong_delta", used=_z(spec, layer, j2), right=_z(spec, layer, j))
        for i2 in range(spec.layers[layer - 1]):
            if i2 != i:
                cand = sum(w[f"delta[{layer - 1}]{idx(s, j)}"] * a_prev(s, i2) for s in range(N))
                if not close(cand, truth) and close(answer, cand):
                    src = f"x_{i2 + 1}" if layer == 1 else _a(spec, layer - 1, i2)
                    right = f"x_{i + 1}" if layer == 1 else _a(spec, layer - 1, i)
                    return message(lang, "wrong_input", used=src, right=right)
        if layer < spec.depth:  # δ_j built from another neuron's outgoing weights
            for j2 in range(spec.layers[layer]):
                if j2 == j:
                    continue
                cand = 0.0
                for s in range(N):
                    back = sum(w[f"delta[{layer}]{idx(s, k)}"] * w[f"params_before.W{layer + 1}[{j2}][{k}]"]
                               for k in range(spec.layers[layer + 1]))
                    z, a = w[f"forward[{layer - 1}].z{idx(s, j)}"], w[f"forward[{layer - 1}].a{idx(s, j)}"]
                    cand += back * slope(spec.activations[layer - 1], z, a, spec.negative_slope) * a_prev(s, i)
                if not close(cand, truth) and close(answer, cand):
                    return message(lang, "wrong_out", used=_z(spec, layer, j2), right=_z(spec, layer, j))
    if key.startswith(("forward[", "output")):
        head, _, rest = key.partition("[")
        base = key[:key.rindex("[")]
        last = int(key[key.rindex("[") + 1:-1])
        for j2 in range(spec.layers[-1] if head == "output" else spec.layers[int(rest.split("]")[0]) + 1]):
            other = f"{base}[{j2}]"
            if j2 != last and other in ps.truth and close(answer, ps.truth[other]) and not close(ps.truth[other], truth):
                return message(lang, "other_neuron", used=j2 + 1, right=last + 1)
    return None


def _transposed(ps, key, answer, truth, close, lang):
    """W[i][j] answered with the value of W[j][i] (a square matrix written in (out, in) order)."""
    if "." not in key or not key.split(".", 1)[1].startswith("W") or key.count("[") != 2:
        return None
    head = key[:key.index("[")]
    i, j = (int(v) for v in key[key.index("["):].strip("[]").split("]["))
    other = f"{head}[{j}][{i}]"
    if i == j or other not in ps.truth:
        return None
    value = ps.truth[other]
    if close(answer, value) and not close(value, truth):
        symbol = notation.param(head.split(".")[1], (j, i), "prime" if ps.ctx.spec.depth == 2 else "indexed")
        prefix = {"grad": "∂L/∂", "params_after": "", "params_before": ""}[head.split(".")[0]]
        return message(lang, "transposed", other=prefix + symbol, other_key=other)
    return None


def _rounded(answer, truth, sig_digits, lang):
    """Right to fewer significant digits than asked (at least 2): rounded too early."""
    if not sig_digits or sig_digits < 3 or truth == 0 or not math.isfinite(truth):  # inf: no digits to round
        return None
    for d in range(sig_digits - 1, 1, -1):
        unit = 10.0 ** (math.floor(math.log10(abs(truth))) - d + 1)
        if abs(answer - truth) <= 0.5 * unit * (1 + 1e-9):
            return message(lang, "rounded", d=d, n=sig_digits, keep=sig_digits + 1)
    return None


STRUCTURAL = ("skip", "weight", "only", "drop")   # a way of working a layer, not a slip at one entry


def ancestors(ps, key) -> set:
    """Every quantity ``key`` was computed from, directly or not (the replay's recorded deps)."""
    seen, todo = set(), list(ps.deps.get(key, ()))
    while todo:
        k = todo.pop()
        if k not in seen:
            seen.add(k)
            todo += ps.deps.get(k, ())
    return seen


def ruled_out(knob, worlds, ps, key, right, close) -> bool:
    """Whether the learner's right answers (``right``: key -> value) rule ``knob`` out at ``key``: an
    answer this one was computed from is right although the mistake would have changed it (∂L/∂w right,
    so a wrong update's sign is not blamed on ∂L/∂y'); for a way of working a layer (a missing path,
    weight or derivative), any right answer the mistake would have changed."""
    if not right:
        return False
    structural = isinstance(knob, tuple) and knob[0] in STRUCTURAL
    keys = right if structural else [k for k in ancestors(ps, key) if k in right]
    return any(k in w and not close(w[k], right[k])
               for k in keys for w in worlds)


def cannot_tell(ctx, steps, lang="en", worlds=None) -> list[str]:
    """The mistakes this exercise cannot detect, by name: each gives exactly the right numbers at
    every quantity of ``steps`` (the seed: every w'' = 1, so forgetting w'' in δ changes nothing)."""
    spec, out = ctx.spec, []
    for knob in knobs(spec):
        same = True
        for step in steps:
            world = worlds[(knob, step)] if worlds else ctx.replay(step, {}, knob).world
            truth = ctx.truth[step - 1]
            if not all(_close_tight(world[k], v) for k, v in truth.items() if k in world):
                same = False
                break
        if same:
            text = knob_text(knob, spec, lang, short=True)
            if isinstance(knob, tuple) and knob[0] == "weight":
                w = ctx.truth[steps[0] - 1]
                layer = knob[1]
                keys = [k for k in w if k.startswith(f"params_before.W{layer + 1}[")]
                if keys and all(w[k] == 1.0 for k in keys):
                    text += message(lang, "all_one", w=_weights_above(spec, layer))
            out.append(text)
    for layer in range(1, spec.depth + 1):  # δ from the wrong neuron: invisible when a layer's δ are equal
        n = spec.layers[layer]
        if n < 2:
            continue
        equal = all(_close_tight(ctx.truth[step - 1][f"delta[{layer - 1}]{ctx.idx(s, j)}"],
                                 ctx.truth[step - 1][f"delta[{layer - 1}]{ctx.idx(s, 0)}"])
                    for step in steps for s in range(spec.batch_size) for j in range(n))
        if equal:
            out.append(message(lang, "name_neuron", layer=layer) + message(lang, "equal_units"))
    return out
