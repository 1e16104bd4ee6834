"""chainrule grade on layered derivations (conv, conv-pool): answers worked by hand here, in plain Python
(no engine), each classic mistake planted and recognised, carried errors, cannot-tell notes, zh, bad files."""

from __future__ import annotations

import json
import re
import sys
import types
from importlib import resources

import numpy as np
import pytest
from test_zh import english_words

from chainrule.cli import main
from chainrule.grade import grade
from chainrule.grading import layered
from chainrule.grading.messages import MESSAGES, message
from chainrule.layered import load_layered_spec

# ----------------------------------------------------------------------------- the hand computation
X = [[1, 2, 0, 1], [0, 1, 3, 1], [2, 1, 0, 2], [1, 0, 1, 1]]          # the shipped conv spec
K = [[1, 0.5], [-1, 2]]
T = [[3, 6, 0], [0, 1, 7], [1, 2, 2]]
LR = 0.01
XP = [[1, 2, 0, 1, 3], [0, 1, 3, 1, 0], [2, 1, 0, 2, 1], [1, 0, 1, 1, 2], [0, 2, 1, 0, 1]]  # conv-pool
TP = [[6, 8], [3, 5]]


def correlate(a, k):
    """Valid correlation by hand: out_ij = Σ_ab k_ab·a_(i+a)(j+b)."""
    kh, kw = len(k), len(k[0])
    return [[sum(k[p][q] * a[i + p][j + q] for p in range(kh) for q in range(kw))
             for j in range(len(a[0]) - kw + 1)] for i in range(len(a) - kh + 1)]


def pad(a, n):
    w = len(a[0]) + 2 * n
    return [[0] * w for _ in range(n)] + [[0] * n + list(r) + [0] * n for r in a] + [[0] * w for _ in range(n)]


def rot180(a):
    return [list(reversed(r)) for r in reversed(a)]


def sub(a, b, s=1.0):
    return [[u - s * v for u, v in zip(ra, rb)] for ra, rb in zip(a, b)]


def scale(a, s):
    return [[s * v for v in r] for r in a]


# conv: every number below is worked on paper; the helpers only confirm the arithmetic
Y = [[4, 7, -0.5], [0.5, 1.5, 7.5], [1.5, 3, 2]]       # y_11 = 1×1 + 0.5×2 + (−1)×0 + 2×1 = 4, ...
DY = [[1, 1, -0.5], [0.5, 0.5, 0.5], [0.5, 1, 0]]      # y − t
LOSS = 2.125                                            # ½(1 + 1 + 0.25 + 0.25·4 + 1 + 0)
DK = [[7, 4.5], [1.5, 6]]                               # ∂L/∂k_11 = Σ ∂L/∂y_ab·x_ab = 1+2+0+0+0.5+1.5+1+1+0 = 7
DX = [[1, 1.5, 0, -0.25], [-0.5, 1.75, 3.25, -0.75], [0, 1.75, 1, 1], [-0.5, 0, 2, 0]]
K_AFTER = [[0.93, 0.455], [-1.015, 1.94]]               # k − 0.01·∂L/∂k


def test_hand_numbers_are_consistent():
    assert correlate(X, K) == Y
    assert sub(Y, T) == DY
    assert 0.5 * sum(v * v for r in DY for v in r) == LOSS
    assert correlate(X, DY) == DK
    assert correlate(pad(DY, 1), rot180(K)) == DX       # ∂L/∂x_12 = ∂L/∂y_12·k_11 + ∂L/∂y_11·k_12 = 1 + 0.5
    assert np.allclose(sub(K, DK, LR), K_AFTER)


# conv-pool
YP = [[4, 7, -0.5, 1.5], [0.5, 1.5, 7.5, 1], [1.5, 3, 2, 5.5], [5, 0.5, 0.5, 4]]
P = [[7, 7.5], [5, 5.5]]                                # winners y_12, y_23, y_41, y_34
DP = [[1, -0.5], [2, 0.5]]
DYP = [[0, 1, 0, 0], [0, 0, -0.5, 0], [0, 0, 0, 0.5], [2, 0, 0, 0]]
DKP = [[3.5, 0], [1.5, 7]]
LOSSP = 2.75


def test_hand_numbers_conv_pool():
    assert correlate(XP, K) == YP
    assert [[max(YP[2 * a + i][2 * c + j] for i in range(2) for j in range(2)) for c in range(2)]
            for a in range(2)] == P
    assert sub(P, TP) == DP
    assert correlate(XP, DYP) == DKP


# ----------------------------------------------------------------------------- helpers
def write(tmp_path, text, name="a.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def toml(**answers):
    return "".join(f"{k} = {json.dumps(v)}\n" for k, v in answers.items())


def graded(tmp_path, spec, lang="en", **answers):
    return grade(spec, write(tmp_path, toml(**answers)), lang=lang)


def cause(mistake, o="y", lang="en"):
    return message(lang, f"mistake.{mistake}", o=o)


# ----------------------------------------------------------------------------- all right
def test_fully_right_answers_pass(tmp_path, capsys):
    path = write(tmp_path, toml(y=Y, loss=LOSS, dL_dy=DY, dL_dk=DK, dL_dx=DX, k_after=K_AFTER))
    report = grade("conv", path)
    assert report.all_right and report.counts == {"right": 9 + 1 + 9 + 4 + 16 + 4, "wrong": 0, "carried": 0}
    assert main(["grade", "conv", path]) == 0
    assert "all 16 right" in capsys.readouterr().out


def test_fully_right_conv_pool_and_blank_cells(tmp_path):
    dyp = [[("?" if v == 0 else v) for v in r] for r in DYP]  # blanks are not graded
    report = graded(tmp_path, "conv-pool", y=YP, p=P, loss=LOSSP, dL_dp=DP, dL_dy=dyp, dL_dk=DKP)
    assert report.all_right and report.counts["right"] == 16 + 4 + 1 + 4 + 4 + 4


def test_derive_json_is_an_answer_file(tmp_path, capsys):
    main(["derive", "conv-pool", "--format", "json"])
    path = write(tmp_path, capsys.readouterr().out, "d.json")
    assert grade("conv-pool", path).all_right


# ----------------------------------------------------------------------------- the planted mistakes
def test_kernel_not_flipped(tmp_path):
    wrong = correlate(pad(DY, 1), K)          # ∂L/∂y correlated with k as it stands
    report = graded(tmp_path, "conv", dL_dy=DY, dL_dx=wrong)
    assert report.causes["dL_dx"] == cause("kernel_not_flipped")
    bad = [m for m in report.marks if m.status == "wrong"]
    assert bad and all(m.key == "dL_dx" and m.mistakes == ["kernel_not_flipped"] for m in bad)
    first = next(m for m in bad if m.index == (0, 1))    # the cell, its correct value and its written line
    assert (first.given, first.correct) == (1, 1.5)
    assert first.symbol == "∂L/∂x_12" and first.derivation.startswith("∂L/∂y_12·k_11 + ∂L/∂y_11·k_12 = 1×1 + 1×0.5")


def test_sign_of_dL_dy_and_carried_gradients(tmp_path):
    neg = scale(DY, -1)
    report = graded(tmp_path, "conv", dL_dy=neg, dL_dk=correlate(X, neg))
    assert report.causes["dL_dy"] == cause("sign")
    assert {m.status for m in report.marks if m.key == "dL_dk"} == {"carried"}
    assert [(origin, len(ms)) for origin, ms in report.carried_groups] == [(("∂L/∂y (dL_dy)",), 4)]
    text = report.render("text")
    assert text.count("follow from ∂L/∂y (dL_dy)") == 1


def test_half_of_the_loss_forgotten(tmp_path):
    report = graded(tmp_path, "conv", loss=2 * LOSS, dL_dy=scale(DY, 2))
    wrong = {m.key: m for m in report.marks if m.status == "wrong"}
    assert wrong["loss"].mistakes == ["half_forgotten"]
    assert report.causes["dL_dy"] == cause("half_forgotten")


def test_kernel_flipped_in_the_forward_pass(tmp_path):
    report = graded(tmp_path, "conv", y=correlate(X, rot180(K)))
    assert report.causes["y"] == cause("forward_flipped")


def bias_spec(tmp_path, seed="seed = 3\n"):
    body = (resources.files("chainrule") / "specs" / "layered" / "conv.toml").read_text(encoding="utf-8")
    path = tmp_path / "bias.toml"
    path.write_text(body.replace("bias = false", "bias = true").replace("lr = 0.01\n", "lr = 0.01\n" + seed),
                    encoding="utf-8")
    return str(path)


def test_bias_forgotten_and_a_random_bias_refused(tmp_path, capsys):
    report = grade(bias_spec(tmp_path), write(tmp_path, toml(y=Y)))  # the hand y has no bias
    assert report.causes["y"] == cause("bias_forgotten")
    path = bias_spec(tmp_path, seed="")
    assert main(["grade", path, write(tmp_path, toml(y=Y))]) == 2
    assert f"{path}: layers[0] (conv2d): the bias is drawn at random without a 'seed'" in capsys.readouterr().err


def test_dk_flipped_and_transposed(tmp_path):
    report = graded(tmp_path, "conv", dL_dy=DY, dL_dk=correlate(X, rot180(DY)))
    assert report.causes["dL_dk"] == cause("dk_flipped")
    report = graded(tmp_path, "conv", dL_dy=DY, dL_dk=[[7, 1.5], [4.5, 6]])
    assert report.causes["dL_dk"] == cause("dk_transposed")


def test_update_the_wrong_way(tmp_path):
    up = sub(K, DK, -LR)
    report = graded(tmp_path, "conv", dL_dk=DK, k_after=up)
    # with ∂L/∂k right, the sign of ∂L/∂y is not blamed
    assert report.causes["k_after"] == cause("ascent")
    report = graded(tmp_path, "conv", k_after=up)
    assert report.causes["k_after"] == cause("sign") + message("en", "or") + cause("ascent")


def test_update_the_wrong_way_from_the_learners_own_gradient(tmp_path):
    report = graded(tmp_path, "conv-pool", dL_dp=scale(DP, 2), dL_dk=scale(DKP, 2), k_after=sub(K, DKP, -2 * LR))
    assert report.causes["dL_dp"] == cause("half_forgotten", "p")
    assert {m.status for m in report.marks if m.key == "dL_dk"} <= {"carried", "right"}
    assert report.causes["k_after"] == cause("ascent")


@pytest.mark.parametrize("mistake, dy", [
    ("pool_spread", [[1, 1, -0.5, -0.5], [1, 1, -0.5, -0.5], [2, 2, 0.5, 0.5], [2, 2, 0.5, 0.5]]),
    ("pool_average", [[0.25, 0.25, -0.125, -0.125], [0.25, 0.25, -0.125, -0.125],
                      [0.5, 0.5, 0.125, 0.125], [0.5, 0.5, 0.125, 0.125]]),
    ("pool_first_cell", [[1, 0, -0.5, 0], [0, 0, 0, 0], [2, 0, 0.5, 0], [0, 0, 0, 0]]),
])
def test_pooling_mistakes(tmp_path, mistake, dy):
    report = graded(tmp_path, "conv-pool", dL_dp=DP, dL_dy=dy, dL_dk=correlate(XP, dy))
    assert report.causes["dL_dy"] == cause(mistake, "p")
    assert {m.status for m in report.marks if m.key == "dL_dk"} <= {"carried", "right"}


def test_rounded_too_early_and_no_cause(tmp_path):
    report = graded(tmp_path, "conv", loss=2.1, y=[[4, 7, -0.5], [0.5, 1.5, 7.5], [1.5, 3, 3]])
    marks = {m.key: m for m in report.marks if m.status == "wrong"}
    assert marks["loss"].cause == message("en", "rounded", d=2, n=3, keep=4)
    assert marks["y"].index == (2, 2) and marks["y"].cause is None
    assert "no classic mistake reproduces this value" in report.render("text")


def test_carried_from_a_wrong_output_pixel(tmp_path):
    y = [[4, 7, -0.5], [0.5, 1.5, 7.5], [1.5, 3, 3]]           # y_33 = 3 instead of 2
    report = graded(tmp_path, "conv", y=y, dL_dy=sub(y, T))
    carried = [m for m in report.marks if m.status == "carried"]
    assert [(m.key, m.index, m.carried_from) for m in carried] == [("dL_dy", (2, 2), ["y"])]


def test_cannot_tell_with_a_symmetric_kernel(tmp_path):
    """k = [[1, 2], [2, 1]] is its own 180° rotation: flipping it or not gives the same numbers."""
    body = (resources.files("chainrule") / "specs" / "layered" / "conv.toml").read_text(encoding="utf-8")
    text = tmp_path / "sym.toml"
    text.write_text(body.replace("weight = [[[[1, 0.5],\n            [-1, 2]]]]", "weight = [[[[1, 2],\n            [2, 1]]]]"),
                    encoding="utf-8")
    assert "[2, 1]" in text.read_text(encoding="utf-8")
    report = grade(str(text), write(tmp_path, toml(loss=1)))
    names = [message("en", "cannot_tell", mistake=message("en", f"mistake_name.{m}", o="y"))
             for m in ("forward_flipped", "kernel_not_flipped")]
    assert all(n in report.cannot_tell for n in names)
    assert grade("conv", write(tmp_path, toml(loss=1))).cannot_tell == []


# ----------------------------------------------------------------------------- output
def test_json_and_md(tmp_path, capsys):
    path = write(tmp_path, toml(dL_dy=DY, dL_dx=correlate(pad(DY, 1), K)))
    assert main(["grade", "conv", path, "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["kind"] == "conv" and data["counts"]["wrong"] == 15
    assert {q["key"]: q["cause"] for q in data["quantities"]}["dL_dx"] == cause("kernel_not_flipped")
    assert main(["grade", "conv", path, "--format", "md"]) == 1
    md = capsys.readouterr().out
    assert "| ✗ |  | ∂L/∂x_12 (`dL_dx[0][1]`) | 1 | 1.5 |" in md


def test_zh_feedback_has_no_english_words(tmp_path, capsys):
    spread = [[1, 1, -0.5, -0.5], [1, 1, -0.5, -0.5], [2, 2, 0.5, 0.5], [2, 2, 0.5, 0.5]]
    path = write(tmp_path, toml(loss=2.1, dL_dp=scale(DP, -1), dL_dy=spread, dL_dx=[[9] * 5] * 5,
                                k_after=sub(K, DKP, -LR)))
    for fmt in ("text", "md"):
        main(["grade", "conv-pool", path, "--lang", "zh", "--format", fmt])
        out = capsys.readouterr().out
        assert "可能的原因" in out and english_words(out) == []
    main(["grade", "conv", write(tmp_path, toml(dL_dy=DY, dL_dx=correlate(pad(DY, 1), K), y=[[1] * 3] * 3)),
          "--lang", "zh"])
    out = capsys.readouterr().out
    assert "翻转" in out and english_words(out) == []


def test_every_layered_mistake_has_en_and_zh_messages():
    from chainrule.explain import conv

    for m in conv.MISTAKES:
        for lang in ("en", "zh"):
            assert f"mistake.{m}" in MESSAGES[lang] and f"mistake_name.{m}" in MESSAGES[lang]


# ----------------------------------------------------------------------------- bad files
@pytest.mark.parametrize("text, needle", [
    ("dk = [[1, 2], [3, 4]]\n", "key 'dk': unknown (this derivation's answers: x, k, t, y, dL_dy, dL_dk, dL_dx, "
                                "k_after, loss); did you mean 'dL_dk'?"),
    ("dL_dk = [[1, 2, 3]]\n", "key 'dL_dk': expected a 2×2 grid (2 rows of 2 numbers), got a 1×3 grid"),
    ("dL_dk = [[1, 2], [3]]\n", "key 'dL_dk': expected a 2×2 grid (2 rows of 2 numbers), got rows of different lengths"),
    ("dL_dk = [[1, 'x'], [3, 4]]\n", "key 'dL_dk[0][1]': expected a number, got 'x'"),
    ("dL_dk = [[1, true], [3, 4]]\n", "key 'dL_dk[0][1]': expected a number, got True"),
    ("loss = [1, 2]\n", "key 'loss': expected a number, got a list of 2 numbers"),
    ("dL_dx = [[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4]]\n", "key 'dL_dx': expected a 4×4 grid"),
    ("dL_dk = [['?', '?'], ['?', '?']]\n", "no answers found"),
])
def test_bad_answer_files_name_file_and_key(tmp_path, capsys, text, needle):
    path = write(tmp_path, text)
    assert main(["grade", "conv", path]) == 2
    err = capsys.readouterr().err
    assert path in err and needle in err


@pytest.mark.parametrize("text", ["dk = [[1, 2], [3, 4]]\n", "colour = 1\n", "dL_dk = [[1, 2, 3]]\n",
                                  "dL_dk = [[1, 2], [3]]\n", "dL_dk = [1, 2]\n", "loss = [1, 2]\n",
                                  "loss = [[1, 2], [3, 4]]\n", "dL_dk = [[1, 'x'], [3, 4]]\n",
                                  "dL_dk = [['?', '?'], ['?', '?']]\n"])
def test_bad_answer_files_in_chinese(tmp_path, capsys, text):
    path = write(tmp_path, text)
    assert main(["grade", "conv", path, "--lang", "zh"]) == 2
    err = capsys.readouterr().err
    prose = re.sub(r"'[^']*'|`[^`]*`|\S+\.toml", " ", err)   # keys, code and the file stay as written
    assert path in err and "错误" in err and english_words(prose) == [], err


def test_other_layered_specs_refused_in_both_languages(capsys):
    assert main(["grade", "lenet-digits", "x.toml"]) == 2
    assert "chainrule grade marks the layered specs that chainrule derive writes out, such as conv, conv-pool" \
        in capsys.readouterr().err
    assert main(["grade", "lenet-digits", "x.toml", "--lang", "zh"]) == 2
    assert "例如 `conv`、`conv-pool`" in capsys.readouterr().err


# ----------------------------------------------------------------------------- the registry
def test_replay_without_answers_is_the_derivation():
    from chainrule.explain.conv import derive_conv, replay

    for name in ("conv", "conv-pool"):
        spec = load_layered_spec(name)
        d, r = derive_conv(spec), replay(spec)
        assert all(np.allclose(r[k], v) for k, v in d.grids.items() if k in r) and r["loss"] == d.loss


def test_batchnorm_replay_without_answers_is_the_derivation():
    pytest.importorskip("chainrule.explain.batchnorm")
    from chainrule.explain.batchnorm import derive_batchnorm
    from chainrule.grading.replay_batchnorm import replay

    spec = load_layered_spec("batchnorm")
    d, r = derive_batchnorm(spec), replay(spec)
    assert set(d.grids) - set(r) == {"x", "t", "gamma", "beta"}
    assert all(np.allclose(r[k], v, rtol=1e-12, atol=1e-12) for k, v in d.grids.items() if k in r)


def test_rnn_replay_without_answers_is_the_derivation():
    rnn = pytest.importorskip("chainrule.explain.rnn")
    from chainrule.grading.replay_rnn import replay

    spec = load_layered_spec("rnn")
    d, r = rnn.derive_rnn(spec), replay(spec)
    assert set(d.grids) - set(r) == {"x", "h0", "W_ih", "W_hh", "V", "y"}
    assert all(np.allclose(r[k], v, rtol=1e-12, atol=1e-12) for k, v in d.grids.items() if k in r)


def test_a_registered_derivation_plugs_in(tmp_path, monkeypatch):
    """A module with only its derive function and classic_mistakes (no replay, no cell_lines)."""
    mod = types.ModuleType("fake_norm")

    class Derivation:
        lang, precision, loss = "en", 6, 0.5
        grids = {"h": np.array([[1.0, 2.0]])}
        entries = [{"key": "h_12", "symbol": "h_12", "expression": "2 − 0 = 2", "value": 2.0},
                   {"key": "loss", "symbol": "L", "expression": "½ × 1 = 0.5", "value": 0.5}]

    mod.derive_fake = lambda spec, lang="en": Derivation()
    mod.classic_mistakes = lambda spec: {"missing_mean_terms": {"h": np.array([[1.0, 3.0]])}, "never": {}}
    monkeypatch.setitem(sys.modules, "fake_norm", mod)
    for lang in ("en", "zh"):
        monkeypatch.setitem(MESSAGES[lang], "mistake.missing_mean_terms", "the mean's terms left out")
        monkeypatch.setitem(MESSAGES[lang], "mistake_name.never", "never")
    monkeypatch.setattr(layered, "REGISTRY", list(layered.REGISTRY))
    layered.register(layered.LayeredKind("fake", "fake_norm", "derive_fake", lambda s: s.name == "conv"))
    layered.REGISTRY.insert(0, layered.REGISTRY.pop())
    report = grade("conv", write(tmp_path, toml(h=[[1, 3]], loss=0.5)))
    (bad,) = [m for m in report.marks if m.status == "wrong"]
    assert (bad.path, bad.symbol, bad.derivation, bad.cause) == ("h[0][1]", "h_12", "2 − 0 = 2", "the mean's terms left out")
    assert report.kind == "fake" and report.cannot_tell == [message("en", "cannot_tell", mistake="never")]


# ----------------------------------------------------------------------------- docs/grade.md shows the output as it is
def test_docs_examples_are_the_real_output(tmp_path, capsys):
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "grade.md").read_text(encoding="utf-8")
    section = doc[doc.index("## Layered derivations"):]
    blocks = {}
    for block in section.split("```toml\n")[1:]:
        body = block[:block.index("```")]
        name = body.split("\n", 1)[0].split(":")[0].lstrip("# ")
        blocks[name] = body
    assert set(blocks) == {"answers-conv.toml", "answers-conv-pool.toml"}
    console = section[section.index("```console\n") + 11:]
    console = console[:console.index("```")]
    shown = []
    for spec in ("conv", "conv-pool"):
        path = write(tmp_path, blocks[f"answers-{spec}.toml"], f"answers-{spec}.toml")
        assert main(["grade", spec, path]) == 1
        shown.append(f"$ chainrule grade {spec} answers-{spec}.toml\n" + capsys.readouterr().out)
    assert console == "\n".join(shown)


# ----------------------------------------------------------------------------- batch norm and the RNN (explain/batchnorm.py,
# explain/rnn.py): the registry picks them up once they are there; each worked here in plain Python
BN_X, BN_T, GAMMA, SIGMA = [3.7, 7.7, 11.3, 17.3], [-2.5, 0.5, 0, 3], 2.0, 5.0   # μ = 10, σ² = 24.99, ε = 0.01


def test_batchnorm_missing_mean_terms(tmp_path, capsys):
    pytest.importorskip("chainrule.explain.batchnorm")
    mu = sum(BN_X) / 4
    var = sum((v - mu) ** 2 for v in BN_X) / 4
    xhat = [(v - mu) / SIGMA for v in BN_X]                        # σ = √(24.99 + 0.01) = 5
    dy = [GAMMA * h + 0.5 - t for h, t in zip(xhat, BN_T)]       # y − t
    g = [GAMMA * v for v in dy]                                   # ∂L/∂x̂
    m_dy, m_dyx = sum(dy) / 4, sum(a * b for a, b in zip(dy, xhat)) / 4
    dx = [GAMMA / SIGMA * (d - m_dy - h * m_dyx) for d, h in zip(dy, xhat)]  # the three terms together
    assert (mu, round(var, 10), round(dx[0], 7)) == (10, 24.99, 0.1797968)
    col = [[v] for v in dx]
    assert grade("batchnorm", write(tmp_path, toml(mu=mu, var=var, xhat=[[v] for v in xhat], dL_dx=col))).all_right
    direct = [[v / SIGMA] for v in g]                             # ∂L/∂x̂/σ alone
    report = graded(tmp_path, "batchnorm", dL_dy=[[v] for v in dy], dL_dx=direct)
    assert report.causes["dL_dx"] == cause("missing_mean_terms")
    no_var = [[v / SIGMA - sum(g) / SIGMA / 4] for v in g]        # + ∂L/∂μ/N, without the σ² term
    report = graded(tmp_path, "batchnorm", dL_dy=[[v] for v in dy], dL_dx=no_var)
    assert report.causes["dL_dx"] == cause("missing_variance_term")
    main(["grade", "batchnorm", write(tmp_path, toml(dL_dx=direct)), "--lang", "zh"])
    out = capsys.readouterr().out
    assert "μ 和 σ²" in out and english_words(out) == []


def test_batchnorm_carried_from_a_wrong_mean(tmp_path):
    pytest.importorskip("chainrule.explain.batchnorm")
    mu = 10.4                                                     # right: 40/4 = 10
    var = sum((v - mu) ** 2 for v in BN_X) / 4                    # (6.7² + 2.7² + 0.9² + 6.9²)/4 = 25.15
    assert round(var, 10) == 25.15
    sigma = (var + 0.01) ** 0.5
    xhat = [[(v - mu) / sigma] for v in BN_X]
    report = graded(tmp_path, "batchnorm", mu=mu, var=var, xhat=xhat)
    assert [(m.key, m.status) for m in report.marks] == [("mu", "wrong")] + [("var", "carried")] + [("xhat", "carried")] * 4
    assert [origin for origin, _ in report.carried_groups] == [("μ (mu)",)]


def _rnn_by_hand():
    import math

    x, y, h = [1, -0.5, 2], [1, 0.5, 1], [0.5, -0.5]
    w_ih, w_hh, v = [0.5, -1], [[0.5, -0.25], [0.25, 0.5]], [1, -1]
    hs, yhat = [h], []
    for t in range(3):
        a = [w_ih[i] * x[t] + sum(w_hh[i][j] * hs[-1][j] for j in range(2)) for i in range(2)]
        hs.append([math.tanh(u) for u in a])
        yhat.append(sum(v[i] * hs[-1][i] for i in range(2)))
    dyhat = [p - q for p, q in zip(yhat, y)]
    dh, da = [None] * 3, [None] * 3
    for t in (2, 1, 0):
        dh[t] = [v[i] * dyhat[t] + (sum(w_hh[j][i] * da[t + 1][j] for j in range(2)) if t < 2 else 0)
                 for i in range(2)]
        da[t] = [dh[t][i] * (1 - hs[t + 1][i] ** 2) for i in range(2)]
    only_own = [[v[i] * dyhat[t] for i in range(2)] for t in range(3)]   # without the path through a_(t+1)
    d_whh = [[sum(da[t][i] * hs[t][j] for t in range(3)) for j in range(2)] for i in range(2)]
    last = [[da[2][i] * hs[2][j] for j in range(2)] for i in range(2)]   # the last step's term only
    return da, d_whh, last, only_own, dh, hs


def test_rnn_not_summed_over_time(tmp_path, capsys):
    pytest.importorskip("chainrule.explain.rnn")
    da, d_whh, last, only_own, _, _ = _rnn_by_hand()
    assert grade("rnn", write(tmp_path, toml(dL_da=da, dL_dW_hh=d_whh))).all_right
    report = graded(tmp_path, "rnn", dL_da=da, dL_dW_hh=last)
    assert report.causes["dL_dW_hh"] == cause("not_summed_over_time")
    report = graded(tmp_path, "rnn", dL_dh=[only_own[0], ["?", "?"], ["?", "?"]])
    assert report.causes["dL_dh"] == cause("no_recurrent_path")
    # a wrong ∂L/∂h_3 (doubled): ∂L/∂a_3 worked from it, and ∂L/∂W_hh from that, are carried
    _, _, _, _, dh, hs = _rnn_by_hand()
    dh3 = [2 * v for v in dh[2]]
    da3 = [dh3[i] * (1 - hs[3][i] ** 2) for i in range(2)]
    blank = ["?", "?"]
    report = graded(tmp_path, "rnn", dL_dh=[blank, blank, dh3], dL_da=[da[0], da[1], da3])
    assert {(m.key, m.index[0], m.status) for m in report.marks if m.status != "right"} == {
        ("dL_dh", 2, "wrong"), ("dL_da", 2, "carried")}
    assert [origin for origin, _ in report.carried_groups] == [("∂L/∂h (dL_dh)",)]
    main(["grade", "rnn", write(tmp_path, toml(dL_da=da, dL_dW_hh=last)), "--lang", "zh"])
    out = capsys.readouterr().out
    assert "时间步" in out and english_words(out) == []
