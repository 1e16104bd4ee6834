"""``draw_scalars``: a small network's step as a graph of scalars, in micrograd's ``draw_dot`` style.

Every node is one number with its value and its gradient (``w'_11 | data 0.5 | grad 4800``), every
op a small circle (×, +, σ, L); weights are named w'_ij in (from, to) order as everywhere else in
chainrule. The numbers are the engine's, read from the recorded step: z, a and their retained
gradients, the parameters and their gradients. A product w_ij·x_i has the gradient of the z it
feeds (∂L/∂(w·x) = ∂L/∂z_j, the + passes it on). The picture is laid out for a 16:9 slide.
"""

from __future__ import annotations

import matplotlib
import numpy as np
from matplotlib.patches import Circle, FancyBboxPatch

from .. import notation
from ..numbers import fmt
from . import _base
from ._base import EDGE, GRAD, INK, VALUE, Drawing, pretty_symbol

MAX_PARAMS = 30          # beyond this the boxes no longer fit a slide: use draw_network / draw_graph
SLIDE = (16.0, 9.0)      # inches: a 16:9 slide
OP_NAMES = {"sigmoid": "σ", "tanh": "tanh", "relu": "ReLU", "leaky_relu": "LReLU", "softmax": "softmax"}
TEXT = {"en": {"data": "data", "grad": "grad", "title": "{name}: every scalar of step {step} (value | gradient)"},
        "zh": {"data": "值", "grad": "梯度", "title": "{name}：第 {step} 步的每个标量（值 | 梯度）"}}


def draw_scalars(obj, step: int = 1, lang: str = "en") -> Drawing:
    """The scalar graph of step ``step`` of a spec (name, path, dict, Spec) or a ``Run``; one sample only."""
    from ..network import Run
    from ..network import run as run_spec
    from ..spec import load_spec

    if lang not in TEXT:
        raise ValueError(f"draw_scalars: lang must be one of {', '.join(TEXT)}, got {lang!r}")
    result = obj if isinstance(obj, Run) else run_spec(load_spec(obj), steps=step)
    spec = result.spec
    if spec.batch_size != 1:
        raise ValueError(f"draw_scalars: spec {spec.name!r} has {spec.batch_size} samples; the scalar graph draws "
                         "one sample's step (use draw_network, which marks batch sums)")
    if spec.n_params > MAX_PARAMS:
        raise ValueError(f"draw_scalars: spec {spec.name!r} has {spec.n_params} parameters, more than the "
                         f"{MAX_PARAMS} a slide holds as scalars (use draw_network or draw_graph)")
    if not 1 <= step <= len(result.steps):
        raise ValueError(f"draw_scalars: step must be in 1..{len(result.steps)}, got {step}")
    rec = result.steps[step - 1]
    nodes, ops, edges = _build(spec, rec)
    return _draw(spec, nodes, ops, edges, step, lang)


def _g(t, index):
    return None if t.grad is None else float(np.asarray(t.grad.array if hasattr(t.grad, "array") else t.grad)[index])


def _v(t, index):
    return float(np.asarray(t.array if hasattr(t, "array") else t.data)[index])


def _build(spec, rec):
    """Value nodes {id: (column, label, value, grad)}, op nodes {id: (column, symbol)}, edges [(a, b)]."""
    style = notation.default_style(spec.depth)
    nodes, ops, edges = {}, {}, []
    prev = []
    for i in range(spec.layers[0]):
        nodes[f"x{i}"] = (0, f"x_{i + 1}", float(spec.x[0, i]), None)
        prev.append(f"x{i}")
    col = 0
    for li in range(spec.depth):
        layer = li + 1
        W, g = rec.params_before[f"W{layer}"], rec.grads.get(f"W{layer}")
        z, a = rec.zs[li], rec.acts[li]
        last = li == spec.depth - 1
        for j in range(spec.layers[layer]):
            zid = f"z{layer}_{j}"
            plus = f"+{layer}_{j}"
            ops[plus] = (col + 2, "+")
            dz = _g(z, (0, j))
            for i, src in enumerate(prev):
                wid = f"w{layer}_{i}{j}"
                nodes[wid] = (col, notation.weight(layer, i + 1, j + 1, style), float(W[i, j]),
                              None if g is None else float(g[i, j]))
                times, prod = f"×{layer}_{i}{j}", f"p{layer}_{i}{j}"
                ops[times] = (col + 1, "×")
                src_value = nodes[src][2]
                nodes[prod] = (col + 1.5, f"w·{nodes[src][1]}", float(W[i, j]) * src_value, dz)
                edges += [(src, times), (wid, times), (times, prod), (prod, plus)]
            if f"b{layer}" in rec.params_before:
                b = rec.params_before[f"b{layer}"]
                jb = 0 if len(b) == 1 else j
                bid = f"b{layer}_{jb}"
                if bid not in nodes:
                    gb = rec.grads.get(f"b{layer}")
                    sym = notation.bias(layer, jb + 1, style)
                    if len(b) == 1:
                        sym = sym.rsplit("_", 1)[0]
                    nodes[bid] = (col + 1.5, sym, float(b[jb]), None if gb is None else float(gb[jb]))
                edges.append((bid, plus))
            act = spec.activations[li]
            z_label = notation.neuron("z", layer, j + 1, spec.depth, style)
            if act == "none":
                label = (("y'" if spec.layers[-1] == 1 else notation.neuron("a", layer, j + 1, spec.depth, style))
                         if last else z_label)
                nodes[zid] = (col + 2.5, label, _v(z, (0, j)), dz)
                edges.append((plus, zid))
                prev_id = zid
            else:
                nodes[zid] = (col + 2.5, z_label, _v(z, (0, j)), dz)
                f = f"f{layer}_{j}"
                ops[f] = (col + 3, OP_NAMES.get(act, act))
                aid = f"a{layer}_{j}"
                a_label = "y'" if last and spec.layers[-1] == 1 else notation.neuron("a", layer, j + 1, spec.depth, style)
                nodes[aid] = (col + 3.5, a_label, _v(a, (0, j)),
                              _g(a, (0, j)))
                edges += [(plus, zid), (zid, f), (f, aid)]
                prev_id = aid
            if j == 0:
                row = []
            row.append(prev_id)
        prev = row
        col += 4.5 if spec.activations[li] != "none" else 3.5
    ops["L"] = (col, "L")
    nodes["loss"] = (col + 0.7, "L", float(rec.loss.item()), 1.0)
    edges += [(p, "L") for p in prev] + [("L", "loss")]
    return nodes, ops, edges


def _draw(spec, nodes, ops, edges, step, lang):
    t = TEXT[lang]
    columns: dict = {}
    for key, (c, *_rest) in list(nodes.items()) + list(ops.items()):
        columns.setdefault(c, []).append(key)
    pos = {}
    for c, keys in columns.items():
        n = len(keys)
        for k, key in enumerate(keys):
            pos[key] = (c, (n - 1) / 2 - k)
    xs = sorted(columns)
    width, height = xs[-1] - xs[0] + 1.4, max(len(v) for v in columns.values()) + 1.0
    with matplotlib.rc_context(_base.rc(lang)):
        fig = _base.new_figure(*SLIDE)
        ax = fig.add_axes((0.01, 0.01, 0.98, 0.92))
        ax.set_axis_off()
        ax.set_xlim(xs[0] - 0.7, xs[0] - 0.7 + width)
        ax.set_ylim(-height / 2, height / 2)
        scale = min(1.0, 22.0 / max(height, 1.0), 34.0 / max(width, 1.0))
        fs = max(4.5, 8.0 * scale)
        box_w, box_h = 0.46, min(0.36, 0.8 * 9.0 / height * 0.45)
        for a, b in edges:
            (x0, y0), (x1, y1) = pos[a], pos[b]
            ax.annotate("", xy=(x1 - (0.12 if b in ops else box_w / 2), y1), xytext=(x0 + (0.12 if a in ops else box_w / 2), y0),
                        arrowprops=dict(arrowstyle="-|>", color=EDGE, lw=0.7, shrinkA=0, shrinkB=0, mutation_scale=6),
                        zorder=1)
        for key, (_c, symbol) in ops.items():
            x, y = pos[key]
            ax.add_patch(Circle((x, y), 0.12, facecolor="white", edgecolor=INK, lw=0.8, zorder=2, gid=f"op-{key}"))
            ax.text(x, y, symbol, ha="center", va="center", fontsize=fs, color=INK, zorder=3)
        for key, (_c, label, value, grad) in nodes.items():
            x, y = pos[key]
            ax.add_patch(FancyBboxPatch((x - box_w / 2, y - box_h / 2), box_w, box_h, boxstyle="round,pad=0.01",
                                        facecolor="#f7f9fb", edgecolor=INK, lw=0.7, zorder=2, gid=f"node-{key}"))
            ax.text(x, y + box_h * 0.22, pretty_symbol(label), ha="center", va="center", fontsize=fs, color=INK,
                    zorder=3, gid=f"label-{key}")
            ax.text(x, y - box_h * 0.02, f"{t['data']} {fmt(value, 4)}", ha="center", va="center", fontsize=fs * 0.9,
                    color=VALUE, zorder=3, gid=f"data-{key}")
            ax.text(x, y - box_h * 0.27, f"{t['grad']} {'—' if grad is None else fmt(grad, 4)}", ha="center",
                    va="center", fontsize=fs * 0.9, color=GRAD, zorder=3, gid=f"grad-{key}")
        fig.suptitle(t["title"].format(name=spec.name, step=step), fontsize=12, color=INK)
    return Drawing(fig, "scalars", lang, {"nodes": len(nodes), "ops": len(ops)})
