"""Write out the seed's 公式推导 — forward pass, loss, chain-rule gradients, update, finite-difference
check — for any small network spec, every number the engine's.

Examples:
  chainrule derive seed --lang zh
  chainrule derive mazur --format html --out mazur.html
  chainrule derive my_net.toml --steps 2 --notation indexed --format json
  chainrule derive mazur --format slides --out mazur-slides.html
  chainrule derive conv              (a 4×4 input, a 2×2 kernel: every pixel, md/text/json)
  chainrule derive conv-pool         (the same with 2×2 max pooling: which cell wins, where the gradient goes)
  chainrule derive batchnorm         (a batch of 4 through batch norm: μ, σ², x̂, ∂L/∂x as its three terms)
  chainrule derive rnn               (an RNN unrolled over 3 steps: backpropagation through time, sums over time)
  chainrule derive lenet-digits      (any other layered spec: matrix form, block by block, with a slice of each tensor)
  chainrule derive conv --form matrix
"""

from __future__ import annotations

import os
import sys
import tempfile

HELP = "write out the derivation of a training step (forward, loss, gradients, update, check)"
FORMATS = ("md", "latex", "text", "json", "html", "slides")


def add_arguments(p) -> None:
    p.add_argument("spec", metavar="SPEC", help="a spec file (TOML or JSON) or a shipped spec's name (seed, mazur, ...)")
    p.add_argument("--format", choices=FORMATS, default=None,
                   help="output format (default: text on a terminal, md — Markdown with $$ maths — when piped or "
                        "written with --out)")
    p.add_argument("--lang", choices=("en", "zh"), default="en", help="language (default en; zh uses the seed's terms)")
    p.add_argument("--steps", type=int, default=1, help="training steps to derive (default 1)")
    p.add_argument("--precision", type=int, default=None, help="significant digits (default 6)")
    p.add_argument("--notation", choices=("prime", "indexed", "textbook", "mazur"), default=None,
                   help="prime: the seed's w'_ij, w''_ij, z_j, y' (default for two weight layers); indexed or "
                        "textbook: w^(l)_ij, δ^(l)_j at every layer; mazur: Mazur's w1…w8, net/out, E_total")
    p.add_argument("--form", choices=("auto", "tiny", "matrix"), default="auto",
                   help="layered specs: tiny writes every pixel (conv, conv-pool, batchnorm, rnn), matrix writes "
                        "each block's tensors in matrix form; auto (default): tiny where it applies, else matrix")
    p.add_argument("--out", metavar="FILE", default=None, help="write to FILE (atomically) instead of standard output")


def default_format(out) -> str:
    """Readable text for a person at a terminal; Markdown (LaTeX maths) for a file or a pipe."""
    return "text" if out is None and sys.stdout.isatty() else "md"


def render(derivation, fmt: str) -> str:
    if fmt == "json":
        return derivation.to_json() + "\n"
    if fmt == "slides":  # a 16:9 HTML deck, one stage per slide (chainrule.slides)
        from ..slides import slides_html

        return slides_html(derivation)
    return {"md": derivation.markdown, "latex": derivation.latex, "text": derivation.text,
            "html": derivation.html}[fmt]()


def write_atomic(path: str, text: str) -> None:
    try:
        from ..io import atomic_write
    except ImportError:
        atomic_write = None
    if atomic_write is not None:
        atomic_write(path, text)
        return
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".derive-", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def run(args) -> int:
    from ..explain import derive
    from ..layered import load_layered_spec

    layered = load_layered_spec(args.spec)  # a convolution described block by block (the shipped conv), or None
    if layered is not None:
        return run_layered(args, layered)
    if getattr(args, "form", "auto") != "auto":
        from ..errors import SpecError

        raise SpecError(f"derive: --form {args.form} is for layered specs; {args.spec} is fully connected (its "
                        f"derivation switches to matrix form by itself beyond the size that fits on a page)")
    derivation = derive(args.spec, steps=args.steps, lang=args.lang, notation=args.notation, precision=args.precision)
    fmt = args.format or default_format(args.out)
    text = render(derivation, fmt)
    if args.out:
        write_atomic(args.out, text)
    else:
        sys.stdout.write(text)
    return 0


CONV_FORMATS = ("md", "text", "json")


def run_layered(args, spec) -> int:
    """A layered spec, in md, text or json: the tiny derivation that applies (conv, conv-pool, batchnorm,
    rnn), else the matrix form block by block (``--form`` chooses)."""
    from ..errors import SpecError

    fmt = args.format or default_format(args.out)
    if fmt not in CONV_FORMATS:
        raise SpecError(f"derive: a layered spec ({spec.source}) is written in {', '.join(CONV_FORMATS)} only, "
                        f"got --format {fmt}")
    if args.steps != 1 or args.notation is not None:
        raise SpecError(f"derive: a layered spec ({spec.source}) is derived for one step in its own notation "
                        f"(drop --steps/--notation)")
    form = getattr(args, "form", "auto")
    derivation = None
    if form != "matrix":
        try:
            derivation = _tiny(spec, args)
        except SpecError:
            if form == "tiny":  # asked for the pixel-by-pixel form: its own refusal
                raise
    if derivation is None:  # too large or of other blocks: the matrix form (chainrule.explain.layered_matrix)
        from ..explain.layered_matrix import derive_layered_matrix

        derivation = derive_layered_matrix(spec, lang=args.lang, precision=args.precision)
    text = {"md": derivation.markdown, "text": derivation.text, "json": lambda: derivation.to_json() + "\n"}[fmt]()
    if args.out:
        write_atomic(args.out, text)
    else:
        sys.stdout.write(text)
    return 0


def _tiny(spec, args):
    """The pixel-by-pixel derivation of a tiny layered spec; SpecError where none applies."""
    from ..explain.conv import derive_conv

    if [b["kind"] for b in spec.blocks] == ["batchnorm"]:  # batch norm's three-term gradient
        from ..explain.batchnorm import derive_batchnorm

        return derive_batchnorm(spec, lang=args.lang, precision=args.precision)
    if spec.blocks[0]["kind"] == "rnn":  # an unrolled RNN (chainrule.explain.rnn)
        from ..explain.rnn import derive_rnn

        return derive_rnn(spec, lang=args.lang, precision=args.precision)
    return derive_conv(spec, lang=args.lang, precision=args.precision)
