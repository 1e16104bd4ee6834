"""draw_conv and `chainrule draw conv`: every grid's numbers in the SVG, the first output's window and
sum, labels in each language, the file written atomically.

Expected numbers are hand algebra with plain Python loops over the shipped spec's TOML (not chainrule),
plus the three numbers worked on paper below.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from importlib import resources

import pytest
from svg_helpers import g4

from chainrule.cli import main
from chainrule.errors import SpecError
from chainrule.layered import load_layered_spec
from chainrule.viz import draw_conv

# on paper: y_11 = 1·1 + 0.5·2 + (−1)·0 + 2·1 = 4; the nine (y − t) are 1, 1, −0.5, 0.5, 0.5, 0.5, 0.5, 1, 0,
# so L = ½(1 + 1 + 0.25 + 4 × 0.25 + 1) = 2.125; ∂L/∂k_11 = Σ (y − t)·x over the top-left 3×3 of x = 7
Y11, LOSS, GK = 4.0, 2.125, [[7.0, 4.5], [1.5, 6.0]]


def raw_spec() -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    return tomllib.loads((resources.files("chainrule") / "specs" / "layered" / "conv.toml").read_text(encoding="utf-8"))


def by_hand() -> dict:
    raw = raw_spec()
    x, t, k, lr = raw["x"][0], raw["y"][0], raw["layers"][0]["weight"][0][0], raw["lr"]
    y = [[sum(k[i][j] * x[a + i][c + j] for i in range(2) for j in range(2)) for c in range(3)] for a in range(3)]
    gy = [[y[a][c] - t[a][c] for c in range(3)] for a in range(3)]
    gk = [[sum(gy[a][c] * x[a + i][c + j] for a in range(3) for c in range(3)) for j in range(2)] for i in range(2)]
    gx = [[0.0] * 4 for _ in range(4)]
    for a in range(3):
        for c in range(3):
            for i in range(2):
                for j in range(2):
                    gx[a + i][c + j] += gy[a][c] * k[i][j]
    k1 = [[k[i][j] - lr * gk[i][j] for j in range(2)] for i in range(2)]
    return {"x": x, "k": k, "y": y, "t": t, "dL_dy": gy, "dL_dk": gk, "dL_dx": gx, "k_after": k1}


def cells(root, key) -> dict:
    """{(i, j): text} of the grid ``key``'s cells, read from the SVG's element ids."""
    out = {}
    for el in root.iter():
        gid = el.get("id") or ""
        if gid.startswith(f"cell-{key}-"):
            i, j = gid[len(f"cell-{key}-"):].split("-")
            out[int(i), int(j)] = "".join(el.itertext()).strip()
    return out


def text_of(root, gid) -> str:
    return "".join("".join(el.itertext()) for el in root.iter() if el.get("id") == gid).strip()


def number(text: str) -> str:
    return text.replace("−", "-")


@pytest.fixture(scope="module")
def en_root():
    return ET.fromstring(draw_conv(load_layered_spec("conv")).to_bytes("svg"))


def test_paper_numbers_and_the_hand_loops_agree():
    h = by_hand()
    assert h["y"][0][0] == Y11 and h["dL_dk"] == GK
    assert 0.5 * sum(v * v for row in h["dL_dy"] for v in row) == LOSS


@pytest.mark.parametrize("key", ["x", "k", "y", "t", "dL_dy", "dL_dk", "dL_dx", "k_after"])
def test_every_grid_has_the_hand_numbers(en_root, key):
    expected = by_hand()[key]
    got = cells(en_root, key)
    assert len(got) == len(expected) * len(expected[0])
    for (i, j), text in got.items():
        assert number(text) == g4(expected[i - 1][j - 1]), (key, i, j)


def test_first_output_written_out_and_loss(en_root):
    text = text_of(en_root, "sum-y11")
    # the sum of products with the spec's numbers (k_11 x_11 + k_12 x_12 + k_21 x_21 + k_22 x_22)
    assert number(text).endswith("= 1×1 + 0.5×2 + (-1)×0 + 2×1 = 4")
    loss = text_of(en_root, "loss")
    assert loss.endswith("= 2.125")
    ids = {el.get("id") for el in en_root.iter()}
    assert {"window-x", "window-y", "label-dL_dk", "label-dL_dx", "title"} <= ids


def test_chinese_labels(tmp_path, capsys):
    out = tmp_path / "conv-zh.svg"
    assert main(["draw", "conv", "--lang", "zh", "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    root = ET.fromstring(out.read_bytes())
    text = "\n".join("".join(el.itertext()) for el in root.iter("{http://www.w3.org/2000/svg}text"))
    for word in ("输入 x", "卷积核 k", "前向传播", "反向传播", "更新后的卷积核", "损失"):
        assert word in text, word
    for word in ("input", "kernel", "forward", "backward", "after the step"):
        assert word not in text, word
    assert number(cells(root, "dL_dk")[1, 2]) == "4.5"


def test_cli_default_name_and_formats(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["draw", "conv"]) == 0
    assert capsys.readouterr().out.strip() == "conv-conv-step1-en.png"
    assert (tmp_path / "conv-conv-step1-en.png").read_bytes().startswith(b"\x89PNG")
    assert main(["draw", "conv", "--out", "c.pdf"]) == 0
    assert (tmp_path / "c.pdf").read_bytes().startswith(b"%PDF")


def test_written_atomically(tmp_path, monkeypatch):
    out = tmp_path / "conv.svg"
    out.write_text("old")

    def no_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", no_replace)
    assert main(["draw", "conv", "--out", str(out)]) != 0
    assert out.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["conv.svg"]  # no temporary file left behind


def test_refusals(tmp_path, capsys):
    for args in (["--what", "graph"], ["--step", "2"], ["--sample", "2"], ["--animate"]):
        assert main(["draw", "conv", *args, "--out", str(tmp_path / "c.png")]) == 2, args
        assert "layered spec" in capsys.readouterr().err
    assert main(["draw", "lenet-digits", "--out", str(tmp_path / "c.png")]) == 2
    assert "one conv2d block" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="lang"):
        draw_conv(load_layered_spec("conv"), lang="fr")
    with pytest.raises(SpecError, match="half_sse"):
        spec = load_layered_spec("conv")
        spec.loss = "mse"
        draw_conv(spec)


def test_conv_pool_winners_and_routed_gradient(tmp_path, capsys):
    # on paper (tests/test_derive_conv_pool.py): the windows of y are won by y_12 = 7, y_23 = 7.5, y_34 = 5.5,
    # y_41 = 5; with t = [[6, 8], [3, 5]] the gradient reaching them is p − t = 1, −0.5, 0.5, 2
    out = tmp_path / "cp.svg"
    assert main(["draw", "conv-pool", "--out", str(out)]) == 0
    root = ET.fromstring(out.read_bytes())
    assert {k: number(v) for k, v in cells(root, "p").items()} == {(1, 1): "7", (1, 2): "7.5", (2, 1): "5", (2, 2): "5.5"}
    routed = {k: number(v) for k, v in cells(root, "dL_dy").items() if v != "0"}
    assert routed == {(1, 2): "1", (2, 3): "-0.5", (3, 4): "0.5", (4, 1): "2"}
    ids = {el.get("id") for el in root.iter()}
    assert sum(i.startswith("winner-y-") for i in ids if i) == sum(i.startswith("winner-dL_dy-") for i in ids if i) == 4
    assert number(text_of(root, "max-p11")).endswith("= max(4, 7, 0.5, 1.5) = y₁₂ = 7")
    assert text_of(root, "loss").endswith("= 2.75")
