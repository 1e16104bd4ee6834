"""Free functions that mirror Tensor methods, as ``torch.sum(x, ...)`` mirrors ``x.sum(...)``.

A module of their own, because their names (sum, max, min) would shadow Python's built-ins in
any module that also computes with those.
"""

from __future__ import annotations

from .tensor import Tensor, maximum, minimum  # noqa: F401  (re-exported as cr.maximum / cr.minimum)


def _method(name):
    def fn(input, *args, **kwargs):  # noqa: A002
        return getattr(input if isinstance(input, Tensor) else Tensor(input), name)(*args, **kwargs)

    fn.__name__ = name
    fn.__doc__ = f"``cr.{name}(x, ...)`` is ``x.{name}(...)``."
    return fn


sum = _method("sum")  # noqa: A001
mean = _method("mean")
max = _method("max")  # noqa: A001
min = _method("min")  # noqa: A001
amax = _method("amax")
amin = _method("amin")
argmax = _method("argmax")
argmin = _method("argmin")
var = _method("var")
std = _method("std")
norm = _method("norm")
sin = _method("sin")
cos = _method("cos")
log1p = _method("log1p")
square = _method("square")
clone = _method("clone")
reshape = _method("reshape")
flatten = _method("flatten")
squeeze = _method("squeeze")
unsqueeze = _method("unsqueeze")
transpose = _method("transpose")
permute = _method("permute")
gather = _method("gather")
masked_fill = _method("masked_fill")
split = _method("split")
chunk = _method("chunk")
