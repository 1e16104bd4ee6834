"""Grade hand-worked answers against the engine: each value right or wrong, with the correct value,
the derivation line that produces it, the likely cause of a mistake (sign of ∂L/∂y', the ½ of the
loss or the 1/N of a mean, a missing activation derivative, a factor from the wrong neuron, weights
already updated), and carried errors (wrong only because an earlier answer was wrong).

ANSWERS is a TOML or JSON file in the shape of `chainrule derive --format json` (any subset); see
docs/grade.md. Exit status: 0 all right, 1 some wrong, 2 bad input. Example:

  chainrule grade seed my_answers.toml
  chainrule grade mazur answers.json --format md --sig-digits 4
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
    tol = p.add_mutually_exclusive_group()
    tol.add_argument("--sig-digits", type=int, default=3, help="significant digits that must agree (default 3)")
    tol.add_argument("--rtol", type=float, default=None, help="relative tolerance instead of significant digits")


def _detail(m) -> str:
    if m.status == "right":
        return ""
    if m.status == "carried":
        return "carried error: right given your earlier answer " + ", ".join(m.carried_from)
    return f"likely cause: {m.cause}" if m.cause else "no classic mistake reproduces this value"


def render_text(report) -> str:
    from ..numbers import fmt

    out = [f"Grading answers for spec {report.spec!r} (tolerance: {report.tolerance})", ""]
    for m in report.marks:
        head = f"{ICON[m.status]} step {m.step}  {m.symbol}  ({m.key})"
        if m.status == "right":
            out.append(f"{head}: {fmt(m.given)}")
            continue
        out.append(f"{head}: you wrote {fmt(m.given)}, correct {fmt(m.correct)}")
        out.append(f"      {m.derivation}")
        out.append(f"      {_detail(m)}")
    c = report.counts
    out += ["", f"{c['right']} right, {c['wrong']} wrong, {c['carried']} carried error(s) of {len(report.marks)}"]
    first = next((m for m in report.marks if m.status == "wrong"), None)
    if first:
        out.append(f"first mistake: {first.symbol} ({first.key}, step {first.step})")
    return "\n".join(out) + "\n"


def render_md(report) -> str:
    from ..numbers import fmt

    out = [f"## Grade: spec `{report.spec}` (tolerance: {report.tolerance})", "",
           "| | step | quantity | your answer | correct | derivation | note |", "|---|---|---|---|---|---|---|"]
    for m in report.marks:
        cells = [ICON[m.status], str(m.step), f"{m.symbol} (`{m.key}`)", fmt(m.given), fmt(m.correct),
                 m.derivation, _detail(m)]
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    c = report.counts
    out += ["", f"**{c['right']} right, {c['wrong']} wrong, {c['carried']} carried** of {len(report.marks)}"]
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
    report = grade(args.spec, args.answers, sig_digits=args.sig_digits, rtol=args.rtol)
    if args.format == "json":
        text = json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n"
    elif args.format == "md":
        text = render_md(report)
    else:
        text = render_text(report)
    sys.stdout.write(text)
    return 0 if report.all_right else 1
