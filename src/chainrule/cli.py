"""The ``chainrule`` command: dispatches to ``chainrule.commands.<name>``.

Errors the user can fix (a bad spec, a wrong shape, a missing file) print one line and exit with
status 2; ``--debug`` shows the full traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

from .commands import COMMANDS
from .errors import ChainruleError


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    parser = argparse.ArgumentParser(
        prog="chainrule",
        description="Backpropagation you can run, read and verify.",
        parents=[common],
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        if importlib.util.find_spec(f"chainrule.commands.{name}") is None:
            continue
        module = importlib.import_module(f"chainrule.commands.{name}")
        p = sub.add_parser(name, help=module.HELP, description=module.__doc__, parents=[common],
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except (ChainruleError, OSError, ValueError) as exc:
        if args.debug:
            raise
        print(f"chainrule {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"chainrule {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
