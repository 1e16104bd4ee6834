"""`chainrule derive rnn`: an RNN unrolled over three steps, backpropagation through time
(chainrule.explain.rnn), and the classic mistakes the grader knows.

Expected numbers come from hand algebra with plain Python (math.tanh, loops over the TOML's own
numbers, not chainrule), from PyTorch's nn.RNN and nn.RNNCell run side by side with the same weights,
and from finite differences.
"""

from __future__ import annotations

import copy
import json
import math
import re
from importlib import resources

import numpy as np
import pytest
from test_zh import english_words

from chainrule.cli import main
from chainrule.errors import SpecError
from chainrule.explain.rnn import classic_mistakes, derive_rnn, unrolled_step
from chainrule.layered import load_layered_spec, parse_layered


def raw_spec() -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    text = (resources.files("chainrule") / "specs" / "layered" / "rnn.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def by_hand(raw=None, *, recurrent=True, slope=True, summed=True):
    """One step of the spec's tanh RNN (readout at every step, no bias) in plain Python; the flags make
    the classic mistakes the way a learner would on paper."""
    raw = raw or raw_spec()
    rnn, lin = raw["layers"]
    x = [row[0] for row in raw["x"]]
    y = [row[0] for row in raw["y"]]
    U = [row[0] for row in rnn["weight_ih"]]          # W_ih, one input feature
    W, V, lr = rnn["weight_hh"], lin["weight"][0], raw["lr"]
    T, H = len(x), len(U)
    h = [list(rnn["h0"])]
    a = []
    for t in range(T):
        a.append([U[i] * x[t] + sum(W[i][j] * h[t][j] for j in range(H)) for i in range(H)])
        h.append([math.tanh(v) for v in a[t]])
    yhat = [sum(V[i] * h[t + 1][i] for i in range(H)) for t in range(T)]
    loss = 0.5 * sum((yhat[t] - y[t]) ** 2 for t in range(T))
    gy = [yhat[t] - y[t] for t in range(T)]
    gh, ga = [None] * T, [None] * T
    for t in reversed(range(T)):
        gh[t] = [V[i] * gy[t] + (sum(W[j][i] * ga[t + 1][j] for j in range(H)) if t + 1 < T and recurrent else 0)
                 for i in range(H)]
        ga[t] = [gh[t][i] * ((1 - h[t + 1][i] ** 2) if slope else 1) for i in range(H)]
    steps = range(T) if summed else [T - 1]
    gW = [[sum(ga[t][i] * h[t][j] for t in steps) for j in range(H)] for i in range(H)]
    gU = [[sum(ga[t][i] * x[t] for t in steps)] for i in range(H)]
    gV = [[sum(gy[t] * h[t + 1][i] for t in steps) for i in range(H)]]
    return dict(a=a, h=h[1:], yhat=yhat, loss=loss, dL_dyhat=gy, dL_dh=gh, dL_da=ga, dL_dW_hh=gW, dL_dW_ih=gU,
                dL_dV=gV, W_hh_after=[[W[i][j] - lr * gW[i][j] for j in range(H)] for i in range(H)],
                W_ih_after=[[U[i] - lr * gU[i][0]] for i in range(H)],
                V_after=[[V[i] - lr * gV[0][i] for i in range(H)]])


@pytest.fixture(scope="module")
def doc():
    return json.loads(derive_rnn(load_layered_spec("rnn")).to_json())


def entry(doc, key):
    hits = [e for e in doc["entries"] if e["key"] == key]
    assert len(hits) == 1, key
    return hits[0]


def test_numbers_match_hand_algebra(doc):
    h = by_hand()
    # a_1 on paper: W_ih x_1 + W_hh h_0 = (0.5·1 + 0.5·0.5 − 0.25·(−0.5), −1·1 + 0.25·0.5 + 0.5·(−0.5)) = (0.875, −1.125)
    assert h["a"][0] == [0.875, -1.125]
    assert doc["loss"] == pytest.approx(h["loss"])
    for key in ("a", "h", "dL_dh", "dL_da", "dL_dW_hh", "dL_dW_ih", "dL_dV", "W_hh_after", "W_ih_after", "V_after"):
        np.testing.assert_allclose(doc["grids"][key], h[key], rtol=1e-12, err_msg=key)
    np.testing.assert_allclose(np.ravel(doc["grids"]["yhat"]), h["yhat"], rtol=1e-12)
    np.testing.assert_allclose(np.ravel(doc["grids"]["dL_dyhat"]), h["dL_dyhat"], rtol=1e-12)
    for t in range(3):
        for i in range(2):
            assert entry(doc, f"h_{t + 1}_{i + 1}")["value"] == pytest.approx(h["h"][t][i])
            assert entry(doc, f"dL_dh_{t + 1}_{i + 1}")["value"] == pytest.approx(h["dL_dh"][t][i])
    for i in range(2):
        for j in range(2):
            assert entry(doc, f"dL_dW_hh_{i + 1}{j + 1}")["value"] == pytest.approx(h["dL_dW_hh"][i][j])
            assert entry(doc, f"W_hh_{i + 1}{j + 1}_after")["value"] == pytest.approx(h["W_hh_after"][i][j])


def test_one_gradient_written_out_by_hand(doc):
    """∂L/∂W_hh[1,2] = Σ_t ∂L/∂a_t,1 · h_(t−1),2, every factor worked from the spec's numbers in the open."""
    th = math.tanh
    a11, a12 = 0.875, -1.125
    h11, h12 = th(a11), th(a12)
    a21, a22 = 0.5 * -0.5 + 0.5 * h11 - 0.25 * h12, -1 * -0.5 + 0.25 * h11 + 0.5 * h12
    h21, h22 = th(a21), th(a22)
    a31, a32 = 0.5 * 2 + 0.5 * h21 - 0.25 * h22, -1 * 2 + 0.25 * h21 + 0.5 * h22
    h31, h32 = th(a31), th(a32)
    e1, e2, e3 = (h11 - h12) - 1, (h21 - h22) - 0.5, (h31 - h32) - 1     # ŷ_t − y_t with V = [1, −1]
    d31, d32 = e3 * 1 * (1 - h31 ** 2), e3 * -1 * (1 - h32 ** 2)         # step 3: from its output only
    d21 = (1 * e2 + 0.5 * d31 + 0.25 * d32) * (1 - h21 ** 2)             # + W_hh[1,1], W_hh[2,1] from step 3
    d22 = (-1 * e2 - 0.25 * d31 + 0.5 * d32) * (1 - h22 ** 2)
    d11 = (1 * e1 + 0.5 * d21 + 0.25 * d22) * (1 - h11 ** 2)
    grad = d11 * -0.5 + d21 * h12 + d31 * h22                           # h_0,2 = −0.5
    assert entry(doc, "dL_dW_hh_12")["value"] == pytest.approx(grad, rel=1e-12)
    # the three terms stand in the written sum and in the per-step term matrices
    assert [m[0][1] for m in doc["grids"]["dL_dW_hh_terms"]] == pytest.approx([d11 * -0.5, d21 * h12, d31 * h22])
    assert entry(doc, "dL_dW_hh_12")["expression"].startswith(
        "∂L/∂a_1,1·h_0,2 + ∂L/∂a_2,1·h_1,2 + ∂L/∂a_3,1·h_2,2 = ")
    # no term of ∂L/∂W_hh is 0: the reader sees each step's contribution
    assert np.all(np.abs(doc["grids"]["dL_dW_hh_terms"]) > 0.01)


def test_written_sums_add_up_to_the_value(doc):
    """Each written sum of products, evaluated from its own printed numbers, gives the printed value."""
    for e in doc["entries"]:
        if not re.match(r"(a|yhat|dL_dh|dL_dW_ih|dL_dW_hh|dL_dV)_", e["key"]):
            continue
        numbers = e["expression"].split(" = ")[1].replace("−", "-").replace("(", "").replace(")", "")
        total = sum(math.prod(float(f) for f in term.split("×")) for term in numbers.split(" + "))
        assert total == pytest.approx(e["value"], rel=1e-5, abs=1e-6), e["key"]


def test_values_and_gradients_match_pytorch_nn_rnn(doc):
    torch = pytest.importorskip("torch")
    raw = raw_spec()
    rnn_b, lin_b = raw["layers"]
    rnn = torch.nn.RNN(1, 2, nonlinearity="tanh", bias=False, batch_first=True).double()
    readout = torch.nn.Linear(2, 1, bias=False).double()
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.tensor(rnn_b["weight_ih"], dtype=torch.float64))
        rnn.weight_hh_l0.copy_(torch.tensor(rnn_b["weight_hh"], dtype=torch.float64))
        readout.weight.copy_(torch.tensor(lin_b["weight"], dtype=torch.float64))
    x = torch.tensor([raw["x"]], dtype=torch.float64)
    h0 = torch.tensor([[rnn_b["h0"]]], dtype=torch.float64)
    out, h_n = rnn(x, h0)
    yhat = readout(out)
    loss = 0.5 * ((yhat - torch.tensor([raw["y"]], dtype=torch.float64)) ** 2).sum()
    loss.backward()
    assert doc["loss"] == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(doc["grids"]["h"], out.detach()[0].numpy(), rtol=1e-12)
    np.testing.assert_allclose(doc["grids"]["dL_dW_hh"], rnn.weight_hh_l0.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(doc["grids"]["dL_dW_ih"], rnn.weight_ih_l0.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(doc["grids"]["dL_dV"], readout.weight.grad.numpy(), rtol=1e-12)

    # ∂L/∂h_t and ∂L/∂a_t per step: the same cell unrolled by hand with PyTorch's RNNCell
    cell = torch.nn.RNNCell(1, 2, bias=False).double()
    with torch.no_grad():
        cell.weight_ih.copy_(rnn.weight_ih_l0)
        cell.weight_hh.copy_(rnn.weight_hh_l0)
    h, hs, loss = h0[0], [], 0
    for t in range(3):
        h = cell(x[:, t], h)
        h.retain_grad()
        hs.append(h)
        loss = loss + 0.5 * ((readout(h) - raw["y"][t][0]) ** 2).sum()
    loss.backward()
    np.testing.assert_allclose(doc["grids"]["dL_dh"], torch.cat([v.grad for v in hs]).numpy(), rtol=1e-12)
    slope = 1 - torch.cat([v.detach() for v in hs]) ** 2
    np.testing.assert_allclose(doc["grids"]["dL_da"], (torch.cat([v.grad for v in hs]) * slope).numpy(), rtol=1e-12)


def test_finite_difference_check(doc):
    assert [c["key"] for c in doc["check"]] == ["dL_dW_ih_11", "dL_dW_ih_21", "dL_dW_hh_11", "dL_dW_hh_12",
                                                 "dL_dW_hh_21", "dL_dW_hh_22", "dL_dV_11", "dL_dV_12"]
    for c in doc["check"]:
        assert c["relative_error"] < 1e-6
        assert c["numeric"] == pytest.approx(c["engine"], rel=1e-6)


def test_json_names_every_quantity_a_learner_computes(doc):
    assert doc["format"] == "chainrule-derivation" and doc["kind"] == "rnn"
    assert set(doc["grids"]) == {"x", "h0", "W_ih", "W_hh", "V", "y", "a", "h", "yhat", "dL_dyhat", "dL_dh", "dL_da",
                                 "dL_dW_ih", "dL_dW_hh", "dL_dV", "dL_dW_hh_terms", "dL_dW_ih_terms", "dL_dV_terms",
                                 "W_ih_after", "W_hh_after", "V_after"}
    np.testing.assert_allclose(np.sum(doc["grids"]["dL_dW_hh_terms"], axis=0), doc["grids"]["dL_dW_hh"])
    np.testing.assert_allclose(np.sum(doc["grids"]["dL_dV_terms"], axis=0), doc["grids"]["dL_dV"])
    keys = [e["key"] for e in doc["entries"]]
    # per step: 2 a, 2 h, 1 ŷ; the loss; 3 ∂L/∂ŷ; per step 2 ∂L/∂h, 2 ∂L/∂a; 8 gradients; 8 updates
    assert len(keys) == len(set(keys)) == 15 + 1 + 3 + 12 + 8 + 8
    assert entry(doc, "W_hh_12_after")["relation"] == "←"


def test_the_engine_unrolled_by_hand_agrees(doc):
    """unrolled_step (the classic mistakes' engine) on the right graph gives the derivation's numbers."""
    right = unrolled_step(load_layered_spec("rnn"))
    for k, v in right.items():
        np.testing.assert_allclose(v, doc["grids"][k], rtol=1e-12, err_msg=k)


def test_classic_mistakes_differ_and_match_the_hand_computation(doc):
    mistakes = classic_mistakes(load_layered_spec("rnn"))
    assert set(mistakes) == {"not_summed_over_time", "no_recurrent_path", "tanh_derivative_missing"}
    for name, flags in (("not_summed_over_time", {"summed": False}), ("no_recurrent_path", {"recurrent": False}),
                        ("tanh_derivative_missing", {"slope": False})):
        wrong, hand = mistakes[name], by_hand(**flags)
        assert {"dL_dW_hh", "W_hh_after", "dL_dW_ih"} <= set(wrong), name
        for k, v in wrong.items():
            assert not np.allclose(v, doc["grids"][k]), (name, k)
            np.testing.assert_allclose(v, hand[k], rtol=1e-12, err_msg=f"{name}: {k}")
    # not summing over time leaves ∂L/∂h alone; the other two change it; the readout V is only wrong unsummed
    assert "dL_dh" not in mistakes["not_summed_over_time"] and "dL_dV" in mistakes["not_summed_over_time"]
    assert "dL_dh" in mistakes["no_recurrent_path"] and "dL_dV" not in mistakes["no_recurrent_path"]
    assert "dL_da" in mistakes["tanh_derivative_missing"]
    # on paper: unsummed, ∂L/∂W_hh is step 3's term alone
    np.testing.assert_allclose(mistakes["not_summed_over_time"]["dL_dW_hh"], doc["grids"]["dL_dW_hh_terms"][2])


def test_last_step_readout_and_bias_match_pytorch():
    torch = pytest.importorskip("torch")
    raw = raw_spec()
    rnn_b = raw["layers"][0]
    rnn_b.update(last=True, bias=True, bias_ih=[0.1, -0.2], bias_hh=[0.3, 0.05], nonlinearity="relu")
    raw["y"] = [1.5]
    d = json.loads(derive_rnn(parse_layered(raw, "rnn-last.toml")).to_json())
    rnn = torch.nn.RNN(1, 2, nonlinearity="relu", batch_first=True).double()
    with torch.no_grad():
        for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(rnn, f"{k}_l0").copy_(torch.tensor(rnn_b[k], dtype=torch.float64))
    v = torch.tensor(raw["layers"][1]["weight"], dtype=torch.float64, requires_grad=True)
    out, _ = rnn(torch.tensor([raw["x"]], dtype=torch.float64), torch.tensor([[rnn_b["h0"]]], dtype=torch.float64))
    loss = 0.5 * ((out[:, -1] @ v.T - 1.5) ** 2).sum()
    loss.backward()
    assert d["loss"] == pytest.approx(loss.item(), rel=1e-12)
    for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        got = d["grids"][f"dL_d{k.replace('weight', 'W').replace('bias', 'b')}"]
        np.testing.assert_allclose(np.reshape(got, -1), getattr(rnn, f"{k}_l0").grad.numpy().ravel(), rtol=1e-12)
    np.testing.assert_allclose(d["grids"]["dL_dV"], v.grad.numpy(), rtol=1e-12)
    assert any(e["key"] == "dL_db_ih_1" for e in d["entries"])
    assert "relu_derivative_missing" in classic_mistakes(parse_layered(raw, "rnn-last.toml"))


@pytest.mark.parametrize("fmt", ["md", "text"])
def test_cli_formats(capsys, fmt):
    assert main(["derive", "rnn", "--format", fmt]) == 0
    out = capsys.readouterr().out
    assert "∂L/∂W_hh" in out or "W^{hh}" in out
    assert ("\\begin{aligned}" in out) == (fmt == "md")


@pytest.mark.parametrize("fmt", ["md", "text"])
def test_zh_has_no_english_words(capsys, fmt):
    main(["derive", "rnn", "--lang", "zh", "--format", fmt])
    out = capsys.readouterr().out
    assert "对时间求和" in out and "随时间反向传播" in out
    assert english_words(out) == []


def bad(change, block=None):
    raw = copy.deepcopy(raw_spec())
    (raw["layers"][block] if block is not None else raw).update(change)
    return raw


@pytest.mark.parametrize("raw, message", [
    (bad({"hidden": 2}, 0), r"bad\.toml: layers\[0\] \(rnn\): unknown key\(s\) hidden"),
    (bad({"nonlinearity": "sigmoid"}, 0), r"bad\.toml: layers\[0\] \(rnn\): key 'nonlinearity': expected tanh or relu"),
    (bad({"weight_hh": [[1, 2, 3]]}, 0),
     r"bad\.toml: layers\[0\] \(rnn\): key 'weight_hh': expected shape \(2, 2\) in the layout \(hidden_size, hidden_size\)"),
    (bad({"h0": [1, 2, 3]}, 0), r"bad\.toml: layers\[0\] \(rnn\): key 'h0': expected the initial hidden state, shape \(2,\)"),
    (bad({"bias_ih": [1, 2]}, 0), r"bad\.toml: layers\[0\] \(rnn\): key 'bias_ih': the block has no bias_ih"),
    (bad({"last": "yes"}, 0), r"bad\.toml: layers\[0\] \(rnn\): key 'last': expected true or false"),
    (bad({"input": [3]}), r"bad\.toml: key 'input': expected the shape of one sample, \[T, features\]"),
    (bad({"weight": [[1, 2, 3]]}, 1), r"bad\.toml: layers\[1\] \(linear\): key 'weight': expected shape \(1, 2\)"),
    (bad({"y": [[1], [2]]}), r"bad\.toml: key 'y': expected a target of the output's shape \(3, 1\)"),
])
def test_bad_spec_keys_name_file_block_and_key(raw, message):
    with pytest.raises(SpecError, match=message):
        parse_layered(raw, "bad.toml")


def test_derive_refusals(capsys):
    with pytest.raises(SpecError, match="one rnn block followed by one linear"):
        derive_rnn(load_layered_spec("conv"))
    with pytest.raises(SpecError, match=r"layers\[0\].bias_ih, layers\[0\].bias_hh"):
        derive_rnn(parse_layered(bad({"bias": True}, 0), "b.toml"))
    raw = bad({"hidden_size": 4, "weight_hh": np.eye(4).tolist(), "weight_ih": [[1]] * 4, "h0": [0] * 4}, 0)
    raw["layers"][1]["weight"] = [[1, 1, 1, 1]]
    with pytest.raises(SpecError, match=r"layers\[0\] \(rnn\): key 'hidden_size': derive writes every sum out by hand up to"):
        derive_rnn(parse_layered(raw, "big.toml"))
    raw = bad({"x": [[[1], [2], [3]], [[0], [1], [2]]], "y": [[[1], [2], [3]], [[0], [1], [2]]]})
    with pytest.raises(SpecError, match=r"key 'x': derive writes out one sample of shape \(3, 1\)"):
        derive_rnn(parse_layered(raw, "batch.toml"))
    assert main(["derive", "rnn", "--format", "latex"]) == 2
    assert "md, text, json only" in capsys.readouterr().err


def test_check_command_covers_rnn(capsys):
    from chainrule.check import check_layered

    rows = check_layered(load_layered_spec("rnn"))
    assert len(rows) == 8 and all(r.ok for r in rows)
    assert {r.param for r in rows} == {"layers[0].weight_ih_l0", "layers[0].weight_hh_l0", "layers[1].weight"}
    if rows[0].torch is not None:  # PyTorch's nn.RNN through the block's torch twin
        assert all(abs(r.engine - r.torch) < 1e-12 for r in rows)
    hand = by_hand()
    assert [r.engine for r in rows if r.param == "layers[0].weight_hh_l0"] == pytest.approx(np.ravel(hand["dL_dW_hh"]))
    assert main(["check", "rnn"]) == 0
    assert "all 8 gradients pass" in capsys.readouterr().out


@pytest.mark.parametrize("lang, name", [("en", "derivation-rnn.md"), ("zh", "derivation-rnn-zh.md")])
def test_docs_are_the_command_output(capsys, lang, name):
    """docs/derivation-rnn*.md are `chainrule derive rnn --out ...` as it is (regenerate them when it changes);
    the finite-difference check's last digits are masked (they depend on the platform's rounding)."""
    from pathlib import Path

    doc = Path(__file__).resolve().parents[1] / "docs" / name
    main(["derive", "rnn", "--lang", lang, "--format", "md"])
    mask = re.compile(r"\d\.\de-\d+")
    assert mask.sub("ε", capsys.readouterr().out) == mask.sub("ε", doc.read_text(encoding="utf-8"))


def test_train_accepts_an_rnn_spec(tmp_path, capsys):
    """A sequence of 3 numbers per CSV row, reshaped to input [3, 1]; the readout on the last step."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (120, 3))
    rows = ["a,b,c,t"] + [",".join(f"{v:.4f}" for v in (*r, 0.5 * r[0] - r[1] + 0.8 * r[2])) for r in x]
    (tmp_path / "seq.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    spec = tmp_path / "rnn-last.toml"
    spec.write_text("\n".join([
        'name = "rnn-last"', 'input = [3, 1]', 'loss = "mse"', 'optimizer = "adam"', "lr = 0.02", "seed = 0",
        "[[layers]]", 'kind = "rnn"', "hidden_size = 8", "last = true",
        "[[layers]]", 'kind = "linear"', "out = 1"]) + "\n", encoding="utf-8")
    assert main(["train", str(spec), "--data", str(tmp_path / "seq.csv"), "--epochs", "40", "--quiet"]) == 0
    out = capsys.readouterr().out
    losses = [float(line.split("│")[2]) for line in out.splitlines() if re.match(r"│\s+\d+ │", line)]
    assert losses[-1] < losses[0] / 2  # it learns the linear map from the sequence


def test_refusals_in_chinese(tmp_path, capsys):
    text = (resources.files("chainrule") / "specs" / "layered" / "rnn.toml").read_text(encoding="utf-8")
    bad_file = tmp_path / "bad.toml"
    bad_file.write_text(text.replace("h0 = [0.5, -0.5]", "h0 = [0.5, -0.5, 1]"), encoding="utf-8")
    assert main(["derive", str(bad_file), "--lang", "zh"]) == 2
    err = capsys.readouterr().err
    assert "layers[0]（`rnn`）：键 'h0'：应为初始隐藏状态，形状 (2,)" in err
    assert english_words(err.split("bad.toml", 1)[1]) == []  # the file's path is the user's
