"""Formats (Markdown, JSON, HTML, LaTeX, text), the CLI, optimizers, matrix form and warnings."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pytest
from derive_helpers import at_key

import chainrule as cr
from chainrule.cli import main


@pytest.fixture(scope="module")
def seed():
    return cr.derive("seed")


def test_markdown_has_display_maths(seed):
    md = seed.markdown()
    blocks = re.findall(r"\$\$\n(.*?)\n\$\$", md, flags=re.S)
    assert len(blocks) >= 6
    assert any(r"\frac{\partial L}{\partial {w_{13}^{\prime}}}" in b or r"\partial w_{13}^{\prime}" in b for b in blocks)
    assert seed._repr_markdown_() == md


def test_json_schema(seed):
    data = json.loads(seed.to_json())
    assert data["format"] == "chainrule-derivation" and data["version"] == 1
    step = data["steps"][0]
    record = cr.network.run("seed").steps[0].to_dict()
    for key in ("forward", "loss", "grad", "params_after", "params_before", "delta", "dL_doutput", "output"):
        assert step[key] == record[key], key
    assert set(step["grad"]) == {"W1", "W2"} and np.shape(step["grad"]["W1"]) == (2, 3)
    for e in step["entries"]:
        assert set(e) == {"key", "symbol", "expression", "latex", "value", "factors"}
        assert at_key(step, e["key"]) == e["value"]
    for c in step["check"]:
        assert set(c) == {"param", "symbol", "grad", "finite_difference", "relative_error"}


def test_html_is_offline_mathml():
    for name in ("seed", "mazur"):
        page = cr.derive(name).html()
        assert page.count("<math") > 20
        assert not re.search(r"<(script|link)[^>]+(src|href)=[\"']?https?:", page)
        assert "<script" not in page
    assert "<math" in cr.derive("seed")._repr_html_()


LARGE = {"layers": [20, 16, 4], "activations": ["sigmoid", "none"], "bias": True, "loss": "half_sse", "lr": 0.1,
         "init": {"seed": 3}, "data": {"x": [[0.05 * i - 0.4 for i in range(20)]], "y": [[1.0, 0.0, -1.0, 0.5]]}}
HAS_PDFLATEX = shutil.which("pdflatex") is not None


def _has_cjk() -> bool:
    if not HAS_PDFLATEX or shutil.which("kpsewhich") is None:
        return False
    found = subprocess.run(["kpsewhich", "CJKutf8.sty", "c70gbsn.fd"], capture_output=True, text=True)
    return len(found.stdout.split()) == 2


def _pdflatex(tmp_path, source: str):
    (tmp_path / "d.tex").write_text(source, encoding="utf-8")
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "d.tex"], cwd=tmp_path,
                          capture_output=True, timeout=180)
    return proc.returncode, proc.stdout.decode("utf-8", "replace")


@pytest.mark.skipif(not HAS_PDFLATEX, reason="pdflatex not installed")
@pytest.mark.parametrize("name", ["seed", "softmax", "mazur", "large"])
def test_latex_compiles(tmp_path, name):
    rc, log = _pdflatex(tmp_path, cr.derive(LARGE if name == "large" else name).latex())
    assert rc == 0, log[-2000:]
    assert (tmp_path / "d.pdf").stat().st_size > 1000
    assert "Missing character" not in log  # a glyph the font lacks is dropped silently otherwise


@pytest.mark.skipif(not _has_cjk(), reason="pdflatex or the LaTeX CJK package (CJKutf8.sty, gbsn) not installed")
@pytest.mark.parametrize("name", ["seed", "mazur"])
def test_chinese_latex_compiles(tmp_path, name):
    rc, log = _pdflatex(tmp_path, cr.derive(name, lang="zh").latex())
    assert rc == 0, log[-2000:]
    assert (tmp_path / "d.pdf").stat().st_size > 1000
    # Chinese set in math mode (cmr/cmmi have no such glyphs) is the failure this guards against.
    assert "Missing character" not in log


@pytest.mark.skipif(not HAS_PDFLATEX, reason="pdflatex not installed")
def test_chinese_latex_without_cjk_stops_with_the_package_to_install(tmp_path):
    source = cr.derive("seed", lang="zh").latex()
    # The same document on a TeX installation that lacks the style file: rename what the guard looks for.
    guarded = source.replace(r"\IfFileExists{CJKutf8.sty}", r"\IfFileExists{CJKutf8-not-installed.sty}")
    assert guarded != source
    rc, log = _pdflatex(tmp_path, guarded)
    assert rc != 0
    log = log.replace("\n", "")  # TeX wraps its messages at 79 columns
    assert "needs the LaTeX CJK package" in log and "latex-cjk-chinese" in log


CJK = re.compile("[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def test_chinese_latex_keeps_chinese_out_of_maths():
    preamble, body = cr.derive("seed", lang="zh").latex().split(r"\begin{document}")
    assert "前向传播" in body and "反向传播" in body
    for span in re.findall(r"(?<!\\)\$(.*?)(?<!\\)\$", body, flags=re.S):
        assert not CJK.search(span), span
    for env in re.findall(r"\\begin\{align\*\}(.*?)\\end\{align\*\}", body, flags=re.S):
        assert not CJK.search(re.sub(r"\\text\{[^{}]*\}", "", env)), env[:200]  # Chinese only inside \text{}
    assert "% Chinese text: needs the CJK package" in preamble and "latex-cjk-chinese" in preamble


def test_text_aligns_equals_signs(seed):
    block = [ln for ln in seed.text().splitlines() if ln.startswith("  ∂L/∂w'_") and " = ∂L/∂y'" in ln]
    assert len(block) == 6 and len({ln.index(" = ") for ln in block}) == 1


def test_indexed_notation_and_precision():
    d = cr.derive("mazur", notation="indexed", precision=3)
    text = d.text()
    assert "w^(2)_11" in text and "w''" not in text
    assert "0.298" in text and "0.2983" not in text


def test_momentum_and_adam_updates_match_pytorch():
    pytest.importorskip("torch")
    from chainrule import torch_reference

    for opt in ("momentum", "adam"):
        raw = {"layers": [2, 2, 1], "activations": ["tanh", "none"], "bias": True, "loss": "mse", "lr": 0.1,
               "optimizer": opt, "init": {"weights": [[[0.3, -0.2], [0.1, 0.4]], [[0.5], [-0.6]]], "biases": [0.1, 0.0]},
               "data": {"x": [[1.0, 2.0], [-1.0, 0.5]], "y": [[0.5], [-0.3]]}}
        d = cr.derive(raw, steps=3)
        ref = torch_reference.run(cr.spec.load_spec(raw), steps=3)
        for step, r in zip(d.to_dict()["steps"], ref):
            for k, v in r["params_after"].items():
                np.testing.assert_allclose(step["params_after"][k], v, rtol=1e-9, atol=1e-12)
        text = d.text()
        assert ("μ·v + ∂L/∂w" in text) if opt == "momentum" else ("β₁·m + (1 − β₁)·∂L/∂w" in text)


def test_batch_shows_samples_and_sums():
    d = cr.derive("relu")
    text = d.text()
    assert "Sample 3" in text and "[3]" in text
    e = next(e for e in d.entries if e["key"] == "grad.W1[0][0]")
    assert len(e["factors"]) == 6 and {f["sample"] for f in e["factors"]} == {1, 2, 3}
    assert e["value"] == pytest.approx(sum(a["value"] * b["value"] for a, b in zip(e["factors"][::2], e["factors"][1::2])))
    assert any(e["key"] == "forward[0].z[2][1]" for e in d.entries)


def test_matrix_form_for_large_networks():
    raw = {"layers": [20, 16, 3], "activations": ["relu", "none"], "bias": True, "loss": "mse", "lr": 0.01,
           "init": {"seed": 1}, "data": {"x": [[0.1 * i for i in range(20)]], "y": [[1.0, 0.0, -1.0]]}}
    d = cr.derive(raw)
    assert d.matrix and "matrix form" in d.text()
    data = d.to_dict()
    assert data["form"] == "matrix" and len(data["steps"][0]["check"]) == 20
    step = data["steps"][0]
    for e in d.entries:
        assert at_key(step, e["key"]) == e["value"]
    assert "<math" in d.html()


def test_warnings_divergence_and_overflow():
    raw = {"layers": [1, 1], "loss": "half_sse", "lr": 3.0, "init": {"weights": [1.0]}, "data": {"x": [1.0], "y": [0.0]}}
    d = cr.derive(raw)  # L(w) = ½w², w ← w − 3w = −2w: the loss grows fourfold
    assert any("learning rate" in w for w in d.to_dict()["steps"][0]["warnings"])
    raw = {"layers": [1, 1], "loss": "half_sse", "lr": 1e300, "init": {"weights": [1e200]},
           "data": {"x": [1e200], "y": [0.0]}}
    d = cr.derive(raw)
    warnings = d.to_dict()["steps"][0]["warnings"]
    assert any("overflowed" in w for w in warnings)
    json.loads(d.to_json())  # inf/NaN are written as strings, the JSON stays valid
    d.text(), d.html(), d.markdown()


def test_cli_formats_and_out(tmp_path, capsys):
    out = tmp_path / "seed.json"
    assert main(["derive", "seed", "--format", "json", "--out", str(out)]) == 0
    assert json.loads(out.read_text(encoding="utf-8"))["steps"][0]["loss"] == 7200
    for fmt in ("md", "latex", "text", "html"):
        assert main(["derive", "softmax", "--format", fmt, "--steps", "2"]) == 0
        assert capsys.readouterr().out


def test_cli_bad_spec_exits_2_with_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('layers = [2, "three", 1]\n[init]\nweights = 0.5\n[data]\nx = [1, 2]\ny = [1]\n', encoding="utf-8")
    assert main(["derive", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad.toml" in err and "layers[1]" in err
    assert main(["derive", "seed", "--precision", "0"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


MATRIX_SPECS = {
    "one sample": LARGE,
    "batch of 10, cross-entropy": {
        "layers": [20, 16, 4], "activations": ["relu", "none"], "bias": True, "loss": "cross_entropy", "lr": 0.1,
        "init": {"seed": 3}, "data": {"x": [[((7 * s + i) % 5) / 5 - 0.4 for i in range(20)] for s in range(10)],
                                      "y": [s % 4 for s in range(10)]}},
    "three layers, batch of 9": {
        "layers": [12, 16, 16, 3], "activations": ["tanh", "sigmoid", "none"], "bias": [True, False, True],
        "loss": "mse", "lr": 0.05, "init": {"seed": 5},
        "data": {"x": [[((3 * s + i) % 7) / 7 for i in range(12)] for s in range(9)], "y": [[0.5, -0.5, 1.0]] * 9}},
}


@pytest.mark.parametrize("case", list(MATRIX_SPECS))
def test_matrix_form_entries_have_symbols_and_latex(case):
    from latex2mathml.converter import convert

    d = cr.derive(MATRIX_SPECS[case])
    assert d.matrix
    entries = d.entries
    kinds = {e["key"].split("[")[0] for e in entries}
    assert {"forward", "loss", "delta", "grad.W1", "grad.W2", "params_after.W1"} <= kinds
    symbols = {}
    for e in entries:
        assert e["symbol"].strip(), e["key"]
        if not e["key"].startswith(("forward", "loss")):  # z and a of a layer without activation share a symbol
            assert symbols.setdefault(e["symbol"], e["key"]) == e["key"], (e["symbol"], symbols[e["symbol"]], e["key"])
        lhs = e["latex"].split("=")[0].split(r"\leftarrow")[0]
        assert lhs.strip(), e  # the symbol's LaTeX leads the line: "\frac{\partial L}{\partial w}=…", not "=…"
        assert "<math" in convert(e["latex"])
        if e["key"].startswith("grad."):
            assert e["symbol"].startswith("∂L/∂") and r"\frac{\partial L}{\partial" in e["latex"], e
            assert "δ" in e["expression"] and r"\delta" in e["latex"], e  # the chain-rule form δ·a
        if e["key"].startswith("dL_doutput"):
            assert e["symbol"].startswith("∂L/∂y'") and r"\frac{\partial L}{\partial" in e["latex"], e


def test_matrix_form_gradient_entries_are_delta_times_input():
    """Hand algebra for the matrix form's element lines: ∂L/∂w_ij = Σ_s δ_j[s]·a_i[s], ∂L/∂b_j = Σ_s δ_j[s],
    with δ and a read from the step's own forward/delta values and the gradient from PyTorch float64."""
    torch = pytest.importorskip("torch")
    raw = MATRIX_SPECS["three layers, batch of 9"]
    d = cr.derive(raw)
    step = d.to_dict()["steps"][0]
    spec = cr.spec.load_spec(raw)
    x = torch.tensor(np.asarray(spec.x, dtype=float), dtype=torch.float64)
    params = {k: torch.tensor(np.asarray(v, dtype=float), dtype=torch.float64, requires_grad=True)
              for k, v in step["params_before"].items()}
    h1 = torch.tanh(x @ params["W1"] + params["b1"])
    h2 = torch.sigmoid(h1 @ params["W2"])
    out = h2 @ params["W3"] + params["b3"]
    loss = torch.nn.functional.mse_loss(out, torch.tensor(np.asarray(spec.y, dtype=float), dtype=torch.float64))
    loss.backward()
    delta2 = np.asarray(step["delta"][1])  # (samples, 16)
    a1 = np.asarray(step["forward"][0]["a"])
    for e in d.entries:
        if e["key"].startswith("grad."):
            name, idx = e["key"][5:7], tuple(int(k) for k in re.findall(r"\[(\d+)\]", e["key"]))
            assert e["value"] == pytest.approx(float(params[name].grad[idx]), rel=1e-9, abs=1e-12)
        if e["key"].startswith("grad.W2"):
            i, j = (int(k) for k in re.findall(r"\[(\d+)\]", e["key"]))
            assert e["value"] == pytest.approx(float(np.sum(delta2[:, j] * a1[:, i])), rel=1e-9, abs=1e-15)
            assert f"= Σ_s δ^(2)_{j + 1}[s]·a^(1)_{i + 1}[s] =" in e["expression"], e["expression"]


def test_setup_line_names_activations_and_optimizer_in_the_chosen_language():
    import chainrule as cr

    zh = cr.derive("seed", lang="zh").text()
    en = cr.derive("seed").text()
    assert "激活函数：无，无" in zh and "优化器：随机梯度下降（SGD）" in zh
    assert "activations: none, none" in en and "optimizer: SGD." in en
