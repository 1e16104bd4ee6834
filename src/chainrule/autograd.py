"""The reverse-mode engine: grad mode, graph nodes and the backward pass.

Ops (``chainrule.ops``) are pure NumPy; this module knows nothing about any particular op.
A node records the op, its parent tensors, the attributes and the forward output, which is
exactly what backward needs and what the explainer later reads.
"""

from __future__ import annotations

import functools

import numpy as np

from . import anomaly
from .errors import GraphError

_grad_enabled = True


def is_grad_enabled() -> bool:
    return _grad_enabled


def _set_grad_enabled(mode: bool) -> bool:
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, bool(mode)
    return previous


class _GradMode:
    """Context manager and decorator that sets grad mode and restores it afterwards."""

    mode = True

    def __enter__(self):
        self._previous = _set_grad_enabled(self.mode)
        return self

    def __exit__(self, *exc):
        _set_grad_enabled(self._previous)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """Disable graph recording, like ``torch.no_grad`` (context manager or decorator)."""

    mode = False


class enable_grad(_GradMode):
    """Re-enable graph recording inside a ``no_grad`` block."""

    mode = True


class Node:
    """One recorded op application: what produced a tensor and what backward needs for it."""

    __slots__ = ("op", "parents", "attrs", "out", "versions", "needs", "origin")

    def __init__(self, op, parents, attrs, out, needs=None):
        self.op = op
        self.parents = parents
        self.attrs = attrs
        self.out = out
        self.versions = tuple([p._version for p in parents]) if op.uses_inputs else None
        self.needs = needs  # which parents require grad, fixed when the op runs (as in PyTorch)
        self.origin = None

    @property
    def name(self) -> str:
        return f"{type(self.op).__name__}Backward"

    def __repr__(self) -> str:
        return f"<{self.name}>"


def sum_to(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Undo NumPy broadcasting: sum ``grad`` down to ``shape``.

    The single place where broadcasting is reversed; the engine calls it for every parent
    after an op's vector-Jacobian product, so no op has to.
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


def topological_order(root) -> list:
    """Non-leaf tensors reachable from ``root``, each after every tensor that consumes it.

    Iterative depth-first search, so chains of any length work without recursion limits.
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


_FREED = (
    "Trying to backward through the graph a second time (or to read it after it was freed). "
    "The graph is released after backward(); pass retain_graph=True to the first backward() "
    "if you need to go through it again."
)


def _check_versions(node) -> None:
    for i, (parent, saved) in enumerate(zip(node.parents, node.versions)):
        if parent._version != saved:
            raise GraphError(
                f"one of the tensors needed for gradient computation has been modified by an "
                f"in-place operation: input {i} of {node.op.name} (shape {parent.shape}) is at "
                f"version {parent._version}, expected version {saved}. The usual cause is "
                f"optimizer.step() (or another in-place update) between the forward pass and "
                f"its backward(); run the forward pass again after changing parameters."
            )


def run_backward(root, grad: np.ndarray, retain_graph: bool = False) -> None:
    """Propagate ``grad`` from ``root`` to every leaf that requires grad.

    Gradients of reused tensors are summed over all paths. Leaves accumulate into ``.grad``;
    non-leaf tensors do too when ``retain_grad()`` was called on them.
    """
    if root.grad_fn is None:
        _accumulate(root, grad, grad)
        return
    if root.grad_fn.parents is None:
        raise GraphError(_FREED)
    order = topological_order(root)
    checking = anomaly._enabled
    pending = {id(root): grad}
    pop = pending.pop
    for tensor in order:  # the hot loop: keep per-node work to what the gradient needs
        g = pop(id(tensor), None)
        if g is None:
            continue
        if tensor._retains_grad:
            _accumulate(tensor, g, g)
        node = tensor.grad_fn
        parents = node.parents
        versions = node.versions
        if versions is not None:
            for parent, saved in zip(parents, versions):
                if parent._version != saved:
                    _check_versions(node)  # raises, naming the input
        needs = node.needs
        if needs is None:
            needs = node.needs = tuple([p.requires_grad for p in parents])
        if checking:
            with np.errstate(all="ignore"):  # reported as an AnomalyError instead
                grads = node.op.vjp(node, g, *[p.data for p in parents])
            anomaly.check_backward(node, grads)
        else:
            grads = node.op.vjp(node, g, *[p.data for p in parents])
        for parent, pg in zip(parents, grads):
            if pg is None or not parent.requires_grad:
                continue
            data = parent.data
            if pg.shape != data.shape:
                pg = sum_to(pg, data.shape)
            if pg.dtype != data.dtype:
                pg = pg.astype(data.dtype)
            if parent.grad_fn is None:
                _accumulate(parent, pg, g)
            else:
                key = id(parent)
                prev = pending.get(key)
                pending[key] = pg if prev is None else prev + pg
        if not retain_graph:
            node.parents = None
            node.out = None


def _accumulate(tensor, g: np.ndarray, upstream) -> None:
    """Add ``g`` into ``tensor.grad``, which is always a fresh, writable ndarray (0-d included)."""
    if tensor.grad is None:
        if g is upstream or type(g) is not np.ndarray or not g.flags.owndata or not g.flags.writeable:
            g = np.array(g)
        tensor.grad = g
    else:
        total = tensor.grad + g
        tensor.grad = total if type(total) is np.ndarray else np.asarray(total)
