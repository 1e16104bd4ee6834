"""Training as an animated GIF: the network's weights and gradients step by step beside the loss curve.

Every frame is drawn by the same functions as ``chainrule draw`` (``viz.draw_network`` for the
network, ``viz.plot_loss`` for the curve) from one engine run of the spec; the frames are joined
with Pillow, which matplotlib already depends on. No display and no ffmpeg needed.
"""

from __future__ import annotations

import io

import numpy as np

from .escape import figure_text

MAX_FRAMES = 200


def frame_steps(steps: int, frames: int) -> list[int]:
    """``frames`` step numbers from 1 to ``steps``, denser at the start where training moves fastest."""
    frames = max(1, min(frames, steps))
    if frames == 1:
        return [steps]
    raw = np.unique(np.round(np.geomspace(1, steps, frames * 2)).astype(int))
    picks = np.unique(np.round(np.linspace(0, len(raw) - 1, frames)).astype(int))
    return [int(raw[k]) for k in picks]


def training_frames(spec, steps: int | None = None, frames: int = 30, lang: str = "en", dpi: int = 72):
    """(step numbers, PNG bytes per frame)."""
    import matplotlib

    from . import viz
    from .network import run as run_spec
    from .spec import load_spec
    from .viz import _base

    spec = load_spec(spec)
    steps = steps if steps is not None else max(spec.steps, 2)
    if not 1 <= frames <= MAX_FRAMES:
        raise ValueError(f"animate: frames must be between 1 and {MAX_FRAMES}, got {frames}")
    result = run_spec(spec, steps=steps)
    losses = np.asarray(result.losses, dtype=float)
    finite = losses[np.isfinite(losses)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    pad = 0.05 * (high - low or 1.0)
    picks = frame_steps(steps, frames)
    images = []
    for k in picks:
        with matplotlib.rc_context(_base.rc(lang)):
            fig = _base.new_figure(16, 5.2, dpi=dpi)
            weights = fig.add_axes((0.0, 0.02, 0.36, 0.9))
            grads = fig.add_axes((0.37, 0.02, 0.34, 0.9))
            right = fig.add_axes((0.80, 0.14, 0.18, 0.72))
        # colours, not numbers: the weights (values) and their gradients as the playground draws them
        viz.draw_network(result, step=k, show="values", lang=lang, ax=weights, detail=False)
        viz.draw_network(result, step=k, show="grads", lang=lang, ax=grads, detail=False)
        viz.plot_loss(losses[:k], ax=right, lang=lang, log=False,
                      title=f"{figure_text(spec.name)}: {'第 %d 步' % k if lang == 'zh' else f'step {k} of {steps}'}, "
                            f"L = {losses[k - 1]:.4g}")
        right.set_xlim(0.5, steps + 0.5)
        right.set_ylim(low - pad, high + pad)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
        images.append(buf.getvalue())
    return picks, images


def animate(spec, out: str, steps: int | None = None, frames: int = 30, fps: float = 5, lang: str = "en") -> str:
    """Write the training of ``spec`` as an animated GIF at ``out``; the last frame holds longer."""
    from PIL import Image

    from .io import atomic_open

    if not str(out).lower().endswith(".gif"):
        raise ValueError(f"--animate writes a GIF: --out {out} must end in .gif")
    if not 0 < fps <= 50:
        raise ValueError(f"animate: fps must be in (0, 50], got {fps}")
    _, pngs = training_frames(spec, steps=steps, frames=frames, lang=lang)
    images = [Image.open(io.BytesIO(p)).convert("RGB") for p in pngs]
    palette = images[-1].quantize(colors=255, method=Image.Quantize.MEDIANCUT)
    frames_p = [im.quantize(palette=palette, dither=Image.Dither.NONE) for im in images]
    durations = [int(1000 / fps)] * len(frames_p)
    durations[-1] = max(durations[-1], 2000)
    with atomic_open(out, "wb") as fh:
        frames_p[0].save(fh, format="GIF", save_all=True, append_images=frames_p[1:], duration=durations, loop=0)
    return out
