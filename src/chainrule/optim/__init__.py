"""Optimizers with PyTorch's update rules, so trajectories match ``torch.optim`` step for step."""

from __future__ import annotations

import math

import numpy as np

from .. import autograd
from ..autograd import enable_grad
from ..tensor import Tensor, zero_grads


class Optimizer:
    """Holds parameter groups and per-parameter state; subclasses implement ``_update``."""

    defaults: dict = {}

    def __init__(self, params, **hyper):
        if isinstance(params, Tensor):
            raise TypeError(
                f"{type(self).__name__}: params argument given to the optimizer should be an iterable of Tensors or "
                f"dicts, but got a Tensor"
            )
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        self._hyper = hyper
        self.param_groups = []
        self.state: dict[int, dict] = {}
        for group in params if isinstance(params[0], dict) else [{"params": params}]:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own hyperparameters (the rest from the defaults), as in PyTorch.

        Parameters that do not require grad are accepted (frozen layers) and skipped while their
        ``.grad`` is None; a parameter may belong to one group only.
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"{type(self).__name__}: param_group must be a dict, got {type(param_group).__name__}")
        group = {**self.defaults, **self._hyper, **param_group}
        params = group["params"]
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        for p in group["params"]:
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__} can only optimize Tensors, but one of the params is {type(p).__name__}")
            if p.grad_fn is not None:
                raise ValueError(f"{type(self).__name__}: can't optimize a non-leaf Tensor")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        self._validate(group)
        self.param_groups.append(group)

    def _validate(self, group) -> None:
        """PyTorch's checks and wording ("Invalid learning rate: -1"), prefixed with the optimizer."""
        name = type(self).__name__
        for key, label in (("lr", "learning rate"), ("momentum", "momentum value"), ("dampening", "dampening value"),
                           ("weight_decay", "weight_decay value"), ("eps", "epsilon value")):
            if key not in group:
                continue
            value = group[key]
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
                raise TypeError(f"{name}: {key} must be a number, got {value!r} of type {type(value).__name__}")
            if not value >= 0 or not math.isfinite(value):
                raise ValueError(f"{name}: Invalid {label}: {value} (it must be a finite number >= 0)")

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            zero_grads(group["params"], set_to_none)

    def step(self, closure=None):
        """Update every parameter that has a gradient, in place (its version counter advances).

        ``closure``, as in PyTorch, re-evaluates the model and returns the loss; it runs with grad
        enabled before the update, and its loss is returned.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        states, update = self.state, self._update
        # Nodes recorded before now must check their inputs' versions in backward: said once, before any
        # parameter changes (so even a step that fails halfway leaves the graph checking them).
        autograd.wrote()
        for group in self.param_groups:
            for p in group["params"]:
                grad = p._grad
                if grad is None:
                    continue
                state = states.get(id(p))
                if state is None:
                    state = states[id(p)] = {}
                w = p.array
                new = update(w, grad.array, state, group)
                if new is not w:
                    np.copyto(w, new)
                vc = p._vc
                if type(vc) is not list:
                    vc = p._counter()
                vc[0] += 1  # a new version of p: Tensor._bump, with the clock ticked once above
        return loss

    def _update(self, w, g, state, group):
        """The new value of ``w``: a new array, or ``w`` itself after updating it in place."""
        raise NotImplementedError

    def state_dict(self) -> dict:
        """Per-parameter state in parameter order, plus hyperparameters (arrays and numbers only)."""
        order = [id(p) for group in self.param_groups for p in group["params"]]
        return {
            "state": {i: _copied(self.state[pid]) for i, pid in enumerate(order) if pid in self.state},
            "param_groups": [{k: v for k, v in g.items() if k != "params"} for g in self.param_groups],
        }

    def load_state_dict(self, state_dict) -> None:
        params = [p for group in self.param_groups for p in group["params"]]
        for group, saved in zip(self.param_groups, state_dict["param_groups"]):
            group.update({k: v for k, v in saved.items() if k != "params"})
        self.state = {id(params[int(i)]): _copied(s) for i, s in state_dict["state"].items()}


def _copied(state: dict) -> dict:
    """A parameter's state with its arrays copied: the optimizer updates its own arrays in place,
    so a saved or loaded state dict must not share them."""
    return {k: np.array(v) if isinstance(v, np.ndarray) else v for k, v in state.items()}


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, dampening, Nesterov and weight decay."""

    defaults = {"lr": 1e-3, "momentum": 0.0, "dampening": 0.0, "nesterov": False, "weight_decay": 0.0}

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(params, lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov, weight_decay=weight_decay)

    def _validate(self, group):
        super()._validate(group)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum > 0 and zero dampening")

    def _update(self, w, g, state, group):
        if group["weight_decay"]:
            g = g + group["weight_decay"] * w
        momentum = group["momentum"]
        if momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = g.copy()
            else:  # buf ← momentum·buf + (1 − dampening)·g, in place (PyTorch's mul_().add_())
                buf *= momentum
                buf += g if group["dampening"] == 0 else (1 - group["dampening"]) * g
            g = g + momentum * buf if group["nesterov"] else buf
        w -= group["lr"] * g  # in place: one pass over the weights, no copy back
        return w


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction; ``weight_decay`` adds an L2 term to the gradient."""

    defaults = {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0, "amsgrad": False}
    decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=None, amsgrad=False):
        hyper = {"lr": lr, "betas": tuple(betas), "eps": eps, "amsgrad": amsgrad}
        if weight_decay is not None:
            hyper["weight_decay"] = weight_decay
        super().__init__(params, **hyper)

    def _validate(self, group):
        super()._validate(group)
        if len(group["betas"]) != 2:
            raise ValueError(f"{type(self).__name__}: betas must be a pair (beta1, beta2), got {group['betas']}")
        for i, beta in enumerate(group["betas"]):
            if not 0 <= beta < 1:
                raise ValueError(
                    f"{type(self).__name__}: Invalid beta parameter at index {i}: {beta}; betas must be in [0, 1), "
                    f"got {group['betas']}"
                )

    def _update(self, w, g, state, group):
        lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        if wd and self.decoupled:
            w *= 1 - lr * wd
        elif wd:
            g = g + wd * w
        step = state["step"] = state.get("step", 0) + 1
        m = state.get("exp_avg")
        v = state.get("exp_avg_sq")
        if m is None:
            m = state["exp_avg"] = np.zeros_like(w)
            v = state["exp_avg_sq"] = np.zeros_like(w)
        # The moments are updated in place: m ← b1·m + (1 − b1)·g, v ← b2·v + (1 − b2)·g²
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * g * g
        if group["amsgrad"]:
            vmax = np.maximum(state.get("max_exp_avg_sq", v), v)
            state["max_exp_avg_sq"] = vmax
            v = vmax
        bias1 = 1 - b1**step
        bias2 = 1 - b2**step
        denom = np.sqrt(v)
        denom /= math.sqrt(bias2)
        denom += eps
        update = (lr / bias1) * m
        update /= denom
        w -= update
        return w


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): ``w ← w(1 − lr·wd)`` before the Adam step."""

    defaults = {**Adam.defaults, "weight_decay": 1e-2}
    decoupled = True


from . import lr_scheduler  # noqa: E402, F401  (imports Optimizer from here)
from .adaptive import Adagrad, RMSprop  # noqa: E402, F401
