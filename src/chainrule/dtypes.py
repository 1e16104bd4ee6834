"""Default floating dtype (float32, like PyTorch) and the rules for turning data into arrays."""

from __future__ import annotations

import numpy as np

from .errors import DTypeError

float32 = np.float32
float64 = np.float64
int64 = np.int64

_default = np.dtype(np.float32)


def set_default_dtype(dtype) -> None:
    """Dtype for tensors made from Python floats and for new parameters (a NumPy float dtype)."""
    global _default
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise DTypeError(f"set_default_dtype: only floating dtypes can be the default, got {dtype}")
    _default = dtype


def get_default_dtype() -> np.dtype:
    return _default


def as_array(data, dtype=None) -> np.ndarray:
    """A fresh array from ``data``.

    NumPy arrays keep their dtype; Python floats become the default dtype; Python ints int64;
    an explicit ``dtype`` wins.
    """
    if dtype is not None:
        return np.array(data, dtype=dtype)
    if isinstance(data, (np.ndarray, np.generic)):
        return np.array(data)
    arr = np.array(data)
    if arr.dtype == np.float64:
        return arr.astype(_default, copy=False)
    if arr.dtype.kind == "i":
        return arr.astype(np.int64, copy=False)
    if arr.dtype.kind not in "fbuc":
        raise DTypeError(f"tensor(): cannot make a numeric tensor from data of dtype {arr.dtype}")
    return arr
