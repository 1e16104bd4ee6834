"""`chainrule derive conv`: the tiny convolution written out pixel by pixel (chainrule.explain.conv).

Expected numbers come from hand algebra done here with plain Python loops over the spec's numbers
(read from the TOML file itself, not from chainrule), and from PyTorch's conv2d run side by side.
"""

from __future__ import annotations

import json
import re
from importlib import resources

import numpy as np
import pytest
from test_zh import english_words

from chainrule.cli import main
from chainrule.errors import SpecError
from chainrule.explain.conv import derive_conv
from chainrule.layered import load_layered_spec, parse_layered


def raw_spec() -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    text = (resources.files("chainrule") / "specs" / "layered" / "conv.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def by_hand():
    """y, L, ∂L/∂y, ∂L/∂k, ∂L/∂x and the updated kernel with Python loops over the spec's numbers."""
    raw = raw_spec()
    x, t, k, lr = raw["x"][0], raw["y"][0], raw["layers"][0]["weight"][0][0], raw["lr"]
    y = [[sum(k[i][j] * x[a + i][c + j] for i in range(2) for j in range(2)) for c in range(3)] for a in range(3)]
    loss = 0.5 * sum((y[a][c] - t[a][c]) ** 2 for a in range(3) for c in range(3))
    gy = [[y[a][c] - t[a][c] for c in range(3)] for a in range(3)]
    gk = [[sum(gy[a][c] * x[a + i][c + j] for a in range(3) for c in range(3)) for j in range(2)] for i in range(2)]
    gx = [[0.0] * 4 for _ in range(4)]
    for a in range(3):  # every output pixel sends ∂L/∂y_ac · k_ij back to the input pixel it read
        for c in range(3):
            for i in range(2):
                for j in range(2):
                    gx[a + i][c + j] += gy[a][c] * k[i][j]
    k1 = [[k[i][j] - lr * gk[i][j] for j in range(2)] for i in range(2)]
    return dict(y=y, loss=loss, gy=gy, gk=gk, gx=gx, k1=k1)


@pytest.fixture(scope="module")
def doc():
    return json.loads(derive_conv(load_layered_spec("conv")).to_json())


def entry(doc, key):
    hits = [e for e in doc["entries"] if e["key"] == key]
    assert len(hits) == 1, key
    return hits[0]


def test_numbers_match_hand_algebra(doc):
    h = by_hand()
    # the hand numbers are the ones the spec was chosen for: y_11 = 1·1 + 0.5·2 − 1·0 + 2·1 = 4, L = 2.125
    assert h["y"][0][0] == 4 and h["loss"] == 2.125
    assert doc["loss"] == pytest.approx(h["loss"])
    for a in range(3):
        for c in range(3):
            assert entry(doc, f"y_{a + 1}{c + 1}")["value"] == pytest.approx(h["y"][a][c])
            assert entry(doc, f"dL_dy_{a + 1}{c + 1}")["value"] == pytest.approx(h["gy"][a][c])
    for i in range(2):
        for j in range(2):
            assert entry(doc, f"dL_dk_{i + 1}{j + 1}")["value"] == pytest.approx(h["gk"][i][j])
            assert entry(doc, f"k_{i + 1}{j + 1}_after")["value"] == pytest.approx(h["k1"][i][j])
    np.testing.assert_allclose(doc["grids"]["dL_dx"], h["gx"])
    np.testing.assert_allclose(doc["grids"]["k_after"], h["k1"])
    for u, v in ((1, 1), (1, 2), (2, 2), (4, 4)):
        assert entry(doc, f"dL_dx_{u}{v}")["value"] == pytest.approx(h["gx"][u - 1][v - 1])


def test_written_products_add_up_to_the_value(doc):
    """Each written sum of products, evaluated from its own printed numbers, gives the printed value."""
    for e in doc["entries"]:
        if not re.match(r"(y|dL_dk|dL_dx)_\d\d$", e["key"]):
            continue
        numbers = e["expression"].split(" = ")[1].replace("−", "-").replace("(", "").replace(")", "")
        total = sum(float(a) * float(b) for a, b in (term.split("×") for term in numbers.split(" + ")))
        assert total == pytest.approx(e["value"]), e["key"]


def test_expressions_name_the_right_pixels(doc):
    assert entry(doc, "y_23")["expression"].startswith("k_11·x_23 + k_12·x_24 + k_21·x_33 + k_22·x_34 = ")
    # the flipped kernel: ∂L/∂x_22 pairs ∂L/∂y_11 with k_22, ∂L/∂y_22 with k_11
    assert entry(doc, "dL_dx_22")["expression"].startswith(
        "∂L/∂y_22·k_11 + ∂L/∂y_21·k_12 + ∂L/∂y_12·k_21 + ∂L/∂y_11·k_22 = ")
    assert entry(doc, "dL_dx_11")["expression"] == "∂L/∂y_11·k_11 = 1×1 = 1"
    assert entry(doc, "dL_dk_12")["expression"].count("·x_") == 9


def test_gradients_match_pytorch(doc):
    torch = pytest.importorskip("torch")
    raw = raw_spec()
    x = torch.tensor(raw["x"], dtype=torch.float64).unsqueeze(0).requires_grad_()
    k = torch.tensor(raw["layers"][0]["weight"], dtype=torch.float64, requires_grad=True)
    t = torch.tensor(raw["y"], dtype=torch.float64).unsqueeze(0)
    y = torch.nn.functional.conv2d(x, k)
    y.retain_grad()
    loss = 0.5 * ((y - t) ** 2).sum()
    loss.backward()
    assert doc["loss"] == pytest.approx(loss.item())
    np.testing.assert_allclose(doc["grids"]["y"], y.detach()[0, 0].numpy())
    np.testing.assert_allclose(doc["grids"]["dL_dy"], y.grad[0, 0].numpy())
    np.testing.assert_allclose(doc["grids"]["dL_dk"], k.grad[0, 0].numpy())
    np.testing.assert_allclose(doc["grids"]["dL_dx"], x.grad[0, 0].numpy())


def test_finite_difference_check(doc):
    assert [c["key"] for c in doc["check"]] == ["dL_dk_11", "dL_dk_12", "dL_dk_21", "dL_dk_22"]
    for c in doc["check"]:
        assert c["relative_error"] < 1e-6
        assert c["numeric"] == pytest.approx(c["engine"], rel=1e-6)


def test_json_keys(doc):
    assert doc["format"] == "chainrule-derivation" and doc["kind"] == "conv2d"
    assert set(doc) >= {"spec", "lang", "precision", "loss", "grids", "entries", "check"}
    assert set(doc["grids"]) == {"x", "k", "t", "y", "dL_dy", "dL_dk", "dL_dx", "k_after"}
    assert set(doc["entries"][0]) == {"key", "symbol", "latex_symbol", "relation", "expression", "latex", "value"}
    assert entry(doc, "k_11_after")["relation"] == "←" and entry(doc, "y_11")["relation"] == "="
    keys = [e["key"] for e in doc["entries"]]
    assert len(keys) == len(set(keys)) == 9 + 1 + 9 + 4 + 4 + 4


def test_a_fixed_bias_is_written_and_updated_as_by_hand():
    raw = raw_spec()
    raw["layers"][0]["bias"] = [0.5]
    hand = by_hand()  # without the bias; every output pixel gains 0.5
    gy = [[v + 0.5 - t for v, t in zip(row, trow)] for row, trow in zip(hand["y"], raw["y"][0])]
    d = json.loads(derive_conv(parse_layered(raw, "conv-bias")).to_json())
    assert np.allclose(d["grids"]["y"], np.asarray(hand["y"]) + 0.5, rtol=1e-12)
    gb = entry(d, "dL_db")
    assert gb["value"] == pytest.approx(sum(map(sum, gy)), rel=1e-12)
    assert "+ 0.5 = " in entry(d, "y_11")["expression"]
    assert [c["key"] for c in d["check"]][-1] == "dL_db"


def test_a_random_bias_without_a_seed_is_refused_and_with_one_replays():
    raw = raw_spec()
    raw["layers"][0]["bias"] = True
    with pytest.raises(SpecError, match=r"conv-bias: layers\[0\] \(conv2d\): the bias is drawn at random"):
        derive_conv(parse_layered(raw, "conv-bias"))
    raw["seed"] = 3
    first, again = (derive_conv(parse_layered(raw, "conv-bias")).to_json() for _ in range(2))
    assert first == again


def test_bias_values_have_one_number_per_output_channel():
    raw = raw_spec()
    raw["layers"][0]["bias"] = [0.5, 1.0]
    with pytest.raises(SpecError, match=r"key 'bias': expected shape \(1,\) in the layout \(out,\), got \(2,\)"):
        parse_layered(raw, "conv-bias")
        derive_conv(parse_layered(raw, "conv-bias"))


@pytest.mark.parametrize("fmt", ["md", "text"])
def test_cli_formats(capsys, fmt):
    assert main(["derive", "conv", "--format", fmt]) == 0
    out = capsys.readouterr().out
    assert "∂L/∂x" in out or r"\partial x" in out
    assert ("\\begin{aligned}" in out) == (fmt == "md")


@pytest.mark.parametrize("fmt", ["md", "text"])
def test_zh_has_no_english_words(capsys, fmt):
    main(["derive", "conv", "--lang", "zh", "--format", fmt])
    out = capsys.readouterr().out
    assert "互相关" in out and "翻转" in out
    assert english_words(out) == []


def test_refusals(capsys):
    assert main(["derive", "conv", "--format", "latex"]) == 2
    assert "md, text, json only" in capsys.readouterr().err
    with pytest.raises(SpecError, match="one conv2d block"):
        derive_conv(load_layered_spec("lenet-digits"))
    raw = raw_spec()
    raw["layers"][0]["weight"] = [[[[1, 2, 3]]]]
    with pytest.raises(SpecError, match=r"layers\[0\] \(conv2d\): key 'weight': expected shape \(1, 1, 2, 2\)"):
        parse_layered(raw, "bad.toml")
    raw = raw_spec()
    raw["y"] = [[[1, 2]]]
    with pytest.raises(SpecError, match="key 'y': expected a target of the output's shape"):
        parse_layered(raw, "bad.toml")


@pytest.mark.parametrize("lang, name", [("en", "derivation-conv.md"), ("zh", "derivation-conv-zh.md")])
def test_docs_are_the_command_output(capsys, lang, name):
    """docs/derivation-conv*.md are `chainrule derive conv --out ...` as it is (regenerate them when it changes);
    the finite-difference check's last digits are masked (they depend on the platform's rounding)."""
    from pathlib import Path

    doc = Path(__file__).resolve().parents[1] / "docs" / name
    main(["derive", "conv", "--lang", lang, "--format", "md"])
    mask = re.compile(r"\d\.\de-\d+")
    assert mask.sub("ε", capsys.readouterr().out) == mask.sub("ε", doc.read_text(encoding="utf-8"))


def test_a_negative_target_is_written_in_parentheses():
    raw = raw_spec()
    raw["y"][0][0][0] = -3  # y_11 = 4 (by hand: 1·1 + 0.5·2 + (−1)·0 + 2·1), so ∂L/∂y_11 = 4 − (−3) = 7
    d = json.loads(derive_conv(parse_layered(raw, "conv-negative")).to_json())
    assert entry(d, "dL_dy_11")["expression"].endswith("= 4 − (−3) = 7")
