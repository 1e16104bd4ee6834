"""grading/given.py: the hand-over of the learner's numbers in a layered replay."""

import numpy as np
import pytest

from chainrule.grading.given import Given, grad_of, leaf


def test_use_records_the_computed_value_and_carries_the_answer_cell_by_cell():
    g = Given({"y": [[1.0, float("nan")], [3.0, 4.0]], "loss": 2.5})
    computed = np.array([[9.0, 8.0], [7.0, 6.0]])
    carried = g.use("y", computed)
    assert carried.tolist() == [[1.0, 8.0], [3.0, 4.0]]  # the blank cell keeps the computed value
    assert g.computed["y"] is computed
    assert g.use("loss", 0.5) == 2.5 and g.computed["loss"] == 0.5
    assert g.use("dL_dy", computed) is computed  # not answered: the computed value goes on


def test_a_blank_scalar_answer_keeps_the_computed_value():
    assert Given({"loss": float("nan")}).use("loss", 0.75) == 0.75


def test_an_answer_is_read_in_the_computed_shape():
    out = Given({"h": [1.0, 2.0, 3.0, 4.0]}).use("h", np.zeros((2, 2)))
    assert out.shape == (2, 2) and out[1, 0] == 3.0


def test_leaf_and_grad_of_are_float64_and_differentiate():
    x = leaf([1.0, 2.0], grad=True)
    assert x.dtype.name == "float64" and x.requires_grad and not leaf([1.0]).requires_grad
    (x * x).sum().backward()  # d/dx Σx² = 2x
    g = grad_of(x)
    assert g.dtype == np.float64 and g.tolist() == pytest.approx([2.0, 4.0])
    g[0] = 0.0
    assert x.grad.array[0] == 2.0  # a copy
