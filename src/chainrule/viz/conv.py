"""``draw_conv``: one step of a tiny convolution as a student sees it on paper: the input grid with
its numbers, the kernel, the output grid, the target; then ∂L/∂y, ∂L/∂k, ∂L/∂x and the kernel after
the step, each a grid of numbers.

The numbers are the derivation's (``chainrule.explain.conv.derive_conv``), which reads them from the
engine's recorded graph; this module only lays them out. The window of the first output pixel is
outlined in the input and its sum of products (the derivation's own written equation) stands below.
"""

from __future__ import annotations

import matplotlib
import numpy as np
from matplotlib.patches import FancyBboxPatch, Rectangle

from . import _base
from ._base import GRAD, INK, MUTED, UPDATE, VALUE, Drawing, pretty_symbol

CELL_DIGITS = 4  # significant digits in a cell
UNIT = 0.62  # inches per grid cell
WINDOW = "#e08e0b"  # the first output pixel's window: neither a value nor a gradient

LABELS = {
    "en": {
        "title": "One step of a convolution: {name}",
        "forward": "forward", "backward": "backward",
        "x": "input x", "k": "kernel k", "y": "output y = x ∗ k", "t": "target t",
        "dL_dy": "∂L/∂y = y − t", "dL_dk": "∂L/∂k", "dL_dx": "∂L/∂x", "k_after": "k after the step",
        "dL_dk_how": "x correlated with ∂L/∂y", "dL_dx_how": "∂L/∂y (zero-padded) ∗ k flipped",
        "k_after_how": "k − η·∂L/∂k, η = {lr}",
        "window": "window of y₁₁", "loss": "L = ½Σ(y − t)² = {loss}",
        "p": "pooled p", "pool_op": "max", "dL_dp": "∂L/∂p = p − t", "dL_dy_pooled": "∂L/∂y",
        "dL_dy_pooled_how": "∂L/∂p to each winner, 0 elsewhere", "winners": "□ winner of its window",
        "loss_pooled": "L = ½Σ(p − t)² = {loss}",
    },
    "zh": {
        "title": "卷积的一步：{name}",
        "forward": "前向传播", "backward": "反向传播",
        "x": "输入 x", "k": "卷积核 k", "y": "输出 y = x ∗ k", "t": "目标 t",
        "dL_dy": "∂L/∂y = y − t", "dL_dk": "∂L/∂k", "dL_dx": "∂L/∂x", "k_after": "更新后的卷积核 k",
        "dL_dk_how": "输入与 ∂L/∂y 的互相关", "dL_dx_how": "补零的 ∂L/∂y 与翻转的卷积核做卷积",
        "k_after_how": "k − η·∂L/∂k，η = {lr}",
        "window": "y₁₁ 的窗口", "loss": "损失 L = ½Σ(y − t)² = {loss}",
        "p": "池化输出 p", "pool_op": "最大池化", "dL_dp": "∂L/∂p = p − t", "dL_dy_pooled": "∂L/∂y",
        "dL_dy_pooled_how": "∂L/∂p 只传给胜出的格子，其余为 0", "winners": "□ 窗口中胜出的格子",
        "loss_pooled": "损失 L = ½Σ(p − t)² = {loss}",
    },
}


def draw_conv(spec_or_derivation, lang: str = "en") -> Drawing:
    """Draw one step of a layered spec made of one conv2d, optionally followed by a max pool (or of a
    ``ConvDerivation`` already made): with a pool, the winner of every window is outlined in y and in
    ∂L/∂y, where the gradient arrives."""
    from ..escape import figure_text
    from ..explain.conv import ConvDerivation, derive_conv
    from ..explain.symbols import num_text

    if lang not in LABELS:
        raise ValueError(f"draw_conv: lang must be one of {', '.join(LABELS)}, got {lang!r}")
    d = spec_or_derivation if isinstance(spec_or_derivation, ConvDerivation) else derive_conv(spec_or_derivation, lang=lang)
    g = {k: np.asarray(v, dtype=float) for k, v in d.grids.items()}
    pooled = "p" in g
    T = dict(LABELS[lang])
    if pooled:
        T.update(dL_dy=T["dL_dy_pooled"], dL_dy_how=T["dL_dy_pooled_how"], loss=T["loss_pooled"])
    winners = [tuple(int(ch) - 1 for ch in e["winner"][2:]) for e in d.entries if "winner" in e]

    def fmt(v):
        return num_text(v, CELL_DIGITS)

    gap = 1.3
    forward = [("x", VALUE, ""), ("k", VALUE, "∗"), ("y", VALUE, "="), *([("p", VALUE, T["pool_op"])] if pooled else []),
               ("t", MUTED, "")]
    backward = [*([("dL_dp", GRAD, "")] if pooled else []), ("dL_dy", GRAD, ""), ("dL_dk", GRAD, ""),
                ("dL_dx", GRAD, ""), ("k_after", UPDATE, "")]
    width = max(sum(g[k].shape[1] for k, _, _ in row) + gap * (len(row) - 1) for row in (forward, backward))
    top1 = 1.2  # row 1's grids start here (row label and title above)
    h1 = max(g[k].shape[0] for k, _, _ in forward)
    top2 = top1 + h1 + (4.4 if pooled else 3.6)  # captions of row 1 between the rows
    h2 = max(g[k].shape[0] for k, _, _ in backward)
    height = top2 + h2 + 1.4

    with matplotlib.rc_context(_base.rc(lang)):
        fig = _base.new_figure(width * UNIT + 0.6, height * UNIT + 0.4)
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(-0.3, width + 0.3)
        ax.set_ylim(height, -0.6)
        ax.set_aspect("equal")
        ax.axis("off")
        title = T["title"].format(name=figure_text(d.spec.name))
        ax.text(width / 2, -0.3, title, ha="center", va="center", fontsize=13, color=INK, **_weight(title),
                gid="title")

        origins = {}
        for row, top, label in ((forward, top1, T["forward"]), (backward, top2, T["backward"])):
            ax.text(0, top - 0.95, label, ha="left", va="center", fontsize=11.5, color=INK, **_weight(label),
                    gid=f"row-{'forward' if row is forward else 'backward'}")
            x0 = 0.0
            for key, color, op in row:
                a = g[key]
                if op:
                    ax.text(x0 - gap / 2, top + a.shape[0] / 2, op, ha="center", va="center",
                            fontsize=16 if len(op) == 1 else 9.5, color=INK, gid=f"op-{key}")
                _grid(ax, a, x0, top, color, key, fmt)
                ax.text(x0 + a.shape[1] / 2, top - 0.3, T[key], ha="center", va="bottom", fontsize=10.5,
                        color=color, gid=f"label-{key}")
                how = T.get(f"{key}_how")
                if how:
                    ax.text(x0 + a.shape[1] / 2, top + a.shape[0] + 0.25, how.format(lr=fmt(d.spec.lr)),
                            ha="center", va="top", fontsize=8.5, color=MUTED, gid=f"how-{key}")
                origins[key] = x0
                x0 += a.shape[1] + gap

        # the first output pixel: its window in x, its cell in y, and its written sum of products
        kh, kw = g["k"].shape
        for key, (h, w) in (("x", (kh, kw)), ("y", (1, 1))):
            ax.add_patch(Rectangle((origins[key] + 0.04, top1 + 0.04), w - 0.08, h - 0.08, fill=False, lw=2.4,
                                   edgecolor=WINDOW, zorder=5, gid=f"window-{key}"))
        ax.text(origins["x"] + 0.02, top1 + g["x"].shape[0] + 0.25, T["window"], ha="left", va="top", fontsize=8.5,
                color=WINDOW, gid="window-label")
        for key in ("y", "dL_dy") if winners else ():
            for n, (u, v) in enumerate(winners):
                ax.add_patch(Rectangle((origins[key] + v + 0.07, (top1 if key == "y" else top2) + u + 0.07), 0.86, 0.86,
                                       fill=False, lw=1.8, edgecolor=INK, zorder=5, gid=f"winner-{key}-{n + 1}"))
        if pooled:  # the pool's windows: thicker lines between them in y and in ∂L/∂y
            sh, sw = g["y"].shape[0] // g["p"].shape[0], g["y"].shape[1] // g["p"].shape[1]
            for key, top, color in (("y", top1, VALUE), ("dL_dy", top2, GRAD)):
                (rows, cols), x0 = g[key].shape, origins[key]
                for r in range(sh, rows, sh):
                    ax.plot([x0, x0 + cols], [top + r, top + r], color=color, lw=1.6, zorder=4, gid=f"pool-{key}-row-{r}")
                for c in range(sw, cols, sw):
                    ax.plot([x0 + c, x0 + c], [top, top + rows], color=color, lw=1.6, zorder=4, gid=f"pool-{key}-col-{c}")
        if winners:
            ax.text(origins["y"] + g["y"].shape[1] / 2, top1 + g["y"].shape[0] + 0.25, T["winners"], ha="center",
                    va="top", fontsize=8.5, color=INK, gid="winners-label")
        y11 = next(e for e in d.entries if e["key"] == "y_11")
        ax.text(0, top1 + h1 + 1.15, f"{pretty_symbol(y11['symbol'])} = {pretty_symbol(y11['expression'])}",
                ha="left", va="center", fontsize=10.5, color=INK, gid="sum-y11")
        lines = 1.95
        if pooled:
            p11 = next(e for e in d.entries if e["key"] == "p_11")
            ax.text(0, top1 + h1 + 1.95, f"{pretty_symbol(p11['symbol'])} = {pretty_symbol(p11['expression'])}",
                    ha="left", va="center", fontsize=10.5, color=INK, gid="max-p11")
            lines = 2.75
        ax.text(0, top1 + h1 + lines, T["loss"].format(loss=fmt(d.loss)), ha="left", va="center", fontsize=10.5,
                color=INK, gid="loss")
    return Drawing(fig, "conv", lang, {"spec": d.spec.name, "loss": d.loss})


def _weight(text: str) -> dict:
    """Bold in the Latin font for Latin text only: the CJK fallback font has no bold face."""
    return {"fontweight": "bold", "fontfamily": _base.LATIN_FONT} if text.isascii() else {}


def _grid(ax, a, x0, top, color, key, fmt) -> None:
    """A grid of numbers, cell (i, j) at column x0 + j, row top + i; the face tinted by |value|."""
    scale = float(np.max(np.abs(a))) or 1.0
    rgb = np.asarray(matplotlib.colors.to_rgb(color))
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            tint = 0.06 + 0.22 * abs(a[i, j]) / scale
            face = tuple(1 - tint * (1 - rgb))
            ax.add_patch(Rectangle((x0 + j, top + i), 1, 1, facecolor=face, edgecolor="#b8c0c8", lw=0.8, zorder=1))
            ax.text(x0 + j + 0.5, top + i + 0.5, fmt(a[i, j]), ha="center", va="center", fontsize=10.5,
                    color=color, zorder=3, gid=f"cell-{key}-{i + 1}-{j + 1}")
    ax.add_patch(FancyBboxPatch((x0, top), a.shape[1], a.shape[0], boxstyle="square,pad=0", fill=False,
                                edgecolor=color, lw=1.4, zorder=2, gid=f"grid-{key}"))
