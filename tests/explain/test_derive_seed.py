"""The seed's derivation, number by number. Expected values are the seed's hand algebra:
z_j = 0.5×40 + 0.5×80 = 60, y' = 3×60 = 180, L = ½(60 − 180)² = 7200, ∂L/∂y' = 120,
∂L/∂w''_i1 = 120×60 = 7200, ∂L/∂w'_1j = 120×1×40 = 4800, ∂L/∂w'_2j = 120×1×80 = 9600,
w'' = 1 − 1e-5×7200 = 0.928, w'_1j = 0.5 − 0.048 = 0.452, w'_2j = 0.5 − 0.096 = 0.404."""

from __future__ import annotations

import re

import pytest
from derive_helpers import at_key

import chainrule as cr
from chainrule.cli import main

HAND = {
    "forward[0].z[0]": 60, "forward[0].z[1]": 60, "forward[0].z[2]": 60, "forward[1].z[0]": 180,
    "forward[1].a[0]": 180, "loss": 7200, "dL_doutput[0]": 120,
    "grad.W2[0][0]": 7200, "grad.W2[1][0]": 7200, "grad.W2[2][0]": 7200,
    "grad.W1[0][0]": 4800, "grad.W1[0][1]": 4800, "grad.W1[0][2]": 4800,
    "grad.W1[1][0]": 9600, "grad.W1[1][1]": 9600, "grad.W1[1][2]": 9600,
    "params_after.W2[0][0]": 0.928, "params_after.W2[2][0]": 0.928,
    "params_after.W1[0][0]": 0.452, "params_after.W1[0][2]": 0.452,
    "params_after.W1[1][0]": 0.404, "params_after.W1[1][2]": 0.404,
}


@pytest.fixture(scope="module")
def zh_text():
    d = cr.derive("seed", lang="zh")
    return d, d.markdown(), d.text()


def test_every_seed_number_in_the_chinese_derivation(zh_text):
    _, md, text = zh_text
    for out in (md, text):
        for number in ("60", "180", "7200", "120", "4800", "9600", "0.928", "0.452", "0.404"):
            assert re.search(rf"(?<![\d.]){re.escape(number)}(?![\d])", out), number
    for term in ("前向传播", "计算误差（损失值）", "反向传播", "计算梯度", "梯度更新"):
        assert term in md and term in text


def test_entries_carry_the_hand_algebra(zh_text):
    d, _, _ = zh_text
    entries = {e["key"]: e for e in d.entries if e["step"] == 1}
    for key, expected in HAND.items():
        assert entries[key]["value"] == pytest.approx(expected, rel=1e-12), key
    step = d.to_dict()["steps"][0]
    for key, expected in HAND.items():
        assert at_key(step, key) == pytest.approx(expected, rel=1e-12), key


def test_seed_typos_fixed_and_lines_in_the_seeds_form(zh_text):
    _, _, text = zh_text
    # The seed writes ∂z_1/∂w'_13 and ∂z_1/∂w'_23; the third hidden unit's z_3 is right.
    assert "∂L/∂w'_13 = ∂L/∂y'·∂y'/∂z_3·∂z_3/∂w'_13 = 120 × w''_31 × x_1 = 120 × 1 × 40 = 4800" in text
    assert "∂L/∂w'_23 = ∂L/∂y'·∂y'/∂z_3·∂z_3/∂w'_23 = 120 × w''_31 × x_2 = 120 × 1 × 80 = 9600" in text
    assert "∂z_1/∂w'_13" not in text and "∂z_1/∂w'_23" not in text
    assert "z_1 = w'_11·x_1 + w'_21·x_2 = 0.5×40 + 0.5×80 = 60" in text
    assert "L = ½(y − y')² = ½(60 − 180)² = 7200" in text
    assert "∂L/∂y' = ½ × 2 × (y − y') × (−1) = y' − y = 180 − 60 = 120" in text
    assert "w''_11 ← w''_11 − η·∂L/∂w''_11 = 1 − 1e-5 × 7200 = 0.928" in text


def test_factors_multiply_to_the_gradient(zh_text):
    d, _, _ = zh_text
    e = next(e for e in d.entries if e["key"] == "grad.W1[0][2]")
    assert [f["symbol"] for f in e["factors"]] == ["∂L/∂y'", "∂y'/∂z_3", "∂z_3/∂w'_13"]
    assert [f["value"] for f in e["factors"]] == [120, 1, 40]


def test_symmetric_initialisation_and_pre_update_weights_are_stated():
    d = cr.derive("seed")
    text = d.text()
    assert "Symmetric initialisation" in text and "z_1, z_2, z_3" in text
    assert "weights from before the update" in text
    assert d.to_dict()["steps"][0]["warnings"]


def test_finite_difference_check_agrees():
    d = cr.derive("seed")
    checks = d.to_dict()["steps"][0]["check"]
    assert len(checks) == 9
    for c in checks:
        assert c["relative_error"] < 1e-6
        assert c["finite_difference"] == pytest.approx(HAND["grad." + c["param"]], rel=1e-6)


def test_cli_zh(capsys):
    assert main(["derive", "seed", "--lang", "zh", "--format", "text"]) == 0
    out = capsys.readouterr().out
    assert "0.404" in out and "梯度更新" in out
