"""A derivation shown in Jupyter does not restyle the notebook around it (issue 12).

The notebook is rendered by nbconvert (skipped when it is not installed) with a teacher's heading
above the derivation's output; every CSS rule the derivation brings must be scoped to its own
element, so no rule can match the teacher's heading, body or any element outside the derivation.
"""

from __future__ import annotations

import re

import pytest

import chainrule as cr

SCOPE = ".chainrule-derivation"


def rules(css: str) -> list[tuple[str, str]]:
    """(selector, declarations) per rule of a flat stylesheet."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    css = re.sub(r"@font-face\s*\{[^{}]*\}", "", css)   # declares a font name; styles no element
    return [(sel.strip(), body.strip()) for sel, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css)]


def unscoped(css: str) -> list[str]:
    return [s.strip() for sel, _ in rules(css) for s in sel.split(",") if not s.strip().startswith(SCOPE + " ")
            and s.strip() != SCOPE]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_repr_html_css_is_scoped_to_the_derivation(lang):
    html = cr.derive("mazur", lang=lang)._repr_html_()
    styles = re.findall(r"<style>(.*?)</style>", html, flags=re.S)
    assert styles and html.startswith('<div class="chainrule-derivation">')
    for css in styles:
        assert rules(css) and unscoped(css) == []
    assert "math" in "".join(styles) and "Math" in "".join(styles)   # a math font is named


def test_the_checker_sees_page_wide_rules():
    assert unscoped("body { margin: 0 } .chainrule-derivation h1, h2 { color: red }") == ["body", "h2"]


def test_a_notebook_heading_next_to_a_derivation_keeps_its_style():
    nbformat = pytest.importorskip("nbformat")
    nbconvert = pytest.importorskip("nbconvert")
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell("# Lesson 3: the chain rule"))
    code = nbformat.v4.new_code_cell("cr.derive('seed')")
    code.outputs = [nbformat.v4.new_output("execute_result", data={"text/html": cr.derive("seed")._repr_html_(),
                                                                    "text/plain": "Derivation"}, execution_count=1)]
    nb.cells.append(code)
    page, _ = nbconvert.HTMLExporter().from_notebook_node(nb)
    ours = [m.group(1) for m in re.finditer(r'<div class="chainrule-derivation"><style>(.*?)</style>', page, re.S)]
    assert len(ours) == 1 and unscoped(ours[0]) == []
    # the teacher's heading is outside the derivation's element, so none of its rules reach it
    heading = page.index("Lesson 3: the chain rule")
    assert heading < page.index('<div class="chainrule-derivation">')


def test_a_whole_page_still_has_its_layout():
    page = cr.derive("seed").html()
    assert "body { margin: 2em auto" in page and '<div class="chainrule-derivation">' in page
