"""draw_network: every label that must be there, counts of neurons and edges, colours, no overlaps.

Expected numbers come from the seed's hand algebra (and PyTorch for Mazur's network), never from chainrule.
"""

from __future__ import annotations

import numpy as np
import pytest
from svg_helpers import g4

from chainrule import viz
from chainrule.viz import _base

# The seed, by hand: x = (40, 80), every w' = 0.5, every w'' = 1, y = 60, η = 1e-5.
X = np.array([40.0, 80.0])
Z = 0.5 * 40 + 0.5 * 80  # 60, each hidden neuron
Y_PRED = 3 * Z  # 180
LOSS = 0.5 * (60 - Y_PRED) ** 2  # 7200
DY = Y_PRED - 60  # 120
GRAD_W1 = np.array([[DY * 1 * 40] * 3, [DY * 1 * 80] * 3])  # 4800 / 9600
GRAD_W2 = np.array([[DY * Z]] * 3)  # 7200
NEW_W1 = 0.5 - 1e-5 * GRAD_W1  # 0.452 / 0.404
NEW_W2 = 1.0 - 1e-5 * GRAD_W2  # 0.928


@pytest.fixture(scope="module")
def seed_all():
    return viz.draw_network("seed", show="all")


def test_seed_svg_parses_and_counts_neurons_and_edges(seed_all, svg):
    doc = svg(seed_all)
    assert doc.count("neuron-") == 2 + 3 + 1
    assert sorted(i for i in doc.ids if i.startswith("neuron-")) == sorted(
        ["neuron-0-1", "neuron-0-2", "neuron-1-1", "neuron-1-2", "neuron-1-3", "neuron-2-1"])
    assert doc.count("edge-W1-") == 2 * 3
    assert doc.count("edge-W2-") == 3 * 1
    assert doc.count("edge-b") == 0 and doc.count("bias-") == 0  # the seed has no biases


def test_seed_every_weight_gradient_and_update_is_labelled(seed_all, svg):
    doc = svg(seed_all)
    for i in range(2):
        for j in range(3):
            gid = f"label-W1-{i + 1}-{j + 1}"
            assert doc.text(f"{gid}-value") == f"w'{'₁₂'[i]}{'₁₂₃'[j]} = 0.5"
            assert doc.text(f"{gid}-grad").endswith(f"= {g4(GRAD_W1[i, j])}")
            assert doc.text(f"{gid}-new").endswith(f"= {g4(NEW_W1[i, j])}")
    for i in range(3):
        gid = f"label-W2-{i + 1}-1"
        assert doc.text(f"{gid}-value").endswith("= 1")
        assert doc.text(f"{gid}-grad").endswith(f"= {g4(GRAD_W2[i, 0])}")
        assert doc.text(f"{gid}-new").endswith(f"= {g4(NEW_W2[i, 0])}")
    text = doc.all_text()
    for number in ("4800", "9600", "7200", "0.452", "0.404", "0.928"):
        assert number in text


def test_seed_neurons_show_forward_values_loss_and_output_gradient(seed_all, svg):
    doc = svg(seed_all)
    assert doc.text("neuronlabel-0-1-value") == f"x₁ = {g4(X[0])}"
    assert doc.text("neuronlabel-0-2-value") == f"x₂ = {g4(X[1])}"
    for j in (1, 2, 3):
        assert doc.text(f"neuronlabel-1-{j}-value").endswith(f"= {g4(Z)}")  # 60
    assert doc.text("neuronlabel-2-1-out") == f"y' = {g4(Y_PRED)}"  # 180
    assert doc.text("neuronlabel-2-1-grad") == f"∂L/∂y' = {g4(DY)}"  # 120
    assert doc.text("loss-value") == f"L = {g4(LOSS)}"  # 7200


def test_values_and_gradients_differ_in_colour_and_in_words(seed_all, svg):
    doc = svg(seed_all)
    assert f"fill: {_base.VALUE}" in doc.style("label-W1-1-1-value")
    assert f"fill: {_base.GRAD}" in doc.style("label-W1-1-1-grad")
    assert _base.VALUE.lower() != _base.GRAD.lower()
    # black-and-white print: the words differ too
    assert doc.text("label-W1-1-1-value").startswith("w'")
    assert doc.text("label-W1-1-1-grad").startswith("∂L/∂w")
    assert doc.text("label-W1-1-1-new").startswith("new w")


def test_show_values_hides_gradients_and_updates(svg):
    doc = svg(viz.draw_network("seed", show="values"))
    assert doc.count("label-W1-1-1-value") == 1
    assert not any(i.endswith("-grad") or i.endswith("-new") for i in doc.ids)
    grads = svg(viz.draw_network("seed", show="grads"))
    assert "label-W1-2-1-grad" in grads.ids and not any(i.endswith("-new") for i in grads.ids)


def _label_boxes(drawing):
    from matplotlib.offsetbox import AnnotationBbox

    fig = drawing.figure
    renderer = fig.canvas.get_renderer()
    fig.draw(renderer)
    return [(a.get_gid(), a.get_window_extent(renderer)) for a in fig.axes[0].artists
            if isinstance(a, AnnotationBbox)]


@pytest.mark.parametrize("spec", ["seed", "mazur", "softmax"])
def test_no_two_labels_overlap(spec):
    boxes = _label_boxes(viz.draw_network(spec, show="all"))
    assert len(boxes) > 5
    for k, (ga, a) in enumerate(boxes):
        for gb, b in boxes[k + 1:]:
            w = min(a.x1, b.x1) - max(a.x0, b.x0)
            h = min(a.y1, b.y1) - max(a.y0, b.y0)
            assert not (w > 1 and h > 1), f"{ga} overlaps {gb}"


def test_mazur_biases_and_gradients_match_pytorch(svg):
    torch = pytest.importorskip("torch")
    f64 = dict(dtype=torch.float64)
    x = torch.tensor([0.05, 0.10], **f64)
    w1 = torch.tensor([[0.15, 0.25], [0.20, 0.30]], **f64, requires_grad=True)  # (from, to), as Mazur's w1..w4
    w2 = torch.tensor([[0.40, 0.50], [0.45, 0.55]], **f64, requires_grad=True)
    b1 = torch.tensor(0.35, **f64)        # Mazur's biases: one per layer, not trained
    b2 = torch.tensor(0.60, **f64)
    h = torch.sigmoid(x @ w1 + b1)
    out = torch.sigmoid(h @ w2 + b2)
    loss = 0.5 * ((torch.tensor([0.01, 0.99], **f64) - out) ** 2).sum()
    loss.backward()
    doc = svg(viz.draw_network("mazur", show="all"))
    assert doc.count("neuron-") == 6
    assert doc.count("edge-W") == 8 and doc.count("edge-b") == 4 and doc.count("bias-") == 2
    for name, w in (("W1", w1), ("W2", w2)):
        for i in range(2):
            for j in range(2):
                gid = f"label-{name}-{i + 1}-{j + 1}"
                assert doc.text(f"{gid}-value").endswith(f"= {g4(w[i, j])}")
                assert doc.text(f"{gid}-grad").endswith(f"= {g4(w.grad[i, j])}")
                assert doc.text(f"{gid}-new").endswith(f"= {g4(w[i, j] - 0.5 * w.grad[i, j])}")
    for name, b in (("b1", b1), ("b2", b2)):
        for j in range(2):
            assert doc.text(f"label-{name}-{j + 1}-value").endswith(f"= {g4(b)}")
            assert f"label-{name}-{j + 1}-grad" not in doc.ids and f"label-{name}-{j + 1}-new" not in doc.ids
    assert doc.text("loss-value") == f"L = {g4(loss)}"
    assert doc.text("neuronlabel-1-1-act").endswith(f"= {g4(h[0])}")


def test_wide_network_switches_to_colour_bar(svg):
    rng = np.random.default_rng(0)
    spec = {"name": "wide", "layers": [8, 16, 16, 4], "activations": ["tanh", "tanh", "none"], "bias": True,
            "loss": "mse", "init": {"seed": 1},
            "data": {"x": rng.normal(size=(3, 8)).tolist(), "y": rng.normal(size=(3, 4)).tolist()}}
    drawing = viz.draw_network(spec, show="all")
    assert drawing.info["detail"] is False
    doc = svg(drawing)
    assert doc.count("neuron-") == 8 + 16 + 16 + 4
    assert doc.count("edges-W") == 3  # one coloured collection per weight layer
    assert doc.count("label-") == 0  # no numbers on edges
    assert len(drawing.figure.axes) == 2  # the network and its colour bar
    assert drawing.figure.axes[1].get_ylabel() == "weights"


def test_detail_limit_is_eight_neurons_four_layers_and_24_edges_between_two_layers():
    small = {"layers": [2, 8, 1], "init": {"weights": [0.1, 0.2]}, "data": {"x": [1, 2], "y": [1]}}
    crowded = {"layers": [4, 8, 3], "init": {"weights": [0.1, 0.2]}, "data": {"x": [1, 2, 3, 4], "y": [1, 0, 0]}}
    at_limit = {"layers": [3, 8, 3], "init": {"weights": [0.1, 0.2]}, "data": {"x": [1, 2, 3], "y": [1, 0, 0]}}
    assert viz.draw_network(crowded).info["detail"] is False  # 4 x 8 = 32 labelled edges
    assert viz.draw_network(at_limit).info["detail"] is True  # 3 x 8 = 24
    big = {"layers": [2, 9, 1], "init": {"weights": [0.1, 0.2]}, "data": {"x": [1, 2], "y": [1]}}
    deep = {"layers": [1, 1, 1, 1, 1, 1], "init": {"weights": 0.5}, "data": {"x": [1], "y": [1]}}
    assert viz.draw_network(small).info["detail"] is True
    assert viz.draw_network(big).info["detail"] is False
    assert viz.draw_network(deep).info["detail"] is False


def test_accepts_a_run_a_spec_network_and_a_plain_model(svg):
    import chainrule as cr
    from chainrule.network import run

    result = run("seed", steps=2)
    doc = svg(viz.draw_network(result, step=2, show="values"))
    assert doc.text("label-W1-1-1-value") == f"w'₁₁ = {g4(NEW_W1[0, 0])}"  # step 2 starts from the update
    model = cr.nn.Sequential(cr.nn.Linear(2, 3, bias=False), cr.nn.Linear(3, 1, bias=False))
    cr.nn.init.constant_(model[0].weight, 0.25)
    doc = svg(viz.draw_network(model))
    assert doc.count("neuron-") == 6 and doc.text("label-W1-2-3-value").endswith("= 0.25")


def test_chinese_labels_are_text_and_the_font_has_the_glyphs(svg):
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    doc = svg(viz.draw_network("seed", show="all", lang="zh"))
    text = doc.all_text()
    for word in ("输入层", "隐藏层", "输出层", "损失值", "梯度", "更新后"):
        assert word in text
    assert "Noto Sans CJK SC" in doc.style("caption-0")
    assert _base.register_cjk_font()
    path = font_manager.findfont(font_manager.FontProperties(family="Noto Sans CJK SC"), fallback_to_default=False)
    font = FT2Font(path)
    for ch in "输入层隐藏梯度损失值":
        assert font.get_char_index(ord(ch)) != 0, f"no glyph for {ch} in {path}"


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="show"):
        viz.draw_network("seed", show="everything")
    with pytest.raises(ValueError, match="lang"):
        viz.draw_network("seed", lang="fr")
    with pytest.raises(ValueError, match="step"):
        viz.draw_network("seed", step=0)


def test_a_batch_says_its_gradients_are_summed_over_samples(svg):
    # relu: 3 samples. The drawing shows sample 2's z, a and δ; ∂L/∂w is Σ over the 3 samples.
    doc = svg(viz.draw_network("relu", show="all", sample=1))
    assert "Σ over all 3 samples" in doc.text("batch-note") and "sample 2 of 3" in doc.text("batch-note")
    doc = svg(viz.draw_network("relu", show="all", sample=1, lang="zh"))
    assert "全部 3 个样本之和" in doc.text("batch-note")
    assert "batch-note" not in svg(viz.draw_network("seed", show="all")).ids
