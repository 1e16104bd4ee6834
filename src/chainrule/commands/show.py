"""Print a spec as chainrule reads it, before anything runs: layers, activations, loss, and each
weight table with its w_ij names in (from, to) order, so a matrix typed in the wrong order shows.

  chainrule show mazur
  chainrule show my_net.toml --lang zh
"""

from __future__ import annotations

HELP = "print the parsed spec: weight tables with their w_ij names, biases, data"

TEXT = {
    "en": {"layers": "layers", "acts": "activations", "loss": "loss", "opt": "optimizer", "lr": "learning rate",
           "bias": "bias", "frozen": "frozen (not trained)", "order": "matrices read in {order} order",
           "weights": "W{k}: layer {a} → layer {b} ({n_in}x{n_out}, row i = neuron i of layer {a}, column j = "
                      "neuron j of layer {b})",
           "biases": "b{k}: biases of layer {b}", "shared": "b{k}: one bias shared by layer {b}",
           "random": "random initialisation (init.seed = {seed}); the values drawn:", "data": "data: {n} sample(s)",
           "none": "—", "from_to": "(from, to)", "out_in": "(out, in)"},
    "zh": {"layers": "层", "acts": "激活函数", "loss": "损失函数", "opt": "优化器", "lr": "学习率", "bias": "偏置",
           "frozen": "固定不训练", "order": "矩阵按{order}顺序读取", "from_to": "（来源, 去向）",
           "out_in": " PyTorch 的 `(out, in)` ",
           "weights": "W{k}：第 {a} 层 → 第 {b} 层（{n_in}x{n_out}，第 i 行是第 {a} 层的神经元 i，第 j 列是第 {b} 层的神经元 j）",
           "biases": "b{k}：第 {b} 层的偏置", "shared": "b{k}：第 {b} 层共享的一个偏置",
           "random": "随机初始化（init.seed = {seed}），取到的值：", "data": "数据：{n} 个样本", "none": "—"},
}

ZH_ACTIVATIONS = {"none": "无（`none`）", "leaky_relu": "LeakyReLU（`leaky_relu`）"}
ZH_OPTIMIZERS = {"sgd": "随机梯度下降", "momentum": "带动量的随机梯度下降", "adam": "Adam"}


def add_arguments(p) -> None:
    p.add_argument("spec", metavar="SPEC", help="a spec file (.toml or .json) or a shipped spec's name")
    p.add_argument("--lang", choices=("en", "zh"), default="en", help="language (default en)")


def run(args) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from .. import notation
    from ..explain.labels import LOSS_NAMES
    from ..network import SpecNetwork
    from ..numbers import fmt
    from ..spec import load_spec

    t = TEXT[args.lang]
    spec = load_spec(args.spec, require_data=False)
    console = Console(highlight=False)
    if not console.is_terminal:  # piped or captured: wide enough for the tables
        console = Console(highlight=False, width=140)
    colon = "：" if args.lang == "zh" else ": "
    style = notation.default_style(spec.depth)
    console.print(f"[bold]{escape(spec.name)}[/bold]{colon}{escape(spec.describe(args.lang))}", markup=True)
    sep = "；" if args.lang == "zh" else ";  "
    acts, loss, opt = ", ".join(spec.activations), spec.loss, spec.optimizer
    if args.lang == "zh":  # the Chinese name, with the spec's identifier beside it as code
        acts = "、".join(ZH_ACTIVATIONS.get(a, a) for a in spec.activations)
        loss, opt = f"{LOSS_NAMES['zh'][loss]}（`{loss}`）", f"{ZH_OPTIMIZERS[opt]}（`{opt}`）"
    console.print(sep.join(f"{t[k]}{colon}{v}" for k, v in (
        ("layers", " → ".join(map(str, spec.layers))), ("acts", acts), ("loss", loss),
        ("opt", opt), ("lr", fmt(spec.lr)))), markup=False)
    console.print(t["order"].format(order=t[spec.order]), markup=False)
    if spec.frozen:
        console.print(f"{t['frozen']}{colon}{', '.join(spec.frozen)}", markup=False)
    params = SpecNetwork(spec).param_arrays()
    if spec.seed is not None:
        console.print(t["random"].format(seed=spec.seed), markup=False)
    for k in range(1, spec.depth + 1):
        W = params[f"W{k}"]
        table = Table(title=t["weights"].format(k=k, a=k - 1, b=k, n_in=W.shape[0], n_out=W.shape[1]),
                      title_justify="left")
        table.add_column("")
        for j in range(W.shape[1]):
            table.add_column(f"→ {j + 1}", justify="right")
        for i in range(W.shape[0]):
            table.add_row(f"{i + 1} →", *(f"{notation.weight(k, i + 1, j + 1, style)} = {fmt(W[i, j])}"
                                          for j in range(W.shape[1])))
        console.print(table)
        if f"b{k}" in params:
            b = params[f"b{k}"]
            head = t["shared" if spec.is_shared(k) else "biases"].format(k=k, b=k)
            console.print(head + colon + ",  ".join(f"{notation.bias(k, j + 1, style)} = {fmt(v)}"
                                                     for j, v in enumerate(b)), markup=False)
    if spec.batch_size:
        console.print(t["data"].format(n=spec.batch_size), markup=False)
    return 0
