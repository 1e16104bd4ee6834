"""The op protocol and registry.

An op is a small object with three parts kept side by side:

* ``forward(*arrays, **attrs)`` computes the output from NumPy arrays;
* ``vjp(node, g, *arrays)`` returns one vector-Jacobian product per input (``None`` where
  ``node.needs[i]`` is false); the engine sums each back to its input's shape, so no op
  handles broadcasting itself;
* ``formula`` / ``derivative`` (plain text) and their LaTeX twins, which the explainer and the
  docs print. They describe the *same* rule the two methods implement.

``uses_inputs`` is False for ops whose backward never reads their inputs' values; only the other
ops need the in-place-modification check. ``uses_output`` is True for ops whose backward reads
their own output (``n.out``): changing that output in place is then caught too.
``reads`` narrows ``uses_inputs`` to the inputs a backward with the given ``needs`` reads (the
gradient of ``a × b`` with respect to ``a`` reads only ``b``). ``twice_differentiable`` is True for ops whose ``vjp`` computes only with operators and ``n.xp``
(see ``chainrule.xp``), so that under ``create_graph`` it records itself and can be differentiated
again; backward with ``create_graph`` through any other op raises. ``inputs`` names the role of each input where the order
matters (drawings label the edges with it); commutative and one-input ops leave it empty.
"""

from __future__ import annotations

REGISTRY: dict[str, "Op"] = {}


class Op:
    name = "op"
    uses_inputs = True
    uses_output = False
    reads = None  # or a function: needs -> which inputs' values the vjp reads (default: all of them)
    twice_differentiable = False
    inputs: tuple = ()
    formula = ""
    derivative = ""
    formula_latex = ""
    derivative_latex = ""

    def forward(self, *arrays, **attrs):
        raise NotImplementedError

    def describe(self, node) -> tuple[str, str]:
        """(formula, derivative) in text for one recorded application; ops whose rule depends on
        how they were called (a linear layer without bias) override it."""
        return self.formula, self.derivative

    def vjp(self, node, g, *arrays):
        raise NotImplementedError

    # Code export (chainrule.export walks a recorded graph and asks each op for its lines).
    # ``code`` holds element-wise templates: "py"/"np"/"torch" write the output from its input {z}
    # (and its output {a}, and the op's attributes by name); "py_d"/"np_d" write the local
    # derivative da/dz. Ops that are not element-wise override ``export`` and ``export_vjp``.
    # ``c`` is the exporter's context: c.lang ("py", "np" or "torch"), c.v(t, j) names element j of
    # tensor t (j is None for whole arrays), c.g(t, j) its gradient, c.acc(t, j, expr) the line that
    # assigns or adds a gradient contribution, c.elements(t) the indices to write.
    code: dict = {}

    def _template(self, key):
        if key not in self.code:
            lang = {"py": "scalar Python", "np": "NumPy", "torch": "PyTorch"}.get(key.split("_")[0], key)
            raise NotImplementedError(f"op {self.name!r} has no code-export rule for {lang}")
        return self.code[key]

    def export(self, c, t):
        """Forward lines for tensor ``t`` (the output of this op) in language ``c.lang``."""
        rule, z = self._template(c.lang), t.grad_fn.parents[0]
        attrs = t.grad_fn.attrs
        return [f"{c.v(t, j)} = {rule.format(z=c.v(z, j), a=c.v(t, j), **attrs)}" for j in c.elements(t)]

    def export_vjp(self, c, t):
        """Backward lines: the gradient of ``t`` times the local derivative, into each input."""
        rule, z = self._template(c.lang + "_d"), t.grad_fn.parents[0]
        if not z.requires_grad:
            return []
        attrs = t.grad_fn.attrs
        return [c.acc(z, j, f"{c.g(t, j)} * {rule.format(z=c.v(z, j), a=c.v(t, j), **attrs)}") for j in c.elements(t)]

    def __repr__(self) -> str:
        return f"<op {self.name}>"


def register(cls):
    """Class decorator: instantiate the op once and file it under its name."""
    op = cls()
    if op.name in REGISTRY:
        raise ValueError(f"op {op.name!r} registered twice")
    REGISTRY[op.name] = op
    return op
