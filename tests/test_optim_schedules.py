"""RMSprop, Adagrad and the learning-rate schedulers, side by side with torch.optim over many steps."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from helpers import assert_close

import chainrule as cr
from chainrule import nn
from chainrule.optim import lr_scheduler as sched

STEPS = 60


def make_pair(seed=0):
    torch.manual_seed(seed)
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).double()
    ours = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def data(seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((16, 4)), rng.integers(0, 3, 16)


def train_side_by_side(opt, topt, ours, theirs, steps=STEPS, scheduler=None, tscheduler=None, tol=1e-9):
    x, y = data()
    xt, yt = torch.tensor(x), torch.tensor(y)
    for step in range(steps):
        opt.zero_grad()
        loss = cr.nn.functional.cross_entropy(ours(cr.tensor(x)), y)
        loss.backward()
        opt.step()
        topt.zero_grad()
        tloss = torch.nn.functional.cross_entropy(theirs(xt), yt)
        tloss.backward()
        topt.step()
        assert_close(loss.item(), tloss.item(), rtol=tol, atol=tol, what=f"loss at step {step}")
        if scheduler is not None:
            scheduler.step()
            tscheduler.step()
            assert_close(scheduler.get_last_lr(), tscheduler.get_last_lr(), rtol=1e-13, atol=0, what=f"lr at step {step}")
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert_close(p.array, q.detach().numpy(), rtol=tol, atol=tol, what=name)


OPTIMIZERS = [
    ("RMSprop", {}), ("RMSprop", {"lr": 0.005, "alpha": 0.9}), ("RMSprop", {"lr": 0.005, "momentum": 0.9}),
    ("RMSprop", {"lr": 0.005, "centered": True}), ("RMSprop", {"lr": 0.003, "centered": True, "momentum": 0.5,
                                                              "weight_decay": 0.1, "eps": 1e-6}),
    ("Adagrad", {}), ("Adagrad", {"lr": 0.1, "lr_decay": 0.01}), ("Adagrad", {"lr": 0.1, "initial_accumulator_value": 0.5}),
    ("Adagrad", {"lr": 0.05, "weight_decay": 0.1, "eps": 1e-6}),
]


@pytest.mark.parametrize("name,kwargs", OPTIMIZERS, ids=[f"{o[0]}-{o[1]}" for o in OPTIMIZERS])
def test_optimizer_trajectory_matches_torch(name, kwargs):
    ours, theirs = make_pair()
    train_side_by_side(getattr(cr.optim, name)(ours.parameters(), **kwargs),
                       getattr(torch.optim, name)(theirs.parameters(), **kwargs), ours, theirs)


def test_optimizer_state_names_match_torch():
    ours, theirs = make_pair()
    opt, topt = cr.optim.RMSprop(ours.parameters(), centered=True, momentum=0.9), \
        torch.optim.RMSprop(theirs.parameters(), centered=True, momentum=0.9)
    train_side_by_side(opt, topt, ours, theirs, steps=2)
    assert set(opt.state_dict()["state"][0]) == set(topt.state_dict()["state"][0])


@pytest.mark.parametrize("name,kwargs,message", [
    ("RMSprop", {"alpha": -0.1}, "Invalid alpha value"), ("RMSprop", {"lr": -1}, "Invalid learning rate"),
    ("Adagrad", {"lr_decay": -1}, "Invalid lr_decay value"),
    ("Adagrad", {"initial_accumulator_value": -1}, "Invalid initial_accumulator_value value"),
])
def test_optimizer_arguments_checked_as_torch(name, kwargs, message):
    ours, theirs = make_pair()
    with pytest.raises(ValueError, match=message):
        getattr(torch.optim, name)(theirs.parameters(), **kwargs)
    with pytest.raises(ValueError, match=message):
        getattr(cr.optim, name)(ours.parameters(), **kwargs)


SCHEDULERS = [
    ("StepLR", {"step_size": 7}), ("StepLR", {"step_size": 3, "gamma": 0.5}),
    ("MultiStepLR", {"milestones": [5, 12, 12, 40], "gamma": 0.3}),
    ("ExponentialLR", {"gamma": 0.95}),
    ("CosineAnnealingLR", {"T_max": 20}), ("CosineAnnealingLR", {"T_max": 13, "eta_min": 0.01}),
    ("OneCycleLR", {"max_lr": 0.5, "total_steps": STEPS + 1}),
    ("OneCycleLR", {"max_lr": 0.3, "epochs": 6, "steps_per_epoch": 11, "anneal_strategy": "linear", "pct_start": 0.2}),
    ("OneCycleLR", {"max_lr": 0.3, "total_steps": STEPS + 5, "three_phase": True, "div_factor": 10.0}),
]


@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
@pytest.mark.parametrize("name,kwargs", SCHEDULERS, ids=[f"{s[0]}-{s[1]}" for s in SCHEDULERS])
def test_scheduler_matches_torch_over_many_steps(name, kwargs, optimizer):
    """The rates at every step, and the training they drive (OneCycle also cycles momentum or Adam's β1)."""
    ours, theirs = make_pair()
    extra = {"momentum": 0.9} if optimizer == "SGD" else {}
    opt = getattr(cr.optim, optimizer)(ours.parameters(), lr=0.1, **extra)
    topt = getattr(torch.optim, optimizer)(theirs.parameters(), lr=0.1, **extra)
    s, ts = getattr(sched, name)(opt, **kwargs), getattr(torch.optim.lr_scheduler, name)(topt, **kwargs)
    assert_close(s.get_last_lr(), ts.get_last_lr(), rtol=1e-15, what="initial lr")
    train_side_by_side(opt, topt, ours, theirs, scheduler=s, tscheduler=ts)
    if name == "OneCycleLR":
        key = "momentum" if optimizer == "SGD" else "betas"
        assert_close(opt.param_groups[0][key], topt.param_groups[0][key], rtol=1e-13)


def test_schedulers_on_two_param_groups():
    ours, theirs = make_pair()
    groups = lambda m: [{"params": list(m[0].parameters()), "lr": 0.2}, {"params": list(m[2].parameters())}]  # noqa: E731
    opt, topt = cr.optim.SGD(groups(ours), lr=0.05), torch.optim.SGD(groups(theirs), lr=0.05)
    s, ts = sched.CosineAnnealingLR(opt, 10, 0.001), torch.optim.lr_scheduler.CosineAnnealingLR(topt, 10, 0.001)
    train_side_by_side(opt, topt, ours, theirs, steps=35, scheduler=s, tscheduler=ts)


def test_one_cycle_refuses_to_step_past_the_end():
    ours, _ = make_pair()
    s = sched.OneCycleLR(cr.optim.SGD(ours.parameters(), lr=0.1), max_lr=1.0, total_steps=3)
    for _ in range(2):
        s.step()
    s.step()
    with pytest.raises(ValueError, match="Tried to step 4 times. The specified number of total steps is 3"):
        s.step()


@pytest.mark.parametrize("kwargs", [dict(), dict(mode="max", factor=0.5, patience=2, cooldown=3),
                                    dict(threshold_mode="abs", threshold=0.05, patience=1, min_lr=0.02)])
def test_reduce_lr_on_plateau_matches_torch(kwargs):
    ours, theirs = make_pair()
    opt, topt = cr.optim.SGD(ours.parameters(), lr=0.1), torch.optim.SGD(theirs.parameters(), lr=0.1)
    s, ts = sched.ReduceLROnPlateau(opt, **kwargs), torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kwargs)
    rng = np.random.default_rng(5)
    metric = 1.0
    for epoch in range(80):  # a noisy metric that improves, stalls, improves a little
        metric = metric * (0.9 if epoch < 10 or epoch % 17 == 0 else 1.0) + rng.uniform(-0.01, 0.01)
        s.step(metric)
        ts.step(metric)
        assert s.get_last_lr() == ts.get_last_lr(), f"epoch {epoch}"
        assert (s.num_bad_epochs, s.cooldown_counter, s.best) == (ts.num_bad_epochs, ts.cooldown_counter, ts.best)


def test_scheduler_state_dict_round_trip():
    ours, _ = make_pair()
    opt = cr.optim.SGD(ours.parameters(), lr=0.1)
    s = sched.StepLR(opt, 3)
    for _ in range(4):
        s.step()
    saved = s.state_dict()
    assert "optimizer" not in saved and saved["last_epoch"] == 4
    fresh = sched.StepLR(cr.optim.SGD(ours.parameters(), lr=0.1), 3)
    fresh.load_state_dict(saved)
    assert fresh.last_epoch == 4
