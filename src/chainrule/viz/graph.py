"""``draw_graph``: the computational graph the engine recorded for a tensor, left to right.

One box per tensor: leaves (inputs, parameters, constants) on the left, one box per op application
after them, the tensor you asked about on the right. Each box shows its value(s) in green and, when
backward has filled it, its gradient in red.

Layout (no Graphviz): longest-path layering measured from the output — every tensor sits one
column left of its left-most consumer — then a few barycentre sweeps to order each column so
edges cross little.

Edges into an op whose inputs are not interchangeable (``a − b``, ``x·Wᵀ + b``, prediction and
target of a loss) carry the input's role, in small type just before the arrow; each input of an
op with several enters its box at its own port, so the arrows and their labels stay apart.
"""

from __future__ import annotations

import matplotlib
import numpy as np

from ..errors import GraphError
from ..numbers import fmt
from . import _base
from ._base import GRAD, INK, MUTED, VALUE, Drawing

MAX_SHOWN = 6  # arrays with more elements are summarised (shape, mean, min, max)
PRECISION = 4

# Each op names its inputs' roles itself (``Op.inputs``, next to its forward); "role_*" names are
# translated (``_base.LABELS``). Variadic ops are numbered instead:
ORDERED = {"cat", "stack"}  # any number of inputs, in order: #1, #2, ...


def input_roles(node, t=None) -> list[str] | None:
    """The role of each of ``node``'s inputs (``node`` a tensor with a ``grad_fn``), or None when the
    op's inputs are interchangeable or it has only one."""
    fn = node.grad_fn
    parents = fn.parents or ()
    roles = fn.op.inputs or None
    if roles is None and fn.op.name in ORDERED and len(parents) > 1:
        roles = tuple(f"#{k + 1}" for k in range(len(parents)))
    if roles is None or len(parents) < 2:
        return None
    t = t or {}
    return [t.get(r, r) for r in roles[: len(parents)]]


def _array_text(arr) -> str:
    arr = np.asarray(arr)
    if arr.size == 1:
        return fmt(arr.reshape(()), PRECISION)
    if arr.size <= MAX_SHOWN and arr.ndim <= 2:
        if arr.ndim == 1 or arr.shape[0] == 1 or (arr.ndim == 2 and arr.shape[1] == 1):
            return "[" + ", ".join(fmt(v, PRECISION) for v in arr.reshape(-1)) + "]"
        return "[" + "; ".join(", ".join(fmt(v, PRECISION) for v in row) for row in arr) + "]"
    shape = "×".join(str(n) for n in arr.shape)
    if arr.size == 0:
        return f"{shape} (empty)"
    return f"{shape}: mean {fmt(arr.mean(), 3)}, [{fmt(arr.min(), 3)} … {fmt(arr.max(), 3)}]"


def trace(root):
    """``(nodes, edges)``: every tensor reachable from ``root`` (root first) and (parent, child) index pairs."""
    index = {id(root): 0}
    nodes, edges = [root], []
    stack = [root]
    while stack:
        t = stack.pop()
        fn = t.grad_fn
        if fn is None:
            continue
        if fn.parents is None:
            raise GraphError(
                "draw_graph: this tensor's graph was freed by backward(); call backward(retain_graph=True) "
                "to draw the graph with its gradients, or draw before calling backward()"
            )
        for p in fn.parents:
            if id(p) not in index:
                index[id(p)] = len(nodes)
                nodes.append(p)
                stack.append(p)
            edges.append((index[id(p)], index[id(t)]))
    return nodes, edges


def layout(n: int, edges: list[tuple[int, int]], sweeps: int = 6):
    """``(rank, order)``: column of each node counted from the output (node 0) and row order per column."""
    children = [[] for _ in range(n)]
    parents = [[] for _ in range(n)]
    for p, c in edges:
        children[p].append(c)
        parents[c].append(p)
    # Longest path from the output: process each node after all its consumers (Kahn on the reversed graph).
    pending = [len(set(ch)) for ch in children]
    rank = [0] * n
    ready = [i for i in range(n) if pending[i] == 0]
    seen_edge = set()
    while ready:
        c = ready.pop()
        for p in parents[c]:
            rank[p] = max(rank[p], rank[c] + 1)
            if (p, c) in seen_edge:
                continue
            seen_edge.add((p, c))
            pending[p] -= 1
            if pending[p] == 0:
                ready.append(p)
    depth = max(rank) if n else 0
    columns = [[] for _ in range(depth + 1)]
    for i in range(n):  # discovery order (depth-first from the output) as the starting order
        columns[rank[i]].append(i)
    pos = {}

    def renumber():
        for col in columns:
            for k, i in enumerate(col):
                pos[i] = k - (len(col) - 1) / 2

    renumber()
    for s in range(sweeps):
        sweep = range(1, depth + 1) if s % 2 == 0 else range(depth - 1, -1, -1)
        for r in sweep:
            def bary(i):
                nbrs = (children[i] + parents[i])
                return float(np.mean([pos[j] for j in nbrs])) if nbrs else pos[i]
            columns[r].sort(key=lambda i: (bary(i), pos[i]))
            renumber()
    return rank, columns


def draw_graph(tensor, params: dict | None = None, lang: str = "en", ax=None, title: str | None = None) -> Drawing:
    """Draw the graph recorded for ``tensor``: one box per op with its output value(s) and gradient.

    ``params`` names leaves, as in torchviz: ``draw_graph(loss, dict(model.named_parameters()))``.
    Leaves are otherwise named by their ``.name`` or called ``leaf`` / ``const``. Draw before
    ``backward()``, or after ``backward(retain_graph=True)`` to see gradients (intermediate tensors
    show a gradient only when ``retain_grad()`` was called on them, as in PyTorch).
    """
    from ..tensor import Tensor

    if not isinstance(tensor, Tensor):
        raise TypeError(f"draw_graph: expected a chainrule Tensor, got {type(tensor).__name__}")
    t = _base.labels(lang)
    names = {id(v): k for k, v in (params or {}).items()}
    nodes, edges = trace(tensor)
    rank, columns = layout(len(nodes), edges)
    with matplotlib.rc_context(_base.rc(lang)):
        fig = _draw(nodes, edges, rank, columns, names, t, ax, title)
    info = {"nodes": len(nodes), "ops": sum(n.grad_fn is not None for n in nodes), "edges": len(edges)}
    return Drawing(fig, "graph", lang, info)


def _lines(k, node, names, t):
    fn = node.grad_fn
    if fn is None:
        head = names.get(id(node)) or node.name or (t["leaf"] if node.requires_grad else "const")
        kind = "leaf"
    else:
        head = fn.op.name
        if names.get(id(node)) or node.name:
            head += f"  → {names.get(id(node)) or node.name}"
        kind = "op"
    lines = [(head, INK, "head")]
    if fn is None and str(head).startswith("W") and node.array.ndim == 2:
        # the engine keeps nn.Linear's (out, in) layout; every other chainrule picture and table is (from, to)
        lines.append((t["out_in"], MUTED, "layout"))
    lines.append((f"{t['data']} {_array_text(node.array)}", VALUE, "value"))
    if node.grad is not None:
        lines.append((f"{t['gradient']} {_array_text(node.grad.array)}", GRAD, "grad"))
    return lines, kind


def _ports(nodes, edges, centers, sizes, t):
    """Per distinct edge (p, c): the point where it enters c, and its role label ("" for none).

    An op with several distinct inputs gets one port per input on its left side, assigned top to
    bottom in the order of the inputs' heights, so the arrows into it neither cross nor meet."""
    index = {id(n): i for i, n in enumerate(nodes)}
    roles_of = {}
    for c in dict.fromkeys(c for _, c in edges):
        roles = input_roles(nodes[c], t)
        per_parent = roles_of[c] = {}
        for k, parent in enumerate(nodes[c].grad_fn.parents):
            per_parent.setdefault(index[id(parent)], []).extend([roles[k]] if roles else [])
    out = {}
    for c, per_parent in roles_of.items():
        order = sorted(per_parent, key=lambda p: (-centers[p][1], centers[p][0]))
        n = len(order)
        x1, y1 = centers[c]
        step = min(0.14, 0.7 * sizes[c][1] / max(n - 1, 1))
        for k, p in enumerate(order):
            y = y1 + ((n - 1) / 2 - k) * step
            out[(p, c)] = ((x1 - sizes[c][0] / 2, y), ",".join(per_parent[p]))
    return out


def _draw_edges(ax, nodes, edges, centers, sizes, t):
    ports = _ports(nodes, edges, centers, sizes, t)
    for p, c in dict.fromkeys(edges):  # an input used twice (a - a) is one arrow, labelled "a,b"
        (x0, y0) = centers[p]
        (x1, y1), role = ports[(p, c)]
        xa = x0 + sizes[p][0] / 2
        arrow = ax.annotate("", xy=(x1, y1), xytext=(xa, y0), zorder=1,
                            arrowprops=dict(arrowstyle="-|>", color=MUTED, lw=1.1, shrinkA=2, shrinkB=2,
                                            mutation_scale=12, connectionstyle="arc3,rad=0"),
                            gid=f"gedge-{p}-{c}")
        arrow.arrow_patch.set_gid(f"gedge-{p}-{c}")  # the SVG group of the drawn line carries the id
        if role:
            # On the line, just before the arrowhead: far enough back to clear it, never past the middle.
            back = min(0.24 + 0.03 * len(role), (x1 - xa) / 2)
            lx = x1 - back
            ly = y1 + (y0 - y1) * (back / (x1 - xa)) if x1 > xa else y1
            ax.text(lx, ly, role, ha="center", va="center", fontsize=7.5, color=INK, style="italic", zorder=2,
                    gid=f"grole-{p}-{c}",
                    bbox=dict(boxstyle="round,pad=0.12", facecolor="white", edgecolor="none", alpha=0.9))


def _draw(nodes, edges, rank, columns, names, t, user_ax, title):
    from matplotlib.offsetbox import AnnotationBbox, TextArea, VPacker

    if user_ax is None:
        fig = _base.new_figure(8, 5)
        ax = fig.add_axes((0, 0, 1, 1))
    else:
        fig, ax = user_ax.figure, user_ax
    ax.set_axis_off()
    renderer = fig.canvas.get_renderer()
    boxes, sizes = [], []
    for k, node in enumerate(nodes):
        lines, kind = _lines(k, node, names, t)
        areas = []
        for text, color, part in lines:
            props = dict(color=color, fontsize=9.5 if part == "head" else 9, gid=f"gnode-{k}-{part}")
            if part == "head" and text.isascii():  # the CJK fallback font has no bold face
                props.update(fontweight="bold", fontfamily=_base.LATIN_FONT)
            areas.append(TextArea(text, textprops=props))
        box = VPacker(children=areas, align="center", pad=0, sep=2)
        face = "#eef4fb" if kind == "leaf" else "white"
        ab = AnnotationBbox(box, (0, 0), frameon=True, pad=0.35, box_alignment=(0.5, 0.5), zorder=3,
                            bboxprops=dict(boxstyle="round,pad=0.3" if kind == "op" else "square,pad=0.3",
                                           facecolor=face, edgecolor=INK, linewidth=1.0))
        ab.set_gid(f"gbox-{k}-{kind}")
        ax.add_artist(ab)
        ab.update_positions(renderer)
        ext = ab.get_window_extent(renderer)
        boxes.append(ab)
        sizes.append((ext.width / fig.dpi, ext.height / fig.dpi))
    depth = max(rank) if rank else 0
    col_w = [max(sizes[i][0] for i in col) if col else 0 for col in columns]
    gap = 0.9
    # x of column r (r counts from the output on the right).
    xs = {}
    x = 0.0
    for r in range(depth, -1, -1):
        xs[r] = x + col_w[r] / 2
        x += col_w[r] + gap
    row_h = max(h for _, h in sizes) + 0.35
    centers = {}
    for r, col in enumerate(columns):
        for k, i in enumerate(col):
            centers[i] = (xs[r], ((len(col) - 1) / 2 - k) * row_h)
            boxes[i].xy = boxes[i].xybox = centers[i]
    _draw_edges(ax, nodes, edges, centers, sizes, t)
    top = max(y + sizes[i][1] / 2 for i, (_, y) in centers.items())
    bottom = min(y - sizes[i][1] / 2 for i, (_, y) in centers.items())
    left, right = -0.25, x - gap + 0.25
    head = title if title is not None else f"{t['graph']}  ({len(nodes)} tensors, {sum(n.grad_fn is not None for n in nodes)} ops)"
    ax.text((left + right) / 2, top + 0.3, head, ha="center", va="bottom", fontsize=11.5, color=INK, gid="title")
    ax.set_xlim(left, right)
    ax.set_ylim(bottom - 0.3, top + 0.8)
    if user_ax is None:
        fig.set_size_inches(max(right - left, 3.0), top + 0.8 - bottom + 0.3)
        if right - left < 3.0:
            mid = (left + right) / 2
            ax.set_xlim(mid - 1.5, mid + 1.5)
    else:
        ax.set_aspect("equal")
    return fig
