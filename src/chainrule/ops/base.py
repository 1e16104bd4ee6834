"""The op protocol and registry.

An op is a small object with three parts kept side by side:

* ``forward(*arrays, **attrs)`` computes the output from NumPy arrays;
* ``vjp(node, g, *arrays)`` returns one vector-Jacobian product per input (``None`` where
  ``node.needs[i]`` is false); the engine sums each back to its input's shape, so no op
  handles broadcasting itself;
* ``formula`` / ``derivative`` (plain text) and their LaTeX twins, which the explainer and the
  docs print. They describe the *same* rule the two methods implement.

``uses_inputs`` is False for ops whose backward never reads their inputs' values; only the other
ops need the in-place-modification check.
"""

from __future__ import annotations

REGISTRY: dict[str, "Op"] = {}


class Op:
    name = "op"
    uses_inputs = True
    formula = ""
    derivative = ""
    formula_latex = ""
    derivative_latex = ""

    def forward(self, *arrays, **attrs):
        raise NotImplementedError

    def vjp(self, node, g, *arrays):
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<op {self.name}>"


def register(cls):
    """Class decorator: instantiate the op once and file it under its name."""
    op = cls()
    if op.name in REGISTRY:
        raise ValueError(f"op {op.name!r} registered twice")
    REGISTRY[op.name] = op
    return op
