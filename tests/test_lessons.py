"""The lesson notebooks (lessons/en, lessons/zh): stored without outputs, generated from
lessons/build.py, and every one executes without a cell error. Their "checked outputs" are assert
lines in the cells (against hand algebra and Mazur's published numbers), so drift fails here.

Needs the `lessons` extra (nbclient, nbformat, ipykernel); scripts/test.sh installs it.
"""

from __future__ import annotations

import importlib.util
import os
import sys

import pytest

if os.environ.get("CI"):  # CI installs the lessons extra (scripts/setup.sh): a missing one is a failure there
    import ipykernel  # noqa: F401
    import nbclient
    import nbformat
else:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LESSONS = os.path.join(ROOT, "lessons")
NOTEBOOKS = sorted(os.path.join(lang, f) for lang in ("en", "zh")
                   for f in os.listdir(os.path.join(LESSONS, lang)) if f.endswith(".ipynb"))


def _build_module():
    spec = importlib.util.spec_from_file_location("lessons_build", os.path.join(LESSONS, "build.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_lesson_exists_in_both_languages_and_matches_build(tmp_path):
    names = {os.path.basename(n) for n in NOTEBOOKS}
    assert {"01-seed.ipynb", "02-mazur.ipynb", "03-matrices.ipynb", "04-build-an-op.ipynb",
            "05-train-for-real.ipynb", "06-what-goes-wrong.ipynb",
            "07-conv-rnn.ipynb"} <= names
    for name in names:
        assert os.path.join("en", name) in NOTEBOOKS and os.path.join("zh", name) in NOTEBOOKS
    _build_module().build(str(tmp_path))
    for rel in NOTEBOOKS:
        with open(os.path.join(LESSONS, rel), encoding="utf-8") as a, open(tmp_path / rel, encoding="utf-8") as b:
            assert a.read() == b.read(), f"{rel} is stale: run python lessons/build.py"


@pytest.mark.parametrize("rel", NOTEBOOKS)
def test_lesson_executes(rel, tmp_path):
    nb = nbformat.read(os.path.join(LESSONS, rel), as_version=4)
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    env_path = os.environ.get("PYTHONPATH")
    src = os.path.join(ROOT, "src")
    os.environ["PYTHONPATH"] = src + (os.pathsep + env_path if env_path else "")
    os.environ.setdefault("MPLBACKEND", "Agg")
    try:
        client.execute()
    finally:
        if env_path is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = env_path
    exercises = [c for c in nb.cells if c.cell_type == "code" and "check_answers(" in c.source]
    assert exercises, f"{rel}: no exercise checked by chainrule grade"
    text = "".join(o.get("text", "") for c in exercises for o in c.outputs)
    assert "right" in text or "正确" in text, f"{rel}: the exercise printed no grade"
    assert sys.executable


def test_lesson_7_in_chinese_has_no_english_words_outside_code():
    from test_zh import english_words

    nb = nbformat.read(os.path.join(LESSONS, "zh", "07-conv-rnn.ipynb"), as_version=4)
    prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "卷积" in prose and "随时间反向传播" in prose
    assert english_words(prose) == []
