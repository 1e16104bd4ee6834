"""Safe files: bounded reads of user files, atomic writes, and checkpoints that never unpickle.

* ``read_text`` / ``parse_config`` read a user's spec, answer or CSV file: refused by size before a
  byte is read, decoded as UTF-8, parsed as TOML or JSON, every failure naming the file.

* ``atomic_open`` / ``atomic_write`` write to a temporary file in the target's folder, flush and
  fsync it, then ``os.replace`` it over the target: a crash at any moment leaves either the old file
  or the new one, never half of one. Every writer in chainrule (checkpoints, figures, derivations,
  exports) should go through them.
* ``save_checkpoint`` / ``load_checkpoint`` use NumPy's ``.npz`` with ``allow_pickle=False``: arrays
  as arrays, everything else (optimizer hyperparameters, step counts, user metadata) as JSON text
  stored in a uint8 array. Loading checks the file's size and the archive's declared sizes before
  reading anything, and every failure names the file.

>>> import chainrule as cr, tempfile, os
>>> model = cr.nn.Linear(2, 1)
>>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
>>> cr.io.save_checkpoint(path, model, meta={"epoch": 3})
>>> cr.io.load_checkpoint(path, model=model)["meta"]
{'epoch': 3}
"""

from __future__ import annotations

import contextlib
import errno
import io
import math
import os
import stat
from collections import OrderedDict

import numpy as np

from .errors import CheckpointError, ShapeError, SpecError

# json, tempfile, tomllib and zipfile are imported where they are used, so that ``import chainrule``
# does not load them (start-up time; see benchmarks/bench_engine.py).

FORMAT = "chainrule-checkpoint"
VERSION = 1
MAX_BYTES = 1 << 30  # 1 GiB: far above any model this tool trains, far below what would hurt the machine
_META = "__meta__.json"


# ---------------------------------------------------------------------------- bounded reads
def read_text(path, *, kind: str, max_bytes: int, missing: str = "no such file", encoding: str = "utf-8") -> str:
    """The text of a user file, refused when it is larger than ``max_bytes``.

    The read itself is bounded (at most ``max_bytes + 1`` bytes, whatever the file is: ``/dev/zero``
    reports a size of 0), and it never waits: a named pipe or socket is refused unless it is this
    process's standard input, and a device is read without blocking. A UTF-8 byte-order mark is
    dropped. ``kind`` names the files in the size message ("specs", "CSV files"); ``missing`` is the
    message for a path that does not exist. Every error is a ``SpecError`` that starts with the path.
    """
    data = read_bytes(path, kind=kind, max_bytes=max_bytes, missing=missing)
    path = os.fspath(path)
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise SpecError(f"{path}: not a UTF-8 text file (byte {exc.start}: {exc.reason})") from None
    return text[1:] if text.startswith("\ufeff") else text


def read_bytes(path, *, kind: str, max_bytes: int, missing: str = "no such file") -> bytes:
    """At most ``max_bytes`` bytes of a user file (see ``read_text``); more is refused."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise SpecError(f"{path}: {missing}")
    if os.path.isdir(path):
        raise SpecError(f"{path}: is a folder, not a file")
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode) and not stat.S_ISCHR(info.st_mode) and not _is_stdin(info):
            raise SpecError(f"{path}: not a regular file (a pipe, socket or block device); give a file, "
                            f"or pipe the text into standard input and name /dev/stdin")
        if stat.S_ISREG(info.st_mode) and info.st_size > max_bytes:
            raise SpecError(f"{path}: file is {info.st_size:,} bytes; {kind} larger than {max_bytes:,} bytes are refused")
        blocking = stat.S_ISREG(info.st_mode) or _is_stdin(info)
        fd = os.open(path, os.O_RDONLY | (0 if blocking else os.O_NONBLOCK))
        try:
            chunks, total = [], 0
            while total <= max_bytes:
                chunk = os.read(fd, min(1 << 20, max_bytes + 1 - total))
                if not chunk:
                    break
                chunks.append(chunk)
                total += len(chunk)
        finally:
            os.close(fd)
    except BlockingIOError:
        raise SpecError(f"{path}: a device with nothing to read; give a file") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot read: {exc.strerror}") from None
    if total > max_bytes:
        raise SpecError(f"{path}: file is over {max_bytes:,} bytes; {kind} larger than {max_bytes:,} bytes are refused")
    return b"".join(chunks)


def _is_stdin(info) -> bool:
    """Whether ``info`` (an ``os.stat`` result) is this process's standard input."""
    try:
        own = os.fstat(0)
    except OSError:
        return False
    return (own.st_dev, own.st_ino) == (info.st_dev, info.st_ino)


MAX_NESTING = 32  # tables and lists inside each other: a spec needs 4, an answer file 5


def parse_config(text: str, where: str, *, as_json: bool) -> dict:
    """A TOML (or, with ``as_json``, JSON) document whose top level must be a table of keys.

    Refused with a ``SpecError`` naming ``where``: a JSON object with the same key twice (TOML
    refuses that itself), and anything nested deeper than ``MAX_NESTING`` (checked on the text
    before parsing, so no parser recursion can overflow the stack).
    """
    if text.startswith("\ufeff"):  # a byte-order mark is valid UTF-8; editors on Windows write one
        text = text[1:]
    _check_nesting(text, where, as_json)
    import json

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        raw = json.loads(text, object_pairs_hook=lambda pairs: _unique(pairs, where)) if as_json \
            else tomllib.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(f"{where}: not valid JSON: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{where}: not valid TOML: {exc}") from None
    except RecursionError:
        raise SpecError(f"{where}: nested more than {MAX_NESTING} levels deep") from None
    except SpecError:
        raise
    except ValueError as exc:  # e.g. an integer literal of more than 4,300 digits
        raise SpecError(f"{where}: cannot read: {exc}") from None
    if not isinstance(raw, dict):
        raise SpecError(f"{where}: the top level must be a table of keys, got {type(raw).__name__}")
    return raw


def _unique(pairs, where) -> dict:
    out = {}
    for key, value in pairs:
        if key in out:
            raise SpecError(f"{where}: key {key!r} appears twice in the same object")
        out[key] = value
    return out


def _check_nesting(text: str, where: str, as_json: bool) -> None:
    """Refuse brackets nested deeper than ``MAX_NESTING`` outside strings (an over-estimate for TOML
    table headers and comments is harmless: they do not nest)."""
    depth = deepest = 0
    quote = None
    escaped = comment = False
    opening, closing = "[{", "]}"
    for ch in text:
        if comment:
            comment = ch != "\n"
        elif quote:
            if escaped:
                escaped = False
            elif ch == "\\" and quote == '"':
                escaped = True
            elif ch == quote:
                quote = None
            elif ch == "\n" and not as_json:
                quote = None  # a TOML basic string ends at the line (multi-line strings do not nest)
        elif ch in "\"'" and (as_json is False or ch == '"'):
            quote = ch
        elif ch == "#" and not as_json:
            comment = True
        elif ch in opening:
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_NESTING:
                    raise SpecError(f"{where}: nested more than {MAX_NESTING} levels deep")
        elif ch in closing:
            depth = max(depth - 1, 0)


# ---------------------------------------------------------------------------- atomic writes
@contextlib.contextmanager
def atomic_open(path, mode: str = "wb", encoding: str = "utf-8"):
    """Open a temporary file next to ``path`` for writing; on success it replaces ``path`` atomically.

    If the block raises (or the process dies) ``path`` is untouched; the temporary file is removed
    when Python gets the chance. Modes: ``"wb"`` or ``"w"`` (text, ``encoding``).
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open: mode must be 'w' or 'wb', got {mode!r}")
    given = os.fspath(path)
    try:
        info = os.stat(given)  # follows symlinks (/dev/stdout -> the pipe or terminal behind it)
    except OSError:
        info = None
    # /dev/stdout, /dev/fd/1: the file a process already has open (a shell's `> out.py`) is written in
    # place; replacing it by name would leave the process's descriptor on the old file
    opened = given.startswith(("/dev/std", "/dev/fd/")) or os.path.realpath(given).startswith("/proc/")
    if info is not None and not stat.S_ISDIR(info.st_mode) and (not stat.S_ISREG(info.st_mode) or opened):
        # a device, named pipe or socket (/dev/null, /dev/stdout): written straight through, never
        # replaced by a regular file (which, as root, would replace the device node itself). The
        # data is gathered in memory first: writers such as zipfile seek, and a device cannot.
        buffer = io.BytesIO() if "b" in mode else io.StringIO(newline="")
        yield buffer
        data = buffer.getvalue()
        fd = _open_special(given, truncate=stat.S_ISREG(info.st_mode))
        with os.fdopen(fd, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode(encoding))
        return
    path = os.path.realpath(given)  # a symlink is followed: its target is written, the link stays
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot write '{given}': the folder '{folder}' does not exist")
    if os.path.isdir(path):
        raise IsADirectoryError(f"cannot write '{given}': it is a folder; give a file name")
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": encoding, "newline": ""})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _mode_for(path))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)


def _open_special(given, truncate: bool = False) -> int:
    """A descriptor writing straight to a device or named pipe. Opening a pipe waits for a reader, so
    it is opened without waiting and refused at once when nobody reads it."""
    try:
        fd = os.open(given, os.O_WRONLY | os.O_NONBLOCK | (os.O_TRUNC if truncate else 0))
    except OSError as exc:
        if exc.errno in (errno.ENXIO, errno.EOPNOTSUPP):
            raise OSError(f"cannot write '{given}': a named pipe or socket that nobody reads") from None
        raise
    os.set_blocking(fd, True)
    return fd


def atomic_write(path, data: bytes | str, encoding: str = "utf-8") -> None:
    """Write ``data`` (bytes, or text as ``encoding``) to ``path`` atomically."""
    with atomic_open(path, "wb" if isinstance(data, (bytes, bytearray, memoryview)) else "w", encoding) as f:
        f.write(data)


def _mode_for(path) -> int:
    """Keep an existing file's permissions; new files get the usual 0666 minus the umask."""
    try:
        return os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _fsync_folder(folder) -> None:
    """Make the rename itself durable (POSIX); harmless where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------- checkpoints
class Checkpoint(dict):
    """What ``load_checkpoint`` returns: ``model`` (name → array), ``optimizer`` (or None), ``meta``.

    A missing entry raises a ``KeyError`` that names the file and the entries it does have.
    """

    def __init__(self, path, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.path = path

    def __missing__(self, key):
        raise KeyError(f"checkpoint '{self.path}' has no entry {key!r}; it has: {', '.join(sorted(self))}")


def _model_state(model_or_state) -> OrderedDict:
    if hasattr(model_or_state, "state_dict") and callable(model_or_state.state_dict):
        model_or_state = model_or_state.state_dict()
    if not isinstance(model_or_state, dict):
        raise TypeError(
            f"save_checkpoint: expected a Module or a dict of arrays, got {type(model_or_state).__name__}"
        )
    state = OrderedDict()
    for name, value in model_or_state.items():
        arr = np.asarray(getattr(value, "data", value))
        if arr.dtype.hasobject:
            raise TypeError(f"save_checkpoint: entry {name!r} is not a numeric array (dtype {arr.dtype})")
        state[str(name)] = arr
    return state


def _plain(value, where: str):
    """A JSON-safe copy of a hyperparameter or state scalar."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, (tuple, list)):
        return [_plain(v, where) for v in value]
    if value is None or isinstance(value, str):
        return value
    raise TypeError(
        f"save_checkpoint: cannot store {where} = {value!r} (type {type(value).__name__}) without pickle"
    )


def save_checkpoint(path, model_or_state, optimizer=None, meta=None) -> None:
    """Save a model's parameters (a ``Module`` or a state dict), optionally an optimizer and JSON ``meta``.

    Written atomically: an interrupted save leaves the previous checkpoint intact.
    """
    arrays = {f"model/{name}": arr for name, arr in _model_state(model_or_state).items()}
    header = {"format": FORMAT, "version": VERSION, "model": list(_model_state(model_or_state)), "optimizer": None,
              "meta": meta}
    if optimizer is not None:
        sd = optimizer.state_dict()
        scalars = {}
        for index, entries in sd["state"].items():
            for key, value in entries.items():
                if isinstance(value, np.ndarray):
                    arrays[f"optimizer/{index}/{key}"] = value
                else:
                    scalars.setdefault(str(index), {})[key] = _plain(value, f"optimizer state {index}.{key}")
        header["optimizer"] = {
            "type": type(optimizer).__name__,
            "param_groups": [{k: _plain(v, f"optimizer hyperparameter {k}") for k, v in g.items()}
                             for g in sd["param_groups"]],
            "group_sizes": [len(g["params"]) for g in optimizer.param_groups],
            "scalars": scalars,
        }
    import json

    try:
        text = json.dumps(header, allow_nan=True)
    except TypeError as exc:
        raise TypeError(
            f"save_checkpoint: meta must be JSON-serialisable (numbers, strings, lists, dicts): {exc}"
        ) from None
    arrays[_META] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    with atomic_open(path, "wb") as f:
        np.savez(f, **arrays)


def load_checkpoint(path, model=None, optimizer=None, max_bytes: int = MAX_BYTES) -> Checkpoint:
    """Read a checkpoint written by ``save_checkpoint``; never unpickles anything.

    Returns a ``Checkpoint`` with ``model``, ``optimizer`` and ``meta``. Given ``model`` and/or
    ``optimizer``, their states are loaded too (the model's names and shapes are checked by
    ``load_state_dict``). Files over ``max_bytes`` (on disk, or once unpacked) are refused before
    anything is read.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load_checkpoint: no such file: '{path}'")
    if not os.path.isfile(path):
        raise CheckpointError(f"load_checkpoint: '{path}' is not a regular file (a folder, device or pipe)")
    size = os.path.getsize(path)
    if size > max_bytes:
        raise CheckpointError(
            f"load_checkpoint: '{path}' is {size:,} bytes, over the limit of {max_bytes:,}; "
            f"pass max_bytes= to raise the limit if you trust this file"
        )
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
            if unpacked <= max_bytes:
                for info in archive.infolist():
                    _check_npy_header(path, archive, info)
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise CheckpointError(
            f"load_checkpoint: '{path}' is not a checkpoint (corrupt or truncated: {exc})"
        ) from None
    if unpacked > max_bytes:
        raise CheckpointError(
            f"load_checkpoint: '{path}' unpacks to {unpacked:,} bytes, over the limit of {max_bytes:,}; "
            f"pass max_bytes= to raise the limit if you trust this file"
        )
    entries = {}
    try:
        with np.load(path, allow_pickle=False) as npz:
            for key in npz.files:
                try:
                    entries[key] = npz[key]
                except ValueError as exc:
                    if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
                        raise CheckpointError(
                            f"load_checkpoint: '{path}' entry {key!r} holds pickled Python objects; chainrule "
                            f"never unpickles files (it could run arbitrary code), so this file is refused"
                        ) from None
                    raise
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise CheckpointError(
            f"load_checkpoint: '{path}' is not a checkpoint (corrupt or truncated: {exc})"
        ) from None
    header = _header(path, entries)
    state = OrderedDict()
    for name in header["model"]:
        key = f"model/{name}"
        if key not in entries:
            raise CheckpointError(f"load_checkpoint: '{path}' lists parameter {name!r} but has no array for it")
        state[name] = entries[key]
    ckpt = Checkpoint(path, model=state, optimizer=_optimizer_state(path, header, entries), meta=header["meta"])
    if model is not None:
        try:
            model.load_state_dict(state)
        except KeyError as exc:  # missing or unexpected parameter names: a checkpoint of another network
            raise CheckpointError(f"load_checkpoint: '{path}' does not fit the model: {exc.args[0]}") from None
        except ShapeError as exc:
            raise ShapeError(f"load_checkpoint: '{path}' does not fit the model: {exc}") from None
    if optimizer is not None:
        _load_optimizer(path, ckpt, header, optimizer)
    return ckpt


def _check_npy_header(path, archive, info) -> None:
    """An ``.npy`` member whose header claims more data than the member holds (a crafted file that
    would make NumPy allocate terabytes) or object arrays is refused before NumPy reads it."""
    if not info.filename.endswith(".npy"):
        return
    name = info.filename[:-4]
    with archive.open(info) as fh:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version in ((2, 0), (3, 0)):
            shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
        else:
            raise CheckpointError(f"load_checkpoint: '{path}' entry {name!r} has an unknown .npy version {version}")
    if dtype.hasobject:
        raise CheckpointError(
            f"load_checkpoint: '{path}' entry {name!r} holds pickled Python objects; chainrule never unpickles files "
            f"(it could run arbitrary code), so this file is refused"
        )
    claimed = dtype.itemsize * math.prod(shape)
    if claimed > info.file_size:
        raise CheckpointError(
            f"load_checkpoint: '{path}' entry {name!r} claims shape {tuple(shape)} ({claimed:,} bytes) but holds "
            f"{info.file_size:,} bytes: corrupt or crafted"
        )


def _header(path, entries) -> dict:
    if _META not in entries:
        raise CheckpointError(
            f"load_checkpoint: '{path}' has no '{_META}' entry, so it was not written by save_checkpoint "
            f"(its entries: {', '.join(sorted(entries)) or 'none'})"
        )
    import json

    try:
        header = json.loads(entries[_META].tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, ValueError) as exc:
        raise CheckpointError(f"load_checkpoint: '{path}' has an unreadable '{_META}' entry: {exc}") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        found = header.get("format") if isinstance(header, dict) else type(header).__name__
        raise CheckpointError(f"load_checkpoint: '{path}' is not a chainrule checkpoint (format {found!r})")
    if header.get("version") != VERSION:
        raise CheckpointError(
            f"load_checkpoint: '{path}' has checkpoint version {header.get('version')!r}; this chainrule reads "
            f"version {VERSION}"
        )
    _malformed = lambda what: CheckpointError(  # noqa: E731
        f"load_checkpoint: '{path}' has a malformed '{_META}' entry: {what}")
    model = header.get("model")
    if not isinstance(model, list) or not all(isinstance(n, str) for n in model):
        raise _malformed("'model' must be a list of parameter names")
    info = header.get("optimizer")
    if info is not None:
        if not isinstance(info, dict):
            raise _malformed("'optimizer' must be a table or null")
        if not isinstance(info.get("type"), str):
            raise _malformed("'optimizer.type' must be a name")
        groups = info.get("param_groups")
        if not isinstance(groups, list) or not all(isinstance(g, dict) for g in groups):
            raise _malformed("'optimizer.param_groups' must be a list of tables")
        for g in groups:
            for k, v in g.items():
                if not _is_hyper(v):
                    raise _malformed(f"optimizer hyperparameter {k!r} = {v!r} is not a number, flag or list of numbers")
        sizes = info.get("group_sizes")
        if not isinstance(sizes, list) or not all(type(n) is int and n >= 0 for n in sizes):
            raise _malformed("'optimizer.group_sizes' must be a list of counts")
        scalars = info.get("scalars")
        if not isinstance(scalars, dict) or not all(
                _index(k) is not None and isinstance(v, dict) and all(_is_hyper(x) for x in v.values())
                for k, v in scalars.items()):
            raise _malformed("'optimizer.scalars' must map parameter indices to tables of numbers")
    return header


def _is_hyper(v) -> bool:
    if isinstance(v, list):
        return all(isinstance(x, (int, float)) for x in v)
    return v is None or isinstance(v, (bool, int, float))


def _index(text):
    """A parameter index written as text ("0", "12"), or None."""
    return int(text) if isinstance(text, str) and text.isdigit() and len(text) < 10 else None


def _optimizer_state(path, header, entries):
    info = header.get("optimizer")
    if info is None:
        return None
    state = {}
    for key, value in entries.items():
        if key.startswith("optimizer/"):
            parts = key.split("/", 2)
            if len(parts) != 3 or _index(parts[1]) is None:
                raise CheckpointError(f"load_checkpoint: '{path}' has a malformed entry {key!r} "
                                      f"(expected optimizer/<index>/<name>)")
            state.setdefault(int(parts[1]), {})[parts[2]] = value
    for index, scalars in info["scalars"].items():
        state.setdefault(int(index), {}).update(scalars)
    groups = []
    for g in info["param_groups"]:
        groups.append({k: tuple(v) if isinstance(v, list) else v for k, v in g.items()})
    return {"type": info["type"], "group_sizes": info["group_sizes"], "state": state, "param_groups": groups}


def _load_optimizer(path, ckpt, header, optimizer) -> None:
    saved = ckpt["optimizer"]
    if saved is None:
        raise CheckpointError(f"load_checkpoint: '{path}' has no optimizer state (it was saved without optimizer=)")
    name = type(optimizer).__name__
    if saved["type"] != name:
        raise CheckpointError(f"load_checkpoint: '{path}' holds {saved['type']} state, but the optimizer is {name}")
    sizes = [len(g["params"]) for g in optimizer.param_groups]
    if sizes != saved["group_sizes"]:
        raise CheckpointError(
            f"load_checkpoint: '{path}' holds optimizer state for parameter groups of sizes {saved['group_sizes']}, "
            f"but this {name} has groups of sizes {sizes}"
        )
    params = [p for g in optimizer.param_groups for p in g["params"]]
    for index, entries in saved["state"].items():
        if index >= len(params):
            raise CheckpointError(f"load_checkpoint: '{path}' holds optimizer state for parameter {index}, but "
                                  f"this {name} has {len(params)} parameters")
        shape = tuple(params[index].shape)
        for key, value in entries.items():
            if isinstance(value, np.ndarray) and value.shape != shape:
                raise CheckpointError(
                    f"load_checkpoint: '{path}' holds optimizer state {key!r} of shape {value.shape} for parameter "
                    f"{index}, whose shape is {shape}")
    optimizer.load_state_dict({"state": saved["state"], "param_groups": saved["param_groups"]})
