"""`chainrule derive batchnorm`: batch norm's three-term gradient written out (chainrule.explain.batchnorm).

Expected numbers come from hand algebra (plain Python over the spec's numbers, read from the TOML file
itself, and a few values worked on paper below), from PyTorch run side by side (F.batch_norm and
nn.BatchNorm1d in training mode with the same γ, β, ε, and an elementary PyTorch graph for ∂L/∂μ and
∂L/∂σ²), and from finite differences of a NumPy forward written here.
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
from chainrule.explain.batchnorm import QUANTITIES, classic_mistakes, derive_batchnorm
from chainrule.layered import load_layered_spec, parse_layered


def raw_spec() -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    text = (resources.files("chainrule") / "specs" / "layered" / "batchnorm.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def by_hand(ddof=0):
    """Every quantity with plain Python over the spec's numbers (the textbook's three-path chain rule)."""
    raw = raw_spec()
    b = raw["layers"][0]
    x, t = [r[0] for r in raw["x"]], [r[0] for r in raw["y"]]
    gamma, beta, eps, lr, m = b["weight"][0], b["bias"][0], b["eps"], raw["lr"], b["momentum"]
    n = len(x)
    mu = sum(x) / n
    var = sum((v - mu) ** 2 for v in x) / (n - ddof)
    sigma = math.sqrt(var + eps)
    xhat = [(v - mu) / sigma for v in x]
    y = [gamma * h + beta for h in xhat]
    g = [a - c for a, c in zip(y, t)]
    gxhat = [gi * gamma for gi in g]
    gvar = sum(gh * (v - mu) for gh, v in zip(gxhat, x)) * -0.5 * (var + eps) ** -1.5
    gmu = sum(-gh / sigma for gh in gxhat) + gvar * sum(-2 * (v - mu) for v in x) / (n - ddof)
    direct = [gh / sigma for gh in gxhat]
    mean = [gmu / n] * n
    through_var = [gvar * 2 * (v - mu) / (n - ddof) for v in x]
    gx = [a + c + d for a, c, d in zip(direct, mean, through_var)]
    gg, gb = sum(gi * h for gi, h in zip(g, xhat)), sum(g)
    return dict(mu=mu, var=var, sigma=sigma, xhat=xhat, y=y, loss=0.5 * sum(v * v for v in g), dL_dy=g,
                dL_dgamma=gg, dL_dbeta=gb, dL_dxhat=gxhat, dL_dvar=gvar, dL_dmu=gmu, dL_dx_direct=direct,
                dL_dx_mean=mean, dL_dx_var=through_var, dL_dx=gx, gamma_after=gamma - lr * gg, beta_after=beta - lr * gb,
                running_mean=m * mu, running_var=(1 - m) + m * sum((v - mu) ** 2 for v in x) / (n - 1))


@pytest.fixture(scope="module")
def doc():
    return json.loads(derive_batchnorm(load_layered_spec("batchnorm")).to_json())


def entry(doc, key):
    hits = [e for e in doc["entries"] if e["key"] == key]
    assert len(hits) == 1, key
    return hits[0]


def flat(v):
    return np.asarray(v, dtype=float).ravel()


def test_the_spec_was_chosen_for_the_hand():
    """Worked on paper: μ = (3.7 + 7.7 + 11.3 + 17.3)/4 = 10; σ² = (6.3² + 2.3² + 1.3² + 7.3²)/4 = 99.96/4 = 24.99;
    σ = √(24.99 + 0.01) = 5; x̂_1 = −6.3/5 = −1.26; ∂L/∂y = y − t = (0.48, −0.92, 1.02, 0.42)."""
    h = by_hand()
    assert h["mu"] == pytest.approx(10) and h["var"] == pytest.approx(24.99) and h["sigma"] == pytest.approx(5)
    assert h["xhat"] == pytest.approx([-1.26, -0.46, 0.26, 1.46])
    assert h["dL_dy"] == pytest.approx([0.48, -0.92, 1.02, 0.42])
    # one term worked on paper: the σ² path of ∂L/∂x_1.
    # ∂L/∂σ² = −1/(2σ³)·Σ ∂L/∂x̂_j (x_j − μ) = −(0.96·(−6.3) + (−1.84)·(−2.3) + 2.04·1.3 + 0.84·7.3)/250
    #        = −6.968/250 = −0.027872; term = ∂L/∂σ²·2(x_1 − μ)/N = −0.027872·2·(−6.3)/4 = 0.0877968
    assert h["dL_dvar"] == pytest.approx(-0.027872) and h["dL_dx_var"][0] == pytest.approx(0.0877968)
    # the other two terms of ∂L/∂x_1: 0.96/5 = 0.192, and ∂L/∂μ/N with ∂L/∂μ = −(0.96 − 1.84 + 2.04 + 0.84)/5 = −0.4
    assert h["dL_dx_direct"][0] == pytest.approx(0.192) and h["dL_dx_mean"][0] == pytest.approx(-0.1)
    assert h["dL_dx"][0] == pytest.approx(0.1797968)
    # no term is trivially 0
    for key in ("dL_dx_direct", "dL_dx_mean", "dL_dx_var", "dL_dy", "xhat"):
        assert all(abs(v) > 1e-3 for v in h[key]), key


def test_numbers_match_hand_algebra(doc):
    h = by_hand()
    for key in QUANTITIES:
        np.testing.assert_allclose(flat(doc["grids"][key]), flat(h[key]), rtol=1e-12, atol=1e-12, err_msg=key)
    for key in ("running_mean", "running_var"):
        np.testing.assert_allclose(flat(doc["grids"][key]), flat(h[key]), rtol=1e-12, err_msg=key)
    assert doc["loss"] == pytest.approx(h["loss"])
    assert entry(doc, "mu")["value"] == pytest.approx(10) and entry(doc, "sigma")["value"] == pytest.approx(5)
    for i in range(1, 5):
        assert entry(doc, f"dL_dx_{i}")["value"] == pytest.approx(h["dL_dx"][i - 1])
        assert entry(doc, f"dL_dx_{i}_compact")["value"] == pytest.approx(h["dL_dx"][i - 1])
    assert entry(doc, "gamma_after")["value"] == pytest.approx(2 - 0.1 * 0.6968)
    assert entry(doc, "running_var")["value"] == pytest.approx(0.9 + 0.1 * 33.32)


def test_written_numbers_add_up(doc):
    """The printed three terms of each ∂L/∂x_i, added from their own printed text, give the printed total;
    the printed statistics read back from their printed sums."""
    num = lambda s: float(s.replace("−", "-").strip("() "))  # noqa: E731
    for i in range(1, 5):
        parts = entry(doc, f"dL_dx_{i}")["expression"].split(" = ")
        terms = [num(t) for t in parts[-2].split(" + ")]
        assert len(terms) == 3 and sum(terms) == pytest.approx(num(parts[-1]), rel=1e-5, abs=1e-6)
    mu = entry(doc, "mu")["expression"].split(" = ")[1]
    assert sum(num(v) for v in mu.split(")")[0].strip("(").split(" + ")) / 4 == pytest.approx(10)
    assert entry(doc, "var")["expression"].endswith("((−6.3)² + (−2.3)² + 1.3² + 7.3²)/4 = 24.99")
    assert entry(doc, "sigma")["expression"] == "√(σ² + ε) = √(24.99 + 0.01) = 5"
    assert entry(doc, "dL_dmu")["expression"].endswith("= −(0.96 + (−1.84) + 2.04 + 0.84)/5 + 0 = −0.4")


def test_against_pytorch_side_by_side(doc):
    torch = pytest.importorskip("torch")
    raw = raw_spec()
    b = raw["layers"][0]
    f64 = dict(dtype=torch.float64)
    x = torch.tensor(raw["x"], **f64, requires_grad=True)
    t = torch.tensor(raw["y"], **f64)
    w = torch.tensor(b["weight"], **f64, requires_grad=True)
    bias = torch.tensor(b["bias"], **f64, requires_grad=True)
    y = torch.nn.functional.batch_norm(x, None, None, w, bias, training=True, eps=b["eps"])
    y.retain_grad()
    loss = 0.5 * ((y - t) ** 2).sum()
    loss.backward()
    g = doc["grids"]
    assert doc["loss"] == pytest.approx(loss.item(), rel=1e-12)
    for key, ref in (("y", y.detach()), ("dL_dy", y.grad), ("dL_dgamma", w.grad), ("dL_dbeta", bias.grad),
                     ("dL_dx", x.grad)):
        np.testing.assert_allclose(flat(g[key]), ref.numpy().ravel(), rtol=1e-12, atol=1e-14, err_msg=key)
    # μ, σ² and the gradients that reach them: PyTorch's own graph of the same algebra, with retain_grad
    x2 = torch.tensor(raw["x"], **f64, requires_grad=True)
    mu = x2.mean(0, keepdim=True)
    var = x2.var(0, unbiased=False, keepdim=True)
    xhat = (x2 - mu) / torch.sqrt(var + b["eps"])
    for v in (mu, var, xhat):
        v.retain_grad()
    (0.5 * ((xhat * w.detach() + bias.detach() - t) ** 2).sum()).backward()
    for key, ref in (("mu", mu), ("var", var), ("xhat", xhat)):
        np.testing.assert_allclose(flat(g[key]), ref.detach().numpy().ravel(), rtol=1e-12, err_msg=key)
    for key, ref in (("dL_dmu", mu.grad), ("dL_dvar", var.grad), ("dL_dxhat", xhat.grad), ("dL_dx", x2.grad)):
        np.testing.assert_allclose(flat(g[key]), ref.numpy().ravel(), rtol=1e-10, atol=1e-14, err_msg=key)
    # the layer: running statistics (unbiased variance) and one SGD step
    layer = torch.nn.BatchNorm1d(1, eps=b["eps"], momentum=b["momentum"]).double()
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(b["weight"])), layer.bias.copy_(torch.tensor(b["bias"]))
    opt = torch.optim.SGD(layer.parameters(), lr=raw["lr"])
    (0.5 * ((layer(torch.tensor(raw["x"], **f64)) - t) ** 2).sum()).backward()
    opt.step()
    np.testing.assert_allclose(flat(g["running_mean"]), layer.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(flat(g["running_var"]), layer.running_var.numpy(), rtol=1e-12)
    np.testing.assert_allclose(flat(g["gamma_after"]), layer.weight.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(flat(g["beta_after"]), layer.bias.detach().numpy(), rtol=1e-12)


def test_finite_differences(doc):
    """The derivation's own check, and a central difference of a NumPy forward written here."""
    assert [c["key"] for c in doc["check"]] == ["dL_dgamma", "dL_dbeta", "dL_dx_1", "dL_dx_2", "dL_dx_3", "dL_dx_4"]
    for c in doc["check"]:
        assert c["relative_error"] < 1e-6 and c["numeric"] == pytest.approx(c["engine"], rel=1e-6)
    raw = raw_spec()
    b = raw["layers"][0]
    t = np.array(raw["y"], dtype=float).ravel()

    def loss(x):
        xhat = (x - x.mean()) / np.sqrt(x.var() + b["eps"])
        return 0.5 * np.sum((b["weight"][0] * xhat + b["bias"][0] - t) ** 2)

    x0 = np.array(raw["x"], dtype=float).ravel()
    h = 1e-6
    numeric = [(loss(x0 + h * e) - loss(x0 - h * e)) / (2 * h) for e in np.eye(len(x0))]
    np.testing.assert_allclose(flat(doc["grids"]["dL_dx"]), numeric, rtol=1e-6)


def test_classic_mistakes_are_the_mistaken_computations():
    spec = load_layered_spec("batchnorm")
    wrong = classic_mistakes(spec)
    assert {"missing_mean_terms", "missing_variance_term", "unbiased_variance"} <= set(wrong)
    h = by_hand()
    gamma, sigma = 2, h["sigma"]
    # μ and σ held constant: ∂L/∂x = (γ/σ)·∂L/∂y
    np.testing.assert_allclose(flat(wrong["missing_mean_terms"]["dL_dx"]), [gamma / sigma * g for g in h["dL_dy"]])
    # σ² held constant: the direct term and the μ term, no σ² term
    np.testing.assert_allclose(flat(wrong["missing_variance_term"]["dL_dx"]),
                               [a + c for a, c in zip(h["dL_dx_direct"], h["dL_dx_mean"])])
    # σ² over N − 1: the whole step downstream of it, as the hand algebra with ddof = 1 gives
    u = by_hand(ddof=1)
    assert u["var"] == pytest.approx(33.32)
    for key in ("var", "sigma", "xhat", "y", "dL_dy", "dL_dgamma", "dL_dxhat", "dL_dvar", "dL_dx", "gamma_after"):
        np.testing.assert_allclose(flat(wrong["unbiased_variance"][key]), flat(u[key]), rtol=1e-10, err_msg=key)
    # each mistake lists only what it changes, and every listed quantity differs from the right one
    right = json.loads(derive_batchnorm(spec).to_json())["grids"]
    for name, quantities in wrong.items():
        assert quantities, name
        for key, value in quantities.items():
            assert key in right, (name, key)
            assert not np.allclose(flat(value), flat(right[key])), (name, key)
    assert "dL_dx_direct" not in wrong["missing_mean_terms"] and "dL_dbeta" not in wrong["unbiased_variance"]
    assert wrong["running_var_biased"]["running_var"] == pytest.approx(0.9 + 0.1 * 24.99)


def test_json_names_every_quantity(doc):
    assert doc["format"] == "chainrule-derivation" and doc["kind"] == "batch_norm"
    assert doc["spec"]["batch"] == 4 and doc["spec"]["eps"] == 0.01 and doc["spec"]["momentum"] == 0.1
    assert set(QUANTITIES) <= set(doc["grids"])
    assert {"x", "t", "gamma", "beta", "running_mean", "running_var"} <= set(doc["grids"])
    assert entry(doc, "gamma_after")["relation"] == "←" and entry(doc, "mu")["relation"] == "="
    keys = [e["key"] for e in doc["entries"]]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("fmt", ["md", "text", "json"])
def test_cli_formats(capsys, fmt):
    assert main(["derive", "batchnorm", "--format", fmt]) == 0
    out = capsys.readouterr().out
    assert "∂L/∂x" in out or r"\partial x" in out
    assert ("\\begin{aligned}" in out) == (fmt == "md")


@pytest.mark.parametrize("fmt", ["md", "text"])
def test_zh_has_no_english_words(capsys, fmt):
    main(["derive", "batchnorm", "--lang", "zh", "--format", fmt])
    out = capsys.readouterr().out
    assert "三条路径" in out and "有偏方差" in out
    assert english_words(out) == []


def test_check_command(capsys):
    assert main(["check", "batchnorm"]) == 0
    out = capsys.readouterr().out
    assert "layers[0].weight[0]" in out and "all 2 gradients pass" in out


def with_block(**changes):
    raw = copy.deepcopy(raw_spec())
    raw["layers"][0].update(changes)
    return raw


@pytest.mark.parametrize("raw, match", [
    (with_block(eps=0), r"bad\.toml: layers\[0\] \(batchnorm\): key 'eps': must be > 0"),
    (with_block(eps="small"), r"layers\[0\] \(batchnorm\): key 'eps': expected a number"),
    (with_block(momentum=2), r"layers\[0\] \(batchnorm\): key 'momentum': expected a number from 0 to 1"),
    (with_block(weight=[1, 2]), r"layers\[0\] \(batchnorm\): key 'weight': expected 1 number\(s\)"),
    (with_block(bias=["b"]), r"layers\[0\] \(batchnorm\): key 'bias': expected nested lists of numbers"),
    (with_block(affine=False), r"layers\[0\] \(batchnorm\): unknown key\(s\) affine"),
    ({**raw_spec(), "y": [[1], [2], [3]]}, r"bad\.toml: key 'y': x is a batch of 4, so y needs one target per sample"),
    ({**raw_spec(), "x": [[1, 2], [3, 4]]}, r"bad\.toml: key 'x': expected one sample of shape \(1,\) or a batch"),
])
def test_bad_spec_keys_name_file_block_and_key(raw, match):
    with pytest.raises(SpecError, match=match):
        parse_layered(raw, "bad.toml")


def test_derive_refusals(capsys):
    assert main(["derive", "batchnorm", "--format", "latex"]) == 2
    assert "md, text, json only" in capsys.readouterr().err
    raw = raw_spec()
    raw["input"], raw["x"], raw["y"] = [2], [[1, 2], [3, 5], [4, 4]], [[0, 0], [1, 1], [2, 2]]
    raw["layers"][0].update(weight=[1, 1], bias=[0, 0])
    with pytest.raises(SpecError, match=r"key 'input': derive writes out batch norm over one feature"):
        derive_batchnorm(parse_layered(raw, "wide.toml"))
    raw = raw_spec()
    raw["x"], raw["y"] = [3.0], [1.0]
    with pytest.raises(SpecError, match="derive needs a batch fixed in the spec"):
        derive_batchnorm(parse_layered(raw, "one.toml"))
    with pytest.raises(SpecError, match="one batchnorm block"):
        derive_batchnorm(load_layered_spec("conv"))


@pytest.mark.parametrize("lang, name", [("en", "derivation-batchnorm.md"), ("zh", "derivation-batchnorm-zh.md")])
def test_docs_are_the_command_output(capsys, lang, name):
    """docs/derivation-batchnorm*.md are `chainrule derive batchnorm --out ...` as it is (regenerate them when it
    changes); the finite-difference check's last digits are masked (they depend on the platform's rounding)."""
    from pathlib import Path

    doc = Path(__file__).resolve().parents[1] / "docs" / name
    main(["derive", "batchnorm", "--lang", lang, "--format", "md"])
    mask = re.compile(r"\d\.\de-\d+")
    assert mask.sub("ε", capsys.readouterr().out) == mask.sub("ε", doc.read_text(encoding="utf-8"))


@pytest.mark.parametrize("training, eps", [(True, 0.0), (True, -1e-3), (False, -1e-3)])
def test_batch_norm_refuses_eps_as_pytorch(training, eps):
    """ε = 0 is why the spec sets ε = 0.01: PyTorch refuses it in training, and so does the engine."""
    torch = pytest.importorskip("torch")
    import chainrule as cr
    import chainrule.nn.functional as F

    x = np.arange(4.0).reshape(4, 1)
    args = (np.zeros(1), np.ones(1))
    with pytest.raises(ValueError) as theirs:
        torch.nn.functional.batch_norm(torch.tensor(x), *map(torch.tensor, args), training=training, eps=eps)
    with pytest.raises(ValueError) as ours:
        F.batch_norm(cr.tensor(x), *map(cr.tensor, args), training=training, eps=eps)
    assert str(ours.value) == str(theirs.value)
    F.batch_norm(cr.tensor(x), *map(cr.tensor, args), training=False, eps=0.0)  # allowed in evaluation, as PyTorch


def test_a_batch_in_a_conv_spec_is_refused_by_derive_conv_and_checked_by_check():
    """x may now be a batch in any layered spec: derive conv writes out one sample and says so; check takes it."""
    from chainrule.check import check_layered
    from chainrule.explain.conv import derive_conv

    conv = load_layered_spec("conv")
    raw = {"name": "conv2", "input": [1, 4, 4], "loss": "half_sse", "optimizer": "sgd", "lr": 0.01,
           "x": [conv.x.tolist()] * 2, "y": [conv.y.tolist()] * 2,
           "layers": [{"kind": "conv2d", "out_channels": 1, "kernel_size": 2, "bias": False,
                       "weight": conv.blocks[0]["weight"]}]}
    spec = parse_layered(raw, "conv2.toml")
    with pytest.raises(SpecError, match=r"conv2\.toml: key 'x': derive writes out a convolution of one sample"):
        derive_conv(spec)
    rows = check_layered(spec, use_torch=False)
    assert rows and all(r.ok for r in rows)
    # two copies of the sample under ½Σ(y − t)²: twice the one-sample gradient
    single = check_layered(conv, use_torch=False)
    assert [r.engine for r in rows] == pytest.approx([2 * r.engine for r in single])
