// chainrule serve: the page's controller. It keeps the state (in the URL), asks the server for the
// view of a stage, and lays out what the engine computed. It never computes a number itself.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const state = { spec: null, step: 1, stage: 0, lang: "en", mode: "explore" };
  let view = null, config = null, playing = null, busy = false, practice = null;

  // ------------------------------------------------------------------ URL <-> state
  function readHash() {
    const h = new URLSearchParams(location.hash.slice(1));
    if (h.has("spec")) {
      const s = h.get("spec");
      try { state.spec = s.startsWith("{") ? JSON.parse(s) : s; } catch (e) { state.spec = s; }
    }
    if (h.has("step")) state.step = parseInt(h.get("step"), 10) || 1;
    if (h.has("stage")) state.stage = h.get("stage") === "last" ? "last" : (parseInt(h.get("stage"), 10) || 0);
    if (h.has("lang")) state.lang = h.get("lang") === "zh" ? "zh" : "en";
    if (h.has("mode")) state.mode = h.get("mode") === "practice" ? "practice" : "explore";
  }
  function writeHash() {
    const spec = typeof state.spec === "string" ? state.spec : JSON.stringify(state.spec);
    const h = new URLSearchParams({ spec, step: state.step, stage: state.stage, lang: state.lang, mode: state.mode });
    history.replaceState(null, "", "#" + h.toString());
  }

  // ------------------------------------------------------------------ server
  async function api(path, body) {
    const res = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    if (!res.ok) {
      let msg = `${res.status} ${res.statusText}`;
      try { msg = (await res.json()).error || msg; } catch (e) { /* not JSON */ }
      throw new Error(msg);
    }
    return res;
  }
  function showError(msg) { const e = $("error"); e.textContent = msg || ""; e.hidden = !msg; }

  async function load(next) {
    const want = Object.assign({}, state, next || {});
    busy = true;
    try {
      const res = await api("/api/view", { spec: want.spec, step: want.step, stage: want.stage, lang: want.lang,
                                           practice: want.mode === "practice" });
      const v = await res.json();
      Object.assign(state, want, { stage: v.stage, step: v.step });
      view = v;
      showError("");
      render();
      writeHash();
      return true;
    } catch (err) {
      showError(err.message);
      return false;
    } finally {
      busy = false;
    }
  }

  // ------------------------------------------------------------------ words
  const T = () => window.I18N[state.lang];
  function fmt(s, args) { return s.replace(/\{(\w+)\}/g, (_, k) => (k in args ? args[k] : `{${k}}`)); }
  function applyWords() {
    const t = T();
    document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
    document.querySelectorAll("[data-t]").forEach((e) => { e.textContent = t[e.dataset.t] || e.dataset.t; });
    $("btn-play").textContent = playing ? t.pause : t.play;
    $("lang-en").classList.toggle("on", state.lang === "en");
    $("lang-zh").classList.toggle("on", state.lang === "zh");
    $("mode-explore").classList.toggle("on", state.mode === "explore");
    $("mode-practice").classList.toggle("on", state.mode === "practice");
  }

  // ------------------------------------------------------------------ rendering
  function stageKeys(index) { const s = view.stages[index - 1]; return new Set(s ? s.keys : []); }

  function render() {
    const t = T();
    applyWords();
    const asking = state.mode === "practice" && view.stage < view.n_stages;
    Diagram.draw($("diagram"), view, t, {
      highlight: asking ? stageKeys(view.stage + 1) : stageKeys(view.stage),
      asked: asking ? stageKeys(view.stage + 1) : new Set(),
      onEdit: startEdit,
    });
    Diagram.lossCurve($("loss-curve"), view.losses);
    $("where").textContent = fmt(t.where, { step: view.step, stage: view.stage, n: view.n_stages });
    const stage = view.stages[view.stage - 1];
    $("stage-label").textContent = stage ? stage.label : t.start;
    const current = $("current"), historyBox = $("history");
    current.textContent = ""; historyBox.textContent = "";
    for (const line of view.lines) {
      if (!line.mathml) continue;
      const div = document.createElement("div");
      div.className = "line";
      div.dataset.keys = line.keys.join(" ");
      div.innerHTML = line.mathml; // MathML written by chainrule derive's own converter (latex2mathml)
      div.title = line.text;
      if (line.mathml_rows) div.dataset.rows = line.mathml_rows;
      (line.stage === view.stage ? current : historyBox).appendChild(div);
    }
    if (!stage) { const p = document.createElement("div"); p.className = "start"; p.textContent = t.start; current.appendChild(p); }
    fitLines(current);
    const warn = $("warnings"); warn.textContent = "";
    for (const w of view.warnings) { const p = document.createElement("p"); p.textContent = "⚠ " + w; warn.appendChild(p); }
    renderPractice();
    renderSettings();
    const sel = $("spec-select");
    sel.value = typeof state.spec === "string" ? state.spec : "";
  }

  // A long line of the current stage is set smaller (down to 80%) rather than cut off at the right.
  function fitLines(box) {
    for (const div of box.querySelectorAll(".line")) {
      if (div.scrollWidth > div.clientWidth && div.dataset.rows !== undefined) {
        // derive's own rows, one form per row (server-made MathML, like the HTML derivation's tables)
        div.innerHTML = `<table class="eqs">${div.dataset.rows}</table>`;
      }
      const math = div.querySelector("math");
      if (!math || div.scrollWidth <= div.clientWidth) continue;
      const scale = Math.max(0.8, div.clientWidth / div.scrollWidth);
      for (const m of div.querySelectorAll("math")) m.style.fontSize = `${(1.15 * scale).toFixed(3)}em`;
    }
  }

  // ------------------------------------------------------------------ practice mode
  function newPractice() { return { step: state.step, spec: JSON.stringify(state.spec), answers: {}, marks: {}, revealed: new Set(), score: { right: 0, wrong: 0, revealed: 0 } }; }

  function renderPractice() {
    const box = $("practice"), t = T();
    box.hidden = state.mode !== "practice";
    if (box.hidden) return;
    if (!practice || practice.step !== state.step || practice.spec !== JSON.stringify(state.spec)) {
      const score = practice ? practice.score : { right: 0, wrong: 0, revealed: 0 };
      practice = newPractice(); practice.score = score;
    }
    box.textContent = "";
    const head = document.createElement("div");
    if (view.stage >= view.n_stages) {
      head.textContent = t.done_step;
    } else {
      const next = view.stages[view.stage];
      head.innerHTML = `<b></b> <span class="muted"></span>`;
      head.firstChild.textContent = next.label;
      head.lastChild.textContent = t.answer;
      box.appendChild(head);
      for (const id of next.lines) {
        const line = view.lines[id];
        const row = document.createElement("div");
        row.className = "q";
        row.innerHTML = `<span class="sym"></span><input type="text" inputmode="decimal"><button class="check"></button><button class="reveal"></button><div class="feedback"></div>`;
        row.querySelector(".sym").textContent = line.pretty + " =";
        const input = row.querySelector("input"), fb = row.querySelector(".feedback");
        input.dataset.line = id;
        input.setAttribute("aria-label", line.symbol);
        const key = line.keys[0];
        if (practice.answers[key] !== undefined) input.value = practice.answers[key];
        row.querySelector(".check").textContent = t.check;
        row.querySelector(".reveal").textContent = t.reveal;
        showMark(fb, practice.marks[key]);
        input.addEventListener("keydown", (ev) => { if (ev.key === "Enter") { ev.preventDefault(); check(line, input, fb); } ev.stopPropagation(); });
        row.querySelector(".check").addEventListener("click", () => check(line, input, fb));
        row.querySelector(".reveal").addEventListener("click", () => reveal(line));
        box.appendChild(row);
      }
    }
    if (view.stage >= view.n_stages) box.appendChild(head);
    const score = document.createElement("div");
    score.className = "score";
    score.textContent = fmt(t.score, practice.score);
    box.appendChild(score);
    const first = box.querySelector("input");
    if (first && !busy) setTimeout(() => { const empty = [...box.querySelectorAll("input")].find((i) => !i.value); (empty || first).focus(); }, 0);
  }

  function showMark(fb, mark) {
    const t = T();
    fb.className = "feedback";
    if (!mark) { fb.textContent = ""; return; }
    fb.classList.add(mark.status);
    if (mark.status === "revealed") { fb.textContent = t.revealed; return; }
    let text = t[mark.status] || mark.status;
    if (mark.status === "wrong") text += " — " + (mark.cause ? fmt(t.cause, { cause: mark.cause }) : t.no_cause);
    if (mark.status === "carried") text += " — " + fmt(t.carried_from, { what: (mark.carried_from || []).join(", ") });
    fb.textContent = text;
  }

  async function check(line, input, fb) {
    const text = input.value.trim();
    if (!text) { fb.className = "feedback wrong"; fb.textContent = T().not_number; return; }
    for (const k of line.keys) practice.answers[k] = text;
    try {
      const res = await api("/api/grade", { spec: state.spec, step: state.step, answers: practice.answers, lang: state.lang });
      const marks = (await res.json()).marks;
      showError("");
      for (const [k, m] of Object.entries(marks)) practice.marks[k] = m;
      const mark = marks[line.keys[0]];
      if (mark) practice.score[mark.status === "right" ? "right" : "wrong"] += 1;
      showMark(fb, mark);
      $("practice").querySelector(".score").textContent = fmt(T().score, practice.score);
      maybeAdvance();
    } catch (err) {
      fb.className = "feedback wrong"; fb.textContent = err.message;
    }
  }

  function reveal(line) {
    for (const k of line.keys) { practice.marks[k] = { status: "revealed" }; practice.revealed.add(k); }
    practice.score.revealed += 1;
    maybeAdvance(true);
  }

  function maybeAdvance(force) {
    const next = view.stages[view.stage];
    if (!next) return;
    const done = next.lines.every((id) => {
      const m = practice.marks[view.lines[id].keys[0]];
      return m && (m.status === "right" || m.status === "revealed");
    });
    if (done || force && done) load({ stage: view.stage + 1 });
    else if (force) renderPractice();
  }

  // ------------------------------------------------------------------ editing
  let editing = null;
  function startEdit(path, label, current, element) {
    const box = $("editor"), panel = box.parentElement.getBoundingClientRect(), r = element.getBoundingClientRect();
    editing = path;
    box.hidden = false;
    box.value = current !== null && current !== undefined ? current : "";
    box.title = label;
    box.setAttribute("aria-label", label);
    box.style.left = `${r.left - panel.left + r.width / 2 - 45}px`;
    box.style.top = `${r.top - panel.top + r.height / 2 - 14}px`;
    box.focus(); box.select();
  }
  async function commitEdit() {
    const box = $("editor");
    if (!editing) return;
    const path = editing; editing = null; box.hidden = true;
    await edit({ op: "set", path, value: box.value });
  }
  async function edit(change) {
    try {
      const res = await api("/api/edit", Object.assign({ spec: state.spec }, change));
      const spec = (await res.json()).spec;
      await load({ spec, step: 1 });
    } catch (err) { showError(err.message); }
  }

  function renderSettings() {
    const t = T();
    const layers = $("set-layers"), lr = $("set-lr");
    if (document.activeElement !== layers) layers.value = view.layers.join(", ");
    if (document.activeElement !== lr) lr.value = String(view.spec.lr);
    fillSelect($("set-loss"), ["half_sse", "mse", "sse", "cross_entropy", "bce"], view.loss);
    fillSelect($("set-optimizer"), ["sgd", "momentum", "adam"], view.optimizer);
    const acts = $("set-activations"); acts.textContent = "";
    view.activations.forEach((a, l) => {
      const lab = document.createElement("label");
      lab.innerHTML = "<span></span><select></select>";
      lab.firstChild.textContent = fmt(t.activation, { l: l + 1 });
      fillSelect(lab.lastChild, ["none", "relu", "sigmoid", "tanh", "leaky_relu", "softmax"], a);
      lab.lastChild.addEventListener("change", (ev) => edit({ op: "choose", path: `activations[${l}]`, value: ev.target.value }));
      acts.appendChild(lab);
    });
  }
  function fillSelect(sel, options, value) {
    if (sel.options.length !== options.length) {
      sel.textContent = "";
      for (const o of options) { const opt = document.createElement("option"); opt.value = o; opt.textContent = o; sel.appendChild(opt); }
    }
    sel.value = value;
  }

  // ------------------------------------------------------------------ stepping
  const stages = () => view.stages;
  function groupEnd(i) { // last stage of the group (phase, layer) that stage i (1-based) starts
    const s = stages();
    let j = i;
    while (j < s.length && s[j].phase === s[i - 1].phase && s[j].layer === s[i - 1].layer && s[j].phase !== "update") j += 1;
    return j;
  }
  function nextOf(phase) { // the next stage group of this phase: this step or the next
    const s = stages();
    for (let i = view.stage + 1; i <= s.length; i++) if (s[i - 1].phase === phase) return load({ stage: phase === "loss" ? i : groupEnd(i) });
    if (view.step < config.limits.step) {
      const i = s.findIndex((x) => x.phase === phase) + 1;
      if (i > 0) return load({ step: view.step + 1, stage: phase === "loss" ? i : groupEnd(i) });
    }
    return Promise.resolve(false);
  }
  function next() {
    if (view.stage < view.n_stages) return load({ stage: view.stage + 1 });
    if (view.step < config.limits.step) return load({ step: view.step + 1, stage: 0 });
    return Promise.resolve(false);
  }
  function back() {
    if (view.stage > 0) return load({ stage: view.stage - 1 });
    if (view.step > 1) return load({ step: view.step - 1, stage: "last" });
    return Promise.resolve(false);
  }
  function fullStep() {
    if (view.stage < view.n_stages) return load({ stage: "last" });
    return load({ step: Math.min(view.step + 1, config.limits.step), stage: "last" });
  }
  function togglePlay() {
    if (playing) { clearTimeout(playing); playing = null; applyWords(); return; }
    const tick = async () => {
      const ok = await next();
      if (!ok || !playing) { playing = null; applyWords(); return; }
      playing = setTimeout(tick, parseInt($("speed").value, 10));
    };
    playing = setTimeout(tick, 0);
    applyWords();
  }

  function bind() {
    $("btn-next").onclick = () => next();
    $("btn-back").onclick = () => back();
    $("btn-reset").onclick = () => load({ step: 1, stage: 0 });
    $("btn-forward").onclick = () => nextOf("forward");
    $("btn-loss").onclick = () => nextOf("loss");
    $("btn-backward").onclick = () => nextOf("backward");
    $("btn-update").onclick = () => nextOf("update");
    $("btn-step").onclick = () => fullStep();
    $("btn-play").onclick = () => togglePlay();
    $("lang-en").onclick = () => load({ lang: "en" });
    $("lang-zh").onclick = () => load({ lang: "zh" });
    $("mode-explore").onclick = () => load({ mode: "explore" });
    $("mode-practice").onclick = () => { practice = null; load({ mode: "practice" }); };
    $("spec-select").onchange = (ev) => { if (ev.target.value) load({ spec: ev.target.value, step: 1, stage: 0 }); };
    $("editor").addEventListener("keydown", (ev) => {
      ev.stopPropagation();
      if (ev.key === "Enter") commitEdit();
      if (ev.key === "Escape") { editing = null; $("editor").hidden = true; }
    });
    $("editor").addEventListener("blur", () => { if (editing) commitEdit(); });
    const onEnter = (input, fn) => {
      input.addEventListener("keydown", (ev) => { ev.stopPropagation(); if (ev.key === "Enter") fn(input.value); });
      input.addEventListener("change", () => fn(input.value));
    };
    onEnter($("set-layers"), (v) => edit({ op: "layers", value: v.split(/[,\s]+/).filter(Boolean) }));
    onEnter($("set-lr"), (v) => edit({ op: "set", path: "lr", value: v }));
    $("set-loss").onchange = (ev) => edit({ op: "choose", path: "loss", value: ev.target.value });
    $("set-optimizer").onchange = (ev) => edit({ op: "choose", path: "optimizer", value: ev.target.value });
    $("export-button").onclick = () => { $("export-menu").hidden = !$("export-menu").hidden; };
    document.querySelectorAll("[data-export]").forEach((b) => { b.onclick = () => download(b.dataset.export); });
    document.addEventListener("keydown", (ev) => {
      if (ev.target.closest && ev.target.closest("input, select, textarea")) return;
      const keys = { ArrowRight: next, ArrowLeft: back, " ": togglePlay, f: () => nextOf("forward"), l: () => nextOf("loss"),
                     b: () => nextOf("backward"), u: () => nextOf("update"), s: fullStep, r: () => load({ step: 1, stage: 0 }) };
      if (keys[ev.key] && !ev.ctrlKey && !ev.metaKey && !ev.altKey) { ev.preventDefault(); keys[ev.key](); }
    });
    window.addEventListener("hashchange", () => { const before = location.hash; readHash(); if (before) load(); });
  }

  async function download(what) {
    $("export-menu").hidden = true;
    try {
      const res = await api("/api/export", { spec: state.spec, what, step: state.step, lang: state.lang });
      const name = (res.headers.get("Content-Disposition") || "").match(/filename="([^"]+)"/);
      const url = URL.createObjectURL(await res.blob());
      const a = document.createElement("a");
      a.href = url; a.download = name ? name[1] : `chainrule.${what}`;
      document.body.appendChild(a); a.click(); a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    } catch (err) { showError(err.message); }
  }

  async function start() {
    config = await (await fetch("/api/config")).json();
    state.spec = config.spec; state.lang = config.lang;
    const sel = $("spec-select");
    const custom = document.createElement("option"); custom.value = ""; custom.textContent = "(edited)"; sel.appendChild(custom);
    for (const name of config.specs) { const o = document.createElement("option"); o.value = name; o.textContent = name; sel.appendChild(o); }
    readHash();
    bind();
    if (!(await load())) { state.stage = 0; state.step = 1; await load(); }
    document.body.dataset.ready = "1";
  }
  window.chainruleState = () => ({ state: Object.assign({}, state), view });
  start();
})();
