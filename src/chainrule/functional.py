"""Free functions over tensors (``cr.relu``, ``cr.cat``, losses, ...), each a thin call of one op."""

from __future__ import annotations

import warnings

import numpy as np

from .autograd import is_grad_enabled
from .errors import LabelRangeError, ShapeError
from .ops import REGISTRY as OPS
from .tensor import Tensor, _const, _lift, _shape_str, apply, check_dim

_REDUCTIONS = ("mean", "sum", "none")


def _t(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def exp(x):
    return _t(x).exp()


def log(x):
    return _t(x).log()


def sqrt(x):
    return _t(x).sqrt()


def abs(x):  # noqa: A001
    return _t(x).abs()


def tanh(x):
    return _t(x).tanh()


def sigmoid(x):
    return _t(x).sigmoid()


def relu(x):
    return apply(OPS["relu"], _t(x))


def softplus(x, beta: float = 1.0, threshold: float = 20.0):
    """log(1 + e^(βx))/β, and x itself where βx > threshold, as ``torch.nn.functional.softplus``."""
    return apply(OPS["softplus"], _t(x), beta=beta, threshold=threshold)


def logsigmoid(x):
    """log σ(x) = min(x, 0) − log(1 + e^(−|x|)): finite and exact far into both tails."""
    return apply(OPS["logsigmoid"], _t(x))


def leaky_relu(x, negative_slope: float = 0.01):
    return _t(x).leaky_relu(negative_slope)


def clip(x, min=None, max=None):  # noqa: A002
    return _t(x).clip(min, max)


clamp = clip


def softmax(x, dim=None):
    x = _t(x)
    return x.softmax(_implicit_dim("softmax", x.ndim) if dim is None else dim)


def log_softmax(x, dim=None):
    x = _t(x)
    return x.log_softmax(_implicit_dim("log_softmax", x.ndim) if dim is None else dim)


def _implicit_dim(name: str, ndim: int) -> int:
    """PyTorch's dim for a softmax called without one, with its deprecation warning: 0 for 0-, 1- and
    3-D inputs, else 1 (not the last dim, for 3-D and higher)."""
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include "
                  f"dim=X as an argument.", UserWarning, stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def logsumexp(x, dim: int = -1, keepdim: bool = False):
    return _t(x).logsumexp(dim, keepdim)


def matmul(a, b):
    return _t(a) @ b


def where(cond, a, b) -> Tensor:
    """Element-wise ``a if cond else b``; differentiable in ``a`` and ``b``."""
    cond = np.asarray(cond.array if isinstance(cond, Tensor) else cond, dtype=bool)
    like = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else _t(a)
    a, b = _lift(a, like), _lift(b, like)
    try:
        np.broadcast_shapes(cond.shape, a.shape, b.shape)
    except ValueError:
        raise ShapeError(
            f"where: condition {_shape_str(cond.shape)}, input {_shape_str(a.shape)} and other "
            f"{_shape_str(b.shape)} cannot be broadcast together"
        ) from None
    return apply(OPS["where"], a, b, cond=cond)


def _check_same_rank(name, tensors, axis, stacked):
    if not tensors:
        raise ShapeError(f"{name}: expected a non-empty list of tensors")
    first = tensors[0].shape
    for i, t in enumerate(tensors[1:], 1):
        same = t.shape == first if stacked else (
            len(t.shape) == len(first)
            and all(a == b for k, (a, b) in enumerate(zip(t.shape, first)) if k != axis % max(len(first), 1))
        )
        if not same:
            rule = "all tensors must have the same shape" if stacked else f"sizes must match except in dimension {axis}"
            raise ShapeError(
                f"{name}: {rule}; tensor 0 has shape {_shape_str(first)} but tensor {i} has shape {_shape_str(t.shape)}"
            )


def cat(tensors, dim: int = 0) -> Tensor:
    tensors = [_t(t) for t in tensors]
    if tensors:
        dim = check_dim("cat", dim, tensors[0].ndim)
    _check_same_rank("cat", tensors, dim, stacked=False)
    return apply(OPS["cat"], *tensors, axis=dim)


concatenate = cat


def stack(tensors, dim: int = 0) -> Tensor:
    tensors = [_t(t) for t in tensors]
    if tensors:
        dim = check_dim("stack", dim, tensors[0].ndim, extra=1)
    _check_same_rank("stack", tensors, dim, stacked=True)
    return apply(OPS["stack"], *tensors, axis=dim)


def _reduction(name, reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def mse_loss(input, target, reduction: str = "mean") -> Tensor:  # noqa: A002
    _reduction("mse_loss", reduction)
    return apply(OPS["mse_loss"], _t(input), _lift(target, _t(input)), reduction=reduction)


def half_sse_loss(input, target) -> Tensor:  # noqa: A002
    """½ Σ (target − input)², the loss of the seed's worked example."""
    return apply(OPS["half_sse_loss"], _t(input), _lift(target, _t(input)))


def cross_entropy(input, target, weight=None, size_average=None, ignore_index: int = -100, reduce=None,  # noqa: A002
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """PyTorch's cross-entropy. Logits (N, C) or (C,) with class indices and no extras run as one
    fused op; class weights, ignore_index, label smoothing, (N, C, d…) inputs and probability
    targets are composed from log-softmax and NLL (``functional_nn.cross_entropy_general``)."""
    _reduction("cross_entropy", reduction)
    if size_average is not None or reduce is not None:
        raise ValueError("cross_entropy: size_average and reduce are deprecated in PyTorch; use reduction=")
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer)):
        raise TypeError(f"cross_entropy(): argument 'ignore_index' must be int, not {type(ignore_index).__name__}")
    labels = np.asarray(target.array if isinstance(target, Tensor) else target)
    x = _t(input)
    if weight is None and not label_smoothing and x.ndim <= 2 and labels.dtype.kind != "f":
        classes = x.shape[-1] if x.ndim else 0
        if not 0 <= ignore_index < classes or not (labels == ignore_index).any():
            try:  # the fused op checks that every label is a class index
                if x._requires_grad and is_grad_enabled():  # a backward may follow: keep the softmax for it
                    return apply(OPS["cross_entropy"], x, labels=labels, reduction=reduction, saved={})
                return apply(OPS["cross_entropy"], x, labels=labels, reduction=reduction)
            except LabelRangeError:  # raised before anything is recorded
                if not (labels == ignore_index).any():
                    raise
                # ignore_index (-100 by default) is no class index, but it is in the labels: those rows are left out
    from .functional_nn import cross_entropy_general

    return cross_entropy_general(x, target, weight, ignore_index, reduction, label_smoothing)


def binary_cross_entropy(input, target, reduction: str = "mean") -> Tensor:  # noqa: A002
    _reduction("binary_cross_entropy", reduction)
    return apply(OPS["binary_cross_entropy"], _t(input), _lift(target, _t(input)), reduction=reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,  # noqa: A002
                                     reduction: str = "mean", pos_weight=None) -> Tensor:
    _reduction("binary_cross_entropy_with_logits", reduction)
    if weight is not None or pos_weight is not None:
        from .functional_nn import bce_with_logits_weighted

        return bce_with_logits_weighted(input, target, weight, reduction, pos_weight)
    return apply(
        OPS["binary_cross_entropy_with_logits"], _t(input), _lift(target, _t(input)), reduction=reduction
    )


def linear(x, weight, bias=None) -> Tensor:
    """x @ weightᵀ + bias, with weight of shape (out_features, in_features) as in PyTorch."""
    x = _t(x)
    if bias is None:
        return apply(OPS["linear"], x, weight)
    return apply(OPS["linear"], x, weight, bias)


def detach(x):
    return _const(_t(x).array)

