"""What every exporter shares: run one step, name the recorded tensors, walk the graph.

The exporters never write an op's arithmetic themselves: they walk the graph the engine recorded
for one training step and ask each node's op for its lines (``Op.export`` / ``Op.export_vjp``, kept
next to the op's forward and vjp in ``chainrule.ops``). This module supplies the context those
rules write against: variable names, gradient names and how contributions are summed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..autograd import tensor_order
from ..errors import ChainruleError, SpecError
from ..escape import python_text
from ..network import engine_layout
from ..network import run as run_spec
from ..spec import Spec, load_spec


class ExportError(ChainruleError, ValueError):
    """A graph the exporter cannot write (an op without a code-export rule)."""


@dataclass
class Recorded:
    """One recorded step and the names the exporters give its tensors."""

    spec: Spec
    record: object
    params: dict            # "W1" -> engine tensor (out, in), "b1" -> ...
    forward: list           # non-leaf tensors in forward order (output branch first, then the loss)
    backward: list          # non-leaf tensors from the loss down (the order backward visits them)
    roles: dict             # id(tensor) -> (role, layer): x, W, b, z, a, out_z, out, y, loss
    initial: dict           # "W1" -> starting values in the engine's layout (out, in), "b1" -> ...

    @property
    def output(self):
        return self.record.acts[-1]


def record(spec) -> Recorded:
    spec = load_spec(spec)
    result = run_spec(spec, steps=1)
    rec = result.steps[0]
    params = result.model.named_weights()
    depth = spec.depth
    roles = {id(rec.x): ("x", 0), id(rec.loss): ("loss", 0)}
    if spec.loss != "cross_entropy":
        roles[id(rec.y)] = ("y", 0)
    for name, p in params.items():
        roles[id(p)] = (name[0], int(name[1:]))
    for layer, (z, a) in enumerate(zip(rec.zs, rec.acts), 1):
        last = layer == depth
        roles[id(z)] = ("out_z" if last else "z", layer)
        if a is not z or last:
            roles[id(a)] = ("out" if last else "a", layer)
    forward, seen = [], set()
    for root in (rec.acts[-1], rec.loss):
        if root.grad_fn is None or id(root) in seen:
            continue
        for t in reversed(tensor_order(root)):
            if id(t) not in seen:
                seen.add(id(t))
                forward.append(t)
    backward = tensor_order(rec.loss)
    for layer in range(1, depth + 1):
        if spec.is_shared(layer) and spec.trainable(f"b{layer}"):
            raise SpecError(f"{spec.source}: key 'bias': export writes one bias per neuron; a trained bias shared "
                            f"by layer {layer} is not supported (freeze it with frozen = [\"b{layer}\"], or set bias = true)")
    # a frozen shared bias is written as equal per-neuron biases that are never updated: the same numbers
    initial = {k: (np.broadcast_to(v, params[k].shape) if k[0] == "b" else engine_layout(k, v)).copy()
               for k, v in rec.params_before.items()}
    return Recorded(spec, rec, params, forward, backward, roles, initial)


class Context:
    """Names and accumulation rules handed to each op's export rule (see ``chainrule.ops.base``).

    ``lang`` is "py" (one scalar variable per element, one sample at a time), "np" or "torch"
    (whole arrays, all samples at once).
    """

    def __init__(self, lang: str, rec: Recorded, batched: bool = False):
        self.lang = lang
        self.rec = rec
        self.depth = rec.spec.depth
        self.batched = batched           # py: the lines run once per sample and parameter gradients are summed
        self.assigned: set = set()
        self._extra: dict = {}

    # ---- names
    def _role(self, t):
        role = self.rec.roles.get(id(t))
        if role is None:
            role = self._extra.setdefault(id(t), ("t", len(self._extra) + 1))
        return role

    def base(self, t) -> str:
        """The array name (np/torch) or the scalar prefix (py) of tensor ``t``."""
        role, layer = self._role(t)
        if self.lang == "py":
            hidden = "" if self.depth == 2 else f"_{layer}"
            return {
                "x": "x", "y": "y_true", "loss": "loss", "out": "y_pred", "out_z": "z_out",
                "z": f"z{hidden}", "a": f"a{hidden}", "W": f"w_{layer}", "b": f"b_{layer}", "t": f"t{layer}",
            }[role]
        return {
            "x": "x", "y": "y_true", "loss": "loss", "out": "y_pred", "out_z": "z_out",
            "z": f"z{layer}", "a": f"a{layer}", "W": f"W{layer}", "b": f"b{layer}", "t": f"t{layer}",
        }[role]

    def v(self, t, j=None) -> str:
        """Name of element ``j`` of ``t`` (scalar Python), or of the whole array (``j`` is None)."""
        base = self.base(t)
        if j is None:
            return base
        role, _ = self._role(t)
        if role == "W":  # engine index (out j, in i) -> the seed's w_l_ij, i = from, j = to
            to, frm = j
            sep = "_" if max(t.shape) > 9 else ""
            return f"{base}_{frm + 1}{sep}{to + 1}"
        width = t.shape[-1] if t.ndim else 1
        if role in ("out", "out_z", "y", "loss") and width == 1:
            return base
        return f"{base}_{j + 1}"

    def g(self, t, j=None) -> str:
        """Name of the gradient of the loss with respect to ``v(t, j)``."""
        return ("d_loss_" if self.lang == "py" else "d_") + self.v(t, j)

    def tmp(self, t, suffix: str) -> str:
        """A helper variable that belongs to tensor ``t`` (a softmax's maximum, a sum)."""
        return f"{self.base(t)}_{suffix}"

    def softmax_of(self, z, before):
        """The recorded softmax of ``z`` over its last axis, written before tensor ``before`` in the
        forward pass, or None. A loss over the same logits reuses its lines instead of repeating them."""
        for t in self.rec.forward:
            if t is before:
                return None
            fn = t.grad_fn
            if fn.op.name == "softmax" and fn.parents[0] is z and fn.attrs.get("axis", -1) in (-1, z.ndim - 1):
                return t
        return None

    def target(self, j=None) -> str:
        """The expected output (one-hot for cross-entropy; PyTorch takes the class labels)."""
        if self.lang == "torch" and self.rec.spec.loss == "cross_entropy":
            return "labels"
        if j is None:
            return "y_true"
        return "y_true" if self.rec.spec.layers[-1] == 1 else f"y_true_{j + 1}"

    def layer(self, w) -> str:
        return f"fc{self._role(w)[1]}"

    def elements(self, t):
        return range(t.shape[-1] if t.ndim else 1) if self.lang == "py" else [None]

    # ---- lines
    def stage(self, t, backward: bool = False) -> str:
        """The comment over an op's lines: the op, the layer it belongs to, and its rule."""
        op, (role, layer) = t.grad_fn.op, self._role(t)
        where = ""
        if role in ("z", "a", "out_z", "out"):
            where = f", layer {layer}" + (" (output)" if layer == self.depth else "")
        formula, derivative = op.describe(t.grad_fn)
        if backward:
            return f"# {op.name} backward{where}: {derivative}"
        return f"# {op.name}{where}: {formula}"

    def is_param(self, t) -> bool:
        return self._role(t)[0] in ("W", "b")

    def acc(self, t, j, expr: str) -> str:
        """``grad = expr`` for the first contribution, ``grad += expr`` for later ones (and always for
        parameters of a batch, whose gradients start at zero and sum over the samples)."""
        key = (id(t), j)
        if key in self.assigned or (self.batched and self.is_param(t)):
            return f"{self.g(t, j)} += {expr}"
        self.assigned.add(key)
        return f"{self.g(t, j)} = {expr}"

    def loss_line(self, expr: str) -> str:
        return f"loss {'+=' if self.batched else '='} {expr}"


def op_lines(fn_name: str, c: Context, t) -> list[str]:
    op = t.grad_fn.op
    try:
        return getattr(op, fn_name)(c, t)
    except NotImplementedError as exc:
        raise ExportError(f"cannot export this network: {exc}") from None


def wrap(line: str, indent: str, width: int = 100) -> list[str]:
    """Break a long ``name = a + b + ...`` line inside parentheses at its ``+`` signs."""
    if len(indent) + len(line) <= width:
        return [indent + line]
    for op in (" += ", " -= ", " = "):
        if op in line:
            lhs, rhs = line.split(op, 1)
            break
    else:
        return [indent + line]
    parts = rhs.split(" + ")
    if len(parts) == 1:
        return [indent + line]
    out, current = [f"{indent}{lhs}{op}("], indent + "    " + parts[0]
    for part in parts[1:]:
        if len(current) + 3 + len(part) > width:
            out.append(current)
            current = indent + "    + " + part
        else:
            current += " + " + part
    return out + [current, indent + ")"]


def prediction_expr(spec, single_value: str) -> str:
    """The printed prediction of an array ``y_pred``: one number (``single_value`` formats
    ``y_pred[0, 0]``), one sample's list, or the whole batch's nested list."""
    if spec.single_sample and spec.layers[-1] == 1:
        return single_value.format("y_pred[0, 0]")
    return "y_pred[0].tolist()" if spec.single_sample else "y_pred.tolist()"


UPDATE_NOTE = "every gradient above was computed with the weights from before this update"
UPDATED_NOTE = "The parameters after this epoch's update"


def state_lines(optimizer: str, names) -> list[str]:
    """The NumPy arrays an optimizer keeps for each weight ``names``, created as zeros before the loop."""
    if optimizer == "momentum":
        return ["", "# Momentum buffers"] + [f"buf_{n} = np.zeros_like({n})" for n in names]
    if optimizer == "adam":
        return (["", "# Adam's running averages of the gradient (m) and of its square (v)"]
                + [f"{k}_{n} = np.zeros_like({n})" for n in names for k in ("m", "v")])
    return []


def update_lines(optimizer: str, pairs, sqrt: str) -> list[str]:
    """The update of every (weight, gradient) name pair: the same rules as chainrule.optim's
    SGD, SGD with momentum and Adam, written as code (``sqrt`` is ``math.sqrt`` or ``np.sqrt``)."""
    lines = ["", f"# Update ({optimizer}); {UPDATE_NOTE}"]
    if optimizer == "adam":
        lines += ["step = epoch + 1", "bias1 = 1 - beta1 ** step", "bias2 = 1 - beta2 ** step"]
    for w, g in pairs:
        if optimizer == "sgd":
            lines.append(f"{w} -= learning_rate * {g}")
        elif optimizer == "momentum":
            lines += [f"buf_{w} = momentum * buf_{w} + {g}", f"{w} -= learning_rate * buf_{w}"]
        else:
            lines += [f"m_{w} = beta1 * m_{w} + (1 - beta1) * {g}",
                      f"v_{w} = beta2 * v_{w} + (1 - beta2) * {g} * {g}",
                      f"{w} -= learning_rate / bias1 * m_{w} / ({sqrt}(v_{w}) / {sqrt}(bias2) + eps)"]
    return lines


def block(lines, indent: str) -> list[str]:
    out = []
    for line in lines:
        if line.startswith((" ", "#")) or not line:  # comments and lines indented (and wrapped) already
            out.append(indent + line if line else "")
        else:
            out.extend(wrap(line, indent))
    return out


def literal(value) -> str:
    """A float literal that reads back as exactly the same float."""
    return repr(float(value))


def nested(values) -> str:
    """A nested list of exact float literals."""
    if hasattr(values, "tolist"):
        values = values.tolist()
    if isinstance(values, list):
        return "[" + ", ".join(nested(v) for v in values) + "]"
    return literal(values)


def matrix_lines(head: str, values, tail: str, width: int = 100) -> list[str]:
    """``head + nested(values) + tail`` on one line when it fits in ``width``; otherwise a matrix
    written one row per line, so that it reads as rows and columns."""
    one = f"{head}{nested(values)}{tail}"
    rows = values.tolist() if hasattr(values, "tolist") else values
    if len(one) <= width or not isinstance(rows, list) or not rows or not isinstance(rows[0], list):
        return [one]
    return [f"{head}["] + [f"    {nested(row)}," for row in rows] + [f"]{tail}"]


def header(spec: Spec, to: str, steps: int) -> str:
    layers = " → ".join(str(n) for n in spec.layers)
    bias = "with bias" if all(spec.bias) else "no bias" if not any(spec.bias) else "bias " + "/".join(
        "on" if b else "off" for b in spec.bias)
    return (
        f'"""The network of spec \'{python_text(spec.name)}\', written out by `chainrule export {python_text(spec.name)} --to {to}`.\n\n'
        f"{layers}, activations {', '.join(spec.activations)}, {bias}, loss {spec.loss}, "
        f"optimizer {spec.optimizer}, learning rate {spec.lr!r}, {steps} epoch(s).\n"
        "Each epoch prints the prediction and the loss before that epoch's update, exactly as chainrule computes them,\n"
        "then the parameters after the update.\n"
        '"""'
    )
