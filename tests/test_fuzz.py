"""Fuzzed gradients: random expression graphs over every op, evaluated in chainrule and in PyTorch float64.

A hypothesis strategy writes a small *program*: a list of steps, each an op applied to earlier steps
(so subexpressions are reused) or a fresh leaf. The same program runs through two adapters, one
calling chainrule and one calling PyTorch; the output values and the gradient of every leaf (for a
random upstream gradient) must agree tightly. Without PyTorch the gradients are checked against
central finite differences of chainrule's own forward instead (ops with kinks are then left out).

CI runs a few hundred programs; set ``CHAINRULE_FUZZ_EXAMPLES=5000`` to run many more by hand.
The second half of the file holds the fixed stress cases: a 100,000-op chain, ±1000 magnitudes, ties.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, note, settings
from hypothesis import strategies as st

import chainrule as cr
import chainrule.nn.functional as F

try:
    import torch
except ImportError:  # pragma: no cover - exercised where PyTorch is not installed
    torch = None

EXAMPLES = int(os.environ.get("CHAINRULE_FUZZ_EXAMPLES", "500"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                               HealthCheck.filter_too_much])
RTOL, ATOL = 1e-9, 1e-11
LIMIT = 1e6  # programs whose intermediate values leave [-LIMIT, LIMIT] are discarded (overflow, not a bug)


# ---------------------------------------------------------------------------- the two adapters
class CR:
    """Each op as chainrule spells it."""

    @staticmethod
    def leaf(a):
        return cr.tensor(a, dtype=np.float64, requires_grad=True)

    neg = staticmethod(lambda x: -x)
    exp_t = staticmethod(lambda x: x.tanh().exp())
    log_p = staticmethod(lambda x: (x * x + 0.5).log())
    sqrt_p = staticmethod(lambda x: cr.sqrt(x * x + 0.1))
    abs = staticmethod(lambda x: x.abs())
    tanh = staticmethod(lambda x: cr.tanh(x))
    sigmoid = staticmethod(lambda x: x.sigmoid())
    relu = staticmethod(lambda x: cr.relu(x))
    leaky_relu = staticmethod(lambda x, slope: cr.leaky_relu(x, slope))
    clip = staticmethod(lambda x, lo, hi: x.clip(lo, hi))
    square = staticmethod(lambda x: x**2)
    scalar = staticmethod(lambda x, kind, c: _scalar(x, kind, c))
    add = staticmethod(lambda a, b: a + b)
    sub = staticmethod(lambda a, b: a - b)
    mul = staticmethod(lambda a, b: a * b)
    div_p = staticmethod(lambda a, b: a / (b * b + 0.5))
    pow_p = staticmethod(lambda a, b: (a.sigmoid() + 0.5) ** b.tanh())
    where = staticmethod(lambda a, b, cond: cr.where(cond, a, b))
    sum = staticmethod(lambda x, axis, keep: x.sum(axis=axis, keepdims=keep))
    mean = staticmethod(lambda x, axis, keep: x.mean(axis=axis, keepdims=keep))
    amax = staticmethod(lambda x, axis, keep: x.amax(axis, keep))
    amin = staticmethod(lambda x, axis, keep: x.amin(axis, keep))
    softmax = staticmethod(lambda x, dim: cr.softmax(x, dim))
    log_softmax = staticmethod(lambda x, dim: x.log_softmax(dim))
    logsumexp = staticmethod(lambda x, dim, keep: x.logsumexp(dim, keep))
    reshape = staticmethod(lambda x, shape: x.reshape(shape))
    permute = staticmethod(lambda x, axes: x.permute(*axes))
    index = staticmethod(lambda x, index: x[index])
    cat = staticmethod(lambda a, b, dim: cr.cat([a, b], dim))
    stack = staticmethod(lambda a, b, dim: cr.stack([a, b], dim))
    matmul = staticmethod(lambda a, b: a @ b)
    linear = staticmethod(lambda x, w, b=None: F.linear(x, w, b))
    mse = staticmethod(lambda a, b, red: F.mse_loss(a, b, reduction=red))
    bce_logits = staticmethod(lambda a, b, red: F.binary_cross_entropy_with_logits(a, b.sigmoid(), reduction=red))
    bce = staticmethod(lambda a, b, red: F.binary_cross_entropy(a.sigmoid(), b.sigmoid(), reduction=red))
    cross_entropy = staticmethod(lambda x, labels, red: F.cross_entropy(x, labels, reduction=red))
    half_sse = staticmethod(lambda a, b: F.half_sse_loss(a, b))
    sin = staticmethod(lambda x: x.sin())
    cos = staticmethod(lambda x: cr.cos(x))
    log1p_p = staticmethod(lambda x: (x * x).log1p())
    inplace = staticmethod(lambda x, kind: _inplace(x, kind))
    var = staticmethod(lambda x, axis, keep: x.var(axis, keepdim=keep))
    norm = staticmethod(lambda x, axis, keep: x.norm(dim=axis, keepdim=keep))
    unsq_expand = staticmethod(lambda x: x.unsqueeze(0).expand(2, *x.shape) * 0.5)


def _inplace(x, kind):
    """An in-place op on a non-leaf (x computed first, so it takes part in the graph), the same in both libraries."""
    y = x * 1.5
    if kind == "add_":
        y.add_(x, alpha=0.5)
    elif kind == "mul_":
        y.mul_(x)
    elif kind == "relu_":
        y.relu_()
    elif kind == "clamp_":
        y.clamp_(-0.4, 0.9)
    elif kind == "sigmoid_":
        y.sigmoid_()
    elif kind == "iadd":
        y += x * x
    elif kind == "setitem" and y.ndim:
        y[0] = x[-1] * 2
    elif kind == "mask":
        y[y > 0.3] = 0.0
    return y


def _scalar(x, kind, c):
    return {"radd": lambda: c + x, "rsub": lambda: c - x, "rmul": lambda: c * x, "div": lambda: x / c,
            "rdiv": lambda: c / (x * x + 1.0), "pow": lambda: (x * x + 0.5) ** c}[kind]()


class TORCH:
    """The same ops in PyTorch (amax/amin share gradients between ties, as chainrule's max/min do)."""

    @staticmethod
    def leaf(a):
        return torch.tensor(a, dtype=torch.float64, requires_grad=True)

    neg = staticmethod(lambda x: -x)
    exp_t = staticmethod(lambda x: x.tanh().exp())
    log_p = staticmethod(lambda x: (x * x + 0.5).log())
    sqrt_p = staticmethod(lambda x: torch.sqrt(x * x + 0.1))
    abs = staticmethod(lambda x: x.abs())
    tanh = staticmethod(lambda x: torch.tanh(x))
    sigmoid = staticmethod(lambda x: x.sigmoid())
    relu = staticmethod(lambda x: torch.relu(x))
    leaky_relu = staticmethod(lambda x, slope: torch.nn.functional.leaky_relu(x, slope))
    clip = staticmethod(lambda x, lo, hi: x.clamp(lo, hi))
    square = staticmethod(lambda x: x**2)
    scalar = staticmethod(lambda x, kind, c: _scalar(x, kind, c))
    add = staticmethod(lambda a, b: a + b)
    sub = staticmethod(lambda a, b: a - b)
    mul = staticmethod(lambda a, b: a * b)
    div_p = staticmethod(lambda a, b: a / (b * b + 0.5))
    pow_p = staticmethod(lambda a, b: (a.sigmoid() + 0.5) ** b.tanh())
    where = staticmethod(lambda a, b, cond: torch.where(torch.from_numpy(np.asarray(cond)), a, b))
    sum = staticmethod(lambda x, axis, keep: x.sum() if axis is None and not keep else x.sum(dim=_dims(x, axis), keepdim=keep))
    mean = staticmethod(lambda x, axis, keep: x.mean() if axis is None and not keep else x.mean(dim=_dims(x, axis), keepdim=keep))
    amax = staticmethod(lambda x, axis, keep: torch.amax(x, dim=_dims(x, axis), keepdim=keep))
    amin = staticmethod(lambda x, axis, keep: torch.amin(x, dim=_dims(x, axis), keepdim=keep))
    softmax = staticmethod(lambda x, dim: torch.softmax(x, dim))
    log_softmax = staticmethod(lambda x, dim: torch.log_softmax(x, dim))
    logsumexp = staticmethod(lambda x, dim, keep: torch.logsumexp(x, dim, keepdim=keep))
    reshape = staticmethod(lambda x, shape: x.reshape(shape))
    permute = staticmethod(lambda x, axes: x.permute(*axes))
    index = staticmethod(lambda x, index: x[_torch_index(index)])
    cat = staticmethod(lambda a, b, dim: torch.cat([a, b], dim))
    stack = staticmethod(lambda a, b, dim: torch.stack([a, b], dim))
    matmul = staticmethod(lambda a, b: a @ b)
    linear = staticmethod(lambda x, w, b=None: torch.nn.functional.linear(x, w, b))
    mse = staticmethod(lambda a, b, red: torch.nn.functional.mse_loss(a, b, reduction=red))
    bce_logits = staticmethod(
        lambda a, b, red: torch.nn.functional.binary_cross_entropy_with_logits(a, b.sigmoid(), reduction=red))
    bce = staticmethod(
        lambda a, b, red: torch.nn.functional.binary_cross_entropy(a.sigmoid(), b.sigmoid(), reduction=red))
    cross_entropy = staticmethod(
        lambda x, labels, red: torch.nn.functional.cross_entropy(x, torch.from_numpy(labels), reduction=red))
    half_sse = staticmethod(lambda a, b: 0.5 * ((b - a) ** 2).sum())  # hand algebra: ½ Σ (y − y')²
    sin = staticmethod(lambda x: x.sin())
    cos = staticmethod(lambda x: torch.cos(x))
    log1p_p = staticmethod(lambda x: (x * x).log1p())
    inplace = staticmethod(lambda x, kind: _inplace(x, kind))
    var = staticmethod(lambda x, axis, keep: x.var(dim=axis, keepdim=keep))
    norm = staticmethod(lambda x, axis, keep: torch.linalg.vector_norm(x, dim=axis, keepdim=keep))
    unsq_expand = staticmethod(lambda x: x.unsqueeze(0).expand(2, *x.shape) * 0.5)


def _dims(x, axis):
    if axis is None:
        return tuple(range(x.ndim))
    return axis


def _torch_index(index):
    items = index if isinstance(index, tuple) else (index,)
    out = tuple(torch.from_numpy(i) if isinstance(i, np.ndarray) else i for i in items)
    return out if isinstance(index, tuple) else out[0]


def evaluate(lib, program):
    """Run ``program`` with adapter ``lib``; returns (output, leaves, every intermediate)."""
    values, leaves = [], []
    for op, args, kw in program:
        if op == "leaf":
            value = lib.leaf(kw["array"])
            leaves.append(value)
        else:
            extra = {}
            for k, v in kw.items():
                if isinstance(v, Fresh):
                    v = lib.leaf(v.array)
                    leaves.append(v)
                extra[k] = v
            value = getattr(lib, op)(*[values[i] for i in args], **extra)
        values.append(value)
    return values[-1], leaves, values


class Fresh:
    """A new leaf created in the middle of a program (a weight for matmul/linear)."""

    def __init__(self, array):
        self.array = array

    def __repr__(self):
        return f"Fresh{self.array.shape}"


# ---------------------------------------------------------------------------- the program strategy
UNARY = ["neg", "exp_t", "log_p", "sqrt_p", "abs", "tanh", "sigmoid", "relu", "leaky_relu", "clip", "square", "scalar",
         "sin", "cos", "log1p_p", "inplace", "unsq_expand"]
INPLACE = ["add_", "mul_", "relu_", "clamp_", "sigmoid_", "iadd", "setitem", "mask"]
BINARY = ["add", "sub", "mul", "div_p", "pow_p", "where"]
SAME_SHAPE = ["mse", "bce_logits", "bce", "half_sse", "cat", "stack"]
STRUCTURE = ["sum", "mean", "amax", "amin", "var", "norm", "softmax", "log_softmax", "logsumexp", "reshape", "permute", "index",
             "matmul", "linear", "cross_entropy"]
KINKS = {"abs", "relu", "leaky_relu", "clip", "amax", "amin", "inplace"}  # left out when checking with finite differences


def _broadcast(a, b):
    try:
        return tuple(np.broadcast_shapes(a, b))
    except ValueError:
        return None


@st.composite
def programs(draw, kinks=True, second_order=False):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    base = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3)) if draw(st.integers(0, 7)) else []

    def array(shape):
        return rng.standard_normal(shape)

    program, shapes = [], []

    def push(op, args, kw, shape):
        program.append((op, tuple(args), kw))
        shapes.append(tuple(shape))

    for _ in range(draw(st.integers(1, 3))):  # leaves: the base shape with broadcasting variants
        drop = draw(st.integers(0, len(base)))
        shape = [1 if draw(st.booleans()) and draw(st.booleans()) else n for n in base[drop:]]
        push("leaf", (), {"array": array(shape)}, shape)

    ops = UNARY + BINARY + SAME_SHAPE + STRUCTURE
    if not kinks:
        ops = [o for o in ops if o not in KINKS]
    if second_order:  # chainrule's cross-entropy gradient is not itself differentiable (it raises instead)
        ops = [o for o in ops if o != "cross_entropy"]
    ops = [str(o) for o in rng.permutation(ops)]  # hypothesis favours early choices; make those random ops
    for _ in range(draw(st.integers(2, 8))):
        op = draw(st.sampled_from(ops))
        i = len(shapes) - 1 - draw(st.integers(0, len(shapes) - 1))  # favour the newest node: deeper graphs
        if not shapes[i] and (op in STRUCTURE or op == "cat") and any(shapes):
            i = draw(st.sampled_from([j for j in range(len(shapes)) if shapes[j]]))  # these need a dimension
        s = shapes[i]
        if op in UNARY:
            kw = {}
            if op == "leaky_relu":
                kw = {"slope": draw(st.sampled_from([0.01, 0.2, 1.5]))}
            elif op == "clip":
                kw = {"lo": draw(st.sampled_from([None, -0.73, -0.21])), "hi": draw(st.sampled_from([0.37, 1.13]))}
            elif op == "inplace":
                kw = {"kind": draw(st.sampled_from(INPLACE))}
            elif op == "unsq_expand":
                push(op, [i], kw, (2, *s))
                continue
            elif op == "scalar":
                kw = {"kind": draw(st.sampled_from(["radd", "rsub", "rmul", "div", "rdiv", "pow"])),
                      "c": draw(st.sampled_from([-1.7, 0.6, 2.0, 3.0]))}
            push(op, [i], kw, s)
        elif op in BINARY:
            partners = [j for j in range(len(shapes)) if _broadcast(s, shapes[j]) is not None]
            j = draw(st.sampled_from(partners))  # may be i itself: a reused subexpression
            out = _broadcast(s, shapes[j])
            if op == "where":
                cond_shape = draw(st.sampled_from([out, out[1:], (1,) * len(out)]))
                push(op, [i, j], {"cond": np.asarray(rng.random(cond_shape) < 0.5)}, out)
            else:
                push(op, [i, j], {}, out)
        elif op in SAME_SHAPE:
            j = draw(st.sampled_from([j for j in range(len(shapes)) if shapes[j] == s]))
            if op in ("cat", "stack"):
                if op == "cat" and not s:
                    continue
                dim = draw(st.integers(-len(s) - (op == "stack"), len(s) - (op == "cat")))
                out = list(s)
                if op == "cat":
                    out[dim] *= 2
                else:
                    out.insert(dim % (len(s) + 1), 2)
                push(op, [i, j], {"dim": dim}, out)
            elif op == "half_sse":
                push(op, [i, j], {}, ())
            else:
                red = draw(st.sampled_from(["mean", "sum", "none"]))
                push(op, [i, j], {"red": red}, s if red == "none" else ())
        elif op in ("sum", "mean", "amax", "amin", "var", "norm"):
            keep = draw(st.booleans())
            if s and draw(st.booleans()):
                axes = draw(st.lists(st.integers(0, len(s) - 1), min_size=1, max_size=len(s), unique=True))
                axis = axes[0] - len(s) if len(axes) == 1 and draw(st.booleans()) else tuple(axes)
                norm = {a % len(s) for a in (axis if isinstance(axis, tuple) else (axis,))}
            else:
                axis, norm = None, set(range(len(s)))
            out = [1 if k in norm else n for k, n in enumerate(s)] if keep else [n for k, n in enumerate(s) if k not in norm]
            if op == "var" and int(np.prod([s[k] for k in norm])) < 2:
                continue  # the unbiased variance of one value divides by zero
            if op in ("var", "norm") and axis is None:
                axis = tuple(range(len(s))) if s else None
                if axis is None:
                    continue
            push(op, [i], {"axis": axis, "keep": keep}, out)
        elif op in ("softmax", "log_softmax", "logsumexp"):
            if not s:
                continue
            dim = draw(st.integers(-len(s), len(s) - 1))
            if op == "logsumexp":
                keep = draw(st.booleans())
                out = [1 if k == dim % len(s) else n for k, n in enumerate(s)] if keep else \
                    [n for k, n in enumerate(s) if k != dim % len(s)]
                push(op, [i], {"dim": dim, "keep": keep}, out)
            else:
                push(op, [i], {"dim": dim}, s)
        elif op == "reshape":
            size = int(np.prod(s))
            target = draw(st.sampled_from([(size,), (-1,), (1, size), tuple(reversed(s)), (size, 1, -1)]))
            out = np.empty(s).reshape(target).shape
            push(op, [i], {"shape": target}, out)
        elif op == "permute":
            if not s:
                continue
            axes = tuple(draw(st.permutations(list(range(len(s))))))
            push(op, [i], {"axes": axes}, [s[a] for a in axes])
        elif op == "index":
            if not s:
                continue
            kind = draw(st.sampled_from(["int", "slice", "repeat", "repeat_inner"]))
            if kind == "int":
                k = draw(st.integers(-s[0], s[0] - 1))
                push(op, [i], {"index": k}, s[1:])
            elif kind == "slice":
                slices = [slice(1, None), slice(None, None, 2), slice(None, -1), slice(None)]
                sl = draw(st.sampled_from([c for c in slices if len(range(s[0])[c])]))  # no empty results
                push(op, [i], {"index": sl}, [len(range(s[0])[sl])] + list(s[1:]))
            else:
                axis = 1 if kind == "repeat_inner" and len(s) > 1 else 0
                idx = np.asarray(draw(st.lists(st.integers(0, s[axis] - 1), min_size=1, max_size=5)), dtype=np.int64)
                index = idx if axis == 0 else (slice(None), idx)
                out = list(s)
                out[axis] = len(idx)
                push(op, [i], {"index": index}, out)
        elif op == "matmul":
            if not s:
                continue
            k = draw(st.integers(1, 3))
            if len(s) == 2 and draw(st.booleans()):  # x @ xᵀ: the same node on both sides
                push("permute", [i], {"axes": (1, 0)}, (s[1], s[0]))
                push(op, [i, len(shapes) - 1], {}, (s[0], s[0]))
                continue
            batched = [(2, s[-1], k)] if len(s) <= 2 else [(s[0], s[-1], k), (1, s[-1], k)]
            wshape = draw(st.sampled_from([(s[-1], k), (s[-1],), *batched]))
            push("leaf", (), {"array": array(wshape)}, wshape)
            out = tuple(np.matmul(np.zeros(s), np.zeros(wshape)).shape)
            push(op, [i, len(shapes) - 1], {}, out)
        elif op == "linear":
            if not s:
                continue
            k = draw(st.integers(1, 3))
            kw = {"w": Fresh(array((k, s[-1])))}
            if draw(st.booleans()):
                kw["b"] = Fresh(array((k,)))
            push(op, [i], kw, tuple(s[:-1]) + (k,))
        elif op == "cross_entropy":
            if len(s) != 2:
                continue
            red = draw(st.sampled_from(["mean", "sum", "none"]))
            labels = rng.integers(0, s[1], size=s[0])
            push(op, [i], {"labels": labels, "red": red}, (s[0],) if red == "none" else ())
    upstream = array(shapes[-1])
    return program, upstream, shapes[-1]


def describe(program):
    lines = []
    for n, (op, args, kw) in enumerate(program):
        shown = {k: (v.shape if isinstance(v, np.ndarray) and k == "array" else v) for k, v in kw.items()}
        lines.append(f"v{n} = {op}({', '.join(f'v{a}' for a in args)}{', ' if args and shown else ''}"
                     f"{', '.join(f'{k}={v!r}' for k, v in shown.items())})")
    return "\n".join(lines)


def _bounded(values):
    return all(np.all(np.abs(v.detach().numpy() if torch is not None and isinstance(v, torch.Tensor) else v.data)
                      <= LIMIT) for v in values)


# ---------------------------------------------------------------------------- the fuzz tests
@pytest.mark.skipif(torch is None, reason="PyTorch is not installed (the finite-difference fuzz still runs)")
@FUZZ
@given(programs())
def test_random_graphs_match_pytorch(case):
    program, upstream, shape = case
    note(describe(program))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow or 0/0 inside chainrule is a failure too
        theirs, t_leaves, t_values = evaluate(TORCH, program)
        assume(_bounded(t_values))
        ours, c_leaves, _ = evaluate(CR, program)
        assert ours.shape == tuple(theirs.shape) == shape
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=RTOL, atol=ATOL, err_msg="values")
        if not theirs.requires_grad:
            return
        theirs.backward(torch.from_numpy(upstream))
        # Where PyTorch's own gradient is infinite (BCE's target gradient at p exactly 0 or 1, where its
        # clamped forward and unclamped backward disagree) there is nothing finite to compare against.
        assume(all(t.grad is None or bool(torch.isfinite(t.grad).all()) for t in t_leaves))
        ours.backward(upstream)
    assert len(c_leaves) == len(t_leaves)
    for n, (c, t) in enumerate(zip(c_leaves, t_leaves)):
        expected = np.zeros(t.shape) if t.grad is None else t.grad.numpy()
        actual = np.zeros(c.shape) if c.grad is None else c.grad
        scale = max(1.0, float(np.abs(expected).max(initial=0)))
        np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL * scale, err_msg=f"gradient of leaf {n}")


def _second_order(lib, program, upstream, grad):
    """Leaves' gradients of Σ v·∇(Σ out·upstream): a Hessian-vector product through the whole program."""
    out, leaves, values = evaluate(lib, program)
    if not out.requires_grad:
        return None, values
    total = (out * (torch.from_numpy(upstream) if lib is TORCH else cr.tensor(upstream))).sum()
    firsts = grad(total, leaves, create_graph=True, allow_unused=True)
    rng = np.random.default_rng(7)
    z = 0
    for g, leaf in zip(firsts, leaves):
        # One draw per leaf whatever the gradient is, so both libraries weight the same gradients with
        # the same vectors even where they disagree on whether a first gradient requires grad (PyTorch
        # marks relu's backward as depending on its output; chainrule's mask is a constant).
        v = rng.standard_normal(tuple(leaf.shape))
        if g is not None and g.requires_grad:
            z = z + (g * (torch.from_numpy(v) if lib is TORCH else cr.tensor(v))).sum()
    if not getattr(z, "requires_grad", False):
        return [np.zeros(tuple(leaf.shape)) for leaf in leaves], values
    seconds = grad(z, leaves, allow_unused=True)
    return [np.zeros(tuple(leaf.shape)) if s is None else _numpy(s) for s, leaf in zip(seconds, leaves)], values


def _numpy(t):
    return t.detach().numpy(force=True) if isinstance(t, torch.Tensor) else np.array(t)


@pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
@settings(max_examples=max(EXAMPLES // 3, 20), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(programs(second_order=True))
def test_random_graphs_second_order_match_pytorch(case):
    """create_graph=True: Hessian-vector products of random programs against PyTorch's."""
    program, upstream, _ = case
    note(describe(program))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # second derivatives at kinks may warn in either library
        theirs, t_values = _second_order(TORCH, program, upstream, torch.autograd.grad)
        assume(_bounded(t_values) and theirs is not None)
        assume(all(np.isfinite(t).all() for t in theirs))
        ours, _ = _second_order(CR, program, upstream, cr.autograd.grad)
    for n, (c, t) in enumerate(zip(ours, theirs)):
        scale = max(1.0, float(np.abs(t).max(initial=0)))
        # 1e-6: the two libraries write some second derivatives differently (BCE divides by p(1 − p)),
        # which costs a few digits where p is near 0 or 1; a wrong rule is off by far more.
        np.testing.assert_allclose(c, t, rtol=1e-6, atol=1e-9 * scale, err_msg=f"second-order gradient of leaf {n}")


def finite_difference_grads(program, upstream, h=1e-6):
    """∂/∂leaf of Σ output·upstream by central differences, perturbing each leaf entry in turn."""
    _, leaves, _ = evaluate(CR, program)
    base = [np.array(leaf.data) for leaf in leaves]
    grads = []
    for n, leaf_value in enumerate(base):
        grad = np.zeros_like(leaf_value)
        for idx in np.ndindex(leaf_value.shape):
            total = []
            for step in (h, -h):
                arrays = [b.copy() for b in base]
                arrays[n][idx] += step
                out, _, _ = evaluate(_Pinned(arrays), program)
                total.append(float((out.data * upstream).sum()))
            grad[idx] = (total[0] - total[1]) / (2 * h)
        grads.append(grad)
    return grads


class _Pinned(CR):
    """chainrule, but leaves (including fresh ones, in creation order) take the given arrays."""

    def __init__(self, arrays):
        self._arrays = iter(arrays)

    def leaf(self, a):
        return cr.tensor(next(self._arrays), dtype=np.float64)


@settings(max_examples=max(EXAMPLES // 6, 20), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(programs(kinks=False))
def test_random_graphs_match_finite_differences(case):
    """The fallback without PyTorch (run always, so it stays working): smooth ops against central differences."""
    program, upstream, _ = case
    note(describe(program))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ours, leaves, values = evaluate(CR, program)
        assume(all(np.all(np.abs(v.data) <= 1e3) for v in values))
        if not ours.requires_grad:
            return
        ours.backward(upstream)
        expected = finite_difference_grads(program, upstream)
        # The reference is trusted only where central differences at two step sizes agree: where the
        # forward itself cancels (log(1 − p) at p = σ(15), say), its rounding noise over h swamps the
        # difference quotient, and the two steps disagree (noise ∝ 1/h, truncation ∝ h²).
        wider = finite_difference_grads(program, upstream, h=4e-6)
    for exp, other in zip(expected, wider):
        scale = max(1.0, float(np.abs(exp).max(initial=0)))
        stable = np.allclose(exp, other, rtol=2e-6, atol=2e-7 * scale)
        event("finite differences " + ("stable" if stable else "unstable: case skipped"))
        assume(stable)
    for n, (leaf, exp) in enumerate(zip(leaves, expected)):
        actual = np.zeros(leaf.shape) if leaf.grad is None else leaf.grad
        scale = max(1.0, float(np.abs(exp).max(initial=0)))
        np.testing.assert_allclose(actual, exp, rtol=1e-5, atol=1e-6 * scale, err_msg=f"gradient of leaf {n}")


# ---------------------------------------------------------------------------- fixed stress cases
def test_chain_of_100000_ops_backward():
    x = cr.tensor(0.5, dtype=np.float64, requires_grad=True)
    y = x
    for _ in range(50_000):  # 100,000 ops: y ← (y · 1) + 0.00001
        y = y * 1.0 + 1e-5
    y.backward()
    assert x.grad == 1.0  # hand algebra: dy/dx = 1 through every link
    np.testing.assert_allclose(y.item(), 0.5 + 50_000 * 1e-5, rtol=1e-9)


def test_long_chain_with_shared_nodes():
    # every link uses the previous node twice: y ← y·c + y·d, so dy/dx = (c + d)^n
    x = cr.tensor(1.0, dtype=np.float64, requires_grad=True)
    y, n = x, 20_000
    for _ in range(n):
        y = y * 0.6 + y * 0.4
    y.backward()
    assert x.grad == pytest.approx(1.0, rel=1e-9)


@pytest.mark.parametrize("v", [1000.0, -1000.0])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_magnitudes_without_warnings(v, dtype):
    a = np.array([[v, 0.0, -v], [v, v, v - 1.0]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any overflow/underflow/invalid warning fails the test
        x = cr.tensor(a, requires_grad=True)
        s, ls, lse, sig = x.softmax(-1), x.log_softmax(-1), x.logsumexp(-1), x.sigmoid()
        (s[:, 0].sum() + ls[:, 2].sum() + lse.sum() + sig.sum()).backward()
        for out in (s, ls, lse, sig):
            assert np.all(np.isfinite(out.data))
        assert np.all(np.isfinite(x.grad))
    if torch is None:
        return
    t = torch.tensor(a.astype(np.float64), requires_grad=True)
    ts, tls, tlse, tsig = t.softmax(-1), t.log_softmax(-1), t.logsumexp(-1), t.sigmoid()
    (ts[:, 0].sum() + tls[:, 2].sum() + tlse.sum() + tsig.sum()).backward()
    tol = {"rtol": 1e-5, "atol": 2e-5} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-12}
    for ours, theirs in ((s, ts), (ls, tls), (lse, tlse), (sig, tsig)):
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), **tol)
    np.testing.assert_allclose(x.grad, t.grad.numpy(), **tol)


def test_extreme_magnitudes_by_hand():
    # hand algebra: logsumexp([1000, 1000]) = 1000 + ln 2; softmax = ½ each; sigmoid(±1000) = 1 and 0 exactly
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = cr.tensor([1000.0, 1000.0], dtype=np.float64)
        assert x.logsumexp().item() == pytest.approx(1000 + np.log(2), rel=1e-15)
        np.testing.assert_array_equal(x.softmax().data, [0.5, 0.5])
        np.testing.assert_array_equal(cr.tensor([1000.0, -1000.0], dtype=np.float64).sigmoid().data, [1.0, 0.0])
        big = cr.tensor([[1000.0, -1000.0]], dtype=np.float64, requires_grad=True)
        loss = F.cross_entropy(big, np.array([1]))
        loss.backward()
        assert loss.item() == pytest.approx(2000.0, rel=1e-15)
        np.testing.assert_allclose(big.grad, [[1.0, -1.0]], atol=1e-300)
        z = cr.tensor([1000.0, -1000.0], dtype=np.float64, requires_grad=True)
        bce = F.binary_cross_entropy_with_logits(z, cr.tensor([0.0, 1.0], dtype=np.float64), reduction="sum")
        bce.backward()
        assert bce.item() == pytest.approx(2000.0, rel=1e-15)
        np.testing.assert_allclose(z.grad, [1.0, -1.0])


@pytest.mark.parametrize("axis, keep", [(None, False), (0, False), (1, True), ((0, 1), False), (-1, False)])
@pytest.mark.parametrize("op", ["max", "min"])
def test_ties_in_max_and_min_match_torch_amax(op, axis, keep):
    a = np.array([[3.0, 3.0, 1.0], [2.0, 5.0, 5.0], [4.0, 4.0, 4.0]])
    a = a if op == "max" else -a
    g = np.random.default_rng(0).standard_normal(np.max(a, axis=axis, keepdims=keep).shape)
    x = cr.tensor(a, requires_grad=True)
    y = getattr(x, "a" + op)(axis, keep)
    y.backward(g)
    if torch is None:  # hand algebra: the upstream gradient is split evenly between tied entries
        pytest.skip("PyTorch is not installed; test_ties_by_hand covers the rule")
    t = torch.tensor(a, requires_grad=True)
    dims = tuple(range(a.ndim)) if axis is None else axis
    ty = (torch.amax if op == "max" else torch.amin)(t, dim=dims, keepdim=keep)
    ty.backward(torch.from_numpy(g))
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=0, atol=0)
    np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-15, atol=0)


def test_ties_by_hand():
    x = cr.tensor([1.0, 7.0, 7.0, 7.0], dtype=np.float64, requires_grad=True)
    x.max().backward()
    np.testing.assert_allclose(x.grad, [0.0, 1 / 3, 1 / 3, 1 / 3], rtol=1e-15)
