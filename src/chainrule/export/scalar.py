"""``--to python``: one standalone script in the seed's style, a named scalar per weight and neuron.

No imports beyond the standard library. One sample: the lines run as they are (the seed's own
layout); a batch: they run once per sample inside the epoch, parameter gradients summed over it.
"""

from __future__ import annotations

import numpy as np

from .graph import UPDATED_NOTE, Context, Recorded, block, header, literal, op_lines, update_lines


def _param_elements(c: Context, rec: Recorded):
    """(tensor, engine index) of every parameter element, weights in the seed's order w_11, w_12, ..."""
    for p in rec.params.values():
        if p.ndim == 2:
            for i in range(p.shape[1]):
                for j in range(p.shape[0]):
                    yield p, (j, i)
        else:
            for j in range(p.shape[0]):
                yield p, j


def _value(rec: Recorded, p, index) -> str:
    name = next(k for k, q in rec.params.items() if q is p)
    return literal(rec.initial[name][index])


def generate(rec: Recorded, steps: int) -> str:
    spec = rec.spec
    batched = spec.batch_size > 1
    c = Context("py", rec, batched=batched)
    out = rec.output
    n_out = spec.layers[-1]
    onehot = spec.loss == "cross_entropy"
    targets = np.eye(n_out)[spec.y] if onehot else spec.y

    forward = []
    for t in rec.forward:
        forward.append(c.stage(t))
        forward += op_lines("export", c, t)
    c.assigned.clear()
    backward = []
    for t in rec.backward:
        lines = op_lines("export_vjp", c, t)
        if lines:
            backward.append(c.stage(t, backward=True))
            backward += lines
    prediction = (c.v(out, 0) if n_out == 1 and not batched
                  else "[" + ", ".join(c.v(out, j) for j in range(n_out)) + "]")

    lines = [header(spec, "python", steps)]
    uses_math = any("math." in line for line in forward + backward) or spec.optimizer == "adam"
    if uses_math:
        lines += ["", "import math"]
    x_names = [c.v(rec.record.x, i) for i in range(spec.layers[0])]
    y_names = [c.target(j) for j in range(n_out)]
    lines += ["", "# Data: the inputs and the expected output" + (" (the class as one-hot)" if onehot else "")]
    if batched:
        lines.append(f"# one row per sample: ({', '.join(x_names)}), ({', '.join(y_names)})")
        lines.append("samples = [")
        for xs, ys in zip(spec.x, targets):
            lines.append(f"    (({', '.join(map(literal, xs))}{',' if len(xs) == 1 else ''}), "
                         f"({', '.join(map(literal, ys))}{',' if len(ys) == 1 else ''})),")
        lines.append("]")
    else:
        lines += [f"{n} = {literal(v)}" for n, v in zip(x_names, spec.x[0])]
        lines += [f"{n} = {literal(v)}" for n, v in zip(y_names, targets[0])]
    lines += ["", "# Hyperparameters", f"learning_rate = {spec.lr!r}", f"epochs = {steps}"]
    if spec.optimizer == "momentum":
        lines.append(f"momentum = {spec.momentum!r}")
    if spec.optimizer == "adam":
        lines += [f"beta1 = {spec.betas[0]!r}", f"beta2 = {spec.betas[1]!r}", f"eps = {spec.eps!r}"]

    lines += ["", "# Initialisation: w_l_ij is the weight of layer l from neuron i (below) to neuron j (above)"]
    previous = None
    for p, index in _param_elements(c, rec):
        if previous is not None and previous is not p:
            lines.append("")
        previous = p
        lines.append(f"{c.v(p, index)} = {_value(rec, p, index)}")
    state = []
    if spec.optimizer == "momentum":
        state = [f"buf_{c.v(p, i)} = 0.0" for p, i in _param_elements(c, rec)]
        lines += ["", "# Momentum buffers (the running sum of past gradients)"] + state
    elif spec.optimizer == "adam":
        state = [f"{k}_{c.v(p, i)} = 0.0" for p, i in _param_elements(c, rec) for k in ("m", "v")]
        lines += ["", "# Adam's running averages of the gradient (m) and of its square (v)"] + state

    body = []
    if batched:
        body += ["# Gradients start at zero and are summed over the samples of the batch"]
        body += [f"{c.g(p, i)} = 0.0" for p, i in _param_elements(c, rec)]
        body += ["loss = 0.0", "predictions = []"]
        unpack = (f"({', '.join(x_names)}{',' if len(x_names) == 1 else ''}), "
                  f"({', '.join(y_names)}{',' if len(y_names) == 1 else ''})")
        body += [f"for {unpack} in samples:"]
        inner = ["# Forward pass"] + forward + ["predictions.append(" + prediction + ")", "",
                                                  "# Backward pass: the chain rule, from the loss back to every weight"]
        body += block(inner + backward, "    ")
        body += ["print('epoch', epoch, 'prediction', predictions, 'loss', loss)"]
    else:
        body += ["# Forward pass"] + forward
        body += [f"print('epoch', epoch, 'prediction', {prediction}, 'loss', loss)", ""]
        body += ["# Backward pass: the chain rule, from the loss back to every weight"] + backward
    body += update_lines(spec.optimizer, [(c.v(p, i), c.g(p, i)) for p, i in _param_elements(c, rec)
                                          if p.requires_grad], "math.sqrt")   # frozen parameters stay
    names = [c.v(p, i) for p, i in _param_elements(c, rec)]
    body += ["", f"# {UPDATED_NOTE}",
             "print('epoch', epoch, 'updated', {" + ", ".join(f"'{n}': {n}" for n in names) + "})"]
    lines += ["", "for epoch in range(epochs):"] + block(body, "    ")
    return "\n".join(lines) + "\n"
