"""``detect_anomaly``: fail at the first op that produces NaN or Inf, naming where it was made."""

from __future__ import annotations

import os

import numpy as np

from .errors import AnomalyError

_enabled = 0
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def is_enabled() -> bool:
    return _enabled > 0


class detect_anomaly:
    """Context manager: every op checks its forward output and its gradients for NaN/Inf.

    While it is active each recorded node remembers the first stack frame outside chainrule,
    so the error says which line of the user's code created the offending op.
    """

    def __init__(self, check_nan: bool = True):
        self.check_nan = check_nan

    def __enter__(self):
        global _enabled
        if self.check_nan:
            _enabled += 1
        return self

    def __exit__(self, *exc):
        global _enabled
        if self.check_nan:
            _enabled -= 1
        return False


def user_frame() -> str:
    """'file:line in function' of the innermost frame that is not chainrule's own code."""
    import traceback  # only anomaly mode reads the stack

    for frame in reversed(traceback.extract_stack()[:-1]):
        if not os.path.abspath(frame.filename).startswith(_PACKAGE_DIR + os.sep):
            return f"{frame.filename}:{frame.lineno} in {frame.name}"
    return "<unknown>"


def _bad(array) -> bool:
    return array is not None and np.issubdtype(array.dtype, np.inexact) and not np.isfinite(array).all()


def check_forward(op_name: str, out: np.ndarray, origin: str) -> None:
    if _bad(out):
        kind = "NaN" if np.isnan(out).any() else "Inf"
        raise AnomalyError(
            f"{op_name} produced {kind} in its forward output (shape {out.shape}); "
            f"the op was created at {origin}"
        )


def check_backward(node, grads) -> None:
    for i, g in enumerate(grads):
        if _bad(g):
            kind = "NaN" if np.isnan(g).any() else "Inf"
            raise AnomalyError(
                f"{node.op.name} backward returned {kind} in the gradient of input {i} "
                f"(shape {g.shape}); the op was created at {node.origin or '<unknown>'}"
            )
