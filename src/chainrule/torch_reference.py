"""The same spec trained in PyTorch (float64), as an independent reference.

Used by the demo, ``chainrule check`` and the tests. PyTorch is optional: ``available()`` says
whether it can be imported, and nothing here imports it at module load.
"""

from __future__ import annotations

import importlib.util

import numpy as np

from .spec import Spec, load_spec


def available() -> bool:
    return importlib.util.find_spec("torch") is not None


def run(spec, steps: int | None = None, params: dict | None = None) -> list[dict]:
    """Per step: ``output``, ``loss``, ``grad`` and ``params_after`` (arrays, (from, to) order).

    ``params`` gives the starting weights (``{"W1": (from, to) matrix, "b1": vector, ...}``); by
    default they are the spec's own, which requires explicit initial weights or a chainrule run's.
    """
    import torch

    spec: Spec = load_spec(spec)
    steps = spec.steps if steps is None else int(steps)
    if params is None:
        from .network import SpecNetwork

        params = SpecNetwork(spec).param_arrays()
    # a frozen parameter does not require grad and is left out of the optimizer; a shared bias is one
    # number that broadcasts over its layer
    tensors = {k: torch.tensor(np.asarray(v), dtype=torch.float64, requires_grad=spec.trainable(k))
               for k, v in params.items()}
    order = list(tensors)
    trained = [t for k, t in tensors.items() if spec.trainable(k)]
    if spec.optimizer == "sgd":
        opt = torch.optim.SGD(trained, lr=spec.lr)
    elif spec.optimizer == "momentum":
        opt = torch.optim.SGD(trained, lr=spec.lr, momentum=spec.momentum)
    else:
        opt = torch.optim.Adam(trained, lr=spec.lr, betas=spec.betas, eps=spec.eps)
    x = torch.tensor(spec.x, dtype=torch.float64)
    y = torch.tensor(spec.y, dtype=torch.int64 if spec.loss == "cross_entropy" else torch.float64)
    records = []
    for _ in range(steps):
        opt.zero_grad()
        a, z = x, None
        for i, kind in enumerate(spec.activations, 1):
            z = a @ tensors[f"W{i}"]
            if f"b{i}" in tensors:
                z = z + tensors[f"b{i}"]
            a = _activate(torch, kind, z, spec.negative_slope)
        loss = _loss(torch, spec.loss, z, a, y)
        loss.backward()
        grads = {k: tensors[k].grad.detach().numpy().copy() for k in order if spec.trainable(k)}
        opt.step()
        records.append({
            "output": a.detach().numpy().copy(),
            "loss": float(loss.detach()),
            "grad": grads,
            "params_after": {k: tensors[k].detach().numpy().copy() for k in order},
        })
    return records


def _activate(torch, kind, z, slope):
    if kind == "none":
        return z
    if kind == "relu":
        return torch.relu(z)
    if kind == "sigmoid":
        return torch.sigmoid(z)
    if kind == "tanh":
        return torch.tanh(z)
    if kind == "leaky_relu":
        return torch.nn.functional.leaky_relu(z, slope)
    return torch.softmax(z, dim=-1)


def _loss(torch, kind, z, a, y):
    F = torch.nn.functional
    if kind == "cross_entropy":
        return F.cross_entropy(z, y)
    if kind == "half_sse":
        return 0.5 * ((a - y) ** 2).sum()
    if kind == "mse":
        return F.mse_loss(a, y)
    if kind == "sse":
        return F.mse_loss(a, y, reduction="sum")
    return F.binary_cross_entropy(a, y)
