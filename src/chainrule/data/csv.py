"""Numeric CSV tables. A non-numeric target column becomes class labels (0, 1, ... in sorted order)."""

from __future__ import annotations

import csv as _csv
import io
from dataclasses import dataclass

import numpy as np

from ..errors import SpecError
from ..io import read_text

MAX_CSV_BYTES = 100_000_000


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


def load_csv(path, target=None, *, classification: bool | None = None, text: str | None = None) -> Table:
    """Read a CSV with a header row. ``target`` names the target column(s) (default: the last one).

    ``classification`` None means: a column of non-numbers is a class label column, numbers are
    regression targets. Every bad cell is reported as ``file: line N, column 'name': ...``.
    """
    where = str(path)
    if text is None:
        text = read_text(where, kind="CSV files", max_bytes=MAX_CSV_BYTES, encoding="utf-8-sig")
    rows = list(_csv.reader(io.StringIO(text)))
    rows = [(i + 1, r) for i, r in enumerate(rows) if any(cell.strip() for cell in r)]
    if len(rows) < 2:
        raise SpecError(f"{where}: expected a header row and at least one data row")
    header = [h.strip() for h in rows[0][1]]
    if len(set(header)) != len(header):
        dup = next(h for h in header if header.count(h) > 1)
        raise SpecError(f"{where}: line 1: column name {dup!r} appears twice")
    targets = [header[-1]] if target is None else ([target] if isinstance(target, str) else list(target))
    for name in targets:
        if name not in header:
            raise SpecError(f"{where}: no column named {name!r} (columns: {', '.join(header)})")
    features = [h for h in header if h not in targets]
    if not features:
        raise SpecError(f"{where}: no feature columns left after taking {', '.join(targets)} as the target")
    for line, row in rows[1:]:
        if len(row) != len(header):
            raise SpecError(f"{where}: line {line}: expected {len(header)} values (one per column), got {len(row)}")

    data = rows[1:]

    def column(name, numeric=True):
        k = header.index(name)
        values = [row[k].strip() for _, row in data]
        if not numeric:
            return values
        out = np.empty(len(values))
        for pos, ((line, _), v) in enumerate(zip(data, values)):
            try:
                out[pos] = float(v)
            except ValueError:
                raise SpecError(f"{where}: line {line}, column {name!r}: expected a number, got {v!r}") from None
            if not np.isfinite(out[pos]):
                raise SpecError(f"{where}: line {line}, column {name!r}: expected a finite number, got {v!r}")
        return out

    x = np.stack([column(name) for name in features], axis=1)

    def is_number(v):
        try:
            float(v)
            return True
        except ValueError:
            return False

    if classification is None:
        raw = column(targets[0], numeric=False)
        classification = len(targets) == 1 and not all(is_number(v) for v in raw)
    if classification:
        if len(targets) != 1:
            raise SpecError(f"{where}: classification takes exactly one target column, got {len(targets)}")
        raw = column(targets[0], numeric=False)
        if all(is_number(v) for v in raw):
            numbers = np.array([float(v) for v in raw])
            if not np.all(numbers == np.round(numbers)) or numbers.min() < 0:
                raise SpecError(f"{where}: column {targets[0]!r}: class labels must be names or whole numbers >= 0")
            classes = [str(int(c)) for c in range(int(numbers.max()) + 1)]
            y = numbers.astype(np.int64)
        else:
            classes = sorted(set(raw))
            index = {c: i for i, c in enumerate(classes)}
            y = np.array([index[v] for v in raw], dtype=np.int64)
        return Table(x, y, features, targets, classes, where)
    y = np.stack([column(name) for name in targets], axis=1)
    return Table(x, y, features, targets, None, where)
