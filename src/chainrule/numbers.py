"""Numbers the way a person writes them: 7200 not 7200.0, 0.928 not 0.9279999999999999, 1e-5 not 1e-05."""

from __future__ import annotations

import math

import numpy as np


def fmt(value, precision: int = 10) -> str:
    """Shortest faithful text for ``value`` at ``precision`` significant digits.

    Integers print without a decimal point, float noise beyond ``precision`` digits is dropped,
    and scientific notation is used only for very large or very small magnitudes.
    """
    x = float(np.asarray(value).item()) if not isinstance(value, (int, float)) else float(value)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"
    text = f"{x:.{precision}g}"
    if "e" in text:
        mantissa, exp = text.split("e")
        if "." in mantissa:
            mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}e{int(exp)}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def fmt_signed(value, precision: int = 10) -> str:
    """``fmt`` with parentheses around negatives, for use inside a product: 2×(-3)."""
    text = fmt(value, precision)
    return f"({text})" if text.startswith("-") else text
