"""What the page can ask besides a view: edit the spec, grade an answer, export a file.

Every edit produces a new spec table that goes through the spec validator (``chainrule.spec``) and
the page's limits before it is accepted; every exported file is written by the function the CLI
uses (``chainrule.export``, ``chainrule.derive``, ``chainrule.viz``).
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import tempfile

from ..spec import ACTIVATIONS, LOSSES, MAX_NEURONS_PER_LAYER, OPTIMIZERS
from .view import MAX_DEPTH, MAX_NEURONS, MAX_STEP, PageError, _int, canonical, load_page_spec

NUMBER_PATHS = re.compile(r"^(init\.weights\[\d+\]\[\d+\]\[\d+\]|init\.biases\[\d+\]\[\d+\]|"
                          r"data\.x(\[\d+\]){1,2}|data\.y(\[\d+\]){0,2}|lr|momentum|negative_slope)$")
CHOICES = {"loss": LOSSES, "optimizer": OPTIMIZERS}


def _number(path: str, text) -> float:
    if isinstance(text, bool):
        raise PageError(f"{path}: expected a number, got {text!r}")
    if isinstance(text, (int, float)):
        value = float(text)
    elif isinstance(text, str) and len(text) <= 64:
        try:
            value = float(text.strip().replace("−", "-"))
        except ValueError:
            raise PageError(f"{path}: expected a number, got {text!r}") from None
    else:
        raise PageError(f"{path}: expected a number, got {str(text)[:64]!r}")
    if not math.isfinite(value):
        raise PageError(f"{path}: expected a finite number, got {text!r}")
    return value


def _set(raw: dict, path: str, value) -> None:
    """Set ``raw`` at a derive-style path (``init.weights[0][1][2]``); the path must exist."""
    head, _, rest = path.partition("[")
    parts = head.split(".")
    target = raw
    for p in parts[:-1]:
        target = target.setdefault(p, {})
    indices = [int(i) for i in re.findall(r"\[(\d+)\]", "[" + rest)] if rest else []
    if not indices:
        target[parts[-1]] = value
        return
    node = target.get(parts[-1])
    for depth, i in enumerate(indices):
        if not isinstance(node, list) or i >= len(node):
            raise PageError(f"{path}: no such entry in this spec")
        if depth == len(indices) - 1:
            if isinstance(node[i], list):
                raise PageError(f"{path}: names a list, not a number")
            node[i] = value
        else:
            node = node[i]


def edit(source, op: str, path: str = "", value=None) -> dict:
    """The spec after one edit, validated, with its starting weights written out (``canonical``).

    ``op``: ``set`` (a number: a weight, bias, input, target, lr), ``choose`` (``activations[l]``,
    ``loss``, ``optimizer``) or ``layers`` (new layer sizes: weights drawn anew by the engine)."""
    spec = load_page_spec(source)
    raw = copy.deepcopy(canonical(spec))
    if op == "set":
        if not isinstance(path, str) or not NUMBER_PATHS.match(path):
            raise PageError(f"set: cannot edit {str(path)[:80]!r} (a weight, bias, input, target or the learning rate)")
        number = _number(path, value)
        if path.startswith("data.y") and spec.loss == "cross_entropy":
            if not number.is_integer():
                raise PageError(f"{path}: a class index is a whole number, got {value!r}")
            number = int(number)
        if path.startswith("data.y") and not isinstance(raw["data"]["y"], list):
            raw["data"]["y"] = number
        else:
            _set(raw, path, number)
    elif op == "choose":
        m = re.fullmatch(r"activations\[(\d+)\]", str(path))
        if m:
            layer = int(m.group(1))
            if layer >= spec.depth:
                raise PageError(f"{path}: this network has {spec.depth} weight layers")
            if value not in ACTIVATIONS:
                raise PageError(f"{path}: expected one of {', '.join(ACTIVATIONS)}, got {value!r}")
            raw["activations"][layer] = value
            if value == "leaky_relu":
                raw.setdefault("negative_slope", spec.negative_slope)
        elif path in CHOICES:
            if value not in CHOICES[path]:
                raise PageError(f"{path}: expected one of {', '.join(CHOICES[path])}, got {value!r}")
            raw[path] = value
        else:
            raise PageError(f"choose: cannot choose {str(path)[:80]!r} (activations[l], loss or optimizer)")
    elif op == "layers":
        raw = _resize(raw, spec, value)
    else:
        raise PageError(f"op: expected set, choose or layers, got {str(op)[:40]!r}")
    return canonical(load_page_spec(raw))


def _resize(raw: dict, spec, value) -> dict:
    if not isinstance(value, list) or not 2 <= len(value) <= MAX_DEPTH + 1:
        raise PageError(f"layers: expected 2 to {MAX_DEPTH + 1} layer sizes, got {str(value)[:80]}")
    sizes = []
    for i, n in enumerate(value):
        n = _int(f"layers[{i}]", n, 1, min(MAX_NEURONS, MAX_NEURONS_PER_LAYER))
        sizes.append(n)
    depth = len(sizes) - 1
    old = spec.activations
    hidden = [old[min(i, spec.depth - 2)] if spec.depth > 1 else "none" for i in range(depth - 1)]
    raw["layers"] = sizes
    raw["activations"] = [a if a != "softmax" else "none" for a in hidden] + [old[-1]]
    bias = spec.bias
    raw["bias"] = [bias[min(i, spec.depth - 1)] for i in range(depth)]
    raw["init"] = {"seed": 0}  # new weights drawn by the engine's own initialisation

    def fit(row, n, fill=0.0):
        return (list(row) + [fill] * n)[:n]

    x = raw["data"]["x"]
    raw["data"]["x"] = fit(x, sizes[0]) if spec.single_sample else [fit(r, sizes[0]) for r in x]
    if spec.loss != "cross_entropy" and sizes[-1] != spec.layers[-1]:
        y = raw["data"]["y"]
        y = y if isinstance(y, list) else [y]
        raw["data"]["y"] = fit(y, sizes[-1]) if spec.single_sample else [fit(r, sizes[-1]) for r in y]
    elif spec.loss == "cross_entropy":
        y = raw["data"]["y"]
        clamp = lambda c: min(int(c), sizes[-1] - 1)  # noqa: E731
        raw["data"]["y"] = [clamp(c) for c in y] if isinstance(y, list) else clamp(y)
    return raw


# ----------------------------------------------------------------------------- practice
def _nest(truth, answers: dict, path: str = ""):
    """``truth``'s shape with the learner's answers at their keys and None everywhere else."""
    if isinstance(truth, list):
        return [_nest(v, answers, f"{path}[{k}]") for k, v in enumerate(truth)]
    if isinstance(truth, dict):
        return {k: _nest(v, answers, f"{path}.{k}" if path else k) for k, v in truth.items()}
    return answers.get(path)


def grade_answers(source, step, answers: dict, sig_digits: int = 3, lang: str = "en") -> dict:
    """Mark the learner's answers of one step with ``chainrule.grade`` (the CLI's grader): right,
    wrong with the likely classic mistake, or carried from an earlier wrong answer (in ``lang``)."""
    if lang not in ("en", "zh"):
        raise PageError(f"lang: expected 'en' or 'zh', got {str(lang)[:20]!r}")
    from ..grade import grade
    from ..network import run as run_spec

    spec = load_page_spec(source)
    step = _int("step", step, 1, MAX_STEP)
    if not isinstance(answers, dict) or not answers:
        raise PageError("answers: expected a table of {key: number}")
    if len(answers) > 4 * spec.n_params + 64:
        raise PageError(f"answers: {len(answers)} answers is more than this step has quantities")
    flat = {}
    for key, text in answers.items():
        flat[str(key)] = _number(str(key), text)
    truth = run_spec(spec, steps=step).steps[step - 1].to_dict()
    nested = {k: _nest(truth[k], flat, k) for k in ("forward", "loss", "dL_doutput", "delta", "grad", "params_after")
              if truth.get(k) is not None}
    for n, layer in enumerate(nested["forward"]):
        layer["layer"] = n + 1
    from .view import flatten

    known = set(flatten({k: truth[k] for k in nested if truth.get(k) is not None}))
    unknown = sorted(set(flat) - known)
    if unknown:
        raise PageError(f"answers: key '{unknown[0][:80]}': not a quantity of this step")
    nested["step"] = step
    fd, path = tempfile.mkstemp(suffix=".json", prefix="chainrule-answers-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"steps": [nested]}, fh)
        report = grade(spec, path, sig_digits=sig_digits, lang=lang)
    finally:
        os.unlink(path)
    marks = {}
    for m in report.marks:
        marks[m.key] = {"status": m.status, "cause": m.cause, "carried_from": m.carried_from, "symbol": m.symbol}
    return {"marks": marks, "tolerance": report.tolerance}


# ----------------------------------------------------------------------------- exports
EXPORTS = {
    "toml": ("spec", "application/toml", "toml"),
    "md": ("derivation", "text/markdown; charset=utf-8", "md"),
    "latex": ("derivation", "application/x-tex; charset=utf-8", "tex"),
    "html": ("derivation", "text/html; charset=utf-8", "html"),
    "python": ("code", "text/x-python; charset=utf-8", "py"),
    "numpy": ("code", "text/x-python; charset=utf-8", "py"),
    "torch": ("code", "text/x-python; charset=utf-8", "py"),
    "svg": ("figure", "image/svg+xml", "svg"),
    "png": ("figure", "image/png", "png"),
}


def export_file(source, what: str, step=1, lang: str = "en") -> tuple[bytes, str, str]:
    """(content, media type, file name) of one export, written by the CLI's own functions."""
    if what not in EXPORTS:
        raise PageError(f"what: expected one of {', '.join(EXPORTS)}, got {str(what)[:40]!r}")
    if lang not in ("en", "zh"):
        raise PageError(f"lang: expected en or zh, got {lang!r}")
    spec = load_page_spec(source)
    step = _int("step", step, 1, MAX_STEP)
    kind, media, ext = EXPORTS[what]
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", spec.name)[:60].strip("._") or "spec"  # a safe file name
    stem = f"{name}-step{step}" if kind in ("derivation", "figure") else name
    if kind == "spec":
        return spec_toml(canonical(spec)).encode("utf-8"), media, f"{name}.toml"
    if kind == "derivation":
        from ..explain import derive

        dv = derive(spec, steps=step, lang=lang)
        text = {"md": dv.markdown, "latex": dv.latex, "html": dv.html}[what]()
        return text.encode("utf-8"), media, f"{stem}{'-zh' if lang == 'zh' else ''}.{ext}"
    if kind == "code":
        from ..export import export

        return export(spec, to=what, steps=max(step, 1)).encode("utf-8"), media, f"{name}_{what}.py"
    from .. import viz
    from ..network import run as run_spec

    drawing = viz.draw_network(run_spec(spec, steps=step), step=step, show="all", lang=lang)
    return drawing.to_bytes(what), media, f"{stem}{'-zh' if lang == 'zh' else ''}.{ext}"


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)  # shortest text that reads back as the same float
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)  # a TOML basic string uses JSON's escapes
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise PageError(f"cannot write {type(v).__name__} as TOML")


def spec_toml(raw: dict) -> str:
    """A spec table (as ``canonical`` writes it) as a TOML spec file that ``load_spec`` reads back."""
    lines = ["# written by chainrule serve"]
    tables = {k: v for k, v in raw.items() if isinstance(v, dict)}
    for key, value in raw.items():
        if key not in tables:
            lines.append(f"{key} = {_toml_value(value)}")
    for name, table in tables.items():
        lines += ["", f"[{name}]"] + [f"{k} = {_toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"
