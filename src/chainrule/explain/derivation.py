"""``derive(spec)``: run the spec with the engine, then write every step out (``Derivation``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .. import limits
from .. import notation as notation_mod
from ..check import relative_error
from ..limits import refuse_over
from ..network import SpecLoss
from ..network import run as run_spec
from ..spec import load_spec
from . import render
from .builder import MAX_FULL_PARAMS, MAX_FULL_SAMPLES, MAX_PATHS, StepBuilder
from .checks import replay_optimizer, symmetric_units
from .labels import ACTIVATION_NAMES, LABELS, LOSS_NAMES, OPTIMIZER_NAMES
from .matrix import matrix_blocks
from .model import Block, Eq
from .symbols import PROFILES, d, derive_options, num_text

DEFAULT_PRECISION = 6
MAX_CHECKED = 20  # in matrix form: the parameters with the largest gradients are checked


@dataclass
class StepDoc:
    record: object
    blocks: list = field(default_factory=list)
    eqs: list = field(default_factory=list)       # every keyed equation, written or not
    checks: list = field(default_factory=list)
    warnings: list = field(default_factory=list)


class Derivation:
    """The worked derivation of one or more training steps; render with ``markdown()``, ``latex()``,
    ``text()``, ``html()`` or ``to_dict()`` (JSON; see docs/derive-json.md)."""

    def __init__(self, spec, run, lang, style, precision, matrix, header, steps):
        self.spec, self.run, self.lang, self.notation = spec, run, lang, style
        self.precision, self.matrix, self.header, self.steps = precision, matrix, header, steps

    @property
    def entries(self) -> list[dict]:
        """One dict per written quantity per step: step, key, symbol, expression, latex, value, factors."""
        out = []
        for k, doc in enumerate(self.steps, 1):
            for eq in doc.eqs:
                for key in (eq.key, *eq.keys):
                    out.append({
                        "step": k, "key": key, "symbol": eq.lhs[0], "expression": eq.text(self.precision),
                        "latex": eq.latex(self.precision), "value": float(eq.value), "factors": list(eq.factors),
                    })
        return out

    def to_dict(self) -> dict:
        entries = self.entries
        steps = []
        for k, doc in enumerate(self.steps, 1):
            item = doc.record.to_dict()
            item["entries"] = [{x: v for x, v in e.items() if x != "step"} for e in entries if e["step"] == k]
            item["check"] = doc.checks
            item["warnings"] = doc.warnings
            steps.append(item)
        return {
            "format": "chainrule-derivation", "version": 1,
            "spec": _spec_dict(self.spec),
            "lang": self.lang, "notation": self.notation, "precision": self.precision,
            "form": "matrix" if self.matrix else "elements", "teacher_note": getattr(self, "teacher_note", ""),
            "steps": steps,
        }

    def to_json(self, indent: int | None = 2) -> str:
        import json

        return json.dumps(_finite(self.to_dict()), ensure_ascii=False, indent=indent)

    def markdown(self) -> str:
        return render.markdown(self)

    def text(self) -> str:
        return render.text(self)

    def latex(self) -> str:
        return render.latex(self)

    def html(self) -> str:
        return render.html(self)

    def _repr_markdown_(self) -> str:
        return self.markdown()

    def _repr_html_(self) -> str:
        return render.html(self, fragment=True)

    def __str__(self) -> str:
        return self.text()


def _spec_dict(spec) -> dict:
    return {
        "name": spec.name, "layers": spec.layers, "activations": spec.activations, "bias": spec.bias,
        "loss": spec.loss, "lr": spec.lr, "optimizer": spec.optimizer,
        "x": (spec.x[0] if spec.single_sample else spec.x).tolist(),
        "y": (spec.y[0] if spec.single_sample and spec.y.ndim == 2 else spec.y).tolist(),
    }


def _finite(obj):
    """JSON has no inf/NaN: write them as the strings "inf", "-inf", "nan"."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return "nan" if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def derive(spec_or_path, steps: int = 1, lang: str = "en", notation: str | None = None,
           precision: int | None = None) -> Derivation:
    """Run ``steps`` training steps of a spec (path, shipped name, dict or Spec) and write them out."""
    precision = derive_options(LABELS, lang, precision, DEFAULT_PRECISION)
    steps = int(steps)  # its range is checked where every spec run starts (network.run)
    spec = load_spec(spec_or_path)
    refuse_over("the number of steps to write out", steps, limits.DERIVE_STEPS, spec.source,
                "a derivation is for reading: derive a few steps, and draw the loss curve for long runs")
    refuse_over("the number of values to write out (steps × (parameters + neurons × samples))",
                limits.derive_numbers(spec, steps), limits.DERIVE_NUMBERS, spec.source,
                "derive fewer steps, or a smaller network of the same shape")
    limits.check_run(spec, steps)
    style = notation or notation_mod.default_style(spec.depth)
    if style not in PROFILES:
        raise ValueError(f"derive: notation must be one of {', '.join(PROFILES)}, got {style!r}")
    if style == "mazur" and spec.depth != 2:
        raise ValueError(f"derive: Mazur's notation (i, h, o, w1…w8) is for networks with two weight layers "
                         f"(this one has {spec.depth}); use --notation textbook")
    if style == "prime" and spec.depth > 3:
        raise ValueError(f"derive: prime notation is for networks with up to 3 weight layers (this one has {spec.depth});"
                         " use --notation indexed")
    with np.errstate(all="ignore"):
        result = run_spec(spec, steps=steps)
    matrix = spec.n_params > MAX_FULL_PARAMS or spec.batch_size > MAX_FULL_SAMPLES
    states = replay_optimizer(spec, result.steps) if spec.optimizer != "sgd" else [None] * steps
    loss_fn = SpecLoss(spec)
    t = LABELS[lang]
    docs = []
    for rec, state in zip(result.steps, states):
        with np.errstate(all="ignore"):
            b = StepBuilder(spec, rec, style, precision, lang, state)
            doc = StepDoc(rec)
            if matrix:
                matrix_blocks(b, doc, t)
            else:
                _full_blocks(b, doc, t)
            _check(b, doc, t, loss_fn, matrix)
            _warnings(b, doc, t, loss_fn)
        if steps > 1:
            doc.blocks.insert(0, Block("heading", t["step"].format(k=rec.index + 1), level=2))
        docs.append(doc)
    header = _header(spec, t, precision, lang, style)
    notes = "" if matrix else _teacher_notes(spec, result, lang)
    if notes:
        header.append(Block("para", notes))
    dv = Derivation(spec, result, lang, style, precision, matrix, header, docs)
    dv.teacher_note = notes
    return dv


def _teacher_notes(spec, result, lang) -> str:
    """"Note for teachers": the classic mistakes this exercise cannot tell from the right method
    (the grader's own check, ``grading.mistakes.cannot_tell``)."""
    from ..grading.messages import message
    from ..grading.mistakes import cannot_tell
    from ..grading.replay import Context

    try:
        with np.errstate(all="ignore"):
            items = cannot_tell(Context(spec, result), list(range(1, len(result.steps) + 1)), lang)
    except (KeyError, ValueError, OverflowError, ZeroDivisionError):  # a replay that cannot run: no note
        return ""
    sep = "；" if lang == "zh" else "; "
    return message(lang, "teacher_note", items=sep.join(items)) if items else ""


def _header(spec, t, prec, lang, style=None) -> list:
    f = lambda v: num_text(v, prec)  # noqa: E731
    blocks = [Block("heading", t["title"].format(name=spec.name), level=1, user={"name": spec.name},
                    template=t["title"])]
    if spec.describe(lang):
        blocks.append(Block("para", spec.describe(lang), user={"description": spec.describe(lang)},
                            template="{description}"))
    blocks.append(Block("heading", t["setup"], level=3))
    words = {"en": ("yes", "no", "one per layer"), "zh": ("有", "无", "每层共享一个")}[lang]
    bias = (", " if lang == "en" else "，").join(
        (words[2] if spec.is_shared(i + 1) else words[0]) if b else words[1] for i, b in enumerate(spec.bias))
    blocks.append(Block("para", t["net"].format(
        layers=" → ".join(map(str, spec.layers)), bias=bias,
        acts=("，" if lang == "zh" else ", ").join(ACTIVATION_NAMES[lang].get(a, a) for a in spec.activations),
        loss=LOSS_NAMES[lang][spec.loss], lr=f(spec.lr), opt=OPTIMIZER_NAMES[lang][spec.optimizer])))
    if spec.frozen:
        from .symbols import Symbols

        sym = Symbols(spec.layers, spec.activations, style or notation_mod.default_style(spec.depth), False,
                      [spec.is_shared(k) for k in range(1, spec.depth + 1)])
        names = [sym.param(n, (0,) if n[0] == "b" else (0, 0))[0] for n in spec.frozen]
        if sym.profile != "mazur":
            names = [n.rsplit("_", 1)[0] for n in names]
        blocks.append(Block("para", t["frozen"].format(names=", ".join(names))))
    if spec.single_sample:
        y = spec.y[0] if spec.y.ndim == 2 else spec.y
        blocks.append(Block("para", t["data_one"].format(x=", ".join(f(v) for v in spec.x[0]),
                                                         y=", ".join(f(v) for v in np.atleast_1d(y)))))
    else:
        blocks.append(Block("para", t["data_batch"].format(n=spec.batch_size)))
    return blocks


def _full_blocks(b: StepBuilder, doc: StepDoc, t: dict) -> None:
    add = doc.blocks.append
    add(Block("heading", t["forward"], level=3))
    for s in b.samples():
        if b.batch:
            add(Block("heading", t["sample"].format(s=s + 1), level=4))
        eqs = b.forward_eqs(s)
        add(Block("math", eqs=eqs))
        doc.eqs += eqs
    add(Block("heading", t["loss"], level=3))
    loss = b.loss_eq()
    add(Block("math", eqs=b.loss_parts() + [loss]))
    doc.eqs.append(loss)
    add(Block("heading", t["backward"], level=3))
    add(Block("heading", t["grads"], level=4))
    add(Block("para", t["dloss"] + (" — " + t["dloss_ce"] if b.ce else "")))
    eqs = b.dloss_eqs()
    add(Block("math", eqs=eqs))
    doc.eqs += eqs
    for li in reversed(range(b.D)):
        add(Block("heading", t["layer"].format(li=li + 1), level=4))
        deltas = b.delta_eqs(li)
        if deltas:
            add(Block("para", t["delta"]))
            add(Block("math", eqs=deltas))
            doc.eqs += deltas
        if not b.batch and 1 < b.path_count(li) <= MAX_PATHS and b.sym.profile != "mazur":
            add(Block("para", t["paths"]))
        has_b = b.B[li] is not None and f"b{li + 1}" in b.rec.grads
        add(Block("para", t["grads_of"].format(li=li + 1, b=t["and_biases"] if has_b else "")))
        grads = b.grad_eqs(li)
        add(Block("math", eqs=grads))
        doc.eqs += grads
    add(Block("heading", t["update"], level=4))
    for block in b.update_blocks():
        add(block)
        doc.eqs += [e for e in block.eqs if e.key]


def _check(b: StepBuilder, doc: StepDoc, t: dict, loss_fn: SpecLoss, matrix: bool) -> None:
    rec = b.rec
    total = sum(g.size for g in rec.grads.values())
    if matrix and total > MAX_CHECKED:  # the largest gradients (NaN first), picked in NumPy: no Python sort
        names = list(rec.grads)
        sizes = np.cumsum([0] + [rec.grads[n].size for n in names])
        flat = np.concatenate([np.nan_to_num(np.abs(rec.grads[n]).ravel(), nan=np.inf) for n in names])
        top = np.argsort(-flat, kind="stable")[:MAX_CHECKED]
        items = []
        for k in top:
            which = int(np.searchsorted(sizes, k, side="right")) - 1
            name = names[which]
            items.append((name, np.unravel_index(int(k - sizes[which]), rec.grads[name].shape)))
        items = [(name, tuple(int(i) for i in idx)) for name, idx in items]
    else:
        items = [(name, idx) for name, g in rec.grads.items() for idx in np.ndindex(g.shape)]
    loss_fn.load(rec.params_before)
    rows, worst = [], 0.0
    for name, idx in items:
        g = float(rec.grads[name][idx])
        fd = loss_fn.central_difference(name, idx)
        err = relative_error(g, fd)
        worst = max(worst, err) if math.isfinite(err) else worst
        sym = b.sym.param(name, idx)
        doc.checks.append({"param": f"{name}" + "".join(f"[{k}]" for k in idx), "symbol": d(b.sym.loss, sym)[0],
                           "grad": g, "finite_difference": fd, "relative_error": err})
        rows.append([d(b.sym.loss, sym), b.n(g), b.n(fd), (f"{err:.1e}", _sci_latex(err))])
    doc.blocks.append(Block("heading", t["check"], level=3))
    doc.blocks.append(Block("para", t["check_intro"]))
    if len(items) < total:
        doc.blocks.append(Block("para", t["check_subset"].format(n=len(items), total=total)))
    doc.blocks.append(Block("table", header=t["check_head"], rows=rows))
    doc.blocks.append(Block("para", t["check_ok"].format(err=f"{worst:.1e}")))
    kinked = any(v.act_name in ("relu", "leaky_relu") and np.any(np.abs(b.Z[li]) < 1e-5) for li, v in enumerate(b.views))
    if worst > 1e-4 and kinked:
        doc.blocks.append(Block("para", t["check_kink"]))


def _sci_latex(x: float) -> str:
    if not math.isfinite(x):
        return r"\mathrm{NaN}"
    mantissa, exp = f"{x:.1e}".split("e")
    return rf"{mantissa}\times 10^{{{int(exp)}}}"


def _warnings(b: StepBuilder, doc: StepDoc, t: dict, loss_fn: SpecLoss) -> None:
    rec, spec, prec = b.rec, b.spec, b.prec
    f = lambda v: num_text(v, prec)  # noqa: E731
    out = doc.warnings
    if rec.index == 0:
        for li, units in symmetric_units(rec.params_before, b.D):
            names = ", ".join(b.sym.a(li, j)[0] for j in units)
            out.append(t["symmetric"].format(li=li + 1, units=names))
    checks = [("L", np.asarray(rec.loss.array))] + [(f"z^({li + 1})", z) for li, z in enumerate(b.Z)] + \
        [(f"∂L/∂{k}", g) for k, g in rec.grads.items()] + [(f"{k} (after the update)", p) for k, p in rec.params_after.items()]
    bad = [name for name, arr in checks if not np.all(np.isfinite(arr))]
    if bad:
        out.append(t["nonfinite"].format(k=rec.index + 1, what=", ".join(bad), lr=f(spec.lr)))
    else:
        loss_fn.load(rec.params_after)
        after, before = loss_fn(), float(rec.loss.array)
        limit = before if spec.optimizer == "sgd" else 1.5 * before
        if not math.isfinite(after):
            out.append(t["nonfinite"].format(k=rec.index + 1, what="L (after the update)", lr=f(spec.lr)))
        elif after > limit * (1 + 1e-12) and after - before > 1e-12 * max(1.0, abs(before)):
            out.append(t["diverge"].format(before=f(before), after=f(after), lr=f(spec.lr)))
        big = max((("z", float(np.max(np.abs(z)))) for z in b.Z), key=lambda p: p[1])
        gbig = max((("∂L/∂w", float(np.max(np.abs(g)))) for g in rec.grads.values()), key=lambda p: p[1],
                   default=("∂L/∂w", 0.0))
        for what, v in (big, gbig):
            if v > 1e6:
                out.append(t["exploding"].format(what=what, v=f(v)))
        if b.D >= 2 and "W1" in rec.grads and f"W{b.D}" in rec.grads:  # frozen weights have no gradient
            first = float(np.max(np.abs(rec.grads["W1"])))
            top = float(np.max(np.abs(rec.grads[f"W{b.D}"])))
            if top > 0 and first < 1e-4 * top:
                out.append(t["vanishing"].format(li=1, v=f(first), ratio=f(top / max(first, 1e-300)), top=b.D))
    for li, v in enumerate(b.views):
        if v.act_name == "relu":
            for j in np.flatnonzero(np.all(b.Z[li] <= 0, axis=0)):
                out.append(t["dead"].format(unit=b.sym.a(li, int(j))[0] if not b.batch else f"{j + 1}", li=li + 1))
    if out:
        doc.blocks.append(Block("heading", t["warnings"], level=3))
        doc.blocks += [Block("warning", w) for w in out]


__all__ = ["Derivation", "derive", "Eq"]
