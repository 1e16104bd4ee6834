"""The array namespace that vector-Jacobian products compute with.

An op's ``vjp`` writes its rule once, with operators and ``n.xp.<function>``. In an ordinary
backward ``n.xp`` is ``NUMPY`` (NumPy itself, plus the few helpers below) and the arguments are
arrays; under ``create_graph`` it is chainrule's own differentiable namespace
(``chainrule.graph_xp``) and the arguments are tensors, so the same line records itself and
the gradient can be differentiated again.
"""

from __future__ import annotations

import numpy as np


def scatter_add_along(out: np.ndarray, index: np.ndarray, src: np.ndarray, dim: int) -> np.ndarray:
    """``out[..., index[i, j], ...] += src[i, j]`` along ``dim`` (PyTorch's scatter_add_), in place."""
    src = src[tuple(slice(0, s) for s in index.shape)]
    full = list(np.indices(index.shape, sparse=True))
    full[dim] = index
    np.add.at(out, tuple(full), src)
    return out


def index_add(shape: tuple, index, g: np.ndarray) -> np.ndarray:
    """Zeros of ``shape`` with ``g`` added at ``index``: the adjoint of ``x[index]`` (repeats summed)."""
    out = np.zeros(shape, dtype=g.dtype)
    items = index if isinstance(index, tuple) else (index,)
    if any(isinstance(i, (np.ndarray, list)) for i in items):
        np.add.at(out, index, g)
    else:
        out[index] = g
    return out


class _Numpy:
    """NumPy's functions by name, plus ``scatter_add_along``."""

    scatter_add_along = staticmethod(scatter_add_along)
    index_add = staticmethod(index_add)
    values = staticmethod(np.asarray)  # the numbers of x, for masks and indices (not differentiated)

    @staticmethod
    def sum(x, axis=None, keepdims=False):
        """``np.sum`` of an array, as the ufunc reduction itself (np.sum adds ~1 µs of dispatch)."""
        return np.add.reduce(x, axis=axis, keepdims=keepdims)

    def __getattr__(self, name):
        value = getattr(np, name)
        setattr(self, name, value)  # found once, then a plain attribute
        return value


NUMPY = _Numpy()
