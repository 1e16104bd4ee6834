"""`chainrule derive --format slides`: a static 16:9 deck built from the derivation's own blocks."""

from __future__ import annotations

import re

from chainrule import derive
from chainrule.cli import main
from chainrule.slides import slides_html


def test_one_stage_per_slide_with_the_derivations_lines(tmp_path):
    out = tmp_path / "seed.html"
    assert main(["derive", "seed", "--format", "slides", "--out", str(out)]) == 0
    html = out.read_text()
    slides = re.findall(r'<section class="slide.*?</section>', html, flags=re.S)
    titles = [re.search(r"<h[12]>(.*?)</h[12]>", s).group(1) for s in slides]
    # title, initial parameters, the seed's stages in order, and the closing figure
    order = ["1. Forward pass", "2. Loss", "3. Backward pass · 3.1 Gradients", "Layer 2", "Layer 1",
             "3.2 Gradient descent update", "4. Check: central finite differences"]
    positions = [next(i for i, t in enumerate(titles) if t.startswith(o)) for o in order]
    assert positions == sorted(positions)
    assert "aspect-ratio: 16 / 9" in html and 'src="http' not in html and "<link" not in html
    assert html.count("data:image/png;base64,") == 2
    # the seed's numbers, as the derivation writes them (hand algebra: L = ½(60 − 180)² = 7200)
    assert "<mn>7200</mn>" in html and "<mn>0.928</mn>" in html
    assert f'{len(slides)} / {len(slides)}' in html


def test_long_stages_continue_and_chinese_headings():
    html = slides_html(derive("mazur", lang="zh"))
    assert "（续）" in html and "一、前向传播" in html and 'lang="zh-CN"' in html
