"""A subset of the shipped CJK font, only the glyphs a page or a figure uses, to embed in HTML and
SVG so Chinese text renders on machines without a CJK font (no empty boxes, no download).

The font is Noto Sans CJK SC from the ``noto-cjk-sans-otc`` package; the subset is made with
fontTools (a matplotlib dependency) and written as WOFF inside a CSS ``@font-face`` rule.
"""

from __future__ import annotations

import base64
import io
import re
from functools import lru_cache

FAMILY = "chainrule-cjk"       # the name pages and figures use for the embedded subset
CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")


def cjk_chars(text: str) -> str:
    """The distinct CJK characters (and full-width punctuation) of ``text``, sorted."""
    return "".join(sorted(set(CJK.findall(text))))


@lru_cache(maxsize=32)
def subset(chars: str, flavor: str | None = "woff", layout: bool = False) -> bytes | None:
    """Noto Sans CJK SC cut down to ``chars``: WOFF for embedding (``flavor="woff"``) or plain OpenType
    (``None``); ``layout`` keeps OpenType layout features and names (the web app's font file).
    None when the font or fontTools is missing or the font file is broken."""
    try:
        import noto_cjk_sans_otc
        from fontTools import subset as fonttools_subset
        from fontTools.ttLib import TTCollection
    except ImportError:
        return None
    try:
        collection = TTCollection(str(noto_cjk_sans_otc.FONT_PATH), lazy=True)
        font = next((f for f in collection.fonts if f["name"].getDebugName(4) == "Noto Sans CJK SC"),
                    collection.fonts[0])
        options = fonttools_subset.Options()
        if layout:
            options.layout_features, options.name_IDs = ["*"], ["*"]
        else:
            options.layout_features, options.name_IDs, options.hinting = [], [], False
        subsetter = fonttools_subset.Subsetter(options)
        subsetter.populate(text=chars)
        subsetter.subset(font)
        font.flavor = flavor
        buf = io.BytesIO()
        font.save(buf)
        return buf.getvalue()
    except (OSError, KeyError, ValueError, AssertionError):   # a broken font file: no embedding
        return None


def font_face(text: str) -> str:
    """A CSS ``@font-face`` rule with the CJK glyphs of ``text`` (empty when there are none or the
    font or fontTools is missing); use ``FAMILY`` in a font-family list after the Latin fonts."""
    chars = cjk_chars(text)
    data = subset(chars) if chars else None
    if not data:
        return ""
    encoded = base64.b64encode(data).decode("ascii")
    return f'@font-face {{ font-family: "{FAMILY}"; src: url(data:font/woff;base64,{encoded}) format("woff"); }}'
