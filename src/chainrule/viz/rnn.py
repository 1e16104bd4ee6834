"""``draw_rnn``: one training step of a recurrent network unrolled over time, as a student draws it:
a column per step with the input x_t, the hidden state h_t and the output ŷ_t, the same weights
W_ih, W_hh and V labelled on every arrow, each node's value and the gradient that reaches it; below,
∂L/∂W_hh as the sum of one term per step, and the weights after the step.

The numbers are the derivation's (``chainrule.explain.rnn.derive_rnn``), which reads them from the
engine's recorded graph; this module only lays them out.
"""

from __future__ import annotations

import matplotlib
import numpy as np
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle

from . import _base
from ._base import GRAD, INK, MUTED, UPDATE, VALUE, Drawing
from .conv import _weight

DIGITS = 4  # significant digits on the figure
COLUMN = 5.4  # width of one time step's column (data units)
BOX = 4.2
CELL = (2.0, 1.0)  # a grid cell's width and height
UNIT = 0.5  # inches per data unit

LABELS = {
    "en": {
        "title": "Backpropagation through time: {name}, unrolled over T = {T} steps",
        "step": "t = {t}", "start": "start",
        "shared": "the same weights at every step: W_ih = {W_ih}, W_hh = {W_hh}, V = {V}",
        "target": "target y", "loss": "L = ½Σ(ŷ − y)² = {loss}",
        "terms": "∂L/∂W_hh is summed over time: one term ∂L/∂a_t · h_(t−1)ᵀ per step",
        "term": "t = {t}: ∂L/∂a{t_} · h{s_}ᵀ", "sum": "∂L/∂W_hh", "after": "W_hh after the step",
        "after_how": "W_hh − η·∂L/∂W_hh, η = {lr}",
        "others": "∂L/∂W_ih = Σ_t ∂L/∂a_t · x_tᵀ = {W_ih}        ∂L/∂V = Σ_t ∂L/∂ŷ_t · h_tᵀ = {V}",
        "legend": "green: values (forward)   red: gradients (backward)   blue: after the update",
    },
    "zh": {
        "title": "随时间反向传播：{name}，展开为 T = {T} 个时间步",
        "step": "t = {t}", "start": "初始",
        "shared": "每个时间步使用同一组权重：W_ih = {W_ih}，W_hh = {W_hh}，V = {V}",
        "target": "目标 y", "loss": "损失 L = ½Σ(ŷ − y)² = {loss}",
        "terms": "∂L/∂W_hh 对时间求和：每个时间步一项 ∂L/∂a_t · h_(t−1)ᵀ",
        "term": "t = {t}：∂L/∂a{t_} · h{s_}ᵀ", "sum": "∂L/∂W_hh", "after": "更新后的 W_hh",
        "after_how": "W_hh − η·∂L/∂W_hh，η = {lr}",
        "others": "∂L/∂W_ih = Σ_t ∂L/∂a_t · x_tᵀ = {W_ih}        ∂L/∂V = Σ_t ∂L/∂ŷ_t · h_tᵀ = {V}",
        "legend": "绿色：前向的值   红色：反向的梯度   蓝色：更新后的值",
    },
}


def draw_rnn(spec_or_derivation, lang: str = "en") -> Drawing:
    """Draw one step of a layered spec made of an rnn block and a linear readout (or of an
    ``RNNDerivation`` already made)."""
    from ..escape import figure_text
    from ..explain.rnn import RNNDerivation, derive_rnn
    from ..explain.symbols import num_text

    if lang not in LABELS:
        raise ValueError(f"draw_rnn: lang must be one of {', '.join(LABELS)}, got {lang!r}")
    d = spec_or_derivation if isinstance(spec_or_derivation, RNNDerivation) else derive_rnn(spec_or_derivation, lang=lang)
    g = {k: np.asarray(v, dtype=float) for k, v in d.grids.items()}
    T_ = LABELS[lang]
    T, H = g["h"].shape
    steps = [T] if d.spec.blocks[0].get("last", False) else list(range(1, T + 1))

    def fmt(v):
        return num_text(v, DIGITS)

    def vec(a):
        a = np.asarray(a).ravel()
        return fmt(a[0]) if a.size == 1 else "(" + ", ".join(fmt(v) for v in a) + ")"

    def mat(a):
        a = np.asarray(a)
        return "[" + "; ".join(", ".join(fmt(v) for v in r) for r in a) + "]"

    width = max(COLUMN * (T + 1), 0.6 + (T + 2) * (H * CELL[0] + 1.3) + 0.5)
    y_top, h_top, x_top = 2.3, 6.0, 9.8  # tops of the ŷ, h and x rows
    y_h, h_h, x_h = 2.1, 2.1, 1.0
    terms_top = x_top + x_h + 2.2
    grid_h = H * CELL[1]
    height = terms_top + grid_h + 3.2

    with matplotlib.rc_context(_base.rc(lang)):
        fig = _base.new_figure(width * UNIT, height * UNIT)
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(0, width)
        ax.set_ylim(height, 0)
        ax.axis("off")
        title = T_["title"].format(name=figure_text(d.spec.name), T=T)
        ax.text(width / 2, 0.55, title, ha="center", va="center", fontsize=13, color=INK, **_weight(title), gid="title")
        ax.text(width / 2, 1.25, T_["shared"].format(W_ih=mat(g["W_ih"]), W_hh=mat(g["W_hh"]), V=mat(g["V"])),
                ha="center", va="center", fontsize=9.5, color=VALUE, gid="shared")

        def box(cx, top, h, lines, gid, edge=INK):
            ax.add_patch(FancyBboxPatch((cx - BOX / 2, top), BOX, h, boxstyle="round,pad=0.02,rounding_size=0.25",
                                        facecolor="#f7f9fb", edgecolor=edge, lw=1.3, zorder=2, gid=f"box-{gid}"))
            for n, (text, color) in enumerate(lines):
                ax.text(cx, top + (n + 0.5) * h / len(lines), text, ha="center", va="center", fontsize=9.5,
                        color=color, zorder=3, gid=f"{gid}-{n + 1}")

        def arrow(p, q, label, gid, side="right"):
            ax.add_patch(FancyArrowPatch(p, q, arrowstyle="-|>", mutation_scale=13, lw=1.3, color=MUTED, zorder=1,
                                         shrinkA=0, shrinkB=0, gid=f"arrow-{gid}"))
            mx, my = (p[0] + q[0]) / 2, (p[1] + q[1]) / 2
            if side == "above":
                ax.text(mx, my - 0.3, label, ha="center", va="bottom", fontsize=9, color=INK, gid=f"label-{gid}")
            else:
                ax.text(mx + 0.15, my, label, ha="left", va="center", fontsize=9, color=INK, gid=f"label-{gid}")

        shift = (width - COLUMN * (T + 1)) / 2  # the unrolled network centred above the sums

        def cx(t):
            return shift + COLUMN * (t + 0.5)

        # h_0, then one column per step
        ax.text(cx(0), h_top - 0.35, T_["start"], ha="center", va="bottom", fontsize=10, color=MUTED, gid="step-0")
        box(cx(0), h_top, h_h, [(f"h₀ = {vec(g['h0'])}", VALUE)], "h0")
        for t in range(1, T + 1):
            c = cx(t)
            ax.text(c, y_top - 0.35 if t in steps else h_top - 0.35, T_["step"].format(t=t), ha="center", va="bottom",
                    fontsize=10.5, color=INK, **_weight("t"), gid=f"step-{t}")
            box(c, h_top, h_h, [(f"h{_sub(t)} = {vec(g['h'][t - 1])}", VALUE),
                                (f"∂L/∂h{_sub(t)} = {vec(g['dL_dh'][t - 1])}", GRAD),
                                (f"∂L/∂a{_sub(t)} = {vec(g['dL_da'][t - 1])}", GRAD)], f"h{t}")
            box(c, x_top, x_h, [(f"x{_sub(t)} = {vec(g['x'][t - 1])}", VALUE)], f"x{t}")
            arrow((c, x_top), (c, h_top + h_h), "W_ih", f"x{t}")
            arrow((cx(t - 1) + BOX / 2, h_top + h_h / 2), (c - BOX / 2, h_top + h_h / 2), "W_hh", f"h{t - 1}-h{t}",
                  side="above")
            if t in steps:
                r = steps.index(t)
                box(c, y_top, y_h, [(f"ŷ{_sub(t)} = {vec(g['yhat'][r])}", VALUE),
                                    (f"{T_['target']}{_sub(t)} = {vec(g['y'][r])}", MUTED),
                                    (f"∂L/∂ŷ{_sub(t)} = {vec(g['dL_dyhat'][r])}", GRAD)], f"yhat{t}")
                arrow((c, h_top), (c, y_top + y_h), "V", f"h{t}-yhat{t}")
        ax.text(max(cx(0), 2.6), y_top + y_h / 2, T_["loss"].format(loss=fmt(d.loss)), ha="center", va="center", fontsize=10,
                color=INK, gid="loss")

        # ∂L/∂W_hh: the sum over time of one term per step, then the weights after the step
        ax.text(0.4, terms_top - 1.2, T_["terms"], ha="left", va="center", fontsize=10.5, color=GRAD, gid="terms")
        x0, gap = 0.6, 1.15
        for t in range(1, T + 1):
            a = g["dL_dW_hh_terms"][t - 1]
            _cells(ax, a, x0, terms_top, GRAD, f"term{t}", fmt)
            ax.text(x0 + H * CELL[0] / 2, terms_top - 0.25, T_["term"].format(t=t, t_=_sub(t), s_=_sub(t - 1)), ha="center", va="bottom",
                    fontsize=9.5, color=INK, gid=f"label-term{t}")
            x0 += H * CELL[0] + gap
            ax.text(x0 - gap / 2, terms_top + grid_h / 2, "+" if t < T else "=", ha="center", va="center",
                    fontsize=15, color=INK, gid=f"op-term{t}")
        _cells(ax, g["dL_dW_hh"], x0, terms_top, GRAD, "dL_dW_hh", fmt)
        ax.text(x0 + H * CELL[0] / 2, terms_top - 0.25, T_["sum"], ha="center", va="bottom", fontsize=9.5, color=GRAD,
                gid="label-sum")
        x0 += H * CELL[0] + 1.6
        _cells(ax, g["W_hh_after"], x0, terms_top, UPDATE, "W_hh_after", fmt)
        ax.text(x0 + H * CELL[0] / 2, terms_top - 0.25, T_["after"], ha="center", va="bottom", fontsize=9.5, color=UPDATE,
                gid="label-after")
        ax.text(x0 + H * CELL[0] / 2, terms_top + grid_h + 0.2, T_["after_how"].format(lr=fmt(d.spec.lr)), ha="center", va="top",
                fontsize=8.5, color=MUTED, gid="how-after")
        ax.text(0.4, terms_top + grid_h + 1.3, T_["others"].format(W_ih=mat(g["dL_dW_ih"]), V=mat(g["dL_dV"])),
                ha="left", va="center", fontsize=9.5, color=GRAD, gid="others")
        ax.text(0.4, terms_top + grid_h + 2.3, T_["legend"], ha="left", va="center", fontsize=8.5, color=MUTED,
                gid="legend")
    return Drawing(fig, "rnn", lang, {"spec": d.spec.name, "loss": d.loss})


def _cells(ax, a, x0, top, color, key, fmt) -> None:
    """A matrix of numbers, cell (i, j) at x0 + j·CELL[0], top + i·CELL[1]; the face tinted by |value|."""
    scale = float(np.max(np.abs(a))) or 1.0
    rgb = np.asarray(matplotlib.colors.to_rgb(color))
    w, h = CELL
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            face = tuple(1 - (0.06 + 0.22 * abs(a[i, j]) / scale) * (1 - rgb))
            ax.add_patch(Rectangle((x0 + j * w, top + i * h), w, h, facecolor=face, edgecolor="#b8c0c8", lw=0.8, zorder=1))
            ax.text(x0 + (j + 0.5) * w, top + (i + 0.5) * h, fmt(a[i, j]), ha="center", va="center", fontsize=9.5,
                    color=color, zorder=3, gid=f"cell-{key}-{i + 1}-{j + 1}")
    ax.add_patch(Rectangle((x0, top), a.shape[1] * w, a.shape[0] * h, fill=False, edgecolor=color, lw=1.4, zorder=2,
                           gid=f"grid-{key}"))


def _sub(n: int) -> str:
    return str(n).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))
