"""`chainrule new` writes a spec that loads and runs; `chainrule show` prints the weight tables with
their w_ij names in (from, to) order (issue 12)."""

from __future__ import annotations

import numpy as np
import pytest

from chainrule.cli import main
from chainrule.network import SpecNetwork
from chainrule.spec import load_spec


def test_new_constant_spec_loads_with_the_asked_shapes(tmp_path, capsys):
    out = tmp_path / "net342.toml"
    assert main(["new", "3-4-2", "--activation", "sigmoid", "--loss", "mse", "--out", str(out)]) == 0
    spec = load_spec(str(out))
    assert spec.name == "net342" and spec.layers == [3, 4, 2] and spec.activations == ["sigmoid", "sigmoid"]
    assert spec.loss == "mse" and [w.shape for w in spec.weights] == [(3, 4), (4, 2)]
    assert np.all(spec.weights[0] == 0.5) and "# " in out.read_text(encoding="utf-8")
    assert main(["derive", str(out), "--format", "md"]) == 0


def test_new_random_spec_writes_the_seeded_weights(tmp_path):
    out = tmp_path / "r.toml"
    assert main(["new", "3-4-2", "--init", "random", "--seed", "0", "--out", str(out)]) == 0
    spec = load_spec(str(out))
    # the same draw as a spec that asks for init.seed = 0 (nn.Linear's Kaiming-uniform), to 6 decimals
    raw = {"layers": [3, 4, 2], "activations": ["sigmoid", "sigmoid"], "bias": True, "init": {"seed": 0},
           "data": {"x": [0, 0, 0], "y": [0, 0]}}
    drawn = SpecNetwork(load_spec(raw)).param_arrays()
    np.testing.assert_allclose(spec.weights[0], drawn["W1"], atol=5e-7)
    np.testing.assert_allclose(spec.biases[1], drawn["b2"], atol=5e-7)


@pytest.mark.parametrize("bad", ["3", "3-0-2", "a-b"])
def test_new_refuses_bad_layer_sizes(bad, capsys):
    assert main(["new", bad]) == 2
    assert "LAYERS" in capsys.readouterr().err


def test_show_names_each_weight_in_from_to_order(capsys):
    # Mazur: w3 = 0.25 goes from i1 to h2, so it is w'_12 in (from, to) order; w2 = 0.20 (i2 → h1) is w'_21
    assert main(["show", "mazur"]) == 0
    out = capsys.readouterr().out
    assert "w'_12 = 0.25" in out and "w'_21 = 0.2" in out and "w''_21 = 0.45" in out
    assert "frozen (not trained): b1, b2" in out and "one bias shared by layer 1" in out
    assert main(["show", "mazur", "--lang", "zh"]) == 0
    assert "固定不训练：b1, b2" in capsys.readouterr().out
