"""Code export: the spec's network as a standalone script (``chainrule export``).

``export(spec, to="python"|"numpy"|"torch", steps=None)`` returns the script's text. Every script
prints, per epoch, the prediction and the loss before that epoch's update, then the updated weights — the same numbers
``chainrule.network.run`` records — so a learner can run it and compare.

The code is not a template per network size: ``graph.record`` runs one step, and each recorded
node's op writes its own lines (``Op.export`` / ``Op.export_vjp`` in ``chainrule.ops``).
"""

from __future__ import annotations

import os

from .. import limits
from ..spec import load_spec
from . import matrix, scalar, torch_code
from .graph import ExportError, record

TARGETS = {"python": scalar, "numpy": matrix, "torch": torch_code}

__all__ = ["TARGETS", "ExportError", "export"]


def export(spec, to: str = "python", steps: int | None = None, lang: str = "en") -> str:
    """The text of a script that trains ``spec``'s network for ``steps`` epochs (default: the spec's);
    ``lang="zh"`` writes its comments in Chinese (the code is the same)."""
    if lang not in ("en", "zh"):
        raise ValueError(f"export: lang must be en or zh, got {lang!r}")
    if to not in TARGETS:
        raise ValueError(f"export: --to must be one of {', '.join(TARGETS)}, got {to!r}")
    from ..layered import LayeredSpec, load_layered_spec

    layered = spec if isinstance(spec, LayeredSpec) else load_layered_spec(spec) if isinstance(spec, (str, os.PathLike)) else None
    if layered is not None:
        return _export_layered(layered, to, steps, lang)
    spec = load_spec(spec)
    steps = spec.steps if steps is None else int(steps)
    if steps < 1:
        raise ValueError(f"export: --steps must be at least 1, got {steps}")
    if to == "python":
        limits.refuse_over("the number of parameters × samples", spec.n_params * spec.batch_size,
                           limits.SCALAR_EXPORT_PARAMETERS, spec.source,
                           "the scalar script writes one line per weight and sample: use --to numpy or --to torch")
    code = TARGETS[to].generate(record(spec), steps)
    if lang == "zh":
        from .zh import translate

        code = translate(code)
    return code


def _export_layered(spec, to: str, steps: int | None, lang: str) -> str:
    """A layered spec (conv2d, pooling, batch norm ...): NumPy or PyTorch; scalar Python refuses."""
    from . import layered, layered_code

    steps = 1 if steps is None else int(steps)
    if steps < 1:
        raise ValueError(f"export: --steps must be at least 1, got {steps}")
    if to == "python":
        layered.refuse_scalar(spec, lang)
    rec = layered.record(spec)
    try:
        code = (layered_code.generate_numpy if to == "numpy" else layered_code.generate_torch)(rec, steps, lang)
    except ExportError as exc:
        raise ExportError(f"{exc} ({spec.source}; --to torch writes every block PyTorch has)") from None
    if lang == "zh":
        from .zh import translate

        code = translate(code)
    return code
