"""``draw_network``: the network as the seed draws it — neurons in columns, weights on the edges —
with the forward values, the gradients and the updated weights of one training step.

Up to ``DETAIL_MAX_NEURONS`` neurons a layer, ``DETAIL_MAX_LAYERS`` weight layers and
``DETAIL_MAX_EDGES`` edges between two layers every number is written out, and labels are placed
greedily along their edges so that no two overlap. Larger networks switch to the
TensorFlow-Playground picture: edges coloured and sized by magnitude, with a colour bar instead
of numbers.

Layout is computed in inches (one data unit = one inch) so label sizes, measured with the Agg
renderer, can be compared with distances directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import matplotlib
import numpy as np

from .. import notation
from ..escape import figure_text
from ..numbers import fmt
from . import _base
from ._base import EDGE, GRAD, INK, MUTED, NEURON_FACE, UPDATE, VALUE, Drawing, pretty_symbol

DETAIL_MAX_NEURONS = 8
DETAIL_MAX_LAYERS = 4
DETAIL_MAX_EDGES = 24  # between two layers: more labelled edges than this crowd each other (iris's 4 x 8)
SHOWS = ("values", "grads", "updates", "all")
PRECISION = 4  # significant digits on labels: 0.3589, 7200, 0.928

LOSS_TEXT = {
    "half_sse": "½Σ(y − y')²", "mse": "mean (y − y')²", "sse": "Σ(y − y')²",
    "cross_entropy": "−log softmax(z)_y", "bce": "−[y log y' + (1−y) log(1−y')]",
}


@dataclass
class NetData:
    """The numbers one picture needs, in (from, to) order, for one sample and one step."""

    name: str
    layers: list
    activations: list
    weights: list
    biases: list
    grads_w: list = field(default_factory=list)
    grads_b: list = field(default_factory=list)
    new_w: list = field(default_factory=list)
    new_b: list = field(default_factory=list)
    x: np.ndarray | None = None
    y: np.ndarray | None = None
    zs: list = field(default_factory=list)
    acts: list = field(default_factory=list)
    deltas: list = field(default_factory=list)
    out_grad: np.ndarray | None = None
    loss: float | None = None
    loss_kind: str | None = None
    lr: float | None = None
    step: int | None = None
    sample: int = 0
    n_samples: int = 1
    shared_b: list = field(default_factory=list)     # per layer: one bias for all its neurons

    @property
    def depth(self) -> int:
        return len(self.layers) - 1

    @property
    def has_grads(self) -> bool:
        return any(g is not None for g in self.grads_w)

    @property
    def has_updates(self) -> bool:
        return any(w is not None for w in self.new_w)


def _per_neuron(b, n):
    """A bias vector per neuron; a bias shared by the layer (one number) drawn at each of its neurons."""
    return None if b is None else np.broadcast_to(np.asarray(b, dtype=float), (n,))


def _row(t, sample):
    if t is None:
        return None
    arr = np.asarray(t.array if hasattr(t, "data") else t, dtype=float)
    if arr.ndim == 0:
        return arr.reshape(1)
    return arr[sample] if arr.ndim == 2 else arr


def _grad_row(t, sample):
    g = getattr(t, "grad", None)
    return None if g is None else _row(g, sample)


def collect(obj, step: int = 1, sample: int = 0) -> NetData:
    """``NetData`` from a spec (name, path, dict or ``Spec``), a ``Run``, or a model of ``nn.Linear`` layers."""
    from ..network import Run, SpecNetwork
    from ..network import run as run_spec
    from ..nn import Linear, Module
    from ..spec import Spec, load_spec

    step = int(step)
    if step < 1:
        raise ValueError(f"step must be 1 or more (steps are numbered from 1), got {step}")
    if isinstance(obj, SpecNetwork):
        obj = obj.spec
    if isinstance(obj, Module):
        return _from_module(obj, Linear)
    if isinstance(obj, (str, dict, Spec)) or hasattr(obj, "__fspath__"):
        spec = load_spec(obj)
        result = run_spec(spec, steps=step, keep_graph=None)
    elif isinstance(obj, Run):
        result = obj
        if step > len(result.steps):
            raise ValueError(f"step {step} asked for, but the run has {len(result.steps)} step(s)")
    else:
        raise TypeError(f"draw_network: expected a spec, a Run or an nn.Module, got {type(obj).__name__}")
    spec = result.spec
    rec = result.steps[step - 1]
    n = spec.batch_size
    if not 0 <= sample < n:
        raise ValueError(f"sample must be in 0..{n - 1}, got {sample}")
    depth = spec.depth
    p0, g, p1 = rec.params_before, rec.grads, rec.params_after
    y = None
    if spec.loss == "cross_entropy":
        y = np.eye(spec.layers[-1])[int(np.asarray(spec.y).reshape(-1)[sample])]
    else:
        y = np.asarray(spec.y, dtype=float)[sample]
    return NetData(
        name=spec.name, layers=list(spec.layers), activations=list(spec.activations),
        weights=[p0[f"W{i}"] for i in range(1, depth + 1)],
        biases=[_per_neuron(p0.get(f"b{i}"), spec.layers[i]) for i in range(1, depth + 1)],
        grads_w=[g.get(f"W{i}") for i in range(1, depth + 1)],
        grads_b=[_per_neuron(g.get(f"b{i}"), spec.layers[i]) for i in range(1, depth + 1)],
        new_w=[p1.get(f"W{i}") if f"W{i}" in g else None for i in range(1, depth + 1)],   # frozen: not updated
        new_b=[_per_neuron(p1.get(f"b{i}"), spec.layers[i]) if f"b{i}" in g else None for i in range(1, depth + 1)],
        shared_b=[spec.is_shared(i) for i in range(1, depth + 1)],
        x=np.asarray(spec.x, dtype=float)[sample], y=y,
        zs=[_row(z, sample) for z in rec.zs], acts=[_row(a, sample) for a in rec.acts],
        deltas=[_grad_row(z, sample) for z in rec.zs], out_grad=_grad_row(rec.acts[-1], sample),
        loss=float(rec.loss.array), loss_kind=spec.loss, lr=spec.lr, step=step, sample=sample, n_samples=n,
    )


def _from_module(model, linear_cls) -> NetData:
    linears = [m for m in model.modules() if isinstance(m, linear_cls)]
    if not linears:
        raise ValueError("draw_network: the model has no nn.Linear layers to draw")
    layers = [linears[0].in_features] + [m.out_features for m in linears]
    for a, b in zip(linears, linears[1:]):
        if a.out_features != b.in_features:
            raise ValueError("draw_network: the model's Linear layers do not chain (sizes "
                             f"{a.in_features}→{a.out_features} then {b.in_features}→{b.out_features})")

    def grad(p, transpose):
        if p is None or p.grad is None:
            return None
        return np.asarray(p.grad).T.copy() if transpose else np.asarray(p.grad).copy()

    return NetData(
        name=type(model).__name__, layers=layers, activations=["?"] * len(linears),
        weights=[m.weight.array.T.copy() for m in linears],
        biases=[None if m.bias is None else m.bias.array.copy() for m in linears],
        grads_w=[grad(m.weight, True) for m in linears],
        grads_b=[grad(m.bias, False) for m in linears],
        new_w=[None] * len(linears), new_b=[None] * len(linears),
    )


def draw_network(obj, step: int = 1, show: str = "values", lang: str = "en", ax=None, *,
                 sample: int = 0, detail: bool | None = None) -> Drawing:
    """Draw a network: a spec (name, path, dict, ``Spec``), a ``Run`` from ``chainrule.network.run``,
    or a model made of ``nn.Linear`` layers (weights and any gradients only; no data).

    ``show``: ``values`` (weights, z/a, loss), ``grads`` (+ ∂L/∂w, ∂L/∂z, ∂L/∂y'), ``updates``
    (+ the weights after the step), ``all``. ``step`` is 1-based; ``sample`` picks the row of a batch
    whose forward values are shown. ``detail`` forces (True) or forbids (False) written-out numbers.
    """
    if show not in SHOWS:
        raise ValueError(f"show must be one of {', '.join(SHOWS)}, got {show!r}")
    t = _base.labels(lang)
    data = collect(obj, step=step, sample=sample)
    if detail is None:
        detail = (max(data.layers) <= DETAIL_MAX_NEURONS and data.depth <= DETAIL_MAX_LAYERS
                  and max(a * b for a, b in zip(data.layers, data.layers[1:])) <= DETAIL_MAX_EDGES)
    with matplotlib.rc_context(_base.rc(lang)):
        if detail:
            fig = _Detail(data, show, lang, t, ax).draw()
        else:
            fig = _dense(data, show, lang, t, ax)
    info = {"detail": detail, "layers": data.layers, "show": show, "name": data.name}
    return Drawing(fig, "network", lang, info)


# ---------------------------------------------------------------------------------------------
# Written-out numbers


def _text_box(lines, fontsize, gid, edgecolor=EDGE, facecolor="white", alpha=0.93):
    """An AnnotationBbox holding coloured lines of text, one Text artist (with its own gid) per line."""
    from matplotlib.offsetbox import AnnotationBbox, TextArea, VPacker

    areas = [
        TextArea(text, textprops=dict(color=color, fontsize=fontsize, gid=f"{gid}-{kind}"))
        for text, color, kind in lines
    ]
    box = VPacker(children=areas, align="center", pad=0, sep=1.5)
    ab = AnnotationBbox(box, (0, 0), xycoords="data", frameon=True, pad=0.25, box_alignment=(0.5, 0.5),
                        bboxprops=dict(boxstyle="round,pad=0.25", facecolor=facecolor, edgecolor=edgecolor,
                                       linewidth=0.6, alpha=alpha))
    ab.set_gid(gid)
    return ab


def _overlap(a, b) -> float:
    """Overlap area of two boxes (x0, y0, x1, y1)."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


class _Detail:
    R = 0.3  # neuron radius, inches
    LABEL_FS = 8.5
    NEURON_FS = 9

    def __init__(self, data: NetData, show: str, lang: str, t: dict, ax):
        self.d, self.show, self.lang, self.t, self.user_ax = data, show, lang, t, ax
        self.want_grads = show in ("grads", "all") and data.has_grads
        self.want_updates = show in ("updates", "all") and data.has_updates
        self.style = notation.default_style(data.depth)

    # -- text content ---------------------------------------------------------------------------
    def weight_lines(self, k, i, j):
        d, t = self.d, self.t
        sym = pretty_symbol(notation.weight(k + 1, i + 1, j + 1, self.style))
        lines = [(f"{sym} = {fmt(d.weights[k][i, j], PRECISION)}", VALUE, "value")]
        if self.want_grads and d.grads_w[k] is not None:
            lines.append((self._grad_text(d.grads_w[k][i, j], "w"), GRAD, "grad"))
        if self.want_updates and d.new_w[k] is not None:
            lines.append((f"{t['new']} w = {fmt(d.new_w[k][i, j], PRECISION)}", UPDATE, "new"))
        return lines

    def bias_lines(self, k, j):
        d, t = self.d, self.t
        sym = notation.bias(k + 1, j + 1, self.style)
        if d.shared_b and d.shared_b[k]:     # one bias for the layer: b', not b'_j
            sym = sym.rsplit("_", 1)[0]
        sym = pretty_symbol(sym)
        lines = [(f"{sym} = {fmt(d.biases[k][j], PRECISION)}", VALUE, "value")]
        if self.want_grads and d.grads_b[k] is not None:
            lines.append((self._grad_text(d.grads_b[k][j], "b"), GRAD, "grad"))
        if self.want_updates and d.new_b[k] is not None:
            lines.append((f"{t['new']} b = {fmt(d.new_b[k][j], PRECISION)}", UPDATE, "new"))
        return lines

    def _grad_text(self, g, what):
        if self.lang == "zh":
            return f"{self.t['grad']} = {fmt(g, PRECISION)}"
        return f"∂L/∂{what} = {fmt(g, PRECISION)}"

    def neuron_symbol(self, layer, j):
        d = self.d
        if layer == 0:
            return pretty_symbol(f"x_{j + 1}")
        if layer == d.depth:
            return "y'" if d.layers[-1] == 1 else pretty_symbol(f"y'_{j + 1}")
        kind = "z" if d.activations[layer - 1] == "none" else "a"
        return pretty_symbol(notation.neuron(kind, layer, j + 1, d.depth, self.style))

    def neuron_lines(self, layer, j):
        """Lines of the box beside neuron j of ``layer`` (0 = inputs)."""
        d = self.d
        if layer == 0:
            if d.x is None:
                return []
            return [(f"{self.neuron_symbol(0, j)} = {fmt(d.x[j], PRECISION)}", VALUE, "value")]
        if not d.zs:
            return []
        act = d.activations[layer - 1]
        zsym = pretty_symbol(notation.neuron("z", layer, j + 1, d.depth, self.style))
        if layer == d.depth and d.layers[-1] == 1:
            zsym = "z" if act != "none" else "y'"
        lines = []
        if act != "none" or layer < d.depth:
            lines.append((f"{zsym} = {fmt(d.zs[layer - 1][j], PRECISION)}", VALUE, "value"))
        if act != "none" and layer < d.depth:
            asym = self.neuron_symbol(layer, j)
            lines.append((f"{asym} = {act}({zsym.split('⁽')[0]}) = {fmt(d.acts[layer - 1][j], PRECISION)}"
                          if len(act) <= 7 else f"{asym} = {fmt(d.acts[layer - 1][j], PRECISION)}", VALUE, "act"))
        if layer == d.depth:
            ysym = self.neuron_symbol(layer, j)
            lines.append((f"{ysym} = {fmt(d.acts[layer - 1][j], PRECISION)}", VALUE, "out"))
            if d.y is not None:
                target = "y" if d.layers[-1] == 1 else pretty_symbol(f"y_{j + 1}")
                lines.append((f"{target} = {fmt(d.y[j], PRECISION)}  ({self.t['target']})", INK, "target"))
            if self.want_grads and d.out_grad is not None:
                lines.append((f"∂L/∂{ysym} = {fmt(d.out_grad[j], PRECISION)}", GRAD, "grad"))
        if self.want_grads and d.deltas and d.deltas[layer - 1] is not None:
            if not (layer == d.depth and act == "none" and d.out_grad is not None):
                lines.append((f"∂L/∂{zsym} = {fmt(d.deltas[layer - 1][j], PRECISION)}", GRAD, "delta"))
        return lines

    # -- layout -------------------------------------------------------------------------------
    def draw(self):
        from matplotlib.patches import Circle, FancyBboxPatch

        d, t = self.d, self.t
        if self.user_ax is None:
            fig = _base.new_figure(8, 6)
            ax = fig.add_axes((0, 0, 1, 1))
        else:
            fig, ax = self.user_ax.figure, self.user_ax
        ax.set_axis_off()
        renderer = fig.canvas.get_renderer()
        px = fig.dpi

        def size(ab):
            ab.xy = ab.xybox = (0, 0)
            ext = ab.get_window_extent(renderer)
            return ext.width / px, ext.height / px

        # Build every label box first and measure it.
        boxes = {}
        for layer, n in enumerate(d.layers):
            for j in range(n):
                lines = self.neuron_lines(layer, j)
                if lines:
                    ab = _text_box(lines, self.NEURON_FS, f"neuronlabel-{layer}-{j + 1}", edgecolor="#c9d1d9")
                    ax.add_artist(ab)
                    boxes[("n", layer, j)] = (ab, size(ab))
        for k in range(d.depth):
            for i in range(d.layers[k]):
                for j in range(d.layers[k + 1]):
                    ab = _text_box(self.weight_lines(k, i, j), self.LABEL_FS, f"label-W{k + 1}-{i + 1}-{j + 1}")
                    ax.add_artist(ab)
                    boxes[("w", k, i, j)] = (ab, size(ab))
            if d.biases[k] is not None:
                for j in range(d.layers[k + 1]):
                    ab = _text_box(self.bias_lines(k, j), self.LABEL_FS, f"label-b{k + 1}-{j + 1}")
                    ax.add_artist(ab)
                    boxes[("b", k, j)] = (ab, size(ab))

        edge_w = max([s[0] for k, (_, s) in boxes.items() if k[0] in "wb"] or [1.0])
        edge_h = max([s[1] for k, (_, s) in boxes.items() if k[0] in "wb"] or [0.3])
        above = max([s[1] for k, (_, s) in boxes.items() if k[0] == "n" and 0 < k[1] < d.depth] or [0.0])
        has_bias = any(b is not None for b in d.biases)
        row_gap = max(1.0, 2 * self.R + above + 0.45)
        height = (max(d.layers) - (0 if has_bias else 1)) * row_gap

        # Column gaps: room for the labels of each layer's edges along their length.
        gaps = []
        for k in range(d.depth):
            n_edges = d.layers[k] * d.layers[k + 1] + (d.layers[k + 1] if d.biases[k] is not None else 0)
            span = max(height, row_gap)
            need = 3.4 * n_edges * edge_w * edge_h / (0.75 * span)
            gaps.append(min(max(2.1 * edge_w + 0.7, need + 2 * self.R, 2.4), 12.0))
        xs = [0.0]
        for g in gaps:
            xs.append(xs[-1] + g)

        def ypos(layer, j):
            return ((d.layers[layer] - 1) / 2 - j) * row_gap

        centers = {(layer, j): (xs[layer], ypos(layer, j)) for layer, n in enumerate(d.layers) for j in range(n)}
        bias_y = -((max(d.layers) - 1) / 2 + 1) * row_gap
        bias_pos = {k: (xs[k], bias_y) for k in range(d.depth) if d.biases[k] is not None}
        obstacles = []

        # Neurons and their value boxes.
        for (layer, j), (cx, cy) in centers.items():
            face = NEURON_FACE
            ax.add_patch(Circle((cx, cy), self.R, facecolor=face, edgecolor=INK, linewidth=1.3, zorder=3,
                                gid=f"neuron-{layer}-{j + 1}"))
            ax.text(cx, cy, self.neuron_symbol(layer, j), ha="center", va="center", fontsize=11, color=INK,
                    zorder=4, gid=f"neuronsym-{layer}-{j + 1}")
            obstacles.append((cx - self.R, cy - self.R, cx + self.R, cy + self.R))
            key = ("n", layer, j)
            if key in boxes:
                ab, (w, h) = boxes[key]
                if layer == 0:
                    pos = (cx - self.R - 0.1 - w / 2, cy)
                elif layer == d.depth:
                    pos = (cx + self.R + 0.12 + w / 2, cy)
                else:
                    pos = (cx, cy + self.R + 0.06 + h / 2)
                ab.xy = ab.xybox = pos
                ab.set_zorder(6)
                obstacles.append((pos[0] - w / 2, pos[1] - h / 2, pos[0] + w / 2, pos[1] + h / 2))
        for k, (bx, by) in bias_pos.items():
            s = self.R * 0.85
            ax.add_patch(FancyBboxPatch((bx - s, by - s), 2 * s, 2 * s, boxstyle="round,pad=0.02",
                                        facecolor="#eef1f4", edgecolor=INK, linewidth=1.1, zorder=3,
                                        gid=f"bias-{k + 1}"))
            ax.text(bx, by, "+1", ha="center", va="center", fontsize=10, color=INK, zorder=4)
            obstacles.append((bx - s, by - s, bx + s, by + s))

        # Edges, then their labels placed greedily along them.
        edges = []
        for k in range(d.depth):
            for i in range(d.layers[k]):
                for j in range(d.layers[k + 1]):
                    edges.append((("w", k, i, j), centers[(k, i)], centers[(k + 1, j)], f"edge-W{k + 1}-{i + 1}-{j + 1}"))
            if k in bias_pos:
                for j in range(d.layers[k + 1]):
                    edges.append((("b", k, j), bias_pos[k], centers[(k + 1, j)], f"edge-b{k + 1}-{j + 1}"))
        for key, (x0, y0), (x1, y1), gid in edges:
            arrow = ax.annotate("", xy=(x1, y1), xytext=(x0, y0), zorder=1,
                        arrowprops=dict(arrowstyle="-|>", color=EDGE, lw=1.1, shrinkA=self.R * 72, shrinkB=self.R * 72,
                                        mutation_scale=11, linestyle="--" if key[0] == "b" else "-"),
                        gid=gid)
            arrow.arrow_patch.set_gid(gid)  # the SVG group of the drawn line carries the id
        placed = []
        ts = np.linspace(0.1, 0.9, 33)
        # Points along every edge, per layer, so a label avoids sitting on a line that is not its own.
        samples = {}
        for key, (x0, y0), (x1, y1), _gid in edges:
            f = np.linspace(0, 1, 48)[:, None]
            samples[key] = np.hstack([x0 + f * (x1 - x0), y0 + f * (y1 - y0)])
        # Steep edges have fewer good spots; place them first.
        order = sorted(edges, key=lambda e: -abs(e[2][1] - e[1][1]))
        for key, (x0, y0), (x1, y1), _gid in order:
            ab, (w, h) = boxes[key]
            length = np.hypot(x1 - x0, y1 - y0)
            a0 = (self.R + 0.05) / length
            others = np.vstack([p for k, p in samples.items() if k != key and k[1] == key[1]] or [np.zeros((0, 2))])
            best = None
            for tt in ts:
                f = a0 + tt * (1 - 2 * a0)
                px_, py_ = x0 + f * (x1 - x0), y0 + f * (y1 - y0)
                bb = (px_ - w / 2 - 0.04, py_ - h / 2 - 0.03, px_ + w / 2 + 0.04, py_ + h / 2 + 0.03)
                cost = sum(_overlap(bb, o) for o in obstacles) * 3 + sum(_overlap(bb, o) for o in placed) * 4
                inside = (others[:, 0] > bb[0]) & (others[:, 0] < bb[2]) & (others[:, 1] > bb[1]) & (others[:, 1] < bb[3])
                cost += 0.01 * int(inside.sum()) + 0.002 * abs(tt - 0.5)
                if best is None or cost < best[0]:
                    best = (cost, (px_, py_), bb)
            ab.xy = ab.xybox = best[1]
            ab.set_zorder(5)
            placed.append(best[2])

        # Loss box to the right of the output column.
        right = xs[-1] + self.R
        out_boxes = [boxes[("n", d.depth, j)][1][0] for j in range(d.layers[-1]) if ("n", d.depth, j) in boxes]
        right += 0.12 + (max(out_boxes) if out_boxes else 0)
        if d.loss is not None:
            kind = LOSS_TEXT.get(d.loss_kind, d.loss_kind)
            lines = [(f"{t['loss']}  L = {kind}", INK, "kind"), (f"L = {fmt(d.loss, PRECISION)}", VALUE, "value")]
            ab = _text_box(lines, self.NEURON_FS + 1, "loss", edgecolor=INK)
            ax.add_artist(ab)
            w, h = size(ab)
            ly = np.mean([centers[(d.depth, j)][1] for j in range(d.layers[-1])])
            if d.layers[-1] == 1:
                ly = centers[(d.depth, 0)][1] - max(self.R + 0.25 + h / 2, boxes.get(("n", d.depth, 0), (None, (0, 0)))[1][1] / 2 + 0.2 + h / 2)
                lx = xs[-1] + self.R + 0.12 + w / 2
            else:
                lx = right + 0.35 + w / 2
                right = lx + w / 2
            ab.xy = ab.xybox = (lx, ly)
            right = max(right, lx + w / 2)

        # Layer captions under the columns.
        bottom = min(y for (_, y) in list(centers.values()) + list(bias_pos.values())) - self.R - 0.25
        for layer in range(len(d.layers)):
            if layer == 0:
                cap = t["input"]
            elif layer == d.depth:
                cap = t["output"]
            else:
                cap = t["hidden"] if d.depth == 2 else f"{t['hidden']} {layer}"
            if layer > 0 and d.activations[layer - 1] not in ("none", "?"):
                cap += f"\n{d.activations[layer - 1]}"
            ax.text(xs[layer], bottom, cap, ha="center", va="top", fontsize=10, color=MUTED, gid=f"caption-{layer}")

        # Title and legend.
        left = xs[0] - self.R - 0.12 - max([boxes[("n", 0, j)][1][0] for j in range(d.layers[0]) if ("n", 0, j) in boxes] or [0])
        top = max(y for (_, y) in centers.values()) + self.R + above + 0.1
        ax.text((left + right) / 2, top + 0.35, self.title(), ha="center", va="bottom", fontsize=12, color=INK,
                gid="title")
        legend = [(t["legend_value"], VALUE)]
        if self.want_grads:
            legend.append((t["legend_grad"], GRAD))
        if self.want_updates:
            legend.append((t["legend_new"], UPDATE))
        lx = left
        ly = bottom - 0.75
        for text, color in legend:
            ax.add_patch(FancyBboxPatch((lx, ly - 0.07), 0.14, 0.14, boxstyle="square,pad=0", color=color, gid="legend-swatch"))
            txt = ax.text(lx + 0.22, ly, text, va="center", ha="left", fontsize=9.5, color=color, gid="legend")
            lx += 0.22 + txt.get_window_extent(renderer).width / px + 0.45

        y_lo = ly - 0.3
        if d.n_samples > 1 and self.want_grads:
            # a batch: z, a and δ are one sample's, ∂L/∂w sums every sample's δ·a (a student checking
            # ∂L/∂w = δ·x on the drawn numbers must know this)
            note = ax.text(left, ly - 0.4, t["batch_note"].format(s=d.sample + 1, n=d.n_samples), va="center",
                           ha="left", fontsize=9.5, color=MUTED, gid="batch-note")
            lx = max(lx, left + note.get_window_extent(renderer).width / px)
            y_lo = ly - 0.7
        x_lo, x_hi = left - 0.2, max(right, lx) + 0.2
        y_hi = top + 0.9
        ax.set_xlim(x_lo, x_hi)
        ax.set_ylim(y_lo, y_hi)
        if self.user_ax is None:
            fig.set_size_inches(x_hi - x_lo, y_hi - y_lo)
        else:
            ax.set_aspect("equal")
        return fig

    def title(self):
        d, t = self.d, self.t
        arch = " → ".join(str(n) for n in d.layers)
        parts = [f"{figure_text(d.name)}: {arch}"]
        if d.step is not None:
            parts.append(f"{t['step']} {d.step} 步" if self.lang == "zh" else f"{t['step']} {d.step}")
        if d.lr is not None:
            parts.append(f"η = {fmt(d.lr)}")
        if d.n_samples > 1:
            parts.append(f"{t['sample']} {d.sample + 1} {t['of']} {d.n_samples}")
        return ",  ".join(parts)


# ---------------------------------------------------------------------------------------------
# Magnitudes only


def _playground_cmap():
    from matplotlib.colors import LinearSegmentedColormap

    # TensorFlow Playground: orange negative, white zero, blue positive (no red/green: those mean
    # gradient/value in the detailed picture).
    return LinearSegmentedColormap.from_list("chainrule_playground", ["#e8710a", "#f5f5f5", "#0b63a8"])


def _dense(d: NetData, show: str, lang: str, t: dict, user_ax):
    from matplotlib.collections import LineCollection
    from matplotlib.colors import Normalize
    from matplotlib.patches import Circle

    if show == "grads" and d.has_grads:
        mats, what = d.grads_w, t["gradients"]
    elif show == "updates" and d.has_updates:
        mats, what = d.new_w, t["updated"]
    else:
        mats, what = d.weights, t["weights"]
    gap, height = 3.0, 7.0
    width = gap * d.depth
    if user_ax is None:
        fig = _base.new_figure(width + 3.2, height + 1.8)
        ax = fig.add_axes((0.04, 0.1, 0.8, 0.78))
    else:
        fig, ax = user_ax.figure, user_ax
    ax.set_axis_off()
    limit = max(float(np.max(np.abs(m))) for m in mats if m is not None) or 1.0
    norm = Normalize(-limit, limit)
    cmap = _playground_cmap()

    def ys(n):
        return [height / 2] if n == 1 else list(np.linspace(height, 0, n))

    cols = [ys(n) for n in d.layers]
    for k, m in enumerate(mats):
        if m is None:
            continue
        segs, colors, widths = [], [], []
        for i, y0 in enumerate(cols[k]):
            for j, y1 in enumerate(cols[k + 1]):
                segs.append([(k * gap, y0), ((k + 1) * gap, y1)])
                colors.append(cmap(norm(m[i, j])))
                widths.append(0.3 + 3.2 * abs(m[i, j]) / limit)
        order = np.argsort(widths)  # thick lines on top
        lc = LineCollection([segs[k] for k in order], colors=[colors[k] for k in order],
                            linewidths=[widths[k] for k in order], zorder=1, gid=f"edges-W{k + 1}")
        ax.add_collection(lc)
    r = min(0.16, height / max(d.layers) / 2.6)
    for layer, col in enumerate(cols):
        for j, y in enumerate(col):
            ax.add_patch(Circle((layer * gap, y), r, facecolor=NEURON_FACE, edgecolor=INK, linewidth=0.9, zorder=3,
                                gid=f"neuron-{layer}-{j + 1}"))
        if layer == 0:
            cap = t["input"]
        elif layer == d.depth:
            cap = t["output"]
        else:
            cap = f"{t['hidden']} {layer}"
        act = d.activations[layer - 1] if layer > 0 and d.activations[layer - 1] not in ("none", "?") else ""
        ax.text(layer * gap, -0.45, f"{cap}\n{d.layers[layer]}" + (f" · {act}" if act else ""), ha="center",
                va="top", fontsize=10, color=MUTED, gid=f"caption-{layer}")
    ax.set_xlim(-0.6, width + 0.6)
    ax.set_ylim(-1.3, height + 0.5)
    ax.set_aspect("auto")
    from matplotlib.cm import ScalarMappable

    sm = ScalarMappable(norm=norm, cmap=cmap)
    cax = fig.add_axes((0.87, 0.18, 0.025, 0.62)) if user_ax is None else None
    cb = fig.colorbar(sm, cax=cax, ax=None if cax is not None else ax)
    cb.set_label(what, fontsize=10)
    title = f"{figure_text(d.name)}: " + " → ".join(str(n) for n in d.layers) + f"  ({what}"
    if d.step is not None:
        title += f", {t['step']} {d.step}" + (" 步" if lang == "zh" else "")
    title += ")"
    ax.set_title(title, fontsize=12, color=INK)
    return fig
