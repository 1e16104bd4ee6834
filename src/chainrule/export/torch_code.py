"""``--to torch``: the PyTorch version: ``nn.Linear`` layers, the spec's loss, ``torch.optim``.

float64 throughout, so the numbers agree with chainrule's to the last digits. Runs wherever PyTorch
is installed; the forward pass is written by the same op rules the other exports use.
"""

from __future__ import annotations

from .graph import UPDATED_NOTE, Context, Recorded, block, header, matrix_lines, op_lines, prediction_expr


def generate(rec: Recorded, steps: int) -> str:
    spec = rec.spec
    c = Context("torch", rec)
    forward = []
    for t in rec.forward:
        forward += [c.stage(t)] + op_lines("export", c, t)

    lines = [header(spec, "torch", steps), "", "import torch", "", "torch.set_default_dtype(torch.float64)", ""]
    lines += ["# Data: one row per sample"] + matrix_lines("x = torch.tensor(", spec.x, ")")
    if spec.loss == "cross_entropy":
        lines.append(f"labels = torch.tensor({spec.y.tolist()!r})")
    else:
        lines += matrix_lines("y_true = torch.tensor(", spec.y, ")")
    lines += ["", "# Hyperparameters", f"learning_rate = {spec.lr!r}", f"epochs = {steps}", ""]
    lines += ["# Layers. nn.Linear keeps its weight as (out, in): row j holds the weights w_ij into neuron j"]
    for layer, (n_in, n_out) in enumerate(zip(spec.layers, spec.layers[1:]), 1):
        has_bias = f"b{layer}" in rec.params
        lines.append(f"fc{layer} = torch.nn.Linear({n_in}, {n_out}, bias={has_bias})")
    lines.append("with torch.no_grad():")
    for name in rec.params:
        attr = "weight" if name[0] == "W" else "bias"
        lines += block(matrix_lines(f"fc{name[1:]}.{attr}.copy_(torch.tensor(", rec.initial[name], "))"), "    ")
    frozen = [f"fc{name[1:]}.{'weight' if name[0] == 'W' else 'bias'}" for name in rec.params if not spec.trainable(name)]
    if frozen:
        lines += ["# Frozen parameters: no gradient, not updated"] + [f"{f}.requires_grad_(False)" for f in frozen]
    params = ", ".join(f"*fc{layer}.parameters()" for layer in range(1, spec.depth + 1))
    if frozen:
        params = "p for p in (" + params + ") if p.requires_grad"
    if spec.optimizer == "sgd":
        opt = f"torch.optim.SGD([{params}], lr=learning_rate)"
    elif spec.optimizer == "momentum":
        opt = f"torch.optim.SGD([{params}], lr=learning_rate, momentum={spec.momentum!r})"
    else:
        opt = f"torch.optim.Adam([{params}], lr=learning_rate, betas=({spec.betas[0]!r}, {spec.betas[1]!r}), eps={spec.eps!r})"
    lines += block([opt.replace("torch.optim", "optimizer = torch.optim", 1)], "")

    body = ["# Forward pass"] + forward
    shown = prediction_expr(spec, "{}.item()")
    body += [f"print('epoch', epoch, 'prediction', {shown}, 'loss', loss.item())", ""]
    body += ["# Backward pass and update: autograd computes every gradient, the optimizer applies them",
             "optimizer.zero_grad()", "loss.backward()", "optimizer.step()"]
    shown = []
    for name in rec.params:
        attr = f"fc{name[1:]}.{'weight' if name[0] == 'W' else 'bias'}.detach()"
        shown.append(f"'{name}': {attr}.T.tolist()" if name[0] == "W" else f"'{name}': {attr}.tolist()")
    body += ["", f"# {UPDATED_NOTE} (weights in (from, to) order, the transpose of .weight)",
             "print('epoch', epoch, 'updated', {" + ", ".join(shown) + "})"]
    lines += ["", "for epoch in range(epochs):"] + block(body, "    ")
    return "\n".join(lines) + "\n"
