"""Grade a whole class: every answer file in a folder against its student's worksheet variant.

``grade_class(sheets, answers)`` reads the class record ``chainrule worksheet`` wrote (``class.json``),
matches each answer file to a student (by its ``spec = "s07"`` line, else by a file name that starts
with the student's id), marks it with ``chainrule.grade.grade`` (the same marks, causes and carried
errors as one student's ``chainrule grade``) and returns one row per student plus a summary of which
mistakes were common. ``write_gradebook`` writes the rows as CSV; ``mistake_chart`` draws the summary.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections import Counter
from dataclasses import dataclass, field

from .errors import ChainruleError, SpecError
from .grade import grade
from .io import atomic_write, parse_config, read_text

ANSWER_EXTS = (".toml", ".json")
COLUMNS = ["student", "name", "file", "score", "right", "wrong", "carried", "blank", "first_mistake",
           "first_mistake_key", "cause", "status"]
OTHER = "no classic mistake reproduces the value"


@dataclass
class Row:
    student: str
    name: str = ""
    file: str = ""
    blanks: int = 0
    right: int = 0
    wrong: int = 0
    carried: int = 0
    first_mistake: str = ""
    first_mistake_key: str = ""
    cause: str = ""
    status: str = "graded"              # graded | missing | no answers | unreadable: MESSAGE
    mistakes: list = field(default_factory=list)   # the mistake kind of every wrong mark

    @property
    def score(self) -> float:
        return 100.0 * self.right / self.blanks if self.blanks else 0.0

    def cells(self) -> dict:
        return {"student": self.student, "name": self.name, "file": self.file, "score": f"{self.score:.0f}",
                "right": self.right, "wrong": self.wrong, "carried": self.carried,
                "blank": self.blanks - self.right - self.wrong - self.carried,
                "first_mistake": self.first_mistake, "first_mistake_key": self.first_mistake_key,
                "cause": self.cause, "status": self.status}


@dataclass
class ClassReport:
    template: str
    rows: list
    summary: list          # [(mistake kind, students who made it)], most common first
    unmatched: list        # answer files that belong to no student

    def to_dict(self) -> dict:
        return {"template": self.template, "students": [r.cells() for r in self.rows],
                "summary": [{"mistake": k, "students": n} for k, n in self.summary], "unmatched": self.unmatched}


def mistake_kind(cause: str | None) -> str:
    """The kind of a grader's cause, without the neuron names: "a sign error in ∂L/∂y'", "a factor
    taken from the wrong neuron", ...; several causes that fit are joined with "or"."""
    if not cause:
        return OTHER
    kinds = []
    for part in cause.split("; or "):
        kind = re.sub(r"\s*\([^)]*\)\s*$", "", part.split(":")[0]).strip()
        if kind not in kinds:
            kinds.append(kind)
    return " or ".join(kinds)


def load_class(sheets: str) -> dict:
    path = os.path.join(sheets, "class.json")
    text = read_text(path, kind="class records", max_bytes=5_000_000,
                     missing="no class.json here (write the sheets with chainrule worksheet first)")
    record = parse_config(text, path, as_json=True)
    if record.get("format") != "chainrule-class" or not isinstance(record.get("students"), list):
        raise SpecError(f"{path}: not a class record written by chainrule worksheet (key 'format')")
    return record


def _answer_files(answers: str) -> list[str]:
    if not os.path.isdir(answers):
        raise SpecError(f"{answers}: no such folder of answer files")
    return sorted(os.path.join(answers, f) for f in os.listdir(answers)
                  if f.endswith(ANSWER_EXTS) and not f.startswith("."))


def _owner(path: str, ids: list[str]) -> tuple[str | None, str]:
    """(student id, student name) of an answer file: its ``spec = "s07"`` line, else its file name."""
    name, sid = "", None
    try:
        raw = parse_config(read_text(path, kind="answer files", max_bytes=1_000_000), path,
                           as_json=path.endswith(".json"))
        if isinstance(raw.get("spec"), str) and raw["spec"] in ids:
            sid = raw["spec"]
        if isinstance(raw.get("name"), str):
            name = raw["name"].strip()
    except (ChainruleError, OSError, ValueError):
        pass
    if sid is None:
        base = os.path.basename(path)
        sid = next((i for i in sorted(ids, key=len, reverse=True)
                    if base == i or base.startswith((f"{i}-", f"{i}.", f"{i}_"))), None)
    return sid, name


def grade_class(sheets: str, answers: str, sig_digits: int | None = None, rtol: float | None = None) -> ClassReport:
    """One row per student of the class in ``sheets``, graded from the files in ``answers``."""
    from .worksheet import blank_keys

    record = load_class(sheets)
    ids = [s["id"] for s in record["students"]]
    digits = sig_digits if sig_digits is not None else int(record.get("sig_digits", 3))
    files: dict = {}
    unmatched = []
    for path in _answer_files(answers):
        sid, name = _owner(path, ids)
        if sid is None:
            unmatched.append(os.path.basename(path))
        elif sid in files:
            raise SpecError(f"{path}: a second answer file for student {sid} (the first is {files[sid][0]})")
        else:
            files[sid] = (path, name)
    rows = []
    for student in record["students"]:
        sid = student["id"]
        spec_path = os.path.join(sheets, student["spec"])
        keys = set(blank_keys(spec_path))
        row = Row(sid, blanks=len(keys))
        if sid not in files:
            row.status = "missing"
            rows.append(row)
            continue
        path, row.name = files[sid]
        row.file = os.path.basename(path)
        try:
            report = grade(spec_path, path, sig_digits=digits, rtol=rtol)
        except (ChainruleError, OSError, ValueError) as exc:
            row.status = "no answers" if "no answers found" in str(exc) else f"unreadable: {exc}"
            rows.append(row)
            continue
        marks = [m for m in report.marks if m.key in keys]  # the sheet's blanks; extra answers do not count
        counts = Counter(m.status for m in marks)
        row.right, row.wrong, row.carried = counts["right"], counts["wrong"], counts["carried"]
        wrong = [m for m in marks if m.status == "wrong"]
        if wrong:
            row.first_mistake, row.first_mistake_key = wrong[0].symbol, wrong[0].key
            row.cause = mistake_kind(wrong[0].cause)
        row.mistakes = [mistake_kind(m.cause) for m in wrong]
        rows.append(row)
    common = Counter(kind for r in rows for kind in set(r.mistakes))
    summary = sorted(common.items(), key=lambda kv: (-kv[1], kv[0] == OTHER, kv[0]))
    return ClassReport(record.get("template", "?"), rows, summary, unmatched)


def gradebook_csv(report: ClassReport) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in report.rows:
        writer.writerow(row.cells())
    return buf.getvalue()


def write_gradebook(report: ClassReport, path: str) -> None:
    atomic_write(path, gradebook_csv(report))


def summary_text(report: ClassReport) -> str:
    from .numbers import fmt

    graded = [r for r in report.rows if r.status == "graded"]
    out = [f"Class '{report.template}': {len(report.rows)} students, {len(graded)} answer files graded", ""]
    width = max([len(r.student) for r in report.rows] + [7])
    out.append(f"{'student':<{width}}  score  first mistake")
    for r in report.rows:
        if r.status != "graded":
            out.append(f"{r.student:<{width}}      -  ({r.status})")
            continue
        first = f"{r.first_mistake} ({r.first_mistake_key}): {r.cause}" if r.first_mistake else "—"
        out.append(f"{r.student:<{width}}  {r.score:4.0f}%  {first}")
    if graded:
        mean = sum(r.score for r in graded) / len(graded)
        out += ["", f"mean score {fmt(round(mean, 1))}%"]
    out += ["", "Common mistakes (students who made each at least once):"]
    if not report.summary:
        out.append("  none")
    for kind, n in report.summary:
        out.append(f"  {n:3d}  {kind}")
    if report.unmatched:
        out += ["", "answer files that match no student: " + ", ".join(report.unmatched)]
    return "\n".join(out) + "\n"


def summary_markdown(report: ClassReport) -> str:
    lines = ["| mistake | students |", "|---|---|"]
    lines += [f"| {kind} | {n} |" for kind, n in report.summary]
    return "\n".join(lines) + "\n"


def mistake_chart(report: ClassReport, lang: str = "en"):
    """A horizontal bar chart of the summary: how many students made each kind of mistake."""
    import textwrap

    import matplotlib

    from .viz import _base

    items = report.summary or [("no mistakes", 0)]
    with matplotlib.rc_context(_base.rc(lang)):
        fig = _base.new_figure(8, 1.2 + 0.55 * len(items))
        ax = fig.add_subplot(1, 1, 1)
        labels = ["\n".join(textwrap.wrap(k, 44)) for k, _ in items][::-1]
        values = [n for _, n in items][::-1]
        bars = ax.barh(range(len(items)), values, color=_base.GRAD, height=0.6)
        ax.set_yticks(range(len(items)), labels, fontsize=9)
        for bar, v in zip(bars, values):
            ax.text(bar.get_width() + 0.05, bar.get_y() + bar.get_height() / 2, str(v), va="center", fontsize=9)
        ax.set_xlabel("students" if lang != "zh" else "学生人数")
        ax.set_xlim(0, max(values + [1]) * 1.15 + 0.5)
        ax.xaxis.get_major_locator().set_params(integer=True)
        n = len(report.rows)
        ax.set_title(f"{report.template}: common mistakes in a class of {n}" if lang != "zh"
                     else f"{report.template}：全班 {n} 人的常见错误", fontsize=11)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        fig.tight_layout()
    return _base.Drawing(fig, "mistakes", lang, {"summary": report.summary})


def run_class(args) -> int:
    """``chainrule grade --class SHEETS ANSWERS [--gradebook grades.csv] [--chart mistakes.png]``."""
    import sys

    report = grade_class(args.spec, args.answers, sig_digits=args.sig_digits, rtol=args.rtol)
    if args.format == "json":
        sys.stdout.write(json.dumps(report.to_dict(), ensure_ascii=False, indent=1) + "\n")
    elif args.format == "md":
        sys.stdout.write(summary_text(report).split("Common mistakes")[0] + "\n" + summary_markdown(report))
    else:
        sys.stdout.write(summary_text(report))
    if args.gradebook:
        write_gradebook(report, args.gradebook)
        print(f"gradebook: {args.gradebook}", file=sys.stderr)
    chart = args.chart or (os.path.splitext(args.gradebook)[0] + "-mistakes.png" if args.gradebook else None)
    if chart:
        mistake_chart(report).save(chart)
        print(f"chart: {chart}", file=sys.stderr)
    return 0


def check_answers(spec, answers: dict, lang: str = "en", sig_digits: int = 3):
    """Grade a dict of answers (the answer-file shape, "?" for a blank) and print the report: the
    exercises at the end of each lesson notebook call this. Returns the report (None when every
    answer is still blank)."""
    import tempfile

    from .commands.grade import render_text

    with tempfile.TemporaryDirectory(prefix="chainrule-answers-") as folder:
        path = os.path.join(folder, "answers.json")
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(answers, fh)
        try:
            report = grade(spec, path, sig_digits=sig_digits, lang=lang)
        except SpecError as exc:
            if "no answers found" not in str(exc):
                raise
            print("nothing to grade yet: replace a \"?\" with your number" if lang != "zh"
                  else "还没有可批改的答案：把 \"?\" 换成你算出的数")
            return None
    # a layered derivation's report (a convolution, an RNN: grading/layered.py) renders itself
    print(report.render("text") if getattr(report, "layered", False) else render_text(report))
    return report
