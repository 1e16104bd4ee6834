"""Random small networks: every exported script reproduces the engine's per-epoch numbers to 1e-9.

Hypothesis draws the architecture, activations, loss, bias, optimizer, batch and weights; the
scripts run in subprocesses (slow), so the example count is small. PyTorch's float64 run of the
same spec (chainrule.torch_reference) is the independent reference for the numbers.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from runner import assert_agree, have_ruff, ruff_problems, run_script

from chainrule import torch_reference
from chainrule.export import export
from chainrule.network import run
from chainrule.spec import parse_spec

ACTS = ("none", "relu", "sigmoid", "tanh", "leaky_relu")


@st.composite
def specs(draw):
    depth = draw(st.integers(1, 3))
    layers = [draw(st.integers(1, 3)) for _ in range(depth + 1)]
    loss = draw(st.sampled_from(("half_sse", "mse", "sse", "cross_entropy", "bce")))
    if loss == "cross_entropy":
        layers[-1] = max(layers[-1], 2)
    acts = [draw(st.sampled_from(ACTS)) for _ in range(depth)]
    if loss == "bce":
        acts[-1] = "sigmoid"
    elif draw(st.booleans()) and layers[-1] > 1:
        acts[-1] = "softmax"
    bias = [draw(st.booleans()) for _ in range(depth)]
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    n = draw(st.integers(1, 3))
    x = rng.uniform(-2, 2, size=(n, layers[0]))
    if loss == "cross_entropy":
        y = rng.integers(0, layers[-1], size=n).tolist()
    elif loss == "bce":
        y = rng.uniform(0, 1, size=(n, layers[-1])).tolist()
    else:
        y = rng.uniform(-1, 1, size=(n, layers[-1])).tolist()
    raw = {
        "name": "random", "layers": layers, "activations": acts, "bias": bias, "loss": loss,
        "lr": float(draw(st.sampled_from((0.01, 0.1, 0.3)))), "steps": draw(st.integers(1, 3)),
        "optimizer": draw(st.sampled_from(("sgd", "momentum", "adam"))), "negative_slope": 0.05,
        "init": {
            "weights": [rng.uniform(-1, 1, size=(a, b)).tolist() for a, b in zip(layers, layers[1:])],
        },
        "data": {"x": x[0].tolist() if n == 1 and draw(st.booleans()) else x.tolist(), "y": y},
    }
    if any(bias):
        raw["init"]["biases"] = [rng.uniform(-0.5, 0.5, size=b).tolist() for b in layers[1:]]
    return raw


@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(raw=specs())
def test_random_networks_export_and_agree(raw, tmp_path_factory):
    spec = parse_spec(raw, "<random>")
    folder = tmp_path_factory.mktemp("random")
    ours = run(spec)
    reference = torch_reference.run(spec) if torch_reference.available() else None
    paths = []
    for to in ("python", "numpy"):
        path = folder / f"export_{to}.py"
        path.write_text(export(spec, to), encoding="utf-8")
        paths.append(path)
        epochs = run_script(path)
        assert_agree(epochs, ours.outputs, ours.losses, what=f"{raw} --to {to} vs chainrule")
        if reference is not None:
            assert_agree(epochs, [r["output"] for r in reference], [r["loss"] for r in reference],
                         rtol=1e-9, atol=1e-11, what=f"--to {to} vs PyTorch")
    if have_ruff():
        problems = ruff_problems(paths)
        assert problems is None, problems


@settings(max_examples=4, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(raw=specs())
def test_random_networks_export_to_torch(raw, tmp_path_factory):
    pytest.importorskip("torch")
    spec = parse_spec(raw, "<random>")
    path = tmp_path_factory.mktemp("random_torch") / "torch_export.py"
    path.write_text(export(spec, "torch"), encoding="utf-8")
    ours = run(spec)
    assert_agree(run_script(path), ours.outputs, ours.losses, what=f"{raw} --to torch vs chainrule")
