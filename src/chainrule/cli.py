"""The ``chainrule`` command: dispatches to ``chainrule.commands.<name>``.

Errors the user can fix (a bad spec, a wrong shape, a missing file, a bad option) print one line
``chainrule CMD: error: ...`` and exit with status 2; ``--debug`` (before or after the command)
shows the full traceback instead. See docs/errors.md, entries P*.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings

from . import __version__
from .commands import COMMANDS
from .errors import ChainruleError


class _Parser(argparse.ArgumentParser):
    """argparse with the CLI's one-line errors: no usage block, a pointer to ``--help`` instead."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="chainrule", description="Backpropagation you can run, read and verify.")
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    # The subcommands accept --debug too. Its default there is SUPPRESS: with a default of False,
    # argparse would let the subcommand overwrite a `chainrule --debug CMD` given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the full traceback on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"chainrule.commands.{name}")
        p = sub.add_parser(name, help=module.HELP, description=module.__doc__, parents=[common],
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(p)
        p.set_defaults(_run=module.run, _parser=p)
    return parser


def main(argv=None) -> int:
    if (sys.argv[1:] if argv is None else list(argv)) == ["--version"]:
        # Answered before the subcommands' modules load, as argparse's version action does (exit 0).
        print(f"chainrule {__version__}")
        raise SystemExit(0)
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # reported by the subcommand's parser, so the message starts "chainrule CMD: error:"
        getattr(args, "_parser", parser).error(f"unrecognized arguments: {' '.join(extra)}")
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        with warnings.catch_warnings():
            # NumPy's "overflow encountered" lines would come before (and instead of) our message:
            # the commands report non-finite values themselves (derive's warnings, check's verdicts).
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.filterwarnings("ignore", message="Glyph .* missing from font")  # drawn as a box
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
