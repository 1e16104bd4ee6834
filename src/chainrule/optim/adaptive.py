"""RMSprop and Adagrad with PyTorch's update rules (same state names, so trajectories match step for step)."""

from __future__ import annotations

import numpy as np

from . import Optimizer


def _non_negative(name, group, key, label):
    if not group[key] >= 0:
        raise ValueError(f"{name}: Invalid {label}: {group[key]}")


class RMSprop(Optimizer):
    """Divide the gradient by a running root-mean-square of recent gradients (Hinton's lecture 6e).

    ``v ← αv + (1 − α)g²``; ``w ← w − lr·g/(√v + ε)`` (centered: √(v − ḡ²) with ḡ the running mean of g;
    momentum: a buffer ``b ← μb + g/(√v + ε)`` and ``w ← w − lr·b``).
    """

    defaults = {"lr": 1e-2, "alpha": 0.99, "eps": 1e-8, "weight_decay": 0.0, "momentum": 0.0, "centered": False}

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
        super().__init__(params, lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                         centered=centered)

    def _validate(self, group):
        super()._validate(group)
        _non_negative("RMSprop", group, "alpha", "alpha value")

    def _update(self, w, g, state, group):
        # Every state array is updated in place, with the same operations in the same order as the
        # rule above (so the same bits), and one scratch array per step for √v + ε and the step.
        lr, alpha, eps, wd, momentum = group["lr"], group["alpha"], group["eps"], group["weight_decay"], group["momentum"]
        if wd:
            g = g + wd * w
        state["step"] = state.get("step", 0) + 1
        square_avg = state.get("square_avg")
        g2 = g * g
        g2 *= 1 - alpha
        if square_avg is None:
            state["square_avg"] = square_avg = g2
        else:  # v ← αv + (1 − α)g²
            square_avg *= alpha
            square_avg += g2
        if group["centered"]:
            grad_avg = state.get("grad_avg")
            if grad_avg is None:
                grad_avg = state["grad_avg"] = np.zeros_like(g)
            step = g - grad_avg  # ḡ ← ḡ + (1 − α)(g − ḡ)
            step *= 1 - alpha
            grad_avg += step
            avg = np.multiply(grad_avg, grad_avg, out=step)
            np.subtract(square_avg, avg, out=avg)
            np.sqrt(avg, out=avg)
        else:
            avg = np.sqrt(square_avg)
        avg += eps
        step = np.divide(g, avg, out=avg)  # g / (√v + ε)
        if momentum > 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.zeros_like(g)
            buf *= momentum  # b ← μb + g/(√v + ε)
            buf += step
            step = np.multiply(buf, lr, out=step)
        else:
            step *= lr
        w -= step
        return w


class Adagrad(Optimizer):
    """Per-coordinate step sizes from the sum of every squared gradient so far (Duchi et al.).

    ``s ← s + g²``; ``w ← w − lr_t·g/(√s + ε)`` with ``lr_t = lr / (1 + (t − 1)·lr_decay)``.
    """

    defaults = {"lr": 1e-2, "lr_decay": 0.0, "weight_decay": 0.0, "initial_accumulator_value": 0.0, "eps": 1e-10}

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10):
        super().__init__(params, lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                         initial_accumulator_value=initial_accumulator_value, eps=eps)

    def _validate(self, group):
        super()._validate(group)
        _non_negative("Adagrad", group, "lr_decay", "lr_decay value")
        _non_negative("Adagrad", group, "initial_accumulator_value", "initial_accumulator_value value")

    def _update(self, w, g, state, group):
        if group["weight_decay"]:
            g = g + group["weight_decay"] * w
        step = state["step"] = state.get("step", 0) + 1
        total = state.get("sum")
        if total is None:
            total = state["sum"] = np.full_like(g, group["initial_accumulator_value"])
        total += g * g  # in place, as every array below: the same operations in the same order as the rule
        clr = group["lr"] / (1 + (step - 1) * group["lr_decay"])
        update = np.sqrt(total)
        update += group["eps"]
        np.divide(g, update, out=update)
        update *= clr
        w -= update
        return w
