"""Network specs: a small TOML (or JSON) file that describes a fully-connected network, its data and
one training setup. Every problem is reported as a ``SpecError`` naming the file and the key.

Weight matrices are written in (from, to) order, the way the seed writes w_ij: row i is neuron i of
the layer below, column j is neuron j of the layer above (``order = "out_in"`` reads them in
PyTorch's (out, in) order instead). ``bias = "shared"`` gives a layer one bias for all its neurons
(Mazur's b1, b2); ``frozen = ["b1", "b2"]`` (or ``trainable = [...]``) keeps parameters out of training.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from importlib import resources

import numpy as np

from .errors import SpecError
from .io import parse_config, read_text

ACTIVATIONS = ("none", "relu", "sigmoid", "tanh", "leaky_relu", "softmax")
LOSSES = ("half_sse", "mse", "sse", "cross_entropy", "bce")
OPTIMIZERS = ("sgd", "momentum", "adam")
TOP_KEYS = {
    "name", "description", "layers", "activations", "bias", "loss", "lr", "steps", "optimizer",
    "momentum", "beta1", "beta2", "eps", "negative_slope", "init", "data", "description_zh", "frozen",
    "trainable", "order",
}
ORDERS = ("from_to", "out_in")
INIT_KEYS = {"weights", "biases", "seed"}
DATA_KEYS = {"x", "y"}

MAX_FILE_BYTES = 1_000_000
MAX_NEURONS_PER_LAYER = 10_000
MAX_PARAMETERS = 1_000_000
MAX_SAMPLES = 100_000
MAX_STEPS = 100_000
MAX_TEXT = 10_000  # characters of a name or description


@dataclass
class Spec:
    """A validated network spec. Arrays are float64; ``weights[l]`` has shape (from, to)."""

    name: str
    layers: list[int]
    activations: list[str]
    bias: list[bool]
    loss: str
    lr: float
    steps: int
    optimizer: str
    weights: list[np.ndarray | None]
    biases: list[np.ndarray | None]
    x: np.ndarray
    y: np.ndarray
    single_sample: bool
    seed: int | None = None
    momentum: float = 0.9
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    negative_slope: float = 0.01
    description: str = ""
    description_zh: str = ""
    shared_bias: list = field(default_factory=list)   # per weight layer: one bias for the whole layer
    frozen: tuple = ()                                # parameter names kept out of training (W1, b2, ...)
    order: str = "from_to"                            # how the file wrote its matrices
    source: str = "<spec>"
    raw: dict = field(default_factory=dict, repr=False)

    @property
    def depth(self) -> int:
        """Number of weight layers."""
        return len(self.layers) - 1

    @property
    def n_params(self) -> int:
        shared = self.shared_bias or [False] * self.depth
        return sum(a * b + ((1 if sh else b) if bias else 0)
                   for a, b, bias, sh in zip(self.layers, self.layers[1:], self.bias, shared))

    def is_shared(self, layer: int) -> bool:
        """Whether weight layer ``layer`` (1-based) has one bias shared by all its neurons."""
        return bool(self.shared_bias) and self.shared_bias[layer - 1]

    def param_names(self) -> list[str]:
        return [n for i in range(1, self.depth + 1) for n in (f"W{i}", f"b{i}") if n[0] == "W" or self.bias[i - 1]]

    def trainable(self, name: str) -> bool:
        return name not in self.frozen

    def describe(self, lang: str = "en") -> str:
        """The description in ``lang`` (zh falls back to English when the spec has no description_zh)."""
        return self.description_zh if lang == "zh" and self.description_zh else self.description

    @property
    def batch_size(self) -> int:
        return self.x.shape[0]


def shipped_specs() -> list[str]:
    """Names of the specs that ship with the package (``chainrule derive seed`` etc.)."""
    folder = resources.files("chainrule") / "specs"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_spec(source, *, steps: int | None = None, require_data: bool = True) -> Spec:
    """A ``Spec`` from a path, a shipped spec's name, a dict, or a ``Spec`` (returned as is)."""
    if isinstance(source, Spec):
        return source
    if isinstance(source, dict):
        return parse_spec(source, "<dict>", steps=steps, require_data=require_data)
    text, where = _read(str(source))
    return parse_spec(parse_config(text, where, as_json=where.endswith(".json")), where, steps=steps,
                      require_data=require_data)


def _read(source: str) -> tuple[str, str]:
    if os.path.exists(source):
        return read_text(source, kind="specs", max_bytes=MAX_FILE_BYTES), source
    if source in shipped_specs():
        ref = resources.files("chainrule") / "specs" / f"{source}.toml"
        return ref.read_text(encoding="utf-8"), f"{source} (shipped spec)"
    raise SpecError(
        f"{source}: no such file, and not a shipped spec (shipped specs: {', '.join(shipped_specs())})"
    )


class _Checker:
    """Validation helpers that prefix every message with the file and key."""

    def __init__(self, where: str):
        self.where = where

    def fail(self, key: str, message: str):
        raise SpecError(f"{self.where}: key '{key}': {message}")

    def number(self, key, value, *, positive=False, integer=False, minimum=None):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(key, f"expected a number, got {short_repr(value)}")
        value = self.magnitude(key, value, integer)
        if integer and (not isinstance(value, int) and not float(value).is_integer()):
            self.fail(key, f"expected a whole number, got {short_repr(value)}")
        if not math.isfinite(value):
            self.fail(key, f"expected a finite number, got {short_repr(value)}")
        if positive and value <= 0:
            self.fail(key, f"expected a number > 0, got {short_repr(value)}")
        if minimum is not None and value < minimum:
            self.fail(key, f"expected a number >= {minimum}, got {short_repr(value)}")
        return int(value) if integer else float(value)

    def magnitude(self, key, value, integer=False):
        """``value`` if a float (or, for ``integer``, an int64) can hold it; else a one-line error."""
        if isinstance(value, int):
            limit = 2**63 - 1 if integer else 1.7976931348623157e308
            if abs(value) > limit:
                digits = len(str(abs(value))) if abs(value) < 10**4000 else "thousands of"
                self.fail(key, f"a {digits}-digit integer is too large (at most {'2**63 - 1' if integer else '1.8e308'})")
        return value

    def choice(self, key, value, options):
        if not isinstance(value, str) or value not in options:
            self.fail(key, f"expected one of {', '.join(options)}, got {short_repr(value)}")
        return value

    def array(self, key, value, *, integer=False) -> np.ndarray:
        """A numeric array of any rank from nested lists; ragged or non-numeric input is refused."""
        def walk(v, path):
            if isinstance(v, list):
                return [walk(item, f"{path}[{i}]") for i, item in enumerate(v)]
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                self.fail(path, f"expected a number, got {short_repr(v)}")
            v = self.magnitude(path, v, integer)
            if not math.isfinite(v):
                self.fail(path, f"expected a finite number, got {short_repr(v)}")
            if integer and not float(v).is_integer():
                self.fail(path, f"expected a whole number (a class index), got {short_repr(v)}")
            if integer and abs(v) >= 2**63:
                self.fail(path, f"class index {v!r} is out of range")
            return v

        checked = walk(value, key)
        try:
            arr = np.array(checked, dtype=np.int64 if integer else np.float64)
        except ValueError:
            self.fail(key, "rows have different lengths")
        return arr


def short_repr(value, width: int = 60) -> str:
    """``repr(value)`` cut to ``width`` characters, for messages about what the file holds."""
    text = repr(value)
    return text if len(text) <= width else text[:width - 1] + "…"


def _per_layer(check, key, value, depth, convert):
    """A value given once for all weight layers, or a list with one entry per weight layer."""
    if isinstance(value, list):
        if len(value) != depth:
            check.fail(key, f"expected {depth} entries (one per weight layer), got {len(value)}")
        return [convert(f"{key}[{i}]", v, i) for i, v in enumerate(value)]
    return [convert(key, value, i) for i in range(depth)]


def _parse_data(check, data, layers, loss):
    """(x as (N, inputs), y, whether x was a single sample) from the [data] table."""
    for key in ("x", "y"):
        if key not in data:
            check.fail(f"data.{key}", "missing")
    x = check.array("data.x", data["x"])
    single = x.ndim == 1
    x2 = x[None, :] if single else x
    if x2.ndim != 2 or x2.shape[1] != layers[0]:
        check.fail("data.x", f"expected {layers[0]} inputs per sample (layers[0] = {layers[0]}), got shape {x.shape}")
    if x2.shape[0] > MAX_SAMPLES:
        check.fail("data.x", f"{x2.shape[0]:,} samples is more than the {MAX_SAMPLES:,} a spec may carry")
    n = x2.shape[0]
    if loss == "cross_entropy":
        y = check.array("data.y", data["y"], integer=True).reshape(-1)
        if y.shape != (n,):
            check.fail("data.y", f"expected {n} class index(es), one per sample, got {y.size}")
        check_targets(loss, y, layers[-1], lambda i, msg: check.fail(f"data.y[{i}]", msg))
    else:
        y = check.array("data.y", data["y"])
        y = y.reshape(1, -1) if (single or y.ndim == 1) and y.size == layers[-1] and n == 1 else y
        if y.ndim == 1 and layers[-1] == 1:
            y = y.reshape(-1, 1)
        if y.shape != (n, layers[-1]):
            check.fail("data.y", f"expected {layers[-1]} target(s) per sample for {n} sample(s), got shape {np.shape(data['y'])}")
        check_targets(loss, y, layers[-1], lambda i, msg: check.fail(f"data.y[{i}]", msg))
    return x2, y, single


def check_targets(loss: str, y: np.ndarray, n_outputs: int, fail) -> None:
    """The one check of training targets, wherever they come from (a spec's [data], a CSV file):
    class indices 0 .. C − 1 for cross-entropy, probabilities in [0, 1] for binary cross-entropy.
    ``fail(row, message)`` reports the first bad row (0-based)."""
    y = np.asarray(y)
    if loss == "cross_entropy":
        bad = np.flatnonzero((y < 0) | (y >= n_outputs))
        if bad.size:
            fail(int(bad[0]), f"class index {y[bad[0]]} is out of range for {n_outputs} classes (0..{n_outputs - 1})")
    elif loss == "bce":
        rows = np.flatnonzero(((y < 0) | (y > 1)).reshape(len(y), -1).any(axis=1)) if y.size else []
        if len(rows):
            value = np.asarray(y[rows[0]]).reshape(-1)
            shown = ", ".join(f"{v:g}" for v in value[(value < 0) | (value > 1)][:3])
            fail(int(rows[0]), f"binary cross-entropy targets must lie in [0, 1], got {shown}")


def parse_spec(raw: dict, where: str = "<spec>", *, steps: int | None = None, require_data: bool = True) -> Spec:
    """Validate ``raw`` (the parsed file). ``require_data=False`` accepts a spec without [data]
    (training reads its data from a CSV); x and y are then empty."""
    check = _Checker(where)
    unknown = sorted(set(raw) - TOP_KEYS)
    if unknown:
        check.fail(unknown[0], f"unknown key (known keys: {', '.join(sorted(TOP_KEYS))})")
    for section, allowed in (("init", INIT_KEYS), ("data", DATA_KEYS)):
        value = raw.get(section, {})
        if not isinstance(value, dict):
            check.fail(section, f"expected a table [{section}], got {type(value).__name__}")
        extra = sorted(set(value) - allowed)
        if extra:
            check.fail(f"{section}.{extra[0]}", f"unknown key (known keys: {', '.join(sorted(allowed))})")

    if "layers" not in raw:
        check.fail("layers", "missing; give the layer sizes, e.g. layers = [2, 3, 1]")
    layers = raw["layers"]
    if not isinstance(layers, list) or len(layers) < 2:
        check.fail("layers", f"expected a list of at least two sizes (input ... output), got {short_repr(layers)}")
    layers = [check.number(f"layers[{i}]", n, integer=True, minimum=1) for i, n in enumerate(layers)]
    for i, n in enumerate(layers):
        if n > MAX_NEURONS_PER_LAYER:
            check.fail(f"layers[{i}]", f"{n:,} neurons is more than the {MAX_NEURONS_PER_LAYER:,} a spec may have per layer")
    depth = len(layers) - 1

    activations = raw.get("activations", ["none"] * depth)
    if not isinstance(activations, list):
        activations = [activations] * depth
    if len(activations) != depth:
        check.fail("activations", f"expected {depth} entries (one per weight layer), got {len(activations)}")
    activations = [check.choice(f"activations[{i}]", a, ACTIVATIONS) for i, a in enumerate(activations)]

    def as_bias(key, v, _):
        if not isinstance(v, bool) and v != "shared":
            check.fail(key, f"expected true, false or \"shared\" (one bias for the whole layer), got {short_repr(v)}")
        return v

    bias_kinds = _per_layer(check, "bias", raw.get("bias", False), depth, as_bias)
    bias = [b is not False for b in bias_kinds]
    shared = [b == "shared" for b in bias_kinds]
    n_params = sum(a * b + ((1 if sh else b) if has else 0) for a, b, has, sh in zip(layers, layers[1:], bias, shared))
    if n_params > MAX_PARAMETERS:
        check.fail("layers", f"{n_params:,} parameters is more than the {MAX_PARAMETERS:,} a spec may have")

    loss = check.choice("loss", raw.get("loss", "half_sse"), LOSSES)
    lr = check.number("lr", raw.get("lr", 0.1), positive=True)
    n_steps = check.number("steps", raw.get("steps", 1), integer=True, minimum=1)
    if steps is not None:
        n_steps = check.number("steps", steps, integer=True, minimum=1)
    if n_steps > MAX_STEPS:
        check.fail("steps", f"{n_steps:,} steps is more than the {MAX_STEPS:,} a spec may run (use `chainrule train` "
                            f"for long runs on real data)")
    optimizer = check.choice("optimizer", raw.get("optimizer", "sgd"), OPTIMIZERS)
    momentum = check.number("momentum", raw.get("momentum", 0.9), minimum=0)
    beta1 = check.number("beta1", raw.get("beta1", 0.9), minimum=0)
    beta2 = check.number("beta2", raw.get("beta2", 0.999), minimum=0)
    for key, b in (("beta1", beta1), ("beta2", beta2)):
        if b >= 1:
            check.fail(key, f"expected a number in [0, 1), got {b!r}")
    eps = check.number("eps", raw.get("eps", 1e-8), positive=True)
    slope = check.number("negative_slope", raw.get("negative_slope", 0.01))
    if "softmax" in activations[:-1]:
        check.fail(f"activations[{activations.index('softmax')}]", "softmax is only supported on the output layer")
    if loss == "bce" and activations[-1] != "sigmoid":
        check.fail("activations", f"loss 'bce' needs probabilities: set the last activation to 'sigmoid' (got {activations[-1]!r})")

    init = raw.get("init", {})
    seed = init.get("seed")
    if seed is not None:
        seed = check.number("init.seed", seed, integer=True, minimum=0)
    if seed is None and "weights" not in init:
        check.fail("init.weights", "missing; give a constant or matrix per weight layer, or set init.seed for random initialisation")

    order = check.choice("order", raw.get("order", "from_to"), ORDERS)

    def weight(key, v, i):
        shape = (layers[i], layers[i + 1])
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return np.full(shape, check.number(key, v))
        arr = check.array(key, v)
        want = shape if order == "from_to" else shape[::-1]
        if arr.shape != want:
            got = 'x'.join(map(str, arr.shape)) or 'scalar'
            if order == "from_to":
                hint = (" — this is the (out, in) shape of PyTorch's nn.Linear.weight: transpose it, or set "
                        "order = \"out_in\"" if arr.shape == shape[::-1] else "")
                check.fail(key, f"expected a number or a {shape[0]}x{shape[1]} matrix in (from, to) order (row i = "
                                f"input neuron i of layer {i + 1}, column j = output neuron j), got shape {got}{hint}")
            check.fail(key, f"expected a number or a {want[0]}x{want[1]} matrix in (out, in) order (order = "
                            f"\"out_in\": row j = output neuron j, column i = input neuron i), got shape {got}")
        return arr if order == "from_to" else arr.T.copy()

    def bias_vector(key, v, i):
        n = 1 if shared[i] else layers[i + 1]
        if not bias[i]:
            return None
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return np.full(n, check.number(key, v))
        arr = check.array(key, v)
        if arr.shape != (n,):
            what = "one shared bias (bias = \"shared\")" if shared[i] else f"a list of {n} biases"
            check.fail(key, f"expected a number or {what}, got shape {arr.shape}")
        return arr

    weights = _per_layer(check, "init.weights", init["weights"], depth, weight) if "weights" in init else [None] * depth
    if "biases" in init:
        if not any(bias):
            check.fail("init.biases", "given, but bias = false; set bias = true or remove init.biases")
        biases = _per_layer(check, "init.biases", init["biases"], depth, bias_vector)
    else:
        biases = [np.zeros(1 if shared[i] else layers[i + 1]) if bias[i] and seed is None else None
                  for i in range(depth)]

    names = [n for i in range(1, depth + 1) for n in (f"W{i}", f"b{i}") if n[0] == "W" or bias[i - 1]]
    if "frozen" in raw and "trainable" in raw:
        check.fail("trainable", "give either frozen or trainable, not both")
    frozen = ()
    for key in ("frozen", "trainable"):
        if key not in raw:
            continue
        listed = raw[key]
        if not isinstance(listed, list) or not all(isinstance(n, str) for n in listed):
            check.fail(key, f"expected a list of parameter names ({', '.join(names)}), got {listed!r}")
        for k, n in enumerate(listed):
            if n not in names:
                check.fail(f"{key}[{k}]", f"no parameter {n!r} in this network (it has {', '.join(names)})")
        frozen = tuple(listed) if key == "frozen" else tuple(n for n in names if n not in listed)
    if frozen and len(frozen) == len(names):
        check.fail("frozen" if "frozen" in raw else "trainable", "every parameter is frozen: nothing would train")

    data = raw.get("data", {})
    if not require_data and not data:
        x2, single = np.zeros((0, layers[0])), False
        y = np.zeros(0, dtype=np.int64) if loss == "cross_entropy" else np.zeros((0, layers[-1]))
    else:
        x2, y, single = _parse_data(check, data, layers, loss)

    name = raw.get("name", "spec" if where.startswith("<") else os.path.splitext(os.path.basename(where))[0])
    if not isinstance(name, str):
        check.fail("name", f"expected a string, got {short_repr(name)}")
    description = raw.get("description", "")
    if not isinstance(description, str):
        check.fail("description", f"expected a string, got {short_repr(description)}")
    for key, text in (("name", name), ("description", description)):
        if len(text) > MAX_TEXT:
            check.fail(key, f"{len(text):,} characters is more than the {MAX_TEXT:,} a spec's {key} may have")
    return Spec(
        name=name, layers=layers, activations=activations, bias=bias, loss=loss, lr=lr, steps=n_steps,
        optimizer=optimizer, weights=weights, biases=biases, x=x2, y=y, single_sample=single, seed=seed,
        momentum=momentum, betas=(beta1, beta2), eps=eps, negative_slope=slope,
        description=str(raw.get("description", "")), description_zh=str(raw.get("description_zh", "")),
        shared_bias=shared, frozen=frozen, order=order, source=where, raw=raw,
    )
