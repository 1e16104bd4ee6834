"""The grader's optimizer mistakes (issue 13): "forgot momentum" (an update worked as plain SGD,
w − η·∂L/∂w, on a spec whose optimizer is SGD with momentum) and Adam without its bias correction.
Every expected number below is worked by hand (and checked against PyTorch's optimizers).

The network: one weight, no activation, L = ½(y' − y)², x = 2, y = 0, w = 0.5, η = 0.05, μ = 0.9.
PyTorch's SGD with momentum keeps a velocity v = μ·v_prev + g, with v = g at the first step.

  step 1: y' = 0.5·2 = 1,  ∂L/∂y' = 1,  g = 1·2 = 2,  v = 2,              w = 0.5 − 0.05·2 = 0.4
  step 2: y' = 0.4·2 = 0.8, ∂L/∂y' = 0.8, g = 0.8·2 = 1.6, v = 0.9·2 + 1.6 = 3.4, w = 0.4 − 0.05·3.4 = 0.23
  plain SGD at step 2 (the mistake): 0.4 − 0.05·1.6 = 0.32

At step 1 plain SGD gives the right number (v = g), so an exercise of one step cannot tell the mistake.
"""

from __future__ import annotations

import pytest
from test_zh import english_words

from chainrule.cli import main
from chainrule.grade import grade

SPEC = """name = "mom"
layers = [1, 1]
activations = ["none"]
loss = "half_sse"
optimizer = "momentum"
momentum = 0.9
lr = 0.05
steps = 2
[init]
weights = [[[0.5]]]
[data]
x = [2.0]
y = [0.0]
"""

TWO_STEPS = """{{"steps": [
  {{"step": 1, "loss": 0.5, "grad": {{"W1": [[2]]}}, "params_after": {{"W1": [[0.4]]}}}},
  {{"step": 2, "output": [0.8], "grad": {{"W1": [[1.6]]}}, "params_after": {{"W1": [[{w}]]}}}}
]}}
"""


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "mom.toml"
    path.write_text(SPEC, encoding="utf-8")
    return str(path)


def _answers(tmp_path, text):
    path = tmp_path / ("answers.json" if text.startswith("{") else "answers.toml")
    path.write_text(text, encoding="utf-8")
    return str(path)


def _mark(report, step, key):
    return next(m for m in report.marks if m.step == step and m.key == key)


def test_plain_sgd_at_step_2_is_named_forgot_momentum(spec, tmp_path):
    report = grade(spec, _answers(tmp_path, TWO_STEPS.format(w=0.32)))
    wrong = _mark(report, 2, "params_after.W1[0][0]")
    assert wrong.status == "wrong" and wrong.correct == pytest.approx(0.23)
    assert "momentum forgotten" in wrong.cause and "μ = 0.9" in wrong.cause
    # the gradients and step 1 are right: only the update is blamed
    assert all(m.status == "right" for m in report.marks if m is not wrong)
    assert not any("momentum" in note for note in report.cannot_tell)   # step 2 tells it apart


def test_the_right_velocity_is_right(spec, tmp_path):
    report = grade(spec, _answers(tmp_path, TWO_STEPS.format(w=0.23)))
    assert report.all_right


def test_an_unrelated_wrong_update_is_not_blamed_on_momentum(spec, tmp_path):
    report = grade(spec, _answers(tmp_path, TWO_STEPS.format(w=0.5)))
    cause = _mark(report, 2, "params_after.W1[0][0]").cause or ""
    assert "momentum" not in cause


def test_step_1_cannot_tell_momentum_from_plain_sgd(spec, tmp_path):
    report = grade(spec, _answers(tmp_path, "[params_after]\nW1 = [[0.4]]\n"))
    assert report.all_right
    assert any("cannot tell forgetting the momentum" in note for note in report.cannot_tell)
    # an SGD spec has no velocity to forget
    sgd = tmp_path / "sgd.toml"
    sgd.write_text(SPEC.replace('optimizer = "momentum"', 'optimizer = "sgd"'), encoding="utf-8")
    report = grade(str(sgd), _answers(tmp_path, "[params_after]\nW1 = [[0.4]]\n"))
    assert not any("momentum" in note for note in report.cannot_tell)


def test_the_cli_in_chinese(spec, tmp_path, capsys):
    assert main(["grade", spec, _answers(tmp_path, TWO_STEPS.format(w=0.32)), "--lang", "zh"]) == 1
    out = capsys.readouterr().out
    assert "漏掉了动量" in out and "μ = 0.9" in out
    assert english_words(out.replace(spec, "")) == []
    assert main(["grade", spec, _answers(tmp_path, "[params_after]\nW1 = [[0.4]]\n"), "--lang", "zh"]) == 0
    out = capsys.readouterr().out
    assert "漏掉动量" in out and english_words(out.replace(spec, "")) == []


def test_the_hand_numbers_are_pytorchs():
    torch = pytest.importorskip("torch")
    w = torch.tensor([0.5], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.05, momentum=0.9)
    seen = []
    for _ in range(2):
        opt.zero_grad()
        (0.5 * (w * 2.0 - 0.0) ** 2).sum().backward()
        seen.append(float(w.grad))
        opt.step()
    assert seen == pytest.approx([2.0, 1.6]) and float(w.detach()) == pytest.approx(0.23)


# Adam on the same network, η = 0.01, β1 = 0.9, β2 = 0.999, ε = 1e-8, step 1 (worked by hand):
#   g = 2, m = 0.1·2 = 0.2, v = 0.001·4 = 0.004; m̂ = 0.2/0.1 = 2, v̂ = 0.004/0.001 = 4
#   right:            w = 0.5 − 0.01·2/(√4 + ε) = 0.49
#   uncorrected (the mistake): w = 0.5 − 0.01·0.2/√0.004 = 0.5 − 0.01·3.16228 = 0.468377
ADAM = SPEC.replace('optimizer = "momentum"', 'optimizer = "adam"').replace("lr = 0.05", "lr = 0.01")


def test_adam_without_bias_correction_is_named(tmp_path):
    path = tmp_path / "adam.toml"
    path.write_text(ADAM, encoding="utf-8")
    report = grade(str(path), _answers(tmp_path, "[grad]\nW1 = [[2]]\n[params_after]\nW1 = [[0.4684]]\n"))
    wrong = _mark(report, 1, "params_after.W1[0][0]")
    assert wrong.status == "wrong" and wrong.correct == pytest.approx(0.49)
    assert "bias correction forgotten" in wrong.cause and "β2 = 0.999" in wrong.cause
    assert not any("bias correction" in note for note in report.cannot_tell)
    assert grade(str(path), _answers(tmp_path, "[params_after]\nW1 = [[0.49]]\n")).all_right
    zh = grade(str(path), _answers(tmp_path, "[params_after]\nW1 = [[0.4684]]\n"), lang="zh")
    cause = _mark(zh, 1, "params_after.W1[0][0]").cause
    assert "漏掉了 Adam 的偏差修正" in cause and english_words(cause) == []


def test_adam_hand_numbers_are_pytorchs():
    torch = pytest.importorskip("torch")
    w = torch.tensor([0.5], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([w], lr=0.01)
    (0.5 * (w * 2.0) ** 2).sum().backward()
    opt.step()
    assert float(w.detach()) == pytest.approx(0.49)
