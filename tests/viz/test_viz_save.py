"""Drawing.save: PNG, SVG or PDF by extension, atomically; notebook reprs; no display needed."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from chainrule import viz


@pytest.fixture(scope="module")
def drawing():
    return viz.plot_loss([4.0, 2.0, 1.0])


@pytest.mark.parametrize("ext, magic", [(".png", b"\x89PNG\r\n\x1a\n"), (".svg", b"<?xml"), (".pdf", b"%PDF-")])
def test_format_follows_extension(tmp_path, drawing, ext, magic):
    path = tmp_path / f"curve{ext.upper() if ext == '.pdf' else ext}"
    assert drawing.save(path) == str(path)
    data = path.read_bytes()
    assert data.startswith(magic)
    if ext == ".svg":
        ET.fromstring(data)


def test_unknown_extension_is_refused(tmp_path, drawing):
    with pytest.raises(ValueError, match=r"\.png, \.svg or \.pdf"):
        drawing.save(tmp_path / "curve.jpg")
    assert list(tmp_path.iterdir()) == []


def test_failure_while_rendering_keeps_the_old_file(tmp_path, drawing, monkeypatch):
    path = tmp_path / "curve.png"
    path.write_bytes(b"old")

    def broken(fh, **kwargs):
        fh.write(b"partial")
        raise RuntimeError("renderer exploded")

    monkeypatch.setattr(drawing.figure, "savefig", broken)
    with pytest.raises(RuntimeError, match="exploded"):
        drawing.save(path)
    assert path.read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["curve.png"]


def test_failure_while_writing_keeps_the_old_file(tmp_path, drawing, monkeypatch):
    path = tmp_path / "curve.svg"
    path.write_bytes(b"old")

    def no_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", no_replace)
    with pytest.raises(OSError, match="disk full"):
        drawing.save(path)
    assert path.read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["curve.svg"]  # no temporary file left behind


def test_notebook_reprs(drawing):
    assert drawing._repr_png_().startswith(b"\x89PNG")
    ET.fromstring(drawing._repr_svg_())


def test_svg_keeps_text_as_text():
    data = viz.plot_loss([3.0, 1.0], title="xyzzy title").to_bytes("svg").decode()
    assert ">xyzzy title</text>" in data


def test_no_display_and_lazy_import():
    code = (
        "import os, sys; os.environ.pop('DISPLAY', None); os.environ.pop('MPLBACKEND', None)\n"
        "import chainrule as cr\n"
        "assert 'matplotlib' not in sys.modules, 'import chainrule imported matplotlib'\n"
        "d = cr.viz.plot_loss([1.0, 0.5])\n"
        "import matplotlib.pyplot  # noqa\n"
        "assert not matplotlib.pyplot.get_fignums(), 'figures leaked into pyplot'\n"
        "print(len(d.to_bytes('png')) > 0)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "MPLBACKEND", "WAYLAND_DISPLAY")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"


def test_notebook_html_shows_a_wide_figure_at_a_legible_size():
    """Jupyter/nbconvert cap a bare image at the column width (~550-950 px); the mazur network is
    ~1600 px wide, so scaled down its 8.5pt labels would be ~3-5 px tall. The HTML repr must declare
    the natural width, opt out of the cap, and scroll sideways instead."""
    import base64
    import re

    drawing = viz.draw_network("mazur", show="all", lang="zh")
    page = drawing._repr_html_()
    box = re.match(r'<div [^>]*style="([^"]*)"[^>]*>\s*<img ([^>]*)>\s*</div>$', page)
    assert box, page[:300]
    assert "overflow-x: auto" in box.group(1)
    img = box.group(2)
    assert "max-width: none" in img  # an inline style beats the notebook's `img {max-width: 100%}`
    shown = float(re.search(r'\bwidth="([0-9.]+)"', img).group(1))
    assert f"width: {shown:g}px" in img
    svg = base64.b64decode(re.search(r'src="data:image/svg\+xml;base64,([^"]+)"', img).group(1))
    root = ET.fromstring(svg)
    assert svg == drawing.to_bytes("svg")
    view_w = float(root.get("viewBox").split()[2])  # user units (= pt) across the figure
    assert root.get("width").endswith("pt")
    natural_px = float(root.get("width")[:-2]) * 96 / 72  # CSS: 1pt = 96/72 px
    assert shown == pytest.approx(natural_px, abs=1) and shown > 1000
    sizes = [float(s) for s in re.findall(r"font-size: ([0-9.]+)px", svg.decode())]
    smallest_shown_px = min(sizes) * shown / view_w
    assert smallest_shown_px >= 10, f"smallest label drawn at {smallest_shown_px:.1f} px"
