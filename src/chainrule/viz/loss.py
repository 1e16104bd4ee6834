"""``plot_loss``: per-epoch metrics as lines, on a log scale when they span decades."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
from matplotlib.ticker import MaxNLocator

from . import _base
from ._base import GRAD, INK, Drawing

DECADES = 2.0  # log scale once max/min reaches 10**DECADES
COLORS = [GRAD, "#1f4e99", "#1b7f3b", "#8e44ad", "#e67e22", "#555555"]


def _series(history) -> dict[str, np.ndarray]:
    if hasattr(history, "losses") and not isinstance(history, dict):
        history = history.losses  # a chainrule.network.Run
    if isinstance(history, dict):
        items = list(history.items())
    else:
        items = [("loss", history)]
    if not items:
        raise ValueError("plot_loss: the history is empty")
    out = {}
    for name, values in items:
        try:
            arr = np.asarray([float(v) for v in values], dtype=float)
        except (TypeError, ValueError):
            raise ValueError(f"plot_loss: {name!r} must be a list of numbers") from None
        if arr.size == 0:
            raise ValueError(f"plot_loss: {name!r} has no values")
        out[str(name)] = arr
    return out


def wants_log(series: dict[str, np.ndarray]) -> bool:
    """True when every value is positive and the largest is at least 10**DECADES times the smallest."""
    values = np.concatenate([v[np.isfinite(v)] for v in series.values()])
    if values.size < 2 or np.any(values <= 0):
        return False
    return math.log10(values.max() / values.min()) >= DECADES


# The series names training code uses (``chainrule train``'s history, ``{"train": ..., "val": ...}``),
# as the legend shows them; any other name is shown as given.
SERIES_NAMES = {
    "zh": {"train": "训练", "val": "验证", "loss": "损失", "train_loss": "训练损失", "val_loss": "验证损失",
           "accuracy": "准确率", "val_accuracy": "验证准确率"},
}


def plot_loss(history, ax=None, lang: str = "en", title: str | None = None, log: bool | None = None) -> Drawing:
    """Plot per-epoch metrics: a list of floats, a dict of lists (``{"train": [...], "val": [...]}``)
    or a ``Run``. Epochs are numbered from 1. ``log`` forces the y scale; by default it is
    logarithmic when the values span two decades or more."""
    t = _base.labels(lang)
    series = _series(history)
    use_log = wants_log(series) if log is None else bool(log)
    with matplotlib.rc_context(_base.rc(lang)):
        fig, ax, owned = _base.figure_and_axes(ax, 7.5, 4.2)
        for k, (name, values) in enumerate(series.items()):
            epochs = np.arange(1, values.size + 1)
            ax.plot(epochs, values, color=COLORS[k % len(COLORS)], lw=1.8,
                    label=SERIES_NAMES.get(lang, {}).get(name, name),
                    marker="o" if values.size <= 30 else None, ms=4, gid=f"series-{name}")
        if use_log:
            ax.set_yscale("log")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        ax.set_xlabel(t["epoch"], fontsize=11)
        ax.set_ylabel(t["loss"] if len(series) == 1 else "", fontsize=11)
        ax.grid(True, which="major", alpha=0.35)
        if use_log:
            ax.grid(True, which="minor", alpha=0.12)
        ax.spines[["top", "right"]].set_visible(False)
        ax.tick_params(labelsize=9.5)
        if len(series) > 1:
            ax.legend(frameon=False, fontsize=10)
        first = next(iter(series.values()))
        head = title if title is not None else f"{t['loss_curve']}: {_fmt(first[0])} → {_fmt(first[-1])}"
        ax.set_title(head, fontsize=12, color=INK, gid="title")
        if owned:
            fig.tight_layout()
    return Drawing(fig, "loss", lang, {"log": use_log, "series": list(series)})


def _fmt(v: float) -> str:
    from ..numbers import fmt

    return fmt(v, 4)
