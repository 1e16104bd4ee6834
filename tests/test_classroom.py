"""`chainrule grade --class`: a class of seed variants with planted mistakes.

The planted answers are worked by hand algebra (tests/worksheet_helpers.py), one classic mistake per
student; the gradebook must name each student's first mistake and count the class's mistakes.
"""

from __future__ import annotations

import csv
import json

import pytest
from worksheet_helpers import answer_file, seed_by_hand

from chainrule import worksheet as ws
from chainrule.classroom import grade_class, mistake_kind
from chainrule.cli import main
from chainrule.sheet import write_class

PLANTED = {"s01": {}, "s02": {"sign": -1.0}, "s03": {"two": 2.0}, "s05": {"ascent": True}, "s06": {"sign": -1.0}}


@pytest.fixture(scope="module")
def classroom(tmp_path_factory):
    root = tmp_path_factory.mktemp("class")
    sheets, answers = root / "sheets", root / "answers"
    write_class("seed", 6, 11, str(sheets), pdf="no")
    answers.mkdir()
    for sid, mistake in PLANTED.items():
        spec = ws.variant("seed", 11, int(sid[1:])).spec
        data = answer_file(seed_by_hand(spec)(**mistake), sid, name=f"student {sid}")
        # s06 is found by its file name alone
        if sid == "s06":
            data.pop("spec")
        (answers / f"{sid}-done.json").write_text(json.dumps(data))
    (answers / "notes.toml").write_text('loss = 1\n')
    return sheets, answers, root


def test_rows_name_each_first_mistake(classroom):
    sheets, answers, _ = classroom
    report = grade_class(str(sheets), str(answers))
    rows = {r.student: r for r in report.rows}
    assert list(rows) == ["s01", "s02", "s03", "s04", "s05", "s06"]
    assert rows["s01"].score == 100 and rows["s01"].first_mistake == "" and rows["s01"].name == "student s01"
    assert rows["s02"].first_mistake_key == "dL_doutput[0]" and rows["s02"].cause == "a sign error in ∂L/∂y'"
    assert rows["s03"].first_mistake_key == "loss" and rows["s03"].cause == "the ½ of the loss forgotten"
    assert rows["s04"].status == "missing" and rows["s04"].score == 0
    assert rows["s05"].first_mistake_key.startswith("params_after.")
    assert "wrong way" in rows["s05"].cause
    # the sign error: ∂L/∂y' and the output δ are wrong; every gradient and update follows from them
    assert rows["s02"].wrong >= 1 and rows["s02"].carried >= 9 and rows["s02"].score < 50
    assert rows["s06"].cause == rows["s02"].cause
    assert report.unmatched == ["notes.toml"]
    summary = dict(report.summary)
    assert summary["a sign error in ∂L/∂y'"] == 2 and summary["the ½ of the loss forgotten"] == 1
    assert report.summary[0] == ("a sign error in ∂L/∂y'", 2)


def test_cli_writes_gradebook_and_chart(classroom, capsys):
    sheets, answers, root = classroom
    book = root / "grades.csv"
    assert main(["grade", "--class", str(sheets), str(answers), "--gradebook", str(book)]) == 0
    out = capsys.readouterr().out
    assert "Common mistakes" in out and "a sign error" in out
    rows = list(csv.DictReader(book.open()))
    assert [r["student"] for r in rows] == ["s01", "s02", "s03", "s04", "s05", "s06"]
    assert rows[0]["score"] == "100" and rows[3]["status"] == "missing"
    assert (root / "grades-mistakes.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_inputs_are_named(tmp_path, capsys):
    assert main(["grade", "--class", str(tmp_path), str(tmp_path)]) == 2
    assert "class.json" in capsys.readouterr().err
    assert main(["grade", "seed", str(tmp_path / "a.toml"), "--gradebook", "g.csv"]) == 2
    assert "--class" in capsys.readouterr().err


def test_mistake_kind_drops_neuron_names():
    assert mistake_kind("a factor taken from the wrong neuron: ∂L/∂z_2 used where ∂L/∂z_1 belongs") == \
        "a factor taken from the wrong neuron"
    assert mistake_kind("the value of another neuron (neuron 2 instead of 1)") == "the value of another neuron"
    assert mistake_kind(None).startswith("no classic mistake")


def test_check_answers_prints_a_layered_report(capsys):
    """The lessons' check_answers grades a convolution's grids (lesson 7). Worked by hand on the shipped
    conv spec (∂L/∂y = (1, 1, −0.5; 0.5, 0.5, 0.5; 0.5, 1, 0), k = (1, 0.5; −1, 2)): y₁₁ = 1×1 + 0.5×2 +
    (−1)×0 + 2×1 = 4; ∂L/∂x₂₃ = ∂L/∂y₂₃·k₁₁ + ∂L/∂y₂₂·k₁₂ + ∂L/∂y₁₃·k₂₁ + ∂L/∂y₁₂·k₂₂ = 0.5 + 0.25 + 0.5 + 2
    = 3.25 (right); for ∂L/∂x₂₂ the unflipped kernel gives 1×1 + 1×0.5 + 0.5×(−1) + 0.5×2 = 2 instead of
    1×2 + 1×(−1) + 0.5×0.5 + 0.5×1 = 1.75 (wrong, and the grader names the flip)."""
    from chainrule.classroom import check_answers

    blank = [["?"] * 4 for _ in range(4)]
    dx = [row[:] for row in blank]
    dx[1][1], dx[1][2] = 2, 3.25
    report = check_answers("conv", {"y": [[4, "?", "?"], ["?", "?", "?"], ["?", "?", "?"]], "dL_dx": dx})
    out = capsys.readouterr().out
    assert report.counts["right"] == 2 and report.counts["wrong"] == 1
    assert "right" in out and "1.75" in out and "flip" in out
