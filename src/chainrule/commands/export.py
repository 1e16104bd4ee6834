"""Write the spec's network as a standalone training script: scalar Python in the seed's style
(one variable per weight, every gradient written out), NumPy matrices, or PyTorch.

Each script prints, per epoch, the prediction and the loss before that epoch's update and the updated weights, the same
numbers chainrule computes. Examples:

  chainrule export seed --to python --steps 100 > seed.py && python seed.py
  chainrule export mazur --to numpy --out mazur_numpy.py
  chainrule export xor --to torch
  chainrule export conv --to numpy        (a layered spec: NumPy or PyTorch; --to python refuses)
"""

from __future__ import annotations

HELP = "write the network as a standalone Python, NumPy or PyTorch training script"


def add_arguments(p) -> None:
    p.add_argument("spec", metavar="SPEC", help="a spec file (.toml or .json) or a shipped spec's name (seed, mazur, ...)")
    p.add_argument("--to", choices=("python", "numpy", "torch"), default="python",
                   help="python: scalar variables, standard library only (default); numpy: matrices; torch: PyTorch")
    p.add_argument("--steps", type=int, default=None, help="training epochs the script runs (default: the spec's steps)")
    p.add_argument("--out", metavar="FILE", help="write to FILE (atomically) instead of standard output")
    p.add_argument("--lang", choices=("en", "zh"), default="en", help="language of the comments (default en)")


def run(args) -> int:
    import sys

    from ..export import export

    if args.steps is not None and args.steps < 1:
        raise ValueError(f"--steps must be at least 1, got {args.steps}")
    code = export(args.spec, to=args.to, steps=args.steps, lang=args.lang)
    if args.out:
        import os

        from ..io import atomic_write

        atomic_write(args.out, code)
        name, n = os.path.basename(args.out), len(code.splitlines())
        if name in ("math.py", "numpy.py", "torch.py"):
            print(f"warning: a script named {name} imports itself instead of the module of that name; rename it "
                  f"to run it" if args.lang == "en" else f"警告：名为 {name} 的脚本会导入它自己，而不是同名的模块；"
                  f"请改名后再运行", file=sys.stderr)
        print(f"wrote {args.out} ({n} lines)" if args.lang == "en" else f"已写入 {args.out}（{n} 行）", file=sys.stderr)
    else:
        sys.stdout.write(code)
    return 0
