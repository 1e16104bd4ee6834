"""Read the graph the engine recorded for one training step: layers, ops, values and gradients.

Nothing here differentiates anything. Values are the recorded tensors' ``.array``, the δ terms are
the retained ``.grad`` of every z and a, and an activation's local derivative is what the op's own
``vjp`` returns for an upstream gradient of ones (element-wise ops) or of unit vectors (softmax).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ChainruleError
from ..ops import REGISTRY

ELEMENTWISE = ("relu", "sigmoid", "tanh", "leaky_relu")


@dataclass
class LayerView:
    """One weight layer as recorded: z = linear(x, W, b), a = activation(z) (a is z without one)."""

    linear: object          # the linear op's Node
    act: object | None      # the activation's Node (None: no activation)
    x: object               # input tensor
    z: object
    a: object
    on_path: bool = True    # False for the softmax shown next to a cross-entropy loss (not differentiated through)

    @property
    def act_name(self) -> str:
        return "none" if self.act is None else self.act.op.name


def read_graph(record) -> tuple[object, list[LayerView]]:
    """(loss node, layers bottom to top), walking ``loss.grad_fn`` back through its parents."""
    loss_node = record.loss.grad_fn
    if loss_node is None or loss_node.parents is None:
        raise ChainruleError("derive: the step's graph was not kept; run the spec with its graph retained")
    layers = []
    t = loss_node.parents[0]
    while t.grad_fn is not None:
        node = t.grad_fn
        act, z = None, t
        if node.op.name != "linear":
            act, z = node, node.parents[0]
            node = z.grad_fn
        if node is None or node.op.name != "linear":
            raise ChainruleError(f"derive: expected a linear layer below {t.grad_fn.op.name}, found {node}")
        layers.append(LayerView(node, act, node.parents[0], z, t))
        t = node.parents[0]
    layers.reverse()
    top = layers[-1]
    if top.a is not record.acts[-1]:  # cross-entropy reads the logits; the softmax beside it is only shown
        shown = record.acts[-1]
        top.a, top.act, top.on_path = shown, shown.grad_fn if shown is not top.z else None, False
    for view, z, a in zip(layers, record.zs, record.acts):
        if view.z is not z or (view.on_path and view.a is not a):
            raise ChainruleError("derive: the recorded graph does not match the step's layers")
    return loss_node, layers


def local_derivative(node, z: np.ndarray) -> np.ndarray:
    """f'(z) element by element: the op's vjp with an upstream gradient of ones."""
    return node.op.vjp(node, np.ones_like(z), *[p.array for p in node.parents])[0]


def softmax_jacobian(node, z: np.ndarray) -> np.ndarray:
    """J[s, k, j] = ∂s_k/∂z_j per sample: the op's vjp applied to the unit vectors e_k."""
    n, c = z.shape
    jac = np.empty((n, c, c))
    for k in range(c):
        g = np.zeros_like(z)
        g[:, k] = 1.0
        jac[:, k, :] = node.op.vjp(node, g, *[p.array for p in node.parents])[0]
    return jac


def softmax_values(z: np.ndarray) -> np.ndarray:
    """softmax(z) by the engine's softmax op (for cross-entropy's probabilities)."""
    return REGISTRY["softmax"].forward(z, axis=-1)
