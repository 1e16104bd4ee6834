"""chainrule draw: writes the file it names, by extension, and prints its path."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from chainrule.cli import main


def test_draw_seed_network_svg(tmp_path, capsys):
    out = tmp_path / "seed.svg"
    assert main(["draw", "seed", "--show", "all", "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    root = ET.fromstring(out.read_bytes())
    ids = {el.get("id") for el in root.iter() if el.get("id")}
    assert sum(i.startswith("neuron-") for i in ids) == 6
    assert "label-W1-2-3-grad" in ids


def test_default_output_name_in_current_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["draw", "seed"]) == 0
    assert capsys.readouterr().out.strip() == "seed-network-step1-en.png"
    assert (tmp_path / "seed-network-step1-en.png").read_bytes().startswith(b"\x89PNG")
    # another step or language gets its own file instead of overwriting the first
    assert main(["draw", "seed", "--step", "5", "--lang", "zh"]) == 0
    assert capsys.readouterr().out.strip() == "seed-network-step5-zh.png"
    assert main(["draw", "xor", "--sample", "2", "--what", "network"]) == 0
    assert capsys.readouterr().out.strip() == "xor-network-step1-sample2-en.png"


def test_loss_curve_defaults_to_the_training_length(tmp_path, monkeypatch, capsys):
    # the seed spec runs one step, its blog post trains 100 epochs: at least 100 points; xor trains 300
    monkeypatch.chdir(tmp_path)
    assert main(["draw", "seed", "--what", "loss", "--lang", "zh", "--out", "s.svg"]) == 0
    root = ET.fromstring((tmp_path / "s.svg").read_bytes())
    text = "".join(root.itertext())
    assert "每步的损失值" in text and "loss per step" not in text
    assert main(["draw", "xor", "--what", "loss"]) == 0
    assert capsys.readouterr().out.strip().endswith("xor-loss-300steps-en.png")


def test_graph_and_loss(tmp_path, capsys):
    assert main(["draw", "mazur", "--what", "graph", "--out", str(tmp_path / "g.pdf")]) == 0
    assert (tmp_path / "g.pdf").read_bytes().startswith(b"%PDF")
    assert main(["draw", "seed", "--what", "loss", "--steps", "20", "--lang", "zh", "--out", str(tmp_path / "l.svg")]) == 0
    text = (tmp_path / "l.svg").read_text(encoding="utf-8")
    assert "轮次" in text
    assert main(["draw", "mazur", "--what", "graph", "--lang", "zh", "--out", str(tmp_path / "g.svg")]) == 0
    assert "损失的计算图" in (tmp_path / "g.svg").read_text(encoding="utf-8")


def test_user_errors_exit_2(tmp_path, capsys):
    assert main(["draw", "seed", "--out", str(tmp_path / "x.txt")]) == 2
    assert "use a .png, .svg or .pdf" in capsys.readouterr().err
    assert main(["draw", "no-such-spec", "--out", str(tmp_path / "x.png")]) == 2
    assert main(["draw", "seed", "--step", "0"]) == 2
    assert list(tmp_path.iterdir()) == []
