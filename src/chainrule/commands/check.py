"""Check every gradient of the spec's first training step three ways: the engine's backward pass,
a central finite difference in float64, and PyTorch (float64) when it is installed.

One row per parameter element, with the relative errors and a verdict; the exit status is 1 when
any row fails (0 when all pass, 2 for a bad spec). Example:

  chainrule check seed
  chainrule check mazur --eps 1e-7
  chainrule check conv          (a layered spec with its sample fixed: every kernel weight)
"""

from __future__ import annotations

HELP = "compare every gradient with finite differences and PyTorch, one row per parameter"

TEXT = {
    "en": {"title": "Gradients of spec {name!r}, step 1 (loss {loss})", "param": "parameter", "engine": "engine ∂L/∂w",
           "fd": "finite difference", "rel": "rel. error", "torch_missing": "PyTorch (not installed)",
           "torch_skipped": "PyTorch (skipped)", "verdict": "verdict", "skipped": "skipped",
           "not_installed": "not installed", "pass": "pass", "fail": "FAIL",
           "rule": "pass: |engine − finite difference| ≤ {atol:g} + {rtol:g}·|finite difference| (eps {eps:g})",
           "rule_torch": " and |engine − PyTorch| ≤ {atol:g} + {rtol:g}·|PyTorch|",
           "failed": "{n} of {total} gradients FAIL", "ok": "all {total} gradients pass"},
    "zh": {"title": "设定 {name!r} 第 1 步的梯度（损失函数 {loss}）", "param": "参数", "engine": "引擎 ∂L/∂w",
           "fd": "有限差分", "rel": "相对误差", "torch_missing": "PyTorch（未安装）", "torch_skipped": "PyTorch（跳过）",
           "verdict": "结论", "skipped": "跳过", "not_installed": "未安装", "pass": "通过", "fail": "不通过",
           "rule": "通过条件：|引擎 − 有限差分| ≤ {atol:g} + {rtol:g}·|有限差分|（步长 ε = {eps:g}）",
           "rule_torch": "，且 |引擎 − PyTorch| ≤ {atol:g} + {rtol:g}·|PyTorch|",
           "failed": "{total} 个梯度中有 {n} 个不通过", "ok": "全部 {total} 个梯度通过"},
}


def add_arguments(p) -> None:
    p.add_argument("spec", metavar="SPEC", help="a spec file (.toml or .json) or a shipped spec's name (seed, mazur, ...)")
    p.add_argument("--eps", type=float, default=1e-6, help="finite-difference step (default 1e-6)")
    p.add_argument("--atol", type=float, default=1e-5, help="absolute tolerance against the finite difference (1e-5)")
    p.add_argument("--rtol", type=float, default=1e-3, help="relative tolerance against the finite difference (1e-3)")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch column")
    p.add_argument("--lang", choices=("en", "zh"), default="en", help="language of the table (default en)")


def run(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from .. import notation, torch_reference
    from ..check import TORCH_ATOL, TORCH_RTOL, check_spec
    from ..escape import terminal_text
    from ..numbers import fmt
    from ..spec import load_spec

    for name in ("eps", "atol", "rtol"):
        value = getattr(args, name)
        if not value >= 0 or (name == "eps" and value == 0):
            raise ValueError(f"--{name} must be a {'positive' if name == 'eps' else 'non-negative'} number, got {value}")
    from ..check import check_layered
    from ..layered import load_layered_spec

    have_torch = torch_reference.available() and not args.no_torch
    layered = load_layered_spec(args.spec)  # a layered spec with its sample fixed (the shipped conv), or None
    if layered is not None:
        spec = layered
        rows = check_layered(spec, eps=args.eps, atol=args.atol, rtol=args.rtol, use_torch=have_torch)

        def label(r):
            return f"{r.param}[{','.join(map(str, r.index))}]"
    else:
        spec = load_spec(args.spec)
        rows = check_spec(spec, eps=args.eps, atol=args.atol, rtol=args.rtol, use_torch=have_torch)
        style = notation.default_style(spec.depth)

        def label(r):
            return notation.param(r.param, r.index, style)
    console = Console(highlight=False)
    if not console.is_terminal:  # piped or captured: wide enough for the whole table
        console = Console(highlight=False, width=120)
    t = TEXT[getattr(args, "lang", "en")]
    loss = spec.loss
    if t is TEXT["zh"]:
        from ..explain.labels import LOSS_NAMES

        loss = LOSS_NAMES["zh"][spec.loss]
    table = Table(title=t["title"].format(name=terminal_text(spec.name), loss=loss), title_justify="left")
    table.add_column(t["param"])
    table.add_column(t["engine"], justify="right")
    table.add_column(t["fd"], justify="right")
    table.add_column(t["rel"], justify="right")
    table.add_column("PyTorch" if have_torch else t["torch_missing"] if not args.no_torch else t["torch_skipped"],
                     justify="right")
    table.add_column(t["rel"], justify="right")
    table.add_column(t["verdict"])
    absent = t["skipped"] if args.no_torch else t["not_installed"]
    for r in rows:
        table.add_row(
            label(r), fmt(r.engine, 9), fmt(r.numerical, 9), f"{r.rel_numerical:.1e}",
            absent if r.torch is None else fmt(r.torch, 9), "—" if r.rel_torch is None else f"{r.rel_torch:.1e}",
            f"[green]{t['pass']}[/green]" if r.ok else f"[bold red]{t['fail']}[/bold red]",
        )
    console.print(table)
    failed = [r for r in rows if not r.ok]
    rule = t["rule"].format(atol=args.atol, rtol=args.rtol, eps=args.eps)
    if have_torch:
        rule += t["rule_torch"].format(atol=TORCH_ATOL, rtol=TORCH_RTOL)
    console.print(rule)
    if failed:
        console.print(f"[bold red]{t['failed'].format(n=len(failed), total=len(rows))}[/bold red]")
        return 1
    console.print(t["ok"].format(total=len(rows)))
    return 0
