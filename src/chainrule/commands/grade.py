"""Grade hand-worked answers against the engine: each value right or wrong, with the correct value,
the derivation line that produces it, the likely cause of a mistake (sign of ∂L/∂y', the ½ of the
loss or the 1/N of a mean, a missing activation derivative, a factor from the wrong neuron, weights
already updated), and carried errors (wrong only because an earlier answer was wrong).

ANSWERS is a TOML or JSON file in the shape of `chainrule derive --format json` (any subset); see
docs/grade.md. Exit status: 0 all right, 1 some wrong, 2 bad input. Example:

  chainrule grade seed my_answers.toml
  chainrule grade mazur answers.json --format md --sig-digits 4
  chainrule grade conv answers.toml   (a convolution cell by cell: y, dL_dy, dL_dk, dL_dx, k_after, ...)
  chainrule grade --class sheets/ answers/ --gradebook grades.csv   (a class: see docs/worksheets.md)
"""

from __future__ import annotations

HELP = "mark hand-worked answers right or wrong, with the cause of each mistake"

ICON = {"right": "✓", "wrong": "✗", "carried": "↳"}


def add_arguments(p) -> None:
    p.add_argument("spec", metavar="SPEC", help="a spec file (.toml or .json) or a shipped spec's name (seed, mazur, ...)")
    p.add_argument("answers", metavar="ANSWERS", help="the learner's answers (.toml or .json)")
    p.add_argument("--format", choices=("text", "md", "json"), default="text", help="output format (default text)")
    p.add_argument("--class", dest="class_", action="store_true",
                   help="grade a class: SPEC is the folder `chainrule worksheet` wrote, ANSWERS a folder of answer files")
    p.add_argument("--gradebook", metavar="CSV", default=None, help="with --class: write one row per student here")
    p.add_argument("--chart", metavar="PNG", default=None,
                   help="with --class: bar chart of common mistakes (default: next to the gradebook)")
    p.add_argument("--lang", choices=("en", "zh"), default="en", help="language of the feedback (default en)")
    tol = p.add_mutually_exclusive_group()
    tol.add_argument("--sig-digits", type=int, default=3, help="significant digits that must agree (default 3)")
    tol.add_argument("--rtol", type=float, default=None, help="relative tolerance instead of significant digits")


def _detail(m, lang) -> str:
    from ..grading.messages import message

    if m.status == "right":
        return ""
    if m.status == "carried":
        return message(lang, "carried", origin=", ".join(m.carried_from))
    return message(lang, "likely", cause=m.cause) if m.cause else message(lang, "no_cause")


def _summary(origin, marks, lang) -> str:
    from ..grading.messages import message

    keys = ", ".join(m.symbol if m.step == marks[0].step else message(lang, "in_step", symbol=m.symbol, n=m.step)
                     for m in marks[:6])
    if len(marks) > 6:
        keys += ", …"
    return message(lang, "carried_summary", n=len(marks), origin=", ".join(origin), keys=keys)


def render_text(report) -> str:
    """Right answers one line each, wrong answers with the correct value, the derivation line and the
    likely cause; carried errors one summary line per root mistake, where the first one shows."""
    from ..grading.messages import message
    from ..numbers import fmt

    lang = report.lang
    out = [message(lang, "heading", spec=report.spec, tol=report.tolerance), ""]
    groups = {origin: ms for origin, ms in report.carried_groups}
    for m in report.marks:
        head = f"{ICON[m.status]} {message(lang, 'step', n=m.step)}  {m.symbol}  ({m.key})"
        if m.status == "right":
            out.append(f"{head}: {fmt(m.given)}")
        elif m.status == "carried":
            origin = tuple(m.carried_from)
            if origin in groups:
                out.append(f"↳ {_summary(origin, groups.pop(origin), lang)}")
        else:
            out.append(f"{head}: {message(lang, 'you_wrote', given=fmt(m.given), correct=fmt(m.correct))}")
            out.append(f"      {m.derivation}")
            out.append(f"      {_detail(m, lang)}")
    c = report.counts
    out += ["", message(lang, "counts", total=len(report.marks), **c)]
    first = next((m for m in report.marks if m.status == "wrong"), None)
    if first:
        out.append(message(lang, "first", symbol=first.symbol, key=first.key, step=first.step))
    out += [f"! {note}" for note in report.cannot_tell]
    return "\n".join(out) + "\n"


def render_md(report) -> str:
    from ..grading.messages import MESSAGES, message
    from ..numbers import fmt

    lang = report.lang
    head = MESSAGES[lang]["md_head"]
    out = [message(lang, "md_heading", spec=report.spec, tol=report.tolerance), "",
           "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    groups = {origin: ms for origin, ms in report.carried_groups}
    for m in report.marks:
        if m.status == "carried":
            origin = tuple(m.carried_from)
            if origin not in groups:
                continue
            cells = [ICON["carried"], str(m.step), "", "", "", "", _summary(origin, groups.pop(origin), lang)]
        else:
            cells = [ICON[m.status], str(m.step), f"{m.symbol} (`{m.key}`)", fmt(m.given), fmt(m.correct),
                     m.derivation if m.status == "wrong" else "", _detail(m, lang)]
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    c = report.counts
    out += ["", message(lang, "md_counts", total=len(report.marks), **c)]
    out += [f"> {note}" for note in report.cannot_tell]
    return "\n".join(out) + "\n"


def run(args) -> int:
    import json
    import sys

    from ..grade import grade

    if args.sig_digits is not None and not 1 <= args.sig_digits <= 15:
        raise ValueError(f"--sig-digits must be between 1 and 15, got {args.sig_digits}")
    if args.rtol is not None and not args.rtol >= 0:
        raise ValueError(f"--rtol must be a non-negative number, got {args.rtol}")
    if args.class_:
        from ..classroom import run_class

        return run_class(args)
    if args.gradebook or args.chart:
        raise ValueError("--gradebook and --chart go with --class")
    report = grade(args.spec, args.answers, sig_digits=args.sig_digits, rtol=args.rtol, lang=args.lang)
    if getattr(report, "layered", False):  # a layered derivation's report (grading/layered.py) renders itself
        text = report.render(args.format)
    elif args.format == "json":
        text = json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n"
    elif args.format == "md":
        text = render_md(report)
    else:
        text = render_text(report)
    sys.stdout.write(text)
    return 0 if report.all_right else 1
