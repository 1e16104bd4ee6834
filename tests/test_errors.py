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
    with pytest.raises(ShapeError, match=esc("backward(): Mismatch in shape: grad_output has a shape of (4) and output has a shape of (3)")):
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
    model = nn.Sequential(nn.Linear(3, 2, dtype=F64), nn.Linear(2, 1, dtype=F64))
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    loss = model(randn(4, 3)).sum()  # the last layer's backward reads its weight (for layer 1's gradient)
    # the everyday mistake: a step (from an earlier backward) between this forward and its backward
    model(randn(4, 3)).sum().backward()
    opt.step()
    with pytest.raises(GraphError, match=esc(
        "one of the tensors needed for gradient computation has been modified by an inplace operation: "
        "input 1 of linear (shape (1, 2)) is at version 2; expected version 1 instead"
    )) as e:
        loss.backward()
    assert "optimizer.step()" in str(e.value)


def test_G4_modified_after_save_no_grad_update():
    w = randn(3, requires_grad=True)
    y = (w * w).sum()
    with cr.no_grad():
        w.sub_(0.1 * np.ones(3))
    with pytest.raises(GraphError, match=esc("input 0 of mul (shape (3,)) is at version 1; expected version 0 instead")):
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
    with pytest.raises(GraphError, match=r"add_: a leaf Variable that requires grad is being used in an in-place operation.*no_grad"):
        w.add_(1.0)
    with pytest.raises(GraphError, match=r"__setitem__: a leaf Variable that requires grad"):
        w[0] = 1.0


def test_G6_numpy_on_tensor_requiring_grad():
    with pytest.raises(GraphError, match=esc("Use tensor.detach().numpy() instead")):
        randn(3, requires_grad=True).numpy()


def test_G7_inplace_on_a_view_in_the_graph():
    y = randn(3, requires_grad=True) * 2
    with pytest.raises(GraphError, match=esc(
        "mul_: in-place change of a view of a tensor that takes part in the graph is not supported by chainrule"
    )):
        y[:2].mul_(3)


def test_G8_create_graph_through_an_op_without_a_differentiable_gradient():
    x = randn(2, 3, requires_grad=True)
    loss = cr.nn.functional.cross_entropy(x, np.array([0, 2]))
    with pytest.raises(GraphError, match=esc(
        "backward(create_graph=True): the gradient of cross_entropy is not written to be differentiated again"
    )):
        loss.backward(create_graph=True)


def test_G9_grad_of_an_unused_input():
    x, u = randn(2, requires_grad=True), randn(2, requires_grad=True)
    with pytest.raises(GraphError, match=esc("one of the differentiated Tensors (inputs[1]) appears to not have been used")):
        cr.autograd.grad((x * 2).sum(), [x, u])


def test_G10_requires_grad_of_non_leaf_and_grad_assignment():
    y = randn(2, requires_grad=True) * 2
    with pytest.raises(GraphError, match="you can only change requires_grad flags of leaf variables"):
        y.requires_grad = False
    w = randn(2, requires_grad=True)
    with pytest.raises(ShapeError, match=esc("assigned grad has data of a different size: grad (3), tensor (2)")):
        w.grad = randn(3)
    with pytest.raises(TypeError, match="assigned grad expected to be a Tensor or None but got grad of type ndarray"):
        w.grad = np.zeros(2)


def test_G11_floor_divide_has_no_derivative():
    y = randn(2, requires_grad=True) // 0.5
    with pytest.raises(NotImplementedError, match=esc("derivative for floor_divide is not implemented")):
        y.sum().backward()


def test_G12_device_other_than_cpu():
    with pytest.raises(RuntimeError, match=esc("to: chainrule runs on the CPU only (NumPy), got device 'cuda'")):
        randn(2).to("cuda")
    with pytest.raises(RuntimeError, match="Module.to: chainrule runs on the CPU only"):
        nn.Linear(2, 2).to("cuda:0")


# ---------------------------------------------------------------------------- dtypes (D)
@pytest.mark.parametrize("data, dtype", [([1, 2], "int64"), ([True, False], "bool")])
def test_D1_integer_or_bool_requires_grad(data, dtype):
    with pytest.raises(DTypeError, match=esc(
        f"only Tensors of floating point dtype can require gradients, but this tensor has dtype {dtype}"
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


@pytest.mark.parametrize("labels, kwargs, shown", [
    ([1, 99, 2], {}, "label 99 at index 1"),  # the fused op
    ([-5, 1, 2], {}, "label -5 at index 0"),
    ([1, -100, 99], {}, "target 99 at flat index 2"),  # -100 is ignore_index: the general path
    ([1, 0, 7], {"ignore_index": 0}, "target 7 at flat index 2"),
    ([1, 2, 7], {"label_smoothing": 0.1}, "target 7 at flat index 2"),
])
def test_V1_out_of_range_labels_raise_index_error_as_in_pytorch(labels, kwargs, shown):
    torch = pytest.importorskip("torch")
    logits = np.arange(12, dtype=np.float32).reshape(3, 4) / 7
    with pytest.raises(IndexError, match="out of bounds"):
        torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(labels), **kwargs)
    with pytest.raises(IndexError, match=esc(shown)) as e:
        nn.functional.cross_entropy(cr.tensor(logits, requires_grad=True), np.array(labels), **kwargs)
    assert isinstance(e.value, cr.LabelRangeError) and isinstance(e.value, ShapeError)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64])
@pytest.mark.parametrize("labels", [[0, 2, 1], [0, 3], [2, -1], [-128, 0], [255, 0], [], [1, 2, 0][::2]])
def test_V1_label_range_check_in_one_reduction_matches_plain_python(dtype, labels):
    from chainrule.ops.loss import labels_in_range

    values = [v for v in labels if np.iinfo(dtype).min <= v <= np.iinfo(dtype).max]
    expected = all(0 <= v < 3 for v in values)  # the rule, written out element by element
    assert labels_in_range(np.array(values, dtype=dtype), 3) is expected
    assert labels_in_range(np.repeat(np.array(values, dtype=dtype), 2)[::2], 3) is expected  # a strided view


def test_V1_negative_labels_equal_to_ignore_index_are_ignored_not_refused():
    torch = pytest.importorskip("torch")
    logits = np.array([[1.0, 2.0, 0.5], [0.1, 0.2, 3.0], [2.0, 1.0, 0.0]])
    labels = np.array([2, -100, 0])
    z = cr.tensor(logits, requires_grad=True)
    loss = nn.functional.cross_entropy(z, labels)
    loss.backward()
    zt = torch.tensor(logits, requires_grad=True)
    expected = torch.nn.functional.cross_entropy(zt, torch.tensor(labels))
    expected.backward()
    np.testing.assert_allclose(loss.item(), expected.item(), rtol=1e-12)
    np.testing.assert_allclose(z.grad.numpy(), zt.grad.numpy(), rtol=1e-12, atol=1e-15)
    with pytest.raises(ShapeError, match=esc("label -1 at index 1")):  # any other negative label is refused
        nn.functional.cross_entropy(cr.tensor(logits), np.array([2, -1, 0]))


@pytest.mark.parametrize("bad, shown", [(1.5, "1.5"), (-0.25, "-0.25"), (float("nan"), "nan")])
def test_V2_bce_probabilities_outside_unit_interval(bad, shown):
    p = cr.tensor(np.array([[0.5, 0.2], [0.1, bad]]))
    with pytest.raises(ShapeError, match=esc(
        f"binary_cross_entropy: all elements of input should be between 0 and 1, but input[1, 1] = {shown} "
        f"(input shape (2, 2))"
    )) as e:
        nn.BCELoss()(p, cr.tensor(np.ones((2, 2))))
    assert "binary_cross_entropy_with_logits" in str(e.value)


def test_V2_bce_target_outside_unit_interval_like_torch():
    import torch

    with pytest.raises(RuntimeError, match="all elements of target should be between 0 and 1"):
        torch.nn.functional.binary_cross_entropy(torch.tensor([0.3]), torch.tensor([5.0]))
    with pytest.raises(ShapeError, match=esc(
        "binary_cross_entropy: all elements of target should be between 0 and 1, but target[0] = 5.0 (target shape (1,))"
    )):
        cr.nn.functional.binary_cross_entropy(cr.tensor([0.3]), cr.tensor([5.0]))


def test_linear_sizes_must_be_integers_like_torch():
    import torch

    with pytest.raises(TypeError):
        torch.nn.Linear(2.5, 3)
    with pytest.raises(TypeError, match="Linear: in_features must be a non-negative int, got 2.5"):
        nn.Linear(2.5, 3)


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
    with pytest.raises(TypeError, match="Adam can only optimize Tensors, but one of the params is list"):
        cr.optim.Adam([[1.0, 2.0]])


# ---------------------------------------------------------------------------- spec, CSV files and the CLI (P)
SPEC = {
    "layers": [2, 3, 1], "activations": ["none", "none"], "bias": False, "loss": "half_sse", "lr": 1e-5,
    "init": {"weights": [0.5, 1.0]}, "data": {"x": [40, 80], "y": [60]},
}
CE_SPEC = {**SPEC, "layers": [2, 3], "activations": ["softmax"], "loss": "cross_entropy",
           "init": {"weights": [0.1]}, "data": {"x": [[1, 2], [3, 4]], "y": [0, 3]}}


def spec_error(raw, where="net.toml"):
    from chainrule.spec import parse_spec

    with pytest.raises(cr.SpecError) as info:
        parse_spec(raw, where)
    return str(info.value)


def csv_error(tmp_path, text, name="d.csv", **kwargs):
    from chainrule.data import load_csv

    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(cr.SpecError) as info:
        load_csv(str(path), **kwargs)
    return str(info.value), str(path)


def cli(argv, capsys):
    """Run the CLI in-process: (exit status, stderr lines)."""
    from chainrule.cli import main

    code = main(argv)
    return code, capsys.readouterr().err.strip().splitlines()


def test_P1_unknown_key():
    assert spec_error({**SPEC, "colour": 1}).startswith(
        "net.toml: key 'colour': unknown key (known keys: activations, beta1, beta2, bias, data, description, "
        "description_zh, eps, frozen, init, layers, loss, lr, momentum, name, negative_slope, optimizer, order, steps, "
        "trainable)")
    assert spec_error({**SPEC, "init": {"weights": [0.5, 1.0], "bias": 1}}) == (
        "net.toml: key 'init.bias': unknown key (known keys: biases, seed, weights)")
    assert spec_error({**SPEC, "data": {"x": [40, 80], "y": [60], "z": 1}}) == (
        "net.toml: key 'data.z': unknown key (known keys: x, y)")


def test_P2_missing_key_or_wrong_count():
    assert spec_error({k: v for k, v in SPEC.items() if k != "layers"}) == (
        "net.toml: key 'layers': missing; give the layer sizes, e.g. layers = [2, 3, 1]")
    assert spec_error({**SPEC, "activations": ["none"]}) == (
        "net.toml: key 'activations': expected 2 entries (one per weight layer), got 1")
    assert spec_error({**SPEC, "bias": [True, False, True]}) == (
        "net.toml: key 'bias': expected 2 entries (one per weight layer), got 3")
    assert spec_error({**SPEC, "init": {}}).startswith("net.toml: key 'init.weights': missing; give a constant")
    assert spec_error({**SPEC, "data": {"x": [40, 80]}}) == "net.toml: key 'data.y': missing"


@pytest.mark.parametrize("change, message", [
    ({"layers": [2, "x", 1]}, "key 'layers[1]': expected a number, got 'x'"),
    ({"layers": [2, 2.5, 1]}, "key 'layers[1]': expected a whole number, got 2.5"),
    ({"layers": [2, 0, 1]}, "key 'layers[1]': expected a number >= 1, got 0"),
    ({"lr": -1}, "key 'lr': expected a number > 0, got -1"),
    ({"lr": "0.1"}, "key 'lr': expected a number, got '0.1'"),
    ({"steps": True}, "key 'steps': expected a number, got True"),
    ({"bias": "yes"}, "key 'bias': expected true, false or \"shared\" (one bias for the whole layer), got 'yes'"),
    ({"beta2": 1.0}, "key 'beta2': expected a number in [0, 1), got 1.0"),
    ({"name": 3}, "key 'name': expected a string, got 3"),
    ({"init": "random"}, "key 'init': expected a table [init], got str"),
])
def test_P3_wrong_type_or_range(change, message):
    assert spec_error({**SPEC, **change}) == f"net.toml: {message}"


@pytest.mark.parametrize("change, message", [
    ({"activations": ["none", "swish"]},
     "key 'activations[1]': expected one of none, relu, sigmoid, tanh, leaky_relu, softmax, got 'swish'"),
    ({"loss": "l1"}, "key 'loss': expected one of half_sse, mse, sse, cross_entropy, bce, got 'l1'"),
    ({"optimizer": "rmsprop"}, "key 'optimizer': expected one of sgd, momentum, adam, got 'rmsprop'"),
    ({"activations": ["softmax", "none"]}, "key 'activations[0]': softmax is only supported on the output layer"),
    ({"loss": "bce", "data": {"x": [40, 80], "y": [1]}},
     "key 'activations': loss 'bce' needs probabilities: set the last activation to 'sigmoid' (got 'none')"),
])
def test_P4_bad_activation_loss_or_optimizer(change, message):
    assert spec_error({**SPEC, **change}) == f"net.toml: {message}"


def test_P5_weight_matrix_shape():
    # layer 2 -> 1 of [2, 3, 1]: a 3x1 matrix in (from, to) order; [[1, 2]] is 1x2
    assert spec_error({**SPEC, "init": {"weights": [0.5, [[1, 2]]]}}) == (
        "net.toml: key 'init.weights[1]': expected a number or a 3x1 matrix in (from, to) order (row i = input "
        "neuron i of layer 2, column j = output neuron j), got shape 1x2")
    # the transposed (to, from) matrix, as nn.Linear stores it, is refused too
    assert "expected a number or a 2x3 matrix" in spec_error({**SPEC, "init": {"weights": [[[1, 2]] * 3, 1.0]}})
    assert spec_error({**SPEC, "bias": True, "init": {"weights": [0.5, 1.0], "biases": [[1, 2], 0]}}) == (
        "net.toml: key 'init.biases[0]': expected a number or a list of 3 biases, got shape (2,)")


def test_P6_inconsistent_data_shapes():
    assert spec_error({**SPEC, "data": {"x": [40, 80, 1], "y": [60]}}) == (
        "net.toml: key 'data.x': expected 2 inputs per sample (layers[0] = 2), got shape (3,)")
    assert spec_error({**SPEC, "data": {"x": [40, 80], "y": [60, 1]}}) == (
        "net.toml: key 'data.y': expected 1 target(s) per sample for 1 sample(s), got shape (2,)")
    assert spec_error({**SPEC, "data": {"x": [[1, 2], [3]], "y": [[1], [2]]}}) == (
        "net.toml: key 'data.x': rows have different lengths")
    assert spec_error({**SPEC, "data": {"x": [[1, 2], ["a", 4]], "y": [[1], [2]]}}) == (
        "net.toml: key 'data.x[1][0]': expected a number, got 'a'")


def test_P7_cross_entropy_labels():
    assert spec_error(CE_SPEC, "ce.toml") == (
        "ce.toml: key 'data.y[1]': class index 3 is out of range for 3 classes (0..2)")
    assert spec_error({**CE_SPEC, "data": {"x": [1, 2], "y": [-1]}}, "ce.toml") == (
        "ce.toml: key 'data.y[0]': class index -1 is out of range for 3 classes (0..2)")
    assert spec_error({**CE_SPEC, "data": {"x": [1, 2], "y": [0.5]}}, "ce.toml") == (
        "ce.toml: key 'data.y[0]': expected a whole number (a class index), got 0.5")


def test_P8_missing_unreadable_or_invalid_file(tmp_path):
    from chainrule.spec import load_spec, shipped_specs

    missing = str(tmp_path / "net.toml")
    with pytest.raises(cr.SpecError, match=esc(
        f"{missing}: no such file, and not a shipped spec (shipped specs: {', '.join(shipped_specs())})"
    )):
        load_spec(missing)
    cases = {
        "bad.toml": (b"layers = [2, 3\n", "bad.toml: not valid TOML: "),
        "bad.json": (b'{"layers": [2,', "bad.json: not valid JSON: "),
        "latin1.toml": ('name = "café"\n'.encode("latin-1"), "latin1.toml: not a UTF-8 text file"),
        "list.json": (b"[2, 3, 1]", "list.json: the top level must be a table of keys, got list"),
    }
    for name, (content, message) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(cr.SpecError, match="^" + esc(f"{tmp_path / message}")):
            load_spec(str(path))


def _peak_bytes(fn):
    """The most memory Python and NumPy held at once while ``fn`` ran (tracemalloc sees NumPy's arrays)."""
    import tracemalloc

    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def test_P9_oversized_spec_refused_before_reading_or_allocating(tmp_path):
    from chainrule.spec import load_spec, parse_spec

    huge = tmp_path / "huge.toml"
    with open(huge, "wb") as f:  # a sparse 100 MB file: cheap to make, expensive to read
        f.truncate(100_000_000)

    def load():
        with pytest.raises(cr.SpecError, match="^" + esc(
            f"{huge}: file is 100,000,000 bytes; specs larger than 1,000,000 bytes are refused"
        )):
            load_spec(str(huge))

    assert _peak_bytes(load) < 1_000_000  # reading it would take 100 MB

    # a 10^6-neuron layer: with constant weights it would be two 2x10^6-ish float64 arrays (tens of MB)
    def wide():
        assert spec_error({**SPEC, "layers": [2, 10**6, 1]}) == (
            "net.toml: key 'layers[1]': 1,000,000 neurons is more than the 10,000 a spec may have per layer")

    assert _peak_bytes(wide) < 1_000_000

    # every layer under the per-layer limit, but 3000*3000 + 3000*1 = 9,003,000 weights (72 MB)
    def many():
        assert spec_error({**SPEC, "layers": [3000, 3000, 1]}) == (
            "net.toml: key 'layers': 9,003,000 parameters is more than the 1,000,000 a spec may have")

    assert _peak_bytes(many) < 1_000_000
    parse_spec({**SPEC, "layers": [2, 10_000, 1]}, "ok.toml", require_data=False)  # the limit itself is allowed


@pytest.mark.parametrize("text, message", [
    ("a,b,y\n1,2,3\n4,x,6\n", "line 3, column 'b': expected a number, got 'x'"),
    ("a,b,y\n1,inf,3\n", "line 2, column 'b': expected a finite number, got 'inf'"),
    ("a,b,y\n1,2,3\n\n4,5\n", "line 4: expected 3 values (one per column), got 2"),
    ("a,a,y\n1,2,3\n", "line 1: column name 'a' appears twice"),
    ("a,b,y\n\n", "expected a header row and at least one data row"),
])
def test_P10_bad_csv_cell_or_row(tmp_path, text, message):
    got, path = csv_error(tmp_path, text)
    assert got == f"{path}: {message}"


def test_P11_csv_missing_unreadable_too_large_or_no_target(tmp_path):
    from chainrule.data import load_csv

    with pytest.raises(cr.SpecError, match="^" + esc(f"{tmp_path / 'data.csv'}: no such file")):
        load_csv(str(tmp_path / "data.csv"))
    got, path = csv_error(tmp_path, b"\xff\xfea,b\n", "bin.csv")
    assert got == f"{path}: not a UTF-8 text file (byte 0: invalid start byte)"
    got, path = csv_error(tmp_path, "a,y\n1,2\n", target="z")
    assert got == f"{path}: no column named 'z' (columns: a, y)"
    got, path = csv_error(tmp_path, "a,y\n1,2.5\n2,1\n", classification=True)
    assert got == f"{path}: column 'y': class labels must be names or whole numbers >= 0"
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(cr.SpecError, match="^" + esc(f"{tmp_path / 'dir.csv'}: is a folder, not a file") + "$"):
        load_csv(str(tmp_path / "dir.csv"))
    big = tmp_path / "big.csv"
    with open(big, "wb") as f:
        f.truncate(100_000_001)

    def load():
        with pytest.raises(cr.SpecError, match="^" + esc(
            f"{big}: file is 100,000,001 bytes; CSV files larger than 100,000,000 bytes are refused"
        )):
            load_csv(str(big))

    assert _peak_bytes(load) < 1_000_000


def test_P12_csv_and_spec_do_not_fit(tmp_path, capsys):
    two = tmp_path / "two.csv"
    two.write_text("a,b,label\n1,2,x\n3,4,y\n")
    code, err = cli(["train", "iris", "--data", str(two), "--epochs", "1", "--quiet"], capsys)
    assert code == 2 and err == [
        f"chainrule train: error: {two}: 2 feature column(s) (a, b) but the spec iris (shipped spec) expects 4 "
        f"inputs (layers[0])"]
    numbers = tmp_path / "r.csv"
    numbers.write_text("a,b,c,d,y\n" + "1,2,3,4,0.5\n" * 4)
    code, err = cli(["train", "iris", "--data", str(numbers), "--epochs", "1", "--quiet"], capsys)
    assert code == 2 and err == [
        f"chainrule train: error: {numbers}: loss cross_entropy needs a class-label target column, but 'y' holds "
        f"numbers; pass --target or change the loss"]
    four = tmp_path / "four.csv"
    four.write_text("a,b,c,d,kind\n" + "".join(f"1,2,3,4,{k}\n" for k in "pqrs"))
    code, err = cli(["train", "iris", "--data", str(four), "--epochs", "1", "--quiet", "--val", "0"], capsys)
    assert code == 2 and err == [f"chainrule train: error: {four}: 4 classes but the spec has 3 outputs"]


def test_P13_training_diverged(tmp_path, capsys):
    from chainrule.train import TrainingDiverged, fit

    # already infinite before any update: (1e200 - 0)^2 overflows, whatever the learning rate
    model = nn.Linear(1, 1, dtype=F64)
    with pytest.raises(TrainingDiverged, match="^" + esc(
        "epoch 1, batch 1: the loss is inf before any update; training stopped. Check the data for huge values "
        "and the initial weights, or standardise the inputs."
    )):
        fit(model, nn.MSELoss(), cr.optim.SGD(model.parameters(), lr=0.1), np.array([[1e200]]), np.zeros((1, 1)),
            epochs=3)
    # finite at first, then blown up by a learning rate far too large: y = 3x on x up to 29, lr 10
    spec = tmp_path / "lin.toml"
    spec.write_text('layers = [2, 1]\nloss = "mse"\nlr = 10.0\n[init]\nweights = [0.5]\n')
    data = tmp_path / "lin.csv"
    data.write_text("a,b,y\n" + "".join(f"{i},{2 * i},{3 * i}\n" for i in range(1, 30)))
    ckpt = tmp_path / "lin.npz"
    code, err = cli(["train", str(spec), "--data", str(data), "--epochs", "50", "--quiet", "--no-standardize",
                     "--val", "0", "--batch-size", "29", "--checkpoint", str(ckpt)], capsys)
    assert code == 2 and len(err) == 1, err
    assert re.fullmatch(r"chainrule train: error: epoch (\d+), batch 1: the loss became (inf|nan); training "
                        r"stopped\. The learning rate \(10\.0\) is probably too large for this data; lower it, "
                        r"or standardise the inputs\.", err[0]), err[0]
    # the checkpoint holds the last finished epoch, which is the one before the error's
    diverged_at = int(re.search(r"epoch (\d+)", err[0]).group(1))
    assert diverged_at > 1
    from chainrule.io import load_checkpoint

    assert load_checkpoint(ckpt)["meta"]["epoch"] == diverged_at - 1


def test_P14_bad_train_options(tmp_path, capsys):
    base = ["train", "iris", "--data", "iris", "--epochs", "1", "--quiet"]
    code, err = cli([*base, "--val", "0.999"], capsys)
    assert code == 2 and err == [
        "chainrule train: error: --val 0.999: holding out that fraction of the 150 rows of iris (bundled data set) "
        "leaves no training rows"]
    missing = tmp_path / "runs"
    for option, name in (("--checkpoint", "iris.npz"), ("--plot", "loss.png")):
        code, err = cli([*base, option, str(missing / name)], capsys)
        assert code == 2 and err == [
            f"chainrule train: error: {option} {missing / name}: the folder '{missing}' does not exist"]
    code, err = cli([*base, "--checkpoint", str(tmp_path)], capsys)
    assert code == 2 and err == [f"chainrule train: error: --checkpoint {tmp_path}: is a folder; give a file name"]
    # a checkpoint of another network: iris is 4-8-3 with biases, this spec 4-3 without a hidden layer
    ckpt = tmp_path / "iris.npz"
    assert cli([*base, "--checkpoint", str(ckpt)], capsys)[0] == 0
    small = tmp_path / "small.toml"
    small.write_text('layers = [4, 3]\nactivations = ["softmax"]\nloss = "cross_entropy"\nbias = true\n'
                     "[init]\nseed = 0\n")
    code, err = cli(["train", str(small), "--data", "iris", "--epochs", "1", "--quiet", "--resume", str(ckpt)], capsys)
    assert code == 2 and len(err) == 1
    assert err[0].startswith(f"chainrule train: error: load_checkpoint: '{ckpt}' does not fit the model: "
                             f"load_state_dict for SpecNetwork: "), err[0]


def test_P16_malformed_answer_file(tmp_path, capsys):
    cases = {
        "a1.toml": ('loss = "abc"\n', "key 'loss': expected a number, got 'abc'"),
        "a2.toml": ("colour = 1\n", "key 'colour': unknown (answer keys: dL_doutput, delta, forward, grad, loss, "
                                    "output, params_after, params_before, step)"),
        "a3.toml": ("[grad]\nW9 = 1\n", "key 'grad.W9': no such parameter (this network has W1, W2"),
        "a4.toml": ("loss = [1\n", "not valid TOML: "),
    }
    for name, (text, message) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        code, err = cli(["grade", "seed", str(path)], capsys)
        assert code == 2 and len(err) == 1 and err[0].startswith(f"chainrule grade: error: {path}: {message}"), err
    huge = tmp_path / "huge.toml"
    with open(huge, "wb") as f:
        f.truncate(100_000_000)
    result = {}
    peak = _peak_bytes(lambda: result.update(out=cli(["grade", "seed", str(huge)], capsys)))
    assert result["out"] == (2, [f"chainrule grade: error: {huge}: file is 100,000,000 bytes; answer files larger "
                                 f"than 1,000,000 bytes are refused"])
    assert peak < 5_000_000  # not read: reading it would take 100 MB
    code, err = cli(["grade", "seed", str(tmp_path / "nope.toml")], capsys)
    assert (code, err) == (2, [f"chainrule grade: error: {tmp_path / 'nope.toml'}: no such answer file"])


def test_P15_one_line_exit_2_and_debug(tmp_path, capsys):
    import subprocess
    import sys

    from chainrule.cli import main

    spec = tmp_path / "net.toml"
    spec.write_text("layers = [2, 1]\ncolour = 1\n")
    message = f"{spec}: key 'colour': unknown key"
    argv = ["train", str(spec), "--data", "iris"]
    code, err = cli(argv, capsys)
    assert code == 2 and len(err) == 1 and err[0].startswith(f"chainrule train: error: {message}")
    # --debug before or after the command: the exception itself, with its traceback
    for debug_argv in (["--debug", *argv], [*argv, "--debug"]):
        with pytest.raises(cr.SpecError, match="^" + esc(message)):
            main(debug_argv)
    # argparse's own errors are one line too, with the same prefix and status
    with pytest.raises(SystemExit) as info:
        main(["train", str(spec)])
    err = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 2 and err == [
        "chainrule train: error: the following arguments are required: --data (see chainrule train --help)"]
    with pytest.raises(SystemExit) as info:
        main([*argv, "--colour"])
    err = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 2 and err == [
        "chainrule train: error: unrecognized arguments: --colour (see chainrule train --help)"]
    # and in a real process: status 2, one line on stderr, no traceback
    proc = subprocess.run([sys.executable, "-m", "chainrule", *argv], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "chainrule", "--debug", *argv], capture_output=True, text=True)
    assert proc.returncode != 0 and "Traceback (most recent call last)" in proc.stderr


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
                    for f in ("test_errors.py", "test_anomaly.py", "test_io.py", "test_hardening.py"))
    missing = [i for i in ids if not re.search(rf"^def test_{i}_", tests, flags=re.MULTILINE)]
    assert not missing, f"catalogue entries without a test: {missing}"
