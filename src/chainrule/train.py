"""A training loop for real data: mini-batches, metrics per epoch, validation, non-finite-loss
stop, and atomic checkpoints after every epoch.

``fit`` is what ``chainrule train`` runs; it works with any ``nn.Module`` whose forward returns what
``loss_fn`` takes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .autograd import no_grad
from .errors import ChainruleError
from .tensor import Tensor


class TrainingDiverged(ChainruleError, FloatingPointError):
    """The loss became NaN or infinite; training stopped instead of printing nan for every epoch."""


@dataclass
class History:
    """Per-epoch metrics: ``history["loss"]`` is the mean training loss of each epoch, and so on."""

    metrics: dict = field(default_factory=dict)

    def add(self, **values) -> None:
        for key, value in values.items():
            self.metrics.setdefault(key, []).append(float(value))

    def __getitem__(self, key):
        return self.metrics[key]

    def __contains__(self, key) -> bool:
        return key in self.metrics

    @property
    def epochs(self) -> int:
        return len(self.metrics.get("loss", []))

    def last(self) -> dict:
        return {k: v[-1] for k, v in self.metrics.items() if v}


def evaluate(model, loss_fn, x, y, classification: bool) -> dict:
    """Mean loss (and accuracy for classification) over a whole array, without recording a graph."""
    with no_grad():
        out = model(Tensor(x))
        result = {"loss": float(loss_fn(out, Tensor(y)).item())}
        if classification:
            pred = out.array.argmax(axis=-1) if out.shape[-1] > 1 else (out.array[:, 0] > 0.5).astype(np.int64)
            truth = y if y.ndim == 1 else y[:, 0]
            result["accuracy"] = float((pred == truth).mean())
        else:
            result["mae"] = float(np.abs(out.array - y).mean())
    return result


def fit(model, loss_fn, optimizer, x, y, *, epochs: int, batch_size: int = 32, validation=None,
        classification: bool = False, seed: int = 0, start_epoch: int = 0, history: History | None = None,
        on_epoch=None, checkpoint=None) -> History:
    """Train for ``epochs`` epochs (numbered from ``start_epoch`` when resuming).

    ``on_epoch(epoch, metrics)`` is called after each epoch (progress display); ``checkpoint(epoch,
    history)`` after it, to save. Raises ``TrainingDiverged`` at the first non-finite batch loss.
    """
    history = history or History()
    with np.errstate(over="ignore", invalid="ignore"):  # a non-finite loss is reported as TrainingDiverged
        return _fit(model, loss_fn, optimizer, x, y, epochs, batch_size, validation, classification, seed,
                    start_epoch, history, on_epoch, checkpoint)


def _fit(model, loss_fn, optimizer, x, y, epochs, batch_size, validation, classification, seed, start_epoch,
         history, on_epoch, checkpoint):
    n = len(x)
    for epoch in range(start_epoch, start_epoch + epochs):
        model.train()
        total, seen = 0.0, 0
        # One generator per (seed, epoch): a resumed run shuffles exactly like an uninterrupted one.
        order = np.random.default_rng([seed, epoch]).permutation(n)
        for b, start in enumerate(range(0, n, batch_size)):
            idx = order[start:start + batch_size]
            optimizer.zero_grad()
            loss = loss_fn(model(Tensor(x[idx])), Tensor(y[idx]))
            value = float(loss.item())
            if not math.isfinite(value):
                if epoch == start_epoch and b == 0:  # no update has happened yet: not the learning rate
                    raise TrainingDiverged(
                        f"epoch {epoch + 1}, batch 1: the loss is {value} before any update; training "
                        f"stopped. Check the data for huge values and the initial weights, or "
                        f"standardise the inputs."
                    )
                lr = optimizer.param_groups[0].get("lr")
                raise TrainingDiverged(
                    f"epoch {epoch + 1}, batch {b + 1}: the loss became {value}; training stopped. "
                    f"The learning rate ({lr}) is probably too large for this data; lower it, or "
                    f"standardise the inputs."
                )
            loss.backward()
            optimizer.step()
            total += value * len(idx)
            seen += len(idx)
        metrics = {"loss": total / seen}
        model.eval()
        train_eval = evaluate(model, loss_fn, x, y, classification)
        metrics.update({k: v for k, v in train_eval.items() if k != "loss"})
        if validation is not None and len(validation[0]):
            metrics.update({f"val_{k}": v for k, v in evaluate(model, loss_fn, *validation, classification).items()})
        history.add(**metrics)
        if on_epoch is not None:
            on_epoch(epoch, metrics)
        if checkpoint is not None:
            checkpoint(epoch, history)
    return history
