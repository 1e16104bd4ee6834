"""The CLI's errors in Chinese (issue 12): with --lang zh every error a user can fix comes out in
Chinese, naming the same file and key; English stays as it was.

A corpus of bad inputs (spec files of several kinds, answer files, a missing file, bad options) is
run through the CLI in both languages. The zh line must hold no English word outside code, keys and
file names (tests/test_zh.py's checker) and must still name the file and the key.
"""

from __future__ import annotations

import re

import pytest
from test_zh import english_words

from chainrule.cli import main
from chainrule.i18n import CATALOG, MAX_CHARS, NARROW, translate

SPEC_OK = ('name = "n"\nlayers = [2, 1]\n[init]\nweights = [[[0.5], [0.5]]]\n[data]\nx = [1.0, 2.0]\ny = [1.0]\n')

# (file name, its text, the command line with {f} for the file, what the error must name)
CASES = [
    ("bad.toml", 'name="x"\nlayers=[2,"a",1]\n', ["derive", "{f}"], ["bad.toml", "layers[1]"]),
    ("typo.toml", 'nme = "x"\nlayers = [2, 1]\n', ["show", "{f}"], ["typo.toml", "nme"]),
    ("broken.toml", 'layers = [2, 3\nlr = 0.1\n', ["derive", "{f}"], ["broken.toml", "2", "1"]),
    ("broken.json", '{"layers": [2, 3,]}', ["check", "{f}"], ["broken.json", "1"]),
    ("act.toml", 'layers = [2, 1]\nactivations = ["relux"]\n', ["draw", "{f}"], ["act.toml", "activations[0]", "relux"]),
    ("noinit.toml", 'layers = [2, 1]\n[data]\nx = [1, 2]\ny = [1]\n', ["derive", "{f}"], ["noinit.toml", "init.weights"]),
    ("shape.toml", 'layers = [2, 3]\n[init]\nweights = [[[1, 2], [3, 4], [5, 6]]]\n[data]\nx = [1, 2]\ny = [1, 2, 3]\n',
     ["derive", "{f}"], ["shape.toml", "init.weights", "3x2", "nn.Linear.weight"]),
    ("bce.toml", 'layers = [2, 1]\nloss = "bce"\n[init]\nweights = 0.5\n', ["export", "{f}"],
     ["bce.toml", "activations", "'sigmoid'"]),
    ("inputs.toml", 'layers = [3, 1]\n[init]\nweights = 0.5\n[data]\nx = [1, 2]\ny = [1]\n', ["grade", "{f}", "a.toml"],
     ["inputs.toml", "data.x", "(2,)"]),
    ("frozen.toml", SPEC_OK.replace('[init]', 'frozen = ["W7"]\n[init]'), ["show", "{f}"], ["frozen.toml", "frozen[0]", "W7"]),
    ("lr.toml", SPEC_OK.replace("[init]", "lr = -1\n[init]"), ["worksheet", "{f}"], ["lr.toml", "lr", "-1"]),
    ("big.toml", "# " + "x" * 1_000_001 + "\n", ["derive", "{f}"], ["big.toml", "1,000,000"]),
    ("latin1.toml", b"name = \"caf\xe9\"\n", ["derive", "{f}"], ["latin1.toml"]),
    ("layered.toml", 'input = [1, 4, 4]\n[[layers]]\nkind = "conv2d"\nout_channels = 1\nkernel_size = 2\nstrides = 1\n',
     ["derive", "{f}"], ["layered.toml", "layers[0]", "strides"]),
    ("layered2.toml", 'input = [1, 4, 4]\nlr = 0\n[[layers]]\nkind = "flatten"\n', ["check", "{f}"], ["layered2.toml", "lr"]),
    (None, None, ["derive", "missing.toml"], ["missing.toml", "seed"]),
    (None, None, ["derive", "seed", "--steps", "1000000"], ["seed"]),
    # answer files, graded against the shipped seed spec
    ("ans1.toml", "lost = 1\n", ["grade", "seed", "{f}"], ["ans1.toml", "lost"]),
    ("ans2.toml", "[grad]\nW3 = [[1]]\n", ["grade", "seed", "{f}"], ["ans2.toml", "grad.W3", "W1"]),
    ("ans3.toml", "[[forward]]\nz = [1, 2, 3]\nloss = 5\n", ["grade", "seed", "{f}"],
     ["ans3.toml", "forward[0].loss", "[[forward]]"]),
    ("ans4.toml", 'loss = "abc"\n', ["grade", "seed", "{f}"], ["ans4.toml", "loss", "'abc'"]),
    ("ans5.toml", "[grad]\nW2 = [1, 2]\n", ["grade", "seed", "{f}"], ["ans5.toml", "grad.W2", "3", "2"]),
    ("ans6.toml", "[grad]\nW1 = [[1, 2], [3, 4], [5, 6]]\n", ["grade", "seed", "{f}"], ["ans6.toml", "grad.W1", "3x2"]),
    ("ans7.toml", "# nothing yet\n", ["grade", "seed", "{f}"], ["ans7.toml"]),
    ("ans8.toml", "[[steps]]\nstep = 1\nloss = 1\n[[steps]]\nstep = 1\nloss = 2\n", ["grade", "seed", "{f}"],
     ["ans8.toml", "steps", "1"]),
    (None, None, ["grade", "seed", "nowhere.toml"], ["nowhere.toml"]),
    ("dup.json", '{"loss": 1, "loss": 2}', ["grade", "seed", "{f}"], ["dup.json", "'loss'"]),
    (None, None, ["grade", "--class", "nosheets", "answers"], ["nosheets", "class.json"]),
    # options the commands check themselves, and argparse's own
    (None, None, ["grade", "seed", "x.toml", "--sig-digits", "0"], ["--sig-digits", "0"]),
    (None, None, ["draw", "seed", "--step", "0"], ["--step", "0"]),
    (None, None, ["draw", "seed", "--out", "f.gif"], ["--out", "f.gif"]),
    (None, None, ["draw", "xor", "--animate", "--out", "a.png"], ["--out", "a.png", ".gif"]),
    (None, None, ["draw", "xor", "--animate", "--frames", "0"], ["frames", "0"]),
    (None, None, ["draw", "seed", "--sample", "3"], ["1..1"]),
    (None, None, ["export", "seed", "--steps", "0"], ["--steps"]),
    (None, None, ["check", "seed", "--eps", "-1"], ["--eps", "-1"]),
    (None, None, ["new", "3-a"], ["LAYERS", "3-a"]),
    (None, None, ["derive", "seed", "--format", "pptx"], ["--format", "pptx", "md"]),
    (None, None, ["derive", "seed", "--bogus"], ["--bogus"]),
    (None, None, ["derive"], ["SPEC"]),
]


def _run(tmp_path, monkeypatch, capsys, case, lang):
    name, text, args, _ = case
    monkeypatch.chdir(tmp_path)   # relative file names: a temporary folder's path is not part of the message
    if name:
        (tmp_path / name).write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    (tmp_path / "a.toml").write_text("loss = 1\n", encoding="utf-8")
    argv = [a.format(f=name) for a in args] + ["--lang", lang]
    try:
        code = main(argv)
    except SystemExit as exc:   # argparse's errors exit
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err    # one line
    return err


def _prose(line: str) -> str:
    """The line without the program's name (``chainrule derive``: code) and file paths (``a/b.json``)."""
    return re.sub(r"[\w.\-]+/[\w./\-]*", " ", re.sub(r"^chainrule \w+", " ", line))


@pytest.mark.parametrize("case", CASES, ids=[" ".join(c[2]) + (f" {c[0]}" if c[0] else "") for c in CASES])
def test_errors_in_chinese_name_the_file_and_key(tmp_path, monkeypatch, capsys, case):
    en = _run(tmp_path, monkeypatch, capsys, case, "en")
    zh = _run(tmp_path, monkeypatch, capsys, case, "zh")
    assert en.startswith(f"chainrule {case[2][0]}: error: ")          # English as before
    assert re.search(r"[\u4e00-\u9fff]", en) is None
    assert zh.startswith(f"chainrule {case[2][0]}：错误：")
    assert english_words(_prose(zh)) == [], zh
    for named in case[3]:
        assert named in en and named in zh, (named, zh)


def test_the_seed_example_of_the_issue():
    en = "bad.toml: key 'layers[1]': expected a number, got 'a'"
    assert translate(en, "en") == en
    assert translate(en, "zh") == "bad.toml：键 'layers[1]'：应为数，实际是 'a'"


def test_toml_line_and_column_and_shipped_specs_in_chinese():
    zh = translate("x.toml: not valid TOML: Unclosed array (at line 2, column 1)", "zh")
    assert zh == "x.toml：不是有效的 TOML：第 2 行第 1 列：数组没有闭合"
    zh = translate("seed (shipped spec): key 'steps': 200,000 steps is more than the 100,000 a spec may run "
                   "(use `chainrule train` for long runs on real data)", "zh")
    assert zh.startswith("seed（内置设定）：键 'steps'：200,000 步超过") and english_words(zh) == []


def test_odd_messages_stay_english_and_never_raise():
    # a key that repeats the frame of a message: matched once, never recursively without end
    odd = "f.toml: key '" + ": key 'a': " * 100 + "': unknown key (known keys: a, b)"
    assert translate(odd, "zh").startswith("f.toml")
    nested = "f.toml: key 'a': " * 50 + "missing"
    assert translate(nested, "zh").startswith("f.toml：键 'a'：")   # nested no deeper than MAX_DEPTH
    long = "f.toml: key 'a': expected a number, got '" + "x" * MAX_CHARS + "'"
    assert translate(long, "zh") == long


def test_engine_errors_stay_english():
    # a message the catalog does not know (an op's shape error, worded as PyTorch words it) is left alone
    text = "mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)"
    assert translate(text, "zh") == text


def test_every_template_renders_without_english():
    """Each Chinese template uses only the English template's parts, a message written from the English
    template is translated, and the translation has no English word of its own."""
    for en, zh in CATALOG:
        parts = set(re.findall(r"\{(\w+)\}", en))
        assert set(re.findall(r"\{(\w+)\}", zh)) <= parts, en
        sample = en
        for k, p in enumerate(sorted(parts)):
            sample = sample.replace("{" + p + "}", "7" if p.rstrip("0123456789") in NARROW else f"v{k}")
        out = translate(sample, "zh")
        assert out != sample and re.search(r"[\u4e00-\u9fff]", out), en
        assert english_words(out) == [], out


def test_what_export_and_worksheet_print_beside_their_output_in_chinese(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["export", "seed", "--to", "numpy", "--out", "net.py", "--lang", "zh"]) == 0
    err = capsys.readouterr().err
    n = len((tmp_path / "net.py").read_text(encoding="utf-8").splitlines())
    assert err.strip() == f"已写入 net.py（{n} 行）"
    assert main(["export", "seed", "--to", "numpy", "--out", "net.py"]) == 0
    assert capsys.readouterr().err.strip() == f"wrote net.py ({n} lines)"
    assert main(["worksheet", "seed", "--variants", "1", "--out", "sheets", "--lang", "zh"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("为 'seed' 生成了 1 份练习单") and english_words(re.sub(r"\S+\.\w+", " ", out)) == []


# --------------------------------------------------------------------------- every message has a template
SCANNED = {"spec.py": None, "io.py": {"read_text", "read_bytes", "parse_config", "_unique", "_check_nesting"},
           "layered.py": None, "grade.py": None, "grading/layered.py": None, "limits.py": None, "classroom.py": None, "check.py": None,
           "explain/conv.py": None, "explain/batchnorm.py": None, "explain/rnn.py": None, "explain/derivation.py": None, "export/graph.py": None, "export/layered.py": None, "export/layered_code.py": None, "network.py": None,
           "animate.py": None, **{f"commands/{c}.py": None for c in ("check", "derive", "draw", "export", "grade",
                                                                      "new", "show", "worksheet")}}
# written from parts the scan cannot see (the part is a variable), or refused by argparse before they can happen
UNSEEN = {"1: 1", "1: not valid JSON: 1", "1: not valid TOML: 1", "grade: lang must be one of 1, got 1",
          "derive: lang must be one of 1, got 1", "derive: notation must be one of 1, got 1",
          "animate: fps must be in (0, 50], got 1", "f.toml: key 'k': expected a number or 1, got shape 1",
          "1: key '1': expected 1, got 1"}  # grading/layered.py's shapes in words: tests/test_grade_layered.py


def _messages(node):
    """The messages an f-string can write, each formatted part as "1" (a conditional's two constants both)."""
    import ast
    import itertools

    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):   # message + hint: the message
        return _messages(node.left)
    if not isinstance(node, ast.JoinedStr):
        return []
    pieces = []
    for v in node.values:
        e = getattr(v, "value", None)
        if isinstance(v, ast.Constant):
            pieces.append([v.value])
        elif isinstance(e, ast.IfExp) and isinstance(e.body, ast.Constant) and isinstance(e.orelse, ast.Constant):
            pieces.append([str(e.body.value), str(e.orelse.value)])
        else:
            pieces.append(["1"])
    return ["".join(p) for p in itertools.product(*pieces)]


def test_every_message_the_cli_commands_raise_has_a_chinese_template():
    """A new error message in these modules needs its Chinese template in chainrule/i18n.py's CATALOG."""
    import ast
    import pathlib

    import chainrule

    root = pathlib.Path(chainrule.__file__).parent
    missing, seen = [], 0
    for rel, functions in SCANNED.items():
        tree = ast.parse((root / rel).read_text(encoding="utf-8"))
        nodes = {id(n): n for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)
                 and (functions is None or f.name in functions) for n in ast.walk(f)}
        for node in nodes.values():
            messages = []
            if (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args
                    and getattr(node.exc.func, "id", "") in ("SpecError", "ValueError", "FileNotFoundError")):
                messages = _messages(node.exc.args[0])
            elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "fail" \
                    and len(node.args) == 2:                         # spec.py's check.fail(key, message)
                messages = ["f.toml: key 'k': " + m for m in _messages(node.args[1])]
            for m in messages:
                seen += 1
                if m not in UNSEEN and english_words(translate(m, "zh")):
                    missing.append(f"{rel}:{node.lineno}: {m}")
    assert seen > 150
    assert missing == [], "no Chinese template in chainrule/i18n.py for:\n" + "\n".join(missing)
