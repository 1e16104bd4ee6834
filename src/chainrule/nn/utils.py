"""``nn.utils``: gradient clipping and flattening parameters, with PyTorch's semantics."""

from __future__ import annotations

import math

import numpy as np

from ..tensor import Tensor, _const


def _with_grads(parameters) -> list:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False) -> Tensor:
    """Scale all gradients together so their joint ``norm_type``-norm is at most ``max_norm``.

    Returns the norm before clipping, as PyTorch does; gradients are changed in place.
    """
    params = _with_grads(parameters)
    norm_type = float(norm_type)
    if not params:
        return _const(np.asarray(0.0, dtype=np.float32))
    grads = [p.grad.array for p in params]
    if norm_type == math.inf:
        total = max(float(np.abs(g).max(initial=0.0)) for g in grads)
    else:
        total = float(sum(float((np.abs(g.astype(np.float64)) ** norm_type).sum()) for g in grads) ** (1.0 / norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so it cannot be "
            f"clipped. To disable this error and scale the gradients by the non-finite norm anyway, set "
            f"`error_if_nonfinite=False`"
        )
    coef = float(max_norm) / (total + 1e-6)
    if coef < 1:
        for g in grads:
            g *= g.dtype.type(coef)
    return _const(np.asarray(total, dtype=grads[0].dtype))


def clip_grad_value_(parameters, clip_value: float) -> None:
    """Clamp every gradient element into [−clip_value, clip_value], in place."""
    for p in _with_grads(parameters):
        np.clip(p.grad.array, -clip_value, clip_value, out=p.grad.array)


def parameters_to_vector(parameters) -> Tensor:
    from ..functional import cat

    return cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec: Tensor, parameters) -> None:
    start = 0
    for p in parameters:
        n = p.numel()
        p.array[...] = vec.array[start:start + n].reshape(p.shape)
        p._bump()
        start += n
