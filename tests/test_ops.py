"""Every op's value and gradient against PyTorch in float64 (the "PyTorch twin" test).

Each case is one lambda ``fn(lib, *tensors)`` run with ``lib=chainrule`` and ``lib=torch`` on the
same float64 inputs; values and every input's gradient (for a random upstream gradient) must
agree to 1e-10 relative.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from helpers import assert_close, twin

import chainrule as cr

R = np.random.default_rng(1234)


def rnd(*shape, lo=-2.0, hi=2.0):
    return R.uniform(lo, hi, shape)


def pos(*shape):
    return R.uniform(0.3, 2.5, shape)


def away(*shape):
    """Values bounded away from 0 (for abs, relu, sign-dependent ops)."""
    return R.uniform(0.2, 2.0, shape) * R.choice([-1.0, 1.0], shape)


def ix(lib, arr):
    """An index/condition array as each library wants it."""
    return arr if lib is cr else torch.as_tensor(arr)


def F(lib):
    return cr.nn.functional if lib is cr else torch.nn.functional


# ----------------------------------------------------------------------------- arithmetic and broadcasting
BINARY = [
    ("add", lambda L, a, b: a + b),
    ("sub", lambda L, a, b: a - b),
    ("mul", lambda L, a, b: a * b),
    ("div", lambda L, a, b: a / b),
    ("pow", lambda L, a, b: a**b),
]
SHAPES = [
    ((3, 4), (3, 4)),
    ((3, 1), (1, 4)),
    ((2, 3, 4), (4,)),
    ((4,), (2, 3, 4)),
    ((3, 1), (4,)),
    ((2, 1, 4), (3, 1)),
    ((), (3, 2)),
    ((3, 2), ()),
]


@pytest.mark.parametrize("shapes", SHAPES, ids=str)
@pytest.mark.parametrize("name,fn", BINARY, ids=[b[0] for b in BINARY])
def test_binary_broadcasting(name, fn, shapes):
    sa, sb = shapes
    a = pos(*sa) if name == "pow" else rnd(*sa)
    b = pos(*sb) if name == "div" else rnd(*sb)
    twin(fn, a, b)


@pytest.mark.parametrize("grad_of", [[0], [1]])
@pytest.mark.parametrize("name,fn", BINARY, ids=[b[0] for b in BINARY])
def test_binary_only_one_input_requires_grad(name, fn, grad_of):
    twin(fn, pos(3, 1), pos(4), grad_of=grad_of)


SCALAR_CASES = [
    ("x+2", lambda L, x: x + 2.0),
    ("2+x", lambda L, x: 2.0 + x),
    ("x-3", lambda L, x: x - 3),
    ("3-x", lambda L, x: 3 - x),
    ("x*1.5", lambda L, x: x * 1.5),
    ("-1.5*x", lambda L, x: -1.5 * x),
    ("x/4", lambda L, x: x / 4),
    ("4/x", lambda L, x: 4 / x),
    ("x**2", lambda L, x: x**2),
    ("x**3int", lambda L, x: x**3),
    ("x**0.5", lambda L, x: x**0.5),
    ("x**-1.5", lambda L, x: x**-1.5),
    ("2**x", lambda L, x: 2.0**x),
    ("e**x", lambda L, x: np.e**x),
    ("neg", lambda L, x: -x),
    ("pos", lambda L, x: +x * 1.0),
]


@pytest.mark.parametrize("name,fn", SCALAR_CASES, ids=[c[0] for c in SCALAR_CASES])
def test_scalar_on_either_side(name, fn):
    twin(fn, pos(3, 4))


def test_numpy_array_on_the_left():
    c = rnd(3, 4)

    def f(L, x):
        k = c if L is cr else torch.tensor(c)
        return k * x + k - x / (k + 5)

    twin(f, rnd(3, 4))


def test_pow_tensor_tensor_with_zero_base():
    # d/db 0**b = 0 for b >= 0 (PyTorch's convention), not nan from 0 * log(0)
    a = np.array([0.0, 0.0, 1.5, 2.0])
    b = np.array([2.0, 3.0, 0.5, -1.0])
    twin(lambda L, a, b: a**b, a, b)


def test_pow_zero_exponent_at_zero_base():
    # d/da a**0 = 0 even at a = 0 (PyTorch), not 0 * 0**-1
    twin(lambda L, x: x**0, np.array([0.0, 1.0, -2.0]))
    twin(lambda L, a, b: a**b, np.array([0.0, 0.0, 2.0]), np.array([0.0, 0.0, 1.0]))


def test_pow_negative_base_integer_exponent():
    twin(lambda L, x: x**3 + x**2, rnd(5))


def test_reused_node_gets_sum_of_paths():
    twin(lambda L, x: x * x + x, rnd(3, 4))
    twin(lambda L, x: (x.exp() * x.exp() + x.exp()).sum() * x.sum(), rnd(3))


def test_diamond_graph():
    def f(L, x, w):
        h = (x * w).tanh()
        return (h * h).sum() + (h / 2).sum() + h[0].sum() * h[1].sum()

    twin(f, rnd(2, 3), rnd(3))


# ----------------------------------------------------------------------------- matmul
MATMUL_SHAPES = [
    ((3,), (3,)),
    ((3,), (3, 4)),
    ((2, 3), (3,)),
    ((2, 3), (3, 4)),
    ((5, 2, 3), (3, 4)),
    ((2, 3), (5, 3, 4)),
    ((5, 2, 3), (5, 3, 4)),
    ((2, 1, 2, 3), (3, 3, 4)),
    ((5, 2, 3), (3,)),
    ((3,), (5, 3, 4)),
    ((1, 2, 3), (4, 3, 2)),
]


@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES, ids=str)
def test_matmul(sa, sb):
    twin(lambda L, a, b: a @ b, rnd(*sa), rnd(*sb))


def test_matmul_function_and_numpy_operand():
    m = rnd(3, 2)
    twin(lambda L, a: L.matmul(a, L.tensor(m) if L is torch else m), rnd(4, 3))
    twin(lambda L, a: (m.T @ a) if L is cr else torch.tensor(m.T) @ a, rnd(3, 4))


# ----------------------------------------------------------------------------- reductions
def reduce(L, x, name, axis, keep):
    if L is cr:
        name = {"max": "amax", "min": "amin"}.get(name, name)
        return getattr(x, name)(axis, keep) if name in ("amax", "amin") else getattr(x, name)(axis=axis, keepdims=keep)
    fn = {"sum": torch.sum, "mean": torch.mean, "max": torch.amax, "min": torch.amin}[name]
    if axis is None:
        return fn(x, dim=() if name in ("max", "min") else None, keepdim=keep)
    return fn(x, dim=axis, keepdim=keep)


AXES = [None, 0, 1, -1, 2, (0, 2), (-1, 0), (0, 1, 2)]


@pytest.mark.parametrize("keep", [False, True])
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("name", ["sum", "mean", "max", "min"])
def test_reductions(name, axis, keep):
    twin(lambda L, x: reduce(L, x, name, axis, keep), rnd(2, 3, 4))


@pytest.mark.parametrize("axis", [None, 0, 1], ids=str)
@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_ties_share_gradient(name, axis):
    x = np.array([[1.0, 3.0, 3.0, -2.0], [-2.0, -2.0, 0.5, 3.0], [3.0, -2.0, 1.0, 1.0]])
    twin(lambda L, x: reduce(L, x, name, axis, False), x)


def test_reduction_torch_style_keywords():
    twin(lambda L, x: x.sum(dim=1, keepdim=True) + x.mean(dim=(0, 1), keepdim=True), rnd(3, 4))


def test_reduction_of_1d_and_0d():
    twin(lambda L, x: x.sum() * x.mean(), rnd(5))
    twin(lambda L, x: x.sum() + x * 2, rnd())


# ----------------------------------------------------------------------------- shape ops
SHAPE_CASES = [
    ("reshape", lambda L, x: x.reshape(4, 6), None),
    ("reshape-1", lambda L, x: x.reshape(-1, 3), None),
    ("reshape_tuple", lambda L, x: x.reshape((3, 8)), None),
    ("view", lambda L, x: x.view(24), None),
    ("flatten", lambda L, x: x.flatten(), None),
    ("permute", lambda L, x: x.permute(2, 0, 1), None),
    ("permute_neg", lambda L, x: x.permute(-1, 1, 0), None),
    ("transpose01", lambda L, x: x.transpose(0, 1), None),
    ("transpose_neg", lambda L, x: x.transpose(-1, 0), None),
    ("transpose_default", lambda L, x: x.transpose(), lambda L, x: x.transpose(-2, -1)),
    ("T3d", lambda L, x: x.T, lambda L, x: x.permute(2, 1, 0)),
]


@pytest.mark.parametrize("name,fn,fn_torch", SHAPE_CASES, ids=[c[0] for c in SHAPE_CASES])
def test_shape_ops(name, fn, fn_torch):
    twin(lambda L, x: fn(L, x) * 1.0, rnd(2, 3, 4), fn_torch=fn_torch and (lambda L, x: fn_torch(L, x) * 1.0))


def test_matrix_transposes():
    twin(lambda L, x: x.T @ x, rnd(3, 2))
    twin(lambda L, x: x.t() * 2, rnd(3, 2))


# ----------------------------------------------------------------------------- indexing
INDEX_CASES = [
    ("int", lambda L, x: x[1]),
    ("neg_int", lambda L, x: x[-1]),
    ("two_ints", lambda L, x: x[1, 2]),
    ("slice", lambda L, x: x[1:3]),
    ("step_slice", lambda L, x: x[::2, 1:]),
    ("col", lambda L, x: x[:, 1]),
    ("ellipsis_reversed", lambda L, x: x[..., ::-1] if L is cr else x.flip(-1)),
    ("newaxis", lambda L, x: x[None, 1]),
    ("int_array_repeated", lambda L, x: x[ix(L, np.array([0, 2, 0, 0, 3]))]),
    ("list_repeated", lambda L, x: x[[1, 1, 3]]),
    ("int_array_col_repeated", lambda L, x: x[:, ix(L, np.array([4, 0, 4, 4]))]),
    ("pairs_repeated", lambda L, x: x[ix(L, np.array([0, 1, 0, 0])), ix(L, np.array([2, 2, 2, 3]))]),
    ("2d_index_array", lambda L, x: x[ix(L, np.array([[0, 1], [1, 0], [0, 0]]))]),
    ("bool_mask_rows", lambda L, x: x[ix(L, np.array([True, False, True, True]))]),
    ("bool_mask_full", lambda L, x: x[ix(L, np.arange(20).reshape(4, 5) % 3 == 0)]),
]


@pytest.mark.parametrize("name,fn", INDEX_CASES, ids=[c[0] for c in INDEX_CASES])
def test_indexing(name, fn):
    twin(lambda L, x: fn(L, x) * 1.0, rnd(4, 5))


def test_index_with_tensor_and_mask_from_comparison():
    x = rnd(4, 5)
    twin(lambda L, x: x[x > 0], x)
    twin(lambda L, x: x[L.tensor(np.array([3, 3, 0]))], x)


def test_repeated_index_scatter_adds_by_hand():
    x = cr.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    x[np.array([0, 0, 0, 2])].sum().backward()
    assert_close(x.grad, [3.0, 0.0, 1.0])


# ----------------------------------------------------------------------------- element-wise functions
def _leaky(L, x, slope):
    return cr.leaky_relu(x, slope) if L is cr else torch.nn.functional.leaky_relu(x, slope)


UNARY = [
    ("exp", lambda L, x: x.exp(), rnd),
    ("exp_fn", lambda L, x: L.exp(x), rnd),
    ("log", lambda L, x: x.log(), pos),
    ("log_fn", lambda L, x: L.log(x), pos),
    ("sqrt", lambda L, x: x.sqrt(), pos),
    ("sqrt_fn", lambda L, x: L.sqrt(x), pos),
    ("abs", lambda L, x: x.abs(), away),
    ("abs_fn", lambda L, x: L.abs(x), away),
    ("tanh", lambda L, x: x.tanh(), rnd),
    ("tanh_fn", lambda L, x: L.tanh(x), rnd),
    ("sigmoid", lambda L, x: x.sigmoid(), rnd),
    ("sigmoid_fn", lambda L, x: L.sigmoid(x), rnd),
    ("relu", lambda L, x: x.relu(), away),
    ("relu_fn", lambda L, x: L.relu(x), away),
    ("leaky_relu", lambda L, x: _leaky(L, x, 0.01), away),
    ("leaky_relu_0.2", lambda L, x: _leaky(L, x, 0.2), away),
    ("clip", lambda L, x: x.clip(-0.5, 0.7), rnd),
    ("clip_min", lambda L, x: x.clip(min=-0.5), rnd),
    ("clip_max", lambda L, x: x.clip(max=0.5), rnd),
    ("clamp_fn", lambda L, x: L.clamp(x, -1.0, 1.0), rnd),
    ("softplus", lambda L, x: F(L).softplus(x), rnd),
    ("softplus_beta", lambda L, x: F(L).softplus(x * 10, beta=2.0, threshold=5.0), rnd),
    ("logsigmoid", lambda L, x: F(L).logsigmoid(x * 10), rnd),
]


@pytest.mark.parametrize("name,fn,gen", UNARY, ids=[u[0] for u in UNARY])
def test_unary(name, fn, gen):
    twin(fn, gen(3, 4))


@pytest.mark.parametrize(
    "name,fn",
    [
        ("relu", lambda L, x: x.relu()),
        ("abs", lambda L, x: x.abs()),
        ("leaky", lambda L, x: _leaky(L, x, 0.1)),
        ("clip_boundary", lambda L, x: x.clip(-1.0, 1.0)),
    ],
)
def test_kinks_follow_torch_conventions(name, fn):
    # subgradient choices at the kink: relu'(0)=0, |x|'(0)=0, leaky'(0)=slope, clip passes at the bounds
    twin(fn, np.array([-1.0, 0.0, 0.0, 1.0, 2.0, -2.0]))


def test_sigmoid_extreme_values_are_finite():
    twin(lambda L, x: x.sigmoid(), np.array([-800.0, -40.0, 0.0, 40.0, 800.0]))


# ----------------------------------------------------------------------------- softmax
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax(name, dim):
    twin(lambda L, x: getattr(L, name)(x, dim=dim), rnd(3, 4, 5))
    twin(lambda L, x: getattr(x, name)(dim), rnd(3, 4))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_is_stable_for_huge_logits(name):
    out, _ = twin(lambda L, x: getattr(L, name)(x, dim=-1), np.array([[1000.0, 0.0, -1000.0], [-1000.0, -1000.0, 999.0]]))
    assert np.isfinite(out.data).all()


# ----------------------------------------------------------------------------- where, cat, stack
def test_where_broadcasting():
    cond = R.random((3, 4)) > 0.5
    twin(lambda L, a, b: L.where(ix(L, cond), a, b), rnd(3, 1), rnd(4))
    twin(lambda L, a, b: L.where(ix(L, cond), a, b), rnd(3, 4), rnd(3, 4))


def test_where_with_scalar_branch():
    cond = np.array([True, False, True])
    twin(lambda L, a: L.where(ix(L, cond), a, 0.0), rnd(3))
    twin(lambda L, a: L.where(a > 0, a, a * 0.1), rnd(3, 3))


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cat(dim):
    shapes = {0: [(1, 3), (2, 3), (4, 3)], 1: [(2, 1), (2, 2), (2, 4)], -1: [(2, 3), (2, 1), (2, 2)]}[dim]
    twin(lambda L, a, b, c: L.cat([a, b, c], dim=dim), *[rnd(*s) for s in shapes])


def test_cat_with_constant_part():
    twin(lambda L, a, b: L.cat([a, b * 2], dim=0), rnd(2, 3), rnd(1, 3), grad_of=[0])


@pytest.mark.parametrize("dim", [0, 1, 2, -1])
def test_stack(dim):
    twin(lambda L, a, b, c: L.stack([a, b, c], dim=dim), rnd(2, 3), rnd(2, 3), rnd(2, 3))


# ----------------------------------------------------------------------------- fused losses
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss(reduction):
    twin(lambda L, p, t: F(L).mse_loss(p, t, reduction=reduction), rnd(4, 3), rnd(4, 3))
    twin(lambda L, p, t: F(L).mse_loss(p, t, reduction=reduction), rnd(4, 3), rnd(4, 3), grad_of=[0])


def test_half_sse_loss():
    def f(L, p, t):
        return cr.nn.functional.half_sse_loss(p, t) if L is cr else 0.5 * ((t - p) ** 2).sum()

    twin(f, rnd(4, 3), rnd(4, 3))
    twin(f, rnd(1), rnd(1), grad_of=[0])


def test_half_sse_loss_by_hand():
    # the seed: y' = 180, y = 60 -> L = 7200, dL/dy' = 120
    p = cr.tensor(np.array([180.0]), requires_grad=True)
    loss = cr.nn.functional.half_sse_loss(p, np.array([60.0]))
    loss.backward()
    assert loss.item() == 7200.0
    assert_close(p.grad, [120.0])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy(reduction):
    labels = np.array([0, 4, 2, 2, 1])
    twin(lambda L, z: F(L).cross_entropy(z, ix(L, labels), reduction=reduction), rnd(5, 5) * 3)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_unbatched(reduction):
    twin(lambda L, z: F(L).cross_entropy(z, ix(L, np.array(3)), reduction=reduction), rnd(5))


def test_cross_entropy_huge_logits_and_tensor_labels():
    z = np.array([[1000.0, -1000.0, 0.0], [0.0, 0.0, 2000.0]])
    out, _ = twin(lambda L, z: F(L).cross_entropy(z, L.tensor(np.array([1, 2]))), z)
    assert np.isfinite(out.data).all()


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy(reduction):
    p = R.uniform(0.05, 0.95, (4, 3))
    t = R.uniform(0.0, 1.0, (4, 3))
    twin(lambda L, p, t: F(L).binary_cross_entropy(p, t, reduction=reduction), p, t)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy_at_and_near_0_and_1(reduction):
    # the loss clamps log at -100 and the gradient's p(1 - p) at PyTorch's epsilon
    p = np.array([0.0, 1.0, 0.5, 1e-20, 1 - 1e-16, 0.0, 1.0])
    t = np.array([0.0, 1.0, 0.3, 1.0, 0.0, 1.0, 0.0])
    twin(lambda L, p, t: F(L).binary_cross_entropy(p, t, reduction=reduction), p, t, grad_of=[0])


def test_binary_cross_entropy_target_gradient_at_0_and_1_is_pytorchs():
    # PyTorch's target gradient is −logit(p) = log(1 − p) − log p, unclamped: +inf at p = 0, −inf at p = 1
    # (the loss itself stays clamped at 100).
    p = cr.tensor(np.array([0.0, 1.0, 0.25]))
    t = cr.tensor(np.array([1.0, 0.0, 0.5]), requires_grad=True)
    cr.nn.functional.binary_cross_entropy(p, t, reduction="sum").backward()
    tp, tt = torch.tensor([0.0, 1.0, 0.25], dtype=torch.float64), torch.tensor([1.0, 0.0, 0.5], dtype=torch.float64, requires_grad=True)
    torch.nn.functional.binary_cross_entropy(tp, tt, reduction="sum").backward()
    assert_close(t.grad, tt.grad.numpy())
    assert t.grad[0] == np.inf and t.grad[1] == -np.inf


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy_with_logits(reduction):
    z = rnd(4, 3) * 4
    t = R.uniform(0.0, 1.0, (4, 3))
    twin(lambda L, z, t: F(L).binary_cross_entropy_with_logits(z, t, reduction=reduction), z, t)


def test_binary_cross_entropy_with_logits_extreme():
    z = np.array([-500.0, -30.0, 0.0, 30.0, 500.0])
    t = np.array([0.0, 1.0, 0.5, 0.0, 1.0])
    twin(lambda L, z, t: F(L).binary_cross_entropy_with_logits(z, t, reduction="sum"), z, t)


# ----------------------------------------------------------------------------- linear
@pytest.mark.parametrize("xshape", [(5, 3), (3,), (2, 5, 3), (2, 1, 4, 3)], ids=str)
@pytest.mark.parametrize("bias", [True, False])
def test_linear(xshape, bias):
    if bias:
        twin(lambda L, x, w, b: F(L).linear(x, w, b), rnd(*xshape), rnd(4, 3), rnd(4))
    else:
        twin(lambda L, x, w: F(L).linear(x, w), rnd(*xshape), rnd(4, 3))


def test_linear_constant_input_only_weight_grads():
    twin(lambda L, x, w, b: F(L).linear(x, w, b), rnd(6, 3), rnd(2, 3), rnd(2), grad_of=[1, 2])


# ----------------------------------------------------------------------------- a small network end to end
def test_mlp_composite():
    def f(L, x, w1, b1, w2, b2):
        h = F(L).linear(x, w1, b1).tanh()
        z = F(L).linear(h, w2, b2)
        return F(L).cross_entropy(z, ix(L, np.array([0, 2, 1, 2]))) + (w1**2).sum() * 1e-3

    twin(f, rnd(4, 5), rnd(6, 5), rnd(6), rnd(3, 6), rnd(3))


# ----------------------------------------------------------------------------- comparisons and dtypes
@pytest.mark.parametrize("op", ["__lt__", "__le__", "__gt__", "__ge__", "__eq__", "__ne__"])
def test_comparisons_return_constant_bool_tensors(op):
    x = cr.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    out = getattr(x, op)(2.0)
    expected = getattr(torch.tensor([1.0, 2.0, 3.0]), op)(2.0).numpy()
    assert out.dtype == np.bool_
    assert not out.requires_grad and out.grad_fn is None
    np.testing.assert_array_equal(out.data, expected)


def test_float32_ops_keep_float32_and_grads_match_torch():
    x = R.uniform(-1, 1, (3, 4)).astype(np.float32)
    a = cr.tensor(x, requires_grad=True)
    b = torch.tensor(x, requires_grad=True)
    ya = (a.tanh() * 2.0 + 1.0).sum()
    yb = (b.tanh() * 2.0 + 1.0).sum()
    assert ya.dtype == np.float32
    ya.backward()
    yb.backward()
    assert a.grad.dtype == np.float32
    np.testing.assert_allclose(a.grad, b.grad.numpy(), rtol=1e-6)


def test_cast_gradient_flows_back_in_source_dtype():
    x = cr.tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    (x.double() * 3).sum().backward()
    assert x.grad.dtype == np.float32
    assert_close(x.grad, [3.0, 3.0])


# ----------------------------------------------------------------------------- logsumexp
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_logsumexp(dim, keepdim):
    twin(lambda L, x: L.logsumexp(x, dim=dim, keepdim=keepdim), rnd(3, 4) * 3)
    twin(lambda L, x: x.logsumexp(dim, keepdim), rnd(2, 3, 4))


def test_logsumexp_huge_values_are_finite():
    out, _ = twin(lambda L, x: L.logsumexp(x, dim=-1), np.array([[1000.0, 1000.0, -1000.0], [-1e4, -1e4, -1e4]]))
    assert np.isfinite(out.data).all()


# ----------------------------------------------------------------------------- tensor ops a PyTorch script uses
def distinct(*shape):
    return R.permutation(np.arange(int(np.prod(shape)), dtype=np.float64)).reshape(shape) * 0.37 - 1.0


TENSOR_OPS = {
    "sin": (lambda L, x: x.sin(), (rnd(2, 3),)),
    "cos": (lambda L, x: x.cos(), (rnd(2, 3),)),
    "log1p": (lambda L, x: x.log1p(), (pos(2, 3),)),
    "square": (lambda L, x: x.square(), (rnd(3),)),
    "clone": (lambda L, x: x.clone() * 2, (rnd(2, 3),)),
    "unsqueeze": (lambda L, x: x.unsqueeze(1) * x.unsqueeze(-1), (rnd(2, 3),)),
    "squeeze": (lambda L, x: x.squeeze() + x.squeeze(0).sum(), (rnd(1, 3, 1),)),
    "squeeze_dim": (lambda L, x: x.squeeze(2), (rnd(2, 3, 1),)),
    "expand": (lambda L, x: x.expand(4, 2, 3), (rnd(2, 1),)),
    "expand_neg": (lambda L, x: x.expand(-1, 5), (rnd(3, 1),)),
    "expand_as": (lambda L, x: x.expand_as(L.ones(2, 4, dtype=L.float64)), (rnd(4),)),
    "repeat": (lambda L, x: x.repeat(2, 1, 3), (rnd(2, 3),)),
    "repeat_same_rank": (lambda L, x: x.repeat(3, 2), (rnd(2, 3),)),
    "split": (lambda L, x: L.cat([p * (i + 1) for i, p in enumerate(x.split(2, dim=1))], dim=1), (rnd(2, 5),)),
    "split_sizes": (lambda L, x: x.split([1, 3], 0)[1].sum(0), (rnd(4, 2),)),
    "chunk": (lambda L, x: L.stack([c.sum() for c in x.chunk(3)]), (rnd(7),)),
    "gather": (lambda L, x: x.gather(1, ix(L, np.array([[0, 0, 2], [1, 2, 1]]))), (rnd(2, 3),)),
    "scatter_add": (lambda L, x, s: x.scatter_add(0, ix(L, np.array([[0, 1, 0], [0, 0, 1]])), s), (rnd(2, 3), rnd(2, 3))),
    "masked_fill": (lambda L, x: x.masked_fill(ix(L, np.array([True, False, True])), 0.5), (rnd(2, 3),)),
    "where_method": (lambda L, x, y: x.where(ix(L, np.array([True, False, True])), y), (rnd(3), rnd(3))),
    "var": (lambda L, x: x.var(), (rnd(3, 4),)),
    "var_dim": (lambda L, x: x.var(1, keepdim=True), (rnd(3, 4),)),
    "var_biased": (lambda L, x: x.var(0, unbiased=False), (rnd(3, 4),)),
    "std": (lambda L, x: x.std(dim=0), (rnd(3, 4),)),
    "norm": (lambda L, x: x.norm(), (rnd(3, 4),)),
    "norm_dim": (lambda L, x: x.norm(dim=1, keepdim=True), (rnd(3, 4),)),
    "norm_p1": (lambda L, x: x.norm(p=1), (away(3, 4),)),
    "norm_p3": (lambda L, x: x.norm(p=3, dim=0), (away(3, 4),)),
    "clamp": (lambda L, x: x.clamp(min=-0.5), (away(3, 4),)),
    "flatten_range": (lambda L, x: x.flatten(1, 2), (rnd(2, 3, 4, 2),)),
    "flatten_start": (lambda L, x: x.flatten(1), (rnd(2, 3, 4),)),
    "max_dim": (lambda L, x: x.max(1)[0] + x.max(dim=0, keepdim=True).values.sum(), (distinct(3, 4),)),
    "min_dim": (lambda L, x: x.min(-1).values * x.min(0)[0].sum(), (distinct(3, 4),)),
    "max_all": (lambda L, x: x.max() + x.min(), (distinct(3, 4),)),
    "amax_tuple": (lambda L, x: x.amax((0, 2)), (distinct(2, 3, 4),)),
    "maximum": (lambda L, x, y: L.maximum(x, y) * x.max(y).sum(), (rnd(2, 3), rnd(3))),
    "minimum": (lambda L, x, y: L.minimum(x, y) + x.min(y), (rnd(3, 1), rnd(4))),
    "remainder": (lambda L, x, y: x % y, (rnd(2, 3), pos(3))),
    "remainder_scalar": (lambda L, x: x % 0.7, (rnd(2, 3),)),
    "free_functions": (lambda L, x: L.sum(L.exp(x)) + L.mean(L.tanh(x), 0).sum() + L.max(x) + L.min(x), (distinct(2, 3),)),
}


@pytest.mark.parametrize("name", sorted(TENSOR_OPS))
def test_tensor_ops(name):
    fn, arrays = TENSOR_OPS[name]
    twin(fn, *arrays)


def test_max_min_with_dim_return_values_and_indices_like_torch():
    a = distinct(3, 4)
    for dim, keep in [(0, False), (1, True), (-1, False)]:
        ours, theirs = cr.tensor(a).max(dim, keep), torch.tensor(a).max(dim, keep)
        assert type(ours).__name__ == "max" and ours._fields == ("values", "indices")
        v, i = ours
        np.testing.assert_array_equal(v, theirs.values.numpy())
        np.testing.assert_array_equal(i, theirs.indices.numpy())
        assert i.dtype == np.int64
        np.testing.assert_array_equal(cr.tensor(a).min(dim=dim, keepdim=keep).indices, torch.tensor(a).min(dim, keep).indices)
    assert cr.tensor(a).max(1)[0].shape == (3,)  # not row 0


@pytest.mark.parametrize("dim, keep", [(None, False), (None, True), (0, False), (1, True)])
def test_argmax_argmin_like_torch(dim, keep):
    a = distinct(3, 4)
    np.testing.assert_array_equal(cr.tensor(a).argmax(dim, keep), torch.tensor(a).argmax(dim, keep).numpy())
    np.testing.assert_array_equal(cr.tensor(a).argmin(dim=dim, keepdim=keep), torch.tensor(a).argmin(dim=dim, keepdim=keep).numpy())


def test_floor_divide_and_dtype_conversions_like_torch():
    a = np.array([[-3.5, 2.0, 7.25], [0.5, -1.0, 9.0]])
    ours, theirs = cr.tensor(a), torch.tensor(a)
    np.testing.assert_array_equal(ours // 2, (theirs // 2).numpy())
    np.testing.assert_array_equal(7 // ours[0, 1:], (7 // theirs[0, 1:]).numpy())
    for conv, dtype in [("long", np.int64), ("int", np.int32), ("bool", np.bool_), ("float", np.float32), ("double", np.float64)]:
        mine = getattr(ours, conv)()
        assert mine.dtype == dtype
        np.testing.assert_array_equal(mine, getattr(theirs, conv)().numpy())
    assert ours.to(cr.float32).dtype == np.float32 and ours.to("cpu") is ours
    assert ours.to(cr.tensor([1], dtype=np.int64)).dtype == np.int64
    with pytest.raises(RuntimeError, match="CPU only"):
        ours.to("cuda")


def test_integer_cast_is_not_differentiable_like_torch():
    x = cr.tensor([1.5, 2.5], requires_grad=True)
    t = torch.tensor([1.5, 2.5], requires_grad=True)
    assert x.long().requires_grad == t.long().requires_grad is False
    y = x.long().float() * x
    (t.long().float() * t).sum().backward()
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, t.grad.numpy())


# ----------------------------------------------------------------------------- coverage of the registry
COVERED = {
    "abs", "add", "binary_cross_entropy", "binary_cross_entropy_with_logits", "cast", "cat", "clip",
    "cross_entropy", "div", "exp", "getitem", "half_sse_loss", "leaky_relu", "linear", "log", "log_softmax",
    "logsigmoid", "softplus",
    "logsumexp", "matmul", "max", "mean", "min", "mse_loss", "mul", "neg", "permute", "pow", "relu", "reshape",
    "sigmoid", "softmax", "sqrt", "stack", "sub", "sum", "tanh", "where",
    # test_tensor_ops and friends above; setitem in tests/test_inplace.py
    "sin", "cos", "log1p", "clone", "expand", "repeat", "gather", "scatter_add", "max_dim", "min_dim", "norm2",
    "remainder", "floor_divide", "setitem", "maximum", "minimum",
}


def test_every_registered_op_is_tested_here():
    from test_ops_layers import COVERED as LAYER_OPS  # the layer ops' twin tests live in test_ops_layers.py

    missing = sorted(set(cr.ops.REGISTRY) - COVERED - LAYER_OPS)
    assert not missing, f"ops without a PyTorch twin test in tests/test_ops.py: {missing}"


@pytest.mark.parametrize("shape", [(0, 3), (2, 0), (0, 0)])
@pytest.mark.parametrize("dims", [None, 0, 1, (0, 1)])
@pytest.mark.filterwarnings("error")  # PyTorch warns of nothing here
def test_mean_of_nothing_is_nan_and_its_gradient_empty_as_in_torch(shape, dims):
    results = []
    for lib in (cr, torch):
        x = lib.zeros(*shape, dtype=lib.float64, requires_grad=True)
        y = x.mean() if dims is None else x.mean(dim=dims, keepdim=True)
        y.sum().backward()
        results.append((y.detach().numpy(), x.grad.numpy()))
    (ours, our_grad), (theirs, their_grad) = results
    np.testing.assert_array_equal(ours, theirs)  # nan where a mean has no terms, empty where there is none
    assert ours.shape == theirs.shape and our_grad.shape == their_grad.shape == shape


EMPTY_NORMALISERS = {
    "softmax": lambda x, d: x.softmax(dim=d),
    "log_softmax": lambda x, d: x.log_softmax(dim=d),
    "logsumexp": lambda x, d: x.logsumexp(dim=d),
}


def _ours_and_torchs(make, shape):
    """(value, gradient) of ``make(lib, x)`` for x = zeros(shape), in chainrule and in PyTorch."""
    results = []
    for lib in (cr, torch):
        x = lib.zeros(*shape, dtype=lib.float64, requires_grad=True)
        y = make(lib, x)
        y.sum().backward()
        results.append((y.detach().numpy(), x.grad.numpy()))
    return results


@pytest.mark.parametrize("shape", [(0, 3), (2, 0), (0, 0), (0,)])
@pytest.mark.parametrize("name", list(EMPTY_NORMALISERS))
@pytest.mark.filterwarnings("error")
def test_normalising_over_nothing_gives_torchs_result_not_an_error(shape, name):
    # softmax and log_softmax of an empty tensor are empty and logsumexp over an empty dim is −inf, each
    # with the empty gradient (a maximum over nothing made them raise)
    for d in range(len(shape)):
        (ours, our_grad), (theirs, their_grad) = _ours_and_torchs(lambda lib, x, d=d: EMPTY_NORMALISERS[name](x, d), shape)
        np.testing.assert_array_equal(ours, theirs)
        assert ours.shape == theirs.shape and our_grad.shape == their_grad.shape == shape
        x = cr.zeros(*shape, dtype=cr.float64, requires_grad=True)  # and the gradient as a recorded graph
        (g,) = cr.autograd.grad(EMPTY_NORMALISERS[name](x, d).sum(), x, create_graph=True)
        assert g.shape == shape


@pytest.mark.parametrize("shape", [(0, 3), (0, 0)])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.filterwarnings("error")
def test_cross_entropy_of_no_rows_gives_torchs_result_even_with_no_classes(shape, reduction):
    def loss(lib, x):
        labels = np.zeros(0, np.int64) if lib is cr else torch.zeros(0, dtype=torch.int64)
        return lib.nn.functional.cross_entropy(x, labels, reduction=reduction)

    (ours, our_grad), (theirs, their_grad) = _ours_and_torchs(loss, shape)
    np.testing.assert_array_equal(ours, theirs)  # nan (mean), 0 (sum), empty (none)
    assert ours.shape == theirs.shape and our_grad.shape == their_grad.shape == shape


EMPTY_EXTREMA = ["x.amax(dim=0)", "x.amin(dim=-1)", "x.max(dim=0)[0]", "x.min(dim=-1)[0]", "x.argmax(dim=0)",
                 "x.argmin(dim=-1)", "x.max()", "x.amax()", "x.argmax()", "x.amax(dim=(0, -1))"]


@pytest.mark.parametrize("shape", [(0, 3), (2, 0), (0,)])
@pytest.mark.parametrize("expr", EMPTY_EXTREMA)
def test_extrema_of_empty_tensors_fail_or_succeed_as_in_torch(shape, expr):
    # over an empty dim PyTorch raises IndexError (NumPy a ValueError about "no identity"); without a dim,
    # RuntimeError for max/amax and IndexError for argmax; over a non-empty dim, the empty result
    outcomes = []
    for lib in (torch, cr):
        x = lib.zeros(*shape)  # noqa: F841 (read by eval)
        try:
            outcomes.append(tuple(eval(expr).shape))  # noqa: S307
        except (IndexError, RuntimeError, ValueError) as exc:
            outcomes.append(exc)
    theirs, ours = outcomes
    if isinstance(theirs, Exception):
        assert isinstance(ours, type(theirs)), (ours, theirs)
    else:
        assert ours == theirs


@pytest.mark.parametrize("expr", ["x.sum(dim=D)", "x.mean(dim=D)", "x.amax(dim=D)", "x.amin(dim=[D])",
                                  "x.var(dim=D)", "x.std(dim=(D,))", "x.sum(dim=(D, np.int32(0)))"])
def test_numpy_integer_dims_reduce_and_differentiate_as_python_ints(expr):
    # a dim taken from NumPy (np.argmax, a shape) ran forward and then failed in backward ("not iterable")
    results = []
    for lib in (cr, torch):
        x = lib.tensor(np.arange(6.0).reshape(2, 3) ** 1.5, requires_grad=True)
        y = eval(expr, {"x": x, "D": np.int64(1), "np": np})  # noqa: S307
        y.sum().backward()
        results.append((y.detach().numpy(), x.grad.numpy()))
    (ours, our_grad), (theirs, their_grad) = results
    assert_close(ours, theirs)
    assert_close(our_grad, their_grad)


@pytest.mark.parametrize("expr", ["x.sum(dim=())", "x.mean(dim=[])", "x.amax(dim=())", "x.amin(dim=())",
                                  "x.norm(dim=())", "x.sum(dim=(), keepdim=True)", "x.norm(float('-inf'))",
                                  "x.norm(float('-inf'), dim=1)", "x.norm(float('inf'), dim=0, keepdim=True)"])
def test_empty_dim_tuples_reduce_everything_and_the_minus_inf_norm_is_the_smallest_size(expr):
    # dim=() is every dim in PyTorch (NumPy's axis=() is none: the tensor came back unchanged), and
    # norm(-inf) is min |x_i| (it came out as sum(|x|^-inf)^(-1/inf) = 1)
    results = []
    for lib in (cr, torch):
        x = lib.tensor([[1.0, -2.0], [3.0, 0.5]], dtype=lib.float64, requires_grad=True)
        y = eval(expr, {"x": x})  # noqa: S307
        y.sum().backward()
        results.append((y.detach().numpy(), x.grad.numpy()))
    (ours, our_grad), (theirs, their_grad) = results
    assert_close(ours, theirs)
    assert_close(our_grad, their_grad)


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_and_minimum_propagate_nan_and_share_ties_as_in_torch(name):
    # they picked with >= / <=: nan in b was dropped, and a tie gave a all of the gradient
    nan = float("nan")
    results = []
    for lib in (cr, torch):
        a = lib.tensor([[nan, 1.0, 2.0, 1.0, nan], [0.5, 3.0, -1.0, 2.0, 4.0]], dtype=lib.float64, requires_grad=True)
        b = lib.tensor([1.0, nan, 2.0, 0.0, nan], dtype=lib.float64, requires_grad=True)  # broadcast over rows
        y = getattr(lib, name)(a, b)
        (y * lib.tensor(np.arange(1.0, 11.0).reshape(2, 5))).sum().backward()
        results.append((y.detach().numpy(), a.grad.numpy(), b.grad.numpy()))
    for ours, theirs in zip(*results):
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool"])
@pytest.mark.parametrize("fn", ["exp", "log1p", "sqrt", "tanh", "sigmoid", "sin", "cos"])
def test_float_functions_of_integer_and_bool_tensors_compute_in_the_default_dtype(dtype, fn):
    # NumPy promoted int64 to float64 and 8-bit integers and bools to float16: exp(True) was 2.71875
    a = np.array([3, 0, 1, 2]).astype(dtype)
    ours, theirs = getattr(cr.tensor(a), fn)(), getattr(torch.tensor(a), fn)()
    assert ours.dtype == np.float32 and str(theirs.dtype) == "torch.float32"
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=2e-7)


GATHER_SCATTER = ["x.gather(1, I([[0]]))", "x.gather(1, I([[-1]]))", "x.gather(1, I([[3]]))",
                  "x.gather(0, I([[1, 0, 1, 0]]))", "x.gather(1, I([[0, 1], [2, 0], [1, 1]]))",
                  "x.gather(1, I([[0, 1, 2, 0, 1]]))", "x.gather(1, I([[2], [0]]))",
                  "x.scatter_add(0, I([[1, 0, 1]]), s(1, 2))", "x.scatter_add(0, I([[-1]]), s(1, 1))",
                  "x.scatter_add(1, I([[0, 0, 0, 0]]), s(1, 4))", "x.scatter_add(0, I([[1], [0], [1]]), s(3, 1))",
                  "x.scatter_add(1, I([[2, 2], [0, 1]]), s(2, 2))"]


@pytest.mark.parametrize("expr", GATHER_SCATTER)
def test_gather_and_scatter_add_check_and_cut_their_index_as_torch_does(expr):
    # NumPy broadcast a smaller index (gathering every row), wrapped a negative one (another entry) and
    # summed the src gradient over rows the index never reached; PyTorch raises or uses the leading block
    outcomes = []
    for lib in (cr, torch):
        x = lib.tensor(np.arange(6.0).reshape(2, 3), dtype=lib.float64, requires_grad=True)
        sources = []

        def s(*shape, lib=lib, sources=sources):
            sources.append(lib.tensor(np.arange(1.0, 1 + np.prod(shape)).reshape(shape), dtype=lib.float64,
                                      requires_grad=True))
            return sources[-1]

        index = (lambda a: np.array(a)) if lib is cr else (lambda a: torch.tensor(a))  # noqa: E731
        try:
            y = eval(expr, {"x": x, "I": index, "s": s})  # noqa: S307
        except RuntimeError:  # PyTorch's class; chainrule's ShapeError is one too (anything else fails the test)
            outcomes.append("raised RuntimeError")
            continue
        (y * lib.tensor(np.arange(1.0, 1 + y.numel()).reshape(tuple(y.shape)), dtype=lib.float64)).sum().backward()
        outcomes.append((y.detach().numpy().tolist(), x.grad.numpy().tolist(), [t.grad.numpy().tolist() for t in sources]))
    ours, theirs = outcomes
    assert ours == theirs


def test_scatter_add_from_a_larger_src_reads_and_differentiates_its_leading_block():
    # PyTorch computes the values and then fails in backward ("invalid gradient ... got [1, 2]"); by hand:
    # out[1, 0] += src[0, 0] and out[0, 1] += src[0, 1], so src's gradient is the upstream gradient there
    x = cr.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    src = cr.tensor(np.arange(1.0, 7.0).reshape(2, 3), requires_grad=True)
    y = x.scatter_add(0, np.array([[1, 0]]), src)
    np.testing.assert_array_equal(y.detach().numpy(), [[0.0, 3.0, 2.0], [4.0, 4.0, 5.0]])
    (y * cr.tensor(np.arange(1.0, 7.0).reshape(2, 3))).sum().backward()
    np.testing.assert_array_equal(src.grad.numpy(), [[4.0, 2.0, 0.0], [0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(x.grad.numpy(), np.arange(1.0, 7.0).reshape(2, 3))
