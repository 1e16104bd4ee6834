// The network diagram as SVG, drawn from the server's view: every number is the engine's, looked
// up by its derive-JSON key in view.values (a key absent there is not revealed yet). Positions are
// fixed per network, so stepping never moves anything: only text and highlights change.
"use strict";
(function () {
  const NS = "http://www.w3.org/2000/svg";
  const W = 760, H = 520, TOP = 60, BOTTOM = 470;

  function el(tag, attrs, parent, text) {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }

  const LW = 80, LH = 42; // an edge label's box

  // The point along edge a→b where a label box overlaps least with the labels already placed and the
  // neurons: candidates from the middle outwards; the first free one wins.
  function place(a, b, r, placed, circles) {
    let best = null;
    const ts = [0.5, 0.42, 0.58, 0.34, 0.66, 0.26, 0.74, 0.18, 0.82, 0.46, 0.54, 0.38, 0.62, 0.3, 0.7, 0.22, 0.78];
    const candidates = [0, 12, -12].flatMap((dy) => ts.map((t) => [t, dy])); // on the edge first, then just off it
    for (const [t, dy] of candidates) {
      const x = a.x + r + (b.x - a.x - 2 * r) * t, y = a.y + (b.y - a.y) * t + dy;
      let cost = 0;
      for (const p of placed) {
        const ox = LW + 4 - Math.abs(p[0] - x), oy = LH + 4 - Math.abs(p[1] - y);
        if (ox > 0 && oy > 0) cost += ox * oy;
      }
      for (const c of circles) {
        const ox = LW / 2 + r - Math.abs(c.x - x), oy = LH / 2 + r - Math.abs(c.y - y);
        if (ox > 0 && oy > 0) cost += ox * oy;
      }
      if (!best || cost < best[2] - 1e-9) best = [x, y, cost];
      if (cost === 0) break;
    }
    placed.push([best[0], best[1]]);
    return [best[0], best[1]];
  }

  function column(n, x) {
    const spacing = Math.min(170, (BOTTOM - TOP) / Math.max(n, 1));
    const mid = (TOP + BOTTOM) / 2;
    return Array.from({ length: n }, (_, j) => ({ x, y: mid + (j - (n - 1) / 2) * spacing, spacing }));
  }

  // draw(svg, view, t, opts): opts.highlight (Set of keys), opts.asked (Set of keys shown as "?"),
  // opts.onEdit(path, label, value, element) for click-to-edit.
  function draw(svg, v, t, opts) {
    svg.textContent = "";
    const net = v.net, depth = v.layers.length - 1;
    const hl = opts.highlight || new Set(), asked = opts.asked || new Set();
    const val = (key) => (key && v.values[key] ? v.values[key].t : null);
    const shown = (key, fallback) => { const s = val(key); return s !== null ? s : (asked.has(key) ? "?" : fallback); };
    const isHl = (...keys) => keys.some((k) => k && hl.has(k));
    const x0 = 56, x1 = 588;
    const cols = net.layers.map((layer, l) => column(layer.length, x0 + (x1 - x0) * l / depth));
    const r = Math.max(15, Math.min(27, Math.min(...cols.map((c) => c[0].spacing)) * 0.3));
    // a bias box sits under its neuron, or beside it (right) where the neurons of a column are close
    // (left of an output neuron, whose right side holds its target)
    const biasAt = (p) => (p.spacing >= 128 ? [p.x, p.y + r + 44]
      : [p.x + (p.x === cols[depth][0].x ? -1 : 1) * (r + LW / 2 + 6), p.y + 16]);

    // titles
    net.layers.forEach((layer, l) => {
      const name = l === 0 ? t.input : (l === depth ? t.output : t.hidden);
      const act = l > 0 && net.layers[l][0].activation !== "none" ? ` · ${net.layers[l][0].activation}` : "";
      el("text", { class: "layer-title", x: cols[l][0].x, y: 22 }, svg, name + act);
    });

    // edges first (under everything); labels placed greedily along their edges so none overlap
    const gEdges = el("g", {}, svg), gLabels = el("g", {}, svg);
    const circles = cols.flat(), placed = [];
    net.layers.forEach((layer, l) => layer.forEach((n, j) => { // bias boxes sit under their neuron
      if (l > 0 && n.bias) placed.push(biasAt(cols[l][j]));
      if (l > 0 && n.activation !== "none") placed.push([cols[l][j].x, cols[l][j].y - r - 14]); // its z label
    }));
    for (const e of net.edges) {
      const a = cols[e.layer - 1][e.i], b = cols[e.layer][e.j];
      const keys = [e.before, e.grad, e.after];
      el("line", { class: "edge" + (isHl(e.grad, e.after) || isHl(...(v.net.layers[e.layer][e.j] ? [v.net.layers[e.layer][e.j].z] : [])) ? " hl" : ""),
                   x1: a.x + r, y1: a.y, x2: b.x - r, y2: b.y, "data-keys": keys.join(" ") }, gEdges);
      const [px, py] = place(a, b, r, placed, circles);
      const g = el("g", { class: "wlabel editable" + (isHl(e.grad, e.after) ? " hl" : ""), "data-keys": keys.join(" "),
                          "data-edit": e.edit, transform: `translate(${px},${py})` }, gLabels);
      el("title", {}, g, e.symbol);
      el("rect", { x: -LW / 2, y: -LH / 2, width: LW, height: LH, rx: 5 }, g);
      el("text", { class: "w", y: -8 }, g, `${e.symbol} ${shown(e.before, "")}`);
      el("text", { class: "g", y: 5 }, g, shown(e.grad, "") && `∂ ${shown(e.grad, "")}`);
      el("text", { class: "n", y: 18 }, g, shown(e.after, "") && `→ ${shown(e.after, "")}`);
      g.addEventListener("click", () => opts.onEdit && opts.onEdit(e.edit, e.symbol, val(e.before), g));
    }

    // neurons
    net.layers.forEach((layer, l) => {
      layer.forEach((n, j) => {
        const p = cols[l][j];
        if (l === 0) {
          const g = el("g", { class: "neuron input editable" + (0 ? " hl" : ""), "data-keys": n.value,
                              "data-edit": `${net.x_edit}[${j}]`, transform: `translate(${p.x},${p.y})` }, svg);
          el("circle", { r }, g);
          el("text", { class: "sym", y: -6 }, g, n.symbol);
          el("text", { class: "val", y: 11 }, g, shown(n.value, ""));
          g.addEventListener("click", () => opts.onEdit && opts.onEdit(`${net.x_edit}[${j}]`, n.symbol, val(n.value), g));
          return;
        }
        const g = el("g", { class: "neuron" + (isHl(n.z, n.a, n.delta) ? " hl" : ""), "data-keys": [n.z, n.a, n.delta].join(" "),
                            transform: `translate(${p.x},${p.y})` }, svg);
        el("circle", { r }, g);
        el("text", { class: "sym", y: -6 }, g, n.symbol);
        el("text", { class: "val", y: 11 }, g, shown(n.a, ""));
        if (n.activation !== "none") el("text", { class: "zval", y: -r - 5 }, g, shown(n.z, "") && `${n.zsymbol} = ${shown(n.z, "")}`);
        el("text", { class: "delta", y: r + 15 }, g, shown(n.delta, "") && `δ ${shown(n.delta, "")}`);
        if (n.bias) {
          const b = n.bias, bg = el("g", { class: "wlabel editable" + (isHl(b.grad, b.after) ? " hl" : ""),
                                         "data-keys": [b.before, b.grad, b.after].join(" "), "data-edit": b.edit,
                                         transform: `translate(${biasAt(p)[0] - p.x},${biasAt(p)[1] - p.y})` }, g);
          el("rect", { x: -LW / 2, y: -LH / 2, width: LW, height: LH, rx: 5 }, bg);
          el("text", { class: "w", y: -8 }, bg, `${b.symbol} ${shown(b.before, "")}`);
          el("text", { class: "g", y: 5 }, bg, shown(b.grad, "") && `∂ ${shown(b.grad, "")}`);
          el("text", { class: "n", y: 18 }, bg, shown(b.after, "") && `→ ${shown(b.after, "")}`);
          bg.addEventListener("click", () => opts.onEdit && opts.onEdit(b.edit, b.symbol, val(b.before), bg));
        }
      });
    });

    // targets, ∂L/∂y', loss
    const outCol = cols[depth], tx = outCol[0].x + r + 66;
    net.outputs.forEach((o, j) => {
      const p = outCol[j];
      el("line", { class: "edge", x1: p.x + r, y1: p.y, x2: tx - 46, y2: p.y, "stroke-dasharray": "4 3" }, svg);
      const g = el("g", { class: "box editable" + (isHl(o.dL) ? " hl" : ""), "data-keys": `${o.target} ${o.dL}`,
                          "data-edit": v.loss === "cross_entropy" ? net.y_edit : `${net.y_edit}${net.layers[depth].length > 1 || !v.single ? `[${j}]` : ""}`,
                          transform: `translate(${tx},${p.y})` }, svg);
      el("rect", { x: -46, y: -22, width: 92, height: 44, rx: 6 }, g);
      el("text", { y: -5 }, g, `${o.symbol} = ${shown(o.target, "")}`);
      el("text", { class: "g", y: 13 }, g, shown(o.dL, "") && `∂L/∂y′ ${shown(o.dL, "")}`);
      const path = g.getAttribute("data-edit");
      const now = v.loss === "cross_entropy" ? val("y[0]") : val(o.target); // a class index, or the target
      g.addEventListener("click", () => opts.onEdit && opts.onEdit(path, `${t.target} ${o.symbol}`, now, g));
    });
    const last = outCol[outCol.length - 1], ly = Math.min(BOTTOM + 10, last.y + 82), lx = tx;
    const lg = el("g", { class: "box" + (isHl("loss") ? " hl" : ""), "data-keys": "loss", transform: `translate(${lx},${ly})` }, svg);
    el("rect", { x: -42, y: -24, width: 84, height: 48, rx: 8 }, lg);
    el("text", { y: -6 }, lg, `L (${t.loss_label})`);
    el("text", { y: 13, style: "font-weight:700" }, lg, shown("loss", ""));

    if (v.samples > 1) el("text", { class: "layer-title", x: cols[0][0].x, y: 40 }, svg, t.sample_of.replace("{n}", v.samples));

    // legend
    const leg = el("g", { class: "legend", transform: `translate(12,${H - 14})` }, svg);
    el("text", { x: 0, fill: "#1b7f3b" }, leg, "■ z, a");
    el("text", { x: 52, fill: "#c62828" }, leg, "■ ∂L/∂·, δ");
    el("text", { x: 128, fill: "#1f4e99" }, leg, `■ → ${t.new_legend}`);
  }

  function lossCurve(svg, losses) {
    svg.textContent = "";
    const w = 360, h = 110, l = 44, b = 96, top = 8;
    el("line", { x1: l, y1: b, x2: w - 6, y2: b, stroke: "#9aa5b1" }, svg);
    el("line", { x1: l, y1: top, x2: l, y2: b, stroke: "#9aa5b1" }, svg);
    if (!losses.length) return;
    const vs = losses.map((p) => p.v), max = Math.max(...vs), min = Math.min(0, ...vs);
    const n = Math.max(losses.length, 10);
    const X = (k) => l + (w - 12 - l) * (k - 1) / Math.max(n - 1, 1);
    const Y = (v) => b - (b - top) * (v - min) / ((max - min) || 1);
    el("text", { x: l - 4, y: top + 8, "text-anchor": "end", "font-size": 10, fill: "#6a737d" }, svg, losses.reduce((a, p) => (p.v === max ? p.t : a), ""));
    el("text", { x: l - 4, y: b, "text-anchor": "end", "font-size": 10, fill: "#6a737d" }, svg, String(min));
    el("polyline", { points: losses.map((p) => `${X(p.step)},${Y(p.v)}`).join(" "), fill: "none", stroke: "#c62828", "stroke-width": 2 }, svg);
    losses.forEach((p) => el("circle", { cx: X(p.step), cy: Y(p.v), r: 2.6, fill: "#c62828" }, svg));
    const last = losses[losses.length - 1];
    el("text", { x: Math.min(X(last.step) + 5, w - 60), y: Math.max(Y(last.v) - 5, top + 10), "font-size": 11, fill: "#1f2328" }, svg, `L${last.step} = ${last.t}`);
  }

  window.Diagram = { draw, lossCurve };
})();
