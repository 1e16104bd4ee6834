"""A derivation as a 16:9 slide deck: one static HTML file, no script from anywhere, no CDN.

Each stage of the derivation (``chainrule.explain``: forward pass, loss, each layer's backward pass,
the update, the check) becomes a slide; a stage with more equations than fit in large type continues
on the next slide. The blocks are the derivation's own, rendered by its HTML renderer
(``explain.render.block_html``), so the slides say exactly what ``chainrule derive`` says. The
network figure (``chainrule.viz``) opens the deck with the starting values and closes it with every
value and gradient of the step.

Slides are 16:9 boxes that fill the window's width; scroll (or PageDown) from one to the next, and
print to PDF (Chromium: one slide per page). The arrow keys step through the slides with a few lines
of inline script; without script, the deck still reads top to bottom.
"""

from __future__ import annotations

import base64
import html as html_mod

MAX_ROWS = 8       # equation rows per slide in large type

CSS = """
@page { size: 1280px 720px; margin: 0; }
html { background: #2b2b2b; }
body { margin: 0; font-family: "Noto Sans", "Helvetica Neue", Arial, "Noto Sans CJK SC", "chainrule CJK", sans-serif; }
section.slide { box-sizing: border-box; width: 100vw; aspect-ratio: 16 / 9; max-height: 100vh; max-width: calc(100vh * 16 / 9);
  margin: 0 auto 12px; background: #fff; color: #1a1a1a; padding: 3.2vw 4.5vw; overflow: hidden; position: relative;
  font-size: 2.1vw; scroll-snap-align: start; display: flex; flex-direction: column; }
html { scroll-snap-type: y mandatory; }
section.slide h1 { font-size: 3.4vw; margin: 0 0 1vw; }
section.slide h2 { font-size: 2.8vw; margin: 0 0 1.2vw; color: #1f4e99; border-bottom: 0.25vw solid #1f4e99; padding-bottom: .4vw; }
section.slide p { margin: .4vw 0; line-height: 1.35; }
section.slide .sub { font-size: 1.6vw; color: #555; }
section.slide table.eqs { border-collapse: collapse; font-size: 1em; margin: .6vw 0; }
section.slide div.body { font-size: 2.2vw; }
section.slide div.body p { font-size: 2.1vw; }
section.slide table.eqs td { padding: .35vw .4vw; vertical-align: middle; }
section.slide table.eqs td.lhs { text-align: right; white-space: nowrap; }
section.slide table.check { border-collapse: collapse; font-size: 1.6vw; }
section.slide table.check td, section.slide table.check th { padding: .2vw .9vw; border-bottom: 1px solid #ddd; text-align: right; }
section.slide .warning { background: #fff6e0; border-left: .5vw solid #e0a000; padding: .6vw 1vw; font-size: 1.7vw; }
section.slide figure { margin: 0; flex: 1; display: flex; align-items: center; justify-content: center; min-height: 0; }
section.slide figure img { max-width: 100%; max-height: 100%; object-fit: contain; }
section.slide .num { position: absolute; right: 1.6vw; bottom: 1.1vw; font-size: 1.2vw; color: #888; }
section.slide.title { justify-content: flex-start; }
@media print { html { background: #fff; } section.slide { width: 1280px; height: 720px; max-width: none; max-height: none;
  margin: 0; font-size: 27px; page-break-after: always; } }
"""

SCRIPT = """
document.addEventListener("keydown", function (e) {
  var s = Array.prototype.slice.call(document.querySelectorAll("section.slide"));
  var y = window.scrollY + 5, i = s.findIndex(function (el) { return el.offsetTop + el.offsetHeight > y; });
  if (e.key === "ArrowRight" || e.key === "ArrowDown" || e.key === " ") { i = Math.min(i + 1, s.length - 1); }
  else if (e.key === "ArrowLeft" || e.key === "ArrowUp") { i = Math.max(i - 1, 0); } else { return; }
  e.preventDefault(); s[i].scrollIntoView();
});
"""

TEXT = {"en": {"start": "The network and its starting values", "end": "After the step: every value and gradient",
               "cont": "(continued)"},
        "zh": {"start": "网络及其初始值", "end": "这一步之后：所有的值和梯度", "cont": "（续）"}}


def _figure(dv, show: str) -> str:
    from .viz import draw_network

    png = draw_network(dv.run, step=1, show=show, lang=dv.lang).to_bytes("png", dpi=130)
    return f'<figure><img alt="network" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}"></figure>'


def _stages(dv):
    """[(title, [blocks])]: the derivation split at its headings (forward, loss, each layer, update, check)."""
    from .explain.render import _all_blocks

    stages, title, blocks = [], None, []
    header = set(id(b) for b in dv.header)
    for b in _all_blocks(dv):
        if id(b) in header:
            continue
        if b.kind == "heading" and b.level <= 4:
            if blocks:
                stages.append((title, blocks))
            title, blocks = b.text if title is None or blocks else f"{title} · {b.text}", []
            continue
        if title is None and b.kind == "para" and not blocks:  # the initial parameters: titled by their line
            title = b.text.rstrip(":：")
            continue
        blocks.append(b)
    if blocks:
        stages.append((title, blocks))
    return stages


def _split(dv, blocks):
    """The blocks of one stage in slide-sized pieces: at most MAX_ROWS equation rows per slide."""
    from .explain.model import Block

    pages, page, rows = [], [], 0
    for b in blocks:
        if b.kind == "math":
            eqs = list(b.eqs)
            while eqs:
                room = max(MAX_ROWS - rows, 0)
                take, used = [], 0
                for e in eqs:
                    n = len(e.rows(dv.precision, True))
                    if take and used + n > room:
                        break
                    take.append(e)
                    used += n
                if not take or (rows and used > room):
                    pages.append(page)
                    page, rows = [], 0
                    continue
                page.append(Block("math", eqs=take))
                rows += used
                eqs = eqs[len(take):]
                if eqs:
                    pages.append(page)
                    page, rows = [], 0
        else:
            page.append(b)
            rows += 2 if b.kind in ("para", "warning") else 0  # a paragraph takes about two rows
    if page:
        pages.append(page)
    return [p for p in pages if p]


def _type_size(dv, page, large: float = 2.3, chars: int = 88) -> float:
    """Font size (vw) of a slide's equations: large, unless its longest line would not fit the width."""
    longest = max([sum(len(part) for part in row) for b in page if b.kind == "math"
                   for e in b.eqs for row in e.rows(dv.precision, False)] + [1])
    return max(large * min(1.0, chars / longest), 1.2)


def slides_html(dv) -> str:
    """The derivation ``dv`` (``chainrule.derive(...)``) as a standalone 16:9 HTML deck."""
    from .explain.render import block_html

    t = TEXT["zh" if dv.lang == "zh" else "en"]
    head = [b for b in dv.header if b.kind == "heading"]
    paras = [b for b in dv.header if b.kind == "para"]
    title = head[0].text if head else dv.spec.name
    slides = [f'<section class="slide title"><h1>{html_mod.escape(title)}</h1>'
              + "".join(f'<p class="sub">{html_mod.escape(p.text)}</p>' for p in paras)
              + _figure(dv, "values") + "</section>"]
    for stage, blocks in _stages(dv):
        pages = _split(dv, blocks)
        for k, page in enumerate(pages):
            name = html_mod.escape(stage or "") + (f" {t['cont']}" if k else "")
            body = "".join(block_html(dv, b) for b in page)
            size = _type_size(dv, page)
            slides.append(f'<section class="slide"><h2>{name}</h2><div class="body" style="font-size: {size:.2f}vw">'
                          f"{body}</div></section>")
    slides.append(f'<section class="slide"><h2>{t["end"]}</h2>{_figure(dv, "all")}</section>')
    n = len(slides)
    slides = [s.replace("</section>", f'<div class="num">{k + 1} / {n}</div></section>') for k, s in enumerate(slides)]
    css = CSS
    if dv.lang == "zh":
        from .sheet import _cjk_css

        css += _cjk_css(body_font=False)  # the deck's own font list already ends with it
    lang = "zh-CN" if dv.lang == "zh" else "en"
    return (f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{html_mod.escape(title)}</title>\n<style>{css}</style>\n</head>\n<body>\n"
            + "\n".join(slides) + f"\n<script>{SCRIPT}</script>\n</body>\n</html>\n")
