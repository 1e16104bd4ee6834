"""Exception types. Each subclasses the built-in error a Python user would expect to catch, and RuntimeError
where PyTorch raises RuntimeError for the same mistake (shapes, dtypes), so ported code catches it."""


class ChainruleError(Exception):
    """Base of every error chainrule raises on purpose."""


class ShapeError(ChainruleError, ValueError, RuntimeError):
    """Operand shapes that an op cannot combine."""


class LabelRangeError(ShapeError, IndexError):
    """A class label outside 0..classes-1: an IndexError too, as PyTorch's "Target 99 is out of bounds" is."""


class DTypeError(ChainruleError, TypeError, RuntimeError):
    """A dtype an op or autograd cannot work with."""


class GraphError(ChainruleError, RuntimeError):
    """Misuse of the recorded graph: freed, modified in place, or nothing to differentiate."""


class AnomalyError(ChainruleError, FloatingPointError):
    """NaN or Inf produced while anomaly detection is on."""


class SpecError(ChainruleError, ValueError):
    """A bad network spec, answer sheet or data file; the message names file and key."""


class CheckpointError(ChainruleError, ValueError):
    """A checkpoint that is corrupt, too large, pickled, or does not match the model; names the file."""


class GradcheckError(ChainruleError, RuntimeError):
    """``gradcheck`` found an analytical gradient that disagrees with finite differences (as in PyTorch)."""
