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
    lines = [
        f"# A {'-'.join(map(str, sizes))} network, written by `chainrule new`. Edit anything, then:",
        f"#   chainrule show {name}.toml     (the weight tables with their w_ij names)",
        f"#   chainrule derive {name}.toml   (every step worked out)",
        f'name = "{name}"',
        f'description = "A {"-".join(map(str, sizes))} network ({", ".join(acts)}; {args.loss})"',
        f"layers = {sizes}",
        "# one activation per weight layer: none, relu, sigmoid, tanh, leaky_relu, softmax (output only)",
        f"activations = {acts!r}".replace("'", '"'),
        '# true: one bias per neuron; false; "shared": one bias per layer (Mazur\'s example)',
        f"bias = {bias}",
        "# half_sse = ½Σ(y − y')², mse, sse, cross_entropy (class indices as targets), bce (sigmoid output)",
        f'loss = "{args.loss}"',
        f"lr = {args.lr!r}",
        "steps = 1",
        f'optimizer = "{args.optimizer}"',
        '# how the matrices below are written: "from_to" (row i = neuron i of the layer below, column j =',
        '# neuron j of the layer above: w_ij, the seed\'s way) or "out_in" (PyTorch\'s nn.Linear.weight)',
        'order = "from_to"',
        "# frozen = [\"b1\"]   # parameters kept out of training",
        "",
        "[init]",
    ]
    if args.init == "random":
        from ..network import SpecNetwork
        from ..spec import parse_spec

        raw = {"layers": sizes, "activations": acts, "bias": args.bias if args.bias == "shared" else args.bias == "true",
               "loss": args.loss, "init": {"seed": args.seed}}
        params = SpecNetwork(parse_spec(raw, "<new>", require_data=False)).param_arrays()
        lines.append(f"# drawn like nn.Linear (Kaiming-uniform), seed {args.seed}; one (from, to) matrix per layer")
        lines.append("weights = [")
        lines += [f"    {_matrix(params[f'W{k}'])}," for k in range(1, depth + 1)]
        lines.append("]")
        if args.bias != "false":
            lines.append("biases = [" + ", ".join("[" + ", ".join(_num(v) for v in params[f"b{k}"]) + "]"
                                                  for k in range(1, depth + 1)) + "]")
    else:
        lines.append(f"# one (from, to) matrix per weight layer: {sizes[0]}x{sizes[1]}"
                     + "".join(f", {a}x{b}" for a, b in zip(sizes[1:], sizes[2:])) + f"; all {args.weight!r} to start")
        lines.append("weights = [")
        lines += [f"    {_matrix(np.full((a, b), args.weight))}," for a, b in zip(sizes, sizes[1:])]
        lines.append("]")
        if args.bias != "false":
            lines.append("biases = [" + ", ".join("0.0" for _ in range(depth)) + "]   # a number or a list per layer")
    lines += ["", "[data]", "# one sample (a list) or a batch (a list of lists)",
              f"x = [{', '.join(['0.0'] * sizes[0])}]"]
    if args.loss == "cross_entropy":
        lines.append("y = [0]   # the class index, 0.." + str(sizes[-1] - 1))
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
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
