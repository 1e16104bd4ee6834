"""Safe files: atomic writes survive a killed writer; checkpoints round-trip and never unpickle.

Entries F1–F6 of docs/errors.md.
"""

from __future__ import annotations

import os
import pathlib
import re
import signal
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.io import atomic_open, atomic_write, load_checkpoint, save_checkpoint

F64 = np.float64


def esc(text) -> str:
    return re.escape(str(text))


def make_model(seed=0):
    cr.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 4, dtype=F64), nn.Tanh(), nn.Linear(4, 2, dtype=F64))


def batch(step):
    rng = np.random.default_rng(100 + step)
    return cr.tensor(rng.standard_normal((5, 3))), cr.tensor(rng.standard_normal((5, 2)))


def train(model, opt, steps, start=0):
    for step in range(start, start + steps):
        x, y = batch(step)
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()


# ---------------------------------------------------------------------------- atomic writes
def _kill_when_writing(script: str) -> None:
    """Run ``script`` in a child process and SIGKILL it as soon as it prints "writing"."""
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    try:
        assert proc.stdout.readline().strip() == b"writing"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL


def test_atomic_write_replaces_and_leaves_nothing_behind(tmp_path):
    path = tmp_path / "note.txt"
    atomic_write(path, "first")
    atomic_write(path, "second ✓")
    assert path.read_text(encoding="utf-8") == "second ✓"
    atomic_write(path, b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"
    assert os.listdir(tmp_path) == ["note.txt"]


def test_atomic_write_keeps_permissions(tmp_path):
    path = tmp_path / "script.sh"
    path.write_text("old")
    os.chmod(path, 0o750)
    atomic_write(path, "new")
    assert os.stat(path).st_mode & 0o777 == 0o750


def test_failure_inside_the_block_leaves_the_old_file(tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(b"old contents")
    with pytest.raises(RuntimeError, match="disk on fire"), atomic_open(path, "wb") as f:
        f.write(b"new half")
        raise RuntimeError("disk on fire")
    assert path.read_bytes() == b"old contents"
    assert os.listdir(tmp_path) == ["data.bin"]  # the temporary file was removed


def test_failed_checkpoint_save_leaves_the_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    model = make_model()
    save_checkpoint(path, model)
    before = path.read_bytes()

    def broken_savez(file, **arrays):
        file.write(b"PK\x03\x04 partial")
        raise OSError("No space left on device")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(path, make_model(seed=1))
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.npz"]


def test_writer_killed_mid_write_leaves_the_old_file(tmp_path):
    path = tmp_path / "big.bin"
    path.write_bytes(b"the old file")
    script = textwrap.dedent(f"""
        import sys, time
        from chainrule.io import atomic_open
        with atomic_open({str(path)!r}, "wb") as f:
            f.write(b"x" * 1_000_000)
            f.flush()
            print("writing", flush=True)
            time.sleep(60)
            f.write(b"never")
    """)
    _kill_when_writing(script)
    assert path.read_bytes() == b"the old file"
    # the killed writer could not clean up: its temporary file is there, half written, under another name
    leftovers = [p for p in os.listdir(tmp_path) if p != "big.bin"]
    assert leftovers and all(p.startswith(".big.bin.") and p.endswith(".tmp") for p in leftovers)


def test_train_killed_while_writing_its_checkpoint_leaves_the_old_one(tmp_path):
    from chainrule.cli import main

    path = tmp_path / "iris.npz"
    assert main(["train", "iris", "--data", "iris", "--epochs", "1", "--quiet", "--checkpoint", str(path)]) == 0
    before = path.read_bytes()
    # the same command in another process, stopped for good in the middle of writing the next checkpoint
    script = textwrap.dedent(f"""
        import sys, time
        import numpy as np
        from chainrule.cli import main

        def savez_then_hang(file, **arrays):
            file.write(b"PK\\x03\\x04 half a checkpoint")
            file.flush()
            print("writing", flush=True)
            time.sleep(60)

        np.savez = savez_then_hang
        main(["train", "iris", "--data", "iris", "--epochs", "1", "--quiet", "--checkpoint", {str(path)!r}])
    """)
    _kill_when_writing(script)
    assert path.read_bytes() == before
    assert load_checkpoint(path)["meta"]["epoch"] == 1


def test_atomic_open_in_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=esc(f"the folder '{tmp_path / 'nope'}' does not exist")):
        atomic_write(tmp_path / "nope" / "x.txt", "data")


def test_atomic_open_onto_a_folder(tmp_path):
    (tmp_path / "out").mkdir()
    with pytest.raises(IsADirectoryError, match="^" + esc(f"cannot write '{tmp_path / 'out'}': it is a folder; "
                                                          "give a file name")):
        atomic_write(tmp_path / "out", "data")
    assert os.listdir(tmp_path) == ["out"] and os.listdir(tmp_path / "out") == []


# ---------------------------------------------------------------------------- checkpoints
@pytest.mark.parametrize("make_opt", [
    lambda p: cr.optim.Adam(p, lr=0.01),
    lambda p: cr.optim.AdamW(p, lr=0.01, amsgrad=True),
    lambda p: cr.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True),
])
def test_round_trip_resumes_exactly(tmp_path, make_opt):
    # uninterrupted: 5 steps
    straight = make_model()
    opt = make_opt(straight.parameters())
    train(straight, opt, 5)
    # interrupted: 3 steps, save, load into fresh objects, 2 more steps
    first = make_model()
    opt1 = make_opt(first.parameters())
    train(first, opt1, 3)
    path = tmp_path / "run.npz"
    save_checkpoint(path, first, opt1, meta={"epoch": 3, "note": "halfway", "losses": [1.5, 0.25]})
    resumed = make_model(seed=42)  # different initial weights, all overwritten by the load
    opt2 = make_opt(resumed.parameters())
    ckpt = load_checkpoint(path, model=resumed, optimizer=opt2)
    assert ckpt["meta"] == {"epoch": 3, "note": "halfway", "losses": [1.5, 0.25]}
    train(resumed, opt2, 2, start=3)
    for (name, a), (_, b) in zip(straight.named_parameters(), resumed.named_parameters()):
        np.testing.assert_array_equal(a.data, b.data, err_msg=name)


def test_checkpoint_of_a_plain_state_dict(tmp_path):
    state = {"w": np.arange(6.0).reshape(2, 3), "b": np.array([1, 2], dtype=np.int32)}
    save_checkpoint(tmp_path / "s.npz", state)
    loaded = load_checkpoint(tmp_path / "s.npz")
    assert list(loaded["model"]) == ["w", "b"] and loaded["optimizer"] is None and loaded["meta"] is None
    np.testing.assert_array_equal(loaded["model"]["w"], state["w"])
    assert loaded["model"]["b"].dtype == np.int32


def test_saving_unstorable_values_fails_before_writing(tmp_path):
    path = tmp_path / "c.npz"
    with pytest.raises(TypeError, match="meta must be JSON-serialisable"):
        save_checkpoint(path, make_model(), meta={"when": object()})
    with pytest.raises(TypeError, match=esc("entry 'w' is not a numeric array (dtype object)")):
        save_checkpoint(path, {"w": np.array([{}, 1], dtype=object)})
    assert not path.exists()


def test_F1_missing_file(tmp_path):
    path = tmp_path / "nowhere.npz"
    with pytest.raises(FileNotFoundError, match=esc(f"load_checkpoint: no such file: '{path}'")):
        load_checkpoint(path)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_F2_corrupt_or_truncated_file(tmp_path, damage):
    path = tmp_path / "broken.npz"
    save_checkpoint(path, make_model())
    data = path.read_bytes()
    path.write_bytes({"garbage": b"not a zip at all" * 10, "truncated": data[: len(data) // 2], "empty": b""}[damage])
    with pytest.raises(cr.CheckpointError, match=esc(f"load_checkpoint: '{path}' is not a checkpoint (corrupt or truncated")):
        load_checkpoint(path)


def test_F2_an_npz_not_written_by_save_checkpoint(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, weights=np.ones(3))
    with pytest.raises(cr.CheckpointError, match=esc(f"'{path}' has no '__meta__.json' entry") + ".*weights"):
        load_checkpoint(path)


def test_F3_file_too_large_is_refused_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "huge.npz"
    save_checkpoint(path, {"w": np.zeros(10_000)})
    size = path.stat().st_size

    def no_reading(*args, **kwargs):
        raise AssertionError("the file was opened although it is over the limit")

    monkeypatch.setattr(np, "load", no_reading)
    monkeypatch.setattr(zipfile, "ZipFile", no_reading)
    with pytest.raises(cr.CheckpointError, match=esc(f"load_checkpoint: '{path}' is {size:,} bytes, over the limit "
                                                     f"of 1,000")):
        load_checkpoint(path, max_bytes=1000)


def test_F3_small_file_that_unpacks_too_large_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "bomb.npz"
    np.savez_compressed(path, w=np.zeros(5_000_000, dtype=np.uint8))  # 5 MB of zeros, a few kB on disk
    assert path.stat().st_size < 100_000
    monkeypatch.setattr(np, "load", lambda *a, **k: pytest.fail("arrays were read"))
    with pytest.raises(cr.CheckpointError, match=esc(f"'{path}' unpacks to 5,000,") + ".*over the limit of 1,000,000"):
        load_checkpoint(path, max_bytes=1_000_000)


def test_F4_missing_entry(tmp_path):
    path = tmp_path / "model_only.npz"
    save_checkpoint(path, make_model())
    ckpt = load_checkpoint(path)
    with pytest.raises(KeyError, match=esc(f"checkpoint '{path}' has no entry 'epoch'; it has: meta, model, optimizer")):
        ckpt["epoch"]
    opt = cr.optim.SGD(make_model().parameters(), lr=0.1)
    with pytest.raises(cr.CheckpointError, match=esc(f"'{path}' has no optimizer state")):
        load_checkpoint(path, optimizer=opt)


class _Boom:
    """Unpickling this would create a file: the evidence that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_F5_pickled_objects_are_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.npz"
    meta = np.frombuffer(b'{"format": "chainrule-checkpoint", "version": 1, "model": ["w"], "optimizer": null, '
                         b'"meta": null}', dtype=np.uint8)
    np.savez(path, **{"__meta__.json": meta, "model/w": np.array([_Boom(str(marker))], dtype=object)})
    with pytest.raises(cr.CheckpointError, match=esc(f"'{path}' entry 'model/w' holds pickled Python objects")):
        load_checkpoint(path)
    assert not marker.exists()


def test_F6_checkpoint_does_not_fit_the_model_or_optimizer(tmp_path):
    path = tmp_path / "ckpt.npz"
    model = make_model()
    save_checkpoint(path, model, cr.optim.Adam(model.parameters()))
    other = nn.Sequential(nn.Linear(3, 5, dtype=F64), nn.Tanh(), nn.Linear(5, 2, dtype=F64))
    with pytest.raises(cr.ShapeError, match=esc(f"load_checkpoint: '{path}' does not fit the model: load_state_dict "
                                                "for Sequential: size mismatch for 0.weight: the checkpoint has shape "
                                                "(4, 3), the model has shape (5, 3)")):
        load_checkpoint(path, model=other)
    deeper = nn.Sequential(*make_model(), nn.Tanh(), nn.Linear(2, 2, dtype=F64))
    with pytest.raises(cr.CheckpointError, match=esc(f"load_checkpoint: '{path}' does not fit the model: "
                                                     "load_state_dict for Sequential: missing keys: 4.weight, 4.bias")):
        load_checkpoint(path, model=deeper)
    with pytest.raises(cr.CheckpointError, match=esc(f"'{path}' holds Adam state, but the optimizer is SGD")):
        load_checkpoint(path, optimizer=cr.optim.SGD(model.parameters(), lr=0.1))
    fewer = cr.optim.Adam(list(model.parameters())[:2])
    with pytest.raises(cr.CheckpointError, match=esc("parameter groups of sizes [4], but this Adam has groups of "
                                                     "sizes [2]")):
        load_checkpoint(path, optimizer=fewer)


def test_no_pickle_anywhere_in_the_loader():
    source = pathlib.Path(cr.io.__file__).read_text(encoding="utf-8")
    assert "allow_pickle=False" in source
    assert not re.search(r"\bimport pickle\b|allow_pickle=True|pickle\.load", source)
