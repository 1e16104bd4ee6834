"""The command line: the demo's numbers and the one-line error with status 2."""

import subprocess
import sys

from chainrule.cli import main


def test_demo_prints_the_seed_numbers(capsys):
    assert main(["demo", "--epochs", "3"]) == 0
    out = capsys.readouterr().out
    for number in ("60", "180", "7200", "120", "4800", "9600", "0.928", "0.452", "0.404"):
        assert number in out


def test_demo_shows_every_10th_epoch_and_the_last_with_8_digits(capsys):
    from chainrule.commands.demo import shown_epochs

    assert shown_epochs(100) == [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 99]
    assert shown_epochs(3) == [0, 2] and shown_epochs(1) == [0]
    assert main(["demo", "--epochs", "12"]) == 0
    out = capsys.readouterr().out
    # epoch 1: y' = 3 × (0.452·40 + 0.404·80) × 0.928 = 140.3136 (not shown: only epochs 0, 10, 11)
    rows = [line.split("│")[1].strip() for line in out.splitlines() if line.count("│") == 4]
    assert rows[-3:] == ["0", "10", "11"]
    assert "140.3136" not in out and "140.31359999999998" not in out


def test_demo_in_chinese(capsys):
    assert main(["demo", "--lang", "zh", "--epochs", "2"]) == 0
    out = capsys.readouterr().out
    for term in ("前向传播", "计算误差（损失值）", "反向传播", "梯度更新"):
        assert term in out


def test_bad_argument_exits_2_with_one_line(capsys):
    assert main(["demo", "--epochs", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--epochs" in err[0]


def test_module_entry_point_runs():
    out = subprocess.run([sys.executable, "-m", "chainrule", "demo", "--epochs", "1"],
                         capture_output=True, text=True, check=True).stdout
    assert "7200" in out


def test_demo_without_pytorch_says_how_to_get_it(capsys, monkeypatch):
    from chainrule import torch_reference

    monkeypatch.setattr(torch_reference, "available", lambda: False)
    assert main(["demo", "--epochs", "1"]) == 0
    assert "PyTorch is not installed; skipping the side-by-side run (`pip install torch`" in capsys.readouterr().out


def test_train_prints_user_paths_verbatim(tmp_path, capsys):
    ckpt = tmp_path / "run[1].npz"
    assert main(["train", "iris", "--data", "iris", "--epochs", "1", "--quiet", "--checkpoint", str(ckpt)]) == 0
    assert f"checkpoint: {ckpt} (epoch 1)" in capsys.readouterr().out


def test_version(capsys):
    import pytest

    import chainrule

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out.strip() == f"chainrule {chainrule.__version__}"


def test_derive_prints_text_on_a_terminal_and_markdown_when_piped(monkeypatch, capsys):
    import sys

    from chainrule.commands import derive as derive_cmd

    assert main(["derive", "seed"]) == 0                         # captured: not a terminal
    assert "$$" in capsys.readouterr().out
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert derive_cmd.default_format(None) == "text"
    assert derive_cmd.default_format("out.md") == "md"
    assert main(["derive", "seed"]) == 0
    out = capsys.readouterr().out
    assert "$$" not in out and "\\frac" not in out and "∂L/∂y' = ½ × 2 × (y − y') × (−1) = y' − y = 180 − 60 = 120" in out


def test_draw_sample_past_the_batch_names_the_one_based_range(tmp_path, capsys):
    # xor's spec has 4 samples, numbered 1..4 on the command line; the seed has one.
    assert main(["draw", "xor", "--sample", "5", "--out", str(tmp_path / "x.png")]) == 2
    assert "--sample must be in 1..4, got 5" in capsys.readouterr().err
    assert main(["draw", "seed", "--sample", "2", "--out", str(tmp_path / "s.png")]) == 2
    assert "--sample must be in 1..1, got 2" in capsys.readouterr().err
    assert main(["draw", "xor", "--sample", "4", "--out", str(tmp_path / "x.png")]) == 0
    assert not list(tmp_path.glob("s*.png"))
