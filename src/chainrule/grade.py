"""Grade hand-worked answers: each value right or wrong, the correct value, the derivation line, the
likely cause of a mistake, and carried errors (wrong only because an earlier answer was wrong).

Answers come in the JSON shape of ``StepRecord.to_dict()`` / ``chainrule derive --format json``
(any subset). The engine's numbers are the truth. To find causes and carried errors, one training
step is replayed element by element (``grading.replay``) in the learner's world (every quantity
computed from the learner's own earlier answers where given), and under each classic mistake
(``grading.mistakes``: sign of ∂L/∂y', the ½ of the loss, the 1/N of a mean, a missing activation
derivative, a missing path or weight, weights already updated, ...), both from the learner's answers
and from the engine's numbers. Mistakes that give the right numbers on a spec are reported too.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

from . import limits, notation
from .errors import SpecError
from .grading.marks import Tally
from .grading.messages import LANGS, message
from .grading.mistakes import cannot_tell, find_cause, knobs
from .grading.replay import Context, truth_paths
from .io import parse_config, read_text
from .network import run as run_spec
from .spec import load_spec, short_repr

# the names worksheet.py used before the replay moved to grading/ (kept so both stay in step)
_Context, _truth_paths, _knobs = Context, truth_paths, knobs

STEP_KEYS = {"step", "forward", "output", "loss", "dL_doutput", "delta", "grad", "params_after", "params_before"}
IGNORED_STEP_KEYS = {"entries", "check", "warnings"}               # present in derive's JSON, not answers
IGNORED_TOP_KEYS = {"format", "version", "spec", "lang", "notation", "precision", "form", "name", "teacher_note"}
MAX_BYTES = 1_000_000
MAX_STEP = limits.GRADE_STEP                                        # the last step an answer file may cover


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
            raise SpecError(f"{where}: key '{prefix}step': expected a step number 1, 2, ..., got {short_repr(step)}")
        if step > MAX_STEP:
            raise SpecError(f"{where}: key '{prefix}step': step {short_repr(step)} is beyond the {MAX_STEP} steps "
                            f"chainrule grade marks (answers are worked by hand)")
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
                raise SpecError(f"{where}: key '{path}': expected a list of {len(truth)} values, got {short_repr(answer)}")
        if len(answer) != len(truth):
            raise SpecError(f"{where}: key '{path}': expected {len(truth)} entries, got {len(answer)}"
                            + _transposed_hint(answer, truth))
        for k, (a, t) in enumerate(zip(answer, truth)):
            _flatten(a, t, f"{path}[{k}]", where, out)
        return
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        raise SpecError(f"{where}: key '{path}': expected a number, got {short_repr(answer)}")
    if not math.isfinite(_as_float(answer)):
        raise SpecError(f"{where}: key '{path}': expected a finite number, got {short_repr(answer)}")
    out[path] = float(answer)


def _scoping_hint(name: str, header: str) -> str:
    """TOML puts every key after a table header into that table: ``loss = ...`` written after
    ``[[forward]]`` becomes ``forward[0].loss``. Say so when the stray key is a top-level answer."""
    if name not in STEP_KEYS:
        return ""
    return (f". In TOML a table runs from its header to the next header, so '{name}' written after {header} "
            f"belongs to that table: move '{name} = ...' above the first [table] or [[table]] header")


def _transposed_hint(answer, truth) -> str:
    """A matrix answered in (out, in) order, the transpose of chainrule's (from, to)."""
    rows = [len(r) for r in answer if isinstance(r, list)]
    if (len(rows) == len(answer) and truth and isinstance(truth[0], list) and len(set(rows)) == 1
            and rows[0] == len(truth) and len(answer) == len(truth[0])):
        return (f" (a {len(answer)}x{rows[0]} matrix: looks transposed; chainrule writes weights as (from, to), "
                f"{len(truth)}x{len(truth[0])}: row i is neuron i of the earlier layer, column j neuron j of the later one)")
    return ""


def _as_float(value) -> float:
    """``float(value)``, or inf for an integer too large for a float (a 310-digit answer)."""
    try:
        return float(value)
    except OverflowError:
        return math.inf


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
                                    f"got {short_repr(index)}")
                extra = sorted(set(layer) - {"layer", "z", "a"})
                if extra:
                    raise SpecError(f"{where}: key '{prefix}forward[{n}].{extra[0]}': unknown (a layer has z and a)"
                                    + _scoping_hint(extra[0], "[[forward]]"))
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
                if name not in truth[key] and name in truth.get("params_before", {}):
                    raise SpecError(f"{where}: key '{prefix}{key}.{name}': {name} is frozen in this spec (not trained), "
                                    "so it has no gradient; leave it out")
                if name not in truth[key]:
                    raise SpecError(f"{where}: key '{prefix}{key}.{name}': no such parameter "
                                    f"(this network has {', '.join(truth[key])}; W matrices in (from, to) order)"
                                    + _scoping_hint(name, f"[{key}]"))
                _flatten(v, truth[key][name], f"{key}.{name}", where, out)
            continue
        _flatten(value, truth[key], key, where, out)
    return out


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
class Report(Tally):
    spec: str
    marks: list
    tolerance: str
    cannot_tell: list = field(default_factory=list)   # mistakes this exercise cannot detect
    lang: str = "en"

    def to_dict(self) -> dict:
        return {"spec": self.spec, "tolerance": self.tolerance, "counts": self.counts,
                "all_right": self.all_right, "cannot_tell": self.cannot_tell,
                "carried": [{"from": list(origin), "count": len(ms), "keys": [f"{m.step}:{m.key}" for m in ms]}
                            for origin, ms in self.carried_groups],
                "marks": [m.to_dict() for m in self.marks]}


def tolerance_check(sig_digits: int | None = 3, rtol: float | None = None):
    """``close(answer, value)``: equal to ``sig_digits`` significant digits (half a unit in the last
    digit kept), or within ``rtol`` relative error when given."""
    def close(a, v):
        if not math.isfinite(v):  # the engine's own value overflowed: only the same infinity matches
            return a == v
        if rtol is not None:
            return abs(a - v) <= rtol * abs(v) + 1e-12
        if v == 0 or abs(v) < 1e-300:
            return abs(a) <= 0.5 * 10.0 ** (-sig_digits - 6)
        unit = 10.0 ** (math.floor(math.log10(abs(v))) - sig_digits + 1)
        return abs(a - v) <= 0.5 * unit * (1 + 1e-9)
    return close


def _derivation_lines(spec, steps: int, lang: str = "en") -> dict:
    """(step, key) -> (symbol, expression) from the derivation explainer (chainrule.explain). An
    ``output`` answer gets the line of the last layer's activation (y' is that activation)."""
    from .explain import derive

    try:
        entries = derive(spec, steps=steps, lang=lang).entries
    except Exception:  # noqa: BLE001 - a derivation that cannot be written still leaves the grade usable
        return {}
    lines = {(e["step"], e["key"]): (e["symbol"], e["expression"]) for e in entries}
    last = f"forward[{spec.depth - 1}].a"
    for (step, key), line in list(lines.items()):
        if key.startswith(last):
            lines.setdefault((step, "output" + key[len(last):]), line)
    return lines


def _fallback_symbol(spec, key: str) -> str:
    style = notation.default_style(spec.depth)
    for part in ("grad.", "params_after.", "params_before."):
        if key.startswith(part):
            name = key[len(part):].split("[")[0]
            index = tuple(int(v) for v in key[key.index("["):].strip("[]").split("]["))
            symbol = notation.param(name, index, style)
            return {"grad.": f"∂L/∂{symbol}", "params_after.": f"{symbol} (after)", "params_before.": symbol}[part]
    return key


def _layered(spec):
    """The layered spec ``spec`` is or names (a path or a shipped layered spec's name), else None."""
    from .layered import LayeredSpec, load_layered_spec

    if isinstance(spec, LayeredSpec):
        return spec
    if isinstance(spec, (str, os.PathLike)):
        return load_layered_spec(spec)
    return None


def grade(spec, answers_path: str, sig_digits: int | None = 3, rtol: float | None = None,
          lang: str = "en") -> Report:
    """Mark every answer in ``answers_path`` against the engine's run of ``spec``; ``lang`` "en" or
    "zh" for the causes and derivation lines. A layered spec (``conv``, ``conv-pool``, ...) is marked
    cell by cell against its derivation and gives a ``grading.layered.LayeredReport``."""
    if lang not in LANGS:
        raise ValueError(f"grade: lang must be one of {', '.join(LANGS)}, got {lang!r}")
    layered = _layered(spec)
    if layered is not None:  # a convolution (conv, conv-pool, ...): grids cell by cell (grading/layered.py)
        from .grading.layered import grade_layered

        return grade_layered(layered, answers_path, sig_digits=sig_digits, rtol=rtol, lang=lang)
    spec = load_spec(spec)
    where = str(answers_path)
    items = _steps_of(_parse_file(where), where)
    n_steps = max(step for step, _ in items)
    limits.refuse_over("the number of values to mark (steps × parameters × samples)",
                       n_steps * spec.n_params * spec.batch_size, limits.GRADE_VALUES, where,
                       "answers are worked by hand: grade a smaller network, or fewer steps")
    result = run_spec(spec, steps=n_steps)
    ctx = Context(spec, result)
    answers = {}
    for n, (step, item) in enumerate(items):
        prefix = f"steps[{n}]." if len(items) > 1 or "step" in item else ""
        answers[step] = _flatten_step(item, result.steps[step - 1].to_dict(), where, prefix)
    if not any(answers.values()):
        raise SpecError(f"{where}: no answers found (give e.g. loss = ..., or [grad] W1 = [[...]])")
    close = tolerance_check(sig_digits, rtol)
    lines = _derivation_lines(spec, n_steps, lang)
    marks, prev, worlds = [], None, {}
    for step in range(1, n_steps + 1):
        given = answers.get(step, {})
        variants = {}
        for knob in knobs(spec):  # each mistake, from the learner's answers and from the engine's numbers
            worlds[(knob, step)] = ctx.replay(step, {}, knob).world
            try:
                variants[knob] = (ctx.replay(step, given, knob).expected, worlds[(knob, step)])
            except (OverflowError, ValueError, ZeroDivisionError):
                continue  # the mistake cannot be replayed with these answers (they overflow): not a cause
        right = {k: v for k, v in given.items() if k in ctx.truth[step - 1] and close(v, ctx.truth[step - 1][k])}
        causes: dict = {}

        def classify(ps, key, answer, computed, taint, variants=variants, causes=causes, right=right):
            truth = ps.truth[key]
            if close(answer, truth):
                causes[key] = ("right", None, [])
                return frozenset()
            if taint and close(answer, computed):
                causes[key] = ("carried", None, sorted(taint))
                return taint
            cause = find_cause(ctx, ps, key, answer, truth, variants, right, close, lang,
                               sig_digits if rtol is None else None)
            causes[key] = ("wrong", cause, [])
            return frozenset({key})

        try:
            ps = ctx.replay(step, given, None, classify=classify, prev=prev)
        except (OverflowError, ZeroDivisionError) as exc:
            raise SpecError(f"{where}: step {step}: the answers are too large to replay ({exc}); "
                            f"check them for a typo") from None
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
    tol = message(lang, "tol_rtol", r=rtol) if rtol is not None else message(lang, "tol_digits", n=sig_digits)
    notes = [message(lang, "cannot_tell", mistake=m) for m in cannot_tell(ctx, list(range(1, n_steps + 1)), lang, worlds)]
    return Report(spec.name, marks, tol, notes, lang)
