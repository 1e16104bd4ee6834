"""draw_graph: the recorded graph of (a*b + c).relu(), values and gradients computed by hand."""

from __future__ import annotations

import pytest

import chainrule as cr
from chainrule import viz
from chainrule.errors import GraphError
from chainrule.viz.graph import layout, trace

A, B, C = 2.0, -3.0, 10.0
MUL = A * B  # -6
ADD = MUL + C  # 4
RELU = max(ADD, 0.0)  # 4
# d relu/d add = 1 (add > 0); d add/d mul = d add/d c = 1; d mul/d a = b, d mul/d b = a
G_ADD, G_MUL, G_C = 1.0, 1.0, 1.0
G_A, G_B = G_MUL * B, G_MUL * A  # -3, 2


def expression():
    a = cr.tensor(A, requires_grad=True)
    b = cr.tensor(B, requires_grad=True)
    c = cr.tensor(C, requires_grad=True)
    a.name, b.name, c.name = "a", "b", "c"
    m = a * b
    m.retain_grad()
    s = m + c
    s.retain_grad()
    out = s.relu()
    return out, (a, b, c, m, s)


def n(v):
    return format(v, "g")


@pytest.fixture
def drawn(svg):
    out, _ = expression()
    out.backward(retain_graph=True)
    drawing = viz.draw_graph(out)
    return drawing, svg(drawing)


def test_one_node_per_op_and_leaf(drawn):
    drawing, doc = drawn
    assert drawing.info == {"nodes": 6, "ops": 3, "edges": 5}
    heads = sorted(doc.text(i) for i in doc.ids if i.endswith("-head"))
    assert heads == ["a", "add", "b", "c", "mul", "relu"]
    assert doc.count("gbox-") == 6
    assert sorted(i.rsplit("-", 1)[1] for i in doc.ids if i.startswith("gbox-")) == ["leaf"] * 3 + ["op"] * 3


def test_edges_go_from_inputs_to_outputs(drawn):
    _, doc = drawn
    heads = {i.split("-")[1]: doc.text(i) for i in doc.ids if i.endswith("-head")}
    pairs = {tuple(heads[k] for k in i.split("-")[1:]) for i in doc.ids if i.startswith("gedge-")}
    assert pairs == {("a", "mul"), ("b", "mul"), ("mul", "add"), ("c", "add"), ("add", "relu")}


def test_values_and_gradients(drawn):
    _, doc = drawn
    by_head = {doc.text(i): i[: -len("-head")] for i in doc.ids if i.endswith("-head")}
    expected = {"a": (A, G_A), "b": (B, G_B), "c": (C, G_C), "mul": (MUL, G_MUL), "add": (ADD, G_ADD),
                "relu": (RELU, None)}
    for head, (value, grad) in expected.items():
        gid = by_head[head]
        assert doc.text(f"{gid}-value") == f"value {n(value)}", head
        if grad is None:
            assert f"{gid}-grad" not in doc.ids  # the output's own gradient is not kept, as in PyTorch
        else:
            assert doc.text(f"{gid}-grad") == f"grad {n(grad)}", head


def test_laid_out_left_to_right(drawn):
    drawing, doc = drawn
    ax = drawing.figure.axes[0]
    x = {}
    for artist in ax.artists:
        gid = artist.get_gid()
        head = doc.text("gnode-" + gid.split("-")[1] + "-head")
        x[head] = artist.xybox[0]
    assert x["a"] < x["mul"] < x["add"] < x["relu"]
    assert x["b"] < x["mul"] and x["c"] < x["add"]


def test_layout_longest_path_layers():
    # 0 is the output; 1 feeds 0; 2 feeds 1 and 0; 3 feeds 2.
    rank, columns = layout(4, [(1, 0), (2, 1), (2, 0), (3, 2)])
    assert rank == [0, 1, 2, 3]
    assert [sorted(c) for c in columns] == [[0], [1], [2], [3]]


def test_shared_input_is_one_node():
    a = cr.tensor(3.0, requires_grad=True)
    y = a * a + a
    nodes, edges = trace(y)
    assert len(nodes) == 3  # add, mul, a
    assert len(edges) == 4  # a→mul twice, mul→add, a→add


def test_freed_graph_is_refused_with_a_hint():
    out, _ = expression()
    out.backward()
    with pytest.raises(GraphError, match="retain_graph=True"):
        viz.draw_graph(out)


def test_before_backward_no_gradients_and_array_summaries(svg):
    x = cr.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]], requires_grad=True)
    y = (x * 2).sum()
    doc = svg(viz.draw_graph(y, params={"x": x}))
    assert not any(i.endswith("-grad") for i in doc.ids)
    text = doc.all_text()
    assert "value 90" in text  # 2 * (1 + ... + 9)
    assert "3×3: mean 5" in text  # nine values are summarised, not listed
