"""Run the seed document's worked example end to end: one training step written out as tables,
then the 100-epoch training run, then the same run in PyTorch for comparison (when installed)."""

from __future__ import annotations

HELP = "run the seed's worked example (2-3-1 network, x = (40, 80), y = 60)"

LABELS = {
    "en": {
        "title": "The seed's network: 2 → 3 → 1, no bias, no activation, x = (40, 80), y = 60, η = 1e-5",
        "forward": "1. Forward pass",
        "loss": "2. Loss",
        "backward": "3. Backward pass: every gradient by the chain rule",
        "update": "4. Gradient descent update (every gradient uses the weights from before the update)",
        "train": "Training (every {every}th epoch and the last, {digits} significant digits)",
        "param": "parameter", "grad": "∂L/∂w",
        "before": "before", "after": "after", "epoch": "epoch", "pred": "prediction y'", "lossc": "loss",
        "torch": "PyTorch float64, same {n} epochs: largest difference in predictions {p}, losses {l}, weights {w}",
        "no_torch": "PyTorch is not installed; skipping the side-by-side run (`pip install torch`, or run `bash scripts/test.sh`, which installs it).",
        "more": "The full derivation, every product written out: chainrule derive seed",
    },
    "zh": {
        "title": "种子网络：2 → 3 → 1，无偏置、无激活函数，x = (40, 80)，y = 60，学习率 η = 1e-5",
        "forward": "一、前向传播",
        "loss": "二、计算误差（损失值）",
        "backward": "三、反向传播：3.1 计算梯度",
        "update": "3.2 梯度更新（所有梯度都用更新前的权重计算）",
        "train": "训练过程（每 {every} 轮显示一次，外加最后一轮；{digits} 位有效数字）",
        "param": "参数", "grad": "∂L/∂w",
        "before": "更新前", "after": "更新后", "epoch": "轮次", "pred": "预测值 y'", "lossc": "损失值",
        "torch": "PyTorch float64 同样训练 {n} 轮：预测值最大差 {p}，损失值最大差 {l}，权重最大差 {w}",
        "no_torch": "未安装 PyTorch，跳过对照运行（pip install torch，或运行 bash scripts/test.sh，它会安装）。",
        "more": "完整的公式推导（每个乘积都写出）：chainrule derive seed --lang zh",
    },
}


EVERY, DIGITS = 10, 8   # the training table: every 10th epoch and the last, 8 significant digits


def shown_epochs(n: int) -> list[int]:
    """Epochs 0, 10, 20, ... and the last one (n − 1)."""
    return sorted(set(range(0, n, EVERY)) | {n - 1})


def add_arguments(p) -> None:
    p.add_argument("--lang", choices=("en", "zh"), default="en", help="label language (default en)")
    p.add_argument("--epochs", type=int, default=100, help="training epochs (default 100, as in the seed)")


def run(args) -> int:
    import numpy as np
    from rich.console import Console
    from rich.table import Table

    if args.epochs < 1:
        raise ValueError(f"--epochs must be at least 1, got {args.epochs}")
    t = LABELS[args.lang]
    console = Console(highlight=False, soft_wrap=True)
    console.print(f"[bold]{t['title']}[/bold]\n")  # at once: the rest below takes a few seconds

    # Imported after the first line is on the screen; PyTorch only for the side-by-side part at the end.
    from .. import notation, torch_reference
    from ..explain import derive
    from ..network import run as run_spec
    from ..numbers import fmt
    from ..spec import load_spec

    spec = load_spec("seed")
    result = run_spec(spec, steps=args.epochs, keep_graph=1)
    first = result.steps[0]
    # The first step's lines are the derivation's own (read from the graph the engine recorded).
    derivation = derive(spec, lang=args.lang)
    lines = {e["key"]: e["expression"] for e in derivation.entries if e["step"] == 1}

    def show(title, keys):
        console.print(f"[bold]{title}[/bold]")
        for key in keys:
            console.print("  " + lines[key], markup=False)
        console.print()

    show(t["forward"], [k for k in lines if k.startswith("forward[") and ".z[" in k])
    show(t["loss"], ["loss"])
    show(t["backward"], ["dL_doutput[0]"] + [k for k in lines if k.startswith("grad.")])

    update = Table()
    for col in (t["param"], t["before"], t["grad"], t["after"]):
        update.add_column(col, justify="right" if col != t["param"] else "left")
    for name in reversed(list(first.grads)):
        for index in np.ndindex(first.grads[name].shape):
            update.add_row(notation.param(name, index), fmt(first.params_before[name][index]),
                           fmt(first.grads[name][index]), fmt(first.params_after[name][index]))
    console.print(f"[bold]{t['update']}[/bold]")
    console.print(update)
    for warning in derivation.steps[0].warnings:
        console.print("⚠ " + warning, markup=False)
    console.print()

    train = Table(title=t["train"].format(every=EVERY, digits=DIGITS), title_justify="left")
    for col in (t["epoch"], t["pred"], t["lossc"]):
        train.add_column(col, justify="right")
    for k in shown_epochs(len(result.steps)):
        step = result.steps[k]
        train.add_row(str(k), fmt(step.output.array.item(), DIGITS), fmt(step.loss.item(), DIGITS))
    console.print(train)

    if torch_reference.available():
        ref = torch_reference.run(spec, steps=args.epochs)
        dp = max(abs(s.output.array.item() - r["output"].item()) for s, r in zip(result.steps, ref))
        dl = max(abs(s.loss.item() - r["loss"]) for s, r in zip(result.steps, ref))
        dw = max(
            float(np.max(np.abs(s.params_after[k] - r["params_after"][k])))
            for s, r in zip(result.steps, ref) for k in r["params_after"]
        )
        console.print(t["torch"].format(n=args.epochs, p=f"{dp:.1e}", l=f"{dl:.1e}", w=f"{dw:.1e}"))
    else:
        console.print(t["no_torch"], markup=False)
    console.print(t["more"])
    return 0
