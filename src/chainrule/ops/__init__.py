"""Every differentiable op, one class each: forward, vector-Jacobian product and explanation.

``REGISTRY`` maps an op's name to its (single) instance.
"""

from . import elementwise, linalg, loss, math, reduce, shape, softmax  # noqa: F401  (registers the ops)
from .base import REGISTRY, Op, register

__all__ = ["REGISTRY", "Op", "register"]
