"""Exported scripts of layered specs (conv2d, pooling, batch norm, dropout, flatten, linear) run as they are
and print PyTorch's numbers.

The reference is PyTorch, built here block by block from the spec (torch.nn.Conv2d ...), with the same
starting weights and sample, its autograd and torch.optim; for the shipped conv, also central finite
differences of a loss written with plain loops here.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from chainrule.cli import main
from chainrule.export import ExportError, export
from chainrule.export.layered import record
from chainrule.layered import load_layered_spec, shipped_layered_specs

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from test_zh import english_words  # noqa: E402

LINE = re.compile(r"^epoch (\d+) (prediction|d_x|updated) (.*?)(?: loss (\S+))?$")

RNG = np.random.default_rng(11)
ZOO = f"""
name = "zoo"
input = [2, 8, 8]
loss = "mse"
optimizer = "adam"
lr = 0.05
seed = 3
x = {np.round(RNG.standard_normal((2, 8, 8)), 3).tolist()}
y = [0.2, 0.7, 0.4]

[[layers]]
kind = "conv2d"
out_channels = 4
kernel_size = 3
stride = 2
padding = 1
activation = "relu"

[[layers]]
kind = "batchnorm"

[[layers]]
kind = "conv2d"
out_channels = 4
kernel_size = 2
dilation = 2
groups = 2
padding = 1
activation = "tanh"

[[layers]]
kind = "avgpool2d"
kernel_size = 2
stride = 1
padding = 1

[[layers]]
kind = "maxpool2d"
kernel_size = 3
stride = 2
padding = 1

[[layers]]
kind = "dropout"
p = 0.3

[[layers]]
kind = "flatten"

[[layers]]
kind = "linear"
out = 3
activation = "sigmoid"
"""

BATCH = """
name = "batch"
input = [3, 6, 6]
loss = "cross_entropy"
optimizer = "momentum"
momentum = 0.8
lr = 0.1
seed = 7

[[layers]]
kind = "conv2d"
out_channels = 4
kernel_size = 3
padding = 1
activation = "leaky_relu"

[[layers]]
kind = "maxpool2d"
kernel_size = 2

[[layers]]
kind = "flatten"

[[layers]]
kind = "batchnorm"

[[layers]]
kind = "linear"
out = 5
bias = false
"""


@pytest.fixture(scope="module")
def specs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("layered")
    paths = {name: name for name in STEPS if name in SHIPPED}
    for name, text in (("zoo", ZOO), ("batch", BATCH), ("rnn-last", RNN)):
        if name not in STEPS:
            continue
        path = folder / f"{name}.toml"
        path.write_text(text, encoding="utf-8")
        paths[name] = str(path)
    return paths


RNN = """
name = "rnn-last"
input = [4, 2]
loss = "cross_entropy"
optimizer = "adam"
lr = 0.05
seed = 5

[[layers]]
kind = "rnn"
hidden_size = 3
nonlinearity = "relu"
last = true

[[layers]]
kind = "linear"
out = 3
"""
SHIPPED = set(shipped_layered_specs())
STEPS = {"conv": 1, "conv-pool": 2, "lenet-digits": 1, "zoo": 3, "batch": 2}
STEPS.update({name: 2 for name in ("batchnorm", "rnn") if name in SHIPPED})   # other helpers' specs, once on main
if "rnn" in SHIPPED:
    STEPS["rnn-last"] = 2


def run_printed(path) -> list[dict]:
    """Per epoch: prediction, loss, d_x (when printed) and the updated parameters, as the script printed them."""
    done = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{path} failed:\n{done.stderr[-3000:]}"
    epochs: list[dict] = []
    for line in done.stdout.strip().splitlines():
        m = LINE.match(line)
        assert m, f"unexpected line {line[:120]!r}"
        k, what, value, loss = int(m.group(1)), m.group(2), m.group(3), m.group(4)
        if what == "prediction":
            assert k == len(epochs)
            epochs.append({"prediction": np.array(ast.literal_eval(value)), "loss": float(loss)})
        else:
            assert k == len(epochs) - 1
            parsed = ast.literal_eval(value)
            epochs[-1][what] = ({n: np.array(v) for n, v in parsed.items()} if what == "updated" else np.array(parsed))
    return epochs


def TorchSequenceRNN(torch, features, b):  # noqa: N802
    """An rnn block as the spec describes it: torch.nn.RNN(batch_first) from h0, every step's state or the last."""

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = torch.nn.RNN(features, b["hidden_size"], nonlinearity=b.get("nonlinearity", "tanh"),
                                    bias=b.get("bias", True), batch_first=True, dtype=torch.float64)

        def forward(self, x):
            h0 = None if "h0" not in b else torch.tensor(b["h0"], dtype=torch.float64).expand(1, x.shape[0], -1).contiguous()
            out, _ = self.rnn(x, h0)
            return out[:, -1] if b.get("last", False) else out

    return Block()


def torch_reference(spec_source, steps) -> list[dict]:
    """The spec's network built here in PyTorch, block by block, on the sample and starting weights the
    export recorded (inputs, not results), with PyTorch's autograd and optimizer."""
    torch = pytest.importorskip("torch")
    spec = load_layered_spec(spec_source)
    rec = record(spec)
    acts = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid, "leaky_relu": torch.nn.LeakyReLU}
    mods, shape, params = [], tuple(spec.input_shape), {}
    for k, b in enumerate(spec.blocks):
        kind = b["kind"]
        if kind == "conv2d":
            m = torch.nn.Conv2d(shape[0], b["out_channels"], b["kernel_size"], stride=b.get("stride", 1),
                                padding=b.get("padding", 0), dilation=b.get("dilation", 1), groups=b.get("groups", 1),
                                bias=b.get("bias", True), dtype=torch.float64)
        elif kind == "maxpool2d":
            m = torch.nn.MaxPool2d(b["kernel_size"], b.get("stride"), b.get("padding", 0))
        elif kind == "avgpool2d":
            m = torch.nn.AvgPool2d(b["kernel_size"], b.get("stride"), b.get("padding", 0))
        elif kind == "batchnorm":
            m = (torch.nn.BatchNorm2d if len(shape) == 3 else torch.nn.BatchNorm1d)(
                shape[0], eps=b.get("eps", 1e-5), momentum=b.get("momentum", 0.1), dtype=torch.float64)
        elif kind == "dropout":
            m = torch.nn.Dropout(b.get("p", 0.5)).eval()   # the export's stated choice: the identity
        elif kind == "flatten":
            m = torch.nn.Flatten()
        elif kind == "rnn":
            m = TorchSequenceRNN(torch, shape[-1], b)
        else:
            m = torch.nn.Linear(shape[-1], b["out"], bias=b.get("bias", True), dtype=torch.float64)
        for attr, p in m.named_parameters():
            params[f"layers[{k}].{attr.removeprefix('rnn.')}"] = p
        mods.append(m)
        if b.get("activation", "none") != "none":
            mods.append(acts[b["activation"]]())
        with torch.no_grad():
            shape = tuple(torch.nn.Sequential(*mods)(torch.zeros((2, *spec.input_shape), dtype=torch.float64)).shape[1:])
    model = torch.nn.Sequential(*mods)
    with torch.no_grad():
        for var, (label, _) in rec.params.items():
            params[label].copy_(torch.tensor(rec.initial[var]))
    x = torch.tensor(np.asarray(rec.x.array), requires_grad=rec.fixed)
    target = torch.tensor(np.asarray(rec.target.array))
    if spec.optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=spec.lr, betas=spec.betas, eps=spec.eps)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=spec.lr, momentum=spec.momentum if spec.optimizer == "momentum" else 0)
    out = []
    for _ in range(steps):
        pred = model(x)
        if spec.loss == "half_sse":
            loss = 0.5 * ((pred - target) ** 2).sum()
        elif spec.loss == "mse":
            loss = torch.nn.functional.mse_loss(pred, target)
        else:
            loss = torch.nn.functional.cross_entropy(pred, target)
        opt.zero_grad()
        x.grad = None
        loss.backward()
        opt.step()
        out.append({"prediction": pred.detach().numpy(), "loss": loss.item(),
                    "d_x": None if x.grad is None else x.grad.numpy().copy(),
                    "updated": {n: p.detach().numpy().copy() for n, p in params.items()}})
    return out


@pytest.fixture(scope="module")
def scripts(specs, tmp_path_factory):
    folder = tmp_path_factory.mktemp("scripts")
    paths = {}
    for name, source in specs.items():
        for to in ("numpy", "torch"):
            path = folder / f"{name}_{to}.py"
            path.write_text(export(source, to, steps=STEPS[name]), encoding="utf-8")
            paths[name, to] = path
    return paths


@pytest.mark.parametrize("to", ["numpy", "torch"])
@pytest.mark.parametrize("name", list(STEPS))
def test_layered_script_prints_pytorchs_numbers(specs, scripts, name, to):
    if to == "torch":
        pytest.importorskip("torch")
    printed = run_printed(scripts[name, to])
    want = torch_reference(specs[name], STEPS[name])
    assert len(printed) == len(want) == STEPS[name]
    for k, (got, ref) in enumerate(zip(printed, want)):
        what = f"{name} --to {to}, epoch {k}"
        np.testing.assert_allclose(got["prediction"], ref["prediction"], rtol=1e-10, atol=1e-12, err_msg=f"{what}: prediction")
        np.testing.assert_allclose(got["loss"], ref["loss"], rtol=1e-10, atol=1e-12, err_msg=f"{what}: loss")
        assert ("d_x" in got) == (ref["d_x"] is not None)
        if ref["d_x"] is not None:
            np.testing.assert_allclose(got["d_x"], ref["d_x"], rtol=1e-10, atol=1e-12, err_msg=f"{what}: ∂L/∂x")
        assert set(got["updated"]) == set(ref["updated"])
        for n, v in ref["updated"].items():
            np.testing.assert_allclose(got["updated"][n], v, rtol=1e-10, atol=1e-12, err_msg=f"{what}: {n}")


def test_conv_kernel_gradient_agrees_with_finite_differences(scripts):
    """∂L/∂k from the NumPy script's update ((k_before − k_after)/lr) against central differences of
    ½Σ(y − t)², the convolution written here as plain loops."""
    spec = load_layered_spec("conv")
    x, t = spec.x[0], spec.y[0]
    k0 = np.asarray(spec.blocks[0]["weight"], dtype=float)[0, 0]

    def loss(k):
        y = np.array([[sum(k[i, j] * x[r + i, c + j] for i in range(2) for j in range(2)) for c in range(3)]
                      for r in range(3)])
        return 0.5 * ((y - t) ** 2).sum()

    numeric = np.zeros_like(k0)
    for index in np.ndindex(k0.shape):
        step = np.zeros_like(k0)
        step[index] = 1e-6
        numeric[index] = (loss(k0 + step) - loss(k0 - step)) / 2e-6
    printed = run_printed(scripts["conv", "numpy"])[0]
    grad = (k0 - printed["updated"]["layers[0].weight"][0, 0]) / spec.lr
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)
    assert printed["loss"] == pytest.approx(loss(k0), rel=1e-12)


@pytest.mark.parametrize("name", list(STEPS))
def test_numpy_script_imports_nothing_but_numpy(specs, scripts, name):
    tree = ast.parse(scripts[name, "numpy"].read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in ("__import__", "exec", "eval", "open")
    assert imported == {"numpy"}


def test_numpy_script_writes_the_rules_it_teaches(scripts):
    """Forward by sliding windows and one einsum, ∂L/∂k as a correlation, ∂L/∂x as the full convolution
    with the flipped kernel, max pooling routed to the arg-max, batch norm's three terms."""
    conv = scripts["conv-pool", "numpy"].read_text(encoding="utf-8")
    assert "sliding_window_view" in conv and "np.einsum('ncyxij,ocij->noyx'" in conv
    assert "the correlation of the input with ∂L/∂z" in conv
    assert "the full convolution of ∂L/∂z with the flipped kernel" in conv and "[:, :, ::-1, ::-1]" in conv
    assert ".argmax(axis=-1)" in conv and "np.add.at(" in conv
    zoo = scripts["zoo", "numpy"].read_text(encoding="utf-8")
    assert "the three terms" in zoo and "written as the identity (evaluation mode)" in zoo
    assert "for i in range(" not in conv   # no loop over pixels (avg pooling's loop runs over kernel offsets)


@pytest.mark.parametrize("to", ["numpy", "torch"])
@pytest.mark.parametrize("name", list(STEPS))
def test_zh_layered_exports_have_chinese_comments_and_the_same_code(specs, name, to):
    en, zh = export(specs[name], to=to), export(specs[name], to=to, lang="zh")
    code = lambda text: [ln.split("#")[0].rstrip() for ln in text.split('"""', 2)[2].splitlines()]  # noqa: E731
    assert code(en) == code(zh)
    prose = zh.split('"""', 2)[1] + "\n".join(ln.split("#", 1)[1] for ln in zh.splitlines() if "#" in ln)
    prose = re.sub(r"print\(.*", " ", prose)
    assert re.search(r"[\u4e00-\u9fff]", prose)
    assert english_words(prose) == []


@pytest.mark.parametrize("lang, words", [("en", ["--to python", "layered spec", "--to numpy", "--to torch"]),
                                         ("zh", ["--to python", "分层设定", "--to numpy", "--to torch"])])
def test_scalar_export_of_a_layered_spec_refuses_clearly(lang, words):
    with pytest.raises(ExportError) as info:
        export("conv", to="python", lang=lang)
    for word in words:
        assert word in str(info.value)
    assert "conv" in str(info.value)


def test_cli_refusal_and_unknown_kinds(capsys, specs):
    assert main(["export", "conv-pool", "--to", "python"]) != 0
    assert "--to numpy" in capsys.readouterr().err
    spec = load_layered_spec(specs["batch"])
    spec.blocks[2] = {"kind": "lstm"}   # a kind export does not write (yet)
    with pytest.raises(ExportError, match=r"layers\[2\] has kind 'lstm'.*conv2d"):
        record(spec)


def test_an_op_without_a_numpy_rule_is_named(tmp_path):
    path = tmp_path / "g.toml"
    path.write_text(BATCH.replace('activation = "leaky_relu"', 'activation = "gelu"'), encoding="utf-8")
    with pytest.raises(ExportError, match="gelu.*NumPy.*--to torch"):
        export(str(path), to="numpy")
    assert "torch.nn.GELU(approximate='none')" in export(str(path), to="torch")


def test_export_out_is_written_atomically(tmp_path, monkeypatch):
    import chainrule.io as cio

    calls = []
    real = cio.atomic_write
    monkeypatch.setattr(cio, "atomic_write", lambda path, text, *a, **k: (calls.append(path), real(path, text, *a, **k))[1])
    out = tmp_path / "conv_numpy.py"
    assert main(["export", "conv", "--to", "numpy", "--out", str(out)]) == 0
    assert calls == [str(out)]
    assert out.read_text(encoding="utf-8") == export("conv", to="numpy")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["conv_numpy.py"]   # no temporary file left behind


def test_a_network_too_large_to_write_out_is_refused(monkeypatch):
    import chainrule.export.layered as layered
    from chainrule.errors import SpecError

    monkeypatch.setattr(layered, "MAX_PARAMETERS", 1000)
    with pytest.raises(SpecError, match=r"lenet-digits.*6090 parameters.*at most 1000.*chainrule train"):
        export("lenet-digits", to="numpy")


def test_state_lines_name_one_zero_array_per_weight_and_optimizer_slot():
    from chainrule.export.graph import state_lines

    assert state_lines("sgd", ["W1"]) == []
    assert state_lines("momentum", ["W1", "b1"]) == ["", "# Momentum buffers", "buf_W1 = np.zeros_like(W1)", "buf_b1 = np.zeros_like(b1)"]
    adam = state_lines("adam", ["W1"])[2:]
    assert adam == ["m_W1 = np.zeros_like(W1)", "v_W1 = np.zeros_like(W1)"]
