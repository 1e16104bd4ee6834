"""Free functions for the layers of a convolutional or recurrent network (``F.conv2d``, ``F.max_pool2d``,
``F.batch_norm``, ``F.dropout``, ...), with PyTorch's names, arguments and defaults.

Each is a thin call of one op (``chainrule.ops.conv``, ``pool``, ``norm``, ``activation``,
``loss_extra``) after checking and normalising its arguments; cross-entropy with class weights,
``ignore_index``, label smoothing or probability targets is composed from log-softmax and NLL.
"""

from __future__ import annotations

import math

import numpy as np

from .autograd import no_grad
from .errors import ShapeError
from .ops import REGISTRY as OPS
from .random import generator
from .tensor import Tensor, _const, _lift, apply, check_dim

_REDUCTIONS = ("mean", "sum", "none")


def _t(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _np(x):
    """The array behind a tensor (or an array-like), never part of a graph."""
    return x.detach().numpy() if isinstance(x, Tensor) else np.asarray(x)


def _pair(name, value, what) -> tuple:
    """An int or a pair of ints, as PyTorch's _pair accepts."""
    if type(value) is int:  # the common case, every forward pass of a layer (bool is not int here)
        return (value, value)
    if type(value) is tuple and len(value) == 2 and type(value[0]) is int and type(value[1]) is int:
        return value
    items = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(items) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in items):
        raise TypeError(f"{name}: {what} must be an int or a pair of ints, got {value!r}")
    return tuple(int(v) for v in items)


def _reduction(name, reduction, size_average=None, reduce=None):
    if size_average is not None or reduce is not None:
        raise ValueError(f"{name}: size_average and reduce are deprecated in PyTorch; use reduction='mean'|'sum'|'none'")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _batched(name, x, spatial=2):
    """(x as a batch, whether to drop the batch axis again): unbatched (C, H, W) inputs get N = 1."""
    if x.ndim == spatial + 1:
        return x.reshape(1, *x.shape), True
    if x.ndim != spatial + 2:
        raise ShapeError(f"{name}: expected a 3-D (unbatched) or 4-D (batched) input, got shape {tuple(x.shape)}")
    return x, False


def _positive(name, what, values, minimum=1):
    if any(v < minimum for v in values):
        raise ValueError(f"{name}: {what} must be {'positive' if minimum else 'non-negative'}, got {values}")


# ---------------------------------------------------------------------------- convolution
def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:  # noqa: A002
    """2-D cross-correlation, input (N, C, H, W) or (C, H, W), weight (O, C/groups, kh, kw).

    ``padding`` is an int, a pair, 'valid' (0) or 'same' (stride 1; an odd total is split with the
    extra row and column at the end, as PyTorch does).
    """
    x, unbatched = _batched("conv2d", _t(input))
    stride, dilation = _pair("conv2d", stride, "stride"), _pair("conv2d", dilation, "dilation")
    _positive("conv2d", "stride", stride)
    _positive("conv2d", "dilation", dilation)
    if not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"conv2d: groups must be a positive integer, got {groups!r}")
    crop = None
    if isinstance(padding, str):
        if padding == "valid":
            padding = (0, 0)
        elif padding == "same":
            if stride != (1, 1):
                raise ValueError("conv2d: padding='same' is not supported for strided convolutions")
            totals = [d * (k - 1) for d, k in zip(dilation, weight.shape[2:])]
            padding = tuple((t + 1) // 2 for t in totals)
            crop = tuple(t % 2 for t in totals)  # an odd total: one row/column too many at the start
        else:
            raise ValueError(f"conv2d: invalid padding string {padding!r}, should be one of 'valid' or 'same'")
    padding = _pair("conv2d", padding, "padding")
    _positive("conv2d", "padding", padding, minimum=0)
    parents = (x, _lift(weight, x)) if bias is None else (x, _lift(weight, x), _lift(bias, x))
    out = apply(OPS["conv2d"], *parents, stride=stride, padding=padding, dilation=dilation, groups=int(groups),
                saved={})
    if crop and any(crop):
        out = out[:, :, crop[0]:, crop[1]:]
    return out[0] if unbatched else out


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,  # noqa: A002
                     dilation=1) -> Tensor:
    """Transposed convolution, weight (C_in, C_out/groups, kh, kw): the gradient of conv2d with respect to its input."""
    x, unbatched = _batched("conv_transpose2d", _t(input))
    stride, dilation = _pair("conv_transpose2d", stride, "stride"), _pair("conv_transpose2d", dilation, "dilation")
    padding = _pair("conv_transpose2d", padding, "padding")
    output_padding = _pair("conv_transpose2d", output_padding, "output_padding")
    _positive("conv_transpose2d", "stride", stride)
    _positive("conv_transpose2d", "dilation", dilation)
    _positive("conv_transpose2d", "padding", padding, minimum=0)
    parents = (x, _lift(weight, x)) if bias is None else (x, _lift(weight, x), _lift(bias, x))
    out = apply(OPS["conv_transpose2d"], *parents, stride=stride, padding=padding, output_padding=output_padding,
                dilation=dilation, groups=int(groups))
    return out[0] if unbatched else out


# ---------------------------------------------------------------------------- pooling
def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,  # noqa: A002
               return_indices=False):
    x, unbatched = _batched("max_pool2d", _t(input))
    kernel = _pair("max_pool2d", kernel_size, "kernel_size")
    stride = kernel if stride is None or stride == [] else _pair("max_pool2d", stride, "stride")
    padding, dilation = _pair("max_pool2d", padding, "padding"), _pair("max_pool2d", dilation, "dilation")
    _positive("max_pool2d", "kernel_size", kernel)
    _positive("max_pool2d", "stride", stride)
    _positive("max_pool2d", "dilation", dilation)
    attrs = dict(kernel_size=kernel, stride=stride, padding=padding, dilation=dilation, ceil_mode=bool(ceil_mode))
    out = apply(OPS["max_pool2d"], x, **attrs, saved={})
    if not return_indices:
        return out[0] if unbatched else out
    rows, cols, _ = OPS["max_pool2d"].indices(_np(x), attrs)
    flat = (rows - padding[0]) * x.shape[3] + (cols - padding[1])  # into each unpadded H·W plane, as PyTorch
    indices = _const(np.ascontiguousarray(flat.astype(np.int64)))
    return (out[0], indices[0]) if unbatched else (out, indices)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,  # noqa: A002
               divisor_override=None) -> Tensor:
    x, unbatched = _batched("avg_pool2d", _t(input))
    kernel = _pair("avg_pool2d", kernel_size, "kernel_size")
    stride = kernel if stride is None or stride == [] else _pair("avg_pool2d", stride, "stride")
    _positive("avg_pool2d", "kernel_size", kernel)
    _positive("avg_pool2d", "stride", stride)
    if divisor_override is not None and divisor_override == 0:
        raise ValueError("avg_pool2d: divisor must be not zero")
    out = apply(OPS["avg_pool2d"], x, kernel_size=kernel, stride=stride, padding=_pair("avg_pool2d", padding, "padding"),
                ceil_mode=bool(ceil_mode), count_include_pad=bool(count_include_pad), divisor_override=divisor_override)
    return out[0] if unbatched else out


def adaptive_avg_pool2d(input, output_size) -> Tensor:  # noqa: A002
    x, unbatched = _batched("adaptive_avg_pool2d", _t(input))
    size = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size, output_size)
    if len(size) != 2:
        raise ValueError(f"adaptive_avg_pool2d: output_size must be an int or a pair, got {output_size!r}")
    size = tuple(x.shape[2 + k] if s is None else int(s) for k, s in enumerate(size))
    _positive("adaptive_avg_pool2d", "output_size", size)
    out = apply(OPS["adaptive_avg_pool2d"], x, output_size=size)
    return out[0] if unbatched else out


# ---------------------------------------------------------------------------- normalisation, dropout, embedding
def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,  # noqa: A002
               eps=1e-5) -> Tensor:
    """Normalise each channel (axis 1) by the batch's statistics (training) or the running ones.

    In training the running statistics, when given, move towards the batch's:
    ``running = (1 − momentum)·running + momentum·batch`` with the unbiased batch variance.
    """
    x = _t(input)
    if x.ndim < 2:
        raise ShapeError(f"batch_norm: expected an input with a channel axis (N, C, …), got shape {tuple(x.shape)}")
    c = x.shape[1]
    dtype = x.dtype
    weight = _const(np.ones(c, dtype=dtype)) if weight is None else weight
    bias = _const(np.zeros(c, dtype=dtype)) if bias is None else bias
    for name, t in (("weight", weight), ("bias", bias), ("running_mean", running_mean), ("running_var", running_var)):
        if t is not None and tuple(t.shape) != (c,):
            raise ShapeError(f"batch_norm: {name} should have shape ({c},) for an input with {c} channels, got {tuple(t.shape)}")
    if training and not eps > 0:  # PyTorch's checks, word for word
        raise ValueError(f"batch_norm eps must be positive during training, but got {float(eps)}")
    if not eps >= 0:
        raise ValueError(f"batch_norm eps must be non-negative, but got {float(eps)}")
    if training:
        axes = (0,) + tuple(range(2, x.ndim))
        count = x.numel() // c
        if count <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got input size {list(x.shape)}")
        arr = _np(x)
        mean = arr.mean(axis=axes)
        var = arr.var(axis=axes)
        if running_mean is not None or running_var is not None:
            with no_grad():
                if running_mean is not None:
                    running_mean.mul_(1 - momentum).add_(momentum * mean.astype(running_mean.dtype))
                if running_var is not None:
                    running_var.mul_(1 - momentum).add_(momentum * (var * count / (count - 1)).astype(running_var.dtype))
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: running_mean and running_var must be given when training=False")
        mean, var = _np(running_mean), _np(running_var)
    return apply(OPS["batch_norm"], x, _lift(weight, x), _lift(bias, x), mean=mean, var=var, eps=float(eps),
                 batch_stats=bool(training))


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5) -> Tensor:  # noqa: A002
    x = _t(input)
    shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else tuple(normalized_shape)
    if tuple(x.shape[x.ndim - len(shape):]) != shape or len(shape) > x.ndim:
        raise ShapeError(
            f"layer_norm: given normalized_shape={list(shape)}, expected input with shape [*, "
            f"{', '.join(str(s) for s in shape)}], but got input of size {list(x.shape)}"
        )
    weight = _const(np.ones(shape, dtype=x.dtype)) if weight is None else weight
    bias = _const(np.zeros(shape, dtype=x.dtype)) if bias is None else bias
    return apply(OPS["layer_norm"], x, weight, bias, normalized_ndim=len(shape), eps=float(eps))


def dropout(input, p=0.5, training=True, inplace=False) -> Tensor:  # noqa: A002
    """Zero each element with probability ``p`` and scale the rest by 1/(1 − p) (training only).

    The mask is drawn from the generator that ``cr.manual_seed`` seeds.
    """
    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    x = _t(input)
    if not training or p == 0:
        return x
    mask = (generator().random(x.shape) >= p).astype(x.dtype)
    return apply(OPS["dropout"], x, mask=mask, p=float(p))


def embedding(input, weight, padding_idx=None, max_norm=None) -> Tensor:  # noqa: A002
    """Rows of ``weight`` picked by the integer indices in ``input`` (any shape): output (*input.shape, dim)."""
    if max_norm is not None:
        raise NotImplementedError("embedding: max_norm is not supported")
    index = _np(input)
    if not np.issubdtype(index.dtype, np.integer):
        raise TypeError(f"embedding: indices must be integers (Long), got dtype {index.dtype}")
    if padding_idx is not None:
        n = weight.shape[0]
        if not -n <= padding_idx < n:
            raise ValueError(f"embedding: padding_idx must be within num_embeddings ({n}), got {padding_idx}")
        padding_idx = padding_idx % n
    return apply(OPS["embedding"], weight, index=index.astype(np.int64), padding_idx=padding_idx)


# ---------------------------------------------------------------------------- activations
def gelu(input, approximate="none") -> Tensor:  # noqa: A002
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return apply(OPS["gelu"], _t(input), approximate=approximate)


def elu(input, alpha=1.0, inplace=False) -> Tensor:  # noqa: A002
    return apply(OPS["elu"], _t(input), alpha=float(alpha))


def silu(input, inplace=False) -> Tensor:  # noqa: A002
    return apply(OPS["silu"], _t(input))


# ---------------------------------------------------------------------------- losses
def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,  # noqa: A002
             reduction="mean") -> Tensor:
    """Negative log-likelihood of log-probabilities (N, C), (N, C, d…) or (C,) and class indices."""
    _reduction("nll_loss", reduction, size_average, reduce)
    x = _t(input)
    w = None if weight is None else _np(weight)
    classes = x.shape[0] if x.ndim == 1 else x.shape[1] if x.ndim else 0
    if w is not None and w.shape != (classes,):
        raise ShapeError(f"nll_loss: weight should have shape ({classes},) (one per class), got {w.shape}")
    return apply(OPS["nll_loss"], x, target=_np(target), weight=w, ignore_index=int(ignore_index), reduction=reduction)


def _class_weight(w, ndim):
    """Class weights shaped to broadcast along axis 1 of an ndim-dimensional input (axis 0 when 1-D)."""
    return w if ndim == 1 else w.reshape((1, -1) + (1,) * (ndim - 2))


def cross_entropy_general(x, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """PyTorch's cross-entropy in full: log-softmax over the class axis, then NLL (class indices) or
    −Σ target·log p (probabilities), with label smoothing mixed in as PyTorch mixes it."""
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    if x.ndim == 0:
        raise ShapeError("cross_entropy: input must have at least one dimension (the classes)")
    class_dim = 0 if x.ndim == 1 else 1
    classes = x.shape[class_dim]
    logp = x.log_softmax(class_dim)
    w = None if weight is None else _np(weight).astype(x.dtype)
    if w is not None and w.shape != (classes,):
        raise ShapeError(f"cross_entropy: weight should have shape ({classes},) (one per class), got {w.shape}")
    t = target if isinstance(target, Tensor) else None
    t_arr = _np(target)
    if t_arr.dtype.kind == "f":  # class probabilities, the input's shape
        if tuple(t_arr.shape) != tuple(x.shape):
            raise ShapeError(
                f"cross_entropy: labels must be integer class indices, got dtype {t_arr.dtype} (float targets are "
                f"class probabilities and need the input's shape {tuple(x.shape)}, got {t_arr.shape})"
            )
        probs = _lift(t, x) if t is not None else _const(t_arr.astype(x.dtype))
        if label_smoothing > 0:
            probs = probs * (1 - label_smoothing) + _share(label_smoothing, classes)
        terms = logp * probs
        if w is not None:
            terms = terms * _const(_class_weight(w, x.ndim))
        if reduction == "none":
            return -terms.sum(axis=class_dim)
        total = -terms.sum()
        positions = math.prod(n for i, n in enumerate(x.shape) if i != class_dim)
        return _mean_over(total, positions) if reduction == "mean" else total
    if t_arr.dtype.kind not in "iu":
        raise ShapeError(f"cross_entropy: labels must be integer class indices, got dtype {t_arr.dtype}")
    expected = () if x.ndim == 1 else (x.shape[0],) + tuple(x.shape[2:])
    if tuple(t_arr.shape) != expected:
        raise ShapeError(
            f"cross_entropy: expected logits (N, C, d…) with labels (N, d…), here labels of shape {expected}; "
            f"got logits {tuple(x.shape)} and labels {t_arr.shape}"
        )
    nll = nll_loss(logp, t_arr, weight=w, ignore_index=ignore_index, reduction=reduction)
    if label_smoothing == 0:
        return nll
    ignored = t_arr == ignore_index
    per = logp * _const(_class_weight(w, x.ndim)) if w is not None else logp
    smooth = -per.sum(axis=class_dim)
    # ignored positions are filled with 0 (not multiplied by 0: with every target ignored the mean below
    # divides by 0, and inf · 0 would put nan into the gradient where PyTorch's masked_fill puts 0)
    smooth = apply(OPS["where"], smooth, _const(np.zeros((), dtype=x.dtype)), cond=~ignored)
    if reduction == "mean":
        denom = w[t_arr[~ignored]].sum() if w is not None else (~ignored).sum()
        smooth = _mean_over(smooth.sum(), float(denom))
    elif reduction == "sum":
        smooth = smooth.sum()
    return nll * (1 - label_smoothing) + smooth * _share(label_smoothing, classes)


def _share(label_smoothing, classes):
    """Each class's share of the smoothing. With no classes there is none: nan, so the loss is nan as
    PyTorch's is (its label_smoothing / 0 is inf, and 0 · inf nan), without NumPy's warning for 0 · inf."""
    return label_smoothing / classes if classes else math.nan


def _mean_over(total, count):
    """``total / count``: over no terms nan, as PyTorch's, without NumPy's warning for 0 / 0."""
    return total / count if count else total * float("nan")


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean") -> Tensor:  # noqa: A002
    _reduction("l1_loss", reduction, size_average, reduce)
    x = _t(input)
    return apply(OPS["l1_loss"], x, _lift(target, x), reduction=reduction)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0) -> Tensor:  # noqa: A002
    _reduction("smooth_l1_loss", reduction, size_average, reduce)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    x = _t(input)
    return apply(OPS["smooth_l1_loss"], x, _lift(target, x), reduction=reduction, beta=float(beta))


def huber_loss(input, target, reduction="mean", delta=1.0) -> Tensor:  # noqa: A002
    _reduction("huber_loss", reduction)
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    x = _t(input)
    return apply(OPS["huber_loss"], x, _lift(target, x), reduction=reduction, delta=float(delta))


def bce_with_logits_weighted(x, target, weight=None, reduction="mean", pos_weight=None) -> Tensor:
    """Binary cross-entropy from logits with constant ``weight`` and ``pos_weight`` (broadcast as in PyTorch)."""
    x = _t(x)
    w = None if weight is None else _np(weight).astype(x.dtype)
    pw = None if pos_weight is None else _np(pos_weight).astype(x.dtype)
    return apply(OPS["binary_cross_entropy_with_logits_weighted"], x, _lift(target, x), weight=w, pos_weight=pw,
                 reduction=reduction)


def flatten(input, start_dim=0, end_dim=-1) -> Tensor:  # noqa: A002
    """Merge dims start_dim..end_dim into one (a reshape)."""
    x = _t(input)
    if x.ndim == 0:
        return x.reshape(1)
    start = check_dim("flatten", start_dim, x.ndim)
    end = check_dim("flatten", end_dim, x.ndim)
    if start > end:
        raise ShapeError(f"flatten() has invalid args: start_dim ({start_dim}) cannot come after end_dim ({end_dim})")
    shape = tuple(x.shape[:start]) + (-1 if x.numel() else int(np.prod(x.shape[start:end + 1])),) + tuple(x.shape[end + 1:])
    return x.reshape(shape)
