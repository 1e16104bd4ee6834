"""Every differentiable op, one class each: forward, vector-Jacobian product and explanation.

``REGISTRY`` maps an op's name to its (single) instance.
"""

from . import (  # noqa: F401  (registers the ops)
    activation,
    conv,
    elementwise,
    linalg,
    loss,
    loss_extra,
    math,
    norm,
    pool,
    reduce,
    shape,
    softmax,
)
from .base import REGISTRY, Op, register

__all__ = ["REGISTRY", "Op", "register"]
