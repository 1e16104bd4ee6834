"""Mazur's "A Step by Step Backpropagation Example": published total error 0.298371109,
w5 after the update 0.35891648, w1 after the update 0.149780716."""

from __future__ import annotations

import pytest

import chainrule as cr


@pytest.fixture(scope="module")
def mazur():
    return cr.derive("mazur", precision=9)


def test_published_numbers(mazur):
    step = mazur.to_dict()["steps"][0]
    assert step["loss"] == pytest.approx(0.298371109, abs=5e-10)
    assert step["params_after"]["W2"][0][0] == pytest.approx(0.35891648, abs=5e-9)   # Mazur's w5
    assert step["params_after"]["W1"][0][0] == pytest.approx(0.149780716, abs=5e-10)  # Mazur's w1
    text = mazur.text()
    for number in ("0.298371109", "0.35891648", "0.149780716"):
        assert number in text


def test_sigmoid_derivative_is_its_own_factor(mazur):
    # Mazur: ∂E/∂out_o1 = 0.74136507, ∂out_o1/∂net_o1 = 0.186815602, ∂net_o1/∂w5 = 0.593269992.
    e = next(e for e in mazur.entries if e["key"] == "grad.W2[0][0]")
    values = [f["value"] for f in e["factors"]]
    assert values == pytest.approx([0.74136507, 0.186815602, 0.593269992], abs=1e-8)
    assert "y'_1(1 − y'_1)" in e["expression"]
    assert e["value"] == pytest.approx(0.082167041, abs=1e-9)


def test_hidden_layer_shows_paths_and_deltas(mazur):
    text = mazur.text()
    assert "Several paths lead" in text
    w1 = next(e for e in mazur.entries if e["key"] == "grad.W1[0][0]")
    # two paths, w1 → h1 → o1 and w1 → h1 → o2, added (Mazur: ∂E/∂w1 = 0.000438568)
    assert w1["expression"].count("∂z_1/∂w'_11") == 2
    assert w1["value"] == pytest.approx(0.000438568, abs=1e-9)
    d1 = next(e for e in mazur.entries if e["key"] == "delta[0][0]")
    assert d1["value"] == pytest.approx(0.036350306 * 0.241300709, rel=1e-6)
