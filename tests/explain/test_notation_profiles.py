"""Notation profiles of derive: the seed's, Mazur's and a textbook δ^(l)_j (issue 12).

Mazur's numbers are the published ones: net_h1 = 0.3775, out_h1 = 0.593269992, E_o1 = 0.274811083,
E_o2 = 0.023560026, E_total = 0.298371109, ∂E_total/∂w5 = 0.082167041, ∂E_total/∂w1 = 0.000438568.
"""

from __future__ import annotations

import pytest

import chainrule as cr


def lines(spec, **kw):
    return cr.derive(spec, **kw).text().splitlines()


def test_mazur_profile_names_and_his_numbers():
    text = "\n".join(lines("mazur", notation="mazur"))
    assert "net_h1 = w1·i1 + w2·i2 + b1 = 0.15×0.05 + 0.2×0.1 + 0.35 = 0.3775" in text
    assert "out_h1 = σ(net_h1) = 1/(1 + e^(−0.3775)) = 0.59327" in text
    assert "E_o1    = ½(target_o1 − out_o1)² = ½(0.01 − 0.751365)² = 0.274811" in text
    assert "E_o2    = ½(target_o2 − out_o2)² = ½(0.99 − 0.772928)² = 0.02356" in text
    assert "E_total = E_o1 + E_o2 = " in text and "0.298371" in text
    # ∂E/∂w1 = δ_h1·i1 after the path sum, as he writes it, not a 10-factor product
    assert "∂E_total/∂w1 = ∂E_total/∂net_h1·∂net_h1/∂w1 = δ_h1·i1 = 0.00877135 × 0.05 = 0.000438568" in text
    assert "∂E_total/∂w5 = " in text and "0.082167" in text
    # w2 is i2 → h1 and w3 is i1 → h2 in his numbering
    assert "net_h2 = w3·i1 + w4·i2 + b1" in text
    init = text[text.index("Initial parameters"):text.index("1. Forward pass")]
    assert [ln.split(" =")[0].strip() for ln in init.splitlines()[2:12]] == \
        ["w1", "w2", "w3", "w4", "b1", "w5", "w6", "w7", "w8", "b2"]


def test_textbook_profile_writes_delta_the_same_way_at_every_layer():
    text = "\n".join(lines("mazur", notation="textbook"))
    assert "δ^(1)_1 = " in text and "δ^(2)_1 = " in text
    seed = "\n".join(lines("mazur"))          # the seed's prime style: δ_1 for layer 1
    assert "δ_1 = " in seed and "δ^(1)_1" not in seed


def test_the_seeds_own_step_for_dL_dy_is_kept():
    text = "\n".join(lines("seed"))
    assert "∂L/∂y' = ½ × 2 × (y − y') × (−1) = y' − y = 180 − 60 = 120" in text


def test_mazur_profile_needs_two_weight_layers():
    raw = {"layers": [2, 2, 2, 1], "activations": "sigmoid", "init": {"weights": 0.5},
           "data": {"x": [1, 1], "y": [0]}}
    with pytest.raises(ValueError, match="two weight layers"):
        cr.derive(raw, notation="mazur")
