"""One module per CLI subcommand. Each defines ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``
and keeps heavy imports inside ``run`` so that ``chainrule --help`` stays fast."""

COMMANDS = ("demo", "derive", "export", "check", "grade", "draw", "train", "serve", "worksheet", "new", "show")
