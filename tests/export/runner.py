"""Run generated scripts in a subprocess and read back their per-epoch lines."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys

import numpy as np

LINE = re.compile(r"^epoch (\d+) prediction (.*) loss (\S+)$")
UPDATED = re.compile(r"^epoch (\d+) updated (\{.*\})$")


def run_script(path, timeout=120, updates=None) -> list[tuple[np.ndarray, float]]:
    """(prediction, loss) per epoch, as the script printed them; each epoch's printed updated
    weights go to ``updates`` (a list) when given, as one array (layer by layer, (from, to) order)."""
    done = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{path} failed:\n{done.stderr[-3000:]}"
    epochs = []
    for line in done.stdout.strip().splitlines():
        m = UPDATED.match(line)
        if m:
            assert int(m.group(1)) == len(epochs) - 1, f"updated weights out of order: {line[:80]!r}"
            if updates is not None:
                updates.append(weights_of(ast.literal_eval(m.group(2))))
            continue
        m = LINE.match(line)
        assert m and int(m.group(1)) == len(epochs), f"unexpected line {len(epochs)}: {line!r}"
        epochs.append((np.ravel(np.array(ast.literal_eval(m.group(2)), dtype=float)), float(m.group(3))))
    return epochs


def weights_of(printed: dict) -> np.ndarray:
    """The weights of a printed {name: value} dict, in order: scalar scripts print w_l_ij one by one
    (layer by layer, row by row), NumPy and PyTorch scripts one (from, to) matrix per layer."""
    return np.concatenate([np.ravel(np.asarray(v, dtype=float)) for k, v in printed.items() if k[0] in "wW"])


def assert_agree(epochs, outputs, losses, rtol=1e-9, atol=1e-12, what=""):
    assert len(epochs) == len(losses), f"{what}: {len(epochs)} epochs printed, expected {len(losses)}"
    for k, ((pred, loss), out, ref) in enumerate(zip(epochs, outputs, losses)):
        np.testing.assert_allclose(pred, np.ravel(out), rtol=rtol, atol=atol, err_msg=f"{what}: prediction, epoch {k}")
        np.testing.assert_allclose(loss, ref, rtol=rtol, atol=atol, err_msg=f"{what}: loss, epoch {k}")


def ruff_problems(paths) -> str | None:
    """ruff's report on the files (None when all pass); skipped by the caller when ruff is missing."""
    ruff = shutil.which("ruff") or shutil.which("ruff", path=str(__import__("pathlib").Path(sys.executable).parent))
    done = subprocess.run([ruff, "check", "--no-cache", "--isolated", *map(str, paths)], capture_output=True, text=True)
    return None if done.returncode == 0 else done.stdout + done.stderr


def have_ruff() -> bool:
    from pathlib import Path

    return bool(shutil.which("ruff") or shutil.which("ruff", path=str(Path(sys.executable).parent)))
