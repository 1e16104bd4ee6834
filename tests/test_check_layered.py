"""`chainrule check` for a layered spec with its sample fixed (check.check_layered): the engine's
gradient of every parameter element against central differences and PyTorch through to_torch()."""

from __future__ import annotations

import numpy as np
import pytest
from test_derive_conv import by_hand, raw_spec

from chainrule.check import check_layered
from chainrule.cli import main
from chainrule.errors import SpecError
from chainrule.layered import load_layered_spec, parse_layered


def test_conv_kernel_rows_match_hand_algebra():
    rows = check_layered(load_layered_spec("conv"), use_torch=False)
    gk = by_hand()["gk"]
    assert [(r.param, r.index) for r in rows] == [("layers[0].weight", (0, 0, i, j)) for i in range(2) for j in range(2)]
    for r in rows:
        assert r.engine == pytest.approx(gk[r.index[2]][r.index[3]])
        assert r.numerical == pytest.approx(r.engine, rel=1e-7)
        assert r.torch is None and r.ok


def test_against_pytorch_with_bias_activation_and_linear():
    pytest.importorskip("torch")
    raw = raw_spec()
    raw["layers"][0].update(bias=True, activation="tanh")
    raw["layers"] += [{"kind": "flatten"}, {"kind": "linear", "out": 2}]
    raw["y"] = [0.5, -1.0]
    raw["loss"], raw["seed"] = "mse", 3
    rows = check_layered(parse_layered(raw, "cnn.toml"))
    assert {r.param for r in rows} == {"layers[0].weight", "layers[0].bias", "layers[2].weight", "layers[2].bias"}
    assert len(rows) == 4 + 1 + 2 * 9 + 2
    for r in rows:
        assert r.ok, r
        assert r.torch == pytest.approx(r.engine, rel=1e-9, abs=1e-12)
    assert max(abs(r.engine) for r in rows) > 1e-3  # the gradients are not all zero


def test_cli(capsys):
    assert main(["check", "conv", "--no-torch"]) == 0
    out = capsys.readouterr().out
    assert "layers[0].weight[0,0,1,1]" in out and "all 4 gradients pass" in out
    assert main(["check", "lenet-digits"]) == 2
    assert "check needs the sample fixed in the spec" in capsys.readouterr().err


def test_refuses_dropout():
    raw = raw_spec()
    raw["layers"].append({"kind": "dropout", "p": 0.5})
    raw["y"] = np.zeros((1, 3, 3)).tolist()
    with pytest.raises(SpecError, match="dropout"):
        check_layered(parse_layered(raw, "drop.toml"))


def test_layered_central_difference_matches_hand_algebra_and_restores_the_weight():
    from chainrule import float64, tensor
    from chainrule.check import layered_central_difference
    from chainrule.layered import LayeredNetwork, load_layered_spec

    net = LayeredNetwork(load_layered_spec("conv")).double_exact()
    x = tensor([[[[1.0, 2, 0, 1], [0, 1, 3, 1], [2, 1, 0, 2], [1, 0, 1, 1]]]], dtype=float64)
    t = tensor([[[[3.0, 6, 0], [0, 1, 7], [1, 2, 2]]]], dtype=float64)
    w = net.body[0].weight
    before = w.array.copy()
    # by hand: ∂L/∂k_11 = Σ_ab (y_ab − t_ab)·x_ab, worked with Python loops in tests/test_derive_conv.py
    assert layered_central_difference(net, x, t, w, (0, 0, 0, 0), 1e-6) == pytest.approx(by_hand()["gk"][0][0], rel=1e-7)
    assert (w.array == before).all()
