"""Data sets that ship inside the package (no downloads).

``iris``: Fisher's iris measurements (150 flowers, 4 features, 3 species), from the UCI Machine
Learning Repository (CC BY 4.0), as distributed with scikit-learn.

``digits``: 1,797 handwritten digits as 8×8 images of integers 0..16 (64 features ``r{row}c{col}``,
target ``digit`` 0..9), the test set of the UCI "Optical Recognition of Handwritten Digits" data
(E. Alpaydin, C. Kaynak, 1998; CC BY 4.0), as distributed with scikit-learn 1.9.1
(``sklearn/datasets/data/digits.csv.gz``, the same rows in the same order, with a header added),
stored gzipped (54 kB). ``load_digits()`` gives it as (N, 1, 8, 8) images for a CNN.
"""

from __future__ import annotations

import numpy as np

from ..errors import SpecError
from .csv import Table, load_csv

_CLASSES = {"digits"}  # bundled sets whose numeric target column holds class labels, not values


def _files() -> dict:
    from importlib import resources  # here, not at import: it loads tempfile and zipfile's friends

    folder = resources.files("chainrule.data") / "files"
    found = {}
    for p in folder.iterdir():
        for ext in (".csv", ".csv.gz"):
            if p.name.endswith(ext):
                found[p.name[:-len(ext)]] = p
    return found


def dataset_names() -> list[str]:
    return sorted(_files())


def load_dataset(name: str) -> Table:
    files = _files()
    if name not in files:
        raise SpecError(f"{name}: no such bundled data set (bundled: {', '.join(dataset_names())})")
    ref = files[name]
    raw = ref.read_bytes()
    import gzip  # here, not at import: start-up time

    text = (gzip.decompress(raw) if ref.name.endswith(".gz") else raw).decode("utf-8")
    return load_csv(f"{name} (bundled data set)", text=text, classification=True if name in _CLASSES else None)


def load_digits():
    """The bundled digits as ``(images, labels)``: float32 images (1797, 1, 8, 8) scaled to [0, 1]
    (pixel / 16) and int64 labels (1797,), as NumPy arrays."""
    table = load_dataset("digits")
    return (table.x.reshape(-1, 1, 8, 8) / 16.0).astype(np.float32), table.y
