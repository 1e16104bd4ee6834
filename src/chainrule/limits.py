"""What each command takes on, stated once (docs/errors.md, P17) and checked before any work starts.

A spec may be far larger than a derivation, a figure or a finite-difference table can sensibly show;
each command therefore has its own limits, chosen so that at the limit it finishes in seconds and a
few hundred megabytes, and refuses anything larger up front with a one-line ``SpecError`` that says
what to do instead. The spec's own limits (``chainrule.spec``: 10,000 neurons per layer, 1,000,000
parameters, 100,000 steps) bound everything else.
"""

from __future__ import annotations

from .errors import SpecError

DERIVE_STEPS = 100            # chainrule derive --steps: training steps written out
DERIVE_NUMBERS = 50_000       # chainrule derive: steps × (parameters + neurons × samples) written out
CHECK_PARAMETERS = 2_000      # chainrule check: two forward passes per parameter
DRAW_WEIGHT_LAYERS = 20       # chainrule draw (network, graph): the figure grows with the depth
DRAW_NEURONS = 100            # chainrule draw --what network: neurons in the widest layer
DRAW_WEIGHTS = 10_000         # chainrule draw --what network: one line and label per weight
DRAW_GRAPH_PARAMETERS = 100_000  # chainrule draw --what graph
RUN_STEPS = 20_000            # chainrule draw --what loss --steps / --step: steps trained before drawing
RUN_WORK = 5_000_000_000      # steps × parameters × samples of any run a command makes
SCALAR_EXPORT_PARAMETERS = 2_000  # chainrule export --to python: one line per weight, per sample
GRADE_STEP = 100              # chainrule grade: the last step an answer file may cover
GRADE_VALUES = 20_000         # chainrule grade: steps × parameters × samples replayed, per classic mistake


def refuse_over(what: str, value: int, limit: int, where: str, instead: str) -> None:
    """A ``SpecError`` ``where: what is N, over the limit of M for ...; instead`` when value > limit."""
    if value > limit:
        raise SpecError(f"{where}: {what} is {value:,}, over the limit of {limit:,}; {instead}")


def derive_numbers(spec, steps: int) -> int:
    """How many quantities a derivation of ``steps`` steps writes: every parameter, and every
    neuron's z, a and δ for every sample, per step."""
    return steps * (spec.n_params + sum(spec.layers[1:]) * max(spec.batch_size, 1))


def check_run(spec, steps: int, where: str | None = None) -> None:
    """Refuse a run of ``steps`` steps whose work (steps × parameters × samples) would take minutes."""
    where = where or spec.source
    work = steps * max(spec.n_params, 1) * max(spec.batch_size, 1)
    if work > RUN_WORK:
        raise SpecError(f"{where}: {steps:,} steps of {spec.n_params:,} parameters on {spec.batch_size:,} sample(s) "
                        f"is {work:,} multiply-adds, over the limit of {RUN_WORK:,}; use fewer steps or "
                        f"`chainrule train` on real data")
