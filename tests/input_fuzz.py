"""A fuzzer for the files a user hands chainrule: specs, CSV files and answer files.

Each case is a mutation of something valid: a shipped spec (a value replaced by a hostile one, a key
dropped or added, the text damaged), a small CSV table, or an answer file written from the engine's
own JSON. The case then runs in-process through what a command would do with it — derive (every
format), check, export (every target, the script compiled and its statements compared with the
exporter's), draw (sometimes: figures are slow), train, grade — and must either work or fail with
one of chainrule's one-line errors. A traceback (any other exception), a multi-line message, a run
past ``CASE_SECONDS``, or an exported script with a statement of its own is a finding.

Everything is drawn from ``random.Random(seed)``: case ``n`` is the same on every machine and every
run. ``python tests/input_fuzz.py 10000`` runs cases by hand and prints what it found.

Runs by hand (issue 15), each case 6:2:2 spec / CSV / answer file:
* cases 100000–109999 (10,000) plus about 900 in earlier partial runs: two findings, both fixed with
  a regression test in test_hardening.py: a CSV header cell holding a line break gave a multi-line
  error (case 100007), and an answer of 1e300 made grade's replay raise OverflowError (case 103308).
* cases 200000–209999 (10,000) on the fixed code: no finding.
* after rebasing on main (frozen parameters, grading/ package): the CI share found derive's matrix
  form and warnings failing on frozen parameters, and grade's rounding check on an infinite value;
  both fixed; then cases 300000–301999 (2,000): no finding.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import os
import random
import signal
import sys
import tempfile
import traceback
import warnings

import numpy as np

CASE_SECONDS = 60  # a case still running after this long is a hang

HOSTILE_NUMBERS = [0, -1, 1, 2, 3, 0.5, -0.0, 1e-320, 1e308, -1e308, 1e300, 1e20, 2**63, -(2**63),
                   int("9" * 310), 10**20, 2.5, 9999, 10001, 1e-5, 1e5]
HOSTILE_STRINGS = ['"""; import os; os.system("echo INJECTED"); """', "C:\\Users\\net", "$x^2$", "[bold]x[/bold]",
                   "<script>alert(1)</script>", "a\nb\rc\x00d\x1b[31m", "\\input{/etc/passwd}", "%", "# title",
                   "ü中文", "\u202e", "'", "", " ", "relu", "none", "sgd", "cross_entropy", "bce", "softmax",
                   "x" * 20000, "../../etc/x", "\ud800"]


def hostile_value(rng: random.Random, depth: int = 0):
    kind = rng.random()
    if kind < 0.4:
        return rng.choice(HOSTILE_NUMBERS)
    if kind < 0.6:
        return rng.choice(HOSTILE_STRINGS)
    if kind < 0.7:
        return rng.choice([True, False, None, {}, []])
    if kind < 0.85 and depth < 3:
        return [hostile_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if depth < 3:
        return {rng.choice(["x", "y", "weights", "seed", "a"]): hostile_value(rng, depth + 1)}
    return rng.random() * 10 - 5


def _paths(obj, prefix=()):
    """Every (path) to a value inside nested dicts and lists."""
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


def _set(obj, path, value):
    for p in path[:-1]:
        obj = obj[p]
    obj[path[-1]] = value


def _delete(obj, path):
    for p in path[:-1]:
        obj = obj[p]
    del obj[path[-1]]


def mutate_tree(rng: random.Random, raw: dict) -> dict:
    """1 to 3 mutations; most keep the spec loadable (so the commands behind the parser get fuzzed)."""
    raw = json.loads(json.dumps(raw))
    for _ in range(rng.randint(1, 3)):
        paths = [p for p in _paths(raw) if p]
        numbers = [p for p in paths if isinstance(_get(raw, p), (int, float)) and not isinstance(_get(raw, p), bool)]
        op = rng.random()
        if op < 0.25:
            raw[rng.choice(["name", "description"])] = rng.choice(HOSTILE_STRINGS + [_unicode(rng)])
        elif op < 0.5 and numbers:
            _set(raw, rng.choice(numbers), rng.choice(HOSTILE_NUMBERS + [rng.uniform(-10, 10)]))
        elif op < 0.6:
            key, options = rng.choice([("loss", ["half_sse", "mse", "sse", "cross_entropy", "bce"]),
                                       ("optimizer", ["sgd", "momentum", "adam"]),
                                       ("activations", ["none", "relu", "sigmoid", "tanh", "leaky_relu", "softmax"]),
                                       ("bias", [True, False])])
            raw[key] = rng.choice(options)
        elif op < 0.75:  # another network shape, with data that fits it
            sizes = [rng.choice([1, 2, 3, 4, 5, 50, 200]) for _ in range(rng.randint(2, 5))]
            n = rng.choice([1, 1, 2, 3, 20])
            raw["layers"] = sizes
            raw["init"] = {"seed": rng.choice([0, 1, 2**32, 2**63 - 1])}
            raw.pop("activations", None) if rng.random() < 0.5 else raw.update(
                activations=[rng.choice(["none", "relu", "sigmoid", "tanh"]) for _ in sizes[1:]])
            raw["bias"] = rng.random() < 0.5
            raw["data"] = {"x": [[rng.choice([0.5, -1.0, 1e3, 0.0, 1e-300]) for _ in range(sizes[0])] for _ in range(n)],
                           "y": ([rng.randrange(sizes[-1]) for _ in range(n)] if raw.get("loss") == "cross_entropy"
                                 else [[rng.choice([0.0, 1.0, 0.5, 60.0]) for _ in range(sizes[-1])] for _ in range(n)])}
        elif op < 0.8:
            raw["steps"] = rng.choice([1, 2, 13, 100, 101, 20000])
        elif op < 0.9 and paths:
            _set(raw, rng.choice(paths), hostile_value(rng))
        elif op < 0.95 and paths:
            with contextlib.suppress(KeyError, IndexError, TypeError):
                _delete(raw, rng.choice(paths))
        else:
            raw[rng.choice(["colour", "momentum", "beta1", "beta2", "eps", "negative_slope", "lr", "frozen"])] = hostile_value(rng)
    return raw


def _get(obj, path):
    for p in path:
        obj = obj[p]
    return obj


def _unicode(rng: random.Random) -> str:
    """A random string over all of Unicode (surrogates and controls included)."""
    return "".join(chr(rng.choice([rng.randint(0, 0x7f), rng.randint(0x80, 0xffff), rng.randint(0, 0x10ffff)]))
                   for _ in range(rng.randint(0, 30)))


def mutate_text(rng: random.Random, text: str) -> str:
    op = rng.random()
    if op < 0.2:
        cut = rng.randint(0, len(text))
        return text[:cut]
    if op < 0.4:
        pos = rng.randint(0, len(text))
        return text[:pos] + rng.choice(["[", "]", "{", "=", '"', "'''", "\\", "\ufeff", "\r", "#", "\x00", "1_0",
                                        "[" * 40, "]]", "inf", "nan", "é"]) + text[pos:]
    if op < 0.5:
        return "\ufeff" + text
    if op < 0.6:
        return text.replace("\n", "\r")
    if op < 0.7:
        return text.replace("\n", "\r\n")
    chars = list(text)
    for _ in range(rng.randint(1, 5)):
        if chars:
            chars[rng.randrange(len(chars))] = chr(rng.choice([0x20, 0x22, 0x27, 0x5b, 0x5d, 0x3d, 0x30, 0x2e,
                                                              rng.randint(0, 0x2fff)]))
    return "".join(chars)


# ---------------------------------------------------------------------------- what a case runs
def _one_line(exc) -> str | None:
    """None when ``exc`` is what the CLI prints as one line; else what is wrong with it."""
    import chainrule as cr

    if isinstance(exc, (cr.ChainruleError, OSError, ValueError)) and not isinstance(exc, (UnicodeError,)):
        text = str(exc)
        if "\n" in text:
            return f"a message of {text.count(chr(10)) + 1} lines: {text[:200]!r}"
        if not text:
            return "an empty message"
        if not isinstance(exc, cr.ChainruleError) and type(exc) not in (ValueError, FileNotFoundError,
                                                                         IsADirectoryError, OSError):
            return f"{type(exc).__name__} (not one of chainrule's errors): {text[:200]}"
        return None
    return f"{type(exc).__name__}: {exc!s:.300}"


def _exported_statements_ok(code: str, to: str) -> str | None:
    """The script parses, and its statements are the ones the exporter writes for the plain name."""
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        return f"export --to {to}: the script does not compile: {exc}"
    first = tree.body[0] if tree.body else None
    if not (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str)):
        return f"export --to {to}: the script does not start with its docstring"
    allowed = (ast.Import, ast.Assign, ast.AugAssign, ast.For, ast.Expr, ast.With, ast.ImportFrom)
    for node in tree.body[1:]:
        if not isinstance(node, allowed):
            return f"export --to {to}: unexpected statement {type(node).__name__}"
        if isinstance(node, ast.Import) and not {a.name for a in node.names} <= {"math", "numpy", "torch"}:
            return f"export --to {to}: imports {[a.name for a in node.names]}"
        if isinstance(node, ast.Expr) and not (isinstance(node.value, ast.Call)
                                               and getattr(node.value.func, "id", None) == "print"
                                               or isinstance(node.value, ast.Call)):
            return f"export --to {to}: an expression statement {ast.dump(node)[:100]}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("exec", "eval", "__import__", "open"):
            return f"export --to {to}: calls {node.func.id}"
        if isinstance(node, ast.Attribute) and node.attr in ("system", "popen", "remove", "unlink"):
            return f"export --to {to}: uses .{node.attr}"
    return None


def run_spec_case(raw_or_text, as_json: bool, folder: str, draw: bool, html: bool = True) -> list[str]:
    """Run one spec through derive, check, export (and draw); the list of findings."""
    from chainrule.check import check_spec
    from chainrule.explain import derive
    from chainrule.export import export
    from chainrule.spec import load_spec

    path = os.path.join(folder, "case.json" if as_json else "case.toml")
    with open(path, "w", encoding="utf-8", errors="surrogatepass", newline="") as fh:
        fh.write(raw_or_text if isinstance(raw_or_text, str) else json.dumps(raw_or_text, ensure_ascii=False))
    findings = []

    def attempt(what, fn):
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - classifying every exception is the point
            problem = _one_line(exc)
            if problem:
                findings.append(f"{what}: {problem}\n{traceback.format_exc(limit=-4)}")
            return None

    spec = attempt("load_spec", lambda: load_spec(path))
    if spec is None:
        return findings
    dv = attempt("derive", lambda: derive(spec, steps=1))
    for fmt in ("md", "text", "latex", "json") + (("html",) if html else ()) if dv is not None else ():
        out = attempt(f"derive --format {fmt}", lambda fmt=fmt: {"md": dv.markdown, "text": dv.text, "latex": dv.latex,
                                                                  "html": dv.html, "json": dv.to_json}[fmt]())
        if fmt == "html" and out is not None:
            problem = _html_problem(out, spec.name)
            if problem:
                findings.append(f"derive --format html: {problem}")
    from chainrule import limits

    if spec.n_params <= 300 or spec.n_params > limits.CHECK_PARAMETERS:  # in between: seconds, and no new paths
        attempt("check", lambda: check_spec(spec, use_torch=False))
    for to in ("python", "numpy", "torch"):
        code = attempt(f"export --to {to}", lambda to=to: export(spec, to=to))
        if code is not None:
            problem = _exported_statements_ok(code, to)
            if problem:
                findings.append(problem)
    if draw:
        from chainrule import viz
        from chainrule.commands.draw import _check_limits
        from chainrule.network import run as run_spec

        class Args:
            what, step, steps = "network", 1, None

        ok = attempt("draw limits", lambda: _check_limits(spec, Args) or True)
        if ok:
            drawing = attempt("draw", lambda: viz.draw_network(run_spec(spec, steps=1), step=1, show="all"))
            if drawing is not None:
                svg = attempt("draw --out x.svg", lambda: drawing.to_bytes("svg"))
                if svg is not None:
                    import xml.etree.ElementTree as ET

                    try:
                        ET.fromstring(svg)
                    except ET.ParseError as exc:
                        findings.append(f"draw: the SVG does not parse: {exc}")
    return findings


def _html_problem(page: str, name: str) -> str | None:
    """Parse the page; its <title> must hold the spec's name as text (nothing of it as markup)."""
    from html.parser import HTMLParser

    from chainrule.escape import plain_text

    class P(HTMLParser):
        def __init__(self):
            super().__init__(convert_charrefs=True)
            self.stack, self.title, self.scripts = [], "", 0

        def handle_starttag(self, tag, attrs):
            self.stack.append(tag)
            self.scripts += tag in ("script", "iframe", "object")

        def handle_endtag(self, tag):
            if tag in self.stack:
                while self.stack.pop() != tag:
                    pass

        def handle_data(self, data):
            if self.stack and self.stack[-1] == "title":
                self.title += data

    p = P()
    p.feed(page)
    p.close()
    if p.scripts:
        return "the page has a script"
    if plain_text(name) not in p.title:
        return f"the title {p.title[:80]!r} does not hold the name {name[:40]!r}"
    return None


def run_csv_case(text: str, folder: str, rng: random.Random) -> list[str]:
    from chainrule.cli import main

    path = os.path.join(folder, "case.csv")
    with open(path, "w", encoding="utf-8", errors="surrogatepass", newline="") as fh:
        fh.write(text)
    spec = rng.choice(["iris", os.path.join(folder, "reg.toml"), os.path.join(folder, "bce.toml")])
    with open(os.path.join(folder, "reg.toml"), "w") as fh:
        fh.write('layers = [2, 3, 1]\nactivations = ["tanh", "none"]\nloss = "mse"\ninit.seed = 1\n')
    with open(os.path.join(folder, "bce.toml"), "w") as fh:
        fh.write('layers = [2, 1]\nactivations = ["sigmoid"]\nloss = "bce"\ninit.seed = 1\n')
    argv = ["train", spec, "--data", path, "--epochs", "2", "--quiet", "--val", rng.choice(["0", "0.2", "0.5"])]
    return _cli_case(main, argv, "train")


def run_answer_case(text: str, as_json: bool, spec: str, folder: str) -> list[str]:
    from chainrule.cli import main

    path = os.path.join(folder, "answers.json" if as_json else "answers.toml")
    with open(path, "w", encoding="utf-8", errors="surrogatepass", newline="") as fh:
        fh.write(text)
    return _cli_case(main, ["grade", spec, path, "--format", "json"], "grade")


def _cli_case(main, argv, command) -> list[str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(argv)
    except SystemExit as exc:
        rc = exc.code
    except Exception:  # noqa: BLE001
        return [f"{command}: traceback\n{traceback.format_exc(limit=-4)}"]
    lines = [line for line in err.getvalue().splitlines() if line.strip()]
    if rc not in (0, 1, 2):
        return [f"{command}: exit status {rc}"]
    if rc == 2 and (len(lines) != 1 or not lines[0].startswith(f"chainrule {command}: error: ")):
        return [f"{command}: exit 2 without one error line: {err.getvalue()[:300]!r}"]
    return []


# ---------------------------------------------------------------------------- cases
def shipped_raw() -> dict:
    from chainrule.io import parse_config
    from chainrule.spec import _read, shipped_specs

    return {name: (parse_config(_read(name)[0], name, as_json=False), _read(name)[0]) for name in shipped_specs()}


CSV_BASE = "a,b,y\n0.1,0.2,0\n0.3,-0.4,1\n1e3,5,0\n-2,.5,1\n"


def csv_text(rng: random.Random) -> str:
    op = rng.random()
    if op < 0.5:
        return mutate_text(rng, CSV_BASE)
    rows = [["a", "b", "y"]] + [[str(rng.choice([0, 1, -1.5, 1e300, -1e300, "3_5", "inf", "x", "", " 2 ", "0x10",
                                                  "1e400", "５", "nan", "1,5", '"7"'])) for _ in range(3)]
                                for _ in range(rng.randint(1, 6))]
    if rng.random() < 0.2:
        rows[0] = [rng.choice(["a", "a", "", "y", "$", "[b]"]) for _ in range(rng.randint(1, 4))]
    if rng.random() < 0.1:
        rows.append(["1" * rng.choice([1000, 1001, 200_000])] * 3)
    sep = rng.choice(["\n", "\r\n", "\r"])
    return sep.join(",".join(r) for r in rows) + sep


def answer_text(rng: random.Random, truth: dict) -> tuple[str, bool]:
    raw = mutate_tree(rng, truth) if rng.random() < 0.8 else truth
    if rng.random() < 0.3:
        raw = {"step": rng.choice([1, 2, 3, 100, 101, 3000, -1, int("9" * 310), "1", 1.5]), **raw}
    text = json.dumps(raw, ensure_ascii=False)
    if rng.random() < 0.2:
        text = mutate_text(rng, text)
    return text, True


@contextlib.contextmanager
def _deadline(seconds: int):
    if not hasattr(signal, "SIGALRM"):
        yield
        return

    def alarm(signum, frame):
        raise TimeoutError(f"the case ran past {seconds} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def run_case(n: int, folder: str, shipped: dict, truths: dict) -> list[str]:
    """Case ``n``: spec cases, CSV cases and answer cases in turn (6:2:2)."""
    rng = random.Random(n)
    kind = n % 10
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with np.errstate(all="ignore"), _deadline(CASE_SECONDS):
            try:
                if kind < 6:
                    name = rng.choice(sorted(shipped))
                    raw, text = shipped[name]
                    draw = n % 40 == 0
                    html = n % 3 == 0  # MathML conversion is a third of a case's time
                    if rng.random() < 0.75:
                        return run_spec_case(mutate_tree(rng, raw), True, folder, draw, html)
                    return run_spec_case(mutate_text(rng, text), rng.random() < 0.2, folder, draw, html)
                if kind < 8:
                    return run_csv_case(csv_text(rng), folder, rng)
                spec = rng.choice(sorted(truths))
                text, as_json = answer_text(rng, truths[spec])
                return run_answer_case(text, as_json, spec, folder)
            except TimeoutError as exc:
                return [str(exc)]


def answer_truths() -> dict:
    from chainrule.network import run as run_spec

    return {name: run_spec(name, steps=1).steps[0].to_dict() for name in ("seed", "mazur", "softmax", "xor")}


def fuzz(cases: range, report=None) -> list[tuple[int, str]]:
    shipped, truths = shipped_raw(), answer_truths()
    found = []
    with tempfile.TemporaryDirectory() as folder:
        for k, n in enumerate(cases):
            if report and k and k % 250 == 0:
                report(n, f"progress: {k} cases run")
            for finding in run_case(n, folder, shipped, truths):
                found.append((n, finding))
                if report:
                    report(n, finding)
    return found


if __name__ == "__main__":
    start = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    results = fuzz(range(start, start + count), report=lambda n, f: print(f"case {n}: {f}", flush=True))
    results = [r for r in results if not r[1].startswith("progress:")]
    print(f"{count} cases from {start}: {len(results)} finding(s)")
    sys.exit(1 if results else 0)
