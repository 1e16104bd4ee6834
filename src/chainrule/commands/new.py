"""Write a commented spec to edit: ``chainrule new 3-4-2 --activation sigmoid --loss mse``.

The layer sizes are the first argument (input-hidden...-output). Weights are written out as (from,
to) matrices with ``--init constant`` (every weight the same, easy to work by hand) or drawn by
``--init random`` (PyTorch-style, reproducible with ``--seed``, written into the file so it can be
edited). Data: one sample of zeros to replace. Example:

  chainrule new 2-3-1 --out my_net.toml && chainrule show my_net.toml
  chainrule new 3-4-2 --activation sigmoid --loss mse --init random --seed 0
"""

from __future__ import annotations

HELP = "write a commented spec file to edit (layer sizes like 3-4-2)"


def add_arguments(p) -> None:
    from ..spec import ACTIVATIONS, LOSSES, OPTIMIZERS

    p.add_argument("layers", metavar="LAYERS", help="layer sizes, input first: 2-3-1, 3-4-2, 4-8-8-3")
    p.add_argument("--activation", choices=ACTIVATIONS, default="sigmoid",
                   help="activation of the hidden layers (and of the output, unless --output-activation)")
    p.add_argument("--output-activation", choices=ACTIVATIONS, default=None, help="activation of the output layer")
    p.add_argument("--loss", choices=LOSSES, default="half_sse", help="loss (default half_sse = ½Σ(y − y')²)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd", help="optimizer (default sgd)")
    p.add_argument("--lr", type=float, default=0.5, help="learning rate (default 0.5)")
    p.add_argument("--bias", choices=("true", "false", "shared"), default="true", help="biases (default true)")
    p.add_argument("--init", choices=("constant", "random"), default="constant",
                   help="constant: every weight --weight (default); random: PyTorch-style, from --seed")
    p.add_argument("--weight", type=float, default=0.5, help="the constant weight for --init constant (0.5)")
    p.add_argument("--seed", type=int, default=0, help="seed for --init random (default 0)")
    p.add_argument("--name", default=None, help="the spec's name (default: from --out, else 'net')")
    p.add_argument("--out", metavar="FILE", default=None, help="write to FILE (atomically) instead of standard output")
    p.add_argument("--lang", choices=("en", "zh"), default="en", help="language of the comments (default en)")


# The file's comments, in each language (the keys and values are the same in both).
TEXT = {
    "en": {
        "head": "# A {shape} network, written by `chainrule new`. Edit anything, then:",
        "show": "#   chainrule show {name}.toml     (the weight tables with their w_ij names)",
        "derive": "#   chainrule derive {name}.toml   (every step worked out)",
        "acts": "# one activation per weight layer: none, relu, sigmoid, tanh, leaky_relu, softmax (output only)",
        "bias": '# true: one bias per neuron; false; "shared": one bias per layer (Mazur\'s example)',
        "loss": "# half_sse = ½Σ(y − y')², mse, sse, cross_entropy (class indices as targets), bce (sigmoid output)",
        "order": ['# how the matrices below are written: "from_to" (row i = neuron i of the layer below, column j =',
                  '# neuron j of the layer above: w_ij, the seed\'s way) or "out_in" (PyTorch\'s nn.Linear.weight)'],
        "frozen": "# frozen = [\"b1\"]   # parameters kept out of training",
        "random": "# drawn like nn.Linear (Kaiming-uniform), seed {seed}; one (from, to) matrix per layer",
        "constant": "# one (from, to) matrix per weight layer: {shapes}; all {w} to start",
        "biases": "# a number or a list per layer",
        "data": "# one sample (a list) or a batch (a list of lists)",
        "class": "# the class index, 0..",
        "wrote": "wrote {out}",
    },
    "zh": {
        "head": "# 一个 {shape} 网络，由 `chainrule new` 写出。可以随意修改，然后运行：",
        "show": "#   `chainrule show {name}.toml`     （带 w_ij 名字的权重表）",
        "derive": "#   `chainrule derive {name}.toml`   （每一步的推导）",
        "acts": "# 每个权重层一个激活函数：`none`、`relu`、`sigmoid`、`tanh`、`leaky_relu`、`softmax`（仅输出层）",
        "bias": '# `true`：每个神经元一个偏置；`false`：没有偏置；`"shared"`：每层共享一个偏置（Mazur 的例子）',
        "loss": "# `half_sse` = ½Σ(y − y')²，`mse`，`sse`，`cross_entropy`（目标是类别序号），`bce`（输出层用 sigmoid）",
        "order": ['# 下面矩阵的写法：`"from_to"`（第 i 行是前一层的神经元 i，第 j 列是后一层的神经元 j：',
                  '# 即 w_ij，原文的写法）或 `"out_in"`（PyTorch 的 nn.Linear.weight）'],
        "frozen": '# 不参加训练的参数：`frozen = ["b1"]`',
        "random": "# 像 nn.Linear 一样随机抽取（`kaiming_uniform_`），种子 {seed}；每层一个（来源, 去向）矩阵",
        "constant": "# 每个权重层一个（来源, 去向）矩阵：{shapes}；初始值都是 {w}",
        "biases": "# 每层一个数或一个列表",
        "data": "# 一个样本（一个列表）或一批样本（列表的列表）",
        "class": "# 类别序号，0..",
        "wrote": "已写入 {out}",
    },
}


def parse_layers(text: str) -> list[int]:
    parts = text.replace("x", "-").replace(",", "-").split("-")
    try:
        sizes = [int(p) for p in parts]
    except ValueError:
        raise ValueError(f"LAYERS {text!r}: expected sizes joined by '-', e.g. 3-4-2") from None
    if len(sizes) < 2 or any(n < 1 for n in sizes):
        raise ValueError(f"LAYERS {text!r}: expected at least two sizes of 1 or more, e.g. 3-4-2")
    return sizes


def _matrix(rows) -> str:
    return "[" + ", ".join("[" + ", ".join(_num(v) for v in row) + "]" for row in rows) + "]"


def _num(v) -> str:
    return repr(round(float(v), 6))


def spec_text(args) -> str:
    import os

    import numpy as np

    sizes = parse_layers(args.layers)
    depth = len(sizes) - 1
    out_act = args.output_activation or ("softmax" if args.loss == "cross_entropy" else
                                         "sigmoid" if args.loss == "bce" else args.activation)
    acts = [args.activation] * (depth - 1) + [out_act]
    name = args.name or (os.path.splitext(os.path.basename(args.out))[0] if args.out else "net")
    bias = {"true": "true", "false": "false", "shared": '"shared"'}[args.bias]
    t = TEXT[getattr(args, "lang", "en")]
    shape = "-".join(map(str, sizes))
    lines = [
        t["head"].format(shape=shape),
        t["show"].format(name=name),
        t["derive"].format(name=name),
        f'name = "{name}"',
        f'description = "A {shape} network ({", ".join(acts)}; {args.loss})"',
        f'description_zh = "一个 {shape} 网络（{"、".join(acts)}；{args.loss}）"',
        f"layers = {sizes}",
        t["acts"],
        f"activations = {acts!r}".replace("'", '"'),
        t["bias"],
        f"bias = {bias}",
        t["loss"],
        f'loss = "{args.loss}"',
        f"lr = {args.lr!r}",
        "steps = 1",
        f'optimizer = "{args.optimizer}"',
        *t["order"],
        'order = "from_to"',
        t["frozen"],
        "",
        "[init]",
    ]
    if args.init == "random":
        from ..network import SpecNetwork
        from ..spec import parse_spec

        raw = {"layers": sizes, "activations": acts, "bias": args.bias if args.bias == "shared" else args.bias == "true",
               "loss": args.loss, "init": {"seed": args.seed}}
        params = SpecNetwork(parse_spec(raw, "<new>", require_data=False)).param_arrays()
        lines.append(t["random"].format(seed=args.seed))
        lines.append("weights = [")
        lines += [f"    {_matrix(params[f'W{k}'])}," for k in range(1, depth + 1)]
        lines.append("]")
        if args.bias != "false":
            lines.append("biases = [" + ", ".join("[" + ", ".join(_num(v) for v in params[f"b{k}"]) + "]"
                                                  for k in range(1, depth + 1)) + "]")
    else:
        lines.append(t["constant"].format(shapes=f"{sizes[0]}x{sizes[1]}" + "".join(
            f", {a}x{b}" for a, b in zip(sizes[1:], sizes[2:])), w=repr(args.weight)))
        lines.append("weights = [")
        lines += [f"    {_matrix(np.full((a, b), args.weight))}," for a, b in zip(sizes, sizes[1:])]
        lines.append("]")
        if args.bias != "false":
            lines.append("biases = [" + ", ".join("0.0" for _ in range(depth)) + "]   " + t["biases"])
    lines += ["", "[data]", t["data"],
              f"x = [{', '.join(['0.0'] * sizes[0])}]"]
    if args.loss == "cross_entropy":
        lines.append("y = [0]   " + t["class"] + str(sizes[-1] - 1))
    else:
        lines.append(f"y = [{', '.join(['0.0'] * sizes[-1])}]")
    return "\n".join(lines) + "\n"


def run(args) -> int:
    import sys

    from ..io import parse_config
    from ..spec import parse_spec

    text = spec_text(args)
    parse_spec(parse_config(text, "<new>", as_json=False), "<new>")   # what we write must load
    if args.out:
        from ..io import atomic_write

        atomic_write(args.out, text)
        print(TEXT[args.lang]["wrote"].format(out=args.out), file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
