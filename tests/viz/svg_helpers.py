"""Shared by the drawing tests: the hand-made twin of the labels' number format."""

from __future__ import annotations


def g4(value: float) -> str:
    """Four significant digits without float noise, the way a person writes the number (hand-made twin
    of the labels' format: 4800, 0.452, 0.0004386)."""
    value = value.detach() if hasattr(value, "detach") else value
    text = format(float(value), ".4g")
    if "e" in text:
        mantissa, exp = text.split("e")
        return f"{mantissa}e{int(exp)}"
    return text
