"""Gradient checks: the engine's gradients against central finite differences in float64.

``gradcheck(fn, inputs)`` follows ``torch.autograd.gradcheck``: for every input that requires grad
it builds the Jacobian of ``fn``'s output(s) twice — by backward passes (analytical) and by central
differences ``(f(x + eps) − f(x − eps)) / (2·eps)`` (numerical) — and accepts an entry when
``|analytical − numerical| <= atol + rtol·|numerical|``. It returns True, or raises
``GradcheckError`` naming the input, the index and both values (or returns False with
``raise_exception=False``).

``check_spec(spec)`` does the same for one training step of a spec's network, one row per parameter
element, with PyTorch's gradient alongside when PyTorch is installed (``chainrule check``).

>>> import chainrule as cr
>>> x = cr.tensor([0.5, -1.0, 2.0], dtype=cr.float64, requires_grad=True)
>>> cr.gradcheck(lambda t: (t.tanh() * t).sum(), (x,))
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .autograd import no_grad
from .errors import DTypeError, GradcheckError
from .tensor import Tensor


def _outputs(value) -> list:
    items = value if isinstance(value, (tuple, list)) else (value,)
    outs = []
    for k, o in enumerate(items):
        if not isinstance(o, Tensor):
            raise GradcheckError(f"gradcheck: output {k} of fn is a {type(o).__name__}, expected a Tensor")
        outs.append(o)
    return outs


def _index(idx: tuple) -> str:
    return str(tuple(int(i) for i in idx)) if len(idx) != 1 else str(int(idx[0]))


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True) -> bool:
    """Compare the engine's gradients of ``fn(*inputs)`` with central finite differences.

    ``inputs``: a tensor or a tuple of arguments; tensors with ``requires_grad`` are checked and must
    be float64 (finite differences in float32 are too coarse to mean anything, as PyTorch warns).
    ``fn`` may return one tensor or a tuple of tensors of any shape: every output element is
    back-propagated on its own, so the whole Jacobian is compared, not just one sum.
    """
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    checked = [(k, t) for k, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise GradcheckError("gradcheck: no input requires grad; pass tensors created with requires_grad=True")
    for k, t in checked:
        if t.dtype != np.float64:
            raise DTypeError(
                f"gradcheck: input {k} requires grad and has dtype {t.dtype}; finite differences need float64 "
                f"(create it with dtype=cr.float64)"
            )

    def evaluate():
        with no_grad():
            return [o.array.astype(np.float64).copy() for o in _outputs(fn(*inputs))]

    first = _outputs(fn(*inputs))
    shapes = [o.shape for o in first]
    for oi, out in enumerate(first):
        if out.dtype != np.float64:
            raise DTypeError(f"gradcheck: output {oi} has dtype {out.dtype}; gradcheck needs float64 outputs")

    # Analytical Jacobians: one backward pass per output element, a fresh forward each time.
    analytical = {(oi, k): np.zeros((int(np.prod(shape, dtype=np.int64)), t.array.size))
                  for oi, shape in enumerate(shapes) for k, t in checked}
    for oi, shape in enumerate(shapes):
        for e in range(int(np.prod(shape, dtype=np.int64))):
            for _, t in checked:
                t.grad = None
            out = _outputs(fn(*inputs))[oi]
            if not out.requires_grad:
                continue  # the output does not depend on any checked input: its row stays zero
            seed = np.zeros(out.array.size)
            seed[e] = 1.0
            out.backward(gradient=seed.reshape(out.shape))
            for k, t in checked:
                if t.grad is not None:
                    analytical[(oi, k)][e] = np.asarray(t.grad, dtype=np.float64).reshape(-1)
    for _, t in checked:
        t.grad = None

    # Numerical Jacobians, column by column, then the comparison.
    for k, t in checked:
        for flat, idx in enumerate(np.ndindex(t.shape)):
            original = t.array[idx].copy()
            t.array[idx] = original + eps
            plus = evaluate()
            t.array[idx] = original - eps
            minus = evaluate()
            t.array[idx] = original
            for oi in range(len(shapes)):
                column = ((plus[oi] - minus[oi]) / (2 * eps)).reshape(-1)
                got = analytical[(oi, k)][:, flat]
                bad = np.flatnonzero(~(np.abs(got - column) <= atol + rtol * np.abs(column)))
                if bad.size:
                    if not raise_exception:
                        return False
                    e = int(bad[0])
                    where = f" (output {oi}, element {e})" if len(shapes) > 1 or column.size > 1 else ""
                    raise GradcheckError(
                        f"gradcheck: gradient mismatch for input {k} at index {_index(idx)}{where}: "
                        f"engine (analytical) {float(got[e])!r}, finite difference (numerical) {float(column[e])!r}; "
                        f"|difference| {abs(got[e] - column[e]):.3g} > atol + rtol·|numerical| = "
                        f"{atol + rtol * abs(column[e]):.3g} (eps={eps:g}, atol={atol:g}, rtol={rtol:g})"
                    )
    return True


def relative_error(a: float, b: float) -> float:
    """|a − b| / max(|a|, |b|); 0 when both are (next to) 0, NaN when either is not finite."""
    scale = max(abs(a), abs(b))
    if not np.isfinite(scale):
        return float("nan")
    return 0.0 if scale < 1e-300 else abs(a - b) / scale


@dataclass
class Row:
    """One parameter element of ``check_spec``."""

    param: str              # "W1"
    index: tuple            # (from, to) for weights, (j,) for biases, 0-based
    engine: float
    numerical: float
    torch: float | None     # None when PyTorch is not installed
    ok: bool

    @property
    def rel_numerical(self) -> float:
        return relative_error(self.engine, self.numerical)

    @property
    def rel_torch(self) -> float | None:
        return None if self.torch is None else relative_error(self.engine, self.torch)


TORCH_ATOL, TORCH_RTOL = 1e-9, 1e-7  # the same float64 arithmetic in another order: only rounding differs


def check_spec(spec, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3, use_torch: bool = True) -> list[Row]:
    """The first training step's gradient of every parameter element, three ways.

    A row passes when the engine agrees with the central difference (``atol + rtol·|numerical|``)
    and, when PyTorch is there, with PyTorch (``1e-9 + 1e-7·|torch|``).
    """
    from . import limits, torch_reference
    from .limits import refuse_over
    from .network import SpecLoss
    from .network import run as run_spec
    from .spec import load_spec

    spec = load_spec(spec)
    refuse_over("the number of parameters", spec.n_params, limits.CHECK_PARAMETERS, spec.source,
                "finite differences take two forward passes per parameter: check a smaller network of the "
                "same shape, or use cr.gradcheck on a part of this one")
    step = run_spec(spec, steps=1).steps[0]
    loss = SpecLoss(spec, step.params_before)  # the values the recorded step started from

    reference = None
    if use_torch and torch_reference.available():
        reference = torch_reference.run(spec, steps=1, params=step.params_before)[0]["grad"]
    rows = []
    for name, grad in step.grads.items():
        for index in np.ndindex(grad.shape):
            numerical = loss.central_difference(name, index, eps)
            engine = float(grad[index])
            ok = abs(engine - numerical) <= atol + rtol * abs(numerical)
            ref = None if reference is None else float(reference[name][index])
            if ref is not None:
                ok = ok and abs(engine - ref) <= TORCH_ATOL + TORCH_RTOL * abs(ref)
            rows.append(Row(name, tuple(int(i) for i in index), engine, numerical, ref, bool(ok)))
    return rows


def layered_central_difference(net, x, target, param, index, eps: float) -> float:
    """(L(w + ε) − L(w − ε)) / 2ε for one element ``index`` of ``param`` of a layered network, the loss
    recomputed by the engine's forward on ``x`` and ``target``; the element is restored."""
    def loss_at(delta):
        with no_grad():
            old = param.array[index]
            param.array[index] = old + delta
            value = float(np.asarray(net.loss_from_output(net(x), target).array))
            param.array[index] = old
        return value

    return (loss_at(eps) - loss_at(-eps)) / (2 * eps)


def check_layered(spec, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3, use_torch: bool = True) -> list[Row]:
    """``check_spec`` for a layered spec that fixes its sample (``x``, ``y``; the shipped ``conv``): every
    parameter element's gradient of one step in float64 — the engine's backward, a central difference of
    the engine's forward, and PyTorch's backward through ``to_torch()`` of the same layers. Rows are
    named by block (``layers[0].weight``)."""
    from . import torch_reference
    from .dtypes import float64
    from .errors import SpecError
    from .layered import LayeredNetwork
    from .tensor import tensor

    if spec.x is None or spec.y is None:
        raise SpecError(f"{spec.source}: check needs the sample fixed in the spec (keys 'x' and 'y')")
    if any(b["kind"] == "dropout" for b in spec.blocks):
        raise SpecError(f"{spec.source}: check compares deterministic gradients; dropout draws a new mask per call")
    net = LayeredNetwork(spec).double_exact()
    xs, ys = spec.batch()  # one sample (the conv specs) or a batch (batchnorm)
    x = tensor(xs, dtype=float64)
    target = tensor(ys, dtype=float64)
    net.loss_from_output(net(x), target).backward()
    names = net.parameter_names()
    params = dict(net.named_parameters())

    reference = None
    if use_torch and torch_reference.available():
        reference = _torch_layered_grads(net, spec)
    rows = []
    for name, p in params.items():
        grad = np.asarray(p.grad.array)
        for index in np.ndindex(grad.shape):
            numerical = layered_central_difference(net, x, target, p, index, eps)
            engine = float(grad[index])
            ok = abs(engine - numerical) <= atol + rtol * abs(numerical)
            ref = None if reference is None else float(reference[name[len("body."):]][index])
            if ref is not None:
                ok = ok and abs(engine - ref) <= TORCH_ATOL + TORCH_RTOL * abs(ref)
            rows.append(Row(names[name], tuple(int(i) for i in index), engine, numerical, ref, bool(ok)))
    return rows


def _torch_layered_grads(net, spec) -> dict:
    """PyTorch's float64 gradients of the same layers (``to_torch()`` of the body), loss and sample."""
    from collections import OrderedDict

    import torch

    # a block that is not one PyTorch class (the rnn block: nn.RNN and a choice of its output) has a torch twin
    twins = {k: m.torch_twin() if hasattr(m, "torch_twin") else m.to_torch() for k, m in net.body._modules.items()}
    body = torch.nn.Sequential(OrderedDict(twins)).double()
    xs, ys = spec.batch()
    x = torch.tensor(xs, dtype=torch.float64)
    y = torch.tensor(ys, dtype=torch.float64)
    out = body(x)
    if spec.loss == "half_sse":
        loss = 0.5 * ((out - y) ** 2).sum()
    elif spec.loss == "mse":
        loss = torch.nn.functional.mse_loss(out, y)
    else:
        loss = torch.nn.functional.cross_entropy(out, y)
    loss.backward()
    return {name.replace(".rnn.", "."): p.grad.numpy() for name, p in body.named_parameters()}
