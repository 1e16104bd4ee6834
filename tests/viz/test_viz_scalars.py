"""draw_scalars: every scalar of a small network's step with its value and gradient (micrograd's
draw_dot style), on a 16:9 slide. Expected numbers: the seed's hand algebra and Mazur's published
∂E_total/∂out_h1 = 0.036350306, out_h1 = 0.593269992."""

from __future__ import annotations

import pytest

from chainrule import viz
from chainrule.cli import main


def test_the_seed_scalar_by_scalar(svg):
    drawing = viz.draw_scalars("seed")
    w, h = drawing.figure.get_size_inches()
    assert w / h == pytest.approx(16 / 9)
    doc = svg(drawing)
    # w'_11 = 0.5, ∂L/∂w'_11 = 120 × w''_11 × x_1 = 4800; w''_11: 1 and 120 × z_1 = 7200
    assert doc.text("data-w1_00") == "data 0.5" and doc.text("grad-w1_00") == "grad 4800"
    assert doc.text("data-w2_00") == "data 1" and doc.text("grad-w2_00") == "grad 7200"
    # the product w'_11·x_1 = 20 carries ∂L/∂z_1 = 120; the loss ½(60 − 180)² = 7200 has gradient 1
    assert doc.text("data-p1_00") == "data 20" and doc.text("grad-p1_00") == "grad 120"
    assert doc.text("data-loss") == "data 7200" and doc.text("grad-loss") == "grad 1"
    assert doc.count("node-") == 2 + 6 + 6 + 3 + 3 + 3 + 1 + 1 and doc.count("op-") == 6 + 3 + 3 + 1 + 1


def test_mazur_hidden_activation_and_frozen_bias(svg):
    doc = svg(viz.draw_scalars("mazur", lang="zh"))
    assert doc.text("data-a1_0") == "值 0.5933" and doc.text("grad-a1_0") == "梯度 0.03635"
    assert doc.text("grad-b1_0") == "梯度 —"        # Mazur's biases are not trained


def test_batches_and_big_networks_are_refused_with_the_reason(tmp_path, capsys):
    with pytest.raises(ValueError, match="3 samples"):
        viz.draw_scalars("relu")
    with pytest.raises(ValueError, match="parameters"):
        viz.draw_scalars({"layers": [8, 8, 1], "init": {"weights": 0.1}, "data": {"x": [0] * 8, "y": [0]}})
    assert main(["draw", "seed", "--what", "scalars", "--out", str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").read_bytes().startswith(b"\x89PNG")
