"""Chinese renders without a system CJK font: zh HTML derivations and SVG figures embed the subset
of the shipped font they use (only those glyphs), as an @font-face (issue 12)."""

from __future__ import annotations

import base64
import io
import re

import pytest

import chainrule as cr
from chainrule import viz
from chainrule.fonts import FAMILY, cjk_chars


def embedded_glyphs(doc: str) -> set[str]:
    """The characters the embedded WOFF's cmap covers."""
    ttlib = pytest.importorskip("fontTools.ttLib")
    m = re.search(r"data:font/woff;base64,([A-Za-z0-9+/=]+)", doc)
    assert m, "no embedded font"
    font = ttlib.TTFont(io.BytesIO(base64.b64decode(m.group(1))))
    return {chr(c) for c in font.getBestCmap()}


def test_a_zh_html_derivation_embeds_exactly_the_glyphs_it_uses():
    page = cr.derive("seed", lang="zh").html()
    text = re.sub(r"<[^>]+>", "", page.split("</style>", 1)[1])
    used = set(cjk_chars(text))
    assert {"反", "向", "传", "播"} <= used
    glyphs = embedded_glyphs(page)
    assert used <= glyphs and len(glyphs) < len(used) + 10        # a subset, not the whole font
    assert f'"{FAMILY}"' in page and len(page) < 400_000


def test_english_pages_embed_nothing():
    assert "@font-face" not in cr.derive("seed").html()


def test_a_zh_svg_figure_embeds_its_glyphs_and_names_the_font():
    svg = viz.draw_network("seed", lang="zh").to_bytes("svg").decode("utf-8")
    assert "输入层" in svg and {"输", "入", "层"} <= embedded_glyphs(svg)
    assert f"'{FAMILY}'" in svg
    assert "@font-face" not in viz.draw_network("seed").to_bytes("svg").decode("utf-8")
