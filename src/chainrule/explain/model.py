"""What a derivation is made of: equations (one per written quantity) grouped into blocks and sections.

An ``Eq`` is one line in the seed's style, symbol form = numbers plugged in = result: a left-hand
side, any number of intermediate forms, and the engine's value. Equations that write a quantity the
step's JSON also holds carry its ``key``; those become ``Derivation.entries``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .symbols import num_latex, num_text

LONG = 130  # characters of text beyond which a line is broken at its "=" signs


@dataclass
class Eq:
    lhs: tuple                      # (text, latex)
    forms: list                     # [(text, latex), ...] between the lhs and the result
    value: float | None = None      # the result (None: the line ends with its last form)
    key: str | None = None          # JSON path inside the step dict
    keys: tuple = ()                # further keys the same line writes (z and a of a neuron without activation)
    factors: list = field(default_factory=list)  # [{"symbol": ..., "value": ...}]
    arrow: bool = False             # "←" instead of "=" after the lhs (updates)
    note: tuple | None = None       # (text, latex) appended in parentheses

    def parts(self, precision: int, latex: bool) -> list[str]:
        k = 1 if latex else 0
        out = [self.lhs[k], *(f[k] for f in self.forms)]
        if self.value is not None:
            out.append(num_latex(self.value, precision) if latex else num_text(self.value, precision))
        return out

    def long(self, precision: int) -> bool:
        """Whether the line is too long for one row; renderers then put each form on its own row."""
        return len(self.forms) >= 2 and len(" = ".join(self.parts(precision, False))) > LONG

    def rows(self, precision: int, latex: bool) -> list[tuple[str, str]]:
        """(lhs, "= form") rows: one row when short, else one per form (the result joins the last)."""
        parts = self.parts(precision, latex)
        eq = (r"\leftarrow " if self.arrow else "=") if latex else ("← " if self.arrow else "= ")
        later = "=" if latex else "= "
        if not self.long(precision):
            sep = "=" if latex else " = "
            return [(parts[0], eq + sep.join(parts[1:]))]
        rest = parts[1:]
        if self.value is not None and len(rest) >= 2:
            rest = rest[:-2] + [rest[-2] + ("=" if latex else " = ") + rest[-1]]
        return [(parts[0], eq + rest[0])] + [("", later + r) for r in rest[1:]]

    def text(self, precision: int) -> str:
        parts = self.parts(precision, False)
        head = f"{parts[0]} ← " if self.arrow else f"{parts[0]} = "
        line = head + " = ".join(parts[1:])
        return line + (f"   ({self.note[0]})" if self.note else "")

    def latex(self, precision: int, align: bool = False) -> str:
        parts = self.parts(precision, True)
        op = r"\leftarrow " if self.arrow else "="
        head = parts[0] + ("&" if align else "") + op
        line = head + "=".join(parts[1:])
        return line + (rf"\quad\text{{({self.note[1]})}}" if self.note else "")


@dataclass
class Block:
    """kind: heading (level, text) | para (text) | math (eqs) | table (header, rows) | warning (text)."""

    kind: str
    text: str = ""
    level: int = 3
    eqs: list = field(default_factory=list)
    header: list = field(default_factory=list)
    rows: list = field(default_factory=list)
    user: dict = field(default_factory=dict)  # {placeholder: the user's text}: a spec's name, description
    template: str = ""  # ``text`` before the user's text went in ("…: {name}"); set with ``user``

    def prose(self, ours, theirs) -> str:
        """The block's text for one output: our own words through ``ours``, each ``{placeholder}`` of
        user text through ``theirs`` (that output's function in ``chainrule.escape``). ``text`` keeps
        the plain words for readers that want them as they are."""
        if not self.user:
            return ours(self.text)
        pieces = re.split(r"\{(\w+)\}", self.template)
        return "".join(ours(p) if i % 2 == 0 else theirs(self.user[p]) for i, p in enumerate(pieces) if p)
