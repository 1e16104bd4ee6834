"""Tensor constructors: zeros, ones, full, arange, eye, rand, randn and the *_like variants."""

from __future__ import annotations

import numpy as np

from .dtypes import get_default_dtype
from .random import generator
from .tensor import Tensor


def _shape(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        return tuple(size[0])
    return tuple(size)


def _make(arr, requires_grad) -> Tensor:
    return Tensor(arr, requires_grad=requires_grad)


def zeros(*size, dtype=None, requires_grad=False) -> Tensor:
    return _make(np.zeros(_shape(size), dtype=dtype or get_default_dtype()), requires_grad)


def ones(*size, dtype=None, requires_grad=False) -> Tensor:
    return _make(np.ones(_shape(size), dtype=dtype or get_default_dtype()), requires_grad)


def full(size, fill_value, dtype=None, requires_grad=False) -> Tensor:
    return _make(np.full(tuple(size), fill_value, dtype=dtype or get_default_dtype()), requires_grad)


def zeros_like(t, dtype=None, requires_grad=False) -> Tensor:
    return _make(np.zeros(t.shape, dtype=dtype or t.dtype), requires_grad)


def ones_like(t, dtype=None, requires_grad=False) -> Tensor:
    return _make(np.ones(t.shape, dtype=dtype or t.dtype), requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad=False) -> Tensor:
    if end is None:
        start, end = 0, start
    arr = np.arange(start, end, step)
    if dtype is None and arr.dtype.kind == "f":
        dtype = get_default_dtype()
    return _make(arr.astype(dtype) if dtype else arr, requires_grad)


def eye(n, m=None, dtype=None, requires_grad=False) -> Tensor:
    return _make(np.eye(n, m, dtype=dtype or get_default_dtype()), requires_grad)


def rand(*size, dtype=None, requires_grad=False) -> Tensor:
    return _make(generator().random(_shape(size)).astype(dtype or get_default_dtype()), requires_grad)


def randn(*size, dtype=None, requires_grad=False) -> Tensor:
    return _make(generator().standard_normal(_shape(size)).astype(dtype or get_default_dtype()), requires_grad)
