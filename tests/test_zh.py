"""Chinese everywhere: no English word in a --lang zh output outside code and symbols (issue 12).

Code (`...`, fenced blocks, exported source lines), LaTeX ($...$) and symbols are skipped; so are the
names of functions and methods that Chinese texts write in Latin letters (sigmoid, tanh, ReLU,
softmax, SGD, Adam, exp, max), names (Mazur, PyTorch, chainrule) and the shipped specs' own names.
"""

from __future__ import annotations

import re

import pytest

from chainrule.cli import main

ALLOWED = {
    "sigmoid", "tanh", "relu", "leakyrelu", "softmax", "sgd", "adam", "exp", "log", "ln", "max", "min", "inf", "nan",
    "float", "sum", "autograd", "chainrule", "pytorch", "mazur", "seed", "xor", "iris", "mse", "bce", "svg", "png", "pdf", "html", "json", "toml", "csv",
}
# answer keys, printed beside each symbol as the learner wrote them (code, not prose)
KEYS = {"loss", "output", "delta", "grad", "forward", "params_after", "params_before", "dl_doutput"}
# a Latin word that is part of a symbol or key: next to _ digits . [ ] ' ( of a call, or a backslash
WORD = re.compile(r"(?<![A-Za-z0-9_.\[\\'^])[A-Za-z]{2,}(?![A-Za-z0-9_.\[\]'(^])")


def english_words(text: str) -> list[str]:
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    text = re.sub(r"\$\$.*?\$\$", " ", text, flags=re.S)
    text = re.sub(r"\$[^$\n]*\$", " ", text)
    text = re.sub(r"`[^`\n]*`", " ", text)
    text = re.sub(r"\([a-zA-Z_]+(\.[A-Za-z0-9_]+)?(\[\d+\])+\)", " ", text)   # answer keys like (grad.W1[0][0])
    return sorted({w for w in WORD.findall(text) if w.lower() not in ALLOWED | KEYS})


def run_cli(capsys, args) -> str:
    main(args)
    return capsys.readouterr().out


@pytest.mark.parametrize("spec", ["seed", "mazur", "xor", "iris", "relu", "softmax"])
@pytest.mark.parametrize("fmt", ["md", "text"])
def test_zh_derivations_have_no_english_words(capsys, spec, fmt):
    out = run_cli(capsys, ["derive", spec, "--lang", "zh", "--format", fmt])
    assert re.search(r"[\u4e00-\u9fff]", out)
    assert english_words(out) == []


def test_zh_grade_reports_have_no_english_words(tmp_path, capsys):
    sheet = tmp_path / "a.toml"
    sheet.write_text("loss = 14400\ndL_doutput = 240\n[grad]\nW2 = [[14400], [14400], [14400]]\n"
                     "W1 = [[4454.4, 4800, 4800], [9600, 9600, 9600]]\n[params_after]\nW2 = [[1.5], [0.928], [0.93]]\n",
                     encoding="utf-8")
    for fmt in ("text", "md"):
        out = run_cli(capsys, ["grade", "seed", str(sheet), "--lang", "zh", "--format", fmt])
        assert "连带" in out
        assert english_words(out) == []
    sheet.write_text("[grad]\nW1 = [[0.000668396, '?'], ['?', '?']]\n"
                     "W2 = [[0.082, '?'], ['?', '?']]\n[params_after]\n"
                     "W1 = [[0.149780716, 0.19956143], [0.24975114, 0.29950229]]\n", encoding="utf-8")
    out = run_cli(capsys, ["grade", "mazur", str(sheet), "--lang", "zh"])
    assert "转置" in out and english_words(out) == []


def test_the_checker_finds_english():
    assert english_words("第一步 the backward pass，y' = σ(z)") == ["backward", "pass", "the"]
    assert english_words("∂L/∂w'_11 (grad.W1[0][0]) `code here` $\\frac{a}{b}$ sigmoid") == []


@pytest.mark.parametrize("to", ["python", "numpy", "torch"])
@pytest.mark.parametrize("spec", ["seed", "mazur", "xor", "iris", "relu", "softmax"])
def test_zh_exports_have_chinese_comments_and_the_same_code(spec, to):
    from chainrule.export import export

    en, zh = export(spec, to=to), export(spec, to=to, lang="zh")
    code = lambda text: [ln.split("#")[0].rstrip() for ln in text.split('"""', 2)[2].splitlines()]  # noqa: E731
    assert code(en) == code(zh)                       # only comments and the docstring change
    prose = zh.split('"""', 2)[1] + "\n".join(ln.split("#", 1)[1] for ln in zh.splitlines() if "#" in ln)
    prose = re.sub(r"print\(.*", " ", prose)
    assert re.search(r"[\u4e00-\u9fff]", prose)
    assert english_words(prose) == []


def test_zh_check_table_has_no_english_words(capsys):
    for args in (["check", "mazur", "--lang", "zh"], ["check", "seed", "--lang", "zh", "--no-torch"]):
        out = run_cli(capsys, args)
        assert "通过" in out and english_words(out) == []


@pytest.mark.parametrize("args", [
    ["seed", "--what", "graph"], ["mazur", "--what", "graph"], ["seed"], ["xor"], ["iris"],
    ["xor", "--what", "loss", "--steps", "20"], ["mazur", "--what", "scalars"],
])
def test_zh_figures_have_no_english_words(tmp_path, args):
    import xml.etree.ElementTree as ET

    from chainrule.ops import REGISTRY

    out = tmp_path / "f.svg"
    assert main(["draw", *args, "--lang", "zh", "--out", str(out)]) == 0
    text = "\n".join("".join(el.itertext()) for el in ET.parse(out).getroot().iter("{http://www.w3.org/2000/svg}text"))
    assert re.search(r"[\u4e00-\u9fff]", text)
    # op names in the computational graph are the functions' own names (code), like F.linear
    assert [w for w in english_words(text) if w not in REGISTRY] == []
