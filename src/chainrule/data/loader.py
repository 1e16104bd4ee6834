"""Splitting, standardising and batching arrays for training loops."""

from __future__ import annotations

import numpy as np


def train_val_split(x, y, val_fraction: float = 0.2, seed: int = 0, stratify: bool = False):
    """Shuffle once with ``seed`` and hold out ``val_fraction`` of the rows (per class when ``stratify``)."""
    if not 0 <= val_fraction < 1:
        raise ValueError(f"train_val_split: val_fraction must be in [0, 1), got {val_fraction}")
    rng = np.random.default_rng(seed)
    n = len(x)
    if stratify:
        val = []
        for label in np.unique(y):
            idx = rng.permutation(np.flatnonzero(y == label))
            val.extend(idx[: int(round(len(idx) * val_fraction))])
        val = np.array(sorted(val), dtype=np.int64)
        train = np.setdiff1d(np.arange(n), val)
        train = rng.permutation(train)
    else:
        order = rng.permutation(n)
        cut = int(round(n * val_fraction))
        val, train = np.sort(order[:cut]), order[cut:]
    return (x[train], y[train]), (x[val], y[val])


def standardize(x, mean=None, std=None):
    """(x − mean) / std per column; the statistics are computed from ``x`` unless given.

    Computed on the column divided by its largest magnitude, so that a column of ±1e300 keeps its
    standard deviation (squaring it directly overflows, and the column would silently become 0).
    """
    x = np.asarray(x, dtype=np.float64)
    if mean is None or std is None:
        scale = np.abs(x).max(axis=0) if len(x) else np.ones(x.shape[1:])
        scale = np.where((scale == 0) | ~np.isfinite(scale), 1.0, scale)
        scaled = x / scale
        mean = scaled.mean(axis=0) * scale if mean is None else mean
        std = scaled.std(axis=0) * scale if std is None else std
    std = np.where(std == 0, 1.0, std)
    return x / std - mean / std, mean, std


def batches(n: int, batch_size: int, shuffle: bool = True, rng=None):
    """Index arrays covering ``range(n)`` in chunks of ``batch_size`` (the last one may be smaller)."""
    if batch_size < 1:
        raise ValueError(f"batches: batch_size must be at least 1, got {batch_size}")
    order = (rng or np.random.default_rng()).permutation(n) if shuffle else np.arange(n)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]
