"""Build the network a ``Spec`` describes and run its training steps, recording everything.

``run(spec)`` returns a ``Run``: one ``StepRecord`` per step with the engine's own tensors (the
recorded graph is kept, and every intermediate keeps its gradient), so the explainer, the code
exporter, the checks and the drawings all read the same numbers the engine computed.

Naming: parameters are ``W1, b1, W2, b2, ...`` (layer l = 1..depth); matrices in records are in
(from, to) order like the spec, i.e. the transpose of ``nn.Linear.weight``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import functional as F
from . import nn, optim
from .autograd import no_grad
from .errors import SpecError
from .random import manual_seed
from .spec import MAX_STEPS, Spec, load_spec
from .tensor import Tensor


class SpecNetwork(nn.Module):
    """Linear layers with the spec's activations, in float64; ``forward_trace`` exposes every z and a."""

    def __init__(self, spec: Spec):
        super().__init__()
        self.spec = spec
        if spec.seed is not None:
            manual_seed(spec.seed)
        self.linears = []
        for i, (n_in, n_out) in enumerate(zip(spec.layers, spec.layers[1:])):
            layer = nn.Linear(n_in, n_out, bias=spec.bias[i], dtype=np.float64)
            with_values = {}
            if spec.weights[i] is not None:
                with_values["weight"] = spec.weights[i].T
            if spec.bias[i] and spec.biases[i] is not None:
                with_values["bias"] = np.broadcast_to(spec.biases[i], (n_out,)).copy()
            layer.load_state_dict(with_values, strict=False)
            if spec.is_shared(i + 1) and spec.biases[i] is None:  # random init: one value for the layer
                layer.bias.array[...] = layer.bias.array[0]
            for name, p in ((f"W{i + 1}", layer.weight), (f"b{i + 1}", layer.bias)):
                if p is not None and not spec.trainable(name):
                    p.requires_grad_(False)       # frozen, as in PyTorch: no gradient, not in the optimizer
            setattr(self, f"fc{i + 1}", layer)
            self.linears.append(layer)

    def activate(self, i: int, z: Tensor) -> Tensor:
        kind = self.spec.activations[i]
        if kind == "none":
            return z
        if kind == "leaky_relu":
            return F.leaky_relu(z, self.spec.negative_slope)
        return getattr(F, kind)(z)

    def forward_trace(self, x: Tensor):
        """(zs, activations): the pre-activation and activation tensor of every layer."""
        zs, acts, a = [], [], x
        last = len(self.linears) - 1
        for i, layer in enumerate(self.linears):
            z = layer(a)
            # With cross-entropy the loss takes the logits z; the softmax is shown, not differentiated through.
            a = self.activate(i, z)
            zs.append(z)
            acts.append(a)
            if i == last:
                break
        return zs, acts

    def forward(self, x):
        """What the loss takes: the logits for cross-entropy, otherwise the last activation."""
        zs, acts = self.forward_trace(x)
        return zs[-1] if self.spec.loss == "cross_entropy" else acts[-1]

    def loss(self, zs, acts, y) -> Tensor:
        return self.loss_from_output(zs[-1] if self.spec.loss == "cross_entropy" else acts[-1], y)

    def loss_from_output(self, out, y) -> Tensor:
        kind = self.spec.loss
        if kind == "cross_entropy":
            return F.cross_entropy(out, y)
        if kind == "half_sse":
            return F.half_sse_loss(out, y)
        if kind == "mse":
            return F.mse_loss(out, y)
        if kind == "sse":
            return F.mse_loss(out, y, reduction="sum")
        return F.binary_cross_entropy(out, y)

    def named_weights(self) -> dict[str, Tensor]:
        """``{"W1": weight, "b1": bias, ...}`` with the engine's (out, in) weight tensors."""
        out = {}
        for i, layer in enumerate(self.linears, 1):
            out[f"W{i}"] = layer.weight
            if layer.bias is not None:
                out[f"b{i}"] = layer.bias
        return out

    def shared(self, name: str) -> bool:
        """Whether ``name`` is a bias shared by its layer (held by the engine as equal copies)."""
        return name[0] == "b" and self.spec.is_shared(int(name[1:]))

    def param_arrays(self) -> dict[str, np.ndarray]:
        """Copies of the parameters, weights in (from, to) order; a shared bias as one number."""
        return {k: (p.array[:1] if self.shared(k) else engine_layout(k, p.array)).copy()
                for k, p in self.named_weights().items()}

    def grad_arrays(self) -> dict[str, np.ndarray]:
        """The gradients of the trainable parameters in a record's layout (after ``tie_shared_grads``:
        a shared bias has ∂L/∂b = Σ_j ∂L/∂z_j); frozen parameters have none."""
        out = {}
        for k, p in self.named_weights().items():
            if p.requires_grad and p.grad is not None:
                out[k] = (p.grad.array[:1] if self.shared(k) else engine_layout(k, p.grad.array)).copy()
        return out

    def tie_shared_grads(self) -> None:
        """Give every copy of a shared bias the layer's total gradient, so the optimizer moves them as one."""
        for k, p in self.named_weights().items():
            if self.shared(k) and p.grad is not None:
                p.grad.array[...] = p.grad.array.sum()

    def trainable_parameters(self) -> list:
        return [p for p in self.parameters() if p.requires_grad]

    def load_params(self, params: dict) -> None:
        """Set the parameters from ``{"W1": (from, to) matrix, "b1": vector, ...}`` (a record's layout)."""
        for name, p in self.named_weights().items():
            p.array[...] = params[name] if self.shared(name) else engine_layout(name, params[name])


def engine_layout(name: str, arr) -> np.ndarray:
    """A record's (from, to) weight matrix in the engine's (out, in) layout and back (a transpose);
    biases unchanged."""
    return np.asarray(arr).T if name[0] == "W" else np.asarray(arr)


def data_tensors(spec: Spec) -> tuple[Tensor, Tensor]:
    """The spec's inputs (float64) and targets (class indices for cross-entropy, else float64)."""
    return (Tensor(spec.x, dtype=np.float64),
            Tensor(spec.y, dtype=np.int64 if spec.loss == "cross_entropy" else np.float64))


class SpecLoss:
    """L(params) on the spec's data by the engine's own forward pass, without recording a graph:
    what finite-difference checks (``derive``, ``chainrule check``) evaluate."""

    def __init__(self, spec: Spec, params: dict | None = None):
        self.model = SpecNetwork(spec)
        self.weights = self.model.named_weights()
        self.x, self.y = data_tensors(spec)
        if params is not None:
            self.load(params)

    def load(self, params: dict) -> None:
        self.model.load_params(params)

    def __call__(self) -> float:
        with no_grad(), np.errstate(all="ignore"):
            zs, acts = self.model.forward_trace(self.x)
            return float(self.model.loss(zs, acts, self.y).array)

    def central_difference(self, name: str, index: tuple, eps: float | None = None) -> float:
        """(L(w + h) − L(w − h)) / 2h for element ``index`` ((from, to) for weights) of parameter ``name``;
        ``eps`` None takes h = 1e-6·max(1, |w|)."""
        p = self.weights[name].array
        at = tuple(reversed(index)) if name[0] == "W" else (slice(None) if self.model.shared(name) else index)
        w = float(p[at][0]) if isinstance(at, slice) else float(p[at])
        h = 1e-6 * max(1.0, abs(w)) if eps is None else eps
        p[at] = w + h
        up = self()
        p[at] = w - h
        down = self()
        p[at] = w
        return (up - down) / (2 * h)


def make_optimizer(spec: Spec, params):
    if spec.optimizer == "sgd":
        return optim.SGD(params, lr=spec.lr)
    if spec.optimizer == "momentum":
        return optim.SGD(params, lr=spec.lr, momentum=spec.momentum)
    return optim.Adam(params, lr=spec.lr, betas=spec.betas, eps=spec.eps)


@dataclass
class StepRecord:
    """Everything about one training step; tensors are the engine's own, with their graph kept."""

    index: int
    x: Tensor
    y: Tensor
    zs: list
    acts: list
    loss: Tensor
    params_before: dict
    grads: dict
    params_after: dict
    single_sample: bool = False

    @property
    def output(self) -> Tensor:
        return self.acts[-1]

    def _rows(self, arr):
        arr = np.asarray(arr)
        return arr[0] if self.single_sample and arr.ndim >= 1 and arr.shape[0] == 1 else arr

    def to_dict(self) -> dict:
        """JSON-ready: forward (z, a per layer), loss, grad and params_after by parameter name."""
        return {
            "step": self.index + 1,
            "forward": [
                {"layer": i + 1, "z": self._rows(z.array).tolist(), "a": self._rows(a.array).tolist()}
                for i, (z, a) in enumerate(zip(self.zs, self.acts))
            ],
            "output": self._rows(self.output.array).tolist(),
            "loss": float(self.loss.array),
            "dL_doutput": self._rows(self.acts[-1].grad.array).tolist() if self.acts[-1].grad is not None else None,
            "delta": [self._rows(z.grad.array).tolist() for z in self.zs],
            "params_before": {k: v.tolist() for k, v in self.params_before.items()},
            "grad": {k: v.tolist() for k, v in self.grads.items()},
            "params_after": {k: v.tolist() for k, v in self.params_after.items()},
        }


@dataclass
class Run:
    spec: Spec
    model: SpecNetwork
    steps: list = field(default_factory=list)

    @property
    def losses(self) -> list[float]:
        return [float(s.loss.array) for s in self.steps]

    @property
    def outputs(self) -> list[np.ndarray]:
        return [s.output.array.copy() for s in self.steps]

    def to_dict(self) -> dict:
        spec = self.spec
        return {
            "spec": {
                "name": spec.name, "layers": spec.layers, "activations": spec.activations, "bias": spec.bias,
                "loss": spec.loss, "lr": spec.lr, "optimizer": spec.optimizer,
                "x": (spec.x[0] if spec.single_sample else spec.x).tolist(),
                "y": (spec.y[0] if spec.single_sample and spec.y.ndim == 2 else spec.y).tolist(),
            },
            "steps": [s.to_dict() for s in self.steps],
        }


def run(spec, steps: int | None = None, keep_graph: int | None = None) -> Run:
    """Train the spec's network for ``steps`` steps (default: the spec's own), recording each.

    ``keep_graph``: how many leading steps keep their graph and intermediate gradients (default all);
    later steps keep only numbers, which is enough for loss curves and long runs.
    """
    spec = load_spec(spec)
    steps = spec.steps if steps is None else int(steps)
    if not 1 <= steps <= MAX_STEPS:
        raise SpecError(f"{spec.source}: steps must be between 1 and {MAX_STEPS:,}, got {steps:,}")
    model = SpecNetwork(spec)
    opt = make_optimizer(spec, model.trainable_parameters())
    x, y = data_tensors(spec)
    result = Run(spec, model)
    for k in range(steps):
        keep = keep_graph is None or k < keep_graph
        before = model.param_arrays()
        opt.zero_grad()
        zs, acts = model.forward_trace(x)
        loss = model.loss(zs, acts, y)
        if keep:
            for t in (*zs, *acts):
                if t.requires_grad:
                    t.retain_grad()
        loss.backward(retain_graph=keep)
        model.tie_shared_grads()
        grads = model.grad_arrays()
        opt.step()
        result.steps.append(
            StepRecord(k, x, y, zs, acts, loss, before, grads, model.param_arrays(), spec.single_sample)
        )
    return result
