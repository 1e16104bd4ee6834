"""Property tests: on random shapes and values, engine gradients equal central finite differences (float64).

Each test builds ``out = f(*leaves)`` in chainrule, back-propagates a random upstream gradient ``G``
and compares every leaf's ``.grad`` with the central difference of ``sum(G * f(...))``.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import finite_diff
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr

SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RTOL, ATOL = 1e-6, 1e-7


def values(shape, lo=-2.0, hi=2.0):
    return hnp.arrays(np.float64, shape, elements=st.floats(lo, hi, allow_nan=False, width=64))


def distinct(shape):
    """Values at least 0.01 apart, so max/min have no ties within a finite-difference step."""
    n = int(np.prod(shape, dtype=np.int64))
    return st.lists(st.integers(-300, 300), min_size=n, max_size=n, unique=True).map(
        lambda xs: np.array(xs, dtype=np.float64).reshape(shape) / 100
    )


def check(f, *arrays, seed=0, constant=()):
    """Compare engine gradients of ``f(*tensors)`` with central finite differences."""
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    leaves = [cr.tensor(a.copy(), requires_grad=i not in constant) for i, a in enumerate(arrays)]
    out = f(*leaves)
    g = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(gradient=g)

    def scalar(*xs):
        with cr.no_grad():
            return float((g * f(*[cr.tensor(x) for x in xs]).data).sum())

    expected = finite_diff(scalar, arrays)
    for i, (t, e) in enumerate(zip(leaves, expected)):
        if i in constant:
            continue
        assert t.grad is not None, f"input {i} got no gradient"
        np.testing.assert_allclose(t.grad, e, rtol=RTOL, atol=ATOL, err_msg=f"input {i}")


# ----------------------------------------------------------------------------- binary ops, broadcasting
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a**b,
}


@SETTINGS
@given(
    name=st.sampled_from(sorted(BINARY)),
    shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
    data=st.data(),
)
def test_binary_broadcasting(name, shapes, data):
    sa, sb = shapes.input_shapes
    a = data.draw(values(sa, 0.5, 2.0) if name == "pow" else values(sa))
    b = data.draw(values(sb, 0.5, 2.0) if name == "div" else values(sb))
    if name == "div":
        b = b * data.draw(st.sampled_from([-1.0, 1.0]))
    check(BINARY[name], a, b)


# ----------------------------------------------------------------------------- element-wise chains
UNARY = {
    "exp": (lambda x: x.exp(), -2.0, 2.0),
    "log": (lambda x: x.log(), 0.2, 3.0),
    "sqrt": (lambda x: x.sqrt(), 0.2, 3.0),
    "tanh": (lambda x: x.tanh(), -3.0, 3.0),
    "sigmoid": (lambda x: x.sigmoid(), -5.0, 5.0),
    "leaky_relu": (lambda x: cr.leaky_relu(x * 2 + 0.001, 0.1), 0.01, 2.0),
    "square_sum": (lambda x: x * x + x, -2.0, 2.0),
}


@SETTINGS
@given(
    name=st.sampled_from(sorted(UNARY)),
    shape=hnp.array_shapes(min_dims=0, max_dims=3, max_side=4),
    data=st.data(),
)
def test_unary(name, shape, data):
    fn, lo, hi = UNARY[name]
    check(fn, data.draw(values(shape, lo, hi)))


@SETTINGS
@given(x=values((3, 4), -1.0, 1.0), w=values((4,), -1.0, 1.0))
def test_composite_expression(x, w):
    def f(x, w):
        h = (x * w).tanh() + (x / (1 + w * w)).sigmoid()
        return (h * h).sum(axis=0) + h.mean() * x[1]

    check(f, x, w)


# ----------------------------------------------------------------------------- reductions
@st.composite
def shape_and_axis(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))
    nd = len(shape)
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        axis = None
    elif kind == "int":
        axis = draw(st.integers(-nd, nd - 1))
    else:
        axes = draw(st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True))
        axis = tuple(a - nd if draw(st.booleans()) else a for a in axes)
    return shape, axis, draw(st.booleans())


@SETTINGS
@given(sak=shape_and_axis(), name=st.sampled_from(["sum", "mean", "max", "min"]), data=st.data())
def test_reductions(sak, name, data):
    shape, axis, keep = sak
    x = data.draw(distinct(shape) if name in ("max", "min") else values(shape))
    name = {"max": "amax", "min": "amin"}.get(name, name)
    check(lambda t: getattr(t, name)(axis, keep) if name in ("amax", "amin") else getattr(t, name)(axis=axis, keepdims=keep), x)


@SETTINGS
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), data=st.data())
def test_softmax_and_log_softmax(shape, data):
    x = data.draw(values(shape, -4.0, 4.0))
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    check(lambda t: cr.softmax(t, dim=dim), x)
    check(lambda t: cr.log_softmax(t, dim=dim), x)


# ----------------------------------------------------------------------------- matmul
@st.composite
def matmul_shapes(draw):
    m, k, n = (draw(st.integers(1, 3)) for _ in range(3))
    batch = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=2, max_side=3))
    ba, bb = batch.input_shapes
    a = (k,) if draw(st.booleans()) and not ba else ba + (m, k)
    b = (k,) if draw(st.booleans()) and not bb else bb + (k, n)
    return a, b


@SETTINGS
@given(shapes=matmul_shapes(), data=st.data())
def test_matmul(shapes, data):
    sa, sb = shapes
    check(lambda a, b: a @ b, data.draw(values(sa)), data.draw(values(sb)))


@SETTINGS
@given(
    lead=hnp.array_shapes(min_dims=0, max_dims=2, max_side=3),
    fin=st.integers(1, 4),
    fout=st.integers(1, 4),
    bias=st.booleans(),
    data=st.data(),
)
def test_linear(lead, fin, fout, bias, data):
    x = data.draw(values(lead + (fin,)))
    w = data.draw(values((fout, fin)))
    if bias:
        check(cr.nn.functional.linear, x, w, data.draw(values((fout,))))
    else:
        check(cr.nn.functional.linear, x, w)


# ----------------------------------------------------------------------------- indexing and shape ops
@SETTINGS
@given(
    shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4),
    data=st.data(),
)
def test_integer_array_indexing_with_repeats(shape, data):
    x = data.draw(values(shape))
    idx = np.array(data.draw(st.lists(st.integers(-shape[0], shape[0] - 1), min_size=1, max_size=6)))
    check(lambda t: t[idx], x)
    if len(shape) > 1:
        cols = np.array(data.draw(st.lists(st.integers(0, shape[1] - 1), min_size=len(idx), max_size=len(idx))))
        check(lambda t: t[idx, cols], x)


@SETTINGS
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), data=st.data())
def test_boolean_mask_and_slices(shape, data):
    x = data.draw(values(shape))
    mask = data.draw(hnp.arrays(np.bool_, shape))
    check(lambda t: t[mask] * 2, x)
    check(lambda t: t[::2] * t[::2], x)


@SETTINGS
@given(shape=hnp.array_shapes(min_dims=1, max_dims=4, max_side=3), data=st.data())
def test_permute_reshape(shape, data):
    x = data.draw(values(shape))
    perm = data.draw(st.permutations(range(len(shape))))
    check(lambda t: t.permute(*perm).reshape(-1) * t.reshape(-1).exp(), x)


@SETTINGS
@given(
    shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=3),
    count=st.integers(1, 3),
    data=st.data(),
)
def test_cat_stack_where(shape, count, data):
    xs = [data.draw(values(shape)) for _ in range(count)]
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    check(lambda *ts: cr.cat([t * t for t in ts], dim=dim), *xs)
    check(lambda *ts: cr.stack(list(ts), dim=dim).tanh(), *xs)
    cond = data.draw(hnp.arrays(np.bool_, shape))
    check(lambda a: cr.where(cond, a * a, a.exp()), xs[0])


# ----------------------------------------------------------------------------- losses
@SETTINGS
@given(shape=hnp.array_shapes(min_dims=1, max_dims=2, max_side=4), red=st.sampled_from(["mean", "sum", "none"]),
       data=st.data())
def test_regression_losses(shape, red, data):
    p, t = data.draw(values(shape)), data.draw(values(shape))
    F = cr.nn.functional
    check(lambda a, b: F.mse_loss(a, b, reduction=red), p, t)
    check(F.half_sse_loss, p, t)
    q = data.draw(values(shape, 0.05, 0.95))
    y = data.draw(values(shape, 0.01, 0.99))  # inside [0, 1] with room for the finite-difference step
    check(lambda a, b: F.binary_cross_entropy(a, b, reduction=red), q, y)
    check(lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction=red), p * 3, y)


@SETTINGS
@given(n=st.integers(1, 4), c=st.integers(2, 5), red=st.sampled_from(["mean", "sum", "none"]), data=st.data())
def test_cross_entropy(n, c, red, data):
    z = data.draw(values((n, c), -5.0, 5.0))
    labels = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
    check(lambda t: cr.nn.functional.cross_entropy(t, labels, reduction=red), z)


@pytest.mark.parametrize("seed", range(3))
def test_mlp_step(seed):
    rng = np.random.default_rng(seed)
    x, w1, b1, w2 = rng.standard_normal((5, 4)), rng.standard_normal((6, 4)), rng.standard_normal(6), rng.standard_normal((3, 6))
    labels = np.array([0, 1, 2, 1, 0])
    F = cr.nn.functional

    def f(x, w1, b1, w2):
        return F.cross_entropy(F.linear(F.linear(x, w1, b1).tanh(), w2), labels)

    check(f, x, w1, b1, w2, constant=(0,))
