"""`chainrule derive conv-pool`: a convolution, 2×2 max pooling and ½Σ(p − t)², written out with the winner
of every window and the gradient routed to it.

Expected numbers come from hand algebra with plain Python loops over the spec's TOML (not chainrule), the
winners worked on paper below, and PyTorch's conv2d + max_pool2d run side by side.
"""

from __future__ import annotations

import json
from importlib import resources

import numpy as np
import pytest
from test_zh import english_words

from chainrule.cli import main
from chainrule.errors import SpecError
from chainrule.explain.conv import derive_conv
from chainrule.layered import load_layered_spec, parse_layered

# on paper: y = [[4, 7, −0.5, 1.5], [0.5, 1.5, 7.5, 1], [1.5, 3, 2, 5.5], [5, 0.5, 0.5, 4]]; the four 2×2 windows
# are won by y_12 = 7, y_23 = 7.5, y_41 = 5, y_34 = 5.5; with t = [[6, 8], [3, 5]], p − t = 1, −0.5, 2, 0.5
# and L = ½(1 + 0.25 + 4 + 0.25) = 2.75
WINNERS = {"p_11": "y_12", "p_12": "y_23", "p_21": "y_41", "p_22": "y_34"}
LOSS = 2.75


def raw_spec() -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    text = (resources.files("chainrule") / "specs" / "layered" / "conv-pool.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def by_hand():
    raw = raw_spec()
    x, t, k, lr = raw["x"][0], raw["y"][0], raw["layers"][0]["weight"][0][0], raw["lr"]
    y = [[sum(k[i][j] * x[a + i][c + j] for i in range(2) for j in range(2)) for c in range(4)] for a in range(4)]
    p, win = [[0.0] * 2 for _ in range(2)], {}
    for a in range(2):
        for c in range(2):
            cells = [(2 * a + i, 2 * c + j) for i in range(2) for j in range(2)]
            u, v = max(cells, key=lambda uv: y[uv[0]][uv[1]])
            p[a][c], win[a, c] = y[u][v], (u, v)
    gp = [[p[a][c] - t[a][c] for c in range(2)] for a in range(2)]
    gy = [[0.0] * 4 for _ in range(4)]
    for (a, c), (u, v) in win.items():
        gy[u][v] = gp[a][c]
    loss = 0.5 * sum(g * g for row in gp for g in row)
    gk = [[sum(gy[a][c] * x[a + i][c + j] for a in range(4) for c in range(4)) for j in range(2)] for i in range(2)]
    gx = [[0.0] * 5 for _ in range(5)]
    for a in range(4):
        for c in range(4):
            for i in range(2):
                for j in range(2):
                    gx[a + i][c + j] += gy[a][c] * k[i][j]
    k1 = [[k[i][j] - lr * gk[i][j] for j in range(2)] for i in range(2)]
    return dict(y=y, p=p, win=win, gp=gp, gy=gy, loss=loss, gk=gk, gx=gx, k1=k1)


@pytest.fixture(scope="module")
def doc():
    return json.loads(derive_conv(load_layered_spec("conv-pool")).to_json())


def entry(doc, key):
    hits = [e for e in doc["entries"] if e["key"] == key]
    assert len(hits) == 1, key
    return hits[0]


def test_paper_and_hand_loops_agree():
    h = by_hand()
    assert {f"p_{a + 1}{c + 1}": f"y_{u + 1}{v + 1}" for (a, c), (u, v) in h["win"].items()} == WINNERS
    assert h["loss"] == LOSS


def test_numbers_match_hand_algebra(doc):
    h = by_hand()
    assert doc["kind"] == "conv2d+max_pool2d"
    assert doc["loss"] == pytest.approx(LOSS)
    for key, grid in (("y", "y"), ("p", "p"), ("dL_dp", "gp"), ("dL_dy", "gy"), ("dL_dk", "gk"), ("dL_dx", "gx"),
                      ("k_after", "k1")):
        np.testing.assert_allclose(doc["grids"][key], h[grid], err_msg=key)


def test_the_winner_of_each_window_is_written(doc):
    for p_key, winner in WINNERS.items():
        e = entry(doc, p_key)
        assert e["winner"] == winner
        assert f"= {winner} = " in e["expression"]  # max(...) = max(...) = y_12 = 7
    assert entry(doc, "p_11")["expression"] == "max(y_11, y_12, y_21, y_22) = max(4, 7, 0.5, 1.5) = y_12 = 7"


def test_gradient_routed_to_the_winner_only(doc):
    # ∂L/∂y is written for the four winners (each ∂L/∂p of its window), and 0 everywhere else
    routed = {e["key"]: e for e in doc["entries"] if e["key"].startswith("dL_dy_")}
    assert sorted(routed) == sorted(f"dL_dy_{w[2:]}" for w in WINNERS.values())
    assert routed["dL_dy_41"]["expression"] == "∂L/∂p_21 = 2" and routed["dL_dy_41"]["value"] == 2
    gy = np.asarray(doc["grids"]["dL_dy"])
    assert np.count_nonzero(gy) == 4
    # ∂L/∂k written with the non-zero terms only: 1×2 + (−0.5)×3 + 0.5×2 + 2×1 = 3.5
    assert entry(doc, "dL_dk_11")["expression"].endswith("= 1×2 + (−0.5)×3 + 0.5×2 + 2×1 = 3.5")


def test_gradients_match_pytorch(doc):
    torch = pytest.importorskip("torch")
    raw = raw_spec()
    x = torch.tensor(raw["x"], dtype=torch.float64).unsqueeze(0).requires_grad_()
    k = torch.tensor(raw["layers"][0]["weight"], dtype=torch.float64, requires_grad=True)
    t = torch.tensor(raw["y"], dtype=torch.float64).unsqueeze(0)
    y = torch.nn.functional.conv2d(x, k)
    y.retain_grad()
    p, idx = torch.nn.functional.max_pool2d(y, 2, return_indices=True)
    p.retain_grad()
    loss = 0.5 * ((p - t) ** 2).sum()
    loss.backward()
    assert doc["loss"] == pytest.approx(loss.item())
    np.testing.assert_allclose(doc["grids"]["p"], p.detach()[0, 0].numpy())
    np.testing.assert_allclose(doc["grids"]["dL_dp"], p.grad[0, 0].numpy())
    np.testing.assert_allclose(doc["grids"]["dL_dy"], y.grad[0, 0].numpy())
    np.testing.assert_allclose(doc["grids"]["dL_dk"], k.grad[0, 0].numpy())
    np.testing.assert_allclose(doc["grids"]["dL_dx"], x.grad[0, 0].numpy())
    flat = idx[0, 0].numpy().ravel()  # PyTorch's arg-max, as a flat index into the 4×4 output
    assert [f"y_{i // 4 + 1}{i % 4 + 1}" for i in flat] == [entry(doc, k)["winner"] for k in sorted(WINNERS)]


def test_finite_differences(doc):
    for c in doc["check"]:
        assert c["relative_error"] < 1e-6


@pytest.mark.parametrize("fmt", ["md", "text"])
def test_zh_has_no_english_words(capsys, fmt):
    main(["derive", "conv-pool", "--lang", "zh", "--format", fmt])
    out = capsys.readouterr().out
    assert "最大池化" in out and "胜出" in out
    assert english_words(out) == []


def test_refusals():
    raw = raw_spec()
    raw["layers"][1]["stride"] = 1
    raw["y"] = [[[0, 0, 0], [0, 0, 0], [0, 0, 0]]]  # overlapping windows: a 3×3 output
    with pytest.raises(SpecError, match=r"layers\[1\] \(maxpool2d\): derive writes out windows that do not overlap"):
        derive_conv(parse_layered(raw, "overlap.toml"))
    raw = raw_spec()
    raw["layers"].append({"kind": "maxpool2d", "kernel_size": 2})
    raw["y"] = [[[1]]]
    with pytest.raises(SpecError, match="optionally followed by one maxpool2d"):
        derive_conv(parse_layered(raw, "two-pools.toml"))


@pytest.mark.parametrize("lang, name", [("en", "derivation-conv-pool.md"), ("zh", "derivation-conv-pool-zh.md")])
def test_docs_are_the_command_output(capsys, lang, name):
    """docs/derivation-conv-pool*.md are `chainrule derive conv-pool --out ...` as it is (regenerate them when
    it changes); the finite-difference check's last digits are masked (they depend on the platform's rounding)."""
    import re
    from pathlib import Path

    doc = Path(__file__).resolve().parents[1] / "docs" / name
    main(["derive", "conv-pool", "--lang", lang, "--format", "md"])
    mask = re.compile(r"\d\.\de-\d+")
    assert mask.sub("ε", capsys.readouterr().out) == mask.sub("ε", doc.read_text(encoding="utf-8"))
