"""PyTorch code runs unchanged: each test runs the same body on torch and on chainrule and compares
values, gradients and raised errors (type and the gist of the message)."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import chainrule as cr

LIBS = pytest.mark.parametrize("L", [cr, torch], ids=["chainrule", "torch"])


def grad_api(L):
    return L.autograd.grad


def arr(t):
    return np.array(t.detach().numpy() if hasattr(t, "detach") else t)


def both(body, *args):
    """body(L, *args) on both libraries; returns (ours, theirs) converted to NumPy where possible."""
    out = []
    for L in (cr, torch):
        result = body(L, *args)
        out.append(result)
    return out


def assert_same(body, rtol=1e-12, atol=0.0):
    ours, theirs = both(body)
    ours = ours if isinstance(ours, (tuple, list)) else [ours]
    theirs = theirs if isinstance(theirs, (tuple, list)) else [theirs]
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        if b is None:
            assert a is None
            continue
        np.testing.assert_allclose(arr(a), arr(b), rtol=rtol, atol=atol)


def raises_like_torch(body, gist):
    """Both libraries raise RuntimeError (PyTorch's type) whose message contains ``gist``."""
    for L in (cr, torch):
        with pytest.raises(RuntimeError, match=gist):
            body(L)


# ----------------------------------------------------------------------------- version counter (item 2)
def test_change_through_detach_is_caught():
    def body(L):
        w = L.tensor([1.0, 2.0], dtype=L.float64, requires_grad=True)
        x = L.tensor([3.0, 4.0], dtype=L.float64)
        z = (w * x.detach()).sum()
        with L.no_grad():
            x.mul_(2)
        z.backward()

    raises_like_torch(body, "modified by an inplace operation")


@pytest.mark.parametrize("view", ["slice", "reshape", "transpose"])
def test_change_of_base_is_caught_through_its_views(view):
    def body(L):
        w = L.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=L.float64, requires_grad=True)
        x = L.tensor([[3.0, 4.0], [5.0, 6.0]], dtype=L.float64)
        v = {"slice": lambda: x[:1], "reshape": lambda: x.reshape(2, 2), "transpose": lambda: x.transpose(0, 1)}[view]()
        z = (w * v).sum()
        x[0, 0] = 5.0
        z.backward()

    raises_like_torch(body, "modified by an inplace operation")


def test_change_of_an_output_that_backward_reads_is_caught():
    def body(L):
        x = L.tensor([0.5, -1.0], dtype=L.float64, requires_grad=True)
        y = x.exp()
        z = y.sum()
        with L.no_grad():
            y.mul_(2)
        z.backward()

    raises_like_torch(body, "modified by an inplace operation")


# ----------------------------------------------------------------------------- setitem from the graph (item 3)
def test_setitem_with_a_value_that_requires_grad_records_it():
    def body(L):
        b = L.tensor([1.0, 2.0], dtype=L.float64, requires_grad=True)
        out = L.zeros(3, dtype=L.float64)
        out[0] = b.sum()
        out[2] = b[1] * 3
        assert out.requires_grad and not out.is_leaf
        (out * L.tensor([2.0, 5.0, 7.0], dtype=L.float64)).sum().backward()
        return out, b.grad

    assert_same(body)


# ----------------------------------------------------------------------------- in-place ops on non-leaf tensors
@pytest.mark.parametrize("case", ["setitem", "add_", "mask", "relu_", "mul_tensor", "chain", "clamp_", "iadd"])
def test_inplace_on_non_leaf_gives_torchs_gradients(case):
    def body(L):
        x = L.tensor([[-1.0, 2.0, 0.5], [3.0, -0.25, 1.5]], dtype=L.float64, requires_grad=True)
        w = L.tensor([0.3, -2.0, 1.25], dtype=L.float64, requires_grad=True)
        y = x * 2 + 1
        before = y * 1  # an op recorded before the in-place change keeps the old history
        if case == "setitem":
            y[1] = 2
        elif case == "add_":
            y.add_(2)
        elif case == "mask":
            y[y > 2] = 0
        elif case == "relu_":
            y.relu_()
        elif case == "mul_tensor":
            y.mul_(w)
        elif case == "chain":
            y[:, 0] = w[0] * 4
            y.sub_(w)
        elif case == "clamp_":
            y.clamp_(min=0.0, max=3.0)
        elif case == "iadd":
            y += w
        ((y * y).sum() + before.sum()).backward()
        return y, x.grad, w.grad

    assert_same(body)


def test_inplace_that_overwrites_a_value_backward_needs_raises():
    def body(L):
        x = L.tensor([0.5, -1.0], dtype=L.float64, requires_grad=True)
        y = x * 1
        z = y * y  # MulBackward reads y
        y.add_(1)
        z.sum().backward()

    raises_like_torch(body, "modified by an inplace operation")


def test_inplace_on_leaf_that_requires_grad_raises():
    def body(L):
        x = L.tensor([1.0], requires_grad=True)
        x.add_(1)

    raises_like_torch(body, "leaf Variable that requires grad is being used in an in-place operation")


def test_inplace_on_a_view_of_a_graph_tensor_is_refused_not_wrong():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="view of a tensor that takes part in the graph"):
        y[:2].mul_(3)


# ----------------------------------------------------------------------------- max/min with dim (item 4)
def test_max_dim_unpacks_like_torch():
    def body(L):
        x = L.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]], dtype=L.float64, requires_grad=True)
        v, i = x.max(dim=1)
        first = x.max(1)[0]
        (v * L.tensor([1.0, 10.0], dtype=L.float64)).sum().backward()
        return v, i, first, x.grad

    assert_same(body)


# ----------------------------------------------------------------------------- nn.Sequential(OrderedDict) (item 5)
def test_sequential_from_ordered_dict():
    ours = cr.nn.Sequential(OrderedDict([("fc", cr.nn.Linear(2, 3)), ("act", cr.nn.ReLU()), ("out", cr.nn.Linear(3, 1))]))
    theirs = torch.nn.Sequential(OrderedDict([("fc", torch.nn.Linear(2, 3)), ("act", torch.nn.ReLU()), ("out", torch.nn.Linear(3, 1))]))
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["fc.weight", "fc.bias", "out.weight", "out.bias"]
    assert repr(ours) == repr(theirs)
    assert ours.fc is ours[0] and len(list(ours.parameters())) == 4


# ----------------------------------------------------------------------------- .grad and requires_grad (item 6)
def test_grad_accumulates_in_place_so_references_stay_current():
    def body(L):
        w = L.tensor([1.0, 2.0], dtype=L.float64, requires_grad=True)
        (w * 3).sum().backward()
        ref = w.grad
        (w * w).sum().backward()
        assert ref is w.grad
        return ref

    assert_same(body)


def test_requires_grad_on_integer_tensor_raises():
    def body(L):
        t = L.tensor([1, 2])
        t.requires_grad = True

    raises_like_torch(body, "only Tensors of floating point")


def test_requires_grad_false_on_non_leaf_raises():
    def body(L):
        x = L.tensor([1.0], requires_grad=True)
        y = x * 2
        y.requires_grad = False

    raises_like_torch(body, "you can only change requires_grad flags of leaf variables")


def test_grad_assignment_is_checked():
    def body(L):
        w = L.tensor([1.0, 2.0], requires_grad=True)
        w.grad = L.ones(3)

    for L in (cr, torch):
        with pytest.raises(RuntimeError, match="size"):
            body(L)


# ----------------------------------------------------------------------------- .data and .grad are tensors
def test_data_and_grad_are_tensors_that_share_memory():
    def body(L):
        lin = L.nn.Linear(2, 1)
        lin.weight.data = L.ones(1, 2)
        lin.bias.data.fill_(0.5)
        out = lin(L.tensor([[1.0, 2.0]]))
        out.sum().backward()
        g = lin.weight.grad
        as_numpy = g.numpy().copy()
        also = np.asarray(lin.weight.grad).copy()
        lin.weight.grad.zero_()
        return out, as_numpy, also, lin.weight.grad, lin.bias.grad

    assert_same(body)


def test_data_normal_reseeds_the_values():
    p = cr.nn.Parameter(cr.zeros(1000))
    cr.manual_seed(0)
    p.data.normal_(0.0, 2.0)
    assert abs(float(p.array.std()) - 2.0) < 0.2 and p.requires_grad


# ----------------------------------------------------------------------------- optimizers
def _frozen_run(L):
    L.manual_seed(0)
    model = L.nn.Sequential(L.nn.Linear(3, 4), L.nn.Tanh(), L.nn.Linear(4, 2))
    with L.no_grad():
        for p in model.parameters():
            p.copy_(L.tensor(np.linspace(-1, 1, p.numel()).reshape(p.shape), dtype=L.float32))
    for p in model[0].parameters():
        p.requires_grad = False
    opt = L.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = L.tensor(np.arange(6, dtype=np.float32).reshape(2, 3) / 5)
    for _ in range(3):
        opt.zero_grad()
        loss = (model(x) ** 2).mean()
        loss.backward()
        opt.step()
    return [p.detach() for p in model.parameters()]


def test_optimizer_accepts_frozen_parameters():
    ours, theirs = both(_frozen_run)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(arr(a), arr(b), rtol=1e-6, atol=1e-7)


def test_step_with_closure_and_add_param_group():
    def body(L):
        a = L.tensor([1.0, -2.0], dtype=L.float64, requires_grad=True)
        b = L.tensor([0.5], dtype=L.float64, requires_grad=True)
        opt = L.optim.SGD([a], lr=0.1)
        opt.add_param_group({"params": [b], "lr": 0.01, "momentum": 0.5})

        def closure():
            opt.zero_grad()
            loss = (a * a).sum() + (b * 3).sum() ** 2
            loss.backward()
            return loss

        losses = [opt.step(closure) for _ in range(3)]
        return a, b, L.stack([loss.detach() for loss in losses]), opt.param_groups[1]["momentum"]

    assert_same(body)


# ----------------------------------------------------------------------------- grad mode
def test_no_grad_as_decorator_without_parentheses():
    for L in (cr, torch):
        @L.no_grad
        def f(x):
            return x * 2

        @L.no_grad()
        def g(x):
            return x * 2

        x = L.tensor([1.0], requires_grad=True)
        assert not f(x).requires_grad and not g(x).requires_grad and (x * 2).requires_grad


def test_set_grad_enabled_and_inference_mode():
    for L in (cr, torch):
        x = L.tensor([1.0], requires_grad=True)
        with L.set_grad_enabled(False):
            assert not (x * 2).requires_grad
        assert (x * 2).requires_grad
        with L.inference_mode():
            assert not (x * 2).requires_grad
        with L.inference_mode(False):
            assert (x * 2).requires_grad
        L.set_grad_enabled(False)
        assert not L.is_grad_enabled()
        L.set_grad_enabled(True)
        assert L.is_grad_enabled()


def test_detach_and_requires_grad_in_place():
    def body(L):
        x = L.tensor([1.0, 2.0], dtype=L.float64).requires_grad_()
        y = x * 3
        y.detach_()
        assert y.is_leaf and not y.requires_grad
        z = (x * y).sum()
        z.backward()
        return x.grad

    assert_same(body)


# ----------------------------------------------------------------------------- hooks and autograd.grad
def test_register_hook_on_leaf_and_non_leaf():
    def body(L):
        x = L.tensor([1.0, -2.0, 3.0], dtype=L.float64, requires_grad=True)
        seen = []
        h1 = x.register_hook(lambda g: g * 2)
        y = x * x
        y.register_hook(lambda g: seen.append(g.clone()))
        y.retain_grad()
        y.sum().backward()
        h1.remove()
        (x * 1).sum().backward()
        return x.grad, y.grad, seen[0]

    assert_same(body)


def test_autograd_grad_returns_without_accumulating():
    def body(L):
        x = L.tensor([1.0, 2.0], dtype=L.float64, requires_grad=True)
        w = L.tensor([3.0, -1.0], dtype=L.float64, requires_grad=True)
        h = x * w
        y = (h * h).sum()
        gx, gh = grad_api(L)(y, [x, h])
        assert x.grad is None and w.grad is None
        return gx, gh

    assert_same(body)


def test_autograd_grad_allow_unused():
    def body(L):
        x = L.tensor([1.0], requires_grad=True)
        u = L.tensor([1.0], requires_grad=True)
        grad_api(L)((x * 2).sum(), [x, u])

    raises_like_torch(body, "appears to not have been used in the graph")
    for L in (cr, torch):
        x = L.tensor([1.0], requires_grad=True)
        u = L.tensor([1.0], requires_grad=True)
        assert grad_api(L)((x * 2).sum(), [x, u], allow_unused=True)[1] is None


# ----------------------------------------------------------------------------- higher-order gradients
def test_hessian_vector_product():
    def body(L):
        x = L.tensor([0.3, -1.2, 2.0], dtype=L.float64, requires_grad=True)
        y = (x.sin() * x.exp()).sum() + (x ** 3).sum() + (x.tanh() * x.sigmoid()).sum() + x.norm() * (x * x).log1p().sum()
        (g,) = grad_api(L)(y, x, create_graph=True)
        v = L.tensor([0.1, -0.2, 0.3], dtype=L.float64)
        (hv,) = grad_api(L)((g * v).sum(), x)
        return g, hv

    assert_same(body, rtol=1e-12)


def test_hessian_vector_product_against_finite_differences_of_the_gradient():
    def gradient(values):
        x = cr.tensor(values, requires_grad=True)
        ((x * x.exp()).sum() + (x[0] * x[1]) ** 2).backward()
        return np.array(x.grad)

    x0, v, eps = np.array([0.4, -0.7]), np.array([1.0, 2.0]), 1e-6
    x = cr.tensor(x0, requires_grad=True)
    (g,) = cr.autograd.grad((x * x.exp()).sum() + (x[0] * x[1]) ** 2, x, create_graph=True)
    (hv,) = cr.autograd.grad((g * cr.tensor(v)).sum(), x)
    fd = (gradient(x0 + eps * v) - gradient(x0 - eps * v)) / (2 * eps)
    np.testing.assert_allclose(np.array(hv), fd, rtol=1e-7)


def test_newtons_method_on_a_scalar_function():
    def body(L):
        x = L.tensor(1.5, dtype=L.float64, requires_grad=True)
        for _ in range(6):
            f = x ** 3 - 2 * x - 5  # root near 2.0946
            (d1,) = grad_api(L)(f, x, create_graph=True)
            (d2,) = grad_api(L)(d1, x)
            with L.no_grad():  # Newton on f' = 0 is minimising; here the root of f: x -= f/f'
                x -= f.detach() / d1.detach()
            x.grad = None
        return x, d2

    assert_same(body)


def test_gradient_penalty():
    def body(L):
        L.manual_seed(0)
        net = L.nn.Sequential(L.nn.Linear(2, 4), L.nn.Tanh(), L.nn.Linear(4, 1))
        with L.no_grad():
            for p in net.parameters():
                p.copy_(L.tensor(np.linspace(-0.8, 0.9, p.numel()).reshape(p.shape), dtype=L.float64))
        net = net.double()
        x = L.tensor([[0.5, -1.0], [2.0, 0.25]], dtype=L.float64, requires_grad=True)
        out = net(x)
        (gx,) = grad_api(L)(out.sum(), x, create_graph=True)
        penalty = ((gx.norm(dim=1) - 1) ** 2).mean()
        penalty.backward()
        return [penalty] + [p.grad for p in net.parameters()] + [x.grad]

    assert_same(body)


def test_backward_create_graph_then_differentiate_the_grad():
    def body(L):
        x = L.tensor([0.5, 1.5], dtype=L.float64, requires_grad=True)
        (x ** 4).sum().backward(create_graph=True)
        g = x.grad
        assert g.requires_grad
        x.grad = None
        g.sum().backward()
        return x.grad

    assert_same(body)


def test_double_backward_through_an_unsupported_op_says_so():
    x = cr.tensor([[0.5, 1.5]], requires_grad=True)
    loss = cr.nn.functional.cross_entropy(x, np.array([1]))
    with pytest.raises(RuntimeError, match="cross_entropy is not written to be differentiated again"):
        cr.autograd.grad(loss, x, create_graph=True)


# ----------------------------------------------------------------------------- nn containers, buffers, utils
def test_module_list_dict_buffers_and_state_dict_keys():
    def build(L):
        class Net(L.nn.Module):
            def __init__(self):
                super().__init__()
                self.blocks = L.nn.ModuleList([L.nn.Linear(2, 2), L.nn.Linear(2, 2)])
                self.heads = L.nn.ModuleDict({"a": L.nn.Linear(2, 1), "b": L.nn.Linear(2, 3)})
                self.register_buffer("scale", L.ones(2))
                self.register_buffer("tmp", L.zeros(1), persistent=False)

            def forward(self, x):
                for block in self.blocks:
                    x = block(x) * self.scale
                return self.heads["a"](x)

        return Net()

    ours, theirs = build(cr), build(torch)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert len(ours.blocks) == 2 and "b" in ours.heads and list(ours.heads.keys()) == ["a", "b"]
    ours.eval()
    assert not ours.blocks[1].training
    names = []
    ours.apply(lambda m: names.append(type(m).__name__))
    assert names[-1] == "Net" and names.count("Linear") == 4


def test_clip_grad_norm_matches_torch():
    def body(L):
        a = L.tensor([3.0, -4.0], dtype=L.float64, requires_grad=True)
        b = L.tensor([[12.0]], dtype=L.float64, requires_grad=True)
        ((a * a).sum() + (b * b).sum()).backward()
        total = L.nn.utils.clip_grad_norm_([a, b], max_norm=1.0)
        return total, a.grad, b.grad

    assert_same(body, rtol=1e-12)


# ----------------------------------------------------------------------------- to_torch / from_torch
def test_to_torch_gives_the_same_outputs():
    cr.manual_seed(3)
    ours = cr.nn.Sequential(cr.nn.Linear(4, 16), cr.nn.ReLU(), cr.nn.Linear(16, 8), cr.nn.LeakyReLU(0.1),
                            cr.nn.Linear(8, 3), cr.nn.Softmax(dim=1))
    theirs = ours.to_torch()
    assert isinstance(theirs, torch.nn.Sequential) and repr(theirs) == repr(ours)
    x = np.random.default_rng(0).standard_normal((7, 4)).astype(np.float32)
    np.testing.assert_allclose(arr(ours(cr.tensor(x))), arr(theirs(torch.tensor(x))), rtol=1e-6, atol=1e-6)


def test_from_torch_keeps_weights_names_and_dtype():
    theirs = torch.nn.Sequential(OrderedDict([("fc", torch.nn.Linear(3, 2)), ("act", torch.nn.Tanh())])).double()
    ours = cr.nn.from_torch(theirs)
    assert list(ours.state_dict()) == ["fc.weight", "fc.bias"] and ours.fc.weight.dtype == np.float64
    x = np.random.default_rng(1).standard_normal((4, 3))
    np.testing.assert_allclose(arr(ours(cr.tensor(x))), arr(theirs(torch.tensor(x))), rtol=1e-12)


def test_to_torch_refuses_a_custom_forward():
    class Mine(cr.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = cr.nn.Linear(2, 2)

        def forward(self, x):
            return self.fc(x) * 2

    with pytest.raises(TypeError, match="no PyTorch twin for Mine"):
        Mine().to_torch()


@pytest.mark.parametrize("make, shape", [
    (lambda: cr.nn.LSTM(3, 4, num_layers=2, batch_first=True), (2, 5, 3)),
    (lambda: cr.nn.GRU(3, 4, bidirectional=True), (5, 2, 3)),
    (lambda: cr.nn.RNN(3, 4, nonlinearity="relu", bias=False), (5, 2, 3)),
    (lambda: cr.nn.Sequential(cr.nn.Conv2d(1, 2, 3, padding=1), cr.nn.BatchNorm2d(2), cr.nn.ReLU(), cr.nn.MaxPool2d(2),
                              cr.nn.Flatten(), cr.nn.Linear(8, 3)), (2, 1, 4, 4)),
], ids=["lstm", "gru", "rnn-relu-nobias", "cnn"])
def test_to_torch_of_recurrent_and_convolutional_layers(make, shape):
    cr.manual_seed(0)
    ours = make()
    theirs = ours.to_torch()
    assert list(theirs.state_dict()) == list(ours.state_dict())
    x = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    a, b = ours(cr.tensor(x)), theirs(torch.tensor(x))
    a, b = (a[0], b[0]) if isinstance(a, tuple) else (a, b)
    np.testing.assert_allclose(arr(a), arr(b), rtol=1e-5, atol=1e-6)


def test_cross_entropy_backward_twice_with_retain_graph():
    """The fused cross-entropy keeps its softmax from the forward for the first backward; a second
    backward through the retained graph must give the same gradient again (accumulated: twice it)."""
    def body(L):
        z = L.tensor([[0.5, -1.0, 2.0], [1.5, 0.25, -0.5]], dtype=L.float64, requires_grad=True)
        loss = L.nn.functional.cross_entropy(z * 2, L.tensor([2, 0]))
        loss.backward(retain_graph=True)
        first = z.grad.clone()
        loss.backward()
        return loss, first, z.grad

    assert_same(body)


def test_max_pool2d_output_changed_in_place_before_backward():
    """max_pool2d's backward reads its input and arg-max, not its output (PyTorch saves the indices), so
    an in-place ReLU on the pooled output is allowed and the gradient still routes to the winners."""
    def body(L):
        x = L.tensor(np.arange(32, dtype=np.float32).reshape(1, 2, 4, 4) % 7 - 3, requires_grad=True)
        y = L.nn.functional.max_pool2d(x * 1, 2)
        y.relu_()
        (y * L.tensor(np.arange(8, dtype=np.float32).reshape(1, 2, 2, 2))).sum().backward()
        return y, x.grad

    assert_same(body)
