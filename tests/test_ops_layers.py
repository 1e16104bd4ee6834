"""The ops of convolutional and recurrent networks against PyTorch (values and every input's gradient,
float64 to 1e-10 and float32 to float32's precision), plus central finite differences (cr.gradcheck)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from helpers import assert_close, twin

import chainrule as cr

R = np.random.default_rng(2024)

# The ops twin-tested in this file (tests/test_ops.py checks that every registered op is covered somewhere).
COVERED = {"conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "batch_norm", "layer_norm",
           "dropout", "embedding", "gelu", "elu", "silu", "nll_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
           "binary_cross_entropy_with_logits_weighted"}


def rnd(*shape):
    return R.standard_normal(shape)


def F(lib):
    return cr.nn.functional if lib is cr else torch.nn.functional


def labels(lib, arr):
    return arr if lib is cr else torch.as_tensor(arr)


# ----------------------------------------------------------------------------- convolution
CONV = [  # stride, padding, dilation, groups
    (1, 0, 1, 1), (2, 1, 1, 1), (1, 2, 2, 1), (2, 1, 1, 2), ((2, 1), (0, 1), (1, 2), 3), (3, 2, 1, 6),
]


@pytest.mark.parametrize("stride,padding,dilation,groups", CONV)
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d(stride, padding, dilation, groups, bias):
    x, w = rnd(2, 6, 9, 8), rnd(6, 6 // groups, 3, 3)
    args = (x, w, rnd(6)) if bias else (x, w)
    twin(lambda L, x, w, *b: F(L).conv2d(x, w, b[0] if b else None, stride, padding, dilation, groups), *args)


@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("kernel,dilation", [(3, 1), (4, 1), ((2, 5), (2, 1))])
def test_conv2d_string_padding(padding, kernel, dilation):
    k = (kernel, kernel) if isinstance(kernel, int) else kernel
    twin(lambda L, x, w: F(L).conv2d(x, w, padding=padding, dilation=dilation), rnd(2, 3, 7, 8), rnd(4, 3, *k))


def test_conv2d_unbatched_and_rectangular_kernel():
    twin(lambda L, x, w, b: F(L).conv2d(x, w, b, stride=(1, 2)), rnd(3, 10, 9), rnd(5, 3, 2, 4), rnd(5))


@pytest.mark.parametrize("stride,padding,output_padding,dilation,groups", [
    (1, 0, 0, 1, 1), (2, 1, 1, 1, 1), (2, 0, 1, 2, 1), (3, 1, 2, 1, 2), ((2, 1), (1, 0), (1, 0), (1, 2), 3), (1, 1, 1, 2, 1),
])
def test_conv_transpose2d(stride, padding, output_padding, dilation, groups):
    x, w = rnd(2, 6, 5, 4), rnd(6, 8 // 2 if groups == 2 else (2 if groups == 3 else 4), 3, 3)
    twin(lambda L, x, w, b: F(L).conv_transpose2d(x, w, b, stride, padding, output_padding, groups, dilation),
         x, w, rnd(w.shape[1] * groups))


# ----------------------------------------------------------------------------- pooling
POOL = [(2, None, 0, 1, False), (3, 2, 1, 1, False), (3, 1, 1, 2, False), (3, 2, 1, 1, True), (2, 3, 1, 1, True),
        ((2, 3), (1, 2), (1, 0), 1, False)]


@pytest.mark.parametrize("kernel,stride,padding,dilation,ceil_mode", POOL)
def test_max_pool2d(kernel, stride, padding, dilation, ceil_mode):
    twin(lambda L, x: F(L).max_pool2d(x, kernel, stride, padding, dilation, ceil_mode), rnd(2, 3, 9, 10))


def test_max_pool2d_ties_route_to_the_first_maximum_as_torch():
    x = np.zeros((1, 2, 4, 4))
    x[0, 1, :2, :2] = 1.0
    x[0, 1, 2:, 2:] = [[0.5, 2.0], [2.0, 2.0]]
    for stride in (2, 1):
        twin(lambda L, x, s=stride: F(L).max_pool2d(x, 2, s), x)


def test_max_pool2d_return_indices():
    x = rnd(2, 3, 7, 6)
    out, idx = cr.nn.functional.max_pool2d(cr.tensor(x), 3, 2, 1, return_indices=True)
    ref, ref_idx = torch.nn.functional.max_pool2d(torch.tensor(x), 3, 2, 1, return_indices=True)
    assert_close(out.array, ref.numpy())
    np.testing.assert_array_equal(idx.array, ref_idx.numpy())


@pytest.mark.parametrize("kernel,stride,padding,dilation,ceil_mode", [p for p in POOL if p[3] == 1])
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool2d(kernel, stride, padding, dilation, ceil_mode, count_include_pad):
    twin(lambda L, x: F(L).avg_pool2d(x, kernel, stride, padding, ceil_mode, count_include_pad), rnd(2, 3, 9, 10))


def test_avg_pool2d_divisor_override():
    twin(lambda L, x: F(L).avg_pool2d(x, 3, 2, 1, divisor_override=5), rnd(2, 3, 8, 8))


@pytest.mark.parametrize("size", [1, (3, 4), (5, 7), (None, 2), (9, 10)])
def test_adaptive_avg_pool2d(size):
    twin(lambda L, x: F(L).adaptive_avg_pool2d(x, size), rnd(2, 3, 9, 10))


# ----------------------------------------------------------------------------- normalisation, dropout, embedding
@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 6), (4, 3, 5, 2)])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_function(shape, training):
    c = shape[1]
    mean, var = rnd(c), R.uniform(0.5, 2.0, c)

    def fn(L, x, w, b):
        rm, rv = L.tensor(mean.copy()), L.tensor(var.copy())
        out = F(L).batch_norm(x, rm, rv, w, b, training, 0.3, 1e-3)
        fn.stats[L.__name__] = (np.asarray(rm.array if L is cr else rm.numpy()), np.asarray(rv.array if L is cr else rv.numpy()))
        return out

    fn.stats = {}
    twin(fn, rnd(*shape) * 2 + 1, rnd(c), rnd(c))
    assert_close(fn.stats["chainrule"][0], fn.stats["torch"][0], what="running mean")
    assert_close(fn.stats["chainrule"][1], fn.stats["torch"][1], what="running var (unbiased)")


def test_batch_norm_without_affine_or_running_stats():
    twin(lambda L, x: F(L).batch_norm(x, None, None, training=True), rnd(6, 4, 3))


@pytest.mark.parametrize("normalized", [(4,), (3, 4)])
def test_layer_norm(normalized):
    twin(lambda L, x, w, b: F(L).layer_norm(x, normalized, w, b, 1e-4), rnd(2, 3, 4) * 3, rnd(*normalized), rnd(*normalized))
    twin(lambda L, x: F(L).layer_norm(x, normalized), rnd(2, 3, 4))


def test_dropout_scales_the_kept_and_zeroes_the_rest():
    cr.manual_seed(0)
    x = cr.tensor(np.ones((200, 50)), requires_grad=True)
    y = cr.nn.functional.dropout(x, 0.3)
    kept = y.array != 0
    assert_close(y.array[kept], np.full(kept.sum(), 1 / 0.7))  # hand algebra: 1/(1 − p)
    assert abs(kept.mean() - 0.7) < 0.01  # 10,000 draws: the kept fraction is 0.7 ± 0.0046 (1σ)
    y.backward(gradient=np.full(y.shape, 2.0))
    assert_close(x.grad, np.where(kept, 2.0 / 0.7, 0.0))
    cr.manual_seed(0)
    again = cr.nn.functional.dropout(cr.tensor(np.ones((200, 50))), 0.3)
    np.testing.assert_array_equal(again.array, y.array)  # the same seed, the same mask
    assert cr.nn.functional.dropout(x, 0.3, training=False) is x
    assert not cr.nn.functional.dropout(x, 1.0).array.any()
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        cr.nn.functional.dropout(x, 1.5)


@pytest.mark.parametrize("padding_idx", [None, 2, -1])
def test_embedding(padding_idx):
    index = np.array([[0, 2, 4], [2, 2, 1]])
    twin(lambda L, w: F(L).embedding(labels(L, index), w, padding_idx), rnd(5, 3))


# ----------------------------------------------------------------------------- activations
@pytest.mark.parametrize("name,fn", [
    ("gelu", lambda L, x: F(L).gelu(x)),
    ("gelu_tanh", lambda L, x: F(L).gelu(x, approximate="tanh")),
    ("elu", lambda L, x: F(L).elu(x)),
    ("elu_alpha", lambda L, x: F(L).elu(x, 0.7)),
    ("silu", lambda L, x: F(L).silu(x)),
])
def test_activations(name, fn):
    twin(fn, rnd(4, 5) * 3)


# ----------------------------------------------------------------------------- losses
REDUCTIONS = ["mean", "sum", "none"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kind", ["l1", "smooth_l1", "smooth_l1_beta", "smooth_l1_beta0", "huber", "huber_delta"])
def test_regression_losses(kind, reduction):
    fn = {"l1": lambda L, a, b: F(L).l1_loss(a, b, reduction=reduction),
          "smooth_l1": lambda L, a, b: F(L).smooth_l1_loss(a, b, reduction=reduction),
          "smooth_l1_beta": lambda L, a, b: F(L).smooth_l1_loss(a, b, reduction=reduction, beta=0.4),
          "smooth_l1_beta0": lambda L, a, b: F(L).smooth_l1_loss(a, b, reduction=reduction, beta=0.0),
          "huber": lambda L, a, b: F(L).huber_loss(a, b, reduction=reduction),
          "huber_delta": lambda L, a, b: F(L).huber_loss(a, b, reduction=reduction, delta=0.3)}[kind]
    twin(fn, rnd(4, 5) * 2, rnd(4, 5))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape,target", [((5, 4), (5,)), ((3, 4, 2, 2), (3, 2, 2)), ((4,), ())])
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss(shape, target, reduction, weighted):
    t = R.integers(0, 4, target)
    if t.ndim:
        t.ravel()[0] = 7  # one ignored position
    w = R.uniform(0.2, 2.0, 4) if weighted else None

    def fn(L, x):
        return F(L).nll_loss(x.log_softmax(0 if x.ndim == 1 else 1), labels(L, t), None if w is None else L.tensor(w),
                             ignore_index=7, reduction=reduction)
    twin(fn, rnd(*shape))


CE = [  # input shape, target shape (None: probabilities), weight, ignore_index, label_smoothing
    ((5, 4), (5,), False, -100, 0.0), ((5, 4), (5,), True, -100, 0.0), ((5, 4), (5,), True, 1, 0.0),
    ((5, 4), (5,), False, 2, 0.2), ((5, 4), (5,), True, 0, 0.3), ((3, 4, 2, 3), (3, 2, 3), True, 3, 0.1),
    ((4,), (), False, -100, 0.25), ((5, 4), None, False, -100, 0.0), ((5, 4), None, True, -100, 0.15),
    ((2, 4, 3), None, True, -100, 0.0),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape,target,weighted,ignore_index,smoothing", CE)
def test_cross_entropy_in_full(shape, target, weighted, ignore_index, smoothing, reduction):
    w = R.uniform(0.2, 2.0, shape[0] if len(shape) == 1 else shape[1]) if weighted else None
    if target is None:
        probs = R.dirichlet(np.ones(shape[1]), size=(shape[0],) + shape[2:])
        probs = np.moveaxis(probs, -1, 1)

        def fn(L, x, p):
            return F(L).cross_entropy(x, p, None if w is None else L.tensor(w), reduction=reduction,
                                      label_smoothing=smoothing)
        twin(fn, rnd(*shape), probs)
        return
    t = R.integers(0, shape[0] if len(shape) == 1 else shape[1], target)

    def fn(L, x):
        return F(L).cross_entropy(x, labels(L, t), None if w is None else L.tensor(w), ignore_index=ignore_index,
                                  reduction=reduction, label_smoothing=smoothing)
    twin(fn, rnd(*shape) * 2)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight,pos_weight", [(True, False), (False, True), (True, True)])
def test_bce_with_logits_weights(weight, pos_weight, reduction):
    w, pw = R.uniform(0.2, 2.0, (4, 3)) if weight else None, R.uniform(0.5, 3.0, 3) if pos_weight else None

    def fn(L, z, y):
        return F(L).binary_cross_entropy_with_logits(z, y, None if w is None else L.tensor(w), reduction=reduction,
                                                     pos_weight=None if pw is None else L.tensor(pw))
    twin(fn, rnd(4, 3) * 4, R.uniform(0, 1, (4, 3)))


# ----------------------------------------------------------------------------- float32 and finite differences
FLOAT32 = [
    ("conv2d", lambda L, x, w, b: F(L).conv2d(x, w, b, 2, 1), lambda: (rnd(2, 3, 8, 8), rnd(4, 3, 3, 3), rnd(4))),
    ("conv_transpose2d", lambda L, x, w, b: F(L).conv_transpose2d(x, w, b, 2, 1, 1), lambda: (rnd(2, 3, 4, 4), rnd(3, 2, 3, 3), rnd(2))),
    ("max_pool2d", lambda L, x: F(L).max_pool2d(x, 3, 2, 1), lambda: (rnd(2, 3, 8, 8),)),
    ("avg_pool2d", lambda L, x: F(L).avg_pool2d(x, 3, 2, 1, count_include_pad=False), lambda: (rnd(2, 3, 8, 8),)),
    ("adaptive_avg_pool2d", lambda L, x: F(L).adaptive_avg_pool2d(x, (3, 5)), lambda: (rnd(2, 3, 8, 8),)),
    ("batch_norm", lambda L, x, w, b: F(L).batch_norm(x, None, None, w, b, True), lambda: (rnd(4, 3, 5), rnd(3), rnd(3))),
    ("layer_norm", lambda L, x, w, b: F(L).layer_norm(x, (5,), w, b), lambda: (rnd(4, 3, 5), rnd(5), rnd(5))),
    ("embedding", lambda L, w: F(L).embedding(labels(L, np.array([1, 0, 1])), w), lambda: (rnd(3, 4),)),
    ("gelu", lambda L, x: F(L).gelu(x), lambda: (rnd(3, 4),)),
    ("elu", lambda L, x: F(L).elu(x), lambda: (rnd(3, 4),)),
    ("silu", lambda L, x: F(L).silu(x), lambda: (rnd(3, 4),)),
    ("nll_loss", lambda L, x: F(L).nll_loss(x, labels(L, np.array([0, 2, 1]))), lambda: (rnd(3, 4),)),
    ("l1_loss", lambda L, a, b: F(L).l1_loss(a, b), lambda: (rnd(3, 4), rnd(3, 4))),
    ("smooth_l1_loss", lambda L, a, b: F(L).smooth_l1_loss(a, b), lambda: (rnd(3, 4), rnd(3, 4))),
    ("huber_loss", lambda L, a, b: F(L).huber_loss(a, b, delta=0.5), lambda: (rnd(3, 4), rnd(3, 4))),
    ("cross_entropy", lambda L, x: F(L).cross_entropy(x, labels(L, np.array([0, 2, 1])), L.tensor(np.array([1.0, 2.0, 0.5, 1.0], dtype=np.float32)), label_smoothing=0.1), lambda: (rnd(3, 4),)),
    ("bce_pos_weight", lambda L, z, y: F(L).binary_cross_entropy_with_logits(z, y, pos_weight=L.tensor(np.array([2.0, 0.5, 1.0], dtype=np.float32))), lambda: (rnd(4, 3), R.uniform(0, 1, (4, 3)))),
]


@pytest.mark.parametrize("name,fn,make", FLOAT32, ids=[f[0] for f in FLOAT32])
def test_float32_against_torch(name, fn, make):
    arrays = [a.astype(np.float32) for a in make()]
    ours = [cr.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, ref = fn(cr, *ours), fn(torch, *theirs)
    assert out.dtype == np.float32
    assert_close(out.array, ref.detach().numpy(), rtol=2e-5, atol=2e-6, what="value")
    g = R.standard_normal(ref.shape).astype(np.float32)
    out.backward(gradient=g)
    ref.backward(gradient=torch.tensor(g))
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert a.grad.dtype == np.float32
        assert_close(a.grad, b.grad.numpy(), rtol=2e-4, atol=2e-5, what=f"grad {i}")


GRADCHECK = [
    ("conv2d", lambda x, w, b: cr.nn.functional.conv2d(x, w, b, 2, 1, 2), (2, 2, 7, 7), (3, 2, 2, 3), (3,)),
    ("conv2d_groups", lambda x, w: cr.nn.functional.conv2d(x, w, None, 1, 1, 1, 2), (1, 4, 5, 5), (2, 2, 3, 3)),
    ("conv_transpose2d", lambda x, w, b: cr.nn.functional.conv_transpose2d(x, w, b, 2, 1, 1), (2, 2, 3, 3), (2, 3, 3, 3), (3,)),
    ("max_pool2d", lambda x: cr.nn.functional.max_pool2d(x, 3, 2, 1), (1, 2, 6, 6)),
    ("avg_pool2d", lambda x: cr.nn.functional.avg_pool2d(x, 3, 2, 1, ceil_mode=True), (1, 2, 6, 6)),
    ("adaptive_avg_pool2d", lambda x: cr.nn.functional.adaptive_avg_pool2d(x, (2, 3)), (1, 2, 5, 7)),
    ("batch_norm", lambda x, w, b: cr.nn.functional.batch_norm(x, None, None, w, b, True), (4, 3, 2), (3,), (3,)),
    ("layer_norm", lambda x, w, b: cr.nn.functional.layer_norm(x, (2, 3), w, b), (2, 2, 3), (2, 3), (2, 3)),
    ("embedding", lambda w: cr.nn.functional.embedding(np.array([[1, 0], [1, 3]]), w), (4, 3)),
    ("gelu", lambda x: cr.nn.functional.gelu(x), (3, 4)),
    ("gelu_tanh", lambda x: cr.nn.functional.gelu(x, "tanh"), (3, 4)),
    ("elu", lambda x: cr.nn.functional.elu(x), (3, 4)),
    ("silu", lambda x: cr.nn.functional.silu(x), (3, 4)),
    ("nll_loss", lambda x: cr.nn.functional.nll_loss(x, np.array([[0, 1], [2, 0]]), ignore_index=2), (2, 3, 2)),
    ("smooth_l1_loss", lambda a, b: cr.nn.functional.smooth_l1_loss(a, b, beta=0.5), (3, 4), (3, 4)),
    ("huber_loss", lambda a, b: cr.nn.functional.huber_loss(a, b, delta=0.5), (3, 4), (3, 4)),
    ("l1_loss", lambda a, b: cr.nn.functional.l1_loss(a, b), (3, 4), (3, 4)),
    ("cross_entropy", lambda x: cr.nn.functional.cross_entropy(x, np.array([[0, 2], [1, 1]]), label_smoothing=0.2), (2, 3, 2)),
    ("bce_weighted", lambda z, y: cr.nn.functional.binary_cross_entropy_with_logits(
        z, y, weight=np.array([1.0, 0.5]), pos_weight=np.array([3.0, 0.5])), (3, 2), (3, 2)),
    ("dropout", lambda x: (cr.manual_seed(5), cr.nn.functional.dropout(x, 0.4))[1], (4, 5)),  # one mask every call
]
# Registered op names with a case above (tests/test_check.py checks that every op has one somewhere).
GRADCHECKED = {"conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "batch_norm",
               "layer_norm", "embedding", "gelu", "elu", "silu", "nll_loss", "smooth_l1_loss", "huber_loss", "l1_loss",
               "binary_cross_entropy_with_logits_weighted", "dropout"}


@pytest.mark.parametrize("name,fn,shapes", [(g[0], g[1], g[2:]) for g in GRADCHECK], ids=[g[0] for g in GRADCHECK])
def test_gradcheck(name, fn, shapes):
    rng = np.random.default_rng(7)
    inputs = []
    for shape in shapes:
        a = rng.uniform(-1, 1, shape)
        if "l1" in name or "huber" in name:
            a = a * 3  # keep |prediction − target| away from the kinks at 0 and ±β
        inputs.append(cr.tensor(a, dtype=np.float64, requires_grad=True))
    if name == "max_pool2d":  # distinct values: no ties, so the arg-max does not move under ±eps
        inputs[0] = cr.tensor(rng.permutation(72).reshape(shapes[0]) / 10.0, dtype=np.float64, requires_grad=True)
    assert cr.gradcheck(fn, tuple(inputs))


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_every_target_ignored(smoothing):
    """Mean over no targets: the loss is nan and the gradient 0, as in PyTorch (found by the layer fuzz)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # 0/0 in the forward, as PyTorch computes it
        out, _ = twin(lambda L, x: F(L).cross_entropy(x, labels(L, np.array([[-100, -100]])), label_smoothing=smoothing),
                      rnd(1, 3, 2))
    assert np.isnan(out.item())
