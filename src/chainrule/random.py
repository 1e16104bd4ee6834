"""The global random generator behind ``cr.manual_seed``, ``cr.randn`` and ``nn.init``."""

from __future__ import annotations

import numpy as np

_generator = None  # made on first use: numpy.random costs ~10 ms to import




def manual_seed(seed: int) -> np.random.Generator:
    """Seed every random draw chainrule makes (initialisation, ``randn``, ``rand``)."""
    global _generator
    _generator = np.random.default_rng(int(seed))
    return _generator


def generator() -> np.random.Generator:
    global _generator
    if _generator is None:
        _generator = np.random.default_rng()
    return _generator
