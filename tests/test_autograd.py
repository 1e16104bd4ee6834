"""The backward engine: accumulation, graph lifetime, grad mode, deep graphs, dtypes, versions, sum_to.

Expected numbers are hand algebra (stated next to each assertion) or PyTorch.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import sum_to
from chainrule.errors import DTypeError, GraphError, ShapeError


def leaf(values, dtype=np.float64):
    return cr.tensor(np.array(values, dtype=dtype), requires_grad=True)


@pytest.fixture
def float64_default():
    before = cr.get_default_dtype()
    cr.set_default_dtype(np.float64)
    yield
    cr.set_default_dtype(before)


# ----------------------------------------------------------------------------- accumulation
def test_gradients_accumulate_across_backward_calls():
    x = leaf([1.0, 2.0])
    (x * 3).sum().backward()
    (x * x).sum().backward()
    # 3 + 2x
    np.testing.assert_array_equal(x.grad, [5.0, 7.0])


def test_reused_node_gets_the_sum_of_its_paths():
    x = leaf(3.0)
    h = x * x  # used three times below
    y = h + h * h + 2 * h
    y.backward()
    # y = 3x^2 + x^4 -> dy/dx = 6x + 4x^3 = 18 + 108
    assert x.grad == pytest.approx(126.0)


def test_a_node_feeding_another_input_of_the_same_op_runs_after_it():
    # c = a·b with b = 3a: c's node sends gradients to two nodes, one of which feeds the other, so
    # a's node must wait for b's contribution (backward hands a chain's gradient on without the heap,
    # but not here). c = 3a² = 12x² with a = 2x -> dc/dx = 24x = 72 at x = 3.
    x = leaf(3.0)
    a = x * 2
    b = a * 3
    (a * b).backward()
    assert x.grad == pytest.approx(72.0)
    # the same with the operands the other way round: b's node is reached first, a's second
    y = leaf(3.0)
    a = y * 2
    (a * 3 * a).backward()
    assert y.grad == pytest.approx(72.0)


def test_same_leaf_in_two_graphs_accumulates():
    w = leaf([1.0, -1.0])
    (w * 2).sum().backward()
    (w.exp()).sum().backward()
    np.testing.assert_allclose(w.grad, 2 + np.exp([1.0, -1.0]), rtol=1e-15)


def test_leaf_grads_do_not_alias_each_other_or_the_upstream_gradient():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    g = np.array([1.0, 1.0])
    (a + b).backward(gradient=g)
    assert a.grad is not b.grad and a.grad is not g
    a.grad[0] = 100.0
    g[1] = 50.0
    np.testing.assert_array_equal(b.grad, [1.0, 1.0])
    np.testing.assert_array_equal(a.grad, [100.0, 1.0])


def test_broadcast_gradient_is_a_writable_array():
    x = leaf(np.ones(3))
    x.sum().backward()
    x.grad += 1  # would fail on a read-only broadcast view
    np.testing.assert_array_equal(x.grad, [2.0, 2.0, 2.0])


def test_zero_dim_leaf_grad_is_a_tensor_accumulated_in_place():
    x = leaf(1.5)
    (x * x * x).backward()
    grad = x.grad
    assert type(grad) is cr.Tensor and grad.shape == () and not grad.requires_grad
    assert x.grad == pytest.approx(6.75)  # 3x^2
    (x * x).backward()
    assert x.grad is grad and grad == pytest.approx(9.75)  # + 2x, into the same tensor (PyTorch)
    x.grad[...] = 0.0  # writable in place, like any gradient


def test_backward_on_a_leaf_accumulates_the_given_gradient():
    x = leaf([1.0, 2.0])
    x.backward(gradient=np.array([0.5, 0.25]))
    x.backward(gradient=np.array([0.5, 0.25]))
    np.testing.assert_array_equal(x.grad, [1.0, 0.5])


def test_intermediate_without_grad_is_skipped():
    x = leaf([1.0, 2.0])
    c = cr.tensor(np.array([5.0, 6.0]))
    y = (c * 2 + 1) * x
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [11.0, 13.0])
    assert c.grad is None


# ----------------------------------------------------------------------------- graph lifetime
def test_second_backward_through_freed_graph_raises_clear_error():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward()
    with pytest.raises(GraphError, match="retain_graph=True"):
        y.backward()


def test_backward_through_a_freed_subgraph_raises():
    x = leaf([1.0, 2.0])
    h = x.exp()
    (h * 2).sum().backward()
    with pytest.raises(GraphError, match="second time"):
        (h * 3).sum().backward()


def test_retain_graph_allows_second_backward():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    # twice 2x
    np.testing.assert_array_equal(x.grad, [4.0, 8.0])
    with pytest.raises(GraphError):
        y.backward()


def test_graph_is_released_after_backward():
    x = leaf([1.0, 2.0])
    h = x * x
    y = h.sum()
    assert y.grad_fn.parents is not None and h.grad_fn.parents is not None
    y.backward()
    assert y.grad_fn.parents is None and h.grad_fn.parents is None
    assert y.grad_fn.out is None


def test_graph_is_kept_with_retain_graph():
    x = leaf([1.0, 2.0])
    h = x * x
    y = h.sum()
    y.backward(retain_graph=True)
    assert y.grad_fn.parents is not None and h.grad_fn.parents[0] is x


def test_node_records_op_inputs_and_attributes():
    x = leaf([[1.0, 2.0]])
    y = x.sum(axis=1, keepdims=True)
    assert y.grad_fn.op.name == "sum"
    assert y.grad_fn.parents == (x,)
    assert y.grad_fn.attrs == {"axis": 1, "keepdims": True}
    assert y.grad_fn.name == "SumBackward"
    assert "SumBackward" in repr(y)


# ----------------------------------------------------------------------------- backward arguments
def test_backward_on_non_scalar_without_gradient_raises():
    x = leaf([1.0, 2.0])
    with pytest.raises(GraphError, match=r"scalar outputs.*shape \(2\)"):
        (x * 2).backward()


def test_backward_on_single_element_non_scalar_is_implicit():
    x = leaf([[3.0]])
    (x * x).backward()
    np.testing.assert_array_equal(x.grad, [[6.0]])


def test_backward_with_gradient():
    x = leaf([1.0, 2.0, 3.0])
    y = x * x
    y.backward(gradient=np.array([1.0, 0.1, 0.01]))
    # 2x * g
    np.testing.assert_allclose(x.grad, [2.0, 0.4, 0.06], rtol=1e-15)


def test_backward_with_tensor_gradient():
    x = leaf([1.0, 2.0])
    (x * 3).backward(gradient=cr.tensor(np.array([2.0, -1.0])))
    np.testing.assert_array_equal(x.grad, [6.0, -3.0])


def test_backward_gradient_shape_mismatch_raises():
    x = leaf([1.0, 2.0])
    with pytest.raises(ShapeError, match="Mismatch in shape: grad_output has a shape of"):
        (x * 2).backward(gradient=np.ones(3))


def test_backward_without_requires_grad_raises():
    with pytest.raises(GraphError, match="does not require grad"):
        cr.tensor([1.0, 2.0]).sum().backward()


def test_leaf_that_stops_requiring_grad_gets_none_like_torch():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    x.requires_grad_(False)
    y.backward()
    assert x.grad is None


def test_only_floats_can_require_grad():
    with pytest.raises(DTypeError):
        cr.tensor([1, 2], requires_grad=True)


# ----------------------------------------------------------------------------- retain_grad
def test_retain_grad_on_non_leaf():
    x = leaf([1.0, 2.0])
    h = x * 3
    h.retain_grad()
    assert h.retains_grad
    other = x * 4
    (h * h + other).sum().backward()
    np.testing.assert_array_equal(h.grad, [6.0, 12.0])  # 2h
    assert other.grad is None  # non-leaf without retain_grad keeps nothing
    np.testing.assert_array_equal(x.grad, [22.0, 40.0])  # 18x + 4


def test_retain_grad_on_the_root():
    x = leaf([1.0])
    y = (x * 2).sum()
    y.retain_grad()
    y.backward()
    assert y.grad == 1.0


# ----------------------------------------------------------------------------- grad mode
def test_no_grad_context_manager():
    x = leaf([1.0, 2.0])
    with cr.no_grad():
        assert not cr.is_grad_enabled()
        y = x * 2
    assert cr.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None


def test_no_grad_decorator():
    x = leaf([1.0, 2.0])

    @cr.no_grad()
    def double(t):
        """doc"""
        return t * 2

    y = double(x)
    assert not y.requires_grad
    assert double.__name__ == "double" and double.__doc__ == "doc"
    assert cr.is_grad_enabled()
    assert double(x).grad_fn is None  # reusable


def test_enable_grad_inside_no_grad():
    x = leaf([1.0, 2.0])
    with cr.no_grad():
        with cr.enable_grad():
            y = x * 2
        z = x * 2
        assert not cr.is_grad_enabled()
    assert y.requires_grad and not z.requires_grad
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])


def test_enable_grad_decorator_inside_no_grad():
    @cr.enable_grad()
    def f(t):
        return t * t

    x = leaf([3.0])
    with cr.no_grad():
        y = f(x)
    y.sum().backward()
    assert x.grad[0] == 6.0


def test_grad_mode_restored_after_exception():
    with pytest.raises(RuntimeError), cr.no_grad():
        raise RuntimeError("boom")
    assert cr.is_grad_enabled()


def test_backward_runs_inside_no_grad():
    x = leaf([2.0])
    y = x * x
    with cr.no_grad():
        y.backward()
    assert x.grad[0] == 4.0


# ----------------------------------------------------------------------------- deep graphs
def test_chain_of_100000_ops_backwards_without_recursion_error():
    n = 100_000
    c = 1.0 + 1e-6
    x = leaf(1.5)
    y = x
    for _ in range(n):
        y = y * c
    y.backward()
    # d/dx (x * c^n) = c^n = exp(n log c)
    assert x.grad == pytest.approx(math.exp(n * math.log(c)), rel=1e-9)


def test_long_chain_of_mixed_ops():
    x = leaf([0.3])
    y = x
    for _ in range(20_000):
        y = (y + 1.0) - 1.0
    (y * y).sum().backward()
    assert x.grad[0] == pytest.approx(0.6, rel=1e-9)


# ----------------------------------------------------------------------------- detach
def test_detach_cuts_the_graph_and_shares_memory():
    x = leaf([1.0, 2.0])
    d = (x * 2).detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    y = x.detach()
    assert np.shares_memory(y.data, x.data)
    z = (x * d).sum()  # d is a constant: dz/dx = d = 2x
    z.backward()
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])


def test_numpy_requires_detach():
    x = leaf([1.0])
    with pytest.raises(GraphError, match="detach"):
        x.numpy()
    np.testing.assert_array_equal(x.detach().numpy(), [1.0])


# ----------------------------------------------------------------------------- dtypes
def test_default_dtype_is_float32():
    assert cr.get_default_dtype() == np.float32
    assert cr.tensor([1.0, 2.0]).dtype == np.float32
    assert cr.tensor(1.5).dtype == np.float32
    assert cr.tensor([1, 2]).dtype == np.int64
    assert cr.tensor([True]).dtype == np.bool_


def test_ndarray_keeps_its_dtype():
    assert cr.tensor(np.zeros(2)).dtype == np.float64
    assert cr.tensor(np.zeros(2, dtype=np.float16)).dtype == np.float16
    assert cr.tensor(np.zeros(2, dtype=np.int32)).dtype == np.int32
    assert cr.tensor([1.0], dtype=np.float64).dtype == np.float64


def test_scalar_operand_keeps_tensor_dtype():
    x = cr.tensor(np.array([1.0], dtype=np.float32), requires_grad=True)
    y = (x * 2.5 + 1) / 3
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


def test_set_default_dtype_round_trip(float64_default):
    assert cr.get_default_dtype() == np.float64
    assert cr.tensor([1.0]).dtype == np.float64
    assert cr.zeros(2).dtype == np.float64
    assert cr.nn.Linear(2, 3).weight.dtype == np.float64
    cr.set_default_dtype(np.float32)
    assert cr.tensor([1.0]).dtype == np.float32


def test_set_default_dtype_rejects_non_float():
    before = cr.get_default_dtype()
    with pytest.raises(DTypeError):
        cr.set_default_dtype(np.int64)
    assert cr.get_default_dtype() == before


# ----------------------------------------------------------------------------- in-place and versions
def test_optimizer_step_between_forward_and_backward_raises():
    w = cr.nn.Parameter(np.array([1.0, 2.0]))
    opt = cr.optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    loss = (w * w).sum()  # saves w for its backward
    opt.step()  # modifies w in place
    with pytest.raises(GraphError, match="modified by an inplace operation"):
        loss.backward()


def test_in_place_update_of_unsaved_input_is_fine():
    # like PyTorch: add does not save its inputs, so changing w afterwards does not matter
    w = cr.nn.Parameter(np.array([1.0, 2.0]))
    loss = (w + 1).sum()
    with cr.no_grad():
        w.add_(1.0)
    loss.backward()
    np.testing.assert_array_equal(w.grad, [1.0, 1.0])


def test_in_place_on_leaf_requiring_grad_needs_no_grad():
    w = leaf([1.0, 2.0])
    with pytest.raises(GraphError, match="no_grad"):
        w.add_(1.0)
    with cr.no_grad():
        w.add_(1.0)
        w[0] = 10.0
    np.testing.assert_array_equal(w.data, [10.0, 3.0])


def test_version_counter_advances_on_in_place_ops():
    t = cr.tensor(np.zeros(3))
    v0 = t._version
    t.add_(1.0)
    t[1] = 5.0
    t.zero_()
    assert t._version == v0 + 3



@pytest.mark.parametrize(
    "alias",
    [
        lambda w: w.detach(),  # shares memory with w (PyTorch: and its version counter)
        lambda w: w[0],  # basic indexing is a view
        lambda w: w[None, ...],
        lambda w: w.reshape(2, 1),
        lambda w: w.T,
        lambda w: w.detach()[1:],
    ],
)
def test_in_place_change_through_an_alias_is_caught_by_backward(alias):
    # PyTorch: RuntimeError "one of the variables needed for gradient computation has been
    # modified by an inplace operation"; silently using the new values would give 2w = (22, 24).
    w = leaf([1.0, 2.0])
    y = (w * w).sum()
    with cr.no_grad():
        alias(w).add_(10.0)
    with pytest.raises(GraphError, match="in-place"):
        y.backward()


@pytest.mark.parametrize("alias", [lambda w: w.detach(), lambda w: w[1:], lambda w: w.reshape(2, 1)])
def test_alias_made_before_the_forward_pass_shares_the_version_counter(alias):
    # A tensor's version counter is made only when first needed; an alias taken before the op ran
    # must still share it, so the change through the alias is caught (PyTorch raises here too).
    w = leaf([1.0, 2.0])
    view = alias(w)
    y = (w * w).sum()
    with cr.no_grad():
        view.add_(10.0)
    assert w._version == view._version == 1
    with pytest.raises(GraphError, match="in-place"):
        y.backward()


def test_a_pickled_tensor_can_still_be_changed_in_place_and_tracked():
    import pickle

    t = pickle.loads(pickle.dumps(cr.tensor([1.0, 2.0])))
    t.add_(1.0)  # the unpickled counter is a copy of the fresh one: it must become a counter of its own
    np.testing.assert_array_equal(t.numpy(), [2.0, 3.0])
    w = pickle.loads(pickle.dumps(leaf([1.0, 2.0])))
    y = (w * w).sum()
    with cr.no_grad():
        w.add_(1.0)
    assert w._version == 1
    with pytest.raises(GraphError, match="in-place"):
        y.backward()


def test_an_optimizer_step_that_fails_halfway_still_invalidates_the_graph():
    # The first parameter is updated before the second one's (mismatched) buffer raises; a backward
    # through a graph that read the first must then refuse, not use the new values (PyTorch raises too).
    w1, w2 = leaf([[1.0, 2.0]]), leaf([3.0, 4.0])
    opt = cr.optim.SGD([w1, w2], lr=0.5, momentum=0.9)
    opt.state[id(w2)] = {"momentum_buffer": np.zeros(3)}
    x = leaf([[1.0], [1.0]])
    y = (w1 @ x).sum()
    w1.grad, w2.grad = cr.tensor(np.ones((1, 2))), cr.tensor(np.ones(2))
    with pytest.raises(ValueError):
        opt.step()
    assert w1._version == 1  # it was changed
    with pytest.raises(GraphError, match="in-place"):
        y.backward()


def test_fresh_tensors_do_not_share_a_version_counter():
    a, b = cr.tensor([1.0]), cr.tensor([2.0])
    a.add_(1.0)
    assert (a._version, b._version) == (1, 0)


def test_in_place_change_of_a_copy_does_not_invalidate_the_graph():
    # integer-array indexing copies (PyTorch too), so the graph stays valid: d/dw Σw² = 2w
    w = leaf([1.0, 2.0])
    y = (w * w).sum()
    with cr.no_grad():
        w[[0, 1]].add_(10.0)
    y.backward()
    np.testing.assert_array_equal(w.grad, [2.0, 4.0])

# ----------------------------------------------------------------------------- sum_to
@pytest.mark.parametrize(
    "grad_shape,shape,axes_to_sum",
    [
        ((2, 3, 4), (2, 3, 4), ()),
        ((2, 3, 4), (3, 4), (0,)),
        ((2, 3, 4), (4,), (0, 1)),
        ((2, 3, 4), (3, 1), (0, 2)),
        ((2, 3, 4), (1, 3, 1), (0, 2)),
        ((2, 3, 4), (2, 1, 4), (1,)),
        ((2, 3, 4), (), (0, 1, 2)),
        ((3,), (1,), (0,)),
    ],
)
def test_sum_to(grad_shape, shape, axes_to_sum):
    g = np.arange(np.prod(grad_shape), dtype=np.float64).reshape(grad_shape) + 1
    out = sum_to(g, shape)
    expected = g.sum(axis=axes_to_sum).reshape(shape) if axes_to_sum else g
    assert out.shape == shape
    np.testing.assert_array_equal(out, expected)


def test_sum_to_by_hand():
    g = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    np.testing.assert_array_equal(sum_to(g, (1, 3)), [[5.0, 7.0, 9.0]])
    np.testing.assert_array_equal(sum_to(g, (2, 1)), [[6.0], [15.0]])
    np.testing.assert_array_equal(sum_to(g, (3,)), [5.0, 7.0, 9.0])
    assert sum_to(g, ()) == 21.0
    assert sum_to(g, (2, 3)) is g


def test_graph_and_training_leave_no_reference_cycles():
    """Backward runs with the cyclic collector off, which is only sound if a graph frees itself by
    reference counting: after a few training steps, views, an in-place op on a non-leaf and a
    retained graph, the collector must find nothing to collect."""
    import gc

    def work():
        model = cr.nn.Sequential(cr.nn.Linear(4, 8), cr.nn.ReLU(), cr.nn.Linear(8, 3))
        opt = cr.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        x = cr.randn(5, 4)
        for _ in range(3):
            opt.zero_grad()
            loss = cr.nn.functional.cross_entropy(model(x), np.array([0, 1, 2, 0, 1]))
            loss.backward()
            opt.step()
        a = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
        b = a * 2
        c = b[1:]
        d = b.clone()
        d.mul_(3)
        e = c.sum() + d.sum() + (a**2).sum()
        e.retain_grad()
        e.backward(retain_graph=True)
        e.backward()
        # de/da = [0, 2, 2] (c is b[1:], b = 2a) + 6 (d = 3·2a) + 2a, accumulated by two backward calls
        assert a.grad.tolist() == [2 * (0 + 6 + 2), 2 * (2 + 6 + 4), 2 * (2 + 6 + 6)]

    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        work()
        assert gc.collect() == 0
    finally:
        if was_enabled:
            gc.enable()
    assert gc.isenabled() == was_enabled


def test_backward_leaves_the_collector_as_it_found_it():
    import gc

    x = cr.tensor([1.0, 2.0], requires_grad=True)
    was_enabled = gc.isenabled()
    try:
        gc.disable()
        (x * x).sum().backward()
        assert not gc.isenabled()
        gc.enable()
        (x * x).sum().backward()
        assert gc.isenabled()
    finally:
        gc.enable() if was_enabled else gc.disable()


def test_topological_order_puts_every_node_before_its_inputs():
    """A diamond (a feeds b and c, both feed d) plus an in-place op that gives b a new history:
    every node comes before the nodes of its inputs, each once; a freed graph is refused."""
    from chainrule.autograd import topological_order

    x = cr.tensor([1.0, 2.0], requires_grad=True)
    a = x * 2
    b = a.sin()
    c = a * 3
    b.mul_(2)  # b's history is now mul(sin(a), 2); c still reads the same a
    d = (b + c).sum()
    order = topological_order([d.grad_fn])
    assert len(order) == len(set(order)) == 6  # sum, add, mul_, sin, mul(3), mul(2)
    position = {node: i for i, node in enumerate(order)}
    for node in order:
        for edge in node.edges:
            if edge is not None:
                assert position[node] < position[edge]
    assert order[0] is d.grad_fn and order[-1] is a.grad_fn
    d.backward()
    with pytest.raises(GraphError, match="backward through the graph a second time"):
        topological_order([d.grad_fn])
