"""Check every gradient of the spec's first training step three ways: the engine's backward pass,
a central finite difference in float64, and PyTorch (float64) when it is installed.

One row per parameter element, with the relative errors and a verdict; the exit status is 1 when
any row fails (0 when all pass, 2 for a bad spec). Example:

  chainrule check seed
  chainrule check mazur --eps 1e-7
"""

from __future__ import annotations

HELP = "compare every gradient with finite differences and PyTorch, one row per parameter"


def add_arguments(p) -> None:
    p.add_argument("spec", metavar="SPEC", help="a spec file (.toml or .json) or a shipped spec's name (seed, mazur, ...)")
    p.add_argument("--eps", type=float, default=1e-6, help="finite-difference step (default 1e-6)")
    p.add_argument("--atol", type=float, default=1e-5, help="absolute tolerance against the finite difference (1e-5)")
    p.add_argument("--rtol", type=float, default=1e-3, help="relative tolerance against the finite difference (1e-3)")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch column")


def run(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from .. import notation, torch_reference
    from ..check import TORCH_ATOL, TORCH_RTOL, check_spec
    from ..numbers import fmt
    from ..spec import load_spec

    for name in ("eps", "atol", "rtol"):
        value = getattr(args, name)
        if not value >= 0 or (name == "eps" and value == 0):
            raise ValueError(f"--{name} must be a {'positive' if name == 'eps' else 'non-negative'} number, got {value}")
    spec = load_spec(args.spec)
    have_torch = torch_reference.available() and not args.no_torch
    rows = check_spec(spec, eps=args.eps, atol=args.atol, rtol=args.rtol, use_torch=have_torch)
    style = notation.default_style(spec.depth)
    console = Console(highlight=False)
    if not console.is_terminal:  # piped or captured: wide enough for the whole table
        console = Console(highlight=False, width=120)
    table = Table(title=f"Gradients of spec {spec.name!r}, step 1 (loss {spec.loss})", title_justify="left")
    table.add_column("parameter")
    table.add_column("engine ∂L/∂w", justify="right")
    table.add_column("finite difference", justify="right")
    table.add_column("rel. error", justify="right")
    table.add_column("PyTorch" if have_torch else "PyTorch (not installed)" if not args.no_torch else "PyTorch (skipped)",
                     justify="right")
    table.add_column("rel. error", justify="right")
    table.add_column("verdict")
    absent = "skipped" if args.no_torch else "not installed"
    for r in rows:
        table.add_row(
            notation.param(r.param, r.index, style), fmt(r.engine, 9), fmt(r.numerical, 9), f"{r.rel_numerical:.1e}",
            absent if r.torch is None else fmt(r.torch, 9), "—" if r.rel_torch is None else f"{r.rel_torch:.1e}",
            "[green]pass[/green]" if r.ok else "[bold red]FAIL[/bold red]",
        )
    console.print(table)
    failed = [r for r in rows if not r.ok]
    rule = f"pass: |engine − finite difference| ≤ {args.atol:g} + {args.rtol:g}·|finite difference| (eps {args.eps:g})"
    if have_torch:
        rule += f" and |engine − PyTorch| ≤ {TORCH_ATOL:g} + {TORCH_RTOL:g}·|PyTorch|"
    console.print(rule)
    if failed:
        console.print(f"[bold red]{len(failed)} of {len(rows)} gradients FAIL[/bold red]")
        return 1
    console.print(f"all {len(rows)} gradients pass")
    return 0
