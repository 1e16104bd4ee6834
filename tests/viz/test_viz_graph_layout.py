"""draw_graph: edges into non-commutative ops name the input's role, and the layout is strictly left to
right — read from the SVG's element ids and the boxes' drawn positions, never from pixels."""

from __future__ import annotations

import re

import pytest

import chainrule as cr
from chainrule import viz
from chainrule.cli import main

NUM = re.compile(r"-?\d+(?:\.\d+)?")


def boxes(doc) -> dict[int, tuple[float, float, str]]:
    """node index -> (left x, right x, kind) of its drawn frame, in SVG units."""
    out = {}
    for gid, el in doc.by_id.items():
        m = re.fullmatch(r"gbox-(\d+)-(leaf|op)", gid)
        if not m:
            continue
        path = next(p for p in el.iter("{http://www.w3.org/2000/svg}path"))
        xs = [float(v) for v in NUM.findall(path.get("d"))[0::2]]
        out[int(m.group(1))] = (min(xs), max(xs), m.group(2))
    return out


def edges(doc) -> set[tuple[int, int]]:
    return {tuple(int(v) for v in gid.split("-")[1:]) for gid in doc.ids if re.fullmatch(r"gedge-\d+-\d+", gid)}


def assert_left_to_right(doc):
    """Columns are the distinct box centres. Every edge goes from a column strictly left of its target's;
    the leftmost column holds only leaves and every leaf sits in the column just before its first consumer
    (inputs and parameters enter where they are used, from the left); the output is alone on the right."""
    box, edge = boxes(doc), edges(doc)
    assert box and edge
    centre = {i: round((lo + hi) / 2, 1) for i, (lo, hi, _) in box.items()}
    cols = sorted(set(centre.values()))
    col = {i: cols.index(c) for i, c in centre.items()}
    for p, c in edge:
        assert col[p] < col[c], (p, c, col[p], col[c])
        assert box[p][1] < box[c][0], (p, c)  # the boxes themselves do not overlap along the arrow
    consumers = {}
    for p, c in edge:
        consumers.setdefault(p, []).append(c)
    outputs = [i for i in box if i not in consumers]
    assert len(outputs) == 1
    assert col[outputs[0]] == len(cols) - 1 and [col[i] for i in box].count(len(cols) - 1) == 1
    assert all(box[i][2] == "leaf" for i in box if col[i] == 0)
    for i, (_, _, kind) in box.items():
        if kind == "leaf":
            assert col[i] == min(col[c] for c in consumers[i]) - 1, (i, col[i])
        else:
            assert any(p for p, c in edge if c == i)  # an op has inputs


def roles(doc) -> dict[tuple[str, str], str]:
    """(source head, target head) -> role label on that edge."""
    heads = {gid.split("-")[1]: doc.text(gid) for gid in doc.ids if gid.endswith("-head")}
    out = {}
    for gid in doc.ids:
        m = re.fullmatch(r"grole-(\d+)-(\d+)", gid)
        if m:
            out[(heads[m.group(1)], heads[m.group(2)])] = doc.text(gid)
    return out


def named(**values):
    out = []
    for k, v in values.items():
        t = cr.tensor(v, requires_grad=True)
        t.name = k
        out.append(t)
    return out


@pytest.mark.parametrize("name", ["seed", "mazur", "softmax", "relu"])
def test_spec_graphs_are_laid_out_left_to_right(tmp_path, svg, name):
    from conftest import SvgDoc

    out = tmp_path / "g.svg"
    assert main(["draw", name, "--what", "graph", "--out", str(out)]) == 0
    assert_left_to_right(SvgDoc(out.read_bytes()))


def test_deep_and_branching_expression_is_laid_out_left_to_right(svg):
    a, b, c = named(a=2.0, b=3.0, c=10.0)
    # a feeds ops at three depths; c enters late; the output is a pow of a sub (16 − e² > 0).
    y = ((a * b + c).relu() - a.exp()) ** (a / c)
    assert_left_to_right(svg(viz.draw_graph(y)))


def test_non_commutative_inputs_are_labelled(svg):
    a, b, c = named(a=2.0, b=3.0, c=5.0)
    doc = svg(viz.draw_graph((a - b) / (c ** b)))
    assert roles(doc) == {("a", "sub"): "a", ("b", "sub"): "b", ("sub", "div"): "a", ("pow", "div"): "b",
                          ("c", "pow"): "a", ("b", "pow"): "b"}


def test_commutative_ops_have_no_labels_and_a_reused_input_is_labelled_once(svg):
    a, b = named(a=2.0, b=3.0)
    assert roles(svg(viz.draw_graph(a * b + b))) == {}
    assert roles(svg(viz.draw_graph(a - a))) == {("a", "sub"): "a,b"}


def test_linear_and_loss_inputs_are_labelled(svg):
    x = cr.tensor([[1.0, 2.0]])
    x.name = "x"
    lin = cr.nn.Linear(2, 1)
    target = cr.tensor([[0.5]])
    target.name = "y"
    loss = cr.nn.functional.mse_loss(lin(x), target)
    doc = svg(viz.draw_graph(loss, params={"W": lin.weight, "bias": lin.bias}))
    assert roles(doc) == {("x", "linear"): "x", ("W", "linear"): "W", ("bias", "linear"): "b",
                          ("linear", "mse_loss"): "pred", ("y", "mse_loss"): "target"}
    zh = svg(viz.draw_graph(loss, params={"W": lin.weight, "bias": lin.bias}, lang="zh"))
    assert set(roles(zh).values()) == {"x", "W", "b", "预测", "目标"}


def test_weight_leaves_say_they_are_stored_out_in(svg):
    from chainrule.network import SpecNetwork, data_tensors

    model = SpecNetwork(__import__("chainrule.spec", fromlist=["load_spec"]).load_spec("seed"))
    x, y = data_tensors(model.spec)
    zs, acts = model.forward_trace(x)
    loss = model.loss(zs, acts, y)
    loss.backward(retain_graph=True)
    doc = svg(viz.draw_graph(loss, params={"x": x, **model.named_weights()}))
    layouts = [doc.text(i) for i in doc.ids if i.endswith("-layout")]
    assert layouts == ["(out, in): w_ij transposed"] * 2
