"""Fonts for the page, all from installed packages (no system fonts, no network).

- ``latin``: DejaVu Sans, shipped with matplotlib — the font of chainrule's figures (``viz``).
- ``math`` / ``math-italic``: STIX General, shipped with matplotlib; it has the mathematical italic
  letters that MathML's identifiers use.
- ``cjk``: Noto Sans CJK SC from the ``noto-cjk-sans-otc`` package (the font ``viz`` registers),
  cut down with fontTools to the Chinese characters the page and the derivation can show (a few
  hundred glyphs instead of a 20 MB collection). Built once per process, on first request.
"""

from __future__ import annotations

import io
import os
import threading
from functools import lru_cache

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


@lru_cache(maxsize=1)
def cjk_subset() -> bytes:
    """Noto Sans CJK SC (from the package's collection), only the glyphs of ``chinese_text``."""
    import noto_cjk_sans_otc
    from fontTools import subset
    from fontTools.ttLib import TTCollection

    with _lock:
        collection = TTCollection(str(noto_cjk_sans_otc.FONT_PATH), lazy=True)
        names = [f["name"].getDebugName(1) for f in collection.fonts]
        number = names.index("Noto Sans CJK SC") if "Noto Sans CJK SC" in names else 0
        from fontTools.ttLib import TTFont

        font = TTFont(str(noto_cjk_sans_otc.FONT_PATH), fontNumber=number)
        options = subset.Options()
        options.layout_features = ["*"]
        options.name_IDs = ["*"]
        sub = subset.Subsetter(options)
        sub.populate(text=chinese_text())
        sub.subset(font)
        buf = io.BytesIO()
        font.save(buf)
        return buf.getvalue()


def font_bytes(name: str) -> tuple[bytes, str] | None:
    """(content, media type) of a font the page uses, or None for an unknown name."""
    if name == "cjk.otf":
        return cjk_subset(), "font/otf"
    if name in FILES:
        with open(FILES[name](), "rb") as fh:
            return fh.read(), "font/ttf"
    return None
