"""The shipped `mazur` spec against Matt Mazur's published numbers ("A Step by Step Backpropagation
Example"), and the spec features it needs: one bias per layer (bias = "shared") and frozen parameters.

Published: E_total = 0.298371109 at the first forward pass; after the first update w5+ = 0.35891648,
w6+ = 0.408666186, w7+ = 0.511301270, w8+ = 0.561370121, w1+ = 0.149780716, w2+ = 0.19956143,
w3+ = 0.24975114, w4+ = 0.29950229 (biases not updated); "after this first round ... the total error
is now down to 0.291027924"; "after repeating this process 10,000 times ... the error plummets to
0.0000351085". His w1 (i1 → h1) is chainrule's W1[0][0], w2 (i2 → h1) W1[1][0], w3 W1[0][1], w4 W1[1][1];
w5 (h1 → o1) W2[0][0], w6 (h2 → o1) W2[1][0], w7 (h1 → o2) W2[0][1], w8 W2[1][1].
"""

from __future__ import annotations

import numpy as np
import pytest

from chainrule.errors import SpecError
from chainrule.network import run
from chainrule.spec import load_spec


def sig(x, digits):
    return float(f"{x:.{digits - 1}e}")


def test_step_1_matches_the_post_to_all_published_digits():
    step = run("mazur", steps=1).steps[0]
    assert float(step.loss.data) == pytest.approx(0.298371109, abs=5e-10)
    after = step.params_after
    published = {("W2", 0, 0): 0.35891648, ("W2", 1, 0): 0.408666186, ("W2", 0, 1): 0.511301270,
                 ("W2", 1, 1): 0.561370121, ("W1", 0, 0): 0.149780716, ("W1", 1, 0): 0.19956143,
                 ("W1", 0, 1): 0.24975114, ("W1", 1, 1): 0.29950229}
    for (name, i, j), value in published.items():
        digits = len(str(value).split(".")[1].lstrip("0"))
        assert sig(after[name][i, j], digits) == pytest.approx(value, rel=1e-12), (name, i, j)
    # the biases are one number per layer and stay as they were
    assert after["b1"].tolist() == [0.35] and after["b2"].tolist() == [0.6]
    assert set(step.grads) == {"W1", "W2"}


def test_step_2_and_step_10000_errors():
    result = run("mazur", steps=10_000, keep_graph=1)
    # 0.291027924 published; the exact arithmetic of his method agrees to 6 significant digits
    # (0.29102777...), the figure the post's own table rounds from
    assert sig(result.losses[1], 6) == 0.291028
    assert sig(0.291027924, 6) == 0.291028
    # the error after 10,000 rounds of the process: 0.0000351085, to every published digit
    assert sig(result.losses[9_999], 6) == pytest.approx(3.51085e-5, rel=1e-12)
    out = np.asarray(result.steps[-1].output.array).reshape(-1)
    # his outputs at that point, 0.015912196 and 0.984065734, to 4 significant digits
    assert sig(out[0], 4) == 0.01591 and sig(out[1], 4) == 0.9841


def test_a_shared_trained_bias_matches_pytorch():
    torch = pytest.importorskip("torch")
    raw = {"layers": [2, 2, 2], "activations": ["sigmoid", "sigmoid"], "bias": "shared", "loss": "half_sse",
           "lr": 0.5, "init": {"weights": [[[0.15, 0.25], [0.2, 0.3]], [[0.4, 0.5], [0.45, 0.55]]],
                               "biases": [0.35, 0.6]},
           "data": {"x": [0.05, 0.1], "y": [0.01, 0.99]}}
    result = run(raw, steps=3)
    f64 = dict(dtype=torch.float64)
    w1 = torch.tensor([[0.15, 0.25], [0.2, 0.3]], **f64, requires_grad=True)
    w2 = torch.tensor([[0.4, 0.5], [0.45, 0.55]], **f64, requires_grad=True)
    b1 = torch.tensor([0.35], **f64, requires_grad=True)    # one number broadcast over the layer
    b2 = torch.tensor([0.6], **f64, requires_grad=True)
    opt = torch.optim.SGD([w1, w2, b1, b2], lr=0.5)
    x, y = torch.tensor([0.05, 0.1], **f64), torch.tensor([0.01, 0.99], **f64)
    for step in result.steps:
        opt.zero_grad()
        loss = 0.5 * ((y - torch.sigmoid(torch.sigmoid(x @ w1 + b1) @ w2 + b2)) ** 2).sum()
        loss.backward()
        assert float(step.loss.data) == pytest.approx(loss.item(), rel=1e-13)
        for name, t in (("W1", w1), ("W2", w2), ("b1", b1), ("b2", b2)):
            np.testing.assert_allclose(step.grads[name], t.grad.numpy(), rtol=1e-12)
        opt.step()
        for name, t in (("b1", b1), ("b2", b2)):
            np.testing.assert_allclose(step.params_after[name], t.detach().numpy(), rtol=1e-13)


@pytest.mark.parametrize("change, needle", [
    ({"frozen": ["b7"]}, "key 'frozen[0]': no parameter 'b7'"),
    ({"frozen": "b1"}, "key 'frozen': expected a list of parameter names"),
    ({"frozen": ["b1"], "trainable": ["W1"]}, "give either frozen or trainable"),
    ({"trainable": []}, "every parameter is frozen"),
    ({"bias": "sharde"}, "expected true, false or \"shared\""),
    ({"order": "in_out"}, "key 'order': expected one of from_to, out_in"),
])
def test_bad_frozen_shared_and_order_keys(change, needle):
    raw = {k: v for k, v in load_spec("mazur").raw.items() if k != "frozen" or "trainable" not in change}
    raw.update(change)
    with pytest.raises(SpecError) as err:
        load_spec(raw)
    assert needle in str(err.value)


def test_trainable_is_the_complement_of_frozen_and_order_out_in_transposes():
    raw = dict(load_spec("mazur").raw)
    raw.pop("frozen")
    assert load_spec({**raw, "trainable": ["W1", "W2"]}).frozen == ("b1", "b2")
    # Mazur's w1..w4 row by row per hidden neuron is PyTorch's (out, in): [[w1, w2], [w3, w4]]
    init = {**raw["init"], "weights": [[[0.15, 0.20], [0.25, 0.30]], [[0.40, 0.45], [0.50, 0.55]]]}
    spec = load_spec({**raw, "order": "out_in", "init": init})
    np.testing.assert_array_equal(spec.weights[0], [[0.15, 0.25], [0.20, 0.30]])


def test_a_transposed_non_square_matrix_names_the_order_key():
    raw = dict(load_spec("seed").raw)
    raw["init"] = {"weights": [[[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]], 1.0]}
    with pytest.raises(SpecError) as err:
        load_spec(raw)
    assert "(out, in) shape of PyTorch's nn.Linear.weight" in str(err.value) and 'order = "out_in"' in str(err.value)
