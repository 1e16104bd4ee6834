"""draw_rnn and `chainrule draw rnn`: the unrolled network's values and gradients in the SVG, ∂L/∂W_hh as
the sum of its per-step terms, labels in each language, the file written atomically.

Expected numbers are the hand algebra of tests/test_derive_rnn.py (plain Python over the TOML's numbers).
"""

from __future__ import annotations

import os
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from svg_helpers import g4

from chainrule.cli import main
from chainrule.errors import SpecError
from chainrule.layered import load_layered_spec
from chainrule.viz import draw_rnn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from test_derive_rnn import by_hand  # noqa: E402
from test_zh import english_words  # noqa: E402


def texts(path) -> dict:
    """{gid: text} of every SVG text element with an id (matplotlib puts the gid on the group)."""
    out = {}
    for el in ET.parse(path).getroot().iter():
        gid = el.get("id") or ""
        text = "".join(el.itertext()).strip()
        if gid and text:
            out[gid] = text
    return out


def vec(values) -> str:
    return "(" + ", ".join(g4(v).replace("-", "−") for v in values) + ")"


@pytest.fixture(scope="module")
def svg(tmp_path_factory):
    path = tmp_path_factory.mktemp("rnn") / "rnn.svg"
    draw_rnn(load_layered_spec("rnn")).save(path)
    return texts(path)


def test_every_node_shows_its_value_and_gradient(svg):
    h = by_hand()
    for t in range(1, 4):
        assert svg[f"h{t}-1"].endswith(f"= {vec(h['h'][t - 1])}")
        assert svg[f"h{t}-2"].endswith(f"= {vec(h['dL_dh'][t - 1])}")
        assert svg[f"h{t}-3"].endswith(f"= {vec(h['dL_da'][t - 1])}")
        assert svg[f"yhat{t}-1"].endswith(f"= {g4(h['yhat'][t - 1]).replace('-', '−')}")
        assert svg[f"yhat{t}-3"].endswith(f"= {g4(h['dL_dyhat'][t - 1]).replace('-', '−')}")
        assert svg[f"label-x{t}"] == "W_ih" and svg[f"label-h{t - 1}-h{t}"] == "W_hh" and svg[f"label-h{t}-yhat{t}"] == "V"
    assert svg["loss"].endswith(g4(h["loss"]))


def test_the_sum_over_time_is_drawn(svg):
    h = by_hand()
    prev = [[0.5, -0.5], *h["h"][:2]]
    for t in range(1, 4):  # step t's term: ∂L/∂a_t · h_(t−1)ᵀ
        for i in range(2):
            for j in range(2):
                assert svg[f"cell-term{t}-{i + 1}-{j + 1}"] == g4(h["dL_da"][t - 1][i] * prev[t - 1][j]).replace("-", "−")
    for i in range(2):
        for j in range(2):
            assert svg[f"cell-dL_dW_hh-{i + 1}-{j + 1}"] == g4(h["dL_dW_hh"][i][j]).replace("-", "−")
            assert svg[f"cell-W_hh_after-{i + 1}-{j + 1}"] == g4(h["W_hh_after"][i][j]).replace("-", "−")
    assert [svg[f"op-term{t}"] for t in range(1, 4)] == ["+", "+", "="]


def test_zh_figure_has_no_english_words(tmp_path):
    out = tmp_path / "rnn-zh.svg"
    assert main(["draw", "rnn", "--lang", "zh", "--out", str(out)]) == 0
    text = "\n".join("".join(el.itertext()) for el in ET.parse(out).getroot().iter("{http://www.w3.org/2000/svg}text"))
    # the spec's own name (rnn) is a name, as test_zh allows the other shipped specs' names
    assert "随时间反向传播" in text and [w for w in english_words(text) if w != "rnn"] == []


def test_cli_writes_atomically_and_refuses_other_views(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["draw", "rnn"]) == 0
    assert os.path.getsize("rnn-rnn-step1-en.png") > 10_000
    assert sorted(os.listdir(".")) == ["rnn-rnn-step1-en.png"]  # no temporary file left behind
    with pytest.raises(SpecError, match=r"first step only \(drop --what, --step\)"):
        from chainrule.commands.draw import run_rnn

        class Args:
            what, step, steps, sample, out, lang = "graph", 2, None, 1, None, "en"

        run_rnn(Args(), load_layered_spec("rnn"))
