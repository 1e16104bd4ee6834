"""Loss modules; each calls one fused loss op from ``chainrule.ops.loss``."""

from __future__ import annotations

from .. import functional as F
from .module import Module


class _Loss(Module):
    def __init__(self, reduction: str = "mean"):
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"{type(self).__name__}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    def forward(self, input, target):  # noqa: A002
        return F.mse_loss(input, target, self.reduction)


class CrossEntropyLoss(_Loss):
    """Logits (N, C) and integer labels (N,); softmax and log are fused for stability."""

    def forward(self, input, target):  # noqa: A002
        return F.cross_entropy(input, target, self.reduction)


class BCELoss(_Loss):
    def forward(self, input, target):  # noqa: A002
        return F.binary_cross_entropy(input, target, self.reduction)


class BCEWithLogitsLoss(_Loss):
    def forward(self, input, target):  # noqa: A002
        return F.binary_cross_entropy_with_logits(input, target, self.reduction)


class HalfSSELoss(Module):
    """½ Σ (y − y')² over every output and sample: the seed's loss, whose gradient is y' − y."""

    def forward(self, input, target):  # noqa: A002
        return F.half_sse_loss(input, target)


HalfSquaredError = HalfSSELoss
