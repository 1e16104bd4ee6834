"""Fuzzed pipelines of the layer ops (convolution, pooling, normalisation, activations, losses) run
in chainrule and in PyTorch float64: random 4-D inputs, random valid arguments, random chains with
reused intermediate values; every value and every leaf's gradient must agree.

CI runs a couple of hundred pipelines; ``CHAINRULE_FUZZ_EXAMPLES=5000`` runs many more by hand.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

import chainrule as cr

EXAMPLES = max(int(os.environ.get("CHAINRULE_FUZZ_EXAMPLES", "500")) // 2, 20)
RTOL, ATOL = 1e-9, 1e-11


def lib_F(lib):
    return cr.nn.functional if lib is cr else torch.nn.functional


def step_conv(draw, s, rng):
    n, c, h, w = s
    groups = draw(st.sampled_from([g for g in (1, 2, 3) if c % g == 0]))
    cout = groups * draw(st.integers(1, 2))
    d = draw(st.sampled_from([1, 1, 2]))
    kh, kw = draw(st.integers(1, max(1, (h - 1) // d + 1))), draw(st.integers(1, max(1, (w - 1) // d + 1)))
    p, stride = draw(st.integers(0, 1)), draw(st.sampled_from([1, 1, 2]))
    oh, ow = (h + 2 * p - d * (kh - 1) - 1) // stride + 1, (w + 2 * p - d * (kw - 1) - 1) // stride + 1
    if oh < 1 or ow < 1:
        return None
    kw_ = {"w": rng.standard_normal((cout, c // groups, kh, kw)), "b": rng.standard_normal(cout) if draw(st.booleans()) else None,
           "stride": stride, "padding": p, "dilation": d, "groups": groups}
    return "conv2d", kw_, (n, cout, oh, ow)


def step_conv_t(draw, s, rng):
    n, c, h, w = s
    groups = draw(st.sampled_from([g for g in (1, 2) if c % g == 0]))
    cout_g = draw(st.integers(1, 2))
    k, stride, d = draw(st.integers(1, 3)), draw(st.sampled_from([1, 2])), draw(st.sampled_from([1, 2]))
    p = draw(st.integers(0, (d * (k - 1)) // 2))
    op = draw(st.integers(0, max(stride, d) - 1))
    oh, ow = [(x - 1) * stride - 2 * p + d * (k - 1) + op + 1 for x in (h, w)]
    if min(oh, ow) < 1 or oh > 12 or ow > 12:
        return None
    return "conv_transpose2d", {"w": rng.standard_normal((c, cout_g, k, k)), "b": rng.standard_normal(cout_g * groups),
                                "stride": stride, "padding": p, "output_padding": op, "groups": groups,
                                "dilation": d}, (n, cout_g * groups, oh, ow)


def step_pool(draw, s, rng, kind):
    n, c, h, w = s
    kh, kw = draw(st.integers(1, min(h, 3))), draw(st.integers(1, min(w, 3)))
    stride = draw(st.sampled_from([None, 1, 2]))
    p = draw(st.integers(0, min(kh, kw) // 2))
    ceil = draw(st.booleans())
    d = draw(st.sampled_from([1, 2])) if kind == "max_pool2d" else 1
    from chainrule.ops.pool import pool_out_size
    st_ = (kh, kw) if stride is None else (stride, stride)
    oh, ow = pool_out_size(h, kh, st_[0], p, d, ceil), pool_out_size(w, kw, st_[1], p, d, ceil)
    if oh < 1 or ow < 1:
        return None
    kw_ = {"kernel_size": (kh, kw), "stride": stride, "padding": p, "ceil_mode": ceil}
    if kind == "max_pool2d":
        kw_["dilation"] = d
    else:
        kw_["count_include_pad"] = draw(st.booleans())
    return kind, kw_, (n, c, oh, ow)


@st.composite
def pipelines(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(2, 7)), draw(st.integers(2, 7)))
    steps, shapes = [("leaf", {"array": rng.standard_normal(s) * 2}, s, None)], [s]
    for _ in range(draw(st.integers(1, 5))):
        i = len(shapes) - 1 - draw(st.integers(0, min(2, len(shapes) - 1)))
        s = shapes[i]
        kind = draw(st.sampled_from(["conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "adaptive",
                                     "batch_norm", "layer_norm", "act", "add"]))
        if kind == "conv2d":
            made = step_conv(draw, s, rng)
        elif kind == "conv_transpose2d":
            made = step_conv_t(draw, s, rng)
        elif kind in ("max_pool2d", "avg_pool2d"):
            made = step_pool(draw, s, rng, kind)
        elif kind == "adaptive":
            size = (draw(st.integers(1, s[2])), draw(st.integers(1, s[3] + 2)))
            made = ("adaptive_avg_pool2d", {"output_size": size}, s[:2] + size)
        elif kind == "batch_norm":
            if s[0] * s[2] * s[3] < 2:
                continue
            made = ("batch_norm", {"w": rng.standard_normal(s[1]), "b": rng.standard_normal(s[1])}, s)
        elif kind == "layer_norm":
            k = draw(st.integers(1, 2))
            made = ("layer_norm", {"shape": s[4 - k:], "w": rng.standard_normal(s[4 - k:]),
                                   "b": rng.standard_normal(s[4 - k:])}, s)
        elif kind == "act":
            made = (draw(st.sampled_from(["gelu", "gelu_tanh", "elu", "silu", "tanh"])), {}, s)
        else:
            same = [j for j in range(len(shapes)) if shapes[j] == s]
            made = ("add", {"other": draw(st.sampled_from(same))}, s)
        if made is None:
            continue
        steps.append((made[0], made[1], made[2], i))
        shapes.append(made[2])
    s = shapes[-1]
    loss = draw(st.sampled_from(["sum", "cross_entropy", "nll", "huber", "smooth_l1", "l1"]))
    t = None
    if loss in ("cross_entropy", "nll"):
        t = rng.integers(0, s[1], (s[0],) + s[2:])
        t.ravel()[0] = -100 if draw(st.booleans()) else t.ravel()[0]
        extra = {"weight": rng.uniform(0.2, 2, s[1]) if draw(st.booleans()) else None}
        if loss == "cross_entropy":
            extra["label_smoothing"] = draw(st.sampled_from([0.0, 0.1]))
        if draw(st.booleans()):  # probability targets instead of class indices
            if loss == "cross_entropy":
                probs = rng.dirichlet(np.ones(s[1]), size=(s[0],) + s[2:])
                t = np.moveaxis(probs, -1, 1)
    elif loss in ("huber", "smooth_l1", "l1"):
        t = rng.standard_normal(s)
        extra = {}
    else:
        extra = {}
    return steps, (loss, t, extra), rng.standard_normal(()), seed


def run(lib, steps, loss):
    F = lib_F(lib)
    as_t = (lambda a: cr.tensor(a, dtype=np.float64, requires_grad=True)) if lib is cr else \
        (lambda a: torch.tensor(a, dtype=torch.float64, requires_grad=True))
    const = (lambda a: cr.tensor(a)) if lib is cr else (lambda a: torch.tensor(a))
    values, leaves = [], []

    def leaf(a):
        t = as_t(a)
        leaves.append(t)
        return t

    for op, kw, _, i in steps:
        x = values[i] if i is not None else None
        if op == "leaf":
            v = leaf(kw["array"])
        elif op == "conv2d":
            v = F.conv2d(x, leaf(kw["w"]), None if kw["b"] is None else leaf(kw["b"]), kw["stride"], kw["padding"],
                         kw["dilation"], kw["groups"])
        elif op == "conv_transpose2d":
            v = F.conv_transpose2d(x, leaf(kw["w"]), leaf(kw["b"]), kw["stride"], kw["padding"], kw["output_padding"],
                                   kw["groups"], kw["dilation"])
        elif op == "max_pool2d":
            v = F.max_pool2d(x, kw["kernel_size"], kw["stride"], kw["padding"], kw["dilation"], kw["ceil_mode"])
        elif op == "avg_pool2d":
            v = F.avg_pool2d(x, kw["kernel_size"], kw["stride"], kw["padding"], kw["ceil_mode"], kw["count_include_pad"])
        elif op == "adaptive_avg_pool2d":
            v = F.adaptive_avg_pool2d(x, kw["output_size"])
        elif op == "batch_norm":
            v = F.batch_norm(x, None, None, leaf(kw["w"]), leaf(kw["b"]), True)
        elif op == "layer_norm":
            v = F.layer_norm(x, kw["shape"], leaf(kw["w"]), leaf(kw["b"]))
        elif op in ("gelu", "gelu_tanh"):
            v = F.gelu(x, approximate="tanh" if op == "gelu_tanh" else "none")
        elif op in ("elu", "silu", "tanh"):
            v = getattr(F, op)(x) if op != "tanh" else x.tanh()
        elif op == "add":
            v = x + values[kw["other"]]
        values.append(v)
    out = values[-1]
    name, t, extra = loss
    if name == "sum":
        return out.sum() if lib is torch else out.sum(), leaves, values
    weight = None if extra.get("weight") is None else const(extra["weight"])
    if name == "cross_entropy":
        return F.cross_entropy(out, const(t), weight, label_smoothing=extra["label_smoothing"]), leaves, values
    if name == "nll":
        logp = out.log_softmax(1)
        return F.nll_loss(logp, const(t), weight), leaves, values
    return {"huber": F.huber_loss, "smooth_l1": F.smooth_l1_loss, "l1": F.l1_loss}[name](out, const(t)), leaves, values


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(pipelines())
def test_layer_pipelines_match_pytorch(case):
    steps, loss, upstream, seed = case
    note(f"seed {seed}: " + " → ".join(f"{op}{ {k: v for k, v in kw.items() if not isinstance(v, np.ndarray)} }"
                                         for op, kw, _, _ in steps) + f" → {loss[0]}")
    ours, c_leaves, c_values = run(cr, steps, loss)
    theirs, t_leaves, t_values = run(torch, steps, loss)
    for k, (a, b) in enumerate(zip(c_values, t_values)):
        np.testing.assert_allclose(a.array, b.detach().numpy(), rtol=RTOL, atol=ATOL, err_msg=f"value of step {k}")
    np.testing.assert_allclose(ours.array, theirs.detach().numpy(), rtol=RTOL, atol=ATOL, err_msg="loss")
    ours.backward(upstream)
    theirs.backward(torch.tensor(upstream))
    for k, (a, b) in enumerate(zip(c_leaves, t_leaves)):
        expected = np.zeros(b.shape) if b.grad is None else b.grad.numpy()  # a leaf the loss does not use
        actual = np.zeros(a.shape) if a.grad is None else a.grad
        scale = max(1.0, float(np.abs(expected).max(initial=0)))
        np.testing.assert_allclose(actual, expected, rtol=1e-8, atol=ATOL * 10 * scale, err_msg=f"gradient of leaf {k}")
