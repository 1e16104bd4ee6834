"""Write a class set of backpropagation worksheets: per student a variant of SPEC with its own
hand-friendly numbers (reproducible from --seed and the student's number), as a printable HTML page
and PDF (PDF with Chromium, when installed), an answer file to fill in, and a separate answer key.
No two students share numbers; no variant lets a classic mistake give the right value. See
docs/worksheets.md. Grade the returned answer files with `chainrule grade --class`.

examples:
  chainrule worksheet seed --variants 30 --seed 7 --out sheets/
  chainrule worksheet mazur --variants 25 --seed 2026 --lang zh --out sheets-zh/ --hints
  chainrule grade --class sheets/ answers/ --gradebook grades.csv
"""

from __future__ import annotations

HELP = "write per-student worksheets (HTML/PDF), answer templates and answer keys for a class"


def add_arguments(p) -> None:
    p.add_argument("spec", metavar="SPEC", help="the template: a shipped spec's name (seed, mazur, relu, ...) or a file")
    p.add_argument("--variants", type=int, default=30, help="number of students (default 30)")
    p.add_argument("--seed", type=int, default=0, help="class seed: the same seed gives the same sheets (default 0)")
    p.add_argument("--out", metavar="DIR", default="sheets", help="output folder (default sheets/)")
    p.add_argument("--lang", choices=("en", "zh"), default="en", help="language of the sheets (default en)")
    p.add_argument("--pdf", choices=("auto", "yes", "no"), default="auto",
                   help="also print each sheet to PDF with headless Chromium: auto (when installed), yes, no")
    p.add_argument("--hints", action="store_true", help="show each blank's formula in symbols (not its numbers)")
    p.add_argument("--lr", type=float, default=None,
                   help="learning rate of every variant (default: the spec's when hand-friendly, else 0.1)")
    p.add_argument("--sig-digits", type=int, default=3, help="the grader's tolerance the variants are checked at (default 3)")


def run(args) -> int:
    from ..sheet import write_class

    if not 1 <= args.variants <= 1000:
        raise ValueError(f"--variants must be between 1 and 1000, got {args.variants}")
    if args.lr is not None and not 0 < args.lr <= 10:
        raise ValueError(f"--lr must be in (0, 10], got {args.lr}")
    record = write_class(args.spec, args.variants, args.seed, args.out, lang=args.lang, pdf=args.pdf,
                         hints=args.hints, lr=args.lr, sig_digits=args.sig_digits)
    pdf = any(p.endswith(".pdf") for p in __import__("os").listdir(args.out))
    files = f"s01.html{', s01.pdf' if pdf else ''}, s01-answers.toml, key/s01-key.html, ..."
    n, name, seed = len(record["students"]), record["template"], record["seed"]
    print(f"{n} worksheets for '{name}' (seed {seed}) in {args.out}: {files}" if args.lang == "en" else
          f"为 '{name}' 生成了 {n} 份练习单（种子 {seed}），在 {args.out}：{files}")
    return 0
