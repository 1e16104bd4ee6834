"""``cr.nn``: names and state dicts as in PyTorch, initialisation, layers and loss modules vs ``torch.nn``."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from helpers import assert_close, twin

import chainrule as cr
from chainrule import nn
from chainrule.errors import ShapeError

R = np.random.default_rng(7)


def mlp_pair(bias=True):
    ours = nn.Sequential(nn.Linear(4, 8, bias=bias), nn.Tanh(), nn.Linear(8, 3, bias=bias))
    theirs = torch.nn.Sequential(
        torch.nn.Linear(4, 8, bias=bias), torch.nn.Tanh(), torch.nn.Linear(8, 3, bias=bias)
    ).double()
    return ours, theirs


def copy_torch_weights(ours, theirs):
    ours.double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3, 5)
        self.act = nn.ReLU()
        self.block = nn.Sequential(nn.Linear(5, 5, bias=False), nn.Sigmoid())
        self.head = nn.Linear(5, 2)

    def forward(self, x):
        return self.head(self.block(self.act(self.fc1(x))))


class TorchNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(3, 5)
        self.act = torch.nn.ReLU()
        self.block = torch.nn.Sequential(torch.nn.Linear(5, 5, bias=False), torch.nn.Sigmoid())
        self.head = torch.nn.Linear(5, 2)

    def forward(self, x):
        return self.head(self.block(self.act(self.fc1(x))))


# ----------------------------------------------------------------------------- names
@pytest.mark.parametrize("bias", [True, False])
def test_sequential_names_match_torch(bias):
    ours, theirs = mlp_pair(bias)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert len(list(ours.parameters())) == len(list(theirs.parameters()))
    for (_, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert p.shape == tuple(q.shape)


def test_nested_module_names_match_torch():
    ours, theirs = Net(), TorchNet()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]


def test_nested_sequential_names_match_torch():
    ours = nn.Sequential(nn.Sequential(nn.Linear(2, 3), nn.ReLU()), nn.Linear(3, 1))
    theirs = torch.nn.Sequential(torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU()), torch.nn.Linear(3, 1))
    assert list(ours.state_dict()) == list(theirs.state_dict())


def test_shared_parameter_listed_once():
    lin = nn.Linear(2, 2)
    model = nn.Sequential(lin, nn.Tanh(), lin)
    tlin = torch.nn.Linear(2, 2)
    tmodel = torch.nn.Sequential(tlin, torch.nn.Tanh(), tlin)
    assert [n for n, _ in model.named_parameters()] == [n for n, _ in tmodel.named_parameters()]


def test_parameters_are_parameters_requiring_grad():
    model, _ = mlp_pair()
    for p in model.parameters():
        assert isinstance(p, nn.Parameter) and isinstance(p, cr.Tensor)
        assert p.requires_grad and p.is_leaf


# ----------------------------------------------------------------------------- state dict
def test_state_dict_is_a_copy():
    model, _ = mlp_pair()
    sd = model.state_dict()
    sd["0.weight"][...] = 0
    assert np.abs(model[0].weight.data).sum() > 0


def test_load_state_dict_from_numpy_arrays():
    ours, theirs = mlp_pair()
    copy_torch_weights(ours, theirs)
    for k, v in theirs.state_dict().items():
        np.testing.assert_array_equal(ours.state_dict()[k], v.numpy())


def test_load_state_dict_from_tensors_and_lists():
    src, _ = mlp_pair()
    dst, _ = mlp_pair()
    dst.load_state_dict({n: p for n, p in src.named_parameters()})
    for (n, p), (_, q) in zip(src.named_parameters(), dst.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data)
        assert not np.shares_memory(p.data, q.data), n
    dst.load_state_dict({k: v.tolist() for k, v in src.state_dict().items()})
    np.testing.assert_allclose(dst[0].weight.data, src[0].weight.data)


def test_load_state_dict_keeps_parameter_dtype():
    model, _ = mlp_pair()
    assert model[0].weight.dtype == np.float32
    model.load_state_dict({k: v.astype(np.float64) for k, v in model.state_dict().items()})
    assert model[0].weight.dtype == np.float32


def test_load_state_dict_missing_key_is_strict():
    model, _ = mlp_pair()
    sd = model.state_dict()
    del sd["2.bias"]
    with pytest.raises(KeyError, match="missing keys: 2.bias"):
        model.load_state_dict(sd)


def test_load_state_dict_unexpected_key_is_strict():
    model, _ = mlp_pair()
    sd = model.state_dict()
    sd["3.weight"] = np.zeros((1, 3))
    with pytest.raises(KeyError, match="unexpected keys: 3.weight"):
        model.load_state_dict(sd)


def test_load_state_dict_non_strict_reports_keys():
    model, _ = mlp_pair()
    before = model[2].bias.data.clone()
    sd = model.state_dict()
    del sd["2.bias"]
    sd["extra"] = np.zeros(1)
    sd["0.weight"] = np.ones((8, 4))
    missing, unexpected = model.load_state_dict(sd, strict=False)
    assert list(missing) == ["2.bias"] and list(unexpected) == ["extra"]
    np.testing.assert_array_equal(model[0].weight.data, np.ones((8, 4)))
    np.testing.assert_array_equal(model[2].bias.data, before)


def test_load_state_dict_shape_mismatch():
    model, _ = mlp_pair()
    sd = model.state_dict()
    sd["0.weight"] = np.zeros((4, 8))
    before = model[0].weight.data.clone()
    with pytest.raises(ShapeError, match=r"0\.weight.*\(4, 8\).*\(8, 4\)"):
        model.load_state_dict(sd)
    np.testing.assert_array_equal(model[0].weight.data, before)


# ----------------------------------------------------------------------------- train/eval, repr, misc
def test_train_eval_propagates():
    model = Net()
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    model.train(False)
    assert not model.block[1].training


def test_repr_matches_torch_for_sequential():
    ours = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.LeakyReLU(0.2), nn.Linear(8, 3, bias=False), nn.Sigmoid())
    theirs = torch.nn.Sequential(
        torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.LeakyReLU(0.2), torch.nn.Linear(8, 3, bias=False),
        torch.nn.Sigmoid(),
    )
    assert repr(ours) == repr(theirs)


def test_repr_matches_torch_for_nested_module():
    assert repr(Net()) == repr(TorchNet()).replace("TorchNet", "Net")


def test_parameter_repr():
    p = nn.Parameter(np.array([1.0, 2.0]))
    assert repr(p).startswith("Parameter containing:\ntensor(")
    assert "requires_grad=True" in repr(p)


def test_module_zero_grad():
    model, _ = mlp_pair()
    model(cr.tensor(R.standard_normal((2, 4)).astype(np.float32))).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.any() for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_module_double_converts_parameters():
    model, _ = mlp_pair()
    model.double()
    assert all(p.dtype == np.float64 for p in model.parameters())
    out = model(cr.tensor(np.ones((1, 4))))
    assert out.dtype == np.float64


def test_module_call_runs_forward_and_assign_before_init_fails():
    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(np.zeros(1))

    with pytest.raises(AttributeError, match="super"):
        Bad()


# ----------------------------------------------------------------------------- initialisation
@pytest.mark.parametrize("fan_in,fan_out", [(1, 1), (4, 8), (784, 128), (128, 10)])
def test_linear_init_within_torch_bounds(fan_in, fan_out):
    cr.manual_seed(fan_in)
    lin = nn.Linear(fan_in, fan_out)
    bound = 1 / math.sqrt(fan_in)
    assert lin.weight.shape == (fan_out, fan_in) and lin.bias.shape == (fan_out,)
    assert np.abs(lin.weight.data).max() <= bound
    assert np.abs(lin.bias.data).max() <= bound
    if fan_in * fan_out >= 1000:  # uniform(-b, b): spread across the range, std b/sqrt(3)
        w = lin.weight.data
        assert np.abs(w).max() > 0.95 * bound
        assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound
        assert abs(w.mean()) < 0.05 * bound


def test_linear_without_bias():
    lin = nn.Linear(3, 2, bias=False)
    assert lin.bias is None
    assert [n for n, _ in lin.named_parameters()] == ["weight"]


def test_manual_seed_makes_init_reproducible():
    cr.manual_seed(123)
    a = nn.Linear(5, 4).state_dict()
    cr.manual_seed(123)
    b = nn.Linear(5, 4).state_dict()
    cr.manual_seed(124)
    c = nn.Linear(5, 4).state_dict()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(a["weight"], c["weight"])


INITS = [
    ("uniform_", lambda t: nn.init.uniform_(t, -0.3, 0.7)),
    ("normal_", lambda t: nn.init.normal_(t, 1.0, 0.5)),
    ("xavier_uniform_", lambda t: nn.init.xavier_uniform_(t, gain=2.0)),
    ("kaiming_uniform_", lambda t: nn.init.kaiming_uniform_(t, a=math.sqrt(5))),
]


@pytest.mark.parametrize("name,fn", INITS, ids=[i[0] for i in INITS])
def test_init_reproducible_under_manual_seed(name, fn):
    t1, t2 = nn.Parameter(np.zeros((30, 40))), nn.Parameter(np.zeros((30, 40)))
    cr.manual_seed(5)
    assert fn(t1) is t1
    cr.manual_seed(5)
    fn(t2)
    np.testing.assert_array_equal(t1.data, t2.data)
    assert np.unique(t1.data).size > 100


def test_constant_():
    t = nn.Parameter(np.zeros((3, 4)))
    nn.init.constant_(t, 0.25)
    np.testing.assert_array_equal(t.data, np.full((3, 4), 0.25))
    assert t.requires_grad


def test_uniform_statistics():
    cr.manual_seed(0)
    t = nn.init.uniform_(nn.Parameter(np.zeros((200, 100))), -0.3, 0.7)
    assert t.data.min() >= -0.3 and t.data.max() <= 0.7
    assert abs(t.data.mean() - 0.2) < 0.01
    assert abs(t.data.std() - 1.0 / math.sqrt(12)) < 0.01


def test_normal_statistics():
    cr.manual_seed(0)
    t = nn.init.normal_(nn.Parameter(np.zeros((200, 100))), 1.0, 0.5)
    assert abs(t.data.mean() - 1.0) < 0.02
    assert abs(t.data.std() - 0.5) < 0.02


@pytest.mark.parametrize("shape", [(30, 40), (200, 100)])
def test_xavier_uniform_bound(shape):
    fan_out, fan_in = shape
    cr.manual_seed(1)
    t = nn.init.xavier_uniform_(nn.Parameter(np.zeros(shape)), gain=2.0)
    bound = 2.0 * math.sqrt(6.0 / (fan_in + fan_out))
    assert np.abs(t.data).max() <= bound
    assert np.abs(t.data).max() > 0.95 * bound
    assert abs(t.data.std() - bound / math.sqrt(3)) < 0.06 * bound


@pytest.mark.parametrize("a", [0.0, math.sqrt(5)])
def test_kaiming_uniform_bound(a):
    fan_out, fan_in = 100, 200
    cr.manual_seed(2)
    t = nn.init.kaiming_uniform_(nn.Parameter(np.zeros((fan_out, fan_in))), a=a)
    bound = math.sqrt(6.0 / ((1 + a * a) * fan_in))  # gain sqrt(2/(1+a^2)) * sqrt(3/fan_in)
    assert np.abs(t.data).max() <= bound
    assert np.abs(t.data).max() > 0.95 * bound
    assert abs(t.data.std() - bound / math.sqrt(3)) < 0.05 * bound


def test_kaiming_uniform_bound_agrees_with_torch_samples():
    # torch's samples for the same fan-in have the same range
    t = torch.empty(100, 200)
    torch.manual_seed(0)
    torch.nn.init.kaiming_uniform_(t, a=math.sqrt(5))
    ours = nn.init.kaiming_uniform_(nn.Parameter(np.zeros((100, 200))), a=math.sqrt(5))
    assert np.abs(ours.data).max() <= t.abs().max().item() * 1.01
    assert np.abs(ours.data).max() >= t.abs().max().item() * 0.99


def test_init_rejects_1d_fan():
    with pytest.raises(ValueError, match="fan"):
        nn.init.xavier_uniform_(nn.Parameter(np.zeros(3)))


# ----------------------------------------------------------------------------- forward/backward vs torch
@pytest.mark.parametrize("batch_shape", [(5,), (), (2, 3)], ids=str)
def test_mlp_copied_from_torch_gives_same_output_and_grads(batch_shape):
    ours, theirs = mlp_pair()
    copy_torch_weights(ours, theirs)
    x = R.standard_normal(batch_shape + (4,))
    out = ours(cr.tensor(x))
    ref = theirs(torch.tensor(x))
    assert_close(out.data, ref.detach().numpy())
    g = R.standard_normal(ref.shape)
    out.backward(gradient=g)
    ref.backward(torch.tensor(g))
    for (n, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert_close(p.grad, q.grad.numpy(), what=n)


def test_nested_module_copied_from_torch():
    ours, theirs = Net().double(), TorchNet().double()
    ours.load_state_dict(theirs.state_dict())  # torch tensors: read through their array interface
    x = R.standard_normal((6, 3))
    out, ref = ours(cr.tensor(x)), theirs(torch.tensor(x))
    assert_close(out.data, ref.detach().numpy())
    out.sum().backward()
    ref.sum().backward()
    for (n, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert_close(p.grad, q.grad.numpy(), what=n)


ACTIVATIONS = [
    (nn.ReLU(), torch.nn.ReLU()),
    (nn.Sigmoid(), torch.nn.Sigmoid()),
    (nn.Tanh(), torch.nn.Tanh()),
    (nn.LeakyReLU(), torch.nn.LeakyReLU()),
    (nn.LeakyReLU(0.3), torch.nn.LeakyReLU(0.3)),
    (nn.Identity(), torch.nn.Identity()),
    (nn.Softmax(dim=0), torch.nn.Softmax(dim=0)),
    (nn.Softmax(dim=-1), torch.nn.Softmax(dim=-1)),
]


@pytest.mark.parametrize("ours,theirs", ACTIVATIONS, ids=[repr(a[1]) for a in ACTIVATIONS])
def test_activation_modules(ours, theirs):
    x = R.uniform(0.1, 2.0, (3, 4)) * R.choice([-1.0, 1.0], (3, 4))
    twin(lambda L, t: (ours if L is cr else theirs)(t) * 1.0, x)


# ----------------------------------------------------------------------------- loss modules vs torch.nn
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss_module(reduction):
    twin(lambda L, p, t: (nn.MSELoss(reduction) if L is cr else torch.nn.MSELoss(reduction=reduction))(p, t),
         R.standard_normal((4, 2)), R.standard_normal((4, 2)))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_loss_module(reduction):
    labels = np.array([2, 0, 1, 2])

    def f(L, z):
        if L is cr:
            return nn.CrossEntropyLoss(reduction=reduction)(z, labels)
        return torch.nn.CrossEntropyLoss(reduction=reduction)(z, torch.tensor(labels))

    twin(f, R.standard_normal((4, 3)) * 3)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_loss_module(reduction):
    twin(lambda L, p, t: (nn.BCELoss(reduction) if L is cr else torch.nn.BCELoss(reduction=reduction))(p, t),
         R.uniform(0.05, 0.95, (5,)), R.uniform(0, 1, (5,)))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_with_logits_loss_module(reduction):
    def f(L, z, t):
        mod = nn.BCEWithLogitsLoss(reduction=reduction) if L is cr else torch.nn.BCEWithLogitsLoss(reduction=reduction)
        return mod(z, t)

    twin(f, R.standard_normal((3, 2)) * 3, R.uniform(0, 1, (3, 2)))


def test_half_squared_error_module():
    def f(L, p, t):
        return nn.HalfSquaredError()(p, t) if L is cr else 0.5 * ((t - p) ** 2).sum()

    twin(f, R.standard_normal((4, 2)), R.standard_normal((4, 2)))
    assert nn.HalfSquaredError is nn.HalfSSELoss


def test_loss_module_rejects_bad_reduction():
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss("average")


@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4), (2, 3, 4, 5)])
@pytest.mark.parametrize("call", ["F.softmax(x)", "F.log_softmax(x)", "N.Softmax()(x)", "N.LogSoftmax()(x)"])
def test_softmax_without_a_dim_takes_torchs_implicit_dim_and_warns(shape, call):
    # PyTorch's legacy choice is dim 0 for 0-, 1- and 3-D inputs and dim 1 otherwise, not the last dim:
    # a 3-D or 4-D input normalised over the last dim gave other numbers without a word
    a = np.random.default_rng(0).standard_normal(shape)
    results = []
    for lib in (cr, torch):
        with pytest.warns(UserWarning, match="Implicit dimension choice"):
            y = eval(call, {"F": lib.nn.functional, "N": lib.nn, "x": lib.tensor(a)})  # noqa: S307
        results.append(y.numpy())
    np.testing.assert_allclose(*results, rtol=1e-13, atol=1e-16)
