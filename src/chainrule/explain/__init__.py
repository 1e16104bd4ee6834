"""Derivations: the seed's 公式推导 written out for any small network, every number the engine's.

``derive(spec)`` runs the spec's training steps with the engine, reads the graph recorded for each
step and writes it in the seed's order and style: forward pass, loss, ∂L/∂y', backward pass (chain
rule products, δ terms, paths), update, a finite-difference check and warnings.
"""

from .derivation import Derivation, derive

__all__ = ["Derivation", "derive"]
