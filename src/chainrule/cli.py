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
from .i18n import INTERRUPTED, error_line


class _Parser(argparse.ArgumentParser):
    """argparse with the CLI's one-line errors: no usage block, a pointer to ``--help`` instead; in
    Chinese when the command line asks for ``--lang zh`` (chainrule.i18n)."""

    lang = "en"

    def error(self, message):
        see = f"（见 `{self.prog} --help`）" if self.lang == "zh" else f" (see {self.prog} --help)"
        self.exit(2, error_line(self.prog, message, self.lang) + see + "\n")


def _lang(argv) -> str:
    """The language a command line asks for (``--lang zh`` or ``--lang=zh``), read before parsing so
    that the parser's own errors come out in it too."""
    argv = list(argv)
    for k, arg in enumerate(argv):
        if arg == "--lang" and k + 1 < len(argv):
            return "zh" if argv[k + 1] == "zh" else "en"
        if arg.startswith("--lang="):
            return "zh" if arg == "--lang=zh" else "en"
    return "en"


def build_parser(lang: str = "en") -> argparse.ArgumentParser:
    parser = _Parser(prog="chainrule", description="Backpropagation you can run, read and verify.")
    parser.lang = lang
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
        p.lang = lang
        module.add_arguments(p)
        p.set_defaults(_run=module.run, _parser=p)
    return parser


def main(argv=None) -> int:
    if (sys.argv[1:] if argv is None else list(argv)) == ["--version"]:
        # Answered before the subcommands' modules load, as argparse's version action does (exit 0).
        print(f"chainrule {__version__}")
        raise SystemExit(0)
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(_lang(argv))
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
        print(error_line(f"chainrule {args.command}", str(exc), getattr(args, "lang", "en")), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        lang = getattr(args, "lang", "en")
        print(f"chainrule {args.command}{'：' if lang == 'zh' else ': '}{INTERRUPTED[lang]}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
