"""plot_loss: a list or a dict of per-epoch metrics; log scale when the values span decades."""

from __future__ import annotations

import pytest

from chainrule import viz


def test_log_scale_when_loss_spans_decades():
    drawing = viz.plot_loss([7200.0, 700.0, 50.0, 3.0, 0.2])
    assert drawing.info["log"] is True
    assert drawing.axes.get_yscale() == "log"


def test_linear_scale_when_it_does_not():
    drawing = viz.plot_loss([3.0, 2.5, 2.0, 1.9])
    assert drawing.axes.get_yscale() == "linear"
    assert viz.plot_loss([1.0, 0.0, -1.0, 200.0]).axes.get_yscale() == "linear"  # not positive: no log


def test_dict_of_metrics_draws_one_line_each_with_a_legend(svg):
    drawing = viz.plot_loss({"train": [1.0, 0.5, 0.25], "val": [1.2, 0.7, 0.5]})
    ax = drawing.axes
    assert [line.get_label() for line in ax.get_lines()] == ["train", "val"]
    assert list(ax.get_lines()[0].get_xdata()) == [1, 2, 3]  # epochs from 1
    assert list(ax.get_lines()[1].get_ydata()) == [1.2, 0.7, 0.5]
    assert ax.get_legend() is not None
    doc = svg(drawing)
    assert "series-train" in doc.ids and "series-val" in doc.ids


def test_draws_into_a_given_axes():
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.add_subplot(1, 2, 2)
    drawing = viz.plot_loss([1.0, 2.0], ax=ax)
    assert drawing.figure is fig and len(ax.get_lines()) == 1


def test_run_history_and_chinese_labels(svg):
    from chainrule.network import run

    result = run("seed", steps=5, keep_graph=0)
    drawing = viz.plot_loss(result.losses, lang="zh")
    assert list(drawing.axes.get_lines()[0].get_ydata()) == result.losses
    assert drawing.axes.get_xlabel() == "轮次"
    assert "训练损失" in svg(drawing).all_text()


def test_bad_history_is_refused():
    with pytest.raises(ValueError):
        viz.plot_loss([])
    with pytest.raises(ValueError):
        viz.plot_loss({"loss": ["a", "b"]})


def test_epoch_ticks_are_whole_numbers():
    drawing = viz.plot_loss([3.0, 2.0])  # two epochs: a default locator would tick 1.2, 1.4, ...
    ticks = drawing.figure.axes[0].get_xticks()
    assert len(ticks) and all(float(t).is_integer() for t in ticks)


def test_chinese_legend_names_the_usual_series_and_keeps_other_names(svg):
    drawing = viz.plot_loss({"train": [1.0, 0.5], "val": [1.2, 0.7], "sgd-0.1": [1.1, 0.9]}, lang="zh")
    assert [line.get_label() for line in drawing.axes.get_lines()] == ["训练", "验证", "sgd-0.1"]
    assert "series-train" in svg(drawing).ids  # the element ids keep the series' own names
