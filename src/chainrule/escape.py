"""User text (a spec's name and description, CSV column names) made safe for each output it reaches.

One function per target, and every writer calls the one for its target; nothing else puts user text
into generated output:

* ``plain_text``    — one line of plain text: no control characters (terminal escape sequences).
* ``python_text``   — inside a ``\"\"\"…\"\"\"`` docstring of an exported script: it can never close the
  string or form an escape sequence, so the script's statements are exactly the exporter's.
* ``latex_text``    — LaTeX prose (pdflatex with inputenc utf8): every special character escaped, never
  read as maths; characters the document's fonts cannot typeset are written as ``[U+XXXX]``.
* ``html_text``     — HTML element content or attribute value.
* ``markdown_text`` — one line of Markdown prose (a heading or a paragraph), no markup, no raw HTML,
  no ``$`` maths.
* ``figure_text``   — text drawn by matplotlib (PNG, SVG, PDF): no mathtext, nothing an XML parser
  rejects (matplotlib escapes ``<``, ``&`` itself).
* ``terminal_text`` — text printed through rich: no markup, no terminal escape sequences.
* ``file_stem``     — a default output file name made from a spec's name: no folders, no dot files.

Control characters (and unpaired surrogates, which JSON can carry) never pass through: each target
writes them in its own visible form.
"""

from __future__ import annotations

import re
import unicodedata

# C0 and C1 controls except tab/newline, DEL, unpaired surrogates, and the line/paragraph separators
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
# Chinese characters and full-width punctuation: typeset by the Chinese document's CJK package
_CJK = re.compile("[\u2e80-\u2fff\u3000-\u303f\u3040-\u9fff\uf900-\ufaff\uff00-\uffef]")


def _visible(ch: str) -> str:
    return f"[U+{ord(ch):04X}]"


def _one_line(text: str) -> str:
    """Newlines and tabs as spaces; every other unsafe character in its visible ``[U+XXXX]`` form."""
    text = re.sub(r"[\t\n\r]+", " ", str(text))
    return _UNSAFE.sub(lambda m: _visible(m.group(0)), text)


def plain_text(text: str) -> str:
    """One line of plain text (``--format text``, terminals): no control characters."""
    return _one_line(text)


# ---------------------------------------------------------------------------- Python
def python_text(text: str) -> str:
    """The body of a ``\"\"\"…\"\"\"`` docstring that reads back as ``text``: backslashes and quotes
    escaped, every non-printable character as a ``\\x``/``\\u``/``\\U`` escape."""
    out = []
    for ch in str(text):
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        else:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return "".join(out)


# ---------------------------------------------------------------------------- LaTeX
_TEX = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
        "^": r"\textasciicircum{}", "\\": r"\textbackslash{}", "|": r"\textbar{}", "<": r"\textless{}",
        ">": r"\textgreater{}", "-": "-{}", "'": "'{}", "`": "`{}", '"': "''{}", "[": "{[}", "]": "{]}"}


def latex_text(text: str, cjk: bool = False) -> str:
    """LaTeX prose for ``text``: never maths, never a command. ``cjk``: the document typesets Chinese
    (inside a CJK environment); otherwise, and for anything but printable ASCII, the character's code
    point is written instead, since pdflatex stops at a character its fonts lack."""
    out = []
    for ch in _one_line(text):
        if ch in _TEX:
            out.append(_TEX[ch])
        elif " " <= ch <= "~":
            out.append(ch)
        elif cjk and _CJK.match(ch):
            out.append(ch)
        else:
            base = unicodedata.normalize("NFKD", ch)[:1]  # é -> e: readable, and typesettable
            out.append(base if base.isascii() and base.isalnum() else _visible(ch))
    return "".join(out)


# ---------------------------------------------------------------------------- HTML
def html_text(text: str) -> str:
    """Element content or a quoted attribute value."""
    import html

    return html.escape(_one_line(text), quote=True)


# ---------------------------------------------------------------------------- Markdown
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>$~&])")


def markdown_text(text: str) -> str:
    """One line of literal Markdown prose: every ASCII punctuation character that Markdown (or its
    ``$`` maths, or raw HTML) could read is backslash-escaped."""
    return _MD_SPECIAL.sub(r"\\\1", _one_line(text))


# ---------------------------------------------------------------------------- figures
def figure_text(text: str) -> str:
    """Text for a matplotlib figure: ``$`` no longer starts mathtext, and no character an SVG (XML)
    parser would reject."""
    return _one_line(text).replace("$", r"\$")


# ---------------------------------------------------------------------------- terminal
def terminal_text(text: str) -> str:
    """Text for ``rich``: its ``[markup]`` escaped, no escape sequences reach the terminal."""
    from rich.markup import escape

    return escape(_one_line(text))


def file_stem(text: str, default: str = "spec") -> str:
    """A file name made from user text: letters, digits, ``-``, ``_`` and ``.``; no folders, no
    leading dot; at most 100 characters."""
    stem = re.sub(r"[^\w.\-]+|\.{2,}", "_", _one_line(text), flags=re.ASCII).lstrip("._")[:100]
    return stem or default
