"""The differentiable namespace a vjp computes with under ``create_graph`` (see ``chainrule.xp``).

Each name mirrors the NumPy function a vjp calls through ``n.xp``, with the same arguments, but
takes and returns tensors and records what it does, so a gradient computed with it can itself
be differentiated (Hessian-vector products, gradient penalties, Newton steps).
"""

from __future__ import annotations

import numpy as np

from .ops import REGISTRY as OPS
from .tensor import Tensor, _const, _lift, apply, maximum, minimum  # noqa: F401  (xp.maximum, xp.minimum)


def _t(x) -> Tensor:
    return x if isinstance(x, Tensor) else _const(np.asarray(x))


def values(x) -> np.ndarray:
    """The numbers of ``x`` for masks, signs and indices: used as constants, never differentiated."""
    return x.array if isinstance(x, Tensor) else np.asarray(x)


def where(cond, x, y) -> Tensor:
    cond = values(cond).astype(bool)
    like = x if isinstance(x, Tensor) else y if isinstance(y, Tensor) else _t(x)
    x, y = _lift(x, like), _lift(y, like)
    if x.dtype != y.dtype:
        dtype = np.result_type(x.dtype, y.dtype)
        x, y = x.astype(dtype), y.astype(dtype)
    return apply(OPS["where"], x, y, cond=cond)


def exp(x):
    return _t(x).exp()


def log(x):
    return _t(x).log()


def log1p(x):
    return _t(x).log1p()


def sin(x):
    return _t(x).sin()


def cos(x):
    return _t(x).cos()


def tanh(x):
    return _t(x).tanh()


def sqrt(x):
    return _t(x).sqrt()


def abs(x):  # noqa: A001
    return _t(x).abs()


def sign(x):
    return _const(np.sign(values(x)))


def expand_dims(x, axis):
    x = _t(x)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return x.reshape(np.expand_dims(np.empty(x.shape, dtype=bool), axes).shape)


def broadcast_to(x, shape):
    return _t(x).expand(tuple(shape))


def transpose(x, axes=None):
    x = _t(x)
    return x.permute(*(axes if axes is not None else reversed(range(x.ndim))))


def swapaxes(x, a, b):
    return _t(x).transpose(a, b)


def moveaxis(x, source, destination):
    x = _t(x)
    order = [i for i in range(x.ndim) if i != source % x.ndim]
    order.insert(destination % x.ndim, source % x.ndim)
    return x.permute(*order)


def split(x, indices, axis=0):
    x = _t(x)
    bounds = [0, *[int(i) for i in indices], x.shape[axis]]
    lead = (slice(None),) * (axis % x.ndim)
    return [x[lead + (slice(lo, hi),)] for lo, hi in zip(bounds[:-1], bounds[1:])]


def matmul(x, y):
    return _t(x) @ _t(y)


def take_along_axis(x, index, axis):
    return _t(x).gather(axis, index)


def scatter_add_along(out, index, src, dim):
    return _t(out).scatter_add(dim, index, src)


def index_add(shape, index, g):
    """The adjoint of ``x[index]`` as a recorded op: zeros with ``g`` written at ``index``."""
    g = _t(g)
    items = index if isinstance(index, tuple) else (index,)
    if any(isinstance(i, np.ndarray) and i.dtype != bool for i in items):
        size = int(np.prod(shape, dtype=np.int64))
        positions = np.arange(size).reshape(shape)[index]
        if len(np.unique(positions)) != positions.size:  # repeated positions must be summed
            gathered = g.reshape(-1)
            out = _const(np.zeros(size, dtype=g.dtype))
            return out.scatter_add(0, positions.reshape(-1), gathered).reshape(shape)
    return apply(OPS["setitem"], _const(np.zeros(shape, dtype=g.dtype)), g, index=index)


def zeros(shape, dtype=None):
    return _const(np.zeros(shape, dtype=dtype))


def sum(x, axis=None, keepdims=False):  # noqa: A001
    return _t(x).sum(axis=axis, keepdims=keepdims)


errstate = np.errstate


class GraphNode:
    """What an op's vjp sees under ``create_graph``: the recorded node, with tensors for values."""

    __slots__ = ("node", "op", "attrs", "needs", "_out")
    xp = None  # set below to this module

    def __init__(self, node):
        self.node, self.op, self.attrs, self.needs = node, node.op, node.attrs, node.needs
        self._out = None

    @property
    def out(self) -> Tensor:
        """The op's output as a differentiable tensor: the op applied again to its recorded inputs."""
        if self._out is None:
            self._out = apply(self.op, *self.node.parents, **self.attrs)
        return self._out


GraphNode.xp = __import__("sys").modules[__name__]
