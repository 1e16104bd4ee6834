"""PyTorch semantics that are easy to get subtly wrong: augmented assignment, dtype promotion,
construction from tensors, Module attribute rules, Sequential slicing, graph memory.

Expected values are PyTorch's documented behaviour (checked against torch 2.x) or hand algebra.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import chainrule as cr
from chainrule.errors import DTypeError, GraphError

# ----------------------------------------------------------------------------- augmented assignment


def test_manual_sgd_loop_with_isub_updates_the_parameter_in_place():
    # The classic loop `with no_grad(): p -= lr * p.grad` must change the model's own parameter.
    model = cr.nn.Linear(2, 1, bias=False)
    with cr.no_grad():
        model.weight.copy_(np.array([[1.0, 2.0]], dtype=np.float32))
    model(cr.tensor([3.0, 4.0])).sum().backward()  # d/dw = x = (3, 4)
    with cr.no_grad():
        for p in model.parameters():
            p -= 0.5 * p.grad
    np.testing.assert_allclose(model.weight.data, [[1.0 - 1.5, 2.0 - 2.0]])
    assert model.weight.is_leaf and model.weight.requires_grad


@pytest.mark.parametrize(
    "op, expected",
    [
        (lambda t: t.__iadd__(2.0), [3.0, 4.0]),
        (lambda t: t.__isub__(2.0), [-1.0, 0.0]),
        (lambda t: t.__imul__(2.0), [2.0, 4.0]),
        (lambda t: t.__itruediv__(2.0), [0.5, 1.0]),
    ],
)
def test_augmented_assignment_mutates_the_same_tensor(op, expected):
    t = cr.tensor([1.0, 2.0])
    alias = t
    result = op(t)
    assert result is t
    np.testing.assert_allclose(alias.data, expected)
    assert alias.dtype == np.float32


def test_augmented_assignment_bumps_the_version_so_backward_sees_the_change():
    x = cr.tensor([1.0, 2.0])
    w = cr.tensor([3.0, 4.0], requires_grad=True)
    y = (w * x).sum()  # backward needs x
    x += 1  # PyTorch: "one of the variables needed for gradient computation has been modified"
    with pytest.raises(GraphError, match="in-place"):
        y.backward()


def test_augmented_assignment_on_leaf_that_requires_grad_errors_under_grad_mode():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(GraphError, match="leaf"):
        w += 1  # PyTorch: a leaf Variable that requires grad is being used in an in-place operation
    np.testing.assert_allclose(w.data, [1.0, 2.0])


def test_augmented_assignment_in_the_graph_keeps_gradients_right():
    # loss accumulation `total += term` on graph tensors: d/dw of w*w + 3w = 2w + 3.
    w = cr.tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    total = w * w
    total += 3 * w
    total.sum().backward()
    np.testing.assert_allclose(w.grad, [5.0, 7.0])
    # and a constant accumulator that receives a term needing grad joins the graph (as in PyTorch)
    w.grad = None
    acc = cr.zeros(2, dtype=np.float64)
    acc += w * w
    acc.sum().backward()
    np.testing.assert_allclose(w.grad, [2.0, 4.0])


def test_augmented_assignment_cannot_change_dtype_kind():
    t = cr.tensor([1, 2])
    with pytest.raises(DTypeError):
        t += 0.5  # PyTorch: result type Float can't be cast to the desired output type Long
    np.testing.assert_array_equal(t.data, [1, 2])
    t += 1
    np.testing.assert_array_equal(t.data, [2, 3])


# ----------------------------------------------------------------------------- dtype promotion


def test_int_tensor_times_python_float_is_default_float():
    assert (cr.tensor([1, 2]) * 0.5).dtype == np.float32  # torch.float32
    assert (0.5 * cr.tensor([1, 2])).dtype == np.float32
    np.testing.assert_allclose((cr.tensor([1, 2]) * 0.5).data, [0.5, 1.0])


def test_int_tensor_true_division_is_default_float():
    assert (cr.tensor([1, 2]) / cr.tensor([2, 2])).dtype == np.float32  # torch.float32
    assert (cr.tensor([1, 2]) / 2).dtype == np.float32
    assert (1 / cr.tensor([2])).dtype == np.float32
    np.testing.assert_allclose((cr.tensor([1, 3]) / 2).data, [0.5, 1.5])


def test_int_tensor_with_float_tensor_takes_the_float_dtype():
    i = cr.tensor([1, 2])
    f = cr.tensor([0.5, 0.5])
    assert (i + f).dtype == np.float32  # torch: int64 + float32 -> float32 (numpy would say float64)
    assert (f * i).dtype == np.float32
    w = cr.tensor([0.5, 0.25], requires_grad=True)
    (w * i).sum().backward()
    assert w.grad.dtype == np.float32
    np.testing.assert_allclose(w.grad, [1.0, 2.0])


def test_bool_tensor_plus_python_int_is_int64():
    out = cr.tensor([True, False]) + 1
    assert out.dtype == np.int64  # torch.int64
    np.testing.assert_array_equal(out.data, [2, 1])


def test_zero_dim_tensor_does_not_promote_a_dimensioned_one():
    # PyTorch: a 0-d tensor of the same category does not decide the result dtype.
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    s = cr.tensor(2.0, dtype=np.float64, requires_grad=True)
    y = x * s
    assert y.dtype == np.float32
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [2.0, 2.0])
    np.testing.assert_allclose(s.grad, 3.0)
    assert x.grad.dtype == np.float32 and s.grad.dtype == np.float64
    # two dimensioned tensors still promote (torch: float32 + float64 -> float64)
    assert (cr.tensor([1.0]) + cr.tensor([1.0], dtype=np.float64)).dtype == np.float64


def test_mean_of_integer_tensor_errors_like_pytorch():
    with pytest.raises(DTypeError, match="mean"):
        cr.tensor([1, 2]).mean()


# ----------------------------------------------------------------------------- construction


def test_tensor_from_a_list_of_tensors():
    t = cr.tensor([cr.tensor(1.0), cr.tensor(2.0)])  # torch.tensor([tensor(1.), tensor(2.)])
    assert t.dtype == np.float32 and t.shape == (2,)
    np.testing.assert_allclose(t.data, [1.0, 2.0])
    rows = cr.tensor([cr.tensor([1.0, 2.0]), cr.tensor([3.0, 4.0])])
    np.testing.assert_allclose(rows.data, [[1.0, 2.0], [3.0, 4.0]])
    assert not rows.requires_grad


# ----------------------------------------------------------------------------- nn


def test_assigning_a_plain_tensor_over_a_parameter_is_refused():
    layer = cr.nn.Linear(2, 1)
    with pytest.raises(TypeError, match="weight"):
        layer.weight = cr.tensor([[1.0, 2.0]])  # torch: cannot assign ... as parameter 'weight'
    assert [n for n, _ in layer.named_parameters()] == ["weight", "bias"]
    layer.bias = None  # allowed, as in PyTorch
    assert [n for n, _ in layer.named_parameters()] == ["weight"]


def test_sequential_slice_keeps_the_original_names():
    model = cr.nn.Sequential(cr.nn.Linear(2, 3), cr.nn.ReLU(), cr.nn.Linear(3, 1))
    tail = model[1:]
    assert list(tail.state_dict()) == ["2.weight", "2.bias"]  # torch keeps '2.weight'
    assert tail[1] is model[2] and len(tail) == 2
    x = cr.tensor([[1.0, -2.0, 3.0]])
    np.testing.assert_allclose(tail(x).data, model[2](model[1](x)).data)


# ----------------------------------------------------------------------------- graph lifetime


def test_training_loop_memory_does_not_grow_with_steps():
    cr.manual_seed(0)
    model = cr.nn.Sequential(cr.nn.Linear(8, 16), cr.nn.Tanh(), cr.nn.Linear(16, 1))
    opt = cr.optim.Adam(model.parameters(), lr=1e-3)
    x, y = cr.randn(32, 8), cr.randn(32, 1)
    loss_fn = cr.nn.MSELoss()

    def run(steps):
        for _ in range(steps):
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()

    run(5)  # optimizer state allocated
    tracemalloc.start()
    try:
        run(10)
        after_10 = tracemalloc.get_traced_memory()[0]
        run(1000)
        after_1010 = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    # one step's activations are ~8 KB; keeping graphs alive would add megabytes over 1000 steps
    assert after_1010 - after_10 < 64 * 1024


# ----------------------------------------------------------------------------- views


def test_single_element_index_is_a_view_like_pytorch():
    # torch: t[1] is a 0-d view, so t[1].mul_(3) changes t; a copy would leave t as it was
    t = cr.tensor([[1.0, 2.0], [3.0, 4.0]])
    t[1, 0].mul_(3.0)
    t[0][1].add_(10.0)
    np.testing.assert_allclose(t.data, [[1.0, 12.0], [9.0, 4.0]])
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    with cr.no_grad():
        w[0].sub_(1.0)
    np.testing.assert_allclose(w.data, [0.0, 2.0])
    assert w[-1].shape == () and w[-1].item() == 2.0


def test_load_state_dict_and_zero_grad_write_in_place():
    # torch copies into the existing storage: an earlier detach() sees the loaded values
    layer = cr.nn.Linear(2, 1, dtype=np.float64)
    alias = layer.weight.detach()
    layer.load_state_dict({"weight": np.array([[3.0, 4.0]]), "bias": np.array([5.0])})
    np.testing.assert_array_equal(alias.data, [[3.0, 4.0]])
    layer(cr.tensor(np.ones((1, 2)))).sum().backward()
    grad = layer.weight.grad
    layer.zero_grad(set_to_none=False)
    assert layer.weight.grad is grad and not grad.any()


def test_sqrt_at_zero_has_infinite_slope_without_a_warning():
    import warnings

    x = cr.tensor(np.array([0.0, 4.0]), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x.sqrt().sum().backward()
    assert x.grad[0] == np.inf and x.grad[1] == 0.25  # d√x/dx = 1/(2√x)


@pytest.mark.parametrize("write", ["zero_()", "fill_(2.5)", "fill_(lib.tensor(3.0))", "copy_(lib.tensor([5.0, 6.0, 7.0]))",
                                   "copy_(lib.tensor(9.0))"])
@pytest.mark.filterwarnings("error")
def test_overwriting_in_place_forgets_inf_and_nan_as_torch_does(write):
    # zero_, fill_ and copy_ computed old·0 + new, so an inf or nan already there came back as nan
    torch = pytest.importorskip("torch")
    results = []
    for lib in (cr, torch):
        a = lib.tensor([1.0, float("inf"), float("nan")])
        eval(f"a.{write}", {"a": a, "lib": lib})  # noqa: S307
        w = lib.tensor([1.0, float("inf"), 3.0], requires_grad=True)  # and inside the graph
        b = w * 1
        eval(f"b.{write}", {"b": b, "lib": lib})  # noqa: S307
        (b + w).sum().backward()
        results.append((a.numpy(), b.detach().numpy(), w.grad.numpy()))
    for ours, theirs in zip(*results):
        np.testing.assert_array_equal(ours, theirs)
