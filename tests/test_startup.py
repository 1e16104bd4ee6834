"""What ``import chainrule`` and the CLI's first steps load (issue 14: instant start).

Figures, tables, LaTeX, TOML, JSON, zip archives, CSV and PyTorch load when first used, not at import:
checked in a fresh interpreter, so that modules imported by other tests cannot hide a regression.
"""

from __future__ import annotations

import subprocess
import sys

LAZY = ("matplotlib", "rich", "torch", "tomllib", "tomli", "json", "zipfile", "csv", "gzip", "tempfile",
        "latex2mathml", "importlib.resources", "chainrule.explain", "chainrule.viz", "chainrule.export")


def loaded_after(code: str) -> set:
    probe = f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True).stdout
    return set(out.split())


def test_import_chainrule_loads_none_of_the_heavy_modules():
    loaded = loaded_after("import chainrule")
    assert "chainrule" in loaded and "numpy" in loaded
    assert sorted(loaded & set(LAZY)) == []


def test_they_load_when_first_used():
    loaded = loaded_after("from chainrule.spec import load_spec\nfrom chainrule.data import load_dataset\n"
                          "load_spec('seed')\nload_dataset('iris')")
    assert {"tomllib", "csv"} <= loaded or {"tomli", "csv"} <= loaded
    assert "torch" not in loaded  # a spec and a data set need no PyTorch
