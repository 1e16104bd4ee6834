"""grading/marks.py: a report's tally of its marks."""

from types import SimpleNamespace as Mark

from chainrule.grading.marks import Tally


class Report(Tally):
    def __init__(self, marks):
        self.marks = marks


def test_counts_verdict_and_carried_groups_in_report_order():
    marks = [Mark(status="right", carried_from=None), Mark(status="wrong", carried_from=None),
             Mark(status="carried", carried_from=["y"]), Mark(status="carried", carried_from=["dL_dy"]),
             Mark(status="carried", carried_from=["y"])]
    r = Report(marks)
    assert r.counts == {"right": 1, "wrong": 1, "carried": 3}
    assert not r.all_right and Report(marks[:1]).all_right
    assert [(origin, len(ms)) for origin, ms in r.carried_groups] == [(("y",), 2), (("dL_dy",), 1)]
    assert r.carried_groups[0][1] == [marks[2], marks[4]]
