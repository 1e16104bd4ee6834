"""The global random generator behind ``cr.manual_seed``, ``cr.randn`` and ``nn.init``."""

from __future__ import annotations

import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Seed every random draw chainrule makes (initialisation, ``randn``, ``rand``)."""
    global _generator
    _generator = np.random.default_rng(int(seed))
    return _generator


def generator() -> np.random.Generator:
    return _generator
