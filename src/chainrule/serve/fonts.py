"""Fonts for the page, all from installed packages (no system fonts, no network).

- ``latin``: DejaVu Sans, shipped with matplotlib — the font of chainrule's figures (``viz``).
- ``math`` / ``math-italic``: STIX General, shipped with matplotlib; it has the mathematical italic
  letters that MathML's identifiers use.
- ``cjk``: Noto Sans CJK SC from the ``noto-cjk-sans-otc`` package (the font ``viz`` registers),
  cut down with fontTools to the Chinese characters the page and the derivation can show (a few
  hundred glyphs instead of a 20 MB collection). Built once per process, on first request.
"""

from __future__ import annotations

import os
import threading

from .. import fonts

CJK_RANGES = ((0x2E80, 0x2FFF), (0x3000, 0x303F), (0x3400, 0x9FFF), (0xF900, 0xFAFF), (0xFF00, 0xFFEF))
STATIC = os.path.join(os.path.dirname(__file__), "static")
_lock = threading.Lock()


def _matplotlib_font(name: str) -> str:
    import matplotlib

    return os.path.join(matplotlib.get_data_path(), "fonts", "ttf", name)


FILES = {
    "latin.ttf": lambda: _matplotlib_font("DejaVuSans.ttf"),
    "latin-bold.ttf": lambda: _matplotlib_font("DejaVuSans-Bold.ttf"),
    "math.ttf": lambda: _matplotlib_font("STIXGeneral.ttf"),
    "math-italic.ttf": lambda: _matplotlib_font("STIXGeneralItalic.ttf"),
}


def chinese_text() -> str:
    """Every Chinese character the page can show: its own strings and those of the derivation,
    the figures' labels and the names of activations, losses and optimizers."""
    from ..explain import labels as explain_labels
    from ..viz import _base

    parts = [repr(explain_labels.LABELS["zh"]), repr(_base.LABELS["zh"])]
    for name in ("ACTIVATION_NAMES", "OPTIMIZER_NAMES", "LOSS_NAMES"):
        parts.append(repr(getattr(explain_labels, name, "")))
    for f in sorted(os.listdir(STATIC)):
        if f.endswith((".js", ".html")):
            with open(os.path.join(STATIC, f), encoding="utf-8") as fh:
                parts.append(fh.read())
    text = "".join(parts)
    chars = {c for c in text if any(lo <= ord(c) <= hi for lo, hi in CJK_RANGES)}
    return "".join(sorted(chars))


def cjk_subset() -> bytes | None:
    """Noto Sans CJK SC, only the glyphs of ``chinese_text`` (made by ``chainrule.fonts``, once)."""
    with _lock:  # server threads may ask at once; the subset is cached after the first
        return fonts.subset(chinese_text(), flavor=None, layout=True)


def font_bytes(name: str) -> tuple[bytes, str] | None:
    """(content, media type) of a font the page uses, or None for an unknown name."""
    if name == "cjk.otf":
        data = cjk_subset()
        return (data, "font/otf") if data else None
    if name in FILES:
        with open(FILES[name](), "rb") as fh:
            return fh.read(), "font/ttf"
    return None
