"""Printable worksheets for a class: per student an HTML page (and a PDF where Chromium is installed)
with the network figure, the given numbers and one blank per line of the derivation, an answer-file
template in the grader's format (docs/grade.md), and a separate answer key.

Everything on a sheet is read from the derivation of the student's variant (``chainrule.explain``):
the symbols, the order of the blanks and the key's worked lines; nothing restates a formula.

Layout of ``write_class(...)``'s folder::

    sheets/class.json              the seed, the template spec and every student's variant
    sheets/s01.html, s01.pdf       the worksheet
    sheets/s01-answers.toml        the answer file the student fills in and hands back
    sheets/s01.spec.toml           the variant's spec (chainrule derive/grade/draw take it)
    sheets/key/s01-key.html        the worked answers (the derivation), for the teacher
    sheets/key/s01-key.json        the same as an answer file with every answer right
"""

from __future__ import annotations

import base64
import html as html_mod
import json
import os
import shutil
import subprocess
import tempfile

from .escape import plain_text
from .io import atomic_write

CLASS_FILE = "class.json"

TEXT = {
    "en": {
        "title": "Backpropagation worksheet", "student": "Student", "name": "Name", "given": "Given",
        "blanks": "Work out, to 3 significant digits", "target": "target",
        "how": ("Work each line by hand, in order; a line may use any value above it. Write each result "
                "in the blank, then copy it into {file} in place of its \"?\" and hand the file in."),
        "key": "Answer key", "lr": "learning rate", "figure": "The network with its starting weights",
        "fill": "fill in every \"?\" with a number; leave a \"?\" for a value you did not find",
    },
    "zh": {
        "title": "反向传播练习", "student": "学号", "name": "姓名", "given": "已知条件",
        "blanks": "请计算（保留 3 位有效数字）", "target": "期望输出",
        "how": "按顺序逐行手算，每一行可以用到它上面的任何结果。把结果写在横线上，再填进 {file} 中对应的 \"?\" 处，交回该文件。",
        "key": "参考答案", "lr": "学习率", "figure": "网络及其初始权重",
        "fill": "把每个 \"?\" 换成数字；没算出的值保留 \"?\"",
    },
}

CSS = """
@page { size: A4; margin: 14mm 14mm 14mm 14mm; }
body { font-family: "Noto Serif", "Noto Serif CJK SC", "Source Han Serif SC", Georgia, serif; font-size: 11pt;
       color: #111; max-width: 185mm; margin: 0 auto; line-height: 1.35; }
header { display: flex; justify-content: space-between; align-items: baseline; border-bottom: 2px solid #333;
         padding-bottom: 4px; margin-bottom: 8px; }
header h1 { font-size: 16pt; margin: 0; }
header .who { font-size: 11pt; }
header .who span.line { display: inline-block; width: 45mm; border-bottom: 1px solid #333; }
h2 { font-size: 12.5pt; margin: 10px 0 4px; border-bottom: 1px solid #bbb; }
h3 { font-size: 11pt; margin: 8px 0 2px; }
p.note { font-size: 9.5pt; color: #444; margin: 4px 0; }
figure { margin: 4px 0; text-align: center; break-inside: avoid; }
figure img { max-width: 100%; max-height: 85mm; }
figure figcaption { font-size: 9pt; color: #555; }
table.given { border-collapse: collapse; margin: 2px 0 6px; }
table.given td { padding: 1px 10px 1px 0; vertical-align: baseline; }
ol.blanks { margin: 0; padding-left: 2.2em; }
ol.blanks li { margin: 0; padding: 5px 0 3px; break-inside: avoid; border-bottom: 1px dotted #ccc; }
ol.blanks li .q { display: inline-block; min-width: 34mm; }
ol.blanks li .hint { color: #555; }
ol.blanks li .line { display: inline-block; width: 38mm; border-bottom: 1px solid #222; margin-left: 6px; }
ol.blanks li code { float: right; font-size: 8pt; color: #888; padding-top: 4px; }
math { font-size: 1.05em; }
"""


def _t(lang):
    return TEXT["zh" if lang == "zh" else "en"]


def _mathml(tex: str) -> str:
    from .explain.render import _mathml as convert

    return convert(tex, display="inline")


def given_figure(spec, lang: str = "en"):
    """The network with only what an exercise gives (weights, biases, inputs), no computed value:
    a ``Drawing`` (shown inline in a notebook). Drawn by viz's network drawing with the forward
    values left out."""
    import matplotlib

    from .viz import _base
    from .viz.network import _Detail, collect

    data = collect(spec, step=1)
    data.zs, data.acts, data.deltas, data.out_grad, data.loss = [], [], [], None, None
    with matplotlib.rc_context(_base.rc(lang)):
        fig = _Detail(data, "values", lang, _base.labels(lang), None).draw()
    return _base.Drawing(fig, "network", lang)


def figure_png(spec, lang: str = "en", dpi: int = 150) -> bytes:
    return given_figure(spec, lang).to_bytes("png", dpi=dpi)


def _given_rows(dv, t) -> list[str]:
    """The given numbers as (symbol, value) table rows: inputs, targets, parameters, η."""
    from .explain.render import _init_blocks
    from .explain.symbols import num_latex

    spec, rows = dv.spec, []
    for s in range(spec.batch_size):
        tag = f"^{{[{s + 1}]}}" if spec.batch_size > 1 else ""
        xs = ",\\ ".join(f"x_{{{i + 1}}}{tag}={num_latex(v, 6)}" for i, v in enumerate(spec.x[s]))
        if spec.loss == "cross_entropy":
            ys = f"y{tag}={int(spec.y[s])}"
        else:
            yv = spec.y[s] if spec.y.ndim == 2 else spec.y
            ys = ",\\ ".join(f"y_{{{j + 1}}}{tag}={num_latex(v, 6)}" if len(yv) > 1 else f"y{tag}={num_latex(v, 6)}"
                             for j, v in enumerate(yv))
        rows.append(f"<tr><td>{_mathml(xs)}</td><td>{_mathml(ys)} ({t['target']})</td></tr>")
    blocks = [b for b in _init_blocks(dv) if b.kind == "math"]
    cells = [_mathml(e.latex(dv.precision)) for b in blocks for e in b.eqs]
    per = max(spec.layers[1:])
    for k in range(0, len(cells), per):
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells[k:k + per]) + "</tr>")
    eta = _mathml(r"\eta=" + num_latex(spec.lr, 6))
    rows.append(f"<tr><td>{eta} ({t['lr']})</td></tr>")
    return rows


def _blank_items(dv, keys: set, hints: bool):
    """(heading or None, item html) in the derivation's order, one item per blank."""
    doc = dv.steps[0]
    out, seen = [], set()
    for block in doc.blocks:
        if block.kind == "heading" and block.level <= 4:
            out.append((block, None))
        elif block.kind == "math":
            for e in block.eqs:
                if e.key in keys and e.key not in seen:
                    seen.add(e.key)
                    lhs = _mathml(e.lhs[1])
                    hint = f' <span class="hint">{_mathml("=" + e.forms[0][1])}</span>' if hints and e.forms else ""
                    out.append((None, f'<li><span class="q">{lhs}{hint}</span> = <span class="line"></span>'
                                      f"<code>{html_mod.escape(e.key)}</code></li>"))
    # headings without blanks under them are dropped
    html, pending, number = [], [], 0
    for head, item in out:
        if head is not None:
            pending = [h for h in pending if h.level < head.level] + [head]
            continue
        if pending:
            if html:
                html.append("</ol>")
            html += [f"<h3>{html_mod.escape(h.text)}</h3>" for h in pending]
            html.append(f'<ol class="blanks" start="{number + 1}">')
            pending = []
        number += 1
        html.append(item)
    if html:
        html.append("</ol>")
    return "\n".join(html)


def _cjk_css(body_font: bool = True) -> str:
    """Chinese pages: the system's Noto Sans CJK, else the one the ``noto-cjk-sans-otc`` package
    installed (a local file, so a printed PDF has its glyphs even where no CJK font is installed)."""
    try:
        import noto_cjk_sans_otc

        url = "file://" + str(noto_cjk_sans_otc.FONT_PATH)
    except ImportError:
        url = None
    src = 'local("Noto Sans CJK SC")' + (f', url("{url}")' if url else "")
    face = f'@font-face {{ font-family: "chainrule CJK"; src: {src}; }}\n'
    if not body_font:
        return face
    return face + 'body { font-family: "Noto Serif", Georgia, serif, "Noto Sans CJK SC", "chainrule CJK"; }\n'


def _page(title: str, lang: str, body: str) -> str:
    css = CSS + (_cjk_css() if lang == "zh" else "")
    return (f'<!DOCTYPE html>\n<html lang="{"zh-CN" if lang == "zh" else "en"}">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{html_mod.escape(title)}</title>\n<style>{css}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n")


def worksheet_html(variant, lang: str = "en", hints: bool = False, derivation=None) -> str:
    """One student's worksheet as a standalone HTML page (MathML, the figure inline: nothing fetched)."""
    from .explain import derive
    from .worksheet import blank_keys

    t = _t(lang)
    dv = derivation or derive(variant.spec, lang=lang)
    keys = set(blank_keys(variant.spec))
    png = base64.b64encode(figure_png(variant.spec, lang)).decode("ascii")
    setup = [b.text for b in dv.header if b.kind == "para"]
    body = [
        f'<header><h1>{t["title"]}: {html_mod.escape(variant.spec.name)}</h1>'
        f'<div class="who">{t["student"]} <b>{variant.id}</b> &nbsp; {t["name"]} <span class="line"></span></div></header>',
        "".join(f'<p class="note">{html_mod.escape(p)}</p>' for p in setup),
        f'<figure><img alt="network" src="data:image/png;base64,{png}"><figcaption>{t["figure"]}</figcaption></figure>',
        f'<h2>{t["given"]}</h2><table class="given">{"".join(_given_rows(dv, t))}</table>',
        f'<h2>{t["blanks"]}</h2>',
        f'<p class="note">{html_mod.escape(t["how"].format(file=answers_name(variant.id)))}</p>',
        _blank_items(dv, keys, hints),
    ]
    return _page(f"{t['title']} {variant.id}", lang, "\n".join(body))


def key_html(variant, lang: str = "en", derivation=None) -> str:
    """The answer key: the variant's whole worked derivation, headed with the student's id."""
    from .explain import derive
    from .explain.render import html as derivation_html

    t = _t(lang)
    dv = derivation or derive(variant.spec, lang=lang)
    inner = derivation_html(dv, fragment=True)
    return _page(f"{t['key']} {variant.id}", lang,
                 f"<header><h1>{t['key']}: {html_mod.escape(variant.spec.name)}</h1>"
                 f'<div class="who">{t["student"]} <b>{variant.id}</b></div></header>\n{inner}')


# ----------------------------------------------------------------------------- files
def answers_name(vid: str) -> str:
    return f"{vid}-answers.toml"


def _toml_value(v) -> str:
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    return repr(float(v))


def _blank_tree(value, path: str, keys: set):
    """``value`` (the truth's shape) with "?" where a blank is asked and None where it is not."""
    if isinstance(value, list):
        items = [_blank_tree(v, f"{path}[{k}]", keys) for k, v in enumerate(value)]
        return items if any(i is not None for i in items) else None
    return "?" if path in keys else None


def _fill(tree):
    """Blank positions not asked for are written "" (not graded) so the lists keep their shape."""
    if isinstance(tree, list):
        return [_fill(v) for v in tree]
    return "" if tree is None else tree


def answers_template(variant, lang: str = "en") -> str:
    """The answer file for ``variant``: TOML in the grader's format, a "?" per blank."""
    from .network import run as run_spec
    from .worksheet import blank_keys

    t = _t(lang)
    keys = set(blank_keys(variant.spec))
    truth = run_spec(variant.spec, steps=1).steps[0].to_dict()
    lines = [f"# {t['title']}: {plain_text(variant.spec.name)}, {t['student']} {variant.id}",
             f"# {t['fill']}", "# chainrule grade --class SHEETS ANSWERS (docs/grade.md, docs/worksheets.md)",
             f'spec = "{variant.id}"', 'name = ""', ""]
    scalars, tables = [], []
    for key in ("output", "loss", "dL_doutput", "delta"):
        if truth.get(key) is None:
            continue
        tree = _blank_tree(truth[key], key, keys)
        if tree is not None:
            scalars.append(f"{key} = {_toml_value(_fill(tree))}")
    lines += scalars
    for n, layer in enumerate(truth["forward"]):
        parts = []
        for part in ("z", "a"):
            tree = _blank_tree(layer[part], f"forward[{n}].{part}", keys)
            if tree is not None:
                parts.append(f"{part} = {_toml_value(_fill(tree))}")
        if parts:
            tables += ["", "[[forward]]", f"layer = {n + 1}", *parts]
    for section in ("grad", "params_after"):
        rows = []
        for name, value in truth[section].items():
            tree = _blank_tree(value, f"{section}.{name}", keys)
            if tree is not None:
                rows.append(f"{name} = {_toml_value(_fill(tree))}")
        if rows:
            tables += ["", f"[{section}]", *rows]
    return "\n".join(lines + tables) + "\n"


def variant_toml(variant) -> str:
    """The variant as a spec file (TOML) that every chainrule command takes."""
    raw = variant.raw
    lines = [f"# worksheet variant {variant.id} (class seed {variant.seed})"]
    for key in ("name", "layers", "activations", "bias", "loss", "lr", "steps", "optimizer", "negative_slope"):
        if key in raw:
            lines.append(f"{key} = {_toml_value(raw[key])}")
    lines += ["", "[init]"] + [f"{k} = {_toml_value(v)}" for k, v in raw["init"].items()]
    lines += ["", "[data]"] + [f"{k} = {_toml_value(v)}" for k, v in raw["data"].items()]
    return "\n".join(lines) + "\n"


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def html_to_pdf(html_path: str, pdf_path: str, browser: str | None = None, timeout: float = 120) -> None:
    """Print an HTML file to PDF with headless Chromium (A4, as the page's @page rule says)."""
    browser = browser or find_chromium()
    if browser is None:
        raise OSError("PDF needs Chromium (apt-get install chromium); use --pdf no for HTML only")
    folder = os.path.dirname(os.path.abspath(pdf_path))
    fd, tmp = tempfile.mkstemp(prefix=".sheet-", suffix=".pdf", dir=folder)
    os.close(fd)
    with tempfile.TemporaryDirectory(prefix="chainrule-chromium-") as profile:
        cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
               "--print-to-pdf-no-header", f"--user-data-dir={profile}", f"--print-to-pdf={tmp}",
               "file://" + os.path.abspath(html_path)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
            if proc.returncode != 0 or os.path.getsize(tmp) == 0:
                raise OSError(f"{browser} could not print {html_path} to PDF: {proc.stderr.strip()[-300:]}")
            os.chmod(tmp, 0o644)
            os.replace(tmp, pdf_path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


def write_class(template, n: int, seed: int, out: str, lang: str = "en", pdf: str = "auto",
                hints: bool = False, lr: float | None = None, sig_digits: int = 3) -> dict:
    """Write ``n`` students' worksheets, answer templates and keys into ``out``; return the class record."""
    from .explain import derive
    from .spec import load_spec
    from .worksheet import variant

    if n < 1:
        raise ValueError(f"worksheet: --variants must be 1 or more, got {n}")
    template = load_spec(template)
    browser = None
    if pdf != "no":
        browser = find_chromium()
        if browser is None and pdf == "yes":
            raise OSError("worksheet: --pdf yes needs Chromium (apt-get install chromium)")
    os.makedirs(os.path.join(out, "key"), exist_ok=True)
    students = []
    for index in range(1, n + 1):
        v = variant(template, seed, index, lr=lr, sig_digits=sig_digits)
        dv = derive(v.spec, lang=lang)
        base = os.path.join(out, v.id)
        atomic_write(base + ".html", worksheet_html(v, lang, hints, derivation=dv))
        atomic_write(base + ".spec.toml", variant_toml(v))
        atomic_write(os.path.join(out, answers_name(v.id)), answers_template(v, lang))
        atomic_write(os.path.join(out, "key", f"{v.id}-key.html"), key_html(v, lang, derivation=dv))
        key_dv = dv if lang == "en" else derive(v.spec)
        atomic_write(os.path.join(out, "key", f"{v.id}-key.json"), key_dv.to_json() + "\n")
        if browser is not None:
            html_to_pdf(base + ".html", base + ".pdf", browser)
        students.append({"id": v.id, "index": index, "spec": f"{v.id}.spec.toml", "answers": answers_name(v.id),
                         "rejected_draws": len(v.rejected), "x": v.raw["data"]["x"], "y": v.raw["data"]["y"]})
    record = {"format": "chainrule-class", "version": 1, "template": template.name, "seed": seed, "lang": lang,
              "sig_digits": sig_digits, "students": students}
    atomic_write(os.path.join(out, CLASS_FILE), json.dumps(record, ensure_ascii=False, indent=1) + "\n")
    return record


__all__ = ["answers_template", "figure_png", "html_to_pdf", "key_html", "variant_toml", "worksheet_html", "write_class"]
