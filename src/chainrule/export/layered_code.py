"""The NumPy and PyTorch scripts of a layered spec (``chainrule export conv --to numpy``).

NumPy: every recorded node's op writes its own lines (conv2d with sliding windows and einsum, max
pooling routing to the arg-max, batch norm's three-term backward, ...), block by block, then the
update. PyTorch: the same modules by name (``torch.nn.Conv2d`` ...) with the same starting weights,
autograd and ``torch.optim``. Both print the same numbers.
"""

from __future__ import annotations

import numpy as np

from .graph import UPDATED_NOTE, block, op_lines, state_lines, update_lines
from .layered import LayeredContext, LayeredRecorded, flat_lines, header


def _hyper(spec, steps) -> list[str]:
    lines = ["", "# Hyperparameters", f"learning_rate = {spec.lr!r}", f"epochs = {steps}"]
    if spec.optimizer == "momentum":
        lines.append(f"momentum = {spec.momentum!r}")
    if spec.optimizer == "adam":
        lines += [f"beta1 = {spec.betas[0]!r}", f"beta2 = {spec.betas[1]!r}", f"eps = {spec.eps!r}"]
    return lines


def _data(rec: LayeredRecorded, array: str) -> list[str]:
    spec = rec.spec
    x = np.asarray(rec.x.array)
    what = ("Data: the spec's batch, one sample per row" if rec.fixed and x.shape[0] > 1 else
            "Data: the spec's sample, as a batch of one (N, C, H, W)" if rec.fixed and x.ndim == 4 else
            "Data: the spec's sample, as a batch of one" if rec.fixed else
            f"Data: a fixed batch of {x.shape[0]} random samples (normal(0, 1), seed {spec.seed or 0})")
    lines = ["", f"# {what}"] + flat_lines(f"x = {array}(", x, ")")
    if rec.labels:
        labels = np.asarray(rec.target.array).tolist()
        if array == "np.array":
            lines += [f"labels = np.array({labels!r})", "# the classes as one-hot rows",
                      f"y_true = np.eye({spec.layers[-1]})[labels]"]
        else:
            lines.append(f"labels = torch.tensor({labels!r})")
    else:
        lines += flat_lines(f"y_true = {array}(", np.asarray(rec.target.array), ")")
    return lines


# An rnn block is torch.nn.RNN(batch_first=True) that hands on every step's hidden state (or the last one)
# and starts from the spec's h0: the same as chainrule.layered's block, written out for the script.
RNN_CLASS = [
    "class SequenceRNN(torch.nn.Module):",
    "    # torch.nn.RNN (batch_first) that returns every step's hidden state, or the last step's, from a fixed h0",
    "    def __init__(self, input_size, hidden_size, nonlinearity, bias, last, h0):",
    "        super().__init__()",
    "        self.rnn = torch.nn.RNN(input_size, hidden_size, nonlinearity=nonlinearity, bias=bias, batch_first=True)",
    "        self.last, self.h0 = last, h0",
    "",
    "    def forward(self, x):",
    "        hx = None if self.h0 is None else torch.tensor(self.h0).expand(1, x.shape[0], -1).contiguous()",
    "        out, _ = self.rnn(x, hx)",
    "        return out[:, -1] if self.last else out",
]


def _is_rnn(module) -> bool:
    return hasattr(module, "weight_hh_l0")


def _torch_module(module) -> str:
    """The PyTorch constructor of one block: chainrule's modules print as PyTorch's do."""
    if _is_rnn(module):
        h0 = None if getattr(module, "h0", None) is None else np.asarray(module.h0).tolist()
        return (f"SequenceRNN({module.input_size}, {module.hidden_size}, {module.nonlinearity!r}, {module.bias}, "
                f"{bool(getattr(module, 'last', False))}, {h0!r})")
    return f"torch.nn.{module!r}"


def _dropout_note(rec, k) -> str:
    return f"# layers[{k}]: dropout, written as the identity (evaluation mode): no random mask is drawn"


def generate_numpy(rec: LayeredRecorded, steps: int, lang: str = "en") -> str:
    spec = rec.spec
    c = LayeredContext("np", rec)
    forward, done = [], set()
    for k, _module, made in rec.blocks:
        if k in rec.dropout and not made:
            forward.append(_dropout_note(rec, k))
        for t in made:
            forward += [c.stage(t)] + op_lines("export", c, t)
            done.add(id(t))
    for t in rec.forward:              # the loss
        if id(t) not in done:
            forward += [c.stage(t)] + op_lines("export", c, t)
    backward = []
    for t in rec.backward:
        lines = op_lines("export_vjp", c, t)
        if lines:
            backward += [c.stage(t, backward=True)] + lines

    lines = [header(rec, "numpy", steps, lang), "", "import numpy as np"]
    lines += _data(rec, "np.array") + _hyper(spec, steps)
    kinds = {b["kind"] for b in spec.blocks}
    lines += ["", "# Initialisation: the spec's weights"]
    if "conv2d" in kinds:
        lines.append("# a kernel W[o, c, i, j]: output channel o, input channel c, row i, column j (PyTorch's layout)")
    if "linear" in kinds:
        lines.append("# a linear layer's W[i, j]: from input i to output j (the transpose of PyTorch's .weight)")
    if "rnn" in kinds:
        lines.append("# an rnn's W_ih and W_hh likewise: from input (or hidden unit) i to hidden unit j")
    if "batchnorm" in kinds:
        lines.append("# batch norm's γ (gamma) and β (beta): one per channel or feature")
    linear = rec.transposed
    for var in rec.params:
        values = rec.initial[var]
        lines += flat_lines(f"{var} = np.array(", values.T if var in linear else values, ")")
    if rec.constants:
        lines += ["", "# Constants the network holds (not trained)"]
        for var, values in rec.constants.items():
            lines += flat_lines(f"{var} = np.array(", values, ")")
    names = list(rec.params)
    lines += state_lines(spec.optimizer, names)

    body = ["# Forward pass"] + forward
    body += ["print('epoch', epoch, 'prediction', y_pred.tolist(), 'loss', float(loss))", ""]
    body += ["# Backward pass: the chain rule, layer by layer"] + backward
    if rec.fixed:
        body += ["print('epoch', epoch, 'd_x', d_x.tolist())"]
    trained = [n for n in names if rec.params[n][1].requires_grad]
    body += update_lines(spec.optimizer, [(n, f"d_{n}") for n in trained], "np.sqrt")
    shown = ", ".join(f"'{rec.params[n][0]}': {n}{'.T' if n in linear else ''}.tolist()" for n in names)
    body += ["", f"# {UPDATED_NOTE} (in PyTorch's layout)", "print('epoch', epoch, 'updated', {" + shown + "})"]
    lines += ["", "for epoch in range(epochs):"] + block(body, "    ")
    return "\n".join(lines) + "\n"


def generate_torch(rec: LayeredRecorded, steps: int, lang: str = "en") -> str:
    spec = rec.spec
    c = LayeredContext("torch", rec)
    lines = [header(rec, "torch", steps, lang), "", "import torch", "", "torch.set_default_dtype(torch.float64)"]
    lines += _data(rec, "torch.tensor")
    if rec.fixed:
        lines += ["# ∂L/∂x is printed too", "x.requires_grad_(True)"]
    lines += _hyper(spec, steps)
    rnn = any(_is_rnn(m) for _, m, _ in rec.blocks)
    if rnn:
        lines += [""] + RNN_CLASS
    lines += ["", "# The network: the spec's blocks as PyTorch modules", "model = torch.nn.Sequential("]
    lines += [f"    {_torch_module(module)}," for _, module, _ in rec.blocks] + [")"]
    for i, (k, _module, made) in enumerate(rec.blocks):
        if k in rec.dropout and not made:
            lines += [_dropout_note(rec, k), f"model[{i}].eval()"]
    lines += ["# the spec's starting weights", "with torch.no_grad():"]
    index = {id(p): i for i, (_, m, _) in enumerate(rec.blocks) for p in m.parameters()}
    attr = {}
    for var, (label, p) in rec.params.items():
        i = index[id(p)]
        attr[var] = f"model[{i}].{'rnn.' if _is_rnn(rec.blocks[i][1]) else ''}{label.rsplit('.', 1)[1]}"
        lines += block(flat_lines(f"{attr[var]}.copy_(torch.tensor(", rec.initial[var], "))"), "    ")
    opt = {"sgd": "torch.optim.SGD(model.parameters(), lr=learning_rate)",
           "momentum": "torch.optim.SGD(model.parameters(), lr=learning_rate, momentum=momentum)",
           "adam": "torch.optim.Adam(model.parameters(), lr=learning_rate, betas=(beta1, beta2), eps=eps)"}[spec.optimizer]
    lines += [f"optimizer = {opt}"]

    body = ["# Forward pass", "y_pred = model(x)"]
    body += [c.stage(rec.loss)] + op_lines("export", c, rec.loss)
    body += ["print('epoch', epoch, 'prediction', y_pred.detach().tolist(), 'loss', loss.item())", ""]
    body += ["# Backward pass and update: autograd computes every gradient, the optimizer applies them",
             "optimizer.zero_grad()"]
    if rec.fixed:
        body += ["x.grad = None", "loss.backward()", "print('epoch', epoch, 'd_x', x.grad.tolist())"]
    else:
        body += ["loss.backward()"]
    body += ["optimizer.step()"]
    shown = ", ".join(f"'{label}': {attr[var]}.detach().tolist()" for var, (label, _) in rec.params.items())
    body += ["", f"# {UPDATED_NOTE}", "print('epoch', epoch, 'updated', {" + shown + "})"]
    lines += ["", "for epoch in range(epochs):"] + block(body, "    ")
    return "\n".join(lines) + "\n"
