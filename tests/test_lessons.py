"""The lesson notebooks (lessons/en, lessons/zh): stored without outputs, generated from
lessons/build.py, and every one executes without a cell error. Their "checked outputs" are assert
lines in the cells (against hand algebra and Mazur's published numbers), so drift fails here.

Needs the `lessons` extra (nbclient, nbformat, ipykernel); scripts/test.sh installs it.
"""

from __future__ import annotations

import importlib.util
import io
import os
import re
import sys
import tokenize

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
    if rel.startswith("zh") and os.path.basename(rel) in ZH_PRINTS:
        _assert_chinese_prints(rel, nb)


# Chinese lessons whose printed (stream) output is checked for English words: the labels come from the
# lesson's own table chosen by LANG. Each listed line is a library message left in English on purpose
# (chainrule's errors read like PyTorch's, whose names they share); every one must still appear.
ZH_PRINTS = {
    "05-train-for-real.ipynb": [],
    "06-what-goes-wrong.ipynb": [r"^sqrt produced NaN in its forward output \(shape \(2,\)\); the op was created at .*$"],
}


def _assert_chinese_prints(rel, nb):
    from test_zh import english_words

    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.outputs if o.output_type == "stream")
    assert re.search(r"[\u4e00-\u9fff]", text)
    for pattern in ZH_PRINTS[os.path.basename(rel)]:
        text, n = re.subn(pattern, " ", text, flags=re.M)
        assert n, f"{rel}: the library message {pattern!r} is no longer printed: update ZH_PRINTS"
    assert english_words(text) == [], f"{rel}: English in the printed output (lessons/build.py SAY labels)"


def _split_comments(src: str) -> tuple[str, list[str]]:
    """A code cell's source without its comments (each line right-stripped), and the comments' text."""
    lines, comments = src.splitlines(), []
    for tok in reversed(list(tokenize.generate_tokens(io.StringIO(src).readline))):
        if tok.type == tokenize.COMMENT:
            row, col = tok.start
            lines[row - 1] = lines[row - 1][:col]
            comments.append(tok.string[1:])
    return "\n".join(line.rstrip() for line in lines), comments[::-1]


ZH_NOTEBOOKS = [rel for rel in NOTEBOOKS if rel.startswith("zh")]


@pytest.mark.parametrize("rel", ZH_NOTEBOOKS)
def test_chinese_lesson_has_no_english_words_outside_code(rel):
    from test_zh import english_words

    nb = nbformat.read(os.path.join(LESSONS, rel), as_version=4)
    prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    comments = [t for c in nb.cells if c.cell_type == "code" for t in _split_comments(c.source)[1]]
    assert re.search(r"[\u4e00-\u9fff]", prose) and comments
    assert english_words(prose) == [], f"{rel}: English in the markdown cells"
    assert [c for c in comments if english_words(c)] == [], f"{rel}: English code comments (lessons/build.py ZH_COMMENTS)"
    if rel.endswith("07-conv-rnn.ipynb"):
        assert "卷积" in prose and "随时间反向传播" in prose


@pytest.mark.parametrize("rel", ZH_NOTEBOOKS)
def test_english_and_chinese_lessons_have_the_same_code(rel):
    zh = nbformat.read(os.path.join(LESSONS, rel), as_version=4).cells
    en = nbformat.read(os.path.join(LESSONS, "en", os.path.basename(rel)), as_version=4).cells
    assert [c.cell_type for c in en] == [c.cell_type for c in zh]
    for a, b in zip(en, zh):
        if a.cell_type == "code":
            code_en, comments_en = _split_comments(a.source)
            code_zh, comments_zh = _split_comments(b.source)
            assert code_en.replace('LANG = "en"', 'LANG = "zh"') == code_zh
            assert len(comments_en) == len(comments_zh)


def test_every_chinese_comment_in_the_table_is_used():
    build = _build_module()
    used = {t for _, cells in build.LESSONS for cell in cells if cell[0] == "code"
            for t in _split_comments(cell[1])[1]}
    assert {key[1:] for key in build.ZH_COMMENTS} <= used
