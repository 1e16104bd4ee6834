"""Optimizers: 20 training steps here and in PyTorch from identical float64 weights follow the same trajectory."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import chainrule as cr
from chainrule import nn

STEPS = 20


def make_pair(seed=0):
    torch.manual_seed(seed)
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).double()
    ours = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def data(seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((16, 4)), rng.integers(0, 3, 16)


CONFIGS = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.3}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.05}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.9), "eps": 1e-6}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}),
]


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=[f"{c[0]}-{c[1]}" for c in CONFIGS])
def test_trajectory_matches_torch(name, kwargs):
    ours, theirs = make_pair()
    x, y = data()
    opt = getattr(cr.optim, name)(ours.parameters(), **kwargs)
    topt = getattr(torch.optim, name)(theirs.parameters(), **kwargs)
    xt, yt = torch.tensor(x), torch.tensor(y)
    for step in range(STEPS):
        opt.zero_grad()
        loss = cr.nn.functional.cross_entropy(ours(cr.tensor(x)), y)
        loss.backward()
        opt.step()
        topt.zero_grad()
        tloss = torch.nn.functional.cross_entropy(theirs(xt), yt)
        tloss.backward()
        topt.step()
        assert loss.item() == pytest.approx(tloss.item(), rel=1e-9), f"step {step}"
    moved = 0.0
    for (n, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-6, atol=1e-9, err_msg=n)
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=n)
    init, _ = make_pair()
    for p, p0 in zip(ours.parameters(), init.parameters()):
        moved = max(moved, float(np.abs(p.data - p0.data).max()))
    assert moved > 1e-3  # the test really trained


def test_param_groups_with_own_lr_match_torch():
    ours, theirs = make_pair(1)
    x, _y = data(1)
    opt = cr.optim.SGD([{"params": ours[0].parameters()}, {"params": ours[2].parameters(), "lr": 0.01}],
                       lr=0.2, momentum=0.5)
    topt = torch.optim.SGD([{"params": theirs[0].parameters()}, {"params": theirs[2].parameters(), "lr": 0.01}],
                           lr=0.2, momentum=0.5)
    for _ in range(5):
        opt.zero_grad()
        cr.nn.functional.mse_loss(ours(cr.tensor(x)), np.zeros((16, 3))).backward()
        opt.step()
        topt.zero_grad()
        torch.nn.functional.mse_loss(theirs(torch.tensor(x)), torch.zeros(16, 3, dtype=torch.float64)).backward()
        topt.step()
    for (n, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=n)


def test_sgd_one_step_by_hand():
    # the seed's update: w <- w - lr * g
    w = nn.Parameter(np.array([0.5, 0.5]))
    opt = cr.optim.SGD([w], lr=1e-5)
    w.grad = cr.tensor([7200.0, 4800.0], dtype=w.dtype)
    opt.step()
    np.testing.assert_allclose(w.data, [0.428, 0.452], rtol=1e-12)


def test_step_skips_parameters_without_grad():
    a, b = nn.Parameter(np.array([1.0])), nn.Parameter(np.array([2.0]))
    opt = cr.optim.Adam([a, b], lr=0.1)
    (a * 3).sum().backward()
    opt.step()
    assert a.data[0] != 1.0 and b.data[0] == 2.0


def test_step_updates_in_place():
    w = nn.Parameter(np.array([1.0, 2.0]))
    buf = w.array
    opt = cr.optim.SGD([w], lr=0.5)
    (w * w).sum().backward()
    opt.step()
    assert w.array is buf
    np.testing.assert_array_equal(buf, [0.0, 0.0])  # w - 0.5 * 2w


def test_zero_grad_set_to_none():
    w = nn.Parameter(np.array([1.0, 2.0]))
    opt = cr.optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    opt.zero_grad()
    assert w.grad is None
    (w * w).sum().backward()
    np.testing.assert_array_equal(w.grad, [2.0, 4.0])


def test_zero_grad_keep_zeros():
    w = nn.Parameter(np.array([1.0, 2.0]))
    opt = cr.optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(w.grad, [0.0, 0.0])
    (w * 3).sum().backward()
    np.testing.assert_array_equal(w.grad, [3.0, 3.0])


def test_zero_grad_set_to_none_false_with_momentum_matches_torch():
    ours, theirs = make_pair(2)
    x, y = data(2)
    opt = cr.optim.SGD(ours.parameters(), lr=0.1, momentum=0.9)
    topt = torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9)
    for _ in range(5):
        opt.zero_grad(set_to_none=False)
        cr.nn.functional.cross_entropy(ours(cr.tensor(x)), y).backward()
        opt.step()
        topt.zero_grad(set_to_none=False)
        torch.nn.functional.cross_entropy(theirs(torch.tensor(x)), torch.tensor(y)).backward()
        topt.step()
    for p, q in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(p.grad, q.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_gradients_accumulate_without_zero_grad_like_torch():
    ours, theirs = make_pair(3)
    x, y = data(3)
    opt = cr.optim.SGD(ours.parameters(), lr=0.05)
    topt = torch.optim.SGD(theirs.parameters(), lr=0.05)
    for _ in range(3):
        cr.nn.functional.cross_entropy(ours(cr.tensor(x)), y).backward()
        opt.step()
        torch.nn.functional.cross_entropy(theirs(torch.tensor(x)), torch.tensor(y)).backward()
        topt.step()
    for p, q in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: cr.optim.SGD(ps, lr=-1.0),
        lambda ps: cr.optim.SGD(ps, lr=0.1, nesterov=True),
        lambda ps: cr.optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True),
        lambda ps: cr.optim.Adam(ps, betas=(1.0, 0.999)),
        lambda ps: cr.optim.SGD([], lr=0.1),
    ],
)
def test_invalid_hyperparameters_raise_like_torch(make):
    with pytest.raises(ValueError):
        make([nn.Parameter(np.zeros(2))])


def test_optimizer_accepts_and_skips_a_tensor_without_grad():
    frozen = cr.tensor(np.ones(2))
    opt = cr.optim.SGD([frozen], lr=0.1)
    opt.step()
    np.testing.assert_array_equal(frozen, [1.0, 1.0])
    with pytest.raises(TypeError, match="SGD can only optimize Tensors, but one of the params is ndarray"):
        cr.optim.SGD([np.zeros(2)], lr=0.1)


@pytest.mark.parametrize("name,kwargs,loss", [("SGD", {"lr": 0.05, "momentum": 0.9}, "ce"), ("Adam", {"lr": 0.01}, "ce"),
                                              ("SGD", {"lr": 0.05}, "mse")])
def test_float32_training_stays_float32_and_tracks_torch(name, kwargs, loss):
    # The speed work computes in place (softmax scaled in its own array, gradients taken over as .grad,
    # buffers updated in place): nothing may drift to float64, and the float32 numbers stay PyTorch's.
    torch.manual_seed(3)
    theirs = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
    ours = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 4))
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    rng = np.random.default_rng(3)
    x = rng.standard_normal((8, 6)).astype(np.float32)
    y = rng.integers(0, 4, 8) if loss == "ce" else rng.standard_normal((8, 4)).astype(np.float32)
    opt, topt = getattr(cr.optim, name)(ours.parameters(), **kwargs), getattr(torch.optim, name)(theirs.parameters(), **kwargs)
    for _ in range(10):
        opt.zero_grad()
        out = ours(cr.tensor(x))
        value = cr.nn.functional.cross_entropy(out, y) if loss == "ce" else cr.nn.functional.mse_loss(out, y)
        value.backward()
        opt.step()
        topt.zero_grad()
        tout = theirs(torch.from_numpy(x))
        tvalue = (torch.nn.functional.cross_entropy(tout, torch.from_numpy(y)) if loss == "ce"
                  else torch.nn.functional.mse_loss(tout, torch.from_numpy(y)))
        tvalue.backward()
        topt.step()
        assert value.dtype == np.float32 and out.dtype == np.float32
        assert value.item() == pytest.approx(tvalue.item(), rel=2e-6)
    for p in ours.parameters():
        assert p.dtype == np.float32 and p.grad.dtype == np.float32
    for state in opt.state.values():
        assert all(v.dtype == np.float32 for v in state.values() if isinstance(v, np.ndarray))
    for (n, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-5, atol=1e-6, err_msg=n)
