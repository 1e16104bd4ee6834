"""Data sets that ship inside the package (no downloads).

``iris``: Fisher's iris measurements (150 flowers, 4 features, 3 species), from the UCI Machine
Learning Repository (CC BY 4.0), as distributed with scikit-learn.
"""

from __future__ import annotations

from importlib import resources

from ..errors import SpecError
from .csv import Table, load_csv


def dataset_names() -> list[str]:
    folder = resources.files("chainrule.data") / "files"
    return sorted(p.name[:-4] for p in folder.iterdir() if p.name.endswith(".csv"))


def load_dataset(name: str) -> Table:
    if name not in dataset_names():
        raise SpecError(f"{name}: no such bundled data set (bundled: {', '.join(dataset_names())})")
    ref = resources.files("chainrule.data") / "files" / f"{name}.csv"
    return load_csv(f"{name} (bundled data set)", text=ref.read_text(encoding="utf-8"))
