"""`chainrule derive lenet-digits`: the matrix form of a layered spec (chainrule.explain.layered_matrix).

Expected numbers come from PyTorch: the same network built block by block with torch.nn from the
engine network's state_dict, run on the same sample, retain_grad on every block, and torch's Adam for
the step. The op rules are read from the op classes themselves.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from test_zh import english_words

from chainrule.cli import main
from chainrule.errors import SpecError
from chainrule.explain.layered_matrix import MAX_PARAMS, derive_layered_matrix
from chainrule.layered import LayeredNetwork, load_layered_spec
from chainrule.ops.base import REGISTRY

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def lenet():
    spec = load_layered_spec("lenet-digits")
    return spec, derive_layered_matrix(spec).to_dict()


def torch_twin(spec):
    """torch.nn modules, one per engine module, with the engine network's initial weights (float64)."""
    net = LayeredNetwork(spec).double_exact()
    mods = []
    for m in net.body:
        name = type(m).__name__
        if name == "Conv2d":
            t = torch.nn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding).double()
        elif name == "BatchNorm2d":
            t = torch.nn.BatchNorm2d(m.num_features, eps=m.eps, momentum=m.momentum).double()
        elif name == "AvgPool2d":
            t = torch.nn.AvgPool2d(m.kernel_size, m.stride)
        elif name in ("Tanh", "Sigmoid"):
            t = getattr(torch.nn, name)()
        elif name == "Linear":
            t = torch.nn.Linear(m.in_features, m.out_features).double()
        elif name == "ReLU":
            t = torch.nn.ReLU()
        elif name == "MaxPool2d":
            t = torch.nn.MaxPool2d(m.kernel_size, m.stride)
        elif name == "Flatten":
            t = torch.nn.Flatten()
        else:
            raise AssertionError(name)
        with torch.no_grad():
            for k, v in m.named_parameters():
                getattr(t, k).copy_(torch.from_numpy(np.array(v.array, dtype=np.float64)))
        mods.append(t)
    return mods


def digits_first():
    from chainrule.data.datasets import load_digits

    images, labels = load_digits()
    return torch.from_numpy(images[:1].astype(np.float64)), torch.from_numpy(labels[:1].astype(np.int64))


def close(shown, expected, **kw):
    np.testing.assert_allclose(np.asarray(shown, dtype=float), np.asarray(expected, dtype=float), rtol=1e-9,
                               atol=1e-12, **kw)


def test_values_and_gradients_equal_torch(lenet):
    spec, d = lenet
    mods = torch_twin(spec)
    x, label = digits_first()
    x.requires_grad_(True)
    assert d["sample"]["source"] == "digits" and d["sample"]["y"] == str(int(label[0])) and d["sample"]["n"] == 1
    close(d["sample"]["x"]["head"], x.detach()[0, 0, :4, :6])
    outs, h = [], x
    for m in mods:
        h = m(h)
        h.retain_grad()
        outs.append(h)
    loss = torch.nn.functional.cross_entropy(h, label)
    loss.backward()
    assert d["loss"] == pytest.approx(loss.item(), rel=1e-12)
    assert len(d["blocks"]) == len(mods)
    for b, m, out in zip(d["blocks"], mods, outs):
        val, grad = out.detach().numpy(), out.grad.numpy()
        lead = (0,) * (val.ndim - 2)
        close(b["value"]["head"], val[lead][:4, :6])
        close(b["grad_out"]["head"], grad[lead][:4, :6])
        assert b["value"]["mean"] == pytest.approx(val.mean(), rel=1e-9, abs=1e-15)
        assert b["value"]["max_abs"] == pytest.approx(np.abs(val).max(), rel=1e-12)
        assert b["shape_out"] == list(val.shape)
        for name, g in b["grads"].items():
            tg = dict(m.named_parameters())[name.split(".")[-1]].grad.numpy()
            close(g["head"], (tg[(0,) * (tg.ndim - 2)] if tg.ndim >= 2 else tg[None])[:4, :6])
            assert g["norm"] == pytest.approx(np.linalg.norm(tg), rel=1e-9)
    close(d["blocks"][0]["grad_in"]["head"], x.grad[0, 0, :4, :6])
    # the step: torch's Adam with the spec's settings, then the loss on the same sample
    params = [p for m in mods for p in m.parameters()]
    opt = torch.optim.Adam(params, lr=spec.lr, betas=spec.betas, eps=spec.eps)
    before = [p.detach().clone() for p in params]
    opt.step()
    for u, p, b0 in zip(d["update"], params, before):
        assert u["step_norm"] == pytest.approx((p.detach() - b0).norm().item(), rel=1e-9)
    with torch.no_grad():
        h = x
        for m in mods:
            h = m(h)
        assert d["loss_after"] == pytest.approx(torch.nn.functional.cross_entropy(h, label).item(), rel=1e-9)


def test_finite_difference_entries_pass_and_match_torch(lenet):
    spec, d = lenet
    mods = torch_twin(spec)
    x, label = digits_first()
    h = x
    for m in mods:
        h = m(h)
    torch.nn.functional.cross_entropy(h, label).backward()
    grads = {}
    for i, m in enumerate(mods):
        for k, p in m.named_parameters():
            grads[(i, k)] = p.grad.numpy()
    block_of = {b["block"]: b["module"] for b in d["blocks"] if b["kind"] != "activation"}
    assert [b["block"] for b in d["blocks"]] == [0, 0, 1, 2, 2, 3, 4, 5]  # an activation belongs to its block
    assert len(d["check"]) >= 2 * len(grads)
    for c in d["check"]:
        assert c["rel_error"] < 1e-6
        blk, attr = re.fullmatch(r"layers\[(\d+)\]\.(\w+)", c["param"]).groups()
        expected = grads[(block_of[int(blk)], attr)][tuple(c["index"])]
        assert c["fd"] == pytest.approx(expected, rel=1e-6, abs=1e-9)


def test_rules_are_the_ops_own(lenet):
    spec, d = lenet
    text = derive_layered_matrix(spec).text()
    seen = set()
    for b in d["blocks"]:
        for r in b["ops"]:
            op = REGISTRY[r["op"]]
            assert (r["formula_latex"], r["derivative_latex"]) == (op.formula_latex, op.derivative_latex)
            assert r["formula"] == op.formula and r["derivative"] == op.derivative
            assert op.formula in text and op.derivative in text
            seen.add(r["op"])
    assert {"conv2d", "relu", "max_pool2d", "reshape", "linear"} <= seen
    assert [r["op"] for r in d["loss_ops"]] == ["cross_entropy"]


def test_json_keys_are_stable(lenet):
    _, d = lenet
    assert set(d) == {"format", "version", "kind", "spec", "lang", "precision", "n_params", "sample", "blocks",
                      "loss", "loss_ops", "update", "loss_after", "check"}
    assert d["kind"] == "layered-matrix" and d["n_params"] == 16 * 9 + 16 + 32 * 16 * 9 + 32 + 1280 + 10
    for b in d["blocks"]:
        assert set(b) == {"module", "block", "kind", "name", "hyper", "params", "shape_in", "shape_out", "ops",
                          "value", "grad_out", "grad_in", "grads"}
        assert set(b["value"]) == {"shape", "slice", "head", "mean", "max_abs", "norm"}
    assert set(d["check"][0]) == {"param", "index", "engine", "fd", "rel_error"}
    assert set(d["update"][0]) == {"param", "shape", "grad_norm", "step_norm"}


@pytest.mark.parametrize("fmt", ["md", "text"])
def test_zh_has_no_english_words(capsys, fmt):
    main(["derive", "lenet-digits", "--lang", "zh", "--format", fmt])
    out = capsys.readouterr().out
    assert "反向传播" in out
    assert english_words(out) == []


def test_cli_writes_lenet_and_keeps_the_tiny_refusal(capsys):
    assert main(["derive", "lenet-digits", "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["kind"] == "layered-matrix" and [b["kind"] for b in d["blocks"]][:3] == ["conv2d", "activation", "maxpool2d"]
    assert main(["derive", "lenet-digits", "--form", "tiny"]) != 0  # asked for the tiny form: its refusal
    assert "made of one conv2d block" in capsys.readouterr().err
    main(["derive", "conv", "--format", "json"])  # the tiny one stays the default where it applies
    assert json.loads(capsys.readouterr().out)["kind"] == "conv2d"
    main(["derive", "conv", "--form", "matrix", "--format", "json"])
    d = json.loads(capsys.readouterr().out)
    assert d["kind"] == "layered-matrix" and d["sample"]["source"] == "fixed"


def test_refuses_beyond_the_size(tmp_path):
    path = tmp_path / "big.toml"
    path.write_text('name = "big"\ninput = [600]\nloss = "mse"\n[[layers]]\nkind = "linear"\nout = 500\n',
                    encoding="utf-8")
    spec = load_layered_spec(str(path))
    with pytest.raises(SpecError, match=f"up to {MAX_PARAMS:,} parameters"):
        derive_layered_matrix(spec)


def test_output_is_bounded(lenet):
    spec, _ = lenet
    text = derive_layered_matrix(spec).text()
    assert max(len(line) for line in text.splitlines()) < 600  # the longest: conv2d's own written rule
    assert len(text.splitlines()) < 60 * 8  # at most a page per module


@pytest.mark.parametrize("lang, name", [("en", "derivation-lenet-digits.md"), ("zh", "derivation-lenet-digits-zh.md")])
def test_docs_are_the_command_output(capsys, lang, name):
    """docs/derivation-lenet-digits*.md are `chainrule derive lenet-digits --format md` as it is; the
    finite-difference relative errors are masked (they depend on the platform's rounding)."""
    doc = Path(__file__).resolve().parents[1] / "docs" / name
    main(["derive", "lenet-digits", "--lang", lang, "--format", "md"])
    mask = re.compile(r"\d\.\de[-+]\d+")
    assert mask.sub("ε", capsys.readouterr().out) == mask.sub("ε", doc.read_text(encoding="utf-8"))


MIXED = """name = "mixed"
input = [2, 6, 6]
loss = "mse"
optimizer = "sgd"
lr = 0.1
seed = 3
[[layers]]
kind = "conv2d"
out_channels = 3
kernel_size = 3
padding = 1
activation = "tanh"
[[layers]]
kind = "batchnorm"
[[layers]]
kind = "avgpool2d"
kernel_size = 2
[[layers]]
kind = "conv2d"
out_channels = 4
kernel_size = 2
activation = "sigmoid"
[[layers]]
kind = "flatten"
[[layers]]
kind = "linear"
out = 2
"""


def test_other_blocks_on_a_seeded_random_sample_equal_torch(tmp_path):
    """A spec without x/y (batch norm, average pooling, tanh, sigmoid, mse, SGD): the batch is the seeded
    normal draw the derivation states, the targets zeros; every block and the SGD step as PyTorch's."""
    path = tmp_path / "mixed.toml"
    path.write_text(MIXED, encoding="utf-8")
    spec = load_layered_spec(str(path))
    d = derive_layered_matrix(spec).to_dict()
    assert d["sample"]["source"] == "random" and d["sample"]["seed"] == 3
    assert d["sample"]["n"] == 4  # batch norm: a batch of 4 rather than one sample
    mods = torch_twin(spec)
    x = torch.from_numpy(np.random.default_rng(3).standard_normal((4, 2, 6, 6))).requires_grad_(True)
    outs, h = [], x
    for m in mods:
        h = m(h)
        h.retain_grad()
        outs.append(h)
    loss = torch.nn.functional.mse_loss(h, torch.zeros_like(h))
    loss.backward()
    assert d["loss"] == pytest.approx(loss.item(), rel=1e-10)
    assert [b["name"] for b in d["blocks"]] == [type(m).__name__ for m in mods]
    for b, m, out in zip(d["blocks"], mods, outs):
        lead = (0,) * (out.ndim - 2)
        close(b["value"]["head"], out.detach().numpy()[lead][:4, :6])
        close(b["grad_out"]["head"], out.grad.numpy()[lead][:4, :6])
        for name, g in b["grads"].items():
            assert g["norm"] == pytest.approx(dict(m.named_parameters())[name.split(".")[-1]].grad.norm().item(),
                                              rel=1e-9)
    close(d["blocks"][0]["grad_in"]["head"], x.grad[0, 0, :4, :6])
    params = [p for m in mods for p in m.parameters()]
    for u, p in zip(d["update"], params):
        assert u["step_norm"] == pytest.approx(spec.lr * p.grad.norm().item(), rel=1e-9)  # SGD: ‖Δw‖ = η‖g‖
    assert all(c["rel_error"] < 1e-6 for c in d["check"])


def test_size_refusal_in_chinese(tmp_path, capsys):
    path = tmp_path / "big.toml"
    path.write_text('name = "big"\ninput = [600]\nloss = "mse"\n[[layers]]\nkind = "linear"\nout = 500\n',
                    encoding="utf-8")
    assert main(["derive", str(path), "--lang", "zh"]) != 0
    err = capsys.readouterr().err
    assert "300,500" in err and "big.toml" in err
    assert english_words(err.replace(str(tmp_path), "").replace("chainrule derive", "")) == []


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_form_is_refused_for_fully_connected_specs(capsys, lang):
    assert main(["derive", "seed", "--form", "matrix", "--lang", lang]) != 0
    err = capsys.readouterr().err
    assert "--form" in err and "matrix" in err and "seed" in err
    if lang == "zh":
        assert english_words(err.replace("chainrule derive", "")) == []
