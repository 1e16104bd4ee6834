"""Symbol names shared by the demo, the explainer, the exporter and the drawings.

Two styles: ``prime`` (the seed's w'_ij for layer 1 and w''_ij for layer 2; only for networks with
two weight layers) and ``indexed`` (w^(l)_ij for any depth). Indices are 1-based; i is the neuron
the weight comes from, j the neuron it goes to; from 10 on they are separated by a comma (w'_11,1).
"""

from __future__ import annotations


def default_style(depth: int) -> str:
    return "prime" if depth == 2 else "indexed"


def weight(layer: int, i: int, j: int, style: str = "prime", latex: bool = False) -> str:
    ij = f"{i}{j}" if i < 10 and j < 10 else f"{i},{j}"  # w_111 would be w_{11,1} or w_{1,11}
    if style == "prime":
        marks = ("\\prime" * layer) if latex else ("'" * layer)
        return f"w_{{{ij}}}^{{{marks}}}" if latex else f"w{marks}_{ij}"
    return f"w^{{({layer})}}_{{{ij}}}" if latex else f"w^({layer})_{ij}"


def bias(layer: int, j: int, style: str = "prime", latex: bool = False) -> str:
    if style == "prime":
        marks = ("\\prime" * layer) if latex else ("'" * layer)
        return f"b_{{{j}}}^{{{marks}}}" if latex else f"b{marks}_{j}"
    return f"b^{{({layer})}}_{{{j}}}" if latex else f"b^({layer})_{j}"


def param(name: str, index: tuple, style: str = "prime", latex: bool = False) -> str:
    """Symbol for element ``index`` (0-based, (from, to) for weights) of parameter ``W1``/``b2``/..."""
    layer = int(name[1:])
    if name[0] == "W":
        return weight(layer, index[0] + 1, index[1] + 1, style, latex)
    return bias(layer, index[0] + 1, style, latex)


def neuron(kind: str, layer: int, j: int, depth: int, style: str = "prime", latex: bool = False) -> str:
    """``z``/``a`` of neuron j in layer ``layer``; the output layer's activation is y' as in the seed."""
    if kind == "a" and layer == depth:
        return f"y'_{{{j}}}" if latex else f"y'_{j}"
    if style == "prime" and depth == 2 and layer == 1:
        return f"{kind}_{{{j}}}" if latex else f"{kind}_{j}"
    return f"{kind}^{{({layer})}}_{{{j}}}" if latex else f"{kind}^({layer})_{j}"
