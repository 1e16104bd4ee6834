"""``--to numpy``: the same network with matrices, the vectorised form a learner moves to next.

Weights are stored in (from, to) order, ``W1[i, j]`` = w'_ij, so a layer reads ``z = x @ W + b``;
all samples go through at once, one row each.
"""

from __future__ import annotations

import numpy as np

from .graph import (
    UPDATED_NOTE,
    Context,
    Recorded,
    block,
    header,
    matrix_lines,
    op_lines,
    prediction_expr,
    state_lines,
    update_lines,
)


def generate(rec: Recorded, steps: int) -> str:
    spec = rec.spec
    c = Context("np", rec)
    forward = []
    for t in rec.forward:
        forward += [c.stage(t)] + op_lines("export", c, t)
    backward = []
    for t in rec.backward:
        lines = op_lines("export_vjp", c, t)
        if lines:
            backward += [c.stage(t, backward=True)] + lines
    onehot = spec.loss == "cross_entropy"
    targets = np.eye(spec.layers[-1])[spec.y] if onehot else spec.y

    lines = [header(spec, "numpy", steps), "", "import numpy as np", ""]
    lines += ["# Data: one row per sample" + ("; the classes as one-hot rows" if onehot else "")]
    lines += matrix_lines("x = np.array(", spec.x, ")") + matrix_lines("y_true = np.array(", targets, ")")
    lines += ["", "# Hyperparameters", f"learning_rate = {spec.lr!r}", f"epochs = {steps}"]
    if spec.optimizer == "momentum":
        lines.append(f"momentum = {spec.momentum!r}")
    if spec.optimizer == "adam":
        lines += [f"beta1 = {spec.betas[0]!r}", f"beta2 = {spec.betas[1]!r}", f"eps = {spec.eps!r}"]
    lines += ["", "# Initialisation: W1[i, j] is the weight from neuron i of the layer below to neuron j (w_ij)"]
    for name, p in rec.params.items():
        values = rec.initial[name].T if p.ndim == 2 else rec.initial[name]
        lines += matrix_lines(f"{c.v(p)} = np.array(", values, ")")
    names = [c.v(p) for p in rec.params.values()]
    lines += state_lines(spec.optimizer, names)

    body = ["# Forward pass"] + forward
    shown = prediction_expr(spec, "float({})")
    body += [f"print('epoch', epoch, 'prediction', {shown}, 'loss', float(loss))", ""]
    body += ["# Backward pass: the chain rule, layer by layer"] + backward
    trained = [c.v(p) for p in rec.params.values() if p.requires_grad]   # frozen parameters stay
    body += update_lines(spec.optimizer, [(n, f"d_{n}") for n in trained], "np.sqrt")
    body += ["", f"# {UPDATED_NOTE}",
             "print('epoch', epoch, 'updated', {" + ", ".join(f"'{n}': {n}.tolist()" for n in names) + "})"]
    lines += ["", "for epoch in range(epochs):"] + block(body, "    ")
    return "\n".join(lines) + "\n"
