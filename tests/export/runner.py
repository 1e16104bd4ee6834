"""Run generated scripts in a subprocess and read back their per-epoch lines."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys

import numpy as np

LINE = re.compile(r"^epoch (\d+) prediction (.*) loss (\S+)$")


def run_script(path, timeout=120) -> list[tuple[np.ndarray, float]]:
    """(prediction, loss) per epoch, as the script printed them."""
    done = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{path} failed:\n{done.stderr[-3000:]}"
    epochs = []
    for k, line in enumerate(done.stdout.strip().splitlines()):
        m = LINE.match(line)
        assert m and int(m.group(1)) == k, f"unexpected line {k}: {line!r}"
        epochs.append((np.ravel(np.array(ast.literal_eval(m.group(2)), dtype=float)), float(m.group(3))))
    return epochs


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
