"""Exported scripts for every shipped spec run as they are and print chainrule's numbers.

The reference numbers are PyTorch's (chainrule.torch_reference, an independent float64
implementation) and, for the seed, the seed document's own hand algebra.
"""

from __future__ import annotations

import pytest
from runner import assert_agree, have_ruff, ruff_problems, run_script

from chainrule import torch_reference
from chainrule.cli import main
from chainrule.export import export
from chainrule.network import run
from chainrule.spec import load_spec, shipped_specs

STEPS = {"xor": 40}  # the others run their own number of steps (xor's 300 are slow for PyTorch's start-up)
TARGETS = ("python", "numpy", "torch")


def reference(name, steps):
    """PyTorch float64 on the same starting weights: independent of chainrule's arithmetic."""
    spec = load_spec(name)
    start = run(spec, steps=1).steps[0].params_before  # a seeded spec's random start, in (from, to) order
    records = torch_reference.run(spec, steps=steps, params=start)
    return [r["output"] for r in records], [r["loss"] for r in records]


@pytest.fixture(scope="module")
def scripts(tmp_path_factory):
    folder = tmp_path_factory.mktemp("exported")
    paths = {}
    for name in shipped_specs():
        for to in TARGETS:
            path = folder / f"{name}_{to}.py"
            path.write_text(export(name, to, steps=STEPS.get(name)), encoding="utf-8")
            paths[name, to] = path
    return paths


@pytest.mark.parametrize("name", shipped_specs())
@pytest.mark.parametrize("to", TARGETS)
def test_exported_script_agrees_with_chainrule_and_pytorch(scripts, name, to):
    if to == "torch":
        pytest.importorskip("torch")
    updates = []
    epochs = run_script(scripts[name, to], updates=updates)
    steps = STEPS.get(name, load_spec(name).steps)
    ours = run(name, steps=steps)
    assert_agree(epochs, ours.outputs, ours.losses, what=f"{name} --to {to} vs chainrule")
    assert len(updates) == len(epochs)       # the updated weights after every epoch
    pytest.importorskip("torch")
    outputs, losses = reference(name, steps)
    assert_agree(epochs, outputs, losses, rtol=1e-9, what=f"{name} --to {to} vs PyTorch")
    spec = load_spec(name)
    start = run(spec, steps=1).steps[0].params_before
    for k, record in enumerate(torch_reference.run(spec, steps=steps, params=start)):
        want = [record["params_after"][f"W{layer}"].ravel() for layer in range(1, spec.depth + 1)]
        assert updates[k] == pytest.approx(list(__import__("numpy").concatenate(want)), rel=1e-9, abs=1e-12), \
            f"{name} --to {to}: updated weights, epoch {k}"


@pytest.mark.parametrize("to", TARGETS)
def test_seed_script_prints_the_seed_documents_numbers(tmp_path, to):
    if to == "torch":
        pytest.importorskip("torch")
    path = tmp_path / "seed.py"
    path.write_text(export("seed", to, steps=2), encoding="utf-8")
    (p0, l0), (p1, l1) = run_script(path)
    # Hand algebra: z = 0.5·40 + 0.5·80 = 60, y' = 3·60 = 180, L = ½(60 − 180)² = 7200.
    assert p0[0] == 180.0 and l0 == 7200.0
    # After one update w' = 0.452 / 0.404, w'' = 0.928: z = 0.452·40 + 0.404·80 = 50.4, y' = 3·50.4·0.928.
    assert p1[0] == pytest.approx(140.3136, rel=1e-12)
    assert l1 == pytest.approx(0.5 * (60 - 140.3136) ** 2, rel=1e-12)


def test_python_export_is_standard_library_only_and_in_the_seeds_names():
    code = export("seed", "python")
    imports = [line for line in code.splitlines() if line.startswith(("import ", "from "))]
    assert all(line.split()[1] in ("math",) for line in imports), imports
    for name in ("w_1_11", "w_1_23", "w_2_31", "z_1", "z_3", "y_pred", "d_loss_y_pred", "d_loss_w_1_11",
                 "d_loss_w_2_31", "learning_rate"):
        assert name in code
    # every weight is updated, each from a gradient computed before any update
    assert code.index("d_loss_w_1_23 =") < code.index("w_2_11 -= learning_rate * d_loss_w_2_11")
    assert "x_1 * w_1_13 + x_2 * w_1_23" in code  # z_3, with neuron 3's weights (the seed's typo fixed)


def test_python_export_of_a_batch_sums_gradients_over_samples():
    code = export("relu", "python")
    assert "for (x_1, x_2), (y_true,) in samples:" in code
    assert "d_loss_w_1_11 += " in code and "d_loss_w_1_11 = 0.0" in code


@pytest.mark.skipif(not have_ruff(), reason="ruff is not installed")
def test_exported_code_passes_ruff(scripts):
    problems = ruff_problems(sorted(scripts.values()))
    assert problems is None, problems


def test_export_cli_writes_the_file_atomically(tmp_path, capsys):
    out = tmp_path / "mazur.py"
    out.write_text("old contents")
    assert main(["export", "mazur", "--to", "numpy", "--out", str(out)]) == 0
    assert out.read_text().startswith('"""The network of spec \'mazur\'')
    assert [p.name for p in tmp_path.iterdir()] == ["mazur.py"]  # no temporary file left behind
    assert main(["export", "seed", "--to", "python"]) == 0
    assert "w_1_11 = 0.5" in capsys.readouterr().out


def test_export_cli_errors_exit_2(tmp_path, capsys):
    assert main(["export", "no-such-spec"]) == 2
    assert main(["export", "seed", "--steps", "0"]) == 2
    assert main(["export", "seed", "--out", str(tmp_path / "missing" / "x.py")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("chainrule export: error:") for line in err)


def test_softmax_output_and_cross_entropy_share_one_softmax():
    """The softmax spec: the output layer's softmax and the cross-entropy over the same logits are
    computed once; the loss's backward is the softmax output minus the one-hot target, over the
    batch of 2 (reduction 'mean')."""
    code = export("softmax", "python")
    assert code.count(" = max(") == 1
    assert code.count("math.exp(z_out_") == 3 + 3      # the three terms of the sum, the three outputs
    for j in (1, 2, 3):
        assert f"d_loss_z_out_{j} = (y_pred_{j} - y_true_{j}) / 2" in code
    assert "math.log(z_out_sum)" in code
    code = export("softmax", "numpy")
    assert code.count("np.exp(z_out") == 1 and code.count(".max(") == 1
    assert "d_z_out = (y_pred - y_true) / 2" in code
    assert "z_out_log_p = z_out_shifted - np.log(z_out_sum)" in code


@pytest.mark.parametrize("to", ("python", "numpy"))
def test_cross_entropy_without_a_softmax_layer_computes_its_own(tmp_path, to):
    import math

    from chainrule.spec import parse_spec

    spec = parse_spec({"name": "logits", "layers": [2, 3], "activations": ["none"], "loss": "cross_entropy",
                       "lr": 0.1, "steps": 1, "init": {"weights": [[[0.1, 0.2, 0.3], [0.3, 0.1, -0.2]]]},
                       "data": {"x": [[1.0, 2.0]], "y": [1]}})
    path = tmp_path / "logits.py"
    path.write_text(export(spec, to), encoding="utf-8")
    [(pred, loss)] = run_script(path)
    # Hand algebra: z_j = 1·w_1j + 2·w_2j = 0.7, 0.4, −0.1; L = log Σ e^z − z_2 (class 1 is the second).
    z = [0.1 + 2 * 0.3, 0.2 + 2 * 0.1, 0.3 - 2 * 0.2]
    assert pred == pytest.approx(z, rel=1e-12)
    assert loss == pytest.approx(math.log(sum(math.exp(v) for v in z)) - z[1], rel=1e-12)


def test_large_matrices_are_written_one_row_per_line():
    # iris: W2 is 8 × 3 in (from, to) order, too long for one line: 8 rows of 3 values each
    lines = export("iris", "numpy").splitlines()
    start = lines.index("W2 = np.array([")
    rows = lines[start + 1:start + 9]
    assert all(r.startswith("    [") and r.endswith("],") and r.count(",") == 3 for r in rows), rows
    assert lines[start + 9] == "])"
    # torch keeps nn.Linear's (out, in) layout: fc2.weight is 3 rows of 8
    lines = export("iris", "torch").splitlines()
    start = lines.index("    fc2.weight.copy_(torch.tensor([")
    assert [r.count(",") for r in lines[start + 1:start + 4]] == [8, 8, 8] and lines[start + 4] == "    ]))"
    # small ones stay on one line, as the seed writes them
    assert "W1 = np.array([[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]])" in export("seed", "numpy")


def test_each_stage_comment_names_its_layer():
    code = export("mazur", "python")
    assert "# linear, layer 1: " in code and "# sigmoid, layer 2 (output): " in code
    assert "# sigmoid backward, layer 2 (output): " in code and "# linear backward, layer 1: " in code
