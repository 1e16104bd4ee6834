"""The layer modules of convolutional and recurrent networks against ``torch.nn``: the same state-dict
keys and shapes, weights copied from a torch module give the same outputs and gradients, BatchNorm's
running statistics and train/eval behaviour, Dropout's train/eval, and PyTorch's initialisation bounds."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from helpers import assert_close

import chainrule as cr
from chainrule import nn

R = np.random.default_rng(99)


def copy_from(theirs, ours):
    """Load torch's state dict (parameters and buffers) into our module; the keys must match exactly."""
    state = {k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()}
    assert list(ours.state_dict()) == list(state), "state-dict keys differ from PyTorch's"
    ours.load_state_dict(state)


def compare(ours, theirs, *inputs, rtol=1e-10, atol=1e-12, grads=True):
    """Same inputs through both modules (float64); values, input gradients and parameter gradients agree."""
    ci = [cr.tensor(a, requires_grad=a.dtype.kind == "f") if isinstance(a, np.ndarray) else a for a in inputs]
    ti = [torch.tensor(a, requires_grad=a.dtype.kind == "f") if isinstance(a, np.ndarray) else a for a in inputs]
    out, ref = ours(*ci), theirs(*ti)
    flat_out = _flatten(out)
    flat_ref = _flatten(ref)
    for k, (a, b) in enumerate(zip(flat_out, flat_ref)):
        assert_close(a.array, b.detach().numpy(), rtol, atol, f"output {k}")
    if not grads:
        return out, ref
    gs = [R.standard_normal(tuple(b.shape)) for b in flat_ref]
    loss_ours = sum((a * cr.tensor(g)).sum() for a, g in zip(flat_out, gs))
    loss_ref = sum((b * torch.tensor(g)).sum() for b, g in zip(flat_ref, gs))
    loss_ours.backward()
    loss_ref.backward()
    for k, (a, b) in enumerate(zip(ci, ti)):
        if isinstance(a, cr.Tensor) and a.requires_grad:
            assert_close(a.grad, b.grad.numpy(), rtol, atol, f"grad of input {k}")
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert_close(p.grad, theirs_params[name].grad.numpy(), rtol, atol, f"grad of {name}")
    return out, ref


def _flatten(value):
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _flatten(v)]
    return [value]


def pair(make_ours, make_theirs):
    torch.manual_seed(0)
    theirs = make_theirs().double()
    ours = make_ours().double()
    copy_from(theirs, ours)
    return ours, theirs


# ----------------------------------------------------------------------------- convolution and pooling
@pytest.mark.parametrize("kwargs", [
    dict(), dict(stride=2, padding=1), dict(padding="same", dilation=2), dict(groups=2, bias=False),
    dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2)),
])
def test_conv2d_module(kwargs):
    ours, theirs = pair(lambda: nn.Conv2d(4, 6, 3, **kwargs), lambda: torch.nn.Conv2d(4, 6, 3, **kwargs))
    compare(ours, theirs, R.standard_normal((2, 4, 9, 8)))
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("kwargs", [dict(), dict(stride=2, padding=1, output_padding=1), dict(groups=2, dilation=2)])
def test_conv_transpose2d_module(kwargs):
    ours, theirs = pair(lambda: nn.ConvTranspose2d(4, 6, 3, **kwargs), lambda: torch.nn.ConvTranspose2d(4, 6, 3, **kwargs))
    compare(ours, theirs, R.standard_normal((2, 4, 5, 6)))


def test_lenet_copied_from_torch():
    def lenet(m):
        return m.Sequential(m.Conv2d(1, 6, 5), m.ReLU(), m.MaxPool2d(2), m.Conv2d(6, 16, 5), m.ReLU(), m.MaxPool2d(2),
                            m.Flatten(), m.Linear(256, 120), m.ReLU(), m.Linear(120, 10))
    ours, theirs = pair(lambda: lenet(nn), lambda: lenet(torch.nn))
    x = R.standard_normal((3, 1, 28, 28))
    compare(ours, theirs, x)
    y = np.array([3, 1, 7])
    ours.zero_grad()
    loss = nn.CrossEntropyLoss()(ours(cr.tensor(x)), y)
    ref = torch.nn.CrossEntropyLoss()(theirs(torch.tensor(x)), torch.tensor(y))
    assert_close(loss.item(), ref.item())


@pytest.mark.parametrize("make", [
    lambda m: m.MaxPool2d(3, 2, 1), lambda m: m.MaxPool2d(2, ceil_mode=True), lambda m: m.AvgPool2d(3, 2, 1),
    lambda m: m.AvgPool2d(2, count_include_pad=False, padding=1), lambda m: m.AdaptiveAvgPool2d((2, 3)),
    lambda m: m.AdaptiveAvgPool2d(1), lambda m: m.Flatten(), lambda m: m.Flatten(0, 2),
])
def test_pooling_modules(make):
    compare(make(nn), make(torch.nn), R.standard_normal((2, 3, 7, 9)))


def test_maxpool_return_indices_module():
    x = R.standard_normal((2, 3, 6, 6))
    out, idx = nn.MaxPool2d(2, return_indices=True)(cr.tensor(x))
    ref, ref_idx = torch.nn.MaxPool2d(2, return_indices=True)(torch.tensor(x))
    np.testing.assert_array_equal(idx.array, ref_idx.numpy())


# ----------------------------------------------------------------------------- normalisation
@pytest.mark.parametrize("cls,shape", [("BatchNorm1d", (8, 3)), ("BatchNorm1d", (8, 3, 5)), ("BatchNorm2d", (4, 3, 5, 6))])
@pytest.mark.parametrize("momentum", [0.1, None, 0.5])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_batchnorm_train_then_eval(cls, shape, momentum, dtype):
    torch.manual_seed(0)
    theirs = getattr(torch.nn, cls)(3, momentum=momentum, eps=1e-3).to(torch.float64 if dtype == np.float64 else torch.float32)
    ours = getattr(nn, cls)(3, momentum=momentum, eps=1e-3).to(dtype)
    with torch.no_grad():
        theirs.weight.uniform_(0.5, 1.5)
        theirs.bias.uniform_(-1, 1)
    copy_from(theirs, ours)
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-5)
    for step in range(4):  # training: batch statistics, and the running ones move
        x = (R.standard_normal(shape) * (step + 1) + step).astype(dtype)
        ci, ti = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        out, ref = ours(ci), theirs(ti)
        assert_close(out.array, ref.detach().numpy(), **tol, what=f"train output {step}")
        g = R.standard_normal(shape).astype(dtype)
        out.backward(gradient=g)
        ref.backward(torch.tensor(g))
        assert_close(ci.grad, ti.grad.numpy(), **tol, what="grad of x (three-term rule)")
        assert_close(ours.weight.grad, theirs.weight.grad.numpy(), **tol, what="grad of weight")
        assert_close(ours.bias.grad, theirs.bias.grad.numpy(), **tol, what="grad of bias")
        ours.zero_grad()
        theirs.zero_grad()
    for key, value in theirs.state_dict().items():
        assert_close(ours.state_dict()[key], value.numpy(), **tol, what=key)
    assert int(ours.num_batches_tracked.item()) == 4
    ours.eval()
    theirs.eval()
    x = R.standard_normal(shape).astype(dtype)
    ci, ti = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, ref = ours(ci), theirs(ti)
    assert_close(out.array, ref.detach().numpy(), **tol, what="eval output (running statistics)")
    out.sum().backward()
    ref.sum().backward()
    assert_close(ci.grad, ti.grad.numpy(), **tol, what="eval grad of x")
    assert int(ours.num_batches_tracked.item()) == 4  # eval does not count batches


@pytest.mark.parametrize("kwargs", [dict(affine=False), dict(track_running_stats=False)])
def test_batchnorm_options(kwargs):
    ours, theirs = pair(lambda: nn.BatchNorm2d(3, **kwargs), lambda: torch.nn.BatchNorm2d(3, **kwargs))
    compare(ours, theirs, R.standard_normal((4, 3, 2, 2)))
    ours.eval()
    theirs.eval()
    compare(ours, theirs, R.standard_normal((4, 3, 2, 2)), grads=False)


def test_batchnorm_errors():
    with pytest.raises(cr.ShapeError, match="expected 4D input"):
        nn.BatchNorm2d(3)(cr.randn(2, 3))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(cr.randn(1, 3))


@pytest.mark.parametrize("kwargs", [dict(), dict(elementwise_affine=False), dict(bias=False), dict(eps=1e-2)])
def test_layernorm_module(kwargs):
    ours, theirs = pair(lambda: nn.LayerNorm((3, 4), **kwargs), lambda: torch.nn.LayerNorm((3, 4), **kwargs))
    with torch.no_grad():
        for p in theirs.parameters():
            p.uniform_(-1, 1)
    copy_from(theirs, ours)
    compare(ours, theirs, R.standard_normal((2, 3, 4)))


def test_dropout_module_train_and_eval():
    cr.manual_seed(3)
    layer = nn.Dropout(0.25)
    x = cr.ones(100, 100)
    y = layer(x)
    assert y.dtype == np.float32
    assert set(np.unique(y.array)) <= {np.float32(0.0), np.float32(1 / 0.75)}
    assert abs((y.array == 0).mean() - 0.25) < 0.015  # 10,000 draws: σ ≈ 0.0043
    layer.eval()
    assert layer(x) is x
    assert repr(layer) == repr(torch.nn.Dropout(0.25))


def test_embedding_module():
    ours, theirs = pair(lambda: nn.Embedding(10, 4, padding_idx=0), lambda: torch.nn.Embedding(10, 4, padding_idx=0))
    idx = np.array([[0, 3, 3], [9, 0, 1]])
    out, ref = ours(idx), theirs(torch.tensor(idx))
    assert_close(out.array, ref.detach().numpy())
    g = R.standard_normal(ref.shape)
    out.backward(gradient=g)
    ref.backward(torch.tensor(g))
    assert_close(ours.weight.grad, theirs.weight.grad.numpy())
    assert not nn.Embedding(5, 3, padding_idx=2).weight.array[2].any()


@pytest.mark.parametrize("make", [lambda m: m.GELU(), lambda m: m.GELU("tanh"), lambda m: m.ELU(0.5), lambda m: m.SiLU(),
                                  lambda m: m.LogSoftmax(1), lambda m: m.LogSoftmax()])
def test_activation_modules(make):
    compare(make(nn), make(torch.nn), R.standard_normal((3, 4)) * 2)


@pytest.mark.parametrize("make", [
    lambda m: m.NLLLoss(), lambda m: m.NLLLoss(ignore_index=1, reduction="sum"), lambda m: m.CrossEntropyLoss(label_smoothing=0.1),
    lambda m: m.CrossEntropyLoss(ignore_index=2),
])
def test_classification_loss_modules(make):
    compare(make(nn), make(torch.nn), R.standard_normal((5, 4)), np.array([0, 1, 2, 3, 1]))


def test_weighted_loss_modules():
    w = R.uniform(0.5, 2, 4)
    compare(nn.CrossEntropyLoss(weight=cr.tensor(w)), torch.nn.CrossEntropyLoss(weight=torch.tensor(w)),
            R.standard_normal((5, 4)), np.array([0, 1, 2, 3, 1]))
    compare(nn.NLLLoss(weight=cr.tensor(w)), torch.nn.NLLLoss(weight=torch.tensor(w)),
            R.standard_normal((5, 4)), np.array([0, 1, 2, 3, 1]))
    pw = R.uniform(0.5, 2, 4)
    compare(nn.BCEWithLogitsLoss(pos_weight=cr.tensor(pw)), torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(pw)),
            R.standard_normal((5, 4)), R.uniform(0, 1, (5, 4)))


@pytest.mark.parametrize("make", [lambda m: m.L1Loss(), lambda m: m.SmoothL1Loss(beta=0.5), lambda m: m.HuberLoss(delta=2.0),
                                  lambda m: m.HuberLoss(reduction="none")])
def test_regression_loss_modules(make):
    compare(make(nn), make(torch.nn), R.standard_normal((5, 4)) * 2, R.standard_normal((5, 4)))


# ----------------------------------------------------------------------------- recurrent layers
@pytest.mark.parametrize("cls", ["RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("batched", [True, False])
def test_cells(cls, batched):
    ours, theirs = pair(lambda: getattr(nn, cls)(3, 5), lambda: getattr(torch.nn, cls)(3, 5))
    x = R.standard_normal((4, 3) if batched else (3,))
    hshape = (4, 5) if batched else (5,)
    if cls == "LSTMCell":
        h, c = R.standard_normal(hshape), R.standard_normal(hshape)
        ci = (cr.tensor(h, requires_grad=True), cr.tensor(c, requires_grad=True))
        ti = (torch.tensor(h, requires_grad=True), torch.tensor(c, requires_grad=True))
        out, ref = ours(cr.tensor(x), ci), theirs(torch.tensor(x), ti)
        for a, b in zip(out, ref):
            assert_close(a.array, b.detach().numpy())
        (out[0].sum() + (out[1] * 2).sum()).backward()
        (ref[0].sum() + (ref[1] * 2).sum()).backward()
        assert_close(ci[1].grad, ti[1].grad.numpy())
    else:
        compare(ours, theirs, x, R.standard_normal(hshape))
    compare(ours, theirs, x)  # no hidden state: zeros


def test_rnn_cell_relu():
    ours, theirs = pair(lambda: nn.RNNCell(3, 4, nonlinearity="relu"), lambda: torch.nn.RNNCell(3, 4, nonlinearity="relu"))
    compare(ours, theirs, R.standard_normal((2, 3)))


RNNS = [dict(), dict(batch_first=True), dict(num_layers=2), dict(bidirectional=True, batch_first=True),
        dict(num_layers=2, bidirectional=True, bias=False)]


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("kwargs", RNNS)
def test_sequence_layers_backprop_through_time(cls, kwargs):
    ours, theirs = pair(lambda: getattr(nn, cls)(3, 4, **kwargs), lambda: getattr(torch.nn, cls)(3, 4, **kwargs))
    x = R.standard_normal((2, 5, 3))  # (N, L) or (L, N): 2 and 5 both read as batch or length
    compare(ours, theirs, x)
    d = 2 if kwargs.get("bidirectional") else 1
    layers = kwargs.get("num_layers", 1)
    h0 = R.standard_normal((layers * d, 5 if not kwargs.get("batch_first") else 2, 4))
    state = (h0, R.standard_normal(h0.shape)) if cls == "LSTM" else h0
    ours.zero_grad()
    theirs.zero_grad()
    ci = tuple(cr.tensor(s, requires_grad=True) for s in state) if cls == "LSTM" else cr.tensor(state, requires_grad=True)
    ti = tuple(torch.tensor(s, requires_grad=True) for s in state) if cls == "LSTM" else torch.tensor(state, requires_grad=True)
    out, ref = ours(cr.tensor(x), ci), theirs(torch.tensor(x), ti)
    for a, b in zip(_flatten(out), _flatten(ref)):
        assert_close(a.array, b.detach().numpy())
    (out[0] ** 2).sum().backward()
    (ref[0] ** 2).sum().backward()
    for a, b in zip(_flatten(ci), _flatten(ti)):
        assert_close(a.grad, b.grad.numpy(), what="grad of the initial state")
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():  # the weights' gradients are sums over every time step
        assert_close(p.grad, theirs_params[name].grad.numpy(), what=f"grad of {name}")


def test_unbatched_sequence():
    ours, theirs = pair(lambda: nn.LSTM(3, 4), lambda: torch.nn.LSTM(3, 4))
    compare(ours, theirs, R.standard_normal((6, 3)))


def test_rnn_gradient_is_summed_over_time_by_hand():
    """A scalar RNN h_t = w·h_(t−1) + x_t (no tanh: relu on positive values), 3 steps: dh_3/dw by hand."""
    cell = nn.RNNCell(1, 1, bias=False, nonlinearity="relu").double()
    with cr.no_grad():
        cell.weight_ih.fill_(1.0)
        cell.weight_hh.fill_(0.5)
    h = cr.tensor([[1.0]], dtype=np.float64)
    for x in (2.0, 3.0, 4.0):
        h = cell(cr.tensor([[x]], dtype=np.float64), h)
    h.sum().backward()
    # h1 = 0.5·1 + 2 = 2.5, h2 = 0.5·2.5 + 3 = 4.25, h3 = 0.5·4.25 + 4 = 6.125
    # dh3/dw = h2 + w·(h1 + w·h0) = 4.25 + 0.5·(2.5 + 0.5·1) = 5.75
    assert_close(h.item(), 6.125)
    assert_close(cell.weight_hh.grad, [[5.75]])


# ----------------------------------------------------------------------------- initialisation
@pytest.mark.parametrize("make,name,bound", [
    (lambda: nn.Conv2d(6, 16, 5), "weight", 1 / math.sqrt(150)),
    (lambda: nn.Conv2d(6, 16, 5), "bias", 1 / math.sqrt(150)),
    (lambda: nn.Conv2d(4, 8, 3, groups=2), "weight", 1 / math.sqrt(18)),
    (lambda: nn.ConvTranspose2d(6, 4, 3), "weight", 1 / math.sqrt(36)),
    (lambda: nn.ConvTranspose2d(6, 4, 3), "bias", 1 / math.sqrt(36)),
    (lambda: nn.LSTM(3, 25), "weight_hh_l0", 0.2),
    (lambda: nn.GRUCell(3, 16), "bias_ih", 0.25),
])
def test_initialisation_bounds_as_torch(make, name, bound):
    """kaiming_uniform(a=√5) gives ±1/√fan_in (hand algebra: gain √(2/6), bound √3·gain/√fan_in)."""
    cr.manual_seed(1)
    values = dict(make().named_parameters())[name].array
    assert np.abs(values).max() <= bound
    assert np.abs(values).max() > 0.9 * bound  # the range is used, not a narrower one
    assert abs(values.mean()) < bound / 2


def test_state_dict_keys_match_torch():
    for ours, theirs in [(nn.BatchNorm2d(3), torch.nn.BatchNorm2d(3)),
                         (nn.LSTM(3, 4, num_layers=2, bidirectional=True), torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True)),
                         (nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)), torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2)))]:
        assert list(ours.state_dict()) == list(theirs.state_dict())
        assert [k for k, _ in ours.named_parameters()] == [k for k, _ in theirs.named_parameters()]
        for k, v in theirs.state_dict().items():
            assert ours.state_dict()[k].shape == tuple(v.shape), k


@pytest.mark.parametrize("make,shape", [
    (lambda m: m.Sequential(m.Conv2d(1, 4, 3, padding=1), m.BatchNorm2d(4), m.ReLU(), m.MaxPool2d(2), m.Flatten(),
                            m.Linear(64, 5)), (6, 1, 8, 8)),
    (lambda m: m.LSTM(3, 4, num_layers=2, batch_first=True), (2, 5, 3)),
    (lambda m: m.GRU(3, 4, bidirectional=True), (5, 2, 3)),
])
def test_modules_in_float32(make, shape):
    """The default dtype: values and parameter gradients as torch's float32 to float32's precision."""
    torch.manual_seed(0)
    theirs, ours = make(torch.nn), make(nn)
    copy_from(theirs, ours)
    x = R.standard_normal(shape).astype(np.float32)
    out, ref = ours(cr.tensor(x)), theirs(torch.tensor(x))
    out, ref = (out[0], ref[0]) if isinstance(out, tuple) else (out, ref)
    assert out.dtype == np.float32
    assert_close(out.array, ref.detach().numpy(), rtol=1e-5, atol=1e-5, what="value")
    (out * out).sum().backward()
    (ref * ref).sum().backward()
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert p.grad.dtype == np.float32
        assert_close(p.grad, theirs_params[name].grad.numpy(), rtol=1e-4, atol=1e-4, what=f"grad of {name}")
