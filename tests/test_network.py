"""The spec runner: the seed's and Mazur's published numbers, and PyTorch agreement on every shipped spec."""

import numpy as np
import pytest

from chainrule import torch_reference
from chainrule.network import SpecNetwork, run
from chainrule.spec import load_spec, shipped_specs


def test_seed_first_step_matches_hand_algebra():
    # The seed document: z = 0.5*40 + 0.5*80 = 60, y' = 3*60 = 180, L = ½(60-180)² = 7200,
    # dL/dy' = 120, dL/dw'' = 120*60, dL/dw'_1j = 120*1*40, dL/dw'_2j = 120*1*80.
    step = run("seed").steps[0]
    np.testing.assert_array_equal(step.zs[0].data, [[60, 60, 60]])
    assert step.output.item() == 180
    assert step.loss.item() == 7200
    assert step.output.grad.item() == 120
    np.testing.assert_array_equal(step.grads["W2"], np.full((3, 1), 7200.0))
    np.testing.assert_array_equal(step.grads["W1"], [[4800] * 3, [9600] * 3])
    np.testing.assert_allclose(step.params_after["W2"], np.full((3, 1), 1 - 1e-5 * 7200), rtol=1e-15)
    np.testing.assert_allclose(step.params_after["W1"], [[0.452] * 3, [0.404] * 3], rtol=1e-15)


def test_mazur_published_numbers():
    # Matt Mazur, "A Step by Step Backpropagation Example": E_total = 0.298371109,
    # w5+ = 0.35891648, w1+ = 0.149780716 (w5 is W2[0, 0], w1 is W1[0, 0] in (from, to) order).
    step = run("mazur").steps[0]
    assert step.loss.item() == pytest.approx(0.298371109, abs=1e-9)
    assert step.params_after["W2"][0, 0] == pytest.approx(0.35891648, abs=1e-8)
    assert step.params_after["W1"][0, 0] == pytest.approx(0.149780716, abs=1e-9)


@pytest.mark.parametrize("name", shipped_specs())
def test_every_shipped_spec_matches_pytorch(name):
    pytest.importorskip("torch")
    ours = run(name)
    ref = torch_reference.run(name, params=SpecNetwork(load_spec(name)).param_arrays())
    assert len(ref) == len(ours.steps)
    for step, expected in zip(ours.steps, ref):
        assert step.loss.item() == pytest.approx(expected["loss"], rel=1e-10)
        for key in expected["grad"]:
            np.testing.assert_allclose(step.grads[key], expected["grad"][key], rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(step.params_after[key], expected["params_after"][key], rtol=1e-9, atol=1e-12)


def test_seed_100_epochs_matches_pytorch_trajectory():
    pytest.importorskip("torch")
    ours = run("seed", steps=100)
    ref = torch_reference.run("seed", steps=100)
    for step, expected in zip(ours.steps, ref):
        assert step.output.item() == pytest.approx(expected["output"].item(), rel=1e-10)
        assert step.loss.item() == pytest.approx(expected["loss"], rel=1e-10, abs=1e-9)
    assert ours.steps[-1].output.item() == pytest.approx(60, abs=1e-5)


def test_to_dict_shapes_follow_from_to_order():
    d = run("relu").steps[0].to_dict()
    assert np.shape(d["grad"]["W1"]) == (2, 3)
    assert np.shape(d["grad"]["b1"]) == (3,)
    assert np.shape(d["forward"][0]["z"]) == (3, 3)  # batch of three samples, three hidden units
    assert set(d) >= {"forward", "loss", "grad", "params_after"}


def test_keep_graph_limits_retained_graphs():
    r = run("seed", steps=3, keep_graph=1)
    assert r.steps[0].loss.grad_fn.parents is not None
    assert r.steps[1].loss.grad_fn.parents is None


@pytest.mark.parametrize("steps", [0, 100_001])
def test_run_refuses_step_counts_outside_the_limit(steps):
    from chainrule.errors import SpecError

    with pytest.raises(SpecError, match=r"seed \(shipped spec\): steps must be between 1 and 100,000"):
        run("seed", steps=steps)
