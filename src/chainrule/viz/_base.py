"""What every drawing shares: the Agg canvas, fonts (with a bundled CJK font), colours, labels and
the ``Drawing`` wrapper that notebooks display and ``save`` writes atomically.

Nothing here touches ``matplotlib.pyplot``: figures are plain ``matplotlib.figure.Figure`` objects
on an explicit Agg canvas, so no display, no global figure registry and no backend switching.
"""

from __future__ import annotations

import base64
import html
import io
import os
import re
import warnings

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

# CS231n's convention: forward values green, gradients red; updated values blue. Every label also
# says what it is in words or symbols, so a black-and-white print still reads.
VALUE = "#1b7f3b"
GRAD = "#c62828"
UPDATE = "#1f4e99"
INK = "#222222"
MUTED = "#666666"
EDGE = "#9aa5b1"
NEURON_FACE = "#f7f9fb"

LATIN_FONT = "DejaVu Sans"
CJK_FONT = "Noto Sans CJK SC"
FORMATS = ("png", "svg", "pdf")

_cjk_state: dict = {}


def register_cjk_font() -> bool:
    """Make the bundled Noto Sans CJK font known to matplotlib (once); False if it is not installed."""
    if "ok" in _cjk_state:
        return _cjk_state["ok"]
    from matplotlib import font_manager

    ok = False
    try:
        import noto_cjk_sans_otc

        path = str(noto_cjk_sans_otc.FONT_PATH)
        if not any(f.fname == path for f in font_manager.fontManager.ttflist):
            font_manager.fontManager.addfont(path)
        ok = any(f.name == CJK_FONT for f in font_manager.fontManager.ttflist)
    except (ImportError, OSError, RuntimeError):
        ok = False
    if not ok and any(f.name == CJK_FONT for f in font_manager.fontManager.ttflist):
        ok = True  # a system-wide install works too
    _cjk_state["ok"] = ok
    return ok


def font_family(lang: str = "en") -> list[str]:
    """Latin first (it has ∂, ′ and sub/superscripts); CJK as the per-glyph fallback for Chinese text."""
    family = [LATIN_FONT]
    if register_cjk_font():
        family.append(CJK_FONT)
    elif lang == "zh":
        warnings.warn(
            "the CJK font package 'noto-cjk-sans-otc' is not installed; Chinese labels may show as boxes "
            "(pip install noto-cjk-sans-otc)",
            stacklevel=3,
        )
    return family


def rc(lang: str = "en") -> dict:
    """rcParams used while building and saving a figure."""
    return {
        "font.family": font_family(lang),
        "font.size": 10,
        "svg.fonttype": "none",  # SVG keeps text as text: searchable, selectable, translatable
        "pdf.fonttype": 42,  # embed TrueType, not Type 3 bitmaps-of-outlines
        "axes.unicode_minus": True,
        "svg.hashsalt": "chainrule",  # stable ids across runs
    }


def new_figure(width: float, height: float, dpi: int = 100) -> Figure:
    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def figure_and_axes(ax, width: float, height: float):
    """``(figure, axes, owned)``: a fresh figure when ``ax`` is None, else the axes' own figure."""
    if ax is not None:
        return ax.figure, ax, False
    fig = new_figure(width, height)
    return fig, fig.add_subplot(1, 1, 1), True


LABELS = {
    "en": {
        "input": "input", "hidden": "hidden", "output": "output", "layer": "layer",
        "loss": "loss", "target": "target", "grad": "∂L/∂w", "new": "new",
        "step": "step", "sample": "sample", "of": "of", "epoch": "epoch",
        "legend_value": "forward value", "legend_grad": "gradient ∂L/∂·", "legend_new": "updated value (after the step)",
        "weights": "weights", "gradients": "gradients ∂L/∂w", "updated": "updated weights",
        "graph": "computational graph", "leaf": "leaf", "data": "value", "gradient": "grad",
        "role_pred": "pred", "role_target": "target", "role_logits": "logits",
        "loss_curve": "training loss", "activation": "activation", "no_grad": "no gradient (backward not run)",
        "out_in": "(out, in): w_ij transposed",
        "loss_title": "{name}: loss per step ({opt}, lr {lr})", "graph_title": "{name}: the graph of the loss, step {step}",
        "batch_note": "values of sample {s} of {n}; gradients ∂L/∂w are Σ over all {n} samples",
    },
    "zh": {
        "input": "输入层", "hidden": "隐藏层", "output": "输出层", "layer": "层",
        "loss": "损失值", "target": "期望输出", "grad": "梯度", "new": "更新后",
        "step": "第", "sample": "样本", "of": "/", "epoch": "轮次",
        "legend_value": "前向传播的值", "legend_grad": "梯度 ∂L/∂·", "legend_new": "梯度更新后的值",
        "weights": "权重", "gradients": "梯度 ∂L/∂w", "updated": "更新后的权重",
        "graph": "计算图", "leaf": "叶子", "data": "值", "gradient": "梯度",
        "role_pred": "预测", "role_target": "目标", "role_logits": "未归一化输出",
        "loss_curve": "训练损失", "activation": "激活函数", "no_grad": "无梯度（未运行反向传播）",
        "out_in": "（输出, 输入）：w_ij 的转置",
        "loss_title": "{name}：每步的损失值（{opt}，学习率 {lr}）", "graph_title": "{name}：损失的计算图，第 {step} 步",
        "batch_note": "显示第 {s} 个样本的值（共 {n} 个）；梯度 ∂L/∂w 是全部 {n} 个样本之和 Σ",
    },
}


def labels(lang: str) -> dict:
    if lang not in LABELS:
        raise ValueError(f"lang must be one of {', '.join(LABELS)}, got {lang!r}")
    return LABELS[lang]


_SUB = str.maketrans("0123456789()", "₀₁₂₃₄₅₆₇₈₉₍₎")
_SUP = str.maketrans("0123456789()", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾")


def sub(text) -> str:
    return str(text).translate(_SUB)


def sup(text) -> str:
    return str(text).translate(_SUP)


def pretty_symbol(plain: str) -> str:
    """``chainrule.notation``'s plain text (``w'_11``, ``z^(1)_2``) with Unicode sub/superscripts."""
    out, i = [], 0
    while i < len(plain):
        ch = plain[i]
        if ch in "_^":
            j = i + 1
            if j < len(plain) and plain[j] == "(":
                k = plain.index(")", j) + 1
            else:
                k = j
                while k < len(plain) and plain[k].isdigit():
                    k += 1
            piece = plain[j:k]
            out.append(sub(piece) if ch == "_" else sup(piece))
            i = k
        else:
            out.append(ch)
            i += 1
    return "".join(out)


class Drawing:
    """A finished picture: ``.figure`` is the matplotlib figure; notebooks show it inline via
    ``_repr_html_`` (natural size, scrolling sideways; ``_repr_png_`` / ``_repr_svg_`` for other
    front ends); ``save(path)`` writes PNG, SVG or PDF by extension, atomically."""

    def __init__(self, figure: Figure, kind: str, lang: str = "en", info: dict | None = None):
        self.figure = figure
        self.kind = kind
        self.lang = lang
        self.info = info or {}

    @property
    def axes(self):
        return self.figure.axes[0] if self.figure.axes else None

    def _render(self, fmt: str, fh, dpi=None) -> None:
        with matplotlib.rc_context(rc(self.lang)):
            self.figure.savefig(fh, format=fmt, dpi=dpi or (150 if fmt == "png" else "figure"),
                                facecolor="white", bbox_inches="tight", pad_inches=0.15,
                                metadata=_metadata(fmt))

    def to_bytes(self, fmt: str = "png", dpi=None) -> bytes:
        fmt = fmt.lower().lstrip(".")
        if fmt not in FORMATS:
            raise ValueError(f"unsupported format {fmt!r}: use one of {', '.join(FORMATS)}")
        buf = io.BytesIO()
        self._render(fmt, buf, dpi)
        data = buf.getvalue()
        return _embed_cjk(data) if fmt == "svg" else data

    def _repr_png_(self) -> bytes:
        return self.to_bytes("png", dpi=100)

    def _repr_svg_(self) -> str:
        return self.to_bytes("svg").decode("utf-8")

    def _repr_html_(self) -> str:
        """The SVG as an image at its natural size inside a box that scrolls sideways.

        Jupyter and nbconvert shrink a bare image or SVG to the notebook column (``max-width:
        100%``): a wide figure such as ``draw_network(show="all")`` (about 1600 px) then comes out
        at a third of its size and its labels cannot be read. The inline ``max-width: none`` beats
        that stylesheet rule, and the ``overflow-x: auto`` box keeps the page itself from widening.
        """
        svg = self.to_bytes("svg")
        width, height = _svg_size_px(svg)
        data = base64.b64encode(svg).decode("ascii")
        alt = html.escape(f"chainrule {self.kind} drawing", quote=True)
        return (f'<div class="chainrule-drawing" style="overflow-x: auto; max-width: 100%;">'
                f'<img src="data:image/svg+xml;base64,{data}" alt="{alt}" width="{width}" height="{height}" '
                f'style="max-width: none; width: {width}px; height: {height}px;"></div>')

    def save(self, path, dpi=None) -> str:
        """Write the figure to ``path`` (.png, .svg or .pdf); the old file survives any failure."""
        path = os.fspath(path)
        ext = os.path.splitext(path)[1].lower().lstrip(".")
        if ext not in FORMATS:
            raise ValueError(f"{path}: cannot tell the format from the extension; use .png, .svg or .pdf")
        data = self.to_bytes(ext, dpi)  # render fully in memory first: a rendering error writes nothing
        atomic_write_bytes(path, data)
        return path

    def __repr__(self) -> str:
        w, h = self.figure.get_size_inches()
        return f"<chainrule.viz.Drawing {self.kind} {w:.1f}x{h:.1f} in>"


def _svg_size_px(svg: bytes) -> tuple[int, int]:
    """The natural size in CSS pixels of a matplotlib SVG (it declares width/height in pt; 1pt = 4/3 px)."""
    head = svg[: svg.index(b">", svg.index(b"<svg")) + 1].decode("utf-8")
    size = []
    for key in ("width", "height"):
        m = re.search(rf'\b{key}="([0-9.]+)(pt|px)?"', head)
        if m is None:
            raise ValueError(f"SVG header has no numeric {key}: {head[:200]!r}")
        size.append(round(float(m.group(1)) * (4 / 3 if m.group(2) in (None, "pt") else 1)))
    return size[0], size[1]


def _embed_cjk(svg: bytes) -> bytes:
    """An SVG whose text has Chinese gets the subset of the shipped CJK font it uses (only those
    glyphs) as an @font-face, and that font in its font-family lists: it renders without a CJK font."""
    from ..fonts import FAMILY, cjk_chars, font_face

    text = svg.decode("utf-8")
    if not cjk_chars(text):
        return svg
    face = font_face(text)
    if not face:
        return svg
    text = text.replace("font-family:'Noto Sans CJK SC'", f"font-family:'{FAMILY}', 'Noto Sans CJK SC'")
    text = text.replace("'Noto Sans CJK SC'", f"'{FAMILY}', 'Noto Sans CJK SC'") if FAMILY not in text else text
    head = text.index(">", text.index("<svg")) + 1
    return (text[:head] + f"\n<style>{face}</style>" + text[head:]).encode("utf-8")


def _metadata(fmt: str):
    if fmt == "png":
        return {"Software": "chainrule"}
    if fmt == "svg":
        return {"Date": None, "Creator": "chainrule"}
    return {"CreationDate": None, "Creator": "chainrule"}


def atomic_write_bytes(path: str, data: bytes) -> None:
    """Write through a temporary file in the same folder and ``os.replace`` it over ``path``."""
    from ..io import atomic_write

    atomic_write(path, data)
