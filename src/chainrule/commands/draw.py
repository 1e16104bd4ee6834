"""Draw a spec's network (values, gradients, updated weights), the computational graph the engine
recorded for its loss, or its training curve, as PNG, SVG or PDF. Needs no display and no Graphviz.

examples:
  chainrule draw seed --show all --out seed.png
  chainrule draw seed --show all --lang zh --out seed-zh.svg
  chainrule draw mazur --what graph
  chainrule draw xor --what loss --steps 300
  chainrule draw xor --animate --steps 300 --out train.gif
  chainrule draw conv --out conv.png      (a layered spec with one conv2d: its grids of numbers)
  chainrule draw conv-pool                (the same with a max pool: each window's winner outlined)
  chainrule draw batchnorm                (a batch through batch norm: table, and ∂L/∂x's three terms as bars)
  chainrule draw rnn --out rnn.png        (an RNN unrolled over time: values and gradients per step)

Without --out the file is named after the spec, what is drawn, the step and the language
(seed-network-step1-en.png), so drawing another step or language never overwrites a figure.
"""

from __future__ import annotations

HELP = "draw the network with its values and gradients, the computational graph, or the loss curve"
MIN_LOSS_STEPS = 100   # the seed's own training run: 100 epochs


def default_name(spec, args, steps=None) -> str:
    """<spec>-<what>-step<k>-<lang>.png (the loss curve: <spec>-loss-<n>steps-<lang>.png), so drawing
    another step or language never overwrites an earlier figure. The spec's name is made a plain file
    name first (no folders: a name of "../x" stays here)."""
    from ..escape import file_stem

    if args.what == "loss":
        return f"{file_stem(spec.name)}-loss-{steps}steps-{args.lang}.png"
    sample = f"-sample{args.sample}" if args.what == "network" and spec.batch_size > 1 else ""
    return f"{file_stem(spec.name)}-{args.what}-step{args.step}{sample}-{args.lang}.png"


def add_arguments(p) -> None:
    p.add_argument("spec", metavar="SPEC", help="a shipped spec's name (seed, mazur, ...) or a .toml/.json file")
    p.add_argument("--what", choices=("network", "graph", "scalars", "loss"), default="network",
                   help="what to draw (default network; scalars: every number with its gradient, for small networks)")
    p.add_argument("--step", type=int, default=1, help="which training step to draw, from 1 (default 1)")
    p.add_argument("--steps", type=int, default=None,
                   help=f"steps to train for the loss curve (default: the spec's own steps, at least {MIN_LOSS_STEPS})")
    p.add_argument("--show", choices=("values", "grads", "updates", "all"), default="all",
                   help="network labels: values, + gradients, + updated weights, or all (default all)")
    p.add_argument("--sample", type=int, default=1, help="which sample of a batch to show, from 1 (default 1)")
    p.add_argument("--lang", choices=("en", "zh"), default="en", help="label language (default en)")
    p.add_argument("--animate", action="store_true",
                   help="animate training (network with gradients beside the loss curve) as a GIF; --steps sets its length")
    p.add_argument("--frames", type=int, default=30, help="with --animate: number of frames (default 30)")
    p.add_argument("--out", metavar="FILE", default=None,
                   help="output file, .png, .svg or .pdf (default <spec>-<what>-step<k>-<lang>.png here)")


def run(args) -> int:
    import os

    from ..network import run as run_spec
    from ..spec import load_spec

    if args.step < 1:
        raise ValueError(f"--step must be 1 or more, got {args.step}")
    if args.steps is not None and args.steps < 1:
        raise ValueError(f"--steps must be 1 or more, got {args.steps}")
    if args.sample < 1:
        raise ValueError(f"--sample must be 1 or more, got {args.sample}")
    if args.animate:
        from ..animate import animate
        from ..layered import load_layered_spec

        if load_layered_spec(args.spec) is not None:
            raise ValueError(f"draw: --animate draws fully-connected specs; {args.spec} is a layered spec "
                             "(drop --animate to draw its step)")

        print(animate(args.spec, args.out or f"{load_spec(args.spec).name}-train.gif", steps=args.steps,
                      frames=args.frames, lang=args.lang))
        return 0
    out = args.out
    if out is not None and os.path.splitext(out)[1].lower() not in (".png", ".svg", ".pdf"):
        raise ValueError(f"--out {out}: use a .png, .svg or .pdf file name")
    from ..layered import load_layered_spec

    layered = load_layered_spec(args.spec)  # a convolution described block by block (the shipped conv), or None
    if layered is not None:
        return run_layered(args, layered)
    spec = load_spec(args.spec)
    if args.sample > spec.batch_size:
        raise ValueError(f"--sample must be in 1..{spec.batch_size}, got {args.sample}")
    steps = args.steps if args.steps is not None else max(spec.steps, MIN_LOSS_STEPS)
    _check_limits(spec, args)
    if out is None:
        out = default_name(spec, args, steps)

    from .. import viz
    from ..escape import figure_text

    if args.what == "network":
        result = run_spec(spec, steps=args.step)
        drawing = viz.draw_network(result, step=args.step, show=args.show, lang=args.lang, sample=args.sample - 1)
    elif args.what == "graph":
        drawing = _graph(spec, args)
    elif args.what == "scalars":
        drawing = viz.draw_scalars(run_spec(spec, steps=args.step), step=args.step, lang=args.lang)
    else:
        from ..explain.labels import OPTIMIZER_NAMES
        from ..viz._base import labels

        result = run_spec(spec, steps=steps, keep_graph=0)
        title = labels(args.lang)["loss_title"].format(name=figure_text(spec.name), opt=OPTIMIZER_NAMES[args.lang][spec.optimizer],
                                                       lr=f"{spec.lr:g}")
        drawing = viz.plot_loss(result.losses, lang=args.lang, title=title)
    drawing.save(out)
    print(out)
    return 0


def run_layered(args, spec) -> int:
    """A layered spec made of one conv2d and maybe a max pool (the shipped conv, conv-pool): its first step
    as grids of numbers, drawn from the derivation's recorded run (chainrule.viz.draw_conv)."""
    from ..errors import SpecError
    from ..escape import file_stem
    from ..viz import draw_conv

    kinds = [b["kind"] for b in spec.blocks]
    if kinds[:1] == ["rnn"]:
        return run_rnn(args, spec)
    if kinds not in (["conv2d"], ["conv2d", "maxpool2d"], ["batchnorm"]):
        raise SpecError(f"draw: {spec.source}: draws layered specs made of one conv2d block, optionally followed "
                        f"by one maxpool2d, or of one batchnorm block (got {', '.join(kinds)}); train it with "
                        f"chainrule train")
    asked = [flag for flag, on in (("--what", args.what != "network"), ("--step", args.step != 1),
                                   ("--steps", args.steps is not None), ("--sample", args.sample != 1)) if on]
    if asked:
        raise SpecError(f"draw: a layered spec ({spec.source}) is drawn for its one sample and first step only "
                        f"(drop {', '.join(asked)})")
    if kinds == ["batchnorm"]:
        from ..viz import draw_batchnorm

        out = args.out or f"{file_stem(spec.name)}-batchnorm-step1-{args.lang}.png"
        draw_batchnorm(spec, lang=args.lang).save(out)
        print(out)
        return 0
    out = args.out or f"{file_stem(spec.name)}-conv-step1-{args.lang}.png"
    draw_conv(spec, lang=args.lang).save(out)
    print(out)
    return 0


def run_rnn(args, spec) -> int:
    """A layered spec made of an rnn block and a linear readout (the shipped rnn): its first step unrolled
    over time, drawn from the derivation's recorded run (chainrule.viz.draw_rnn)."""
    from ..errors import SpecError
    from ..escape import file_stem
    from ..viz import draw_rnn

    asked = [flag for flag, on in (("--what", args.what != "network"), ("--step", args.step != 1),
                                   ("--steps", args.steps is not None), ("--sample", args.sample != 1)) if on]
    if asked:
        raise SpecError(f"draw: a layered spec ({spec.source}) is drawn for its one sample and first step only "
                        f"(drop {', '.join(asked)})")
    out = args.out or f"{file_stem(spec.name)}-rnn-step1-{args.lang}.png"
    draw_rnn(spec, lang=args.lang).save(out)
    print(out)
    return 0


def _check_limits(spec, args) -> None:
    """Refuse up front what would take minutes or gigabytes (docs/errors.md, P17)."""
    from .. import limits
    from ..limits import refuse_over

    if args.what in ("network", "graph"):
        refuse_over("the number of weight layers", spec.depth, limits.DRAW_WEIGHT_LAYERS, spec.source,
                    "draw a shallower network of the same kind")
    if args.what == "network":
        refuse_over("the widest layer's number of neurons", max(spec.layers), limits.DRAW_NEURONS, spec.source,
                    "draw the graph (--what graph) or a narrower network")
        refuse_over("the number of weights", spec.n_params, limits.DRAW_WEIGHTS, spec.source,
                    "draw the graph (--what graph) or a smaller network")
    if args.what == "graph":
        refuse_over("the number of parameters", spec.n_params, limits.DRAW_GRAPH_PARAMETERS, spec.source,
                    "draw a smaller network of the same shape")
    steps = args.step if args.what != "loss" else (args.steps if args.steps is not None else max(spec.steps, MIN_LOSS_STEPS))
    refuse_over("--step" if args.what != "loss" else "the number of steps", steps, limits.RUN_STEPS, spec.source,
                "train long runs with `chainrule train`")
    limits.check_run(spec, steps)


def _graph(spec, args):
    """The loss graph of step ``args.step``, drawn before the optimizer changes the weights in place."""

    from .. import viz
    from ..escape import figure_text
    from ..network import SpecNetwork, data_tensors
    from ..network import run as run_spec

    model = SpecNetwork(spec) if args.step == 1 else run_spec(spec, steps=args.step - 1, keep_graph=0).model
    x, y = data_tensors(spec)
    zs, acts = model.forward_trace(x)
    loss = model.loss(zs, acts, y)
    for t in (*zs, *acts):
        if t.requires_grad:
            t.retain_grad()
    loss.backward(retain_graph=True)
    names = {"x": x, "y": y, **model.named_weights()}
    from ..viz._base import labels

    title = labels(args.lang)["graph_title"].format(name=figure_text(spec.name), step=args.step)
    return viz.draw_graph(loss, params=names, lang=args.lang, title=title)
