"""`chainrule draw --animate`: a GIF of training, one frame per chosen step."""

from __future__ import annotations

import pytest
from PIL import Image

from chainrule.animate import frame_steps
from chainrule.cli import main


def test_frame_steps_start_dense_and_end_at_the_last_step():
    picks = frame_steps(300, 30)
    assert picks[0] == 1 and picks[-1] == 300 and picks == sorted(set(picks)) and len(picks) <= 30
    assert sum(p <= 30 for p in picks) > sum(p > 270 for p in picks)  # denser early
    assert frame_steps(5, 30) == [1, 2, 3, 4, 5]


def test_cli_writes_a_gif(tmp_path):
    out = tmp_path / "xor.gif"
    assert main(["draw", "xor", "--animate", "--steps", "20", "--frames", "3", "--out", str(out)]) == 0
    with Image.open(out) as im:
        assert im.format == "GIF" and im.n_frames == 3 and im.size[0] > 2 * im.size[1]


def test_animate_needs_a_gif_name(tmp_path, capsys):
    assert main(["draw", "xor", "--animate", "--steps", "5", "--out", str(tmp_path / "x.png")]) == 2
    assert "gif" in capsys.readouterr().err.lower()


@pytest.mark.parametrize("frames", ["0", "500"])
def test_frames_out_of_range(tmp_path, frames, capsys):
    assert main(["draw", "xor", "--animate", "--frames", frames, "--out", str(tmp_path / "x.gif")]) == 2
    assert "frames" in capsys.readouterr().err
