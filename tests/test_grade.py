"""`chainrule grade`: marks, causes of classic mistakes, carried errors, malformed answer files.

Every expected number is hand algebra (worked in the comments) or from Mazur's published example,
never chainrule's output.
"""

from __future__ import annotations

import json

import pytest

from chainrule.cli import main
from chainrule.grade import grade

# A seed-like 2-3-1 linear network whose three hidden units have *different* outgoing weights, so the
# seed's typo (∂z_1/∂w'_13: neuron 1's factor in neuron 3's gradient) changes the number.
#   z_j = 0.5·1 + 0.5·2 = 1.5 for every j;  y' = 1.5·(1 + 2 + 3) = 9;  L = ½(10 − 9)² = 0.5
#   ∂L/∂y' = 9 − 10 = −1;  ∂L/∂w''_j1 = −1 × 1.5 = −1.5
#   ∂L/∂w'_ij = −1 × w''_j1 × x_i:  row 1 (x_1 = 1): −1, −2, −3;  row 2 (x_2 = 2): −2, −4, −6
#   w' ← 0.5 − 0.1·∂L/∂w':  row 1: 0.6, 0.7, 0.8;  row 2: 0.7, 0.9, 1.1
UNEQUAL = """
name = "unequal"
layers = [2, 3, 1]
activations = ["none", "none"]
loss = "half_sse"
lr = 0.1
[init]
weights = [0.5, [[1.0], [2.0], [3.0]]]
[data]
x = [1, 2]
y = [10]
"""

# The seed document's own numbers (its typo does not change them: all hidden units are equal).
SEED_SHEET = """
loss = 7200
dL_doutput = 120
[[forward]]
layer = 1
z = [60, 60, 60]
[[forward]]
layer = 2
a = [180]
[grad]
W1 = [[4800, 4800, 4800], [9600, 9600, 9600]]
W2 = [[7200], [7200], [7200]]
[params_after]
W1 = [[0.452, 0.452, 0.452], [0.404, 0.404, 0.404]]
W2 = [[0.928], [0.928], [0.928]]
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def by_key(report):
    return {m.key: m for m in report.marks}


def test_the_seed_sheet_is_all_right_and_exits_0(tmp_path, capsys):
    path = write(tmp_path, "seed.toml", SEED_SHEET)
    report = grade("seed", path)
    assert len(report.marks) == 1 + 1 + 3 + 1 + 6 + 3 + 6 + 3
    assert report.all_right
    assert main(["grade", "seed", path]) == 0
    assert "0 wrong" in capsys.readouterr().out


def test_the_seeds_typo_is_wrong_at_exactly_that_entry_with_its_cause(tmp_path, capsys):
    spec = write(tmp_path, "unequal.toml", UNEQUAL)
    sheet = write(tmp_path, "typo.toml", """
loss = 0.5
dL_doutput = -1
[grad]
W2 = [[-1.5], [-1.5], [-1.5]]
W1 = [[-1, -2, -1], [-2, -4, -6]]   # ∂L/∂w'_13 with neuron 1's factor: −1 × w''_11 × x_1 = −1
[params_after]
W1 = [[0.6, 0.7, 0.6], [0.7, 0.9, 1.1]]   # w'_13 = 0.5 − 0.1 × (−1) = 0.6, from the wrong gradient
""")
    report = grade(spec, sheet)
    marks = by_key(report)
    wrong = [m.key for m in report.marks if m.status == "wrong"]
    assert wrong == ["grad.W1[0][2]"]
    assert marks["grad.W1[0][2]"].correct == pytest.approx(-3)
    assert "wrong neuron" in marks["grad.W1[0][2]"].cause
    assert marks["params_after.W1[0][2]"].status == "carried"
    assert marks["params_after.W1[0][2]"].correct == pytest.approx(0.8)
    assert all(m.status == "right" for k, m in marks.items() if k not in ("grad.W1[0][2]", "params_after.W1[0][2]"))
    assert main(["grade", spec, sheet]) == 1
    out = capsys.readouterr().out
    assert "wrong neuron" in out and "first mistake: ∂L/∂w'_13" in out


def test_a_sign_error_in_dL_dy_makes_the_downstream_gradients_carried_errors(tmp_path):
    # y − y' = −120 instead of y' − y = 120; then every gradient and update follows from −120.
    sheet = write(tmp_path, "sign.toml", """
dL_doutput = -120
[grad]
W2 = [[-7200], [-7200], [-7200]]
W1 = [[-4800, -4800, -4800], [-9600, -9600, -9600]]
[params_after]
W2 = [[1.072], [1.072], [1.072]]   # 1 − 1e-5 × (−7200)
""")
    marks = by_key(grade("seed", sheet))
    assert marks["dL_doutput[0]"].status == "wrong" and "sign error" in marks["dL_doutput[0]"].cause
    downstream = [m for k, m in marks.items() if k != "dL_doutput[0]"]
    assert len(downstream) == 12
    assert all(m.status == "carried" for m in downstream)
    assert all(any("dL_doutput[0]" in c for c in m.carried_from) for m in downstream if m.key.startswith("grad"))


def test_the_half_of_the_loss_forgotten(tmp_path):
    # L = (60 − 180)² = 14400 and ∂L/∂y' = 2 × 120 = 240: both twice the right value.
    sheet = write(tmp_path, "half.toml", "loss = 14400\ndL_doutput = 240\n[grad]\nW2 = [[14400], [14400], [14400]]\n")
    marks = by_key(grade("seed", sheet))
    for key in ("loss", "dL_doutput[0]"):
        assert marks[key].status == "wrong" and "½" in marks[key].cause
    assert marks["grad.W2[0][0]"].status == "carried"


def test_a_sign_error_without_dL_dy_on_the_sheet_is_named_at_the_gradient(tmp_path):
    sheet = write(tmp_path, "sign_only_grad.toml", "[grad]\nW2 = [[-7200], [7200], [7200]]\n")
    marks = by_key(grade("seed", sheet))
    assert marks["grad.W2[0][0]"].status == "wrong" and "sign error" in marks["grad.W2[0][0]"].cause
    assert marks["grad.W2[1][0]"].status == "right"


def test_a_missing_activation_derivative_mazur(tmp_path):
    # Mazur's example: ∂E/∂w5 = (out_o1 − target_o1)·out_o1(1 − out_o1)·out_h1 = 0.082167041 (right).
    # Without σ'(z) of the output layer: (0.75136507 − 0.01) × 0.593269992 = 0.43983 (wrong).
    sheet = write(tmp_path, "mazur.toml", "[grad]\nW2 = [[0.082167041, '?'], ['?', '?']]\n")
    assert by_key(grade("mazur", sheet))["grad.W2[0][0]"].status == "right"
    sheet = write(tmp_path, "mazur2.toml", "[grad]\nW2 = [[0.43983, '?'], ['?', '?']]\n")
    m = by_key(grade("mazur", sheet))["grad.W2[0][0]"]
    assert m.status == "wrong" and "activation derivative" in m.cause
    assert m.correct == pytest.approx(0.082167041, rel=1e-7)


def test_update_with_already_updated_weights(tmp_path):
    # ∂L/∂w'_11 with w''_11 already updated to 0.928: 120 × 0.928 × 40 = 4454.4 (right: 4800).
    sheet = write(tmp_path, "sequential.toml", "[grad]\nW1 = [[4454.4, '?', '?'], ['?', '?', '?']]\n")
    m = by_key(grade("seed", sheet))["grad.W1[0][0]"]
    assert m.status == "wrong" and "already-updated" in m.cause


def test_significant_digits_and_rtol(tmp_path):
    sheet = write(tmp_path, "round.toml", "[params_after]\nW2 = [[0.93], [0.928], [0.9]]\n")
    marks = by_key(grade("seed", sheet, sig_digits=3))
    assert [marks[f"params_after.W2[{i}][0]"].status for i in range(3)] == ["wrong", "right", "wrong"]
    marks = by_key(grade("seed", sheet, sig_digits=2))
    assert [marks[f"params_after.W2[{i}][0]"].status for i in range(3)] == ["right", "right", "wrong"]
    marks = by_key(grade("seed", sheet, sig_digits=None, rtol=0.1))
    assert all(m.status == "right" for m in marks.values())


def test_later_steps_and_json_answers(tmp_path, capsys):
    # Step 2 of the seed: z = 0.452·40 + 0.404·80 = 50.4, y' = 3 × 50.4 × 0.928 = 140.3136.
    sheet = write(tmp_path, "steps.json", json.dumps({"steps": [
        {"step": 1, "loss": 7200},
        {"step": 2, "output": [140.3136], "loss": 0.5 * (60 - 140.3136) ** 2},
    ]}))
    assert main(["grade", "seed", sheet, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["all_right"] and data["counts"] == {"right": 3, "wrong": 0, "carried": 0}
    assert {(m["step"], m["key"]) for m in data["marks"]} == {(1, "loss"), (2, "output[0]"), (2, "loss")}


def test_wrong_update_in_step_1_carries_into_step_2(tmp_path):
    # Step 1 answered with w'' = 1.072 (gradient ascent); step 2's y' computed from those weights.
    # z = 0.452·40 + 0.404·80 = 50.4 (the w' are right), y' = 3 × 50.4 × 1.072 = 162.0864.
    sheet = write(tmp_path, "carry.toml", """
[[steps]]
step = 1
[steps.params_after]
W1 = [[0.452, 0.452, 0.452], [0.404, 0.404, 0.404]]
W2 = [[1.072], [1.072], [1.072]]
[[steps]]
step = 2
output = [162.0864]
""")
    marks = {(m.step, m.key): m for m in grade("seed", sheet).marks}
    assert marks[(1, "params_after.W2[0][0]")].status == "wrong"
    assert "wrong way" in marks[(1, "params_after.W2[0][0]")].cause
    assert marks[(2, "output[0]")].status == "carried"


def test_markdown_output(tmp_path, capsys):
    sheet = write(tmp_path, "md.toml", "loss = 7000\n")
    assert main(["grade", "seed", sheet, "--format", "md"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("## Grade") and "| ✗ |" in out and "7200" in out


@pytest.mark.parametrize("text, needle", [
    ("loss = 'abc'\n", "'loss'"),
    ("lost = 7200\n", "'lost'"),
    ("[grad]\nW1 = [[1, 2], [3, 4]]\n", "'grad.W1"),
    ("[grad]\nW7 = [[1]]\n", "'grad.W7'"),
    ("[[forward]]\nlayer = 5\nz = [1]\n", "forward[0].layer"),
    ("loss = [1, 2\n", "not valid TOML"),
    ("# nothing answered\n", "no answers"),
])
def test_malformed_answer_files_exit_2_naming_file_and_key(tmp_path, capsys, text, needle):
    sheet = write(tmp_path, "bad.toml", text)
    assert main(["grade", "seed", sheet]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "bad.toml" in err and needle in err, err


def test_missing_answer_file_exits_2(tmp_path, capsys):
    assert main(["grade", "seed", str(tmp_path / "nope.toml")]) == 2
    assert "nope.toml" in capsys.readouterr().err


def test_cross_entropy_has_no_dL_doutput(tmp_path, capsys):
    sheet = write(tmp_path, "ce.toml", "dL_doutput = [[0.1, 0.2, 0.3], [0.1, 0.2, 0.3]]\n")
    assert main(["grade", "softmax", sheet]) == 2
    assert "dL_doutput" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["seed", "mazur", "softmax", "relu"])
def test_derive_json_output_is_a_valid_all_right_answer_file(tmp_path, name):
    out = tmp_path / f"{name}.json"
    assert main(["derive", name, "--format", "json", "--out", str(out)]) == 0
    report = grade(name, str(out))
    assert report.all_right and len(report.marks) > 10


# ----------------------------------------------------------------------------- the forgotten 1/N
def _relu_by_hand():
    """The relu spec's first step worked from its file: 2-3-1, ReLU hidden layer, MSE over 3 samples.

    W1 (from, to) = [[0.5, −0.3, −0.8], [0.2, 0.4, −0.6]], b1 = [0.1, 0, −1], W2 = [0.7, −0.5, 0.9],
    b2 = 0.05; L = (1/3) Σ_s (y'_s − y_s)², ∂L/∂y'_s = 2(y'_s − y_s)/3, ∂L/∂b2 = Σ_s ∂L/∂y'_s,
    ∂L/∂w''_j = Σ_s ∂L/∂y'_s · a_sj.
    """
    W1, b1 = [[0.5, -0.3, -0.8], [0.2, 0.4, -0.6]], [0.1, 0.0, -1.0]
    W2, b2 = [0.7, -0.5, 0.9], 0.05
    xs, ys = [[1.0, 2.0], [0.5, -1.0], [-1.5, 0.5]], [1.0, 0.0, -0.5]
    acts = [[max(0.0, x[0] * W1[0][j] + x[1] * W1[1][j] + b1[j]) for j in range(3)] for x in xs]
    preds = [sum(a[j] * W2[j] for j in range(3)) + b2 for a in acts]
    errs = [p - y for p, y in zip(preds, ys)]
    return acts, errs


def test_the_forgotten_1_over_n_of_mse_is_named_and_its_gradients_carried(tmp_path):
    acts, errs = _relu_by_hand()
    # Forgetting 1/N = 1/3: the sum where the mean belongs; every gradient three times too large.
    loss_sum = sum(e * e for e in errs)
    d_sum = [2 * e for e in errs]
    grad_w2 = [sum(d * a[j] for d, a in zip(d_sum, acts)) for j in range(3)]
    sheet = write(tmp_path, "no_mean.toml",
                  f"loss = {loss_sum!r}\ndL_doutput = {[[d] for d in d_sum]!r}\n"
                  f"[grad]\nb2 = [{sum(d_sum)!r}]\nW2 = {[[g] for g in grad_w2]!r}\n")
    marks = by_key(grade("relu", sheet))
    assert marks["loss"].status == "wrong" and "1/N" in marks["loss"].cause and "N = 3" in marks["loss"].cause
    assert marks["loss"].correct == pytest.approx(loss_sum / 3, rel=1e-12)
    for s in range(3):
        m = marks[f"dL_doutput[{s}][0]"]
        assert m.status == "wrong" and "1/N" in m.cause
        assert m.correct == pytest.approx(d_sum[s] / 3, rel=1e-12)
    assert marks["grad.b2[0]"].status == "carried"
    assert marks["grad.b2[0]"].correct == pytest.approx(sum(d_sum) / 3, rel=1e-12)
    # the third hidden unit is dead (a = 0 for every sample): its gradient is 0 either way, right
    assert [marks[f"grad.W2[{j}][0]"].status for j in range(3)] == ["carried", "carried", "right"]


def test_the_forgotten_1_over_n_named_at_a_gradient_answered_alone(tmp_path):
    acts, errs = _relu_by_hand()
    grad_w2_sum = sum(2 * e * acts[s][0] for s, e in enumerate(errs))     # no /3
    sheet = write(tmp_path, "no_mean_grad.toml", f"[grad]\nW2 = [[{grad_w2_sum!r}], ['?'], ['?']]\n")
    m = by_key(grade("relu", sheet))["grad.W2[0][0]"]
    assert m.status == "wrong" and "1/N" in m.cause
    assert m.correct == pytest.approx(grad_w2_sum / 3, rel=1e-12)


def test_the_1_over_n_is_not_suggested_where_n_is_1(tmp_path):
    # The seed: one sample, one output, half_sse: no mean to forget; ∂L/∂y' = 3 × 120 is unexplained.
    sheet = write(tmp_path, "seed_x3.toml", "dL_doutput = 360\n")
    m = by_key(grade("seed", sheet))["dL_doutput[0]"]
    assert m.status == "wrong" and (m.cause is None or "1/N" not in m.cause)


def test_the_forgotten_1_over_n_of_a_cross_entropy_over_a_batch(tmp_path):
    import math

    # The softmax spec by hand: 2-3-3, tanh hidden layer, softmax cross-entropy averaged over 2 samples,
    # so ∂L/∂z_out = (softmax(z_out) − onehot(y)) / 2; the learner wrote softmax(z_out) − onehot(y).
    W1, b1 = [[0.1, -0.2, 0.3], [0.4, 0.1, -0.5]], [0.0, 0.0, 0.0]
    W2, b2 = [[0.2, -0.1, 0.05], [-0.3, 0.25, 0.1], [0.15, 0.05, -0.2]], [0.1, 0.0, -0.1]
    xs, labels = [[1.0, 0.5], [-0.5, 1.5]], [2, 0]
    rows = []
    for x, label in zip(xs, labels):
        a = [math.tanh(x[0] * W1[0][j] + x[1] * W1[1][j] + b1[j]) for j in range(3)]
        z = [sum(a[i] * W2[i][k] for i in range(3)) + b2[k] for k in range(3)]
        e = [math.exp(v) for v in z]
        rows.append([e[k] / sum(e) - (1.0 if k == label else 0.0) for k in range(3)])
    blank = [["?"] * 3, ["?"] * 3]
    sheet = write(tmp_path, "ce_no_mean.json", json.dumps({"delta": [blank, rows]}))
    marks = by_key(grade("softmax", sheet))
    for s in range(2):
        for k in range(3):
            m = marks[f"delta[1][{s}][{k}]"]
            assert m.status == "wrong" and "1/N" in m.cause and "N = 2" in m.cause
            assert m.correct == pytest.approx(rows[s][k] / 2, rel=1e-12)


def test_a_halved_bce_loss_is_not_blamed_on_the_square_s_factor_2(tmp_path):
    # One sigmoid unit, w = 0: p = σ(0) = ½, y = 1, L = −ln ½ = ln 2. BCE has no square whose 2 could be
    # dropped, so ½·ln 2 must not be explained as "the derivative of (y' − y)² is 2(y' − y)".
    spec = write(tmp_path, "bce1.toml", 'name = "bce1"\nlayers = [1, 1]\nactivations = ["sigmoid"]\n'
                 'loss = "bce"\nbias = false\nlr = 0.1\n[init]\nweights = [[[0.0]]]\n[data]\nx = [1.0]\ny = [1.0]\n')
    import math

    sheet = write(tmp_path, "half.toml", f"loss = {math.log(2) / 2!r}\n")
    m = by_key(grade(spec, sheet))["loss"]
    assert m.correct == pytest.approx(math.log(2), rel=1e-12)
    assert m.status == "wrong" and (m.cause is None or "(y' − y)²" not in m.cause)


def test_the_first_mistake_follows_backpropagation_order(tmp_path, capsys):
    # Two independent mistakes: ∂L/∂w''_11 (right: 120 × 60 = 7200) and ∂L/∂w'_11 (right: 120 × 1 × 40
    # = 4800). Backpropagation reaches w'' before w', so the report names ∂L/∂w''_11 first.
    sheet = write(tmp_path, "two.toml", "[grad]\nW1 = [[4000, '?', '?'], ['?', '?', '?']]\nW2 = [[7000], ['?'], ['?']]\n")
    report = grade("seed", sheet)
    assert [m.key for m in report.marks if m.status == "wrong"] == ["grad.W2[0][0]", "grad.W1[0][0]"]
    assert main(["grade", "seed", sheet]) == 1
    assert "first mistake: ∂L/∂w''_11 (grad.W2[0][0], step 1)" in capsys.readouterr().out


def test_a_sign_error_then_already_updated_weights_names_both_in_order(tmp_path, capsys):
    # ∂L/∂y' = −120 (sign error); ∂L/∂w'' = −120 × 60 = −7200 and w'' = 1 − 1e-5 × (−7200) = 1.072
    # follow from it (carried); then ∂L/∂w'_11 with the updated w'': −120 × 1.072 × 40 = −5145.6, a
    # second, real mistake.
    sheet = write(tmp_path, "two_mistakes.toml", """
dL_doutput = -120
[grad]
W2 = [[-7200], [-7200], [-7200]]
W1 = [[-5145.6, '?', '?'], ['?', '?', '?']]
[params_after]
W2 = [[1.072], [1.072], [1.072]]
""")
    marks = by_key(grade("seed", sheet))
    assert marks["dL_doutput[0]"].status == "wrong" and "sign error" in marks["dL_doutput[0]"].cause
    assert all(marks[f"grad.W2[{j}][0]"].status == "carried" for j in range(3))
    assert all(marks[f"params_after.W2[{j}][0]"].status == "carried" for j in range(3))
    assert marks["grad.W1[0][0]"].status == "wrong" and "already-updated" in marks["grad.W1[0][0]"].cause
    assert main(["grade", "seed", sheet]) == 1
    assert "first mistake: ∂L/∂y' (dL_doutput[0], step 1)" in capsys.readouterr().out


@pytest.mark.parametrize("which", ["answers", "spec"])
def test_a_folder_given_as_a_file_is_a_one_line_error_naming_it(tmp_path, capsys, which):
    folder = tmp_path / "answers.toml"
    folder.mkdir()
    sheet = write(tmp_path, "ok.toml", "loss = 7200\n")
    args = ["grade", "seed", str(folder)] if which == "answers" else ["grade", str(folder), sheet]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"chainrule grade: error: {folder}: is a folder, not a file"]
