"""cr.gradcheck on every registered op, on a deliberately wrong gradient, and `chainrule check`."""

import re

import numpy as np
import pytest

import chainrule as cr
from chainrule import functional as F
from chainrule.cli import main
from chainrule.ops import REGISTRY
from chainrule.ops.base import Op
from chainrule.tensor import apply

rng = np.random.default_rng(0)


def leaf(*shape, low=-1.0, high=1.0):
    return cr.tensor(rng.uniform(low, high, size=shape), dtype=cr.float64, requires_grad=True)


def away_from_zero(*shape):
    """Values in ±[0.3, 1.2]: far from the kinks of abs, relu, leaky_relu."""
    v = rng.uniform(0.3, 1.2, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    return cr.tensor(v, dtype=cr.float64, requires_grad=True)


def distinct(*shape):
    """A permutation of well-separated values: max/min have no ties and no near-ties."""
    v = rng.permutation(np.arange(int(np.prod(shape)), dtype=np.float64)).reshape(shape) * 0.37
    return cr.tensor(v, requires_grad=True)


# op name -> (function, inputs). Every registered op must appear (see the coverage test).
CASES = {
    "abs": (lambda a: a.abs(), lambda: (away_from_zero(3, 2),)),
    "add": (lambda a, b: a + b, lambda: (leaf(3, 1), leaf(1, 4))),
    "sub": (lambda a, b: a - b, lambda: (leaf(2, 3), leaf(3))),
    "mul": (lambda a, b: a * b, lambda: (leaf(2, 3), leaf(2, 1))),
    "div": (lambda a, b: a / b, lambda: (leaf(2, 3), leaf(2, 3, low=0.5, high=2.0))),
    "pow": (lambda a, b: a ** b, lambda: (leaf(4, low=0.5, high=2.0), leaf(4))),
    "neg": (lambda a: -a, lambda: (leaf(3),)),
    "exp": (lambda a: a.exp(), lambda: (leaf(2, 2),)),
    "log": (lambda a: a.log(), lambda: (leaf(2, 2, low=0.2, high=3.0),)),
    "sqrt": (lambda a: a.sqrt(), lambda: (leaf(3, low=0.2, high=3.0),)),
    "tanh": (lambda a: a.tanh(), lambda: (leaf(2, 3, low=-2, high=2),)),
    "sigmoid": (lambda a: a.sigmoid(), lambda: (leaf(2, 3, low=-3, high=3),)),
    "softplus": (lambda a: F.softplus(a, beta=2.0, threshold=3.0), lambda: (leaf(2, 3, low=-2, high=1),)),
    "logsigmoid": (lambda a: F.logsigmoid(a), lambda: (leaf(2, 3, low=-3, high=3),)),
    "relu": (lambda a: a.relu(), lambda: (away_from_zero(2, 3),)),
    "leaky_relu": (lambda a: F.leaky_relu(a, 0.1), lambda: (away_from_zero(2, 3),)),
    "clip": (lambda a: a.clip(-0.5, 0.5), lambda: (cr.tensor([-0.9, -0.2, 0.1, 0.8], dtype=cr.float64, requires_grad=True),)),
    "where": (lambda a, b: cr.where(np.array([True, False, True]), a, b), lambda: (leaf(3), leaf(3))),
    "cast": (lambda a: apply(REGISTRY["cast"], a, dtype=np.float64), lambda: (leaf(3),)),
    "matmul": (lambda a, b: a @ b, lambda: (leaf(2, 3), leaf(3, 4))),
    "linear": (lambda x, w, b: F.linear(x, w, b), lambda: (leaf(2, 3), leaf(4, 3), leaf(4))),
    "sum": (lambda a: a.sum(axis=1), lambda: (leaf(2, 3),)),
    "mean": (lambda a: a.mean(axis=0), lambda: (leaf(2, 3),)),
    "max": (lambda a: a.amax(1), lambda: (distinct(2, 3),)),
    "min": (lambda a: a.amin(0), lambda: (distinct(2, 3),)),
    "max_dim": (lambda a: a.max(1).values, lambda: (distinct(2, 3),)),
    "min_dim": (lambda a: a.min(0, keepdim=True).values, lambda: (distinct(2, 3),)),
    "norm2": (lambda a: a.norm(dim=1), lambda: (leaf(2, 3),)),
    "maximum": (lambda a, b: cr.maximum(a, b), lambda: (leaf(2, 3, low=-1, high=0), leaf(3, low=0.1, high=1))),
    "minimum": (lambda a, b: cr.minimum(a, b), lambda: (leaf(2, 3, low=-1, high=1), leaf(2, 1, low=-1, high=1))),
    "sin": (lambda a: a.sin(), lambda: (leaf(2, 3),)),
    "cos": (lambda a: a.cos(), lambda: (leaf(2, 3),)),
    "log1p": (lambda a: a.log1p(), lambda: (leaf(2, 3, low=0.1, high=2.0),)),
    "remainder": (lambda a, b: a % b, lambda: (leaf(2, 3, low=0.1, high=0.9), leaf(3, low=1.1, high=2.0))),
    "clone": (lambda a: a.clone(), lambda: (leaf(2, 3),)),
    "expand": (lambda a: a.expand(4, 2, 3), lambda: (leaf(2, 1),)),
    "repeat": (lambda a: a.repeat(2, 1, 3), lambda: (leaf(2, 3),)),
    "gather": (lambda a: a.gather(1, np.array([[0, 0, 2], [1, 2, 1]])), lambda: (leaf(2, 3),)),
    "scatter_add": (lambda a, s: a.scatter_add(0, np.array([[0, 1, 0], [0, 0, 1]]), s), lambda: (leaf(2, 3), leaf(2, 3))),
    "setitem": (lambda a, v: _setitem(a, v), lambda: (leaf(3, 2), leaf(2))),
    # floor_divide has no derivative (PyTorch raises too): see test_floor_divide_has_no_gradient
    "reshape": (lambda a: a.reshape(3, 2), lambda: (leaf(2, 3),)),
    "permute": (lambda a: a.permute(1, 0), lambda: (leaf(2, 3),)),
    "getitem": (lambda a: a[np.array([0, 0, 2])] * a[1:, ::2].sum(), lambda: (leaf(3, 2),)),
    "cat": (lambda a, b: cr.cat([a, b], dim=1), lambda: (leaf(2, 1), leaf(2, 3))),
    "stack": (lambda a, b: cr.stack([a, b], dim=0), lambda: (leaf(3), leaf(3))),
    "softmax": (lambda a: cr.softmax(a, dim=1), lambda: (leaf(2, 3, low=-2, high=2),)),
    "log_softmax": (lambda a: cr.log_softmax(a, dim=1), lambda: (leaf(2, 3, low=-2, high=2),)),
    "logsumexp": (lambda a: cr.logsumexp(a, dim=1), lambda: (leaf(2, 3, low=-2, high=2),)),
    "mse_loss": (lambda p, t: F.mse_loss(p, t), lambda: (leaf(2, 3), leaf(2, 3))),
    "half_sse_loss": (lambda p, t: F.half_sse_loss(p, t), lambda: (leaf(2, 3), leaf(2, 3))),
    "cross_entropy": (lambda z: F.cross_entropy(z, np.array([2, 0])), lambda: (leaf(2, 3, low=-2, high=2),)),
    "binary_cross_entropy": (lambda p, t: F.binary_cross_entropy(p, t),
                             lambda: (leaf(2, 2, low=0.1, high=0.9), leaf(2, 2, low=0.0, high=1.0))),
    "binary_cross_entropy_with_logits": (lambda z, t: F.binary_cross_entropy_with_logits(z, t),
                                         lambda: (leaf(2, 2, low=-2, high=2), leaf(2, 2, low=0.0, high=1.0))),
}


def _setitem(a, v):
    out = a * 1
    out[1] = v
    return out


def test_every_registered_op_has_a_gradcheck_case():
    from test_ops_layers import GRADCHECKED  # the layer ops' gradcheck cases live in test_ops_layers.py

    assert set(REGISTRY) - set(CASES) - GRADCHECKED - {"floor_divide"} == set(), "add a gradcheck case for the new op"


def test_floor_divide_has_no_gradient():
    x = leaf(3)
    y = x // 0.3
    assert y.requires_grad
    with pytest.raises(NotImplementedError, match="floor_divide"):
        y.sum().backward()


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradcheck_passes_on_every_op(name):
    fn, make = CASES[name]
    assert cr.gradcheck(fn, make()) is True


class WrongSquare(Op):
    """x², with a vjp that forgets the factor 2 (a typical hand-derivation mistake). Not registered."""

    name = "wrong_square"

    def forward(self, a):
        return a * a

    def vjp(self, n, g, a):
        return (g * a,)


def _numbers(message):
    return [float(v) for v in re.findall(r"-?\d+\.\d+(?:e-?\d+)?", message)]


def test_gradcheck_catches_a_wrong_custom_gradient_and_names_input_index_and_values():
    x = cr.tensor([1.5, -2.0], dtype=cr.float64, requires_grad=True)
    y = cr.tensor([0.25], dtype=cr.float64, requires_grad=True)
    with pytest.raises(cr.GradcheckError) as info:
        cr.gradcheck(lambda a, b: (apply(WrongSquare(), a) * b).sum() + b.sum(), (x, y))
    message = str(info.value)
    assert "input 0" in message and "index 0" in message
    # analytical g·a = 0.25 × 1.5 = 0.375; numerical d/da (0.25 a²) = 2 × 0.25 × 1.5 = 0.75
    values = _numbers(message)
    assert any(abs(v - 0.375) < 1e-12 for v in values), message
    assert any(abs(v - 0.75) < 1e-6 for v in values), message


def test_gradcheck_checks_every_output_element_not_just_the_sum():
    # A vjp whose error vanishes for the upstream gradient of a sum (all ones), not for one-hot ones.
    class Skewed(Op):
        name = "skewed"

        def forward(self, a):
            return a * 3.0

        def vjp(self, n, g, a):
            return (g * 3.0 + (g[::-1] - g),)

    x = cr.tensor([0.2, 0.4], dtype=cr.float64, requires_grad=True)
    with pytest.raises(cr.GradcheckError, match="input 0 at index"):
        cr.gradcheck(lambda a: apply(Skewed(), a), (x,))
    assert cr.gradcheck(lambda a: apply(Skewed(), a).sum(), (x,))  # the sum alone would not see it


def test_gradcheck_raise_exception_false_returns_false():
    x = cr.tensor([1.5, -2.0], dtype=cr.float64, requires_grad=True)
    assert cr.gradcheck(lambda a: apply(WrongSquare(), a).sum(), (x,), raise_exception=False) is False


def test_gradcheck_refuses_float32_and_inputs_without_grad():
    with pytest.raises(cr.DTypeError, match="float64"):
        cr.gradcheck(lambda a: a.sum(), (cr.tensor([1.0], dtype=cr.float32, requires_grad=True),))
    with pytest.raises(cr.GradcheckError, match="no input requires grad"):
        cr.gradcheck(lambda a: a.sum(), (cr.tensor([1.0], dtype=cr.float64),))


def test_gradcheck_is_a_runtime_error_like_pytorchs():
    assert issubclass(cr.GradcheckError, RuntimeError) and issubclass(cr.GradcheckError, cr.ChainruleError)


# ---------------------------------------------------------------- chainrule check

def test_check_seed_passes_with_pytorch_column(capsys):
    pytest.importorskip("torch")
    assert main(["check", "seed"]) == 0
    out = capsys.readouterr().out
    assert "PyTorch" in out and "not installed" not in out
    # the seed's hand-derived gradients: 120×1×40, 120×1×80, 120×60
    for value in ("4800", "9600", "7200"):
        assert value in out
    assert out.count("pass") >= 9 and "FAIL" not in out


def test_check_without_torch_says_not_installed(capsys, monkeypatch):
    from chainrule import torch_reference

    monkeypatch.setattr(torch_reference, "available", lambda: False)
    assert main(["check", "mazur"]) == 0
    assert "not installed" in capsys.readouterr().out


def test_check_fails_with_exit_1_when_a_gradient_is_wrong(capsys, monkeypatch):
    linear = REGISTRY["linear"]
    right = linear.vjp

    def wrong(n, g, *arrays):
        gx, gw, *gb = right(n, g, *arrays)
        return (gx, None if gw is None else gw * 1.01, *gb)

    monkeypatch.setattr(linear, "vjp", wrong)
    assert main(["check", "mazur", "--no-torch"]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_check_rows_hold_the_finite_difference_of_the_seed():
    from chainrule.check import check_spec

    rows = check_spec("seed", use_torch=False)
    assert len(rows) == 9
    by_name = {(r.param, r.index): r for r in rows}
    assert by_name[("W1", (1, 2))].numerical == pytest.approx(9600, rel=1e-8)  # ∂L/∂w'_23 = 120 × 1 × 80
    assert by_name[("W2", (0, 0))].numerical == pytest.approx(7200, rel=1e-8)  # ∂L/∂w''_11 = 120 × 60


def test_check_bad_spec_exits_2(capsys):
    assert main(["check", "no-such-spec"]) == 2
    assert "no-such-spec" in capsys.readouterr().err
