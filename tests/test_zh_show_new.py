"""`chainrule show` and `chainrule new` in Chinese (issue 12): no English word outside code and symbols
(tests/test_zh.py's checker); the identifiers a spec uses are shown as code beside their Chinese names."""

from __future__ import annotations

import pytest
from test_zh import english_words

from chainrule.cli import main
from chainrule.spec import load_spec


@pytest.mark.parametrize("spec", ["seed", "mazur", "xor", "iris", "relu", "softmax"])
def test_show_in_chinese(capsys, spec):
    assert main(["show", spec, "--lang", "zh"]) == 0
    out = capsys.readouterr().out
    assert "激活函数：" in out and "（来源, 去向）" in out
    assert english_words(out) == [], out


def test_show_names_none_half_sse_and_sgd_in_chinese_with_the_code(capsys):
    assert main(["show", "seed", "--lang", "zh"]) == 0
    out = capsys.readouterr().out
    assert "激活函数：无（`none`）、无（`none`）" in out
    assert "损失函数：½Σ(y − y')²（`half_sse`）" in out and "优化器：随机梯度下降（`sgd`）" in out
    assert main(["show", "seed"]) == 0   # English as before
    out = capsys.readouterr().out
    assert "activations: none, none;  loss: half_sse;  optimizer: sgd" in out and "(from, to) order" in out


def test_show_out_in_order(tmp_path, capsys):
    path = tmp_path / "o.toml"
    path.write_text('layers = [2, 1]\norder = "out_in"\n[init]\nweights = [[[1, 2]]]\n[data]\nx = [1, 2]\ny = [1]\n',
                    encoding="utf-8")
    assert main(["show", str(path), "--lang", "zh"]) == 0
    out = capsys.readouterr().out
    assert "矩阵按 PyTorch 的 `(out, in)` 顺序读取" in out
    assert english_words(out) == []


@pytest.mark.parametrize("extra", [[], ["--init", "random", "--seed", "3"], ["--loss", "cross_entropy"],
                                   ["--bias", "shared"]])
def test_new_in_chinese_writes_chinese_comments_and_the_same_spec(tmp_path, monkeypatch, capsys, extra):
    monkeypatch.chdir(tmp_path)
    assert main(["new", "2-3-2", *extra, "--name", "n", "--out", "en.toml"]) == 0
    assert main(["new", "2-3-2", *extra, "--name", "n", "--lang", "zh", "--out", "zh.toml"]) == 0
    assert capsys.readouterr().err.strip().endswith("已写入 zh.toml")
    en, zh = (tmp_path / "en.toml").read_text(encoding="utf-8"), (tmp_path / "zh.toml").read_text(encoding="utf-8")
    code = lambda text: [ln.split("#")[0].rstrip() for ln in text.splitlines()]  # noqa: E731
    assert code(en) == code(zh)                        # only the comments change
    comments = "\n".join(ln.split("#", 1)[1] for ln in zh.splitlines() if "#" in ln)
    spec = load_spec(str(tmp_path / "zh.toml"))
    assert spec.description_zh.startswith("一个 2-3-2 网络")
    assert english_words(comments + "\n" + spec.description_zh) == [], comments
    assert main(["show", "zh.toml", "--lang", "zh"]) == 0
    assert english_words(capsys.readouterr().out) == []
