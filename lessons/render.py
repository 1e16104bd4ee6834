"""Execute every lesson notebook and render it as a standalone HTML page in docs/lessons/:
``python lessons/render.py`` (needs the ``lessons`` extra).

The pages are read offline: nbconvert's script tags that load MathJax or require.js from a CDN are
removed (the lessons write their maths in Unicode, and the derivations carry their own MathML).
"""

from __future__ import annotations

import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(ROOT, "docs", "lessons")
TITLES = {"en": "chainrule lessons", "zh": "chainrule 课程"}


def offline(html: str) -> str:
    """Drop every <script> that loads from the network; keep inline scripts and styles."""
    return re.sub(r'<script[^>]*\bsrc="https?://[^"]*"[^>]*>\s*</script>\s*', "", html)


def render(rel: str) -> str:
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    nb = nbformat.read(os.path.join(HERE, rel), as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": HERE}}).execute()
    exporter = HTMLExporter(template_name="classic")
    body, _ = exporter.from_notebook_node(nb)
    out = os.path.join(OUT, rel.replace(".ipynb", ".html"))
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w", encoding="utf-8") as fh:
        fh.write(offline(body))
    return out


def index(rels) -> str:
    rows = {"en": [], "zh": []}
    for rel in rels:
        lang, name = rel.split(os.sep)
        rows[lang].append(f'<li><a href="{lang}/{name.replace(".ipynb", ".html")}">{name[:-6]}</a></li>')
    body = "".join(f"<h2>{TITLES[lang]} ({lang})</h2><ul>{''.join(items)}</ul>"
                   for lang, items in rows.items())
    path = os.path.join(OUT, "index.html")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>chainrule lessons</title></head>'
                 f"<body><h1>chainrule lessons</h1>{body}</body></html>\n")
    return path


if __name__ == "__main__":
    wanted = sys.argv[1:]
    rels = sorted(os.path.join(lang, f) for lang in ("en", "zh") for f in os.listdir(os.path.join(HERE, lang))
                  if f.endswith(".ipynb"))
    for rel in rels:
        if not wanted or any(w in rel for w in wanted):
            print(render(rel))
    print(index(rels))
