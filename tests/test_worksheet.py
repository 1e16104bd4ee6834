"""Worksheet variants: one rejected variant per rule, reproducibility, and 1,000 variants in which no
classic mistake goes unseen.

The undetectable-mistake check re-derives the seed network (2-3-1, linear, ½(y − y')²) by hand
algebra with NumPy below, with each classic mistake written out independently of chainrule.grade;
for a sigmoid network the mistaken answers are handed to the public grader, which must not mark them
all right.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from worksheet_helpers import seed_by_hand

from chainrule import worksheet as ws
from chainrule.cli import main
from chainrule.grade import grade, tolerance_check
from chainrule.io import parse_config
from chainrule.spec import load_spec

CLOSE = tolerance_check(3)  # the grader's "right": 3 significant digits


def linear_spec(w1, w2, x, y, lr=0.1, name="hand"):
    return load_spec({"name": name, "layers": [2, len(w2), 1], "activations": ["none", "none"], "loss": "half_sse",
                      "lr": lr, "init": {"weights": [w1, w2]}, "data": {"x": x, "y": y}})


def rules(spec):
    return {rule for rule, _ in ws.reasons(spec)}


# ----------------------------------------------------------------------------- one rejection per rule
def test_factor_of_one_rejects_the_seed():
    # the seed itself: w'' = 1 hides a forgotten ∂y'/∂z factor
    assert "factor-of-one" in rules("seed")


def test_unwieldy_rejects_big_numbers():
    # seed numbers: L = ½(60 − 180)² = 7200 > 1000
    details = dict(ws.reasons("seed"))
    assert "unwieldy" in details and "7200" in details["unwieldy"]


def test_saturated_rejects_a_flat_sigmoid():
    # z_1 = 0.9·5 + 0.8·4 = 7.7: σ'(7.7) ≈ 4.5e-4, the backward pass through it is all but zero
    spec = load_spec({"name": "sat", "layers": [2, 2, 1], "activations": ["sigmoid", "sigmoid"], "loss": "half_sse",
                      "lr": 0.5, "init": {"weights": [[[0.9, 0.2], [0.8, -0.3]], [[0.4], [0.6]]]},
                      "data": {"x": [5, 4], "y": [0.5]}})
    assert "saturated" in rules(spec)


def test_mistake_invisible_rejects_symmetric_neurons():
    # W1 columns equal and W2 equal: δ_1 = δ_2 = δ_3, so ∂L/∂w'_13 computed with δ_1 (the seed's typo)
    # is right. z_j = 0.2·2 + 0.3·3 = 1.3; y' = 0.4·3·1.3 = 1.56; all inputs distinct from 0 and ±1.
    spec = linear_spec([[0.2, 0.2, 0.2], [0.3, 0.3, 0.3]], [[0.4], [0.4], [0.4]], [2, 3], [3])
    details = [d for r, d in ws.reasons(spec) if r == "mistake-invisible"]
    assert any("wrong neuron" in d and "grad.W1" in d for d in details)


def test_mistake_invisible_rejects_a_zero_error():
    # y = y' = 0.2·(0.2·2 + 0.3·3) + 0.5·(0.4·2 + 0.5·3) = 0.26 + 1.15 = 1.41: ∂L/∂y' = 0, so a sign
    # error (or a lost ½) changes nothing the student writes
    spec = linear_spec([[0.2, 0.4], [0.3, 0.5]], [[0.2], [0.5]], [2, 3], [1.41])
    details = " ".join(d for r, d in ws.reasons(spec) if r == "mistake-invisible")
    assert "'sign'" in details and "'factor2'" in details


def test_mistake_invisible_rejects_an_update_too_small_to_see():
    # η = 1e-6: the already-updated w'' differs from w'' by η·∂L/∂w'' ≈ 1e-6 × 6, far below 3 digits,
    # so δ and ∂L/∂w' computed with it come out right
    spec = linear_spec([[0.2, 0.4], [0.3, 0.5]], [[0.2], [0.5]], [2, 3], [4], lr=1e-6)
    details = " ".join(d for r, d in ws.reasons(spec) if r == "mistake-invisible")
    assert "'updated'" in details


def test_a_fair_variant_breaks_no_rule():
    spec = linear_spec([[0.2, 0.4], [0.3, -0.5]], [[0.7], [-0.6]], [2, 3], [4])
    assert ws.reasons(spec) == []


# ----------------------------------------------------------------------------- reproducible, different
def test_same_seed_same_variant_and_students_differ():
    a = [ws.variant("mazur", 7, i).raw for i in range(1, 6)]
    b = [ws.variant("mazur", 7, i).raw for i in range(1, 6)]
    assert a == b
    numbers = {json.dumps([r["init"], r["data"]]) for r in a}
    assert len(numbers) == 5
    assert ws.variant("mazur", 8, 1).raw != a[0]


def test_same_seed_same_sheets(tmp_path):
    from chainrule.sheet import write_class

    write_class("seed", 3, 7, str(tmp_path / "a"), pdf="no")
    write_class("seed", 3, 7, str(tmp_path / "b"), pdf="no")
    files = sorted(os.path.relpath(os.path.join(r, f), tmp_path / "a")
                   for r, _, fs in os.walk(tmp_path / "a") for f in fs)
    assert "s03.html" in files and "s02-answers.toml" in files and os.path.join("key", "s01-key.json") in files
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_templates_with_too_many_samples_are_refused():
    from chainrule.errors import SpecError

    with pytest.raises(SpecError, match="iris.*67 parameters"):
        ws.variant("iris", 1, 1)
    with pytest.raises(SpecError, match="adam"):
        ws.variant("xor", 1, 1)


# ----------------------------------------------------------------------------- no undetectable mistake
def _shows(right, wrong):
    return any(not CLOSE(float(a), float(b)) for k in right for a, b in zip(np.ravel(wrong[k]), np.ravel(right[k])))


def test_1000_seed_variants_hide_no_classic_mistake():
    for index in range(1, 1001):
        spec = ws.variant("seed", 2026, index).spec
        blanks = seed_by_hand(spec)
        right = blanks()
        for mistake in ({"sign": -1.0}, {"two": 2.0}, {"updated": True}, {"ascent": True}):
            assert _shows(right, blanks(**mistake)), (index, mistake)
        # the seed's typo: another neuron's δ, or another input, in ∂L/∂w'_ij; another z in ∂L/∂w''_j
        d, x, z = right["delta"], np.asarray(spec.x[0]), right["z"]
        g1 = right["g1"].reshape(2, 3)
        for i in range(2):
            for j in range(3):
                assert all(not CLOSE(d[j2] * x[i], g1[i, j]) for j2 in range(3) if j2 != j), (index, i, j)
                assert not CLOSE(d[j] * x[1 - i], g1[i, j]), (index, i, j)
        for j in range(3):
            assert all(not CLOSE(right["dL"][0] * z[j2], right["g2"][j]) for j2 in range(3) if j2 != j), index


def test_the_grader_sees_every_mistake_on_sigmoid_variants(tmp_path):
    # for a few Mazur-shaped variants: each classic mistake's answers, handed to the public grader,
    # are never all right
    for index in range(1, 5):
        v = ws.variant("mazur", 3, index)
        keys = set(ws.blank_keys(v.spec))
        for knob, world in ws.mistake_worlds(v.spec).items():
            answers = _answers_from_paths({k: world[k] for k in keys if k in world})
            path = tmp_path / f"{index}-{knob}.json"
            path.write_text(json.dumps(answers))
            assert not grade(v.spec, str(path)).all_right, (index, knob)


def _answers_from_paths(flat):
    """{"grad.W1[0][1]": v, ...} -> the nested answer-file shape."""
    import re

    out = {}
    for key, value in flat.items():
        parts = re.findall(r"[A-Za-z_0-9]+|\[\d+\]", key)
        node, path = out, []
        for p in parts:
            path.append(int(p[1:-1]) if p.startswith("[") else p)
        if path[0] == "forward":
            layer, part, rest = path[1], path[2], path[3:]
            fw = out.setdefault("forward", [])
            while len(fw) <= layer:
                fw.append({"layer": len(fw) + 1})
            node, path = fw[layer], [part] + rest
        for k, nxt in zip(path, path[1:]):
            if isinstance(node, dict):
                node = node.setdefault(k, [] if isinstance(nxt, int) else {})
            else:
                while len(node) <= k:
                    node.append([] if isinstance(nxt, int) else "?")
                if node[k] == "?":
                    node[k] = []
                node = node[k]
        last = path[-1]
        if isinstance(node, dict):
            node[last] = value
        else:
            while len(node) <= last:
                node.append("?")
            node[last] = value
    return out


# ----------------------------------------------------------------------------- the files
def test_cli_writes_sheets_and_the_template_is_in_the_graders_format(tmp_path, capsys):
    out = tmp_path / "sheets"
    assert main(["worksheet", "mazur", "--variants", "2", "--seed", "7", "--pdf", "no", "--out", str(out)]) == 0
    record = json.loads((out / "class.json").read_text())
    assert [s["id"] for s in record["students"]] == ["s01", "s02"]
    html = (out / "s01.html").read_text()
    assert "data:image/png;base64," in html and "<math" in html and "src=\"http" not in html and "href=\"http" not in html
    template = parse_config((out / "s01-answers.toml").read_text(), "s01-answers.toml", as_json=False)
    assert template["spec"] == "s01" and template["loss"] == "?"
    # the key is a valid answer file, and all right; the template filled from the key is all right too
    key = json.loads((out / "key" / "s01-key.json").read_text())
    assert grade(str(out / "s01.spec.toml"), str(out / "key" / "s01-key.json")).all_right
    step = key["steps"][0]
    filled = (out / "s01-answers.toml").read_text().replace('loss = "?"', f"loss = {step['loss']!r}")
    (tmp_path / "filled.toml").write_text(filled)
    report = grade(str(out / "s01.spec.toml"), str(tmp_path / "filled.toml"))
    assert [m.key for m in report.marks] == ["loss"] and report.all_right


def test_zh_sheet_uses_the_seed_terms(tmp_path):
    from chainrule.sheet import worksheet_html

    html = worksheet_html(ws.variant("seed", 1, 1), lang="zh")
    assert "反向传播练习" in html and "前向传播" in html and 'lang="zh-CN"' in html


def test_blanks_follow_the_derivation_and_the_sheet_lists_them_in_order():
    from chainrule.sheet import worksheet_html

    v = ws.variant("seed", 7, 1)
    keys = ws.blank_keys(v.spec)
    # forward first, then the loss, ∂L/∂y', the layer-2 gradients before layer 1's, the update last
    first = {k: keys.index(next(x for x in keys if x.startswith(k)))
             for k in ("forward", "loss", "dL_doutput", "grad.W2", "grad.W1", "params_after")}
    assert first["forward"] < first["loss"] < first["dL_doutput"] < first["grad.W2"] < first["grad.W1"] \
        < first["params_after"]
    html = worksheet_html(v)
    positions = [html.index(f"<code>{k}</code>") for k in keys]
    assert positions == sorted(positions) and html.count('<span class="line">') == len(keys) + 1  # + the name line


@pytest.mark.skipif(__import__("chainrule.sheet", fromlist=["find_chromium"]).find_chromium() is None,
                    reason="PDF needs Chromium")
def test_pdf_is_printed_with_chromium(tmp_path):
    from chainrule.sheet import write_class

    write_class("mazur", 1, 3, str(tmp_path), lang="zh", pdf="yes")
    data = (tmp_path / "s01.pdf").read_bytes()
    assert data[:5] == b"%PDF-" and data.count(b"/Type /Page") >= 1


def test_the_seeds_typo_is_caught_on_every_variant_sheet(tmp_path):
    # ∂L/∂w'_13 written with δ_1 (the post's ∂z_1/∂w'_13): on the seed itself it is right by luck;
    # on a variant the grader must mark it wrong and name the wrong neuron
    for index in range(1, 6):
        spec = ws.variant("seed", 99, index).spec
        right = seed_by_hand(spec)()
        typo = right["delta"][0] * float(spec.x[0][0])
        path = tmp_path / f"{index}.json"
        path.write_text(json.dumps({"grad": {"W1": [["?", "?", typo], ["?", "?", "?"]]}}))
        (mark,) = grade(spec, str(path)).marks
        assert mark.status == "wrong" and "wrong neuron" in mark.cause, (index, mark)
