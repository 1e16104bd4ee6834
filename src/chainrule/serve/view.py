"""What the page shows for one training step of a spec: the numbers, the stages, the derivation lines.

Everything here is computed by the engine (``chainrule.network.run``) and written by the derivation
explainer (``chainrule.derive``); the page only lays it out. A *stage* is one group of consecutive
quantities of the derivation, in the derivation's own order: the forward pass one layer at a time,
the loss, ∂L/∂y', then backward one layer's δ and one weight's gradient at a time, then the update.
Stage 0 shows only what the step starts from (inputs, targets, weights).

``step_view`` is cached per (spec, step, lang): moving between stages of a step costs only the
MathML of the lines on screen (itself cached per line), which keeps a stage change fast.
"""

from __future__ import annotations

import json
import math
import re
from collections import OrderedDict
from dataclasses import fields
from functools import lru_cache

import numpy as np

from .. import notation
from ..errors import ChainruleError
from ..explain import derive
from ..explain.labels import LABELS
from ..explain.model import Eq
from ..explain.render import _mathml
from ..network import SpecNetwork
from ..network import run as run_spec
from ..numbers import fmt
from ..spec import MAX_FILE_BYTES, Spec, load_spec, parse_spec, shipped_specs
from ..viz._base import pretty_symbol
from ..viz.network import PRECISION

# Limits of the page on top of the spec validator's own: a diagram and a derivation that stay readable.
MAX_NEURONS = 12      # per layer
MAX_DEPTH = 5         # weight layers
MAX_PARAMS = 300      # beyond this chainrule derive switches to matrix form
MAX_SAMPLES = 8       # likewise
MAX_STEP = 1000       # training steps the page steps through
MAX_BYTES = MAX_FILE_BYTES   # a request body: the same limit as a spec file

PAGE = "<page>"


class PageError(ChainruleError, ValueError):
    """Input from the page that cannot be used; the message is shown inline."""


# ----------------------------------------------------------------------------- spec in, spec out
def load_page_spec(source) -> Spec:
    """A shipped spec's name or a spec as a dict (never a path: the page cannot read files)."""
    if isinstance(source, str):
        if source not in shipped_specs():
            raise PageError(f"spec {source!r}: not a shipped spec (shipped specs: {', '.join(shipped_specs())})")
        spec = load_spec(source)
    elif isinstance(source, dict):
        spec = parse_spec(source, PAGE)
    else:
        raise PageError(f"spec: expected a shipped spec's name or a spec table, got {type(source).__name__}")
    check_limits(spec)
    return spec


def check_limits(spec: Spec) -> None:
    where = spec.source
    if spec.depth > MAX_DEPTH:
        raise PageError(f"{where}: key 'layers': {spec.depth} weight layers is more than the {MAX_DEPTH} the page "
                        "draws (use chainrule derive or chainrule draw)")
    big = [i for i, n in enumerate(spec.layers) if n > MAX_NEURONS]
    if big:
        raise PageError(f"{where}: key 'layers[{big[0]}]': {spec.layers[big[0]]} neurons is more than the "
                        f"{MAX_NEURONS} the page draws per layer")
    if spec.n_params > MAX_PARAMS:
        raise PageError(f"{where}: key 'layers': {spec.n_params} parameters is more than the {MAX_PARAMS} the page "
                        "writes out one by one")
    if spec.batch_size > MAX_SAMPLES:
        raise PageError(f"{where}: key 'data.x': {spec.batch_size} samples is more than the {MAX_SAMPLES} the page "
                        "steps through (use chainrule train for data sets)")


def _plain(arr) -> list | float:
    return np.asarray(arr, dtype=float).tolist()


def canonical(spec: Spec) -> dict:
    """The spec as a table with every starting weight written out (random ones drawn by the engine), in
    (from, to) order: what the page edits and keeps in its URL. ``parse_spec`` reads it back unchanged."""
    params = SpecNetwork(spec).param_arrays()
    depth = spec.depth
    raw: dict = {"name": spec.name}
    if spec.description:
        raw["description"] = spec.description
    raw.update(layers=list(spec.layers), activations=list(spec.activations), bias=list(spec.bias),
               loss=spec.loss, lr=spec.lr, optimizer=spec.optimizer)
    if spec.optimizer == "momentum":
        raw["momentum"] = spec.momentum
    if spec.optimizer == "adam":
        raw.update(beta1=spec.betas[0], beta2=spec.betas[1], eps=spec.eps)
    if "leaky_relu" in spec.activations:
        raw["negative_slope"] = spec.negative_slope
    init: dict = {"weights": [_plain(params[f"W{i}"]) for i in range(1, depth + 1)]}
    if any(spec.bias):
        init["biases"] = [_plain(params[f"b{i}"]) if spec.bias[i - 1] else 0.0 for i in range(1, depth + 1)]
    raw["init"] = init
    x = spec.x[0] if spec.single_sample else spec.x
    if spec.loss == "cross_entropy":
        y = [int(v) for v in np.asarray(spec.y).reshape(-1)]
        y = y[0] if spec.single_sample and len(y) == 1 else y
    else:
        y = spec.y[0] if spec.single_sample else spec.y
        y = _plain(y)
    raw["data"] = {"x": _plain(x), "y": y}
    return raw


def source_key(source) -> str:
    return json.dumps(source, sort_keys=True, ensure_ascii=False, allow_nan=False)


# ----------------------------------------------------------------------------- one step
def flatten(d, path: str = "") -> dict:
    """``{"grad": {"W1": [[1, 2]]}}`` -> ``{"grad.W1[0][0]": 1.0, "grad.W1[0][1]": 2.0}`` (derive JSON keys)."""
    out: dict = {}
    if isinstance(d, list):
        for k, v in enumerate(d):
            out.update(flatten(v, f"{path}[{k}]"))
    elif isinstance(d, dict):
        for k, v in d.items():
            out.update(flatten(v, f"{path}.{k}" if path else k))
    elif isinstance(d, (int, float)) and not isinstance(d, bool):
        out[path] = float(d)
    return out


def _phase(key: str, depth: int):
    """(phase, layer, group): consecutive derivation entries of one group form one stage."""
    if key.startswith("forward["):
        layer = int(key[8:key.index("]")]) + 1
        sample = re.match(r"forward\[\d+\]\.[za]\[(\d+)\]\[", key)  # a batch: forward[l].z[s][j]
        return "forward", layer, ("forward", layer, int(sample.group(1)) + 1 if sample else None)
    if key == "loss":
        return "loss", None, ("loss",)
    if key.startswith("dL_doutput"):
        return "backward", depth, ("dL",)
    if key.startswith("delta["):
        layer = int(key[6:key.index("]")]) + 1
        return "backward", layer, ("delta", layer)
    if key.startswith("grad."):
        layer = int(re.match(r"grad\.[Wb](\d+)", key).group(1))
        return "backward", layer, ("grad", key)
    if key.startswith("params_after."):
        return "update", None, ("update",)
    return "other", None, ("other", key)


def build_stages(entries: list, depth: int, lang: str):
    """Stages and lines from the step's derivation entries. A *line* is one written equation; a neuron
    without activation has a = z, so its two keys share one line (the learner types it once)."""
    t = LABELS[lang]
    stages: list = []
    lines: list = []
    for e in entries:
        phase, layer, group = _phase(e["key"], depth)
        if not stages or stages[-1]["group"] != group:
            if phase == "forward":
                label = f"{t['forward']} · {notation_layer(layer, lang)}"
                if group[2] is not None:
                    label += " · " + t["sample"].format(s=group[2])
            elif phase == "backward":
                label = f"{t['backward']} · {t['layer'].format(li=layer)}"
            else:
                label = t.get(phase, phase)
            stages.append({"index": len(stages) + 1, "phase": phase, "layer": layer, "group": group,
                           "label": label, "keys": [], "lines": []})
        stage = stages[-1]
        stage["keys"].append(e["key"])
        last = lines[-1] if lines else None
        if last and last["stage"] == stage["index"] and last["text"] == e["expression"]:
            last["keys"].append(e["key"])
            continue
        lines.append({"id": len(lines), "stage": stage["index"], "keys": [e["key"]], "symbol": e["symbol"],
                      "pretty": pretty_symbol(e["symbol"]), "text": e["expression"], "latex": e["latex"]})
        stage["lines"].append(lines[-1]["id"])
    for s in stages:
        del s["group"]
    return stages, lines


class _Broken(Eq):
    """An equation written one form per row, as chainrule derive writes its long lines."""

    def long(self, precision: int) -> bool:
        return len(self.forms) >= 2


def broken_rows(eq: Eq, precision: int) -> list:
    """The (lhs, rhs) LaTeX rows of ``eq`` broken at its "=" signs, by ``Eq.rows`` itself: the page's
    derivation panel is narrower than a document, so it breaks lines that derive keeps whole."""
    return _Broken(**{f.name: getattr(eq, f.name) for f in fields(eq)}).rows(precision, True)


def _bias_box(spec, li: int, j: int, style: str) -> dict:
    """The keys of neuron j's bias in layer li; with a shared bias every neuron shows the layer's one."""
    return {"before": f"params_before.b{li}[{j}]", "grad": f"grad.b{li}[{j}]",
            "after": f"params_after.b{li}[{j}]", "edit": f"init.biases[{li - 1}][{j}]",
            "symbol": pretty_symbol(notation.bias(li, j + 1, style))}


def notation_layer(layer: int, lang: str) -> str:
    return f"第{layer}层" if lang == "zh" else f"layer {layer}"


def _rebased(spec: Spec, params: dict) -> Spec:
    """The same spec starting from ``params``: with plain SGD (no optimizer state) step 1 of this spec
    is exactly step k of the original, so the derivation of step k does not rewrite steps 1..k-1."""
    raw = canonical(spec)
    raw["init"] = {"weights": [_plain(params[f"W{i}"]) for i in range(1, spec.depth + 1)]}
    if any(spec.bias):
        raw["init"]["biases"] = [_plain(params[f"b{i}"]) if spec.bias[i - 1] else 0.0
                                 for i in range(1, spec.depth + 1)]
    return parse_spec(raw, spec.source)


@lru_cache(maxsize=64)
def _step_view(key: str, step: int, lang: str) -> dict:
    source = json.loads(key)
    spec = load_page_spec(source)
    with np.errstate(all="ignore"):
        run = run_spec(spec, steps=step, keep_graph=0) if spec.optimizer == "sgd" and step > 1 else None
        start = run.steps[step - 1].params_before if run else None
        if start and all(np.isfinite(p).all() for p in start.values()):
            losses = run.losses
            dv = derive(_rebased(spec, start), steps=1, lang=lang)
            k = 1
        else:  # step 1, an optimizer with state, or weights that overflowed: derive every step
            dv = derive(spec, steps=step, lang=lang)
            losses, k = dv.run.losses, step
    doc = dv.steps[k - 1]
    record = doc.record.to_dict()
    entries = [e for e in dv.entries if e["step"] == k]
    stages, lines = build_stages(entries, spec.depth, lang)
    by_key = {key: eq for eq in doc.eqs for key in (eq.key, *eq.keys) if key}
    for line in lines:
        eq = by_key.get(line["keys"][0])
        line["rows"] = broken_rows(eq, dv.precision) if eq is not None else []
    values = flatten({k: record[k] for k in ("forward", "loss", "dL_doutput", "delta", "grad", "params_after")})
    values.update(flatten({"params_before": record["params_before"]}))
    x = spec.x[0] if spec.single_sample else spec.x
    values.update(flatten({"x": _plain(x)}))
    if spec.loss == "cross_entropy":  # the class index, and the one-hot target the loss compares with
        classes = np.asarray(spec.y).reshape(-1)
        values.update(flatten({"y": [float(v) for v in classes]}))
        values.update(flatten({"target": _plain(np.eye(spec.layers[-1])[int(classes[0])])}))
    else:
        values.update(flatten({"y": _plain(spec.y[0] if spec.single_sample else spec.y)}))
    stage_of = {k: s["index"] for s in stages for k in s["keys"]}
    return {
        "spec": canonical(spec), "source": source if isinstance(source, str) else None,
        "name": spec.name, "description": spec.description, "layers": spec.layers,
        "activations": spec.activations, "bias": spec.bias, "loss": spec.loss, "lr": spec.lr,
        "optimizer": spec.optimizer, "samples": spec.batch_size, "single": spec.single_sample,
        "step": step, "stages": stages, "lines": lines, "values": values, "stage_of": stage_of,
        "losses": losses, "warnings": list(doc.warnings),
        "net": net_layout(spec, {e["key"]: e["symbol"] for e in entries}),
    }


def net_layout(spec: Spec, symbols: dict | None = None) -> dict:
    """Neurons and edges with the derive-JSON key of every number drawn on them (first sample), and
    the symbols the derivation writes for them (``symbols``: key -> symbol, from its entries)."""
    symbols = symbols or {}
    depth, style = spec.depth, notation.default_style(spec.depth)
    s = "" if spec.single_sample else "[0]"
    inputs = [{"value": f"x[{i}]" if spec.single_sample else f"x[0][{i}]", "symbol": pretty_symbol(f"x_{i + 1}")}
              for i in range(spec.layers[0])]
    layers = [inputs]
    for li in range(1, depth + 1):
        row = []
        for j in range(spec.layers[li]):
            z, a = f"forward[{li - 1}].z{s}[{j}]", f"forward[{li - 1}].a{s}[{j}]"
            row.append({
                "z": z, "a": a,
                "delta": f"delta[{li - 1}]{s}[{j}]",
                "symbol": pretty_symbol(_plain_symbol(symbols.get(a) or notation.neuron("a", li, j + 1, depth, style))),
                "zsymbol": pretty_symbol(_plain_symbol(symbols.get(z) or notation.neuron("z", li, j + 1, depth, style))),
                "activation": spec.activations[li - 1],
                "bias": _bias_box(spec, li, 0 if spec.is_shared(li) else j, style) if spec.bias[li - 1] else None,
            })
        layers.append(row)
    edges = []
    for li in range(1, depth + 1):
        for i in range(spec.layers[li - 1]):
            for j in range(spec.layers[li]):
                edges.append({"layer": li, "i": i, "j": j, "before": f"params_before.W{li}[{i}][{j}]",
                              "grad": f"grad.W{li}[{i}][{j}]", "after": f"params_after.W{li}[{i}][{j}]",
                              "edit": f"init.weights[{li - 1}][{i}][{j}]",
                              "symbol": pretty_symbol(notation.weight(li, i + 1, j + 1, style))})
    outputs = []
    for j in range(spec.layers[-1]):
        if spec.loss == "cross_entropy":
            target = f"target[{j}]"
        else:
            target = f"y[{j}]" if spec.single_sample else f"y[0][{j}]"
        outputs.append({"target": target, "dL": f"dL_doutput{s}[{j}]",
                        "symbol": pretty_symbol(f"y_{j + 1}" if spec.layers[-1] > 1 else "y")})
    return {"layers": layers, "edges": edges, "outputs": outputs,
            "x_edit": "data.x" if spec.single_sample else "data.x[0]",
            "y_edit": "data.y" if spec.single_sample else "data.y[0]"}


def _plain_symbol(symbol: str) -> str:
    """A batch entry's symbol names its sample (``z_1^[1]``); the diagram shows the first sample."""
    return re.sub(r"\^?\[\d+\]", "", symbol)


# ----------------------------------------------------------------------------- what one request returns
@lru_cache(maxsize=4096)
def mathml(latex: str) -> str:
    """chainrule derive's own LaTeX → MathML conversion (the HTML format's), cached per line."""
    return _mathml(latex, "block")


def text_of(v) -> str:
    if isinstance(v, float) and not math.isfinite(v):
        return fmt(v)
    return fmt(v, PRECISION)


def view(source, step: int = 1, stage: int = 0, lang: str = "en", practice: bool = False) -> dict:
    """The page at ``stage`` of ``step``: values revealed up to that stage, derivation lines as MathML.
    In practice mode the next stage's lines come without their numbers, to be answered."""
    if lang not in LABELS:
        raise PageError(f"lang: expected one of {', '.join(LABELS)}, got {lang!r}")
    step = _int("step", step, 1, MAX_STEP)
    v = dict(_step_view(source_key(source), step, lang))
    n = len(v["stages"])
    stage = n if stage == "last" else _int("stage", stage, 0, n)
    stage_of = v.pop("stage_of")
    shown = OrderedDict()
    for key, value in v["values"].items():
        if stage_of.get(key, 0) <= stage and not (key.startswith("params_after.") and stage_of.get(key) is None):
            shown[key] = {"v": value if math.isfinite(value) else text_of(value), "t": text_of(value)}
    v["values"] = shown
    lines = []
    for line in v["lines"]:
        item = {k: line[k] for k in ("id", "stage", "keys", "symbol", "pretty")}
        if line["stage"] <= stage:
            item["text"] = line["text"]
            item["mathml"] = mathml(line["latex"])
            if line["stage"] == stage and len(line["rows"]) > 1:  # for the panel, when one row is too wide
                item["mathml_rows"] = "".join(
                    f'<tr><td class="lhs">{mathml(lhs) if lhs else ""}</td><td class="rhs">{mathml(rhs)}</td></tr>'
                    for lhs, rhs in line["rows"])
        lines.append(item)
    v["lines"] = lines
    v["stage"], v["n_stages"], v["lang"], v["practice"] = stage, n, lang, bool(practice)
    losses = v["losses"]
    loss_shown = stage >= next((s["index"] for s in v["stages"] if s["phase"] == "loss"), 0)
    v["losses"] = [{"step": k + 1, "v": float(x), "t": text_of(float(x))}
                   for k, x in enumerate(losses[:step if loss_shown else step - 1]) if math.isfinite(x)]
    v["max_step"] = MAX_STEP
    return v


def _int(name: str, value, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise PageError(f"{name}: expected a whole number, got {value!r}")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise PageError(f"{name}: expected a whole number, got {value!r}") from None
    if isinstance(value, float) and not value.is_integer():
        raise PageError(f"{name}: expected a whole number, got {value!r}")
    if not low <= number <= high:
        raise PageError(f"{name}: expected {low}..{high}, got {number}")
    return number
