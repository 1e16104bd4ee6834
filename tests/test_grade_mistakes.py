"""The grader's classic mistakes on Mazur's example and the seed (issue 12).

Every expected number is Mazur's published intermediate value ("A Step by Step Backpropagation
Example") or hand algebra on it / on the seed, never chainrule's output:
  δ_o1 = ∂E/∂net_o1 = 0.74136507 × 0.186815602 = 0.138498562
  δ_o2 = ∂E/∂net_o2 = −0.217071535 × 0.175510053 = −0.038098236
  ∂E_o1/∂out_h1 = δ_o1·w5 = 0.055399425,  ∂E_o2/∂out_h1 = δ_o2·w7 = −0.019049119
  ∂E_total/∂out_h1 = 0.036350306,  ∂out_h1/∂net_h1 = 0.241300709,  i1 = 0.05
  ∂E/∂w1 = 0.036350306 × 0.241300709 × 0.05 = 0.000438568;  ∂E/∂w5 = 0.082167041
Mazur's w1 (i1 → h1) is chainrule's W1[0][0]; w2 (i2 → h1) is W1[1][0]; w3 (i1 → h2) W1[0][1].
"""

from __future__ import annotations

import pytest

from chainrule.cli import main
from chainrule.grade import grade

D_O1, D_O2 = 0.74136507 * 0.186815602, -0.217071535 * 0.175510053
SIG_H1, I1 = 0.241300709, 0.05


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def mark(spec, tmp_path, text, key, **kw):
    return {m.key: m for m in grade(spec, write(tmp_path, "a.toml", text), **kw).marks}[key]


def test_only_the_path_through_o1(tmp_path):
    only_o1 = 0.055399425 * SIG_H1 * I1            # ∂E_o1/∂out_h1 alone: 0.000668...
    m = mark("mazur", tmp_path, f"[grad]\nW1 = [[{only_o1!r}, '?'], ['?', '?']]\n", "grad.W1[0][0]")
    assert m.status == "wrong" and m.correct == pytest.approx(0.000438568, rel=1e-6)
    assert "only the path through y'_1" in m.cause and "outgoing weight" not in m.cause


def test_forgot_the_outgoing_weight_in_delta_h(tmp_path):
    no_w = (D_O1 + D_O2) * SIG_H1 * I1               # δ_h1 = (δ_o1 + δ_o2)·σ'(net_h1), no w5, w7
    m = mark("mazur", tmp_path, f"[grad]\nW1 = [[{no_w!r}, '?'], ['?', '?']]\n", "grad.W1[0][0]")
    assert m.status == "wrong" and "outgoing weight forgotten in δ of layer 1" in m.cause


def test_missing_activation_derivative_of_the_hidden_layer(tmp_path):
    no_sigma = 0.036350306 * I1                      # ∂E_total/∂out_h1 × i1, without ∂out_h1/∂net_h1
    m = mark("mazur", tmp_path, f"[grad]\nW1 = [[{no_sigma!r}, '?'], ['?', '?']]\n", "grad.W1[0][0]")
    assert m.status == "wrong" and "σ'(z) factor of layer 1" in m.cause


def test_a_transposed_matrix(tmp_path):
    # Mazur's updated w1..w4 written row by row per hidden neuron ((out, in), like nn.Linear.weight):
    # [[w1+, w2+], [w3+, w4+]] where chainrule's (from, to) is [[w1+, w3+], [w2+, w4+]].
    text = "[params_after]\nW1 = [[0.149780716, 0.19956143], [0.24975114, 0.29950229]]\n"
    report = grade("mazur", write(tmp_path, "t.toml", text))
    marks = {m.key: m for m in report.marks}
    assert marks["params_after.W1[0][0]"].status == "right" and marks["params_after.W1[1][1]"].status == "right"
    for key in ("params_after.W1[0][1]", "params_after.W1[1][0]"):
        assert marks[key].status == "wrong" and "looks transposed" in marks[key].cause
        assert "(from, to)" in marks[key].cause


def test_a_transposed_non_square_matrix_is_named_in_the_error(tmp_path, capsys):
    # The seed's W1 is 2x3 in (from, to) order; a 3x2 answer is PyTorch's (out, in).
    sheet = write(tmp_path, "t.toml", "[grad]\nW1 = [[4800, 9600], [4800, 9600], [4800, 9600]]\n")
    assert main(["grade", "seed", sheet]) == 2
    assert "looks transposed" in capsys.readouterr().err


def test_rounded_too_early(tmp_path):
    m = mark("mazur", tmp_path, "[grad]\nW2 = [[0.082, '?'], ['?', '?']]\n", "grad.W2[0][0]")
    assert m.status == "wrong" and m.correct == pytest.approx(0.082167041, rel=1e-7)
    assert "right to 2 significant digits" in m.cause and "keep 4" in m.cause


def test_update_sign_with_right_gradients_does_not_blame_dL_dy(tmp_path):
    # ∂L/∂w''_j1 = 120 × 60 = 7200 (right); w'' = 1 + 1e-5 × 7200 = 1.072 (ascent; right: 0.928)
    text = "dL_doutput = 120\n[grad]\nW2 = [[7200], [7200], [7200]]\n[params_after]\nW2 = [[1.072], [1.072], [1.072]]\n"
    m = mark("seed", tmp_path, text, "params_after.W2[0][0]")
    assert m.status == "wrong" and "wrong way" in m.cause and "sign error" not in m.cause


def test_the_seed_cannot_tell_a_forgotten_w2_from_the_right_method(tmp_path, capsys):
    # Every w''_j1 = 1: δ_j = ∂L/∂y'·w''_j1 = ∂L/∂y', so leaving w'' out gives the same 4800, 9600.
    sheet = write(tmp_path, "s.toml", "[grad]\nW1 = [[4800, 4800, 4800], [9600, 9600, 9600]]\n")
    report = grade("seed", sheet)
    assert report.all_right
    assert any("cannot tell" in n and "w''" in n and "every w'' is 1" in n for n in report.cannot_tell)
    # ... and all hidden δ are equal, so the seed's own typo (∂z_1/∂w'_13) is invisible too
    assert any("wrong neuron of layer 1" in n for n in report.cannot_tell)
    assert grade("mazur", write(tmp_path, "m.toml", "loss = 0.298371109\n")).cannot_tell == []
    assert main(["grade", "seed", sheet]) == 0
    assert "cannot tell" in capsys.readouterr().out
    assert main(["derive", "seed", "--format", "md"]) == 0
    assert "Note for teachers" in capsys.readouterr().out


def test_carried_errors_are_one_summary_line_per_root(tmp_path, capsys):
    sheet = write(tmp_path, "sign.toml", """
dL_doutput = -120
[grad]
W2 = [[-7200], [-7200], [-7200]]
W1 = [[-4800, -4800, -4800], [-9600, -9600, -9600]]
[params_after]
W2 = [[1.072], [1.072], [1.072]]
""")
    assert main(["grade", "seed", sheet]) == 1
    out = capsys.readouterr().out
    assert out.count("↳") == 1
    assert "12 answer(s) follow from ∂L/∂y' (dL_doutput[0])" in out


def test_an_output_answer_gets_a_real_derivation_line(tmp_path):
    # step 2 of the seed: y' = 3 × (0.452·40 + 0.404·80) × 0.928 = 140.3136; 140 is wrong at 3 digits? no:
    # 140 agrees to 3 significant digits, so answer 150.
    text = "[[steps]]\nstep = 2\noutput = [150]\n"
    m = mark("seed", tmp_path, text, "output[0]")
    assert m.status == "wrong" and m.correct == pytest.approx(140.3136, rel=1e-12)
    assert m.derivation.startswith("y'") and "×" in m.derivation and "140.3136" not in m.derivation[:3]


def test_grade_in_chinese(tmp_path, capsys):
    sheet = write(tmp_path, "half.toml", "loss = 14400\ndL_doutput = 240\n[grad]\nW2 = [[14400], [14400], [14400]]\n")
    assert main(["grade", "seed", sheet, "--lang", "zh"]) == 1
    out = capsys.readouterr().out
    assert "漏掉了损失函数的 ½" in out and "连带" in out and "批改答案" in out
    assert "likely cause" not in out and "carried" not in out


def test_a_key_after_a_forward_table_explains_toml_scoping(tmp_path, capsys):
    sheet = write(tmp_path, "scope.toml", "[[forward]]\nlayer = 1\nz = [60, 60, 60]\nloss = 7200\n")
    assert main(["grade", "seed", sheet]) == 2
    err = capsys.readouterr().err
    assert "forward[0].loss" in err and "a table runs from its header to the next header" in err
    sheet = write(tmp_path, "scope2.toml", "[grad]\nW2 = [[7200], [7200], [7200]]\nloss = 7200\n")
    assert main(["grade", "seed", sheet]) == 2
    assert "move 'loss = ...' above" in capsys.readouterr().err


THREE_OUT = """
name = "three_out"
layers = [1, 1, 3]
activations = ["none", "none"]
loss = "half_sse"
lr = 0.1
[init]
weights = [1.0, [[1.0, 2.0, 3.0]]]
[data]
x = [1]
y = [0, 0, 0]
"""


@pytest.mark.parametrize("answer, needle", [
    (5.0, "the path through y'_3 left out"),      # δ_h = 1·1 + 2·2 (no 3·3)
    (9.0, "only the path through y'_3"),          # δ_h = 3·3 alone
    (6.0, "outgoing weight forgotten"),           # δ_h = 1 + 2 + 3, no w''
])
def test_a_missing_path_of_several(tmp_path, answer, needle):
    # h = 1·x = 1; y'_k = w''_1k·h = 1, 2, 3; ∂L/∂y'_k = y'_k − 0; δ_h = Σ_k ∂L/∂y'_k·w''_1k = 1 + 4 + 9 = 14;
    # ∂L/∂w'_11 = δ_h·x = 14.
    spec = write(tmp_path, "three.toml", THREE_OUT)
    m = mark(spec, tmp_path, f"[grad]\nW1 = [[{answer}]]\n", "grad.W1[0][0]")
    assert m.status == "wrong" and m.correct == pytest.approx(14.0, rel=1e-12)
    assert needle in m.cause


def test_derive_json_carries_the_teacher_note():
    import chainrule as cr

    assert "every w'' is 1" in cr.derive("seed").to_dict()["teacher_note"]
    assert cr.derive("mazur").to_dict()["teacher_note"] == ""


def test_a_frozen_parameter_has_no_gradient_to_answer(tmp_path, capsys):
    sheet = write(tmp_path, "frozen.toml", "[grad]\nb1 = [0.1]\n")
    assert main(["grade", "mazur", sheet]) == 2
    assert "b1 is frozen" in capsys.readouterr().err
