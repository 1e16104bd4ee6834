"""What every layered replay shares: float64 tensors for the engine's ops, and the quantities of a step
recorded as computed while the learner's own numbers (where the answers give them) are carried on.

A replay computes each quantity from the learner's earlier answers rather than from the right ones, so
the grader can tell a carried error from a new mistake; ``Given.use`` is that hand-over.
"""

from __future__ import annotations

import numpy as np


def leaf(a, grad: bool = False):
    """A float64 tensor of ``a``, requiring grad when ``grad``."""
    from .. import float64, tensor

    return tensor(np.asarray(a, dtype=np.float64), dtype=float64, requires_grad=grad)


def grad_of(t) -> np.ndarray:
    """A copy of ``t``'s gradient as a float64 array."""
    return np.array(t.grad.array, dtype=np.float64)


class Given:
    """The learner's answers (``given``: name -> number or grid, NaN for a blank cell) and what a replay
    computed (``computed``: name -> value, kept as computed even where an answer stands in)."""

    def __init__(self, given: dict | None = None):
        self.given = given or {}
        self.computed = {}

    def use(self, name: str, computed):
        """Record ``computed`` under ``name``; return the learner's value where given (cell by cell), so
        the next quantity is computed from it, else ``computed``."""
        self.computed[name] = computed
        if name not in self.given:
            return computed
        answer = np.asarray(self.given[name], dtype=np.float64)
        if np.ndim(computed) == 0:
            return computed if np.isnan(answer) else float(answer)
        answer = answer.reshape(np.shape(computed))
        return np.where(np.isnan(answer), computed, answer)
