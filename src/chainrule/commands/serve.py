"""Step through backpropagation in the browser, and practise it: a local web app with the network
diagram, every number and derivation line from the engine, click-to-edit weights and inputs,
practice mode marked by the grader, and exports. Loopback only unless --host is given.

examples:
  chainrule serve                      # the seed, http://127.0.0.1:8000/
  chainrule serve mazur --lang zh --open
  chainrule serve my_net.toml --port 8080
"""

from __future__ import annotations

HELP = "step through backpropagation in the browser, and practise it (local web app)"


def add_arguments(p) -> None:
    p.add_argument("spec", metavar="SPEC", nargs="?", default="seed",
                   help="a shipped spec's name (seed, mazur, ...) or a .toml/.json file (default seed)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000; 0 picks a free one)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1, this machine only); another address also "
                        "becomes an allowed Host name")
    p.add_argument("--lang", choices=("en", "zh"), default="en", help="the page's starting language (default en)")
    p.add_argument("--open", action="store_true", help="open the page in the default web browser")


def run(args) -> int:
    import socket
    import sys

    try:
        import uvicorn
    except ImportError:
        raise ValueError("chainrule serve needs its web server: pip install 'chainrule[serve]' "
                         "(starlette and uvicorn)") from None
    from ..serve.app import LOOPBACK, create_app
    from ..serve.view import load_page_spec
    from ..spec import load_spec, shipped_specs

    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must be between 0 and 65535, got {args.port}")
    if args.spec in shipped_specs():
        spec = args.spec
    else:
        from ..serve.view import canonical

        spec = canonical(load_spec(args.spec))
    load_page_spec(spec)  # the page's own limits, reported before the server starts
    hosts = list(LOOPBACK)
    if args.host not in LOOPBACK and args.host not in ("0.0.0.0", "::"):
        hosts.append(args.host)
    elif args.host in ("0.0.0.0", "::"):
        hosts = ["*"]  # every address of this machine: any Host name (Origin checks still apply)
    app = create_app(spec, lang=args.lang, allowed_hosts=hosts)

    sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(128)  # listening before the URL is printed: a request sent at once waits for the server
    port = sock.getsockname()[1]
    shown = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    url = f"http://{'[' + shown + ']' if ':' in shown else shown}:{port}/"
    print(f"chainrule serve: {url}  (Ctrl+C to stop)", flush=True)
    if args.open:
        import threading
        import webbrowser

        threading.Timer(0.8, webbrowser.open, args=(url,)).start()
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    sys.stdout.flush()
    return 0
