"""Renderers: Markdown with $$ blocks (the seed's format), plain text, standalone LaTeX and offline HTML.

HTML converts each equation's LaTeX to MathML with latex2mathml, which browsers render natively:
no script, no CDN, nothing fetched when the page is opened.
"""

from __future__ import annotations

import html as html_mod
import re
import unicodedata

from ..escape import html_text, latex_text, markdown_text, plain_text


def _same(text: str) -> str:
    """Our own prose, for outputs that take it as it is (Markdown, plain text)."""
    return text


def _all_blocks(dv):
    yield from dv.header
    yield from _init_blocks(dv)
    for doc in dv.steps:
        yield from doc.blocks


def _init_blocks(dv):
    from .model import Block, Eq
    from .symbols import num_latex, num_text

    t = __import__("chainrule.explain.labels", fromlist=["LABELS"]).LABELS[dv.lang]
    first = dv.run.steps[0].params_before
    if dv.matrix:
        return []
    eqs = []
    for name, arr in first.items():
        from .symbols import Symbols

        sym = Symbols(dv.spec.layers, dv.spec.activations, dv.notation, False,
                      [dv.spec.is_shared(k) for k in range(1, dv.spec.depth + 1)])
        flat = arr.reshape(-1)
        if flat.size and (flat == flat[0]).all():
            names = [sym.param(name, idx) for idx in [tuple(0 for _ in arr.shape), tuple(s - 1 for s in arr.shape)]]
            lhs = (f"{names[0][0]} … {names[1][0]}", rf"{names[0][1]}\ \ldots\ {names[1][1]}") \
                if flat.size > 1 else names[0]
            eqs.append(Eq(lhs, [(num_text(flat[0], dv.precision), num_latex(flat[0], dv.precision))]))
        else:
            import numpy as np

            order = list(np.ndindex(arr.shape))
            if sym.profile == "mazur" and arr.ndim == 2:   # w1, w2, w3, ... in Mazur's numbering
                order.sort(key=lambda ij: (ij[1], ij[0]))
            for idx in order:
                eqs.append(Eq(sym.param(name, idx), [(num_text(arr[idx], dv.precision), num_latex(arr[idx], dv.precision))]))
    return [Block("para", t["init"]), Block("math", eqs=eqs)]


def _aligned(dv, eqs) -> str:
    """Rows for an aligned/align* environment, long equations broken at their = signs."""
    lines = []
    for e in eqs:
        rows = e.rows(dv.precision, True)
        note = rf"\quad\text{{({e.note[1]})}}" if e.note else ""
        lines += [f"{lhs}&{rhs}" for lhs, rhs in rows]
        lines[-1] += note
    return " \\\\\n".join(lines)


# --------------------------------------------------------------------------- Markdown
def markdown(dv) -> str:
    out = []
    for b in _all_blocks(dv):
        if b.kind == "heading":
            out.append("#" * b.level + " " + b.prose(_same, markdown_text))
        elif b.kind == "para":
            out.append(b.prose(_same, markdown_text))
        elif b.kind == "warning":
            out.append("> **⚠** " + b.prose(_same, markdown_text))
        elif b.kind == "math":
            if not b.eqs:
                continue
            out.append("$$\n\\begin{aligned}\n" + _aligned(dv, b.eqs) + "\n\\end{aligned}\n$$")
        elif b.kind == "table":
            rows = [b.header] + [[c[1] if i == 0 else c[0] for i, c in enumerate(r)] for r in b.rows]
            md = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
            for r in rows[1:]:
                md.append("| " + " | ".join(f"${r[0]}$" if i == 0 else c for i, c in enumerate(r)) + " |")
            out.append("\n".join(md))
    return "\n\n".join(out) + "\n"


# --------------------------------------------------------------------------- plain text
def _width(s: str) -> int:
    """Columns a terminal gives ``s`` (CJK characters take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)


def _row(cells, widths) -> str:
    """First column left-aligned, the numbers right-aligned."""
    return "  " + "  ".join(c + " " * (widths[i] - _width(c)) if i == 0 else " " * (widths[i] - _width(c)) + c
                            for i, c in enumerate(cells))


def text(dv) -> str:
    out = []
    for b in _all_blocks(dv):
        if b.kind == "heading":
            line = "=" if b.level <= 2 else ("-" if b.level == 3 else "")
            head = b.prose(_same, plain_text)
            out.append(head + ("\n" + line * _width(head) if line else ""))
        elif b.kind == "para":
            out.append(b.prose(_same, plain_text))
        elif b.kind == "warning":
            out.append("⚠ " + b.prose(_same, plain_text))
        elif b.kind == "math":
            if not b.eqs:
                continue
            w = max(_width(e.lhs[0]) for e in b.eqs)
            lines = []
            for e in b.eqs:
                for lhs, rhs in e.rows(dv.precision, False):
                    lines.append("  " + lhs + " " * (w - _width(lhs)) + " " + rhs)
                if e.note:
                    lines[-1] += f"   ({e.note[0]})"
            out.append("\n".join(lines))
        elif b.kind == "table":
            rows = [b.header] + [[c[0] for c in r] for r in b.rows]
            widths = [max(_width(r[i]) for r in rows) for i in range(len(b.header))]
            out.append("\n".join([_row(rows[0], widths), "  " + "  ".join("─" * w for w in widths)]
                                  + [_row(r, widths) for r in rows[1:]]))
    return "\n\n".join(out) + "\n"


# --------------------------------------------------------------------------- LaTeX
_TEX_SYMBOLS = {
    "∂": r"\partial ", "η": r"\eta ", "δ": r"\delta ", "σ": r"\sigma ", "←": r"\leftarrow ", "⊙": r"\odot ",
    "≤": r"\le ", "½": r"\frac{1}{2}", "Σ": r"\Sigma ", "μ": r"\mu ", "β": r"\beta ", "ε": r"\epsilon ",
    "₁": "_1", "₂": "_2", "√": r"\surd ", "²": "^2", "→": r"\to ", "×": r"\times ", "·": r"\cdot ", "−": "-",
    "ᵀ": r"^{\top}", "…": r"\ldots ",
}
_SPECIAL = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\~{}",
            "^": r"\^{}", "\\": r"\textbackslash{}", "—": "---", "⚠": "", "|": r"\textbar{}",
            "<": r"\textless{}", ">": r"\textgreater{}"}
# Chinese characters and full-width punctuation: always prose, never inside $...$ (CJKutf8 typesets
# them in text mode only). A run of them also ends a math token, since Chinese has no spaces.
_CJK = "[\u2e80-\u2fff\u3000-\u303f\u3040-\u9fff\uf900-\ufaff\uff00-\uffef]+"


def _escape(text: str) -> str:
    return "".join(_SPECIAL.get(ch, ch) for ch in text)


def tex_text(s: str) -> str:
    """Prose with math symbols for pdflatex: special characters escaped, symbols and subscripts as math."""
    out = []
    for token in re.split(rf"(\s+|{_CJK})", s):
        if not token:
            continue
        if not token.strip() or re.fullmatch(_CJK, token):
            out.append(_escape(token))
            continue
        if any(ch in _TEX_SYMBOLS for ch in token) or re.search(r"[A-Za-z]'*_\w|\^\(", token):
            body = "".join(_TEX_SYMBOLS.get(ch, _SPECIAL.get(ch, ch) if ch in "&%$#" else ch) for ch in token)
            body = body.replace("'", "^{\\prime}").replace("^{\\prime}^{\\prime}", "^{\\prime\\prime}")
            lead = re.match(r"^[(]*", body).group(0)
            trail = re.search(r"[).,;:]*$", body).group(0)
            core = body[len(lead):len(body) - len(trail)] if trail else body[len(lead):]
            out.append(f"{lead}${core}${trail}" if core else body)
        else:
            out.append(_escape(token))
    return re.sub(r"\$(\s+)\$", r"\1", "".join(out))  # one formula, not a run of them: $a$ $-$ $b$ -> $a - b$


# The Chinese output typesets its text with the CJK package (CJKutf8, font gbsn). Guarded, so that
# a TeX installation without it stops at once with the package to install, not at the first glyph.
CJK_PACKAGE = "CJKutf8"
CJK_FONT_FILE = "c70gbsn.fd"
CJK_HINT = ("Debian/Ubuntu: apt-get install latex-cjk-chinese latex-cjk-chinese-arphic-gbsn00lp; "
            "TeX Live: tlmgr install cjk arphic")


def _cjk_preamble() -> list[str]:
    missing = (r"\PackageError{chainrule}{The Chinese derivation needs the LaTeX CJK package"
               rf" ({CJK_PACKAGE}.sty with the gbsn font, {CJK_FONT_FILE}). {CJK_HINT}}}{{{CJK_HINT}}}")
    return [
        f"% Chinese text: needs the CJK package for pdflatex ({CJK_PACKAGE}.sty, font gbsn).",
        f"% {CJK_HINT}",
        rf"\IfFileExists{{{CJK_PACKAGE}.sty}}{{\usepackage{{{CJK_PACKAGE}}}}}{{{missing}}}",
        rf"\IfFileExists{{{CJK_FONT_FILE}}}{{}}{{{missing}}}",
    ]


def latex(dv) -> str:
    body = []
    user = (lambda s: latex_text(s, cjk=True)) if dv.lang == "zh" else latex_text
    for b in _all_blocks(dv):
        if b.kind == "heading":
            cmd = {1: "section*", 2: "section*", 3: "subsection*", 4: "subsubsection*"}[min(b.level, 4)]
            if b.level == 1:
                body.append(rf"\begin{{center}}\LARGE {b.prose(tex_text, user)}\end{{center}}")
            else:
                body.append(rf"\{cmd}{{{b.prose(tex_text, user)}}}")
        elif b.kind in ("para", "warning"):
            body.append((r"\textbf{!} " if b.kind == "warning" else "") + b.prose(tex_text, user))
        elif b.kind == "math":
            if b.eqs:
                body.append("\\begin{align*}\n" + _aligned(dv, b.eqs) + "\n\\end{align*}")
        elif b.kind == "table":
            head = " & ".join(tex_text(h) for h in b.header)
            rows = " \\\\\n".join(" & ".join(f"${c[1]}$" for c in r) for r in b.rows)
            # Taller rows: the first column holds fractions (∂L/∂w) that would otherwise touch.
            body.append("\\begin{center}\\renewcommand{\\arraystretch}{2}\\begin{tabular}{lrrr}\n" + head
                        + " \\\\ \\hline\n" + rows + "\n\\end{tabular}\\end{center}")
    zh = dv.lang == "zh"
    pre = [r"\documentclass[10pt]{article}", r"\usepackage[utf8]{inputenc}", r"\usepackage{amsmath,amssymb}",
           r"\usepackage[margin=1.8cm]{geometry}", r"\allowdisplaybreaks", r"\setlength{\parindent}{0pt}",
           r"\setlength{\parskip}{0.5em}"]
    if zh:
        pre += _cjk_preamble()
    doc = "\n\n".join(body)
    if zh:
        doc = "\\begin{CJK}{UTF8}{gbsn}\n" + doc + "\n\\end{CJK}"
    return "\n".join(pre) + "\n\\begin{document}\n\\small\n" + doc + "\n\\end{document}\n"


# --------------------------------------------------------------------------- HTML
SCOPE = ".chainrule-derivation"
# Every rule is scoped to the derivation's own element, so a derivation shown in Jupyter
# (``_repr_html_``) never restyles the notebook around it (its headings, width, fonts).
_CSS = """
{S} { font-family: system-ui, -apple-system, "Segoe UI", "Noto Sans", "chainrule-cjk", "Noto Sans CJK SC", sans-serif;
       max-width: 1100px; color: #1b1b1b; line-height: 1.5; }
{S} h1 { font-size: 1.6em; border-bottom: 2px solid #ddd; padding-bottom: .3em; }
{S} h2 { font-size: 1.35em; margin-top: 2em; border-bottom: 1px solid #eee; }
{S} h3 { font-size: 1.2em; margin-top: 1.6em; }
{S} h4 { font-size: 1.05em; margin-top: 1.2em; color: #333; }
{S} table.eqs { border-collapse: collapse; margin: .4em 0 .8em 1em; }
{S} table.eqs td { padding: .15em .2em; vertical-align: middle; }
{S} table.eqs td.lhs { text-align: right; white-space: nowrap; }
{S} table.eqs td.rhs { text-align: left; }
{S} math { font-size: 1.1em; font-family: "STIX Two Math", "Cambria Math", "Latin Modern Math", "Noto Sans Math", math; }
{S} math[display="block"] { margin: 0; display: inline-block; }
{S} table.check { border-collapse: collapse; margin: .5em 0 .5em 1em; font-variant-numeric: tabular-nums; }
{S} table.check th, {S} table.check td { border-bottom: 1px solid #e4e4e4; padding: .25em .8em; text-align: right; }
{S} table.check td:first-child, {S} table.check th:first-child { text-align: left; }
{S} .warning { background: #fff6e0; border-left: 4px solid #e0a000; padding: .5em .8em; margin: .6em 0; }
""".replace("{S}", SCOPE)
_PAGE_CSS = "body { margin: 2em auto; padding: 0 1em; max-width: 1100px; }"   # a whole page only


def _mathml(tex: str, display: str = "block") -> str:
    from latex2mathml.converter import convert

    return convert(tex, display=display)


def block_html(dv, b) -> str:
    """One block of a derivation as HTML (MathML for its equations); the slides reuse it."""
    if b.kind == "heading":
        return f"<h{b.level}>{b.prose(html_mod.escape, html_text)}</h{b.level}>"
    if b.kind == "para":
        return f"<p>{b.prose(html_mod.escape, html_text)}</p>"
    if b.kind == "warning":
        return f'<p class="warning">⚠ {b.prose(html_mod.escape, html_text)}</p>'
    if b.kind == "math":
        rows = []
        for e in b.eqs:
            for lhs, rhs in e.rows(dv.precision, True):
                rows.append(f'<tr><td class="lhs">{_mathml(lhs) if lhs else ""}</td>'
                            f'<td class="rhs">{_mathml(rhs)}</td></tr>')
        return '<table class="eqs">' + "".join(rows) + "</table>" if rows else ""
    if b.kind == "table":
        head = "".join(f"<th>{html_mod.escape(h)}</th>" for h in b.header)
        body = "".join("<tr>" + "".join(f"<td>{_mathml(c[1], 'inline') if i == 0 else html_mod.escape(c[0])}</td>"
                                        for i, c in enumerate(r)) + "</tr>" for r in b.rows)
        return f'<table class="check"><tr>{head}</tr>{body}</table>'
    return ""


def html(dv, fragment: bool = False) -> str:
    parts = [h for h in (block_html(dv, b) for b in _all_blocks(dv)) if h]
    content = "\n".join(parts)
    box = f'<div class="{SCOPE[1:]}">\n{content}\n</div>'
    from ..fonts import font_face

    css = font_face(html_mod.unescape(content)) + _CSS   # the CJK glyphs used, embedded: no system font needed
    if fragment:
        return f'<div class="{SCOPE[1:]}"><style>{css}</style>\n{content}\n</div>'
    lang = "zh-CN" if dv.lang == "zh" else "en"
    title = dv.header[0].prose(html_mod.escape, html_text) if dv.header else "derivation"
    return (f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{title}</title>\n'
            f"<style>{_PAGE_CSS}{css}</style>\n</head>\n<body>\n{box}\n</body>\n</html>\n")
