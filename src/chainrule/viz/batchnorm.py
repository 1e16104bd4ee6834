"""``draw_batchnorm``: one step of batch norm as a student lays it out on paper: a table with one column
per sample (x, x̂, y, t, ∂L/∂y, the three terms of ∂L/∂x and their sum), the batch statistics written out,
and a bar chart of the three terms of each ∂L/∂x_i with their sum marked.

The numbers are the derivation's (``chainrule.explain.batchnorm.derive_batchnorm``), which reads them
from the engine's recorded graphs; this module only lays them out.
"""

from __future__ import annotations

import matplotlib
import numpy as np
from matplotlib.patches import Rectangle

from . import _base
from ._base import GRAD, INK, MUTED, VALUE, Drawing, pretty_symbol
from .conv import _weight

CELL_DIGITS = 4  # significant digits in a cell
UNIT = 0.62  # inches per table unit
CW = 1.55  # a cell's width in table units (a cell holds −0.03373)
TERM_COLORS = {"dL_dx_direct": "#c62828", "dL_dx_mean": "#e08e0b", "dL_dx_var": "#6a3d9a"}

LABELS = {
    "en": {
        "title": "One step of batch norm: {name}",
        "x": "x", "xhat": "x̂ = (x − μ)/σ", "y": "y = γx̂ + β", "t": "target t", "dL_dy": "∂L/∂y = y − t",
        "dL_dx_direct": "direct: ∂L/∂x̂/σ", "dL_dx_mean": "through μ: ∂L/∂μ/N",
        "dL_dx_var": "through σ²: ∂L/∂σ²·2(x − μ)/N", "dL_dx": "∂L/∂x (the sum)",
        "sample": "sample", "bars": "The three terms of ∂L/∂xᵢ and their sum (◆)",
        "stats": "μ = {mu}   σ² = {var} (biased)   σ = √(σ² + ε) = √({var} + {eps}) = {sigma}",
        "params": "γ = {gamma}, β = {beta}   ∂L/∂γ = {gg}, ∂L/∂β = {gb}   L = {loss}",
    },
    "zh": {
        "title": "批归一化的一步：{name}",
        "x": "输入 x", "xhat": "x̂ = (x − μ)/σ", "y": "输出 y = γx̂ + β", "t": "目标 t", "dL_dy": "∂L/∂y = y − t",
        "dL_dx_direct": "直接项 ∂L/∂x̂/σ", "dL_dx_mean": "经 μ 的项 ∂L/∂μ/N",
        "dL_dx_var": "经 σ² 的项 ∂L/∂σ²·2(x − μ)/N", "dL_dx": "∂L/∂x（三项之和）",
        "sample": "样本", "bars": "∂L/∂xᵢ 的三项及其和（◆）",
        "stats": "μ = {mu}   σ² = {var}（有偏）   σ = √(σ² + ε) = √({var} + {eps}) = {sigma}",
        "params": "γ = {gamma}，β = {beta}   ∂L/∂γ = {gg}，∂L/∂β = {gb}   损失 L = {loss}",
    },
}
ROWS = (("x", VALUE), ("xhat", VALUE), ("y", VALUE), ("t", MUTED), ("dL_dy", GRAD), ("dL_dx_direct", GRAD),
        ("dL_dx_mean", GRAD), ("dL_dx_var", GRAD), ("dL_dx", GRAD))


def draw_batchnorm(spec_or_derivation, lang: str = "en") -> Drawing:
    """Draw one batch-norm step of a layered spec made of one batchnorm block (or of a
    ``BatchNormDerivation`` already made)."""
    from ..escape import figure_text
    from ..explain.batchnorm import BatchNormDerivation, derive_batchnorm
    from ..explain.symbols import num_text

    if lang not in LABELS:
        raise ValueError(f"draw_batchnorm: lang must be one of {', '.join(LABELS)}, got {lang!r}")
    d = spec_or_derivation if isinstance(spec_or_derivation, BatchNormDerivation) else \
        derive_batchnorm(spec_or_derivation, lang=lang)
    g = {k: np.asarray(v, dtype=float).ravel() for k, v in d.grids.items()}
    T = LABELS[lang]
    n = len(g["x"])
    b = d.spec.blocks[0]

    def fmt(v):
        return num_text(v, CELL_DIGITS)

    label_w = 6.2  # table units for the row labels
    table_w = label_w + n * CW
    bars_w = max(6.0, 1.6 * n)
    width = table_w + 1.2 + bars_w
    top = 1.4
    height = top + len(ROWS) + 2.4

    with matplotlib.rc_context(_base.rc(lang)):
        fig = _base.new_figure(width * UNIT + 0.6, height * UNIT + 0.4)
        ax = fig.add_axes((0, 0, table_w / width, 1))
        ax.set_xlim(-0.3, table_w + 0.1)
        ax.set_ylim(height, -0.6)
        ax.axis("off")
        title = T["title"].format(name=figure_text(d.spec.name))
        ax.text(-0.2, -0.3, title, ha="left", va="center", fontsize=13, color=INK, **_weight(title), gid="title")
        for j in range(n):
            ax.text(label_w + (j + 0.5) * CW, top - 0.3, f"{T['sample']} {j + 1}" if lang == "en" else f"{T['sample']}{j + 1}",
                    ha="center", va="bottom", fontsize=9, color=MUTED, gid=f"column-{j + 1}")
        for r, (key, color) in enumerate(ROWS):
            _row(ax, g[key], label_w, top + r, TERM_COLORS.get(key, color), key, fmt)
            ax.text(label_w - 0.15, top + r + 0.5, T[key], ha="right", va="center", fontsize=9.5,
                    color=TERM_COLORS.get(key, color), gid=f"label-{key}")
        below = top + len(ROWS)
        stats = T["stats"].format(mu=fmt(g["mu"][0]), var=fmt(g["var"][0]), eps=fmt(b.get("eps", 1e-5)),
                                  sigma=fmt(g["sigma"][0]))
        ax.text(-0.2, below + 0.8, stats, ha="left", va="center", fontsize=10, color=INK, gid="stats")
        params = T["params"].format(gamma=fmt(g["gamma"][0]), beta=fmt(g["beta"][0]), gg=fmt(g["dL_dgamma"][0]),
                                    gb=fmt(g["dL_dbeta"][0]), loss=fmt(d.loss))
        ax.text(-0.2, below + 1.6, params, ha="left", va="center", fontsize=10, color=INK, gid="params")

        bx = fig.add_axes(((table_w + 1.2) / width, (2.4 + 0.6) / (height + 0.6), bars_w / width * 0.95,
                           len(ROWS) / (height + 0.6)))
        keys = ("dL_dx_direct", "dL_dx_mean", "dL_dx_var")
        step = 0.26
        for k, key in enumerate(keys):
            xs = np.arange(n) + (k - 1) * step
            bars = bx.bar(xs, g[key], width=step * 0.95, color=TERM_COLORS[key], label=pretty_symbol(T[key]))
            for j, bar in enumerate(bars):
                bar.set_gid(f"bar-{key}-{j + 1}")
        bx.scatter(np.arange(n), g["dL_dx"], marker="D", s=36, color=INK, zorder=5, label=T["dL_dx"], gid="sum-marks")
        bx.axhline(0, color=MUTED, lw=0.8)
        bx.set_xticks(np.arange(n), [f"x{_base.sub(j + 1)}" for j in range(n)])
        bx.set_title(T["bars"], fontsize=10, color=INK)
        bx.tick_params(labelsize=8.5)
        bx.legend(fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=2, frameon=False)
        for side in ("top", "right"):
            bx.spines[side].set_visible(False)
    return Drawing(fig, "batchnorm", lang, {"spec": d.spec.name, "loss": d.loss})


def _row(ax, a, x0, top, color, key, fmt) -> None:
    """One table row of numbers, cell j at x0 + j·CW; the face tinted by |value| (as ``viz.conv``'s grids)."""
    scale = float(np.max(np.abs(a))) or 1.0
    rgb = np.asarray(matplotlib.colors.to_rgb(color))
    for j, v in enumerate(a):
        tint = 0.06 + 0.22 * abs(v) / scale
        ax.add_patch(Rectangle((x0 + j * CW, top), CW, 1, facecolor=tuple(1 - tint * (1 - rgb)), edgecolor="#b8c0c8",
                               lw=0.8, zorder=1))
        ax.text(x0 + (j + 0.5) * CW, top + 0.5, fmt(v), ha="center", va="center", fontsize=10.5, color=color,
                zorder=3, gid=f"cell-{key}-{j + 1}")
    ax.add_patch(Rectangle((x0, top), CW * len(a), 1, fill=False, edgecolor=color, lw=1.4, zorder=2, gid=f"row-{key}"))
