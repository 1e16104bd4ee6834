"""Numeric CSV tables. A non-numeric target column becomes class labels (0, 1, ... in sorted order)."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import numpy as np

from ..errors import SpecError
from ..io import read_text

MAX_CSV_BYTES = 100_000_000
MAX_CELL_CHARS = 1_000        # a number, or a class name, is never longer
MAX_COLUMNS = 100_000
MAX_CLASS = 9_999             # the largest class index: a layer has at most 10,000 outputs
# A decimal number as a person writes it in a table: 3, -0.5, .5, 1e-3. Not Python's wider float()
# syntax: "3_5" (35 to Python), "infinity", "nan" and full-width digits are refused.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


@dataclass
class Table:
    """Features ``x`` (N, F) float64 and targets ``y``: (N,) int64 class labels or (N, T) float64."""

    x: np.ndarray
    y: np.ndarray
    feature_names: list
    target_names: list
    classes: list | None
    source: str

    @property
    def is_classification(self) -> bool:
        return self.classes is not None


def is_number(text: str) -> bool:
    """Whether a CSV cell is a decimal number (see ``_NUMBER``)."""
    return _NUMBER.fullmatch(text) is not None


def parse_number(text: str, where: str) -> float:
    """The value of a CSV cell: a finite decimal number, or a ``SpecError`` that starts with ``where``."""
    if text.lstrip("+-").lower() in ("inf", "infinity", "nan"):
        raise SpecError(f"{where}: expected a finite number, got {text!r}")
    if not is_number(text):
        raise SpecError(f"{where}: expected a number, got {text[:40]!r}")
    value = float(text)
    if not np.isfinite(value):
        raise SpecError(f"{where}: expected a finite number (at most 1.8e308), got {text[:40]!r}")
    return value


def _rows(text: str, where: str):
    """(line number, cells) of every non-blank row. Line endings may be \\n, \\r\\n or \\r alone."""
    import csv as _csv  # here, not at import: start-up time

    reader = _csv.reader(io.StringIO(text.replace("\r\n", "\n").replace("\r", "\n")))
    out = []
    try:
        for cells in reader:
            if _CONTROL.search("".join(cells)):
                raise SpecError(f"{where}: line {reader.line_num}: a cell holds a line break or another control "
                                f"character (numbers and class names never do)")
            if any(len(c) > MAX_CELL_CHARS for c in cells):
                raise SpecError(f"{where}: line {reader.line_num}: a cell longer than {MAX_CELL_CHARS:,} characters")
            if len(cells) > MAX_COLUMNS:
                raise SpecError(f"{where}: line {reader.line_num}: {len(cells):,} columns is more than the "
                                f"{MAX_COLUMNS:,} chainrule reads")
            if any(c.strip() for c in cells):
                out.append((reader.line_num, cells))
    except _csv.Error as exc:
        raise SpecError(f"{where}: line {max(reader.line_num, 1)}: not valid CSV: {exc}") from None
    return out


def load_csv(path, target=None, *, classification: bool | None = None, text: str | None = None) -> Table:
    """Read a CSV with a header row. ``target`` names the target column(s) (default: the last one).

    ``classification`` None means: a column of non-numbers is a class label column, numbers are
    regression targets. Every bad cell is reported as ``file: line N, column 'name': ...``.
    """
    where = str(path)
    if text is None:
        text = read_text(where, kind="CSV files", max_bytes=MAX_CSV_BYTES, encoding="utf-8-sig")
    rows = _rows(text, where)
    if len(rows) < 2:
        raise SpecError(f"{where}: expected a header row and at least one data row")
    header = [h.strip() for h in rows[0][1]]
    position = {}
    for k, h in enumerate(header):
        if h in position:
            raise SpecError(f"{where}: line {rows[0][0]}: column name {h!r} appears twice")
        position[h] = k
    targets = [header[-1]] if target is None else ([target] if isinstance(target, str) else list(target))
    for name in targets:
        if name not in position:
            shown = ", ".join(header[:20]) + (f", … ({len(header):,} in all)" if len(header) > 20 else "")
            raise SpecError(f"{where}: no column named {name!r} (columns: {shown})")
    target_set = set(targets)
    features = [h for h in header if h not in target_set]
    if not features:
        raise SpecError(f"{where}: no feature columns left after taking {', '.join(targets)} as the target")
    for line, row in rows[1:]:
        if len(row) != len(header):
            raise SpecError(f"{where}: line {line}: expected {len(header)} values (one per column), got {len(row)}")

    data = rows[1:]
    cells = [[c.strip() for c in row] for _, row in data]  # one pass over the table, whatever its width

    def column(name, numeric=True):
        k = position[name]
        values = [row[k] for row in cells]
        if not numeric:
            return values
        return np.array([parse_number(v, f"{where}: line {line}, column {name!r}")
                         for (line, _), v in zip(data, values)], dtype=np.float64)

    x = np.empty((len(data), len(features)))
    for f, name in enumerate(features):
        x[:, f] = column(name)

    if classification is None:
        raw = column(targets[0], numeric=False)
        classification = len(targets) == 1 and not all(is_number(v) for v in raw)
    if classification:
        if len(targets) != 1:
            raise SpecError(f"{where}: classification takes exactly one target column, got {len(targets)}")
        raw = column(targets[0], numeric=False)
        if all(is_number(v) for v in raw):
            numbers = np.array([float(v) for v in raw])
            if not np.all(np.isfinite(numbers)) or not np.all(numbers == np.round(numbers)) or numbers.min() < 0:
                raise SpecError(f"{where}: column {targets[0]!r}: class labels must be names or whole numbers >= 0")
            if numbers.max() > MAX_CLASS:
                raise SpecError(f"{where}: column {targets[0]!r}: class label {numbers.max():g} is more than "
                                f"{MAX_CLASS:,}, the largest a network can have (one output per class)")
            classes = [str(c) for c in range(int(numbers.max()) + 1)]
            y = numbers.astype(np.int64)
        else:
            classes = sorted(set(raw))
            index = {c: i for i, c in enumerate(classes)}
            y = np.array([index[v] for v in raw], dtype=np.int64)
        return Table(x, y, features, targets, classes, where)
    y = np.stack([column(name) for name in targets], axis=1)
    return Table(x, y, features, targets, None, where)
