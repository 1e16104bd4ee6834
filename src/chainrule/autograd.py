"""The reverse-mode engine: grad mode, graph nodes and the backward pass.

Ops (``chainrule.ops``) are pure NumPy; this module knows nothing about any particular op.
A node records the op, its parent tensors, the node that produced each parent when the op ran
(its *edges*), the attributes and the forward output: exactly what backward needs and what the
explainer later reads. Backward walks nodes, not tensors, so an in-place change that gives a
tensor a new history later does not reroute gradients of ops that used its old value.
"""

from __future__ import annotations

import functools
import gc
import heapq
import itertools
import operator

import numpy as np

from . import anomaly
from .errors import GraphError
from .xp import NUMPY

_grad_enabled = True
# One clock orders two kinds of events: recording an op (its node takes the next tick as ``seq``)
# and changing a tensor in place (``Tensor._bump`` stores its tick in ``_last_write``). A node is
# always created after the nodes of its inputs, so larger ``seq`` means later in the graph, and
# ``node.seq > _last_write`` proves that no input has changed since the op ran.
_clock = itertools.count()
_last_write = -1
_const = None  # chainrule.tensor._const (a tensor around an array), set when tensor.py loads


def wrote() -> None:
    """Note that some tensor was just changed in place (each changed tensor's counter is bumped by the
    caller): nodes recorded before now check their inputs' versions in backward."""
    global _last_write
    _last_write = next(_clock)


def is_grad_enabled() -> bool:
    return _grad_enabled


def _set_grad_enabled(mode: bool) -> bool:
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, bool(mode)
    return previous


class _GradMode:
    """Context manager and decorator that sets grad mode and restores it afterwards.

    Like PyTorch's, it works with and without parentheses as a decorator: ``@no_grad()`` and
    ``@no_grad`` both wrap the function.
    """

    mode = True

    def __new__(cls, fn=None):
        self = super().__new__(cls)
        if callable(fn):  # used as @no_grad, without parentheses
            return self(fn)
        return self

    def __init__(self, fn=None):
        pass

    def __enter__(self):
        self._previous = _set_grad_enabled(self.mode)
        return self

    def __exit__(self, *exc):
        _set_grad_enabled(self._previous)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.clone():
                return fn(*args, **kwargs)

        return wrapper

    def clone(self):
        return type(self)()


class no_grad(_GradMode):
    """Disable graph recording, like ``torch.no_grad`` (context manager or decorator)."""

    mode = False


class enable_grad(_GradMode):
    """Re-enable graph recording inside a ``no_grad`` block."""

    mode = True


class set_grad_enabled(_GradMode):
    """``set_grad_enabled(False)``: like ``no_grad``; as a plain call it sets the mode (PyTorch)."""

    def __new__(cls, mode):
        return object.__new__(cls)

    def __init__(self, mode: bool):
        if not isinstance(mode, bool):
            raise TypeError(f"set_grad_enabled(): mode must be a bool, got {type(mode).__name__}")
        self.mode = mode
        self._previous = _set_grad_enabled(mode)  # takes effect at once, as a function call does

    def __enter__(self):
        return self

    def __call__(self, fn):
        _set_grad_enabled(self._previous)  # as a decorator it only applies inside the function
        return super().__call__(fn)

    def clone(self):
        return type(self)(self.mode)


class inference_mode(_GradMode):
    """``torch.inference_mode``: here the same as ``no_grad`` (nothing is recorded)."""

    mode = False

    def __new__(cls, mode=True):
        if callable(mode):
            return object.__new__(cls)(mode)
        return object.__new__(cls)

    def __init__(self, mode=True):
        self.mode = not mode if isinstance(mode, bool) else False

    def clone(self):
        return type(self)(not self.mode)


class Node:
    """One recorded op application: what produced a tensor and what backward needs for it."""

    __slots__ = ("op", "parents", "edges", "attrs", "out", "versions", "needs", "seq", "origin", "hooks",
                 "retained", "saved_out")

    xp = NUMPY  # the namespace an op's vjp computes with; chainrule's own under create_graph

    def __init__(self, op, parents, attrs, out, needs=None):
        self.op = op
        self.parents = parents
        n = len(parents)
        if n == 2:  # most ops: the same as the loops below, unrolled (made for every op)
            a, b = parents
            self.edges = (a.grad_fn, b.grad_fn)
            self.versions = (a._vc[0], b._vc[0]) if op.uses_inputs else None
        elif n == 1:
            a = parents[0]
            self.edges = (a.grad_fn,)
            self.versions = (a._vc[0],) if op.uses_inputs else None
        elif n == 3:  # linear layers
            a, b, c = parents
            self.edges = (a.grad_fn, b.grad_fn, c.grad_fn)
            self.versions = (a._vc[0], b._vc[0], c._vc[0]) if op.uses_inputs else None
        else:
            self.edges = tuple([p.grad_fn for p in parents])
            self.versions = tuple([p._vc[0] for p in parents]) if op.uses_inputs else None
        self.attrs = attrs
        self.out = out
        self.needs = needs  # which parents require grad, fixed when the op runs (as in PyTorch)
        self.seq = next(_clock)  # creation order: backward runs nodes from the largest seq down
        self.origin = self.hooks = self.retained = self.saved_out = None
        # origin: where anomaly mode saw the op created; hooks: those registered on the output (a
        # non-leaf); retained: the output, after retain_grad(); saved_out: (counter, version) of the
        # output, for ops whose vjp reads it

    @property
    def name(self) -> str:
        return f"{type(self.op).__name__}Backward"

    def __repr__(self) -> str:
        return f"<{self.name}>"


def sum_to(grad, shape: tuple):
    """Undo NumPy broadcasting: sum ``grad`` down to ``shape``.

    The single place where broadcasting is reversed; the engine calls it for every parent
    after an op's vector-Jacobian product, so no op has to. Works on arrays and on tensors
    (under ``create_graph`` the sum is itself recorded).
    """
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1
    )
    out = grad.sum(axis=axes, keepdims=True) if axes else grad
    if lead:
        out = out.reshape(out.shape[lead:])
    return out.reshape(shape)


_FREED = (
    "Trying to backward through the graph a second time (or to read it after it was freed). "
    "The graph is released after backward(); pass retain_graph=True to the first backward() "
    "if you need to go through it again."
)


def topological_order(roots) -> list:
    """Nodes reachable from ``roots`` (nodes), each before every node it feeds into.

    A node is created after the nodes of its inputs, so the reachable nodes sorted by creation
    order, latest first, are in topological order: no depth-first search is needed. (Backward
    itself does not call this: it pops nodes from a heap keyed the same way; see ``run_backward``.)
    """
    seen = set()
    stack = []
    for root in roots:
        if root not in seen:
            seen.add(root)
            stack.append(root)
    while stack:
        node = stack.pop()
        if node.parents is None:
            raise GraphError(_FREED)
        for edge in node.edges:
            if edge is not None and edge not in seen:
                seen.add(edge)
                stack.append(edge)
    return sorted(seen, key=_by_seq, reverse=True)


_by_seq = operator.attrgetter("seq")


def _check_versions(node) -> None:
    """Raise, naming the input (or output) that changed since the op ran, if its backward reads it.

    Only inputs this backward reads count (``op.reads``): ``a × b`` with only ``a`` requiring grad
    never reads ``a``, so changing ``a`` is harmless there, as in PyTorch, which saves only ``b``.
    """
    reads = node.op.reads(node.needs) if node.op.reads is not None else (True,) * len(node.parents)
    for i, (parent, saved, read) in enumerate(zip(node.parents, node.versions or (), reads)):
        if read and parent._vc[0] != saved:
            raise GraphError(
                f"one of the tensors needed for gradient computation has been modified by an "
                f"inplace operation: input {i} of {node.op.name} (shape {parent.shape}) is at "
                f"version {parent._vc[0]}; expected version {saved} instead. The usual cause is "
                f"optimizer.step() (or another in-place update) between the forward pass and "
                f"its backward(); run the forward pass again after changing parameters, or clone() "
                f"the tensor before changing it."
            )
    if node.saved_out is not None and node.saved_out[0][0] != node.saved_out[1]:
        raise GraphError(
            f"one of the tensors needed for gradient computation has been modified by an inplace "
            f"operation: output 0 of {node.op.name} (shape {node.out.shape}) is at version "
            f"{node.saved_out[0][0]}; expected version {node.saved_out[1]} instead. Its backward "
            f"reads its own output; clone() it before changing it in place."
        )


def _run_hooks(hooks, g, create_graph):
    from .tensor import Tensor  # the engine hands hooks tensors, as PyTorch does

    for hook in hooks:
        wrapped = g if isinstance(g, Tensor) else _const(g)
        result = hook(wrapped)
        if result is not None:
            if not isinstance(result, Tensor):
                raise TypeError(f"a gradient hook must return a Tensor or None, got {type(result).__name__}")
            if result.shape != wrapped.shape:
                raise GraphError(
                    f"hook {getattr(hook, '__name__', hook)!r} returned a gradient of shape {result.shape}, "
                    f"expected {wrapped.shape}"
                )
            g = result if create_graph else result.array
    return g


def run_backward(roots, grads, retain_graph: bool = False, create_graph: bool = False, inputs=None):
    """Propagate ``grads`` from ``roots`` (tensors) back through the recorded graph.

    Gradients of reused tensors are summed over all paths. Without ``inputs``, leaves accumulate
    into ``.grad`` (and non-leaf tensors that called ``retain_grad()``); with ``inputs`` (a list
    of tensors, as ``autograd.grad`` passes) nothing is accumulated and the gradient of each input
    is returned instead (None where it does not depend on the roots). Under ``create_graph`` the
    gradients are tensors whose computation is itself recorded, so they can be differentiated again.
    """
    capture = None
    if inputs is not None:
        capture = {}
        for t in inputs:
            capture[id(t.grad_fn) if t.grad_fn is not None else id(t)] = None
    pending = {}  # node -> the sum of the gradients that reached its output so far
    waiting = []  # heap of (-seq, node): the latest-created node with a gradient comes out first
    start = start_g = None  # the node backward begins with when there is only one (loss.backward())
    if len(roots) == 1 and roots[0].grad_fn is not None:
        start, start_g = roots[0].grad_fn, grads[0]
        if start.parents is None:
            raise GraphError(_FREED)
        roots = ()
    for root, grad in zip(roots, grads):
        node = root.grad_fn
        if node is None:
            _deliver(root, grad, capture, create_graph)
            continue
        if node.parents is None:
            raise GraphError(_FREED)
        prev = pending.get(node)
        if prev is None:
            pending[node] = grad
            heapq.heappush(waiting, (-node.seq, node))
        else:
            pending[node] = prev + grad
    if start is None and not waiting:
        return capture
    if create_graph:
        from .graph_xp import GraphNode  # vjps that record themselves, for higher derivatives

        previous_mode = _set_grad_enabled(True)
    # The graph holds no reference cycles (nodes point to their inputs only; retain_grad() keeps a
    # weak reference), so every node and gradient is freed by reference counting as backward goes:
    # the cyclic collector has nothing to find, and running it over a large graph would only cost time.
    collecting = gc.isenabled()
    gc.disable()
    try:
        _backward_nodes(waiting, pending, capture, retain_graph, create_graph, GraphNode if create_graph else None,
                        start, start_g)
    finally:
        if collecting:
            gc.enable()
        if create_graph:
            _set_grad_enabled(previous_mode)
    return capture


def _backward_nodes(waiting, pending, capture, retain_graph, create_graph, GraphNode, node, g) -> None:
    """Run each node's vjp once all the gradients of its output are in (the heap's order).

    Where a node passes a gradient to exactly one earlier node and no other node has a gradient
    waiting (a chain, or the layers of an MLP), that node is the one the heap would return next,
    so it is handed on directly (``following``) without going through ``pending`` and the heap.
    ``node`` and ``g`` (or None) are a first node to run before the heap's.
    """
    checking = anomaly._enabled
    pop, push, get, ndarray = heapq.heappop, heapq.heappush, pending.get, np.ndarray
    while True:  # the hot loop: keep per-node work to what the gradient needs
        if node is None:
            if not waiting:
                return
            node = pop(waiting)[1]
            g = pending.pop(node)
        parents = node.parents
        if parents is None:
            raise GraphError(_FREED)
        if node.hooks is not None or node.retained is not None or capture is not None:
            g = _observe(node, g, capture, create_graph)
        if node.seq < _last_write:  # some tensor changed in place since this op ran: was it an input?
            _check_versions(node)  # raises if backward reads a changed input (or output), naming it
        needs = node.needs
        if create_graph:
            if not node.op.twice_differentiable:
                raise GraphError(
                    f"backward(create_graph=True): the gradient of {node.op.name} is not written to be "
                    f"differentiated again in chainrule; higher-order gradients through it are not supported"
                )
            grads = node.op.vjp(GraphNode(node), g, *parents)
        elif checking:
            with np.errstate(all="ignore"):  # reported as an AnomalyError instead
                grads = node.op.vjp(node, g, *[p.array for p in parents])
            anomaly.check_backward(node, grads)
        elif len(parents) == 2:  # most ops: the arrays without a loop
            grads = node.op.vjp(node, g, parents[0].array, parents[1].array)
        elif len(parents) == 1:
            grads = node.op.vjp(node, g, parents[0].array)
        elif len(parents) == 3:
            grads = node.op.vjp(node, g, parents[0].array, parents[1].array, parents[2].array)
        else:
            grads = node.op.vjp(node, g, *[p.array for p in parents])
        following = following_g = None
        for parent, edge, need, pg in zip(parents, node.edges, needs, grads):
            if pg is None or not need:
                continue
            array = parent.array
            if pg.shape != array.shape:
                pg = sum_to(pg, array.shape)
            if pg.dtype is not array.dtype and pg.dtype != array.dtype:
                pg = pg.astype(array.dtype)
            if edge is None:
                if capture is None and parent._hooks is None and not create_graph:  # the common case
                    if not parent._requires_grad:
                        continue
                    if (parent._grad is None and pg is not g and type(pg) is ndarray and pg.base is None
                            and pg.flags.writeable):  # a fresh array: it becomes .grad (_accumulate, inlined)
                        parent._grad = _const(pg)
                    else:
                        _accumulate(parent, pg, False, pg is g)
                else:
                    _deliver(parent, pg, capture, create_graph)
            else:
                if following is not None:  # a second node gets a gradient: both go through the heap
                    pending[following] = following_g
                    push(waiting, (-following.seq, following))
                    following = None
                prev = get(edge)
                if prev is not None:
                    pending[edge] = prev + pg
                elif not pending:  # no other node has a gradient waiting: this one may run next
                    following, following_g = edge, pg
                else:
                    pending[edge] = pg
                    push(waiting, (-edge.seq, edge))
        if not retain_graph:
            node.parents = None
            node.edges = ()
            node.out = None
        node, g = following, following_g  # None: take the next node from the heap


def _observe(node, g, capture, create_graph):
    """A node's gradient as the user sees it: its output tensor's hooks, retain_grad(), autograd.grad."""
    if node.hooks is not None:
        g = _run_hooks(node.hooks, g, create_graph)
    if node.retained is not None and capture is None:
        kept = node.retained()
        if kept is not None:
            _accumulate(kept, g, create_graph)
    if capture is not None and id(node) in capture:
        capture[id(node)] = g
    return g


def _deliver(leaf, g, capture, create_graph) -> None:
    """A gradient reaching a leaf: its hooks, then into ``.grad`` or into the captured result."""
    hooks = leaf._hooks
    if hooks:
        g = _run_hooks(hooks, g, create_graph)
    if capture is None:
        if leaf.requires_grad:
            _accumulate(leaf, g, create_graph)
    elif id(leaf) in capture:
        prev = capture[id(leaf)]
        capture[id(leaf)] = g if prev is None else prev + g


def _accumulate(tensor, g, create_graph=False, shared=True) -> None:
    """Add ``g`` into ``tensor.grad``: in place when it is a plain tensor (so references to it
    stay current, as in PyTorch), recorded out of place under ``create_graph``. ``shared`` is False
    when ``g`` is a fresh array that nothing else holds: it then becomes the gradient without a copy."""
    grad = tensor._grad
    if type(g) is not np.ndarray and not isinstance(g, np.generic):  # a tensor (create_graph, or a hook's result)
        if grad is None:
            tensor._grad = g if g.requires_grad else _const(np.array(g.array))
        else:
            tensor._grad = grad + g
        return
    if grad is None:
        if shared or type(g) is not np.ndarray or g.base is not None or not g.flags.writeable:
            g = np.array(g)
        tensor._grad = _const(g)
    elif grad.requires_grad or grad.array.shape != g.shape:
        tensor._grad = grad + _const(g)
    else:
        grad.array += g


def _as_list(x) -> list:
    from .tensor import Tensor

    if isinstance(x, Tensor):
        return [x]
    return list(x)


def _seeds(outputs, grad_outputs, create_graph, what):
    from .tensor import Tensor, _const, _seed_gradient

    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    else:
        grad_outputs = _as_list(grad_outputs) if not isinstance(grad_outputs, (list, tuple)) else list(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise GraphError(f"{what}: grad_outputs has {len(grad_outputs)} entries but there are {len(outputs)} outputs")
    seeds = []
    for i, (out, go) in enumerate(zip(outputs, grad_outputs)):
        if not isinstance(out, Tensor):
            raise TypeError(f"{what}: outputs[{i}] is a {type(out).__name__}, not a Tensor")
        if not out.requires_grad:
            raise GraphError(f"{what}: element {i} of tensors does not require grad and does not have a grad_fn")
        if create_graph and isinstance(go, Tensor) and go.shape == out.shape:
            seeds.append(go if go.dtype == out.dtype else go.astype(out.dtype))
            continue
        array = _seed_gradient(out, go, what)
        seeds.append(_const(array) if create_graph else array)
    return seeds


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph: bool = False,
         allow_unused=None, materialize_grads: bool = False):
    """The gradients of ``outputs`` with respect to ``inputs``, returned, not accumulated (PyTorch's
    ``torch.autograd.grad``). ``create_graph=True`` records them, for higher-order derivatives."""
    from .tensor import Tensor, _const

    outputs = _as_list(outputs)
    inputs = _as_list(inputs)
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise GraphError(f"grad(): inputs[{i}] does not require grad (One of the differentiated Tensors does not require grad)")
    if retain_graph is None:
        retain_graph = create_graph
    if allow_unused is None:
        allow_unused = materialize_grads
    seeds = _seeds(outputs, grad_outputs, create_graph, "grad()")
    captured = run_backward(outputs, seeds, retain_graph, create_graph, inputs=inputs)
    result = []
    for i, t in enumerate(inputs):
        g = captured.get(id(t.grad_fn) if t.grad_fn is not None else id(t))
        if g is None:
            if materialize_grads:
                g = np.zeros(t.shape, dtype=t.dtype)
            elif not allow_unused:
                raise GraphError(
                    f"grad(): one of the differentiated Tensors (inputs[{i}]) appears to not have been used in the "
                    f"graph. Set allow_unused=True if this is the desired behavior."
                )
            else:
                result.append(None)
                continue
        result.append(g if isinstance(g, Tensor) else _const(np.array(g)))
    return tuple(result)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph: bool = False, inputs=None) -> None:
    """``torch.autograd.backward``: accumulate into ``.grad`` of the leaves (or only of ``inputs``)."""
    tensors = _as_list(tensors)
    if retain_graph is None:
        retain_graph = create_graph
    seeds = _seeds(tensors, grad_tensors, create_graph, "backward()")
    if inputs is None:
        run_backward(tensors, seeds, retain_graph, create_graph)
        return
    inputs = _as_list(inputs)
    captured = run_backward(tensors, seeds, retain_graph, create_graph, inputs=inputs)
    for t in inputs:
        g = captured.get(id(t.grad_fn) if t.grad_fn is not None else id(t))
        if g is not None:
            _accumulate(t, g, create_graph)


def tensor_order(root) -> list:
    """Non-leaf tensors reachable from ``root``, each before the tensors it was computed from.

    For readers of a recorded graph (code export) that name values by tensor; backward itself
    walks nodes (``topological_order``).
    """
    order, seen = [], {id(root)}
    stack = [(root, iter(root.grad_fn.parents))]
    while stack:
        tensor, parents = stack[-1]
        for parent in parents:
            if parent.grad_fn is not None and id(parent) not in seen:
                if parent.grad_fn.parents is None:
                    raise GraphError(_FREED)
                seen.add(id(parent))
                stack.append((parent, iter(parent.grad_fn.parents)))
                break
        else:
            stack.pop()
            order.append(tensor)
    order.reverse()
    return order
