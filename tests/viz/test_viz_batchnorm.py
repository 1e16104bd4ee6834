"""draw_batchnorm and `chainrule draw batchnorm`: every table cell's number in the SVG, the three terms'
bars, labels in each language.

Expected numbers are hand algebra with plain Python over the shipped spec's TOML (not chainrule), plus
the numbers worked on paper below.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from importlib import resources

import pytest
from svg_helpers import g4

from chainrule.cli import main
from chainrule.layered import load_layered_spec
from chainrule.viz import draw_batchnorm

# on paper: μ = 10, σ² = 24.99, σ = √(24.99 + 0.01) = 5, x̂ = (x − 10)/5, y = 2x̂ + 0.5
XHAT, Y = [-1.26, -0.46, 0.26, 1.46], [-2.02, -0.42, 1.02, 3.42]


def by_hand() -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    raw = tomllib.loads((resources.files("chainrule") / "specs" / "layered" / "batchnorm.toml").read_text(encoding="utf-8"))
    b = raw["layers"][0]
    x, t = [r[0] for r in raw["x"]], [r[0] for r in raw["y"]]
    n, gamma, beta = len(x), b["weight"][0], b["bias"][0]
    mu = sum(x) / n
    var = sum((v - mu) ** 2 for v in x) / n
    sigma = math.sqrt(var + b["eps"])
    xhat = [(v - mu) / sigma for v in x]
    y = [gamma * h + beta for h in xhat]
    g = [a - c for a, c in zip(y, t)]
    gvar = -sum(gamma * gi * (v - mu) for gi, v in zip(g, x)) / (2 * sigma ** 3)
    direct = [gamma * gi / sigma for gi in g]
    mean = [-sum(gamma * gi for gi in g) / sigma / n] * n
    through_var = [gvar * 2 * (v - mu) / n for v in x]
    return {"x": x, "xhat": xhat, "y": y, "t": t, "dL_dy": g, "dL_dx_direct": direct, "dL_dx_mean": mean,
            "dL_dx_var": through_var, "dL_dx": [a + c + d for a, c, d in zip(direct, mean, through_var)]}


def number(text: str) -> str:
    return text.replace("−", "-")


@pytest.fixture(scope="module")
def root():
    return ET.fromstring(draw_batchnorm(load_layered_spec("batchnorm")).to_bytes("svg"))


def cells(root, key) -> dict:
    return {int(el.get("id").rsplit("-", 1)[1]): "".join(el.itertext()).strip()
            for el in root.iter() if (el.get("id") or "").startswith(f"cell-{key}-")}


def test_paper_numbers():
    h = by_hand()
    assert h["xhat"] == pytest.approx(XHAT) and h["y"] == pytest.approx(Y)


@pytest.mark.parametrize("key", ["x", "xhat", "y", "t", "dL_dy", "dL_dx_direct", "dL_dx_mean", "dL_dx_var", "dL_dx"])
def test_every_cell_has_the_hand_number(root, key):
    expected = by_hand()[key]
    got = cells(root, key)
    assert sorted(got) == [1, 2, 3, 4]
    for j, text in got.items():
        assert number(text) == g4(expected[j - 1]), (key, j)


def test_bars_and_statistics(root):
    ids = {el.get("id") for el in root.iter() if el.get("id")}
    for key in ("dL_dx_direct", "dL_dx_mean", "dL_dx_var"):
        assert {f"bar-{key}-{j}" for j in range(1, 5)} <= ids, key
    assert "sum-marks" in ids
    stats = "".join("".join(el.itertext()) for el in root.iter() if el.get("id") == "stats").strip()
    assert stats.endswith("σ = √(σ² + ε) = √(24.99 + 0.01) = 5")


def test_chinese_labels_and_cli(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["draw", "batchnorm", "--lang", "zh", "--out", "bn.svg"]) == 0
    root = ET.fromstring((tmp_path / "bn.svg").read_bytes())
    text = "\n".join("".join(el.itertext()) for el in root.iter("{http://www.w3.org/2000/svg}text"))
    for word in ("直接项", "经 μ 的项", "经 σ² 的项", "有偏", "目标 t"):
        assert word in text, word
    # the only Latin word is the spec's own name in the title
    assert set(re.findall(r"(?<![A-Za-z_])[A-Za-z]{2,}(?![A-Za-z_])", text)) <= {"batchnorm"}
    capsys.readouterr()
    assert main(["draw", "batchnorm"]) == 0
    assert capsys.readouterr().out.strip() == "batchnorm-batchnorm-step1-en.png"
    assert (tmp_path / "batchnorm-batchnorm-step1-en.png").read_bytes().startswith(b"\x89PNG")


def test_refusals(tmp_path, capsys):
    for args in (["--what", "graph"], ["--step", "2"], ["--animate"]):
        assert main(["draw", "batchnorm", *args, "--out", str(tmp_path / "b.png")]) == 2, args
        assert "layered spec" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="lang"):
        draw_batchnorm(load_layered_spec("batchnorm"), lang="fr")
