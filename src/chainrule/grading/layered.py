"""Grade hand-worked answers to a layered derivation (``chainrule derive conv``, ``conv-pool``, ...).

An answer file names the derivation JSON's ``grids`` (``y``, ``dL_dy``, ``dL_dk``, ``dL_dx``,
``k_after``, ...) and ``loss``, any subset; a grid is nested lists shaped as the grid, a cell written
``"?"`` or ``""`` is left blank. Every answered cell is marked against the derivation's own numbers:
right, wrong (with the correct value, the written line for that cell and, when a classic mistake
reproduces the number, its likely cause) or carried (wrong only because an earlier answer was wrong).

A registry maps a layered spec to its derivation module. Such a module exposes

- its derive function (``derive_conv(spec, lang=..., precision=...)``), whose result has ``grids``,
  ``loss``, ``entries``, ``lang`` and ``precision``;
- ``classic_mistakes(spec) -> {mistake id: {quantity: array}}``: each mistake's numbers, only the
  quantities it changes (an empty dict: the mistake gives the right numbers on this spec); the causes
  are ``mistake.<id>`` / ``mistake_name.<id>`` in ``grading/messages.py``;
- optionally ``replay(spec, given) -> {quantity: array}``: every quantity computed from the learner's
  own earlier answers (without it, no answer is recognised as carried); with a ``mistake`` parameter,
  each mistake is also replayed from the learner's answers. A replay may also live outside the module
  (``LayeredKind.replay``: batch norm's and the RNN's are ``grading/replay_batchnorm.py``, ``replay_rnn.py``);
- optionally ``cell_lines(derivation) -> {(quantity, index): (symbol, line)}`` (without it, the
  derivation entries whose keys read ``<quantity>_<i><j>`` give the lines).
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import math
import re
from dataclasses import dataclass, field

import numpy as np

from ..errors import SpecError
from ..io import parse_config, read_text
from ..spec import short_repr
from .marks import Tally
from .messages import LANGS, MESSAGES, message
from .mistakes import _rounded

MAX_BYTES = 1_000_000
IGNORED_KEYS = {"format", "version", "kind", "spec", "lang", "precision", "entries", "check", "name", "student",
                "teacher_note"}
ICON = {"right": "✓", "wrong": "✗", "carried": "↳"}


# ----------------------------------------------------------------------------- the registry
@dataclass(frozen=True)
class LayeredKind:
    """A layered derivation the grader knows: ``matches(spec)`` picks it; ``module`` holds ``derive``
    and ``classic_mistakes`` (and, optionally, ``replay`` and ``cell_lines``)."""

    name: str
    module: str
    derive: str
    matches: object
    values: object = None  # spec -> format values of its messages ({"o": "p"}: the letter the loss reads)
    examples: str = ""     # the shipped specs it grades, named in the refusal of any other
    replay: str = ""       # "module:function" of a replay kept outside the derivation module, if any


REGISTRY: list[LayeredKind] = []


def register(kind: LayeredKind) -> None:
    REGISTRY[:] = [k for k in REGISTRY if k.name != kind.name] + [kind]


def _kinds(spec) -> list[str]:
    return [b.get("kind") for b in spec.blocks]


register(LayeredKind("conv", "chainrule.explain.conv", "derive_conv",
                     lambda s: _kinds(s) in (["conv2d"], ["conv2d", "maxpool2d"]),
                     lambda s: {"o": "p" if len(s.blocks) == 2 else "y"},
                     "conv, conv-pool"))


register(LayeredKind("batchnorm", "chainrule.explain.batchnorm", "derive_batchnorm",
                     lambda s: _kinds(s) == ["batchnorm"], None, "batchnorm",
                     "chainrule.grading.replay_batchnorm:replay"))
register(LayeredKind("rnn", "chainrule.explain.rnn", "derive_rnn",
                     lambda s: _kinds(s)[:1] == ["rnn"], None, "rnn",
                     "chainrule.grading.replay_rnn:replay"))


def kind_of(spec) -> LayeredKind | None:
    """The registered derivation of ``spec`` whose module is installed, or None."""
    for kind in REGISTRY:
        try:
            if kind.matches(spec):
                importlib.import_module(kind.module)
                return kind
        except ImportError:
            continue
    return None


def mistake_text(lang, mistake, values, short=False) -> str:
    """The cause (or, ``short``, the name) of a mistake id; the id itself where no message names it."""
    name = f"mistake_name.{mistake}" if short else f"mistake.{mistake}"
    return message(lang, name, **values) if name in MESSAGES[lang] else mistake


# ----------------------------------------------------------------------------- reading answers
def _cells(value, where, key):
    """An answer as a float array (NaN: a blank cell), refused with the key and the cell."""
    def walk(v, path):
        if isinstance(v, list):
            return [walk(item, f"{path}[{n}]") for n, item in enumerate(v)]
        if v is None or (isinstance(v, str) and v.strip() in ("", "?")):
            return math.nan
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise SpecError(f"{where}: key '{path}': expected a number, got {short_repr(v)}")
        try:
            f = float(v)
        except OverflowError:
            f = math.inf
        if not math.isfinite(f):
            raise SpecError(f"{where}: key '{path}': expected a finite number, got {short_repr(v)}")
        return f

    cells = walk(value, key)
    try:
        return np.array(cells, dtype=np.float64)
    except ValueError:  # ragged rows
        return None


def _shape_text(shape, rows=False) -> str:
    """A shape in words: "a number", "a list of 3 numbers", "a 2×2 grid (2 rows of 2 numbers)"."""
    if len(shape) == 0:
        return "a number"
    if len(shape) == 1:
        return f"a list of {shape[0]} numbers"
    if len(shape) == 2:
        return f"a {shape[0]}×{shape[1]} grid" + (f" ({shape[0]} rows of {shape[1]} numbers)" if rows else "")
    return f"nested lists of shape {'×'.join(map(str, shape))}"


def _check_shape(arr, truth, where, key):
    if arr is not None and arr.shape == truth.shape:
        return arr
    if arr is not None and arr.size == truth.size and np.squeeze(arr).shape == np.squeeze(truth).shape:
        return arr.reshape(truth.shape)  # 10 for [10], [x1, x2] for [[x1], [x2]]: the same numbers
    got = "rows of different lengths" if arr is None else _shape_text(arr.shape)
    raise SpecError(f"{where}: key '{key}': expected {_shape_text(truth.shape, rows=True)}, got {got}")


def read_answers(path: str, truth: dict) -> dict:
    """The answers in ``path`` as {quantity: float array}, checked against the quantities of ``truth``.
    A ``chainrule derive --format json`` output is itself an answer file (its ``grids`` and ``loss``)."""
    where = str(path)
    text = read_text(where, kind="answer files", max_bytes=MAX_BYTES, missing="no such answer file")
    raw = parse_config(text, where, as_json=where.endswith(".json") or text.lstrip().startswith("{"))
    if isinstance(raw.get("grids"), dict):
        raw = {**{k: v for k, v in raw.items() if k != "grids"}, **raw["grids"]}
    answers = {}
    for key, value in raw.items():
        if key in IGNORED_KEYS:
            continue
        if key not in truth:
            near = [k for k in truth if k.endswith("_" + key)][:1] or difflib.get_close_matches(key, list(truth), n=1)
            if near:
                raise SpecError(f"{where}: key '{key}': unknown (this derivation's answers: {', '.join(truth)}); "
                                f"did you mean '{near[0]}'?")
            raise SpecError(f"{where}: key '{key}': unknown (this derivation's answers: {', '.join(truth)})")
        arr = _check_shape(_cells(value, where, key), np.asarray(truth[key]), where, key)
        if not np.all(np.isnan(arr)):
            answers[key] = arr
    if not answers:
        raise SpecError(f"{where}: no answers found (give e.g. loss = ..., or dL_dk = [[...], [...]])")
    return answers


# ----------------------------------------------------------------------------- grading
@dataclass
class LayeredMark:
    key: str            # quantity name, "dL_dx"
    index: tuple        # the cell (0-based), () for a number
    symbol: str
    given: float
    correct: float
    status: str         # "right", "wrong" or "carried"
    derivation: str
    cause: str | None = None
    carried_from: list = field(default_factory=list)
    mistakes: list = field(default_factory=list)   # the ids of the classic mistakes that reproduce it

    @property
    def path(self) -> str:
        return self.key + "".join(f"[{i}]" for i in self.index)

    def to_dict(self) -> dict:
        return {"key": self.path, "quantity": self.key, "cell": list(self.index), "symbol": self.symbol,
                "given": self.given, "correct": self.correct, "status": self.status, "derivation": self.derivation,
                "cause": self.cause, "mistakes": self.mistakes, "carried_from": self.carried_from}


@dataclass
class LayeredReport(Tally):
    spec: str
    kind: str
    marks: list
    tolerance: str
    labels: dict                                       # quantity -> its symbol without a cell ("∂L/∂x")
    cannot_tell: list = field(default_factory=list)
    causes: dict = field(default_factory=dict)         # quantity -> the cause shared by all its wrong cells
    lang: str = "en"
    layered = True

    @property
    def quantities(self) -> list[dict]:
        out = {}
        for m in self.marks:
            q = out.setdefault(m.key, {"key": m.key, "symbol": self.labels.get(m.key, m.key), "right": 0, "wrong": 0,
                                       "carried": 0, "cause": None})
            q[m.status] += 1
        for q in out.values():
            q["cause"] = self.causes.get(q["key"])
        return list(out.values())

    def to_dict(self) -> dict:
        return {"spec": self.spec, "kind": self.kind, "tolerance": self.tolerance, "counts": self.counts,
                "all_right": self.all_right, "cannot_tell": self.cannot_tell, "quantities": self.quantities,
                "carried": [{"from": list(origin), "count": len(ms), "keys": [m.path for m in ms]}
                            for origin, ms in self.carried_groups],
                "marks": [m.to_dict() for m in self.marks]}

    def render(self, fmt: str) -> str:
        import json

        if fmt == "json":
            return json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n"
        return render_md(self) if fmt == "md" else render_text(self)


def _label(symbol: str) -> str:
    """∂L/∂x_12 -> ∂L/∂x: a quantity's symbol from one cell's."""
    return re.sub(r"(_[\d,]+|(\[[\d,]+\])+)$", "", symbol)


def _cell_of(key: str, grids: dict):
    """The (grid, cell) an entry key writes, or None: ``y_12`` (one digit per axis), ``a_1_2`` (one number
    per axis), ``xhat_3`` (the axes longer than 1), ``mu`` (a grid of one number), ``W_hh_12_after``."""
    suffix = "_after" if key.endswith("_after") else ""
    stem = key[:-len(suffix)] if suffix else key
    if stem + suffix in grids and np.size(grids[stem + suffix]) == 1:
        return stem + suffix, (0,) * np.ndim(grids[stem + suffix])
    m = re.fullmatch(r"(.+?)((?:_\d+)+)", stem)
    if not m or m.group(1) + suffix not in grids:
        return None
    name, parts = m.group(1) + suffix, m.group(2).strip("_").split("_")
    shape = np.shape(grids[name])
    long_axes = [a for a, n in enumerate(shape) if n != 1]
    for axes in (list(range(len(shape))), long_axes):  # every axis, then those longer than 1
        for numbers in (parts, list(parts[0]) if len(parts) == 1 else None):  # a_1_2, then y_12
            if numbers is None or len(numbers) != len(axes) or (numbers is not parts and len(axes) < 2):
                continue
            index = [0] * len(shape)
            for a, part in zip(axes, numbers):
                index[a] = int(part) - 1
            if all(0 <= i < n for i, n in zip(index, shape)):
                return name, tuple(index)
    return None


def _fallback_lines(derivation) -> dict:
    """(quantity, cell) -> (symbol, line) from the derivation's entries (a module without ``cell_lines``)."""
    out = {}
    for e in derivation.entries:
        cell = _cell_of(e["key"], derivation.grids)
        if cell is not None:
            out.setdefault(cell, (e["symbol"], e["expression"]))
        elif not re.search(r"\d", e["key"]):
            out.setdefault((e["key"], ()), (e["symbol"], e["expression"]))
    return out


def _truth(derivation) -> dict:
    """Every answerable quantity: the grids, the loss, and the numbers the derivation writes alone (∂L/∂b)."""
    out = {k: np.asarray(v, dtype=np.float64) for k, v in derivation.grids.items()}
    out["loss"] = np.asarray(float(derivation.loss))
    for e in derivation.entries:  # a number written alone (∂L/∂b, mean(g)); no cell of a grid
        if e["key"] not in out and not re.search(r"\d", e["key"]):
            out[e["key"]] = np.asarray(float(e["value"]))
    return out


def grade_layered(spec, answers_path: str, sig_digits: int | None = 3, rtol: float | None = None,
                  lang: str = "en") -> LayeredReport:
    """Mark the answers in ``answers_path`` against the layered derivation of ``spec``."""
    from ..grade import tolerance_check

    if lang not in LANGS:
        raise ValueError(f"grade: lang must be one of {', '.join(LANGS)}, got {lang!r}")
    kind = kind_of(spec)
    if kind is None:
        known = ", ".join(k.examples or k.name for k in REGISTRY)
        raise SpecError(f"{spec.source}: chainrule grade marks the layered specs that chainrule derive writes out, "
                        f"such as {known}; this one has blocks {', '.join(map(str, _kinds(spec)))}")
    module = importlib.import_module(kind.module)
    derivation = getattr(module, kind.derive)(spec, lang=lang)
    truth = _truth(derivation)
    answers = read_answers(answers_path, truth)
    values = kind.values(spec) if kind.values else {}
    close = tolerance_check(sig_digits, rtol)
    lines = module.cell_lines(derivation) if hasattr(module, "cell_lines") else _fallback_lines(derivation)
    mistakes = {m: {k: np.asarray(v, dtype=np.float64) for k, v in changed.items()}
                for m, changed in module.classic_mistakes(spec).items()}
    replay = getattr(module, "replay", None)
    if kind.replay:
        where, _, name = kind.replay.partition(":")
        replay = getattr(importlib.import_module(where), name)
    expected = {k: np.asarray(v, dtype=np.float64) for k, v in replay(spec, answers).items()} if replay else {}
    order = [k for k in truth if k not in expected] + [k for k in expected if k in truth]

    def all_close(a, b, where):
        return all(close(float(a[i]), float(b[i])) for i in where)

    def answered(key):
        return [i for i, v in np.ndenumerate(answers[key]) if not np.isnan(v)]

    # each mistake also replayed from the learner's own answers (a mistake made after an earlier one)
    learner = {}
    if replay is not None and "mistake" in inspect.signature(replay).parameters:
        for mistake in mistakes:
            world = replay(spec, answers, mistake=mistake)
            learner[mistake] = {k: np.asarray(v, dtype=np.float64) for k, v in world.items()}

    def candidates(mistake, key, index):
        """The values ``mistake`` gives at this cell: from the engine's numbers, from the learner's."""
        out = []
        if key in mistakes[mistake]:
            value = float(mistakes[mistake][key][index])
            if not close(value, float(truth[key][index])):
                out.append(value)
        if key in learner.get(mistake, {}) and key in expected:
            value = float(learner[mistake][key][index])
            if not close(value, float(expected[key][index])) and not close(value, float(truth[key][index])):
                out.append(value)
        return out

    def ruled_out(mistake, key):
        """An answer worked before ``key`` that the mistake would have changed is right, or is not what
        the mistake gives there (the learner did something else at that point)."""
        for earlier in order[:order.index(key)]:
            if earlier not in answers:
                continue
            cells = answered(earlier)
            options = {c: candidates(mistake, earlier, c) for c in cells}
            if not any(options.values()):
                continue  # the mistake does not change this answer
            if all_close(answers[earlier], truth[earlier], cells):
                return True
            if not any(close(float(answers[earlier][c]), v) for c in cells for v in options[c]):
                return True
        return False

    def cause_text(ids):
        return message(lang, "or").join(mistake_text(lang, m, values) for m in ids)

    marks = []
    for key in (k for k in order if k in answers):
        for index in answered(key):
            given, correct = float(answers[key][index]), float(truth[key][index])
            symbol, line = lines.get((key, index), (None, None))
            symbol = symbol or key + "".join(f"[{i}]" for i in index)
            mark = LayeredMark(key, index, symbol, given, correct, "right", line or f"{symbol} = {correct!r}")
            if not close(given, correct):
                mark.status = "wrong"
                redo = float(expected[key][index]) if key in expected else None
                if redo is not None and not close(redo, correct) and close(given, redo):
                    mark.status = "carried"
                else:
                    for mistake in mistakes:
                        if (any(close(given, v) for v in candidates(mistake, key, index))
                                and not ruled_out(mistake, key)):
                            mark.mistakes.append(mistake)
                    mark.cause = (cause_text(mark.mistakes) if mark.mistakes else
                                  _rounded(given, correct, sig_digits if rtol is None else None, lang))
            marks.append(mark)
    labels = {key: _label(lines.get((key, next(iter(answered(key)), ())), (key, ""))[0]) for key in answers}
    _carried_origins(marks, answers, replay, spec, close, labels)
    tol = message(lang, "tol_rtol", r=rtol) if rtol is not None else message(lang, "tol_digits", n=sig_digits)
    notes = [message(lang, "cannot_tell", mistake=mistake_text(lang, m, values, short=True))
             for m, changed in mistakes.items() if not changed]
    causes = {}
    for key in answers:  # a cause that explains every wrong cell of a quantity is said once for it
        wrong = [m for m in marks if m.key == key and m.status == "wrong"]
        shared = [mistake for mistake in mistakes if wrong and all(mistake in m.mistakes for m in wrong)]
        if len(wrong) > 1 and shared:
            causes[key] = cause_text(shared)
    return LayeredReport(spec.name, kind.name, marks, tol, labels, cannot_tell=notes, causes=causes, lang=lang)


def _carried_origins(marks, answers, replay, spec, close, labels) -> None:
    """Each carried mark's root mistakes: the wrong answers that, alone in a replay, change it."""
    roots = [k for k in answers if any(m.key == k and m.status == "wrong" for m in marks)]
    alone = {k: {q: np.asarray(v, dtype=np.float64) for q, v in replay(spec, {k: answers[k]}).items()}
             for k in roots} if replay else {}
    for m in marks:
        if m.status != "carried":
            continue
        origin = [k for k in roots if k != m.key and m.key in alone[k]
                  and not close(float(alone[k][m.key][m.index]), m.correct)]
        if not origin:  # only several wrong answers together change it
            origin = [k for k in roots if k != m.key] or ["?"]
        m.carried_from = [f"{labels[k]} ({k})" if labels.get(k, k) != k else k for k in origin]


# ----------------------------------------------------------------------------- reports
def _summary(origin, marks, lang) -> str:
    keys = ", ".join(m.symbol for m in marks[:6]) + (", …" if len(marks) > 6 else "")
    return message(lang, "carried_summary", n=len(marks), origin=", ".join(origin), keys=keys)


def _quantity_line(q, lang) -> str:
    label = f"{q['symbol']} ({q['key']})" if q["symbol"] != q["key"] else q["key"]
    n = q["right"] + q["wrong"] + q["carried"]
    if q["wrong"] == q["carried"] == 0:
        return message(lang, "quantity_right", label=label, n=n)
    return message(lang, "quantity_some", label=label, n=n, right=q["right"], wrong=q["wrong"], carried=q["carried"])


MAX_CELLS = 6  # wrong cells written out per quantity when they share one cause


def render_text(report) -> str:
    """Per quantity one line (how many cells right); each wrong cell with the correct value, its line in
    the derivation and the likely cause; carried errors one summary line per root mistake."""
    from ..numbers import fmt

    lang = report.lang
    out = [message(lang, "heading", spec=report.spec, tol=report.tolerance), ""]
    groups = dict(report.carried_groups)
    for q in report.quantities:
        status = "right" if q["wrong"] == q["carried"] == 0 else ("wrong" if q["wrong"] else "carried")
        out.append(f"{ICON[status]} {_quantity_line(q, lang)}")
        wrong = [m for m in report.marks if m.key == q["key"] and m.status == "wrong"]
        shared = q["cause"]
        if shared:
            out.append(f"      {message(lang, 'cause_all', cause=shared)}")
        shown = wrong[:MAX_CELLS] if shared else wrong
        for m in shown:
            out.append(f"    ✗ {m.symbol}  ({m.path}): {message(lang, 'you_wrote', given=fmt(m.given), correct=fmt(m.correct))}")
            out.append(f"          {m.derivation}")
            if not shared:
                out.append("          " + (message(lang, "likely", cause=m.cause) if m.cause else message(lang, "no_cause")))
        if len(shown) < len(wrong):
            out.append(f"    {message(lang, 'more_cells', n=len(wrong) - len(shown))}")
        for m in report.marks:
            if m.key == q["key"] and m.status == "carried" and tuple(m.carried_from) in groups:
                origin = tuple(m.carried_from)
                out.append(f"    ↳ {_summary(origin, groups.pop(origin), lang)}")
    c = report.counts
    out += ["", message(lang, "counts", total=len(report.marks), **c)]
    first = next((m for m in report.marks if m.status == "wrong"), None)
    if first:
        out.append(message(lang, "first_layered", symbol=first.symbol, key=first.path))
    out += [f"! {note}" for note in report.cannot_tell]
    return "\n".join(out) + "\n"


def render_md(report) -> str:
    from ..numbers import fmt

    lang = report.lang
    head = MESSAGES[lang]["md_head_layered"]
    out = [message(lang, "md_heading", spec=report.spec, tol=report.tolerance), "",
           "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    groups = dict(report.carried_groups)
    for q in report.quantities:
        status = "right" if q["wrong"] == q["carried"] == 0 else ("wrong" if q["wrong"] else "carried")
        rows = [[ICON[status], f"`{q['key']}`", "", "", "", "", _quantity_line(q, lang)]]
        for m in report.marks:
            if m.key != q["key"] or m.status == "right":
                continue
            if m.status == "wrong":
                note = message(lang, "likely", cause=m.cause) if m.cause else message(lang, "no_cause")
                rows.append([ICON["wrong"], "", f"{m.symbol} (`{m.path}`)", fmt(m.given), fmt(m.correct),
                             m.derivation, note])
            elif tuple(m.carried_from) in groups:
                origin = tuple(m.carried_from)
                rows.append([ICON["carried"], "", "", "", "", "", _summary(origin, groups.pop(origin), lang)])
        out += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
    c = report.counts
    out += ["", message(lang, "md_counts", total=len(report.marks), **c)]
    out += [f"> {note}" for note in report.cannot_tell]
    return "\n".join(out) + "\n"
