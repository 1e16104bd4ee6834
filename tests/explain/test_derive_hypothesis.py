"""Random specs: every gradient and updated parameter in the derivation's JSON equals PyTorch float64,
and every entry's value equals the JSON value at its key."""

from __future__ import annotations

import json

import numpy as np
import pytest
from derive_helpers import at_key
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule import torch_reference

pytest.importorskip("torch")

LOSSES = ("half_sse", "mse", "sse", "cross_entropy", "bce")
HIDDEN = ("none", "relu", "sigmoid", "tanh", "leaky_relu")


@st.composite
def specs(draw):
    depth = draw(st.integers(1, 3))
    layers = [draw(st.integers(1, 4)) for _ in range(depth + 1)]
    loss = draw(st.sampled_from(LOSSES))
    if loss == "cross_entropy":
        layers[-1] = max(layers[-1], 2)
    acts = [draw(st.sampled_from(HIDDEN)) for _ in range(depth - 1)]
    last = {"bce": st.just("sigmoid"), "cross_entropy": st.sampled_from(("softmax", "none"))}.get(
        loss, st.sampled_from(HIDDEN + ("softmax",)))
    acts.append(draw(last))
    bias = [draw(st.booleans()) for _ in range(depth)]
    n = draw(st.integers(1, 3))
    single = n == 1 and draw(st.booleans())
    seed = draw(st.integers(0, 10_000))
    rng = np.random.default_rng(seed)
    weights = [np.round(rng.uniform(-1, 1, (a, b)), 3).tolist() for a, b in zip(layers, layers[1:])]
    biases = [np.round(rng.uniform(-0.5, 0.5, b), 3).tolist() for b in layers[1:]]
    x = np.round(rng.uniform(-2, 2, (n, layers[0])), 3)
    if loss == "cross_entropy":
        y = rng.integers(0, layers[-1], n).tolist()
    elif loss == "bce":
        y = np.round(rng.uniform(0, 1, (n, layers[-1])), 3).tolist()
    else:
        y = np.round(rng.uniform(-1, 1, (n, layers[-1])), 3).tolist()
    raw = {
        "name": "random", "layers": layers, "activations": acts, "bias": bias, "loss": loss,
        "lr": draw(st.sampled_from((0.01, 0.1, 0.5))), "optimizer": draw(st.sampled_from(("sgd", "sgd", "momentum", "adam"))),
        "init": {"weights": weights}, "data": {"x": x[0].tolist() if single else x.tolist(),
                                               "y": (y[0] if single and loss != "cross_entropy" else y)},
    }
    if any(bias):
        raw["init"]["biases"] = [b if has else 0.0 for b, has in zip(biases, bias)]
        if not all(bias):
            del raw["init"]["biases"]
    return raw


def _close(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs(), st.integers(1, 2))
def test_json_matches_pytorch_and_entries_match_json(raw, steps):
    d = cr.derive(raw, steps=steps)
    data = json.loads(d.to_json())
    first = {k: np.asarray(v) for k, v in data["steps"][0]["params_before"].items()}
    ref = torch_reference.run(cr.spec.load_spec(raw), steps=steps, params=first)
    for step, r in zip(data["steps"], ref):
        assert set(step["grad"]) == set(r["grad"])
        for name in r["grad"]:
            _close(step["grad"][name], r["grad"][name])
            _close(step["params_after"][name], r["params_after"][name])
        assert step["loss"] == pytest.approx(r["loss"], rel=1e-9, abs=1e-12)
    entries = d.entries
    assert entries
    for e in entries:
        assert e["value"] == at_key(data["steps"][e["step"] - 1], e["key"]), e["key"]
        assert e["expression"].startswith(e["symbol"])
    # every gradient and every updated parameter is written
    for k, step in enumerate(data["steps"], 1):
        keys = {e["key"] for e in entries if e["step"] == k}
        for name, g in step["grad"].items():
            for idx in np.ndindex(np.shape(g)):
                suffix = "".join(f"[{i}]" for i in idx)
                assert f"grad.{name}{suffix}" in keys and f"params_after.{name}{suffix}" in keys
