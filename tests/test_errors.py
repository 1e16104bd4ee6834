"""One test per entry of docs/errors.md: each mistake raises the documented type, naming op and shapes.

Test names start with the catalogue id (``test_S1_...`` for entry S1), and ``test_catalogue_is_covered``
checks that every id in the document has such a test, here or in test_anomaly.py / test_io.py.
Expected messages are written from the inputs each test builds (and PyTorch's wording), never
copied from chainrule's output.
"""

from __future__ import annotations

import pathlib
import re

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.errors import ChainruleError, DTypeError, GraphError, ShapeError

ROOT = pathlib.Path(__file__).resolve().parents[1]
F64 = np.float64


def randn(*shape, dtype=F64, requires_grad=False):
    rng = np.random.default_rng(sum(shape) + len(shape))
    return cr.tensor(rng.standard_normal(shape), dtype=dtype, requires_grad=requires_grad)


def esc(text: str) -> str:
    return re.escape(text)


# ---------------------------------------------------------------------------- shapes (S)
def test_S1_matmul_shapes():
    with pytest.raises(ShapeError, match=esc("matmul: mat1 and mat2 shapes cannot be multiplied (2x3 and 4x1)")):
        randn(2, 3) @ randn(4, 1)
    with pytest.raises(ShapeError, match=esc("(3 and 4)")):
        randn(3) @ randn(4)
    with pytest.raises(ShapeError, match=esc("(5x2x3 and 4x2)")):
        randn(5, 2, 3) @ randn(4, 2)


def test_S2_matmul_batch_dims():
    with pytest.raises(ShapeError, match=r"matmul: batch dimensions \(5,\) and \(4,\).*5x2x3 and 4x3x2"):
        randn(5, 2, 3) @ randn(4, 3, 2)


def test_S3_linear_features():
    layer = nn.Linear(3, 2, dtype=F64)
    with pytest.raises(ShapeError, match=esc("linear: mat1 and mat2 shapes cannot be multiplied (4x5 and 3x2)")) as e:
        layer(randn(4, 5))
    assert "the layer expects 3" in str(e.value)
    with pytest.raises(ShapeError, match=esc("(2x4x5 and 3x2)")):
        layer(randn(2, 4, 5))


@pytest.mark.parametrize("name, fn", [
    ("add", lambda a, b: a + b),
    ("sub", lambda a, b: a - b),
    ("mul", lambda a, b: a * b),
    ("div", lambda a, b: a / b),
    ("pow", lambda a, b: a ** b),
])
def test_S4_broadcasting(name, fn):
    # PyTorch: "The size of tensor a (3) must match the size of tensor b (5) at non-singleton dimension 1"
    with pytest.raises(ShapeError, match=esc(
        f"{name}: shapes (2, 3) and (4, 5) cannot be broadcast together: the size of tensor a (3) must match "
        f"the size of tensor b (5) at non-singleton dimension 1"
    )):
        fn(randn(2, 3), randn(4, 5))
    # the mismatch is reported at the right dimension when ranks differ and the last dims agree
    with pytest.raises(ShapeError, match=esc("the size of tensor a (2) must match the size of tensor b (3) at "
                                             "non-singleton dimension 1")):
        fn(randn(7, 2, 4), randn(3, 4))
    # a NumPy array on the right goes through the same check
    with pytest.raises(ShapeError, match=esc(f"{name}: shapes (2, 3) and (2) cannot be broadcast")):
        fn(randn(2, 3), np.ones(2))


def test_S5_where_shapes():
    with pytest.raises(ShapeError, match=esc("where: condition (2), input (3) and other (3) cannot be broadcast")):
        cr.where(cr.tensor([True, False]), randn(3), randn(3))


def test_S6_cat_shapes():
    with pytest.raises(ShapeError, match=esc(
        "cat: sizes must match except in dimension 0; tensor 0 has shape (2, 3) but tensor 1 has shape (2, 4)"
    )):
        cr.cat([randn(2, 3), randn(2, 4)])
    with pytest.raises(ShapeError, match=esc("tensor 2 has shape (2, 4, 1)")):
        cr.cat([randn(2, 3), randn(5, 3), randn(2, 4, 1)])
    with pytest.raises(ShapeError, match="cat: expected a non-empty list"):
        cr.cat([])


def test_S7_stack_shapes():
    with pytest.raises(ShapeError, match=esc(
        "stack: all tensors must have the same shape; tensor 0 has shape (2, 3) but tensor 1 has shape (3, 2)"
    )):
        cr.stack([randn(2, 3), randn(3, 2)])


def test_S8_reshape_invalid():
    with pytest.raises(ShapeError, match=esc("reshape: shape [4, 2] is invalid for a tensor of shape (2, 3) (6 elements)")):
        randn(2, 3).reshape(4, 2)
    with pytest.raises(ShapeError, match=esc("reshape: shape [-1, -1] is invalid")):
        randn(2, 3).reshape(-1, -1)
    with pytest.raises(ShapeError, match=esc("reshape: shape [4, -1] is invalid")):
        randn(2, 3).view(4, -1)


@pytest.mark.parametrize("name, call, ndim, got", [
    ("softmax", lambda t: t.softmax(dim=2), 2, 2),
    ("log_softmax", lambda t: cr.log_softmax(t, dim=-3), 2, -3),
    ("logsumexp", lambda t: t.logsumexp(dim=5), 2, 5),
    ("transpose", lambda t: t.transpose(0, 5), 2, 5),
    ("permute", lambda t: t.permute(0, 2), 2, 2),
    ("cat", lambda t: cr.cat([t, t], dim=2), 2, 2),
])
def test_S9_dim_out_of_range(name, call, ndim, got):
    # PyTorch: "Dimension out of range (expected to be in range of [-2, 1], but got 2)"
    with pytest.raises(ShapeError, match=esc(
        f"{name}: dimension out of range (expected to be in range of [-{ndim}, {ndim - 1}], but got {got})"
    )):
        call(randn(2, 3))
    with pytest.raises(ShapeError, match=esc("stack: dimension out of range (expected to be in range of [-3, 2], "
                                             "but got 3)")):
        cr.stack([randn(2, 3), randn(2, 3)], dim=3)
    with pytest.raises(ShapeError, match=esc("sum: dimension 2 is out of range for a tensor of shape (2, 3)")):
        randn(2, 3).sum(axis=2)


def test_S10_index_out_of_range():
    with pytest.raises(IndexError, match=r"getitem: index 5 is out of bounds for axis 0 with size 3.*\(3, 4\)"):
        randn(3, 4)[5]
    with pytest.raises(IndexError, match=r"getitem: index 7 is out of bounds for axis 1 with size 4"):
        randn(3, 4)[:, [0, 7]]


@pytest.mark.parametrize("fn, name", [
    (nn.functional.mse_loss, "mse_loss"),
    (nn.functional.binary_cross_entropy_with_logits, "binary_cross_entropy_with_logits"),
    (nn.functional.half_sse_loss, "half_sse_loss"),
])
def test_S11_loss_shapes(fn, name):
    # the classic mistake: predictions (N, 1) against targets (N,), which would silently broadcast to (N, N)
    with pytest.raises(ShapeError, match=esc(
        f"{name}: prediction and target must have the same shape, got prediction (4, 1) and target (4,)"
    )):
        fn(randn(4, 1), randn(4))
    with pytest.raises(ShapeError, match=esc("binary_cross_entropy: prediction and target must have the same shape")):
        nn.BCELoss()(cr.tensor(np.full((4, 1), 0.5)), cr.tensor(np.ones(4)))


def test_S12_cross_entropy_shapes():
    with pytest.raises(ShapeError, match=esc(
        "cross_entropy: expected logits (N, C) with labels (N,), got logits (4, 3) and labels (3,)"
    )):
        nn.CrossEntropyLoss()(randn(4, 3), cr.tensor([0, 1, 2]))
    with pytest.raises(ShapeError, match=esc("got logits (2, 4, 3)")):
        nn.functional.cross_entropy(randn(2, 4, 3), cr.tensor([0, 1]))


def test_S13_backward_gradient_shape():
    x = randn(3, requires_grad=True)
    with pytest.raises(ShapeError, match=esc("backward(): gradient has shape (4) but the tensor has shape (3)")):
        (x * 2).backward(gradient=np.ones(4))


# ---------------------------------------------------------------------------- graph (G)
def test_G1_backward_non_scalar():
    x = randn(2, 3, requires_grad=True)
    with pytest.raises(GraphError, match=esc(
        "backward(): grad can be implicitly created only for scalar outputs, but this tensor has shape (2, 3)"
    )):
        (x * 2).backward()


def test_G2_backward_through_freed_graph():
    x = randn(3, requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(GraphError, match="backward through the graph a second time.*retain_graph=True"):
        y.backward()
    # an intermediate of a freed graph reused in a new expression is caught too
    h = x.exp()
    (h * 2).sum().backward()
    with pytest.raises(GraphError, match="retain_graph=True"):
        (h * 3).sum().backward()
    # and retain_graph=True really allows the second pass
    z = (x * x).sum()
    z.backward(retain_graph=True)
    z.backward()


def test_G3_backward_without_grad():
    with pytest.raises(GraphError, match=r"backward\(\): this tensor does not require grad.*requires_grad=True"):
        randn(3).sum().backward()
    x = randn(3, requires_grad=True)
    with cr.no_grad():
        y = (x * 2).sum()
    with pytest.raises(GraphError, match=r"cr\.no_grad\(\)"):
        y.backward()


def test_G4_modified_after_save_optimizer_step():
    model = nn.Linear(3, 1, dtype=F64)
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    loss = model(randn(4, 3)).sum()
    # the everyday mistake: a step (from an earlier backward) between this forward and its backward
    model(randn(4, 3)).sum().backward()
    opt.step()
    with pytest.raises(GraphError, match=esc(
        "one of the tensors needed for gradient computation has been modified by an in-place operation: "
        "input 1 of linear (shape (1, 3)) is at version 2, expected version 1"
    )) as e:
        loss.backward()
    assert "optimizer.step()" in str(e.value)


def test_G4_modified_after_save_no_grad_update():
    w = randn(3, requires_grad=True)
    y = (w * w).sum()
    with cr.no_grad():
        w.sub_(0.1 * np.ones(3))
    with pytest.raises(GraphError, match=esc("input 0 of mul (shape (3,)) is at version 1, expected version 0")):
        y.backward()


def test_G4_ops_that_do_not_read_inputs_are_not_flagged():
    # add's backward never reads its inputs, so changing one afterwards is harmless (as in PyTorch)
    w = randn(3, requires_grad=True)
    y = (w + 1).sum()
    with cr.no_grad():
        w.add_(1.0)
    y.backward()
    np.testing.assert_array_equal(w.grad, np.ones(3))


def test_G5_inplace_on_leaf_with_grad():
    w = randn(3, requires_grad=True)
    with pytest.raises(GraphError, match=r"add_: in-place modification of a leaf tensor that requires grad.*no_grad"):
        w.add_(1.0)
    with pytest.raises(GraphError, match=r"__setitem__: in-place modification"):
        w[0] = 1.0


def test_G6_numpy_on_tensor_requiring_grad():
    with pytest.raises(GraphError, match=esc("use .detach().numpy()")):
        randn(3, requires_grad=True).numpy()


# ---------------------------------------------------------------------------- dtypes (D)
@pytest.mark.parametrize("data, dtype", [([1, 2], "int64"), ([True, False], "bool")])
def test_D1_integer_or_bool_requires_grad(data, dtype):
    with pytest.raises(DTypeError, match=esc(
        f"only floating point tensors can require gradients, but this tensor has dtype {dtype}"
    )):
        cr.tensor(data, requires_grad=True)
    with pytest.raises(DTypeError, match=esc(f"has dtype {dtype}")):
        cr.tensor(data).requires_grad_()


def test_D2_matmul_dtype_mismatch():
    with pytest.raises(DTypeError, match=esc(
        "matmul: expected both operands to have the same dtype, but got float64 and float32"
    )):
        randn(2, 3) @ randn(3, 2, dtype=np.float32)


def test_D3_linear_dtype_mismatch():
    layer = nn.Linear(3, 2)  # float32 parameters, the default
    with pytest.raises(DTypeError, match=esc("linear: input dtype float64 does not match weight dtype float32")):
        layer(randn(4, 3))


def test_D4_cross_entropy_float_labels():
    with pytest.raises(ShapeError, match=esc("cross_entropy: labels must be integer class indices, got dtype float64")):
        nn.functional.cross_entropy(randn(2, 3), np.array([0.0, 1.0]))


def test_D5_tensor_from_non_numeric_data():
    with pytest.raises(DTypeError, match=r"tensor\(\): cannot make a numeric tensor from data of dtype <U"):
        cr.tensor(["a", "b"])


# ---------------------------------------------------------------------------- values (V)
def test_V1_cross_entropy_label_out_of_range():
    with pytest.raises(ShapeError, match=esc(
        "cross_entropy: label 3 at index 2 is out of range for 3 classes (valid labels are 0..2)"
    )):
        nn.CrossEntropyLoss()(randn(4, 3), cr.tensor([0, 1, 3, 2]))
    with pytest.raises(ShapeError, match=esc("label -1 at index 0")):
        nn.CrossEntropyLoss()(randn(2, 3), cr.tensor([-1, 0]))


@pytest.mark.parametrize("bad, shown", [(1.5, "1.5"), (-0.25, "-0.25"), (float("nan"), "nan")])
def test_V2_bce_probabilities_outside_unit_interval(bad, shown):
    p = cr.tensor(np.array([[0.5, 0.2], [0.1, bad]]))
    with pytest.raises(ShapeError, match=esc(
        f"binary_cross_entropy: all elements of input should be between 0 and 1, but input[1, 1] = {shown} "
        f"(input shape (2, 2))"
    )) as e:
        nn.BCELoss()(p, cr.tensor(np.ones((2, 2))))
    assert "binary_cross_entropy_with_logits" in str(e.value)


def test_V3_loss_reduction():
    with pytest.raises(ValueError, match=esc("MSELoss: reduction must be 'mean', 'sum' or 'none', got 'avg'")):
        nn.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match=esc("cross_entropy: reduction must be one of")):
        nn.functional.cross_entropy(randn(2, 3), np.array([0, 1]), reduction="avg")


# ---------------------------------------------------------------------------- models and optimizers (M)
def _mlp():
    return nn.Sequential(nn.Linear(3, 2, dtype=F64), nn.ReLU(), nn.Linear(2, 1, dtype=F64))


def test_M1_load_state_dict_missing_key():
    model = _mlp()
    state = model.state_dict()
    del state["0.bias"]
    with pytest.raises(KeyError, match=esc("load_state_dict for Sequential: missing keys: 0.bias")):
        model.load_state_dict(state)


def test_M2_load_state_dict_unexpected_key():
    model = _mlp()
    state = model.state_dict()
    state["3.weight"] = np.zeros((1, 1))
    with pytest.raises(KeyError, match=esc("unexpected keys: 3.weight")):
        model.load_state_dict(state)


def test_M3_load_state_dict_shape():
    model = _mlp()
    state = model.state_dict()
    state["0.weight"] = np.zeros((3, 3))
    before = model.state_dict()
    with pytest.raises(ShapeError, match=esc(
        "load_state_dict for Sequential: size mismatch for 0.weight: the checkpoint has shape (3, 3), "
        "the model has shape (2, 3)"
    )):
        model.load_state_dict(state)
    for name, arr in model.state_dict().items():  # nothing was half-loaded
        np.testing.assert_array_equal(arr, before[name])


@pytest.mark.parametrize("make, message", [
    (lambda p: cr.optim.SGD(p, lr=-0.1), "SGD: Invalid learning rate: -0.1"),
    (lambda p: cr.optim.SGD(p, lr=float("nan")), "SGD: Invalid learning rate: nan"),
    (lambda p: cr.optim.SGD(p, lr=0.1, momentum=-0.9), "SGD: Invalid momentum value: -0.9"),
    (lambda p: cr.optim.SGD(p, lr=0.1, weight_decay=-1e-4), "SGD: Invalid weight_decay value: -0.0001"),
    (lambda p: cr.optim.SGD(p, lr=0.1, nesterov=True), "SGD: Nesterov momentum requires a momentum > 0"),
    (lambda p: cr.optim.Adam(p, eps=-1e-8), "Adam: Invalid epsilon value: -1e-08"),
    (lambda p: cr.optim.Adam(p, betas=(1.0, 0.999)), "Adam: Invalid beta parameter at index 0: 1.0"),
    (lambda p: cr.optim.AdamW(p, betas=(0.9, -0.1)), "AdamW: Invalid beta parameter at index 1: -0.1"),
    (lambda p: cr.optim.AdamW(p, lr=float("inf")), "AdamW: Invalid learning rate: inf"),
])
def test_M4_optimizer_hyperparameters(make, message):
    with pytest.raises(ValueError, match=esc(message)):
        make(_mlp().parameters())


def test_M4_optimizer_hyperparameter_type():
    with pytest.raises(TypeError, match=esc("SGD: lr must be a number, got '0.1' of type str")):
        cr.optim.SGD(_mlp().parameters(), lr="0.1")


def test_M5_optimizer_parameters():
    with pytest.raises(ValueError, match=esc("SGD got an empty parameter list")):
        cr.optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="Adam: every parameter must be a tensor that requires grad"):
        cr.optim.Adam([randn(3)])


# ---------------------------------------------------------------------------- the catalogue itself
def test_every_error_is_a_chainrule_error_and_a_builtin():
    assert issubclass(ShapeError, ValueError) and issubclass(ShapeError, ChainruleError)
    assert issubclass(DTypeError, TypeError) and issubclass(GraphError, RuntimeError)
    assert issubclass(cr.AnomalyError, FloatingPointError)


def test_catalogue_is_covered():
    doc = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    ids = re.findall(r"^### ([A-Z]\d+) ", doc, flags=re.MULTILINE)
    assert len(ids) >= 30 and len(ids) == len(set(ids)), ids
    tests = "".join((ROOT / "tests" / f).read_text(encoding="utf-8")
                    for f in ("test_errors.py", "test_anomaly.py", "test_io.py"))
    missing = [i for i in ids if not re.search(rf"^def test_{i}_", tests, flags=re.MULTILINE)]
    assert not missing, f"catalogue entries without a test: {missing}"
