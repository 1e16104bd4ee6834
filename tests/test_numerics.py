"""Activations and losses hold full relative precision over their whole range (issue 9, item 1).

Two independent references, side by side:

* the exact value, from mpmath at 60 digits, rounded to the dtype; our value must be within a few ulps
  (float64) or 1e-6 relative (float32) of it, in both the forward value and the gradient;
* PyTorch 2.13 in the same dtype; our error must never exceed PyTorch's own by more than that tolerance,
  which also pins the semantics (softplus' threshold, BCE's clamp at −100, its ±inf target gradient).

Values below the dtype's smallest normal number are compared absolutely (subnormals carry few digits).
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
mpmath = pytest.importorskip("mpmath")

import chainrule as cr  # noqa: E402

F = cr.nn.functional
TF = torch.nn.functional
mp = mpmath.mp
mp.dps = 60

DTYPES = {"float32": (np.float32, torch.float32), "float64": (np.float64, torch.float64)}
RTOL = {np.float32: 1e-6, np.float64: 4 * np.finfo(np.float64).eps}
MAGNITUDES = [0, 1, 10, 17, 20, 30, 40, 80, 100, 700, 1000]


def tails(dtype):
    """±[0, 1, ..., 1000] and the dtype's extremes: ±max, ±smallest normal, ±smallest subnormal, ±inf."""
    fi = np.finfo(dtype)
    extremes = [fi.max, fi.tiny, fi.smallest_subnormal, np.inf]
    values = {s * float(v) for v in MAGNITUDES + [float(e) for e in extremes] for s in (1.0, -1.0)}
    return np.array(sorted(values), dtype=dtype)


def sig(x):
    return 1 / (1 + mp.exp(-x))


def mpf(x):
    return mp.mpf(float(x))


def to_dtype(value, dtype):
    with np.errstate(over="ignore"):
        return np.asarray(float(value), dtype=np.float64).astype(dtype)


def rel_err(ours, exact, dtype):
    """|ours − exact| / |exact| elementwise; 0 where both are the same inf or both nan; absolute below the
    smallest normal number."""
    ours, exact = np.asarray(ours, np.float64), np.asarray(exact, np.float64)
    same = (ours == exact) | (np.isnan(ours) & np.isnan(exact))
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(ours - exact) / np.maximum(np.abs(exact), np.finfo(dtype).tiny)
    return np.where(same, 0.0, np.where(np.isnan(err), np.inf, err))


def check(ours, theirs, exact, dtype, what, x=None):
    """Ours within tolerance of the exact value, and never worse than PyTorch beyond that tolerance."""
    tol = RTOL[dtype]
    mine = rel_err(ours, exact, dtype)
    bad = mine > tol
    assert not bad.any(), (f"{what}: relative error {mine[bad]} at {np.flatnonzero(bad)}; ours {np.asarray(ours)[bad]}, "
                           f"exact {np.asarray(exact)[bad]}, inputs {'' if x is None else np.asarray(x)[bad]}")
    if theirs is not None:
        torch_err = rel_err(theirs, exact, dtype)
        assert (mine <= np.maximum(torch_err, tol)).all(), f"{what}: worse than PyTorch"


def run(ours_fn, torch_fn, x, dtype, tdtype, upstream=None):
    """Value and gradient (for ``upstream``, default ones) in chainrule and in PyTorch."""
    upstream = np.ones_like(x) if upstream is None else upstream
    xc = cr.tensor(x, requires_grad=True)
    yc = ours_fn(xc)
    assert yc.dtype == dtype, f"{yc.dtype} != {dtype}"
    (yc * cr.tensor(upstream.astype(dtype))).sum().backward()
    xt = torch.tensor(x, dtype=tdtype, requires_grad=True)
    yt = torch_fn(xt)
    (yt * torch.tensor(upstream, dtype=tdtype)).sum().backward()
    return yc.data, xc.grad, yt.detach().numpy(), xt.grad.numpy()


# name: (ours, torch, exact f(x), exact f'(x), domain filter)
ELEMENTWISE = {
    "sigmoid": (lambda x: x.sigmoid(), torch.sigmoid, sig, lambda x: sig(x) * sig(-x), None),
    "tanh": (lambda x: x.tanh(), torch.tanh, mp.tanh, lambda x: mp.sech(x) ** 2, None),
    "exp": (lambda x: x.exp(), torch.exp, mp.exp, mp.exp, None),
    "log": (lambda x: x.log(), torch.log, mp.log, lambda x: 1 / x, lambda x: x > 0),
    "softplus": (lambda x: F.softplus(x), TF.softplus,
                 lambda x: x if x > 20 else mp.log1p(mp.exp(x)), lambda x: 1 if x > 20 else sig(x), None),
    "softplus_beta2_threshold5": (
        lambda x: F.softplus(x, beta=2.0, threshold=5.0), lambda x: TF.softplus(x, beta=2.0, threshold=5.0),
        lambda x: x if 2 * x > 5 else mp.log1p(mp.exp(2 * x)) / 2, lambda x: 1 if 2 * x > 5 else sig(2 * x), None),
    "logsigmoid": (lambda x: F.logsigmoid(x), TF.logsigmoid, lambda x: -mp.log1p(mp.exp(-x)), lambda x: sig(-x), None),
    "nn.Softplus": (lambda x: cr.nn.Softplus()(x), torch.nn.Softplus(), lambda x: x if x > 20 else mp.log1p(mp.exp(x)),
                    lambda x: 1 if x > 20 else sig(x), None),
    "nn.LogSigmoid": (lambda x: cr.nn.LogSigmoid()(x), torch.nn.LogSigmoid(), lambda x: -mp.log1p(mp.exp(-x)),
                      lambda x: sig(-x), None),
    # log σ(x) through two ops: exact wherever σ(x) is a normal number and not within ulps of 1 (above 0,
    # σ(x) rounds toward 1 and log σ(x) ≈ −e^(−x) keeps only what is left of that; use logsigmoid there).
    "sigmoid_then_log": (lambda x: x.sigmoid().log(), lambda x: x.sigmoid().log(),
                         lambda x: -mp.log1p(mp.exp(-x)), lambda x: sig(-x), "normal_sigmoid"),
    "bce_with_logits_target1": (
        lambda x: F.binary_cross_entropy_with_logits(x, cr.ones_like(x), reduction="none"),
        lambda x: TF.binary_cross_entropy_with_logits(x, torch.ones_like(x), reduction="none"),
        lambda x: mp.log1p(mp.exp(-x)), lambda x: -sig(-x), lambda x: np.isfinite(x)),
    "bce_with_logits_target0": (
        lambda x: F.binary_cross_entropy_with_logits(x, cr.zeros_like(x), reduction="none"),
        lambda x: TF.binary_cross_entropy_with_logits(x, torch.zeros_like(x), reduction="none"),
        lambda x: mp.log1p(mp.exp(x)), sig, lambda x: np.isfinite(x)),
}


@pytest.mark.parametrize("dname", DTYPES)
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_tails_exact_and_never_worse_than_torch(name, dname):
    dtype, tdtype = DTYPES[dname]
    ours_fn, torch_fn, f, df, keep = ELEMENTWISE[name]
    x = tails(dtype)
    if keep == "normal_sigmoid":
        x = x[(x > np.log(np.finfo(dtype).tiny) + 1) & (x <= 0)]
    elif keep is not None:
        x = x[keep(x)]
    y, g, ty, tg = run(ours_fn, torch_fn, x, dtype, tdtype)
    with np.errstate(over="ignore"):
        exact_y = np.array([to_dtype(f(mpf(v)), dtype) for v in x])
        exact_g = np.array([to_dtype(df(mpf(v)), dtype) for v in x])
    check(y, ty, exact_y, dtype, f"{name} value ({dname})", x)
    check(g, tg, exact_g, dtype, f"{name} gradient ({dname})", x)


def test_sigmoid_examples_from_the_issue():
    x = np.array([-10.0, -17.0, -20.0], dtype=np.float32)
    np.testing.assert_allclose(cr.tensor(x).sigmoid().data, torch.sigmoid(torch.tensor(x)).numpy(), rtol=1e-6)
    x64 = np.array([-40.0, -80.0, -700.0])
    out = cr.tensor(x64).sigmoid().data
    assert (out > 0).all()
    np.testing.assert_allclose(out, torch.sigmoid(torch.tensor(x64)).numpy(), rtol=1e-15)


@pytest.mark.parametrize("dname", DTYPES)
def test_log_of_sigmoid_at_minus_20_is_minus_20_with_gradient_1(dname):
    dtype, tdtype = DTYPES[dname]
    x = cr.tensor(np.array([-20.0], dtype=dtype), requires_grad=True)
    y = x.sigmoid().log()
    y.sum().backward()
    xt = torch.tensor([-20.0], dtype=tdtype, requires_grad=True)
    yt = xt.sigmoid().log()
    yt.sum().backward()
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=RTOL[dtype])
    np.testing.assert_allclose(x.grad, xt.grad.numpy(), rtol=RTOL[dtype])
    np.testing.assert_allclose(y.data, [-20.0], rtol=1e-7)
    np.testing.assert_allclose(x.grad, [1.0], rtol=1e-7)


@pytest.mark.parametrize("dname", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_sigmoid_then_bce_loss_matches_torch_in_the_tails(dname, reduction):
    """nn.Sigmoid + nn.BCELoss as a student writes it, logit −25 included: PyTorch's numbers. (Logits far
    above 0 are left out: there p rounds toward 1, and BCE on a probability cannot recover 1 − p.)"""
    dtype, tdtype = DTYPES[dname]
    z = np.array([-25.0, -25.0, -25.0, -10.0, 0.0, 3.0, -100.0, -30.0], dtype=dtype)
    y = np.array([1.0, 0.0, 0.5, 1.0, 0.3, 0.0, 0.0, 0.25], dtype=dtype)
    zc = cr.tensor(z, requires_grad=True)
    loss = cr.nn.BCELoss(reduction=reduction)(cr.nn.Sigmoid()(zc), cr.tensor(y))
    zt = torch.tensor(z, requires_grad=True)
    tloss = torch.nn.BCELoss(reduction=reduction)(torch.nn.Sigmoid()(zt), torch.tensor(y))
    (loss.sum() if reduction == "none" else loss).backward()
    (tloss.sum() if reduction == "none" else tloss).backward()
    assert zt.dtype == tdtype
    # Below the smallest normal number PyTorch's float32 sigmoid flushes to 0, ours keeps the subnormal.
    tiny = np.finfo(dtype).tiny
    np.testing.assert_allclose(loss.data, tloss.detach().numpy(), rtol=4 * RTOL[dtype], atol=tiny)
    np.testing.assert_allclose(zc.grad, zt.grad.numpy(), rtol=4 * RTOL[dtype], atol=tiny)


@pytest.mark.parametrize("dname", DTYPES)
def test_bce_at_p_0_and_1_is_pytorchs(dname):
    """Loss clamped at 100 per element; p's slope (p − y)/max(p(1 − p), 1e-12); y's slope ±inf."""
    dtype, tdtype = DTYPES[dname]
    p = np.array([0.0, 1.0, 0.0, 1.0, 1e-30, 1 - 1e-7, 0.5], dtype=dtype)
    y = np.array([0.3, 0.3, 0.0, 1.0, 1.0, 1.0, 0.0], dtype=dtype)
    pc, yc = cr.tensor(p, requires_grad=True), cr.tensor(y, requires_grad=True)
    loss = F.binary_cross_entropy(pc, yc, reduction="none")
    loss.sum().backward()
    pt, yt = torch.tensor(p, requires_grad=True), torch.tensor(y, requires_grad=True)
    tloss = TF.binary_cross_entropy(pt, yt, reduction="none")
    tloss.sum().backward()
    np.testing.assert_allclose(loss.data, tloss.detach().numpy(), rtol=RTOL[dtype])
    np.testing.assert_allclose(pc.grad, pt.grad.numpy(), rtol=RTOL[dtype])
    np.testing.assert_allclose(yc.grad, yt.grad.numpy(), rtol=RTOL[dtype])
    assert np.isinf(yc.grad[:4]).all()


# Row-wise ops on logits [x, 0, −x] (and [x, 0] pairs), with a fixed upstream gradient.
def rows(dtype):
    m = [float(v) for v in MAGNITUDES]
    return np.array([[v, 0.0, -v] for v in m] + [[-v, 0.0, 0.5] for v in m], dtype=dtype)


def exact_log_softmax(row):
    """−log Σ_j e^(z_j − z_i), as log1p of the other terms: exact even when they are e^−1400."""
    return [-mp.log1p(sum(mp.exp(mpf(w) - mpf(v)) for j, w in enumerate(row) if j != i)) for i, v in enumerate(row)]


UP = np.array([0.3, -1.2, 0.7])


@pytest.mark.parametrize("dname", DTYPES)
def test_log_softmax_rows(dname):
    dtype, tdtype = DTYPES[dname]
    z = rows(dtype)
    up = np.tile(UP, (len(z), 1))
    y, g, ty, tg = run(lambda x: x.log_softmax(-1), lambda x: x.log_softmax(-1), z, dtype, tdtype, up)
    exact = [exact_log_softmax(r) for r in z]
    check(y, ty, np.array([[to_dtype(v, dtype) for v in r] for r in exact]), dtype, f"log_softmax ({dname})")
    # The gradient g − softmax·Σg is compared row by row against the row's largest entry.
    for i, r in enumerate(exact):
        s = [mp.exp(v) for v in r]
        eg = np.array([float(mpf(UP[j]) - s[j] * sum(mpf(u) for u in UP)) for j in range(3)])
        assert np.abs(g[i] - eg).max() <= 4 * RTOL[dtype] * np.abs(eg).max(), (z[i], g[i], eg)


@pytest.mark.parametrize("dname", DTYPES)
def test_softmax_and_logsumexp_rows(dname):
    dtype, tdtype = DTYPES[dname]
    z = rows(dtype)
    up = np.tile(UP, (len(z), 1))
    exact = [exact_log_softmax(r) for r in z]
    soft = np.array([[to_dtype(mp.exp(v), dtype) for v in r] for r in exact])
    y, g, ty, tg = run(lambda x: x.softmax(-1), lambda x: x.softmax(-1), z, dtype, tdtype, up)
    check(y, ty, soft, dtype, f"softmax ({dname})")
    y, g, ty, tg = run(lambda x: x.logsumexp(-1), lambda x: x.logsumexp(-1), z, dtype, tdtype, np.ones(len(z)))
    lse = np.array([to_dtype(mp.log(sum(mp.exp(mpf(v)) for v in r)), dtype) for r in z])
    check(y, ty, lse, dtype, f"logsumexp ({dname})")
    check(g, tg, soft, dtype, f"logsumexp gradient ({dname})")


@pytest.mark.parametrize("dname", DTYPES)
def test_cross_entropy_rows(dname):
    """Value −log softmax(z)_y and gradient softmax(z) − onehot(y), each to full relative precision."""
    dtype, tdtype = DTYPES[dname]
    z = rows(dtype)
    for label in range(3):
        labels = np.full(len(z), label)
        zc = cr.tensor(z, requires_grad=True)
        loss = F.cross_entropy(zc, labels, reduction="none")
        loss.sum().backward()
        zt = torch.tensor(z, requires_grad=True)
        tloss = TF.cross_entropy(zt, torch.tensor(labels), reduction="none")
        tloss.sum().backward()
        exact = [exact_log_softmax(r) for r in z]
        check(loss.data, tloss.detach().numpy(), np.array([to_dtype(-r[label], dtype) for r in exact]), dtype,
              f"cross_entropy label {label} ({dname})")
        eg = np.array([[to_dtype(mp.expm1(v) if j == label else mp.exp(v), dtype) for j, v in enumerate(r)]
                       for r in exact])
        check(zc.grad, zt.grad.numpy(), eg, dtype, f"cross_entropy gradient label {label} ({dname})")


def test_softplus_and_logsigmoid_modules_print_like_torch():
    assert repr(cr.nn.Softplus()) == repr(torch.nn.Softplus())
    assert repr(cr.nn.Softplus(beta=2.0, threshold=5.0)) == repr(torch.nn.Softplus(beta=2.0, threshold=5.0))
    assert repr(cr.nn.LogSigmoid()) == repr(torch.nn.LogSigmoid())


hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies


@hypothesis.settings(max_examples=150, deadline=None)
@hypothesis.given(st.floats(-1000, 1000, allow_nan=False))
def test_sigmoid_logsigmoid_softplus_any_float64(x):
    """Anywhere in ±1000, float64: value and slope within 4 ulps of the exact ones."""
    xs = np.array([x])
    for name in ("sigmoid", "logsigmoid", "softplus", "tanh"):
        ours_fn, torch_fn, f, df, _ = ELEMENTWISE[name]
        y, g, ty, tg = run(ours_fn, torch_fn, xs, np.float64, torch.float64)
        check(y, ty, np.array([to_dtype(f(mpf(x)), np.float64)]), np.float64, f"{name}({x!r})")
        check(g, tg, np.array([to_dtype(df(mpf(x)), np.float64)]), np.float64, f"{name}'({x!r})")


@pytest.mark.parametrize("name,attrs", [("sigmoid", {}), ("tanh", {}), ("logsigmoid", {}),
                                        ("softplus", {"beta": 1.0, "threshold": 20.0}),
                                        ("softplus", {"beta": 2.0, "threshold": 5.0})])
def test_code_export_templates_compute_what_the_op_computes(name, attrs):
    """The scalar-Python and NumPy templates (value and slope) agree with forward and vjp to a few ulps over the
    tails, overflow-free: the exported scripts inherit the op's precision."""
    import math

    from chainrule.ops import REGISTRY
    from chainrule.tensor import apply

    op = REGISTRY[name]
    for z in [s * v for v in MAGNITUDES + [0.7, 2.4, 3.0] for s in (1.0, -1.0)]:
        x = cr.tensor(np.array([z]), requires_grad=True)
        y = apply(op, x, **attrs)
        y.sum().backward()
        a = float(y.data[0])
        for lang, env in (("py", {"math": math, "zz": z}), ("np", {"np": np, "zz": np.array([z])})):
            with np.errstate(over="raise", invalid="raise", divide="raise"):
                v = eval(op.code[lang].format(z="zz", a="a", **attrs), dict(env, a=a))  # noqa: S307
                d = eval(op.code[lang + "_d"].format(z="zz", a="a", **attrs), dict(env, a=a))  # noqa: S307
            v, d = float(np.ravel(v)[0]), float(np.ravel(d)[0])
            assert math.isclose(v, a, rel_tol=1e-15, abs_tol=1e-300), (name, lang, z, v, a)
            assert math.isclose(d, float(x.grad[0]), rel_tol=1e-15, abs_tol=1e-300), (name, lang, z, d, x.grad)


@pytest.mark.parametrize("row", [[np.inf, 1.0, 2.0], [np.nan, 1.0, 2.0], [-np.inf, 1.0, 2.0], [-np.inf] * 3])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_with_non_finite_logits_matches_torch(row, reduction):
    # A row with +inf or nan (or only -inf) gives nan in that row's loss and gradient and leaves the other
    # rows alone; -inf next to finite logits is an ordinary zero probability. PyTorch, side by side.
    z = np.array([row, [0.5, 1.5, -1.0]])
    y = np.array([1, 2])
    ours = cr.tensor(z, requires_grad=True)
    loss = F.cross_entropy(ours, y, reduction=reduction)
    theirs = torch.tensor(z, requires_grad=True)
    tloss = TF.cross_entropy(theirs, torch.tensor(y), reduction=reduction)
    np.testing.assert_allclose(loss.detach().numpy(), tloss.detach().numpy(), rtol=1e-12, equal_nan=True)
    loss.sum().backward()
    tloss.sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12, atol=1e-15, equal_nan=True)


@pytest.mark.parametrize("layout", ["F", "strided", "1-D"])
@pytest.mark.parametrize("label_dtype", [np.int64, np.int32, np.uint8, np.uint64])
def test_cross_entropy_reads_and_writes_rows_in_any_memory_layout(layout, label_dtype):
    # Rows are picked and written at flat indices: logits in Fortran order or with strides give the very
    # numbers of a contiguous copy, and PyTorch's to its own rounding; log_softmax too.
    rng = np.random.default_rng(3)
    base = rng.standard_normal((9, 12)) * 4
    z = {"F": np.asfortranarray(base[:5, :4]), "strided": base[::2, 1::3], "1-D": base[0, :4].copy()}[layout]
    y = np.array([3, 0, 2, 1, 3], dtype=label_dtype) if z.ndim == 2 else np.array(2, dtype=label_dtype)
    contiguous = np.ascontiguousarray(z)
    assert contiguous.ctypes.data != z.ctypes.data or z.ndim == 1
    for reduction in ("mean", "sum", "none"):
        results = []
        for logits in (z, contiguous):
            ours = cr.tensor(logits, requires_grad=True)
            loss = F.cross_entropy(ours, y, reduction=reduction)
            loss.sum().backward()
            no_backward = F.cross_entropy(cr.tensor(logits), y, reduction=reduction)  # keeps no softmax
            results.append((loss.detach().numpy(), no_backward.numpy(), ours.grad.numpy()))
        for got, expected in zip(*results):
            np.testing.assert_array_equal(got, expected)
        theirs = torch.tensor(contiguous, requires_grad=True)
        tloss = TF.cross_entropy(theirs, torch.tensor(y.astype(np.int64)), reduction=reduction)
        tloss.sum().backward()
        np.testing.assert_allclose(results[0][0], tloss.detach().numpy(), rtol=1e-11)
        np.testing.assert_allclose(results[0][2], theirs.grad.numpy(), rtol=1e-11, atol=1e-16)
    np.testing.assert_array_equal(F.log_softmax(cr.tensor(z), dim=-1).numpy(),
                                  F.log_softmax(cr.tensor(contiguous), dim=-1).numpy())
    np.testing.assert_allclose(F.log_softmax(cr.tensor(z), dim=-1).numpy(),
                               TF.log_softmax(torch.tensor(contiguous), dim=-1).numpy(), rtol=1e-11)


@pytest.mark.parametrize("changed_to", [4, 2, -1])
def test_cross_entropy_second_backward_uses_the_labels_of_the_forward_pass(changed_to):
    # Labels changed in place after the forward pass of a retained graph (out of range, or another class):
    # the second backward still differentiates the loss that was computed, like the first: PyTorch's
    # gradient with the original labels. (Flat indices made from a changed label 4 would land in the next row.)
    z = np.arange(12.0).reshape(4, 3) / 5
    labels = np.array([0, 1, 2, 0])
    y = cr.tensor(labels)
    theirs = torch.tensor(z, requires_grad=True)
    TF.cross_entropy(theirs, torch.tensor(labels), reduction="sum").backward()
    ours = cr.tensor(z, requires_grad=True)
    loss = F.cross_entropy(ours, y, reduction="sum")
    loss.backward(retain_graph=True)
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-13, atol=1e-16)
    ours.grad = None
    y[1] = changed_to
    loss.backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-13, atol=1e-16)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_of_an_empty_batch_matches_torch_to_the_sign(reduction):
    ours = F.cross_entropy(cr.tensor(np.zeros((0, 3), np.float32)), np.zeros(0, np.int64), reduction=reduction)
    theirs = TF.cross_entropy(torch.zeros(0, 3), torch.zeros(0, dtype=torch.int64), reduction=reduction)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())  # nan == nan here
    assert np.array_equal(np.signbit(ours.numpy()), np.signbit(theirs.numpy()))  # +0 for the empty sum, not −0


EMPTY_BATCH_LOSSES = ["cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
                      "binary_cross_entropy", "binary_cross_entropy_with_logits"]


@pytest.mark.parametrize("name", EMPTY_BATCH_LOSSES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.filterwarnings("error")  # PyTorch warns of nothing here
def test_losses_of_an_empty_batch_and_their_backward_match_torch(name, reduction):
    # The mean of no losses is nan and its gradient is empty, as in PyTorch (a 0/0 in the gradient's
    # scale raised ZeroDivisionError, and NumPy's mean warned "Mean of empty slice").
    results = []
    for F_, z, labels, target in (
        (TF, torch.zeros(0, 3, requires_grad=True), torch.zeros(0, dtype=torch.int64), torch.zeros(0, 3)),
        (F, cr.zeros(0, 3, requires_grad=True), np.zeros(0, np.int64), cr.zeros(0, 3)),
    ):
        x = z.sigmoid() if name == "binary_cross_entropy" else z
        loss = getattr(F_, name)(x, labels if name in ("cross_entropy", "nll_loss") else target, reduction=reduction)
        loss.sum().backward()
        results.append((loss.detach().numpy(), tuple(z.grad.shape)))
    (theirs, their_grad), (ours, our_grad) = results
    np.testing.assert_array_equal(ours, theirs)
    if not np.isnan(theirs).any():  # (a nan's sign bit prints nowhere, and PyTorch's depends on the kernel)
        np.testing.assert_array_equal(np.signbit(ours), np.signbit(theirs))  # +0, not −0
    assert ours.dtype == theirs.dtype and our_grad == their_grad == (0, 3)


GENERAL_CE_CASES = [(shape, kind, smoothing, reduction, ignore)
                    for shape in [(0, 0), (0, 3), (2, 3), (4, 3, 2), (0, 3, 2)]
                    for kind in ["index", "probability"] for smoothing in [0.0, 0.1]
                    for reduction in ["mean", "sum", "none"] for ignore in [-100, 1]
                    if kind == "index" or ignore == -100]


@pytest.mark.parametrize("shape, kind, smoothing, reduction, ignore", GENERAL_CE_CASES)
@pytest.mark.filterwarnings("error")  # PyTorch warns of nothing here
def test_general_cross_entropy_matches_torch_with_no_rows_no_classes_or_every_target_ignored(
        shape, kind, smoothing, reduction, ignore):
    # The composed path (label smoothing, ignore_index, probability targets, (N, C, d) logits): no rows or
    # no classes gave ZeroDivisionError or NumPy's 0/0 warning, and an ignored target's gradient −0.
    rng = np.random.default_rng(0)
    z = rng.standard_normal(shape)
    if kind == "probability":
        target = rng.random(shape)
    elif shape == (2, 3) and ignore == 1:
        target = np.array([1, 1])  # every target ignored
    else:
        target = rng.integers(0, max(shape[1], 1), (shape[0],) + shape[2:])
    theirs = torch.tensor(z, requires_grad=True)
    tloss = TF.cross_entropy(theirs, torch.tensor(target), label_smoothing=smoothing, reduction=reduction,
                             ignore_index=ignore)
    tloss.sum().backward()
    ours = cr.tensor(z, requires_grad=True)
    loss = F.cross_entropy(ours, target, label_smoothing=smoothing, reduction=reduction, ignore_index=ignore)
    loss.sum().backward()
    np.testing.assert_allclose(loss.detach().numpy(), tloss.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(np.signbit(ours.grad.numpy()), np.signbit(theirs.grad.numpy()))


@pytest.mark.parametrize("row", [[np.inf, 1.0], [-np.inf, -np.inf], [np.inf, np.inf], [-np.inf, 2.0], [np.nan, 1.0]])
@pytest.mark.filterwarnings("error")  # PyTorch warns of nothing here
def test_logsumexp_of_non_finite_rows_matches_torch_without_warnings(row):
    results = []
    for lib in (cr, torch):
        x = lib.tensor(np.array([row, [0.5, -1.0]]), requires_grad=True)
        y = x.logsumexp(dim=1)
        y.sum().backward()
        results.append((y.detach().numpy(), x.grad.numpy()))
    (ours, our_grad), (theirs, their_grad) = results
    np.testing.assert_allclose(ours, theirs, rtol=1e-14)  # inf, −inf and nan where PyTorch has them
    np.testing.assert_allclose(our_grad, their_grad, rtol=1e-14)


def test_cross_entropy_ignore_index_must_be_an_int():
    logits, labels = np.zeros((2, 3)), np.array([0, 1])
    with pytest.raises(TypeError, match="ignore_index"):
        TF.cross_entropy(torch.tensor(logits), torch.tensor(labels), ignore_index=None)
    with pytest.raises(TypeError, match="argument 'ignore_index' must be int, not NoneType"):
        F.cross_entropy(cr.tensor(logits), labels, ignore_index=None)


def test_mean_reduction_keeps_long_double_precision():
    if np.finfo(np.longdouble).eps >= np.finfo(np.float64).eps:
        pytest.skip("long double is double here")
    v = np.array([1, 2, 1], dtype=np.longdouble) / np.array([1, 1, 30], dtype=np.longdouble)
    ours = F.mse_loss(cr.tensor(v), np.zeros(3, np.longdouble)).item()
    assert ours == (v * v).mean()  # summed and divided in long double, not rounded through a Python float


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_loss_gradient_scale_is_numpys_quotient_to_the_bit(dtype):
    # _scale divides a 0-d gradient by the element count as a Python float (faster); the number must be
    # NumPy's own g / n, for every magnitude (subnormal to overflow) and count (over 2**24 too).
    from chainrule.ops.loss import _scale

    rng = np.random.default_rng(7)
    span = 4 if dtype is np.float16 else 40
    for _ in range(3000):
        with np.errstate(all="ignore"):
            g = np.asarray(dtype(rng.standard_normal() * 10.0 ** rng.uniform(-span, span)))
            n = int(rng.integers(1, 10 ** int(rng.integers(1, 9))))
            ours, numpy_ = _scale(g, n, "mean"), g / n
        assert ours.dtype == numpy_.dtype
        assert ours == numpy_ or (np.isnan(ours) and np.isnan(numpy_)), (g, n)
        assert np.signbit(ours) == np.signbit(numpy_)
