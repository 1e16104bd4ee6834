"""Layered specs: networks described block by block (``[[layers]]`` tables with a ``kind``), for the
convolutional and normalised networks that the fully-connected spec format (``spec.py``) cannot
describe. ``chainrule train`` accepts them; ``chainrule derive`` writes out one whose only block is a
conv2d (``explain/conv.py``), ``chainrule draw`` draws its step as grids (``viz/conv.py``) and
``chainrule check`` checks it; export does not yet.

    name = "lenet-digits"
    input = [1, 8, 8]            # the shape of one sample (C, H, W), or [features]
    loss = "cross_entropy"       # or "mse"
    optimizer = "adam"           # sgd, momentum or adam, with lr, momentum, beta1, beta2, eps as in spec.py
    lr = 0.002
    seed = 0                     # initialisation seed (optional)

    [[layers]]
    kind = "conv2d"              # conv2d, maxpool2d, avgpool2d, batchnorm, dropout, flatten, linear
    out_channels = 16
    kernel_size = 3
    padding = 1
    activation = "relu"          # optional after any block: relu, tanh, sigmoid, leaky_relu, gelu, none

A spec that ``chainrule derive`` writes out by hand also fixes its numbers: ``weight`` in a conv2d block
(nested lists of PyTorch's layout (out, in, kh, kw)), and top-level ``x`` (one sample, shaped as
``input``) and ``y`` (its target, shaped as the output); ``loss = "half_sse"`` is ½Σ(y − y')².
``x`` may also be a batch, one row per sample (shape (N, *input)), with ``y`` a batch of N targets: batch
norm needs one (``specs/layered/batchnorm.toml``). A batchnorm block then fixes γ and β as ``weight`` and
``bias`` (one number per feature or channel); its ``eps`` must be > 0 (PyTorch refuses 0 in training).

A sample arrives as a flat row (a CSV row, or a bundled data set's features) and is reshaped to
``input``. Every problem is a ``SpecError`` naming the file, the block and the key.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from importlib import resources

import numpy as np

from . import functional as F
from . import nn
from .autograd import no_grad
from .errors import ChainruleError, SpecError
from .io import parse_config, read_text
from .random import manual_seed
from .spec import MAX_FILE_BYTES, OPTIMIZERS

ACTIVATIONS = {"none": None, "relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "leaky_relu": nn.LeakyReLU,
               "gelu": nn.GELU}
KINDS = {
    "conv2d": {"out_channels": True, "kernel_size": True, "stride": False, "padding": False, "dilation": False,
               "groups": False, "bias": False, "weight": False},
    "maxpool2d": {"kernel_size": True, "stride": False, "padding": False},
    "avgpool2d": {"kernel_size": True, "stride": False, "padding": False},
    "batchnorm": {"momentum": False, "eps": False, "weight": False, "bias": False},
    "dropout": {"p": False},
    "flatten": {},
    "linear": {"out": True, "bias": False},
}
TOP_KEYS = {"name", "description", "input", "layers", "loss", "optimizer", "lr", "momentum", "beta1", "beta2", "eps",
            "seed", "x", "y"}
LOSSES = ("cross_entropy", "mse", "half_sse")


@dataclass
class LayeredSpec:
    """A validated layered spec. ``layers`` are the flattened sizes after each block, input first (so the
    train command reads the number of inputs and outputs as for a fully-connected spec)."""

    name: str
    input_shape: tuple
    blocks: list
    loss: str
    optimizer: str
    lr: float
    layers: list = field(default_factory=list)
    momentum: float = 0.9
    betas: tuple = (0.9, 0.999)
    eps: float = 1e-8
    seed: int | None = None
    description: str = ""
    source: str = "<spec>"
    x: object = None  # one sample (an array shaped as input_shape) or a batch (N, *input_shape), and its target
    y: object = None

    def batch(self) -> tuple:
        """(x, y) with a leading batch axis whether the spec fixes one sample or a batch of them."""
        one = self.x is not None and tuple(self.x.shape) == tuple(self.input_shape)
        return (self.x[None], self.y[None]) if one else (self.x, self.y)


def shipped_layered_specs() -> list[str]:
    folder = resources.files("chainrule") / "specs" / "layered"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_layered_spec(source) -> LayeredSpec | None:
    """The layered spec at a path or shipped under that name; None when ``source`` is not one (a
    fully-connected spec, or nothing layered by that name)."""
    source = str(source)
    if os.path.exists(source):
        text, where = read_text(source, kind="specs", max_bytes=MAX_FILE_BYTES), source
    elif source in shipped_layered_specs():
        text = (resources.files("chainrule") / "specs" / "layered" / f"{source}.toml").read_text(encoding="utf-8")
        where = f"{source} (shipped spec)"
    else:
        return None
    raw = parse_config(text, where, as_json=where.endswith(".json"))
    layers = raw.get("layers")
    if not (isinstance(layers, list) and layers and all(isinstance(b, dict) for b in layers)):
        return None
    return parse_layered(raw, where)


def _number(where, key, value, *, integer=False, low=None):
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or (not integer and not math.isfinite(value)):
        raise SpecError(f"{where}: key '{key}': expected {'an integer' if integer else 'a number'}, got {value!r}")
    if low is not None and value < low:
        raise SpecError(f"{where}: key '{key}': must be at least {low}, got {value}")
    return value


def _size(where, key, value):
    """An int or a pair of ints (kernel_size, stride, padding)."""
    items = value if isinstance(value, list) else [value]
    if len(items) not in (1, 2):
        raise SpecError(f"{where}: key '{key}': expected an integer or a pair of integers, got {value!r}")
    for v in items:
        _number(where, key, v, integer=True, low=0)
    return tuple(items) if len(items) == 2 else items[0]


def parse_layered(raw: dict, where: str) -> LayeredSpec:
    unknown = sorted(set(raw) - TOP_KEYS)
    if unknown:
        raise SpecError(f"{where}: unknown key(s) {', '.join(unknown)} (layered specs take {', '.join(sorted(TOP_KEYS))})")
    shape = raw.get("input")
    if not isinstance(shape, list) or not shape or len(shape) not in (1, 3):
        raise SpecError(f"{where}: key 'input': expected the shape of one sample, [C, H, W] or [features], got {shape!r}")
    for v in shape:
        _number(where, "input", v, integer=True, low=1)
    loss = raw.get("loss", "cross_entropy")
    if loss not in LOSSES:
        raise SpecError(f"{where}: key 'loss': expected one of {', '.join(LOSSES)}, got {loss!r}")
    optimizer = raw.get("optimizer", "sgd")
    if optimizer not in OPTIMIZERS:
        raise SpecError(f"{where}: key 'optimizer': expected one of {', '.join(OPTIMIZERS)}, got {optimizer!r}")
    lr = _number(where, "lr", raw.get("lr", 0.01))
    if lr <= 0:
        raise SpecError(f"{where}: key 'lr': must be > 0, got {lr}")
    blocks = []
    for k, block in enumerate(raw["layers"]):
        at = f"{where}: layers[{k}]"
        kind = block.get("kind")
        if kind not in KINDS:
            raise SpecError(f"{at}: key 'kind': expected one of {', '.join(KINDS)}, got {kind!r}")
        allowed = set(KINDS[kind]) | {"kind", "activation"}
        extra = sorted(set(block) - allowed)
        if extra:
            raise SpecError(f"{at} ({kind}): unknown key(s) {', '.join(extra)} (it takes {', '.join(sorted(allowed))})")
        for key, required in KINDS[kind].items():
            if required and key not in block:
                raise SpecError(f"{at} ({kind}): key '{key}' is required")
        act = block.get("activation", "none")
        if act not in ACTIVATIONS:
            raise SpecError(f"{at}: key 'activation': expected one of {', '.join(ACTIVATIONS)}, got {act!r}")
        blocks.append(dict(block))
    spec = LayeredSpec(
        name=str(raw.get("name", "spec")), input_shape=tuple(shape), blocks=blocks, loss=loss, optimizer=optimizer,
        lr=float(lr), momentum=float(_number(where, "momentum", raw.get("momentum", 0.9))),
        betas=(float(_number(where, "beta1", raw.get("beta1", 0.9))), float(_number(where, "beta2", raw.get("beta2", 0.999)))),
        eps=float(_number(where, "eps", raw.get("eps", 1e-8))),
        seed=None if raw.get("seed") is None else int(_number(where, "seed", raw["seed"], integer=True)),
        description=str(raw.get("description", "")), source=where)
    for key in ("x", "y"):
        if key in raw:
            setattr(spec, key, _values(where, key, raw[key]))
    batch = None  # the number of samples when x is a batch
    if spec.x is not None and spec.x.shape != spec.input_shape:
        if spec.x.ndim != len(spec.input_shape) + 1 or spec.x.shape[1:] != spec.input_shape or not spec.x.shape[0]:
            raise SpecError(f"{where}: key 'x': expected one sample of shape {spec.input_shape} or a batch of shape "
                            f"(N, {', '.join(map(str, spec.input_shape))}), got shape {spec.x.shape}")
        batch = spec.x.shape[0]
    net = LayeredNetwork(spec)  # builds and runs a zero batch once: sizes are checked here, naming the block
    if spec.y is not None:
        with no_grad():
            net.eval()
            shape = tuple(net(_zeros((1, *spec.input_shape))).shape[1:])
        if batch is not None and spec.y.shape != (batch, *shape):
            raise SpecError(f"{where}: key 'y': x is a batch of {batch}, so y needs one target per sample, shape "
                            f"{(batch, *shape)}, got shape {spec.y.shape}")
        if batch is None and spec.y.shape != shape:
            raise SpecError(f"{where}: key 'y': expected a target of the output's shape {shape}, got shape {spec.y.shape}")
    return spec


def _values(where, key, value):
    """Nested lists of numbers as a float64 array (a spec's fixed input, target or weights)."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise SpecError(f"{where}: key '{key}': expected nested lists of numbers of one shape, got {value!r}") from None
    if arr.dtype.kind != "f" or not np.all(np.isfinite(arr)):
        raise SpecError(f"{where}: key '{key}': expected finite numbers, got {value!r}")
    return arr


def _block(spec, k, b, shape):
    """The module for block ``k`` given the incoming sample shape, and its activation module (or None)."""
    at = f"{spec.source}: layers[{k}] ({b['kind']})"
    kind = b["kind"]
    if kind in ("conv2d", "maxpool2d", "avgpool2d", "batchnorm") and len(shape) not in (1, 3):
        raise SpecError(f"{at}: needs (C, H, W) samples, but the samples here have shape {shape}")
    if kind in ("conv2d", "maxpool2d", "avgpool2d") and len(shape) != 3:
        raise SpecError(f"{at}: needs (C, H, W) samples, but the samples here have shape {shape}; "
                        f"flatten comes after the convolutions")
    if kind == "linear" and len(shape) != 1:
        raise SpecError(f"{at}: needs flat samples, but they have shape {shape}; add a block with kind = \"flatten\" first")
    if kind == "conv2d":
        m = nn.Conv2d(shape[0], _number(at, "out_channels", b["out_channels"], integer=True, low=1),
                      _size(at, "kernel_size", b["kernel_size"]), _size(at, "stride", b.get("stride", 1)),
                      _size(at, "padding", b.get("padding", 0)), _size(at, "dilation", b.get("dilation", 1)),
                      _number(at, "groups", b.get("groups", 1), integer=True, low=1), bool(b.get("bias", True)))
        if "weight" in b:
            w = _values(at, "weight", b["weight"])
            if w.shape != tuple(m.weight.shape):
                raise SpecError(f"{at}: key 'weight': expected shape {tuple(m.weight.shape)} (out, in, kh, kw), got {w.shape}")
            with no_grad():
                m.weight.copy_(w)
    elif kind == "maxpool2d":
        m = nn.MaxPool2d(_size(at, "kernel_size", b["kernel_size"]), b.get("stride"), b.get("padding", 0))
    elif kind == "avgpool2d":
        m = nn.AvgPool2d(_size(at, "kernel_size", b["kernel_size"]), b.get("stride"), b.get("padding", 0))
    elif kind == "batchnorm":
        cls = nn.BatchNorm2d if len(shape) == 3 else nn.BatchNorm1d
        eps = _number(at, "eps", b.get("eps", 1e-5))
        if eps <= 0:
            raise SpecError(f"{at}: key 'eps': must be > 0 (it keeps √(σ² + ε) away from 0; PyTorch refuses "
                            f"eps ≤ 0 in training), got {eps}")
        momentum = _number(at, "momentum", b.get("momentum", 0.1))
        if not 0 <= momentum <= 1:
            raise SpecError(f"{at}: key 'momentum': expected a number from 0 to 1, got {momentum}")
        m = cls(shape[0], eps=float(eps), momentum=float(momentum))
        for key in ("weight", "bias"):
            if key in b:
                v = _values(at, key, b[key])
                if v.shape != (shape[0],):
                    raise SpecError(f"{at}: key '{key}': expected {shape[0]} number(s), one per feature or channel "
                                    f"(shape ({shape[0]},)), got shape {v.shape}")
                with no_grad():
                    getattr(m, key).copy_(v)
    elif kind == "dropout":
        m = nn.Dropout(float(_number(at, "p", b.get("p", 0.5))))
    elif kind == "flatten":
        m = nn.Flatten()
    else:
        m = nn.Linear(shape[0], _number(at, "out", b["out"], integer=True, low=1), bool(b.get("bias", True)))
    act = ACTIVATIONS[b.get("activation", "none")]
    return m, (act() if act else None)


class LayeredNetwork(nn.Module):
    """The network of a layered spec: its blocks in a ``Sequential``; flat rows are reshaped to ``input``."""

    def __init__(self, spec: LayeredSpec):
        super().__init__()
        self.spec = spec
        if spec.seed is not None:
            manual_seed(spec.seed)
        mods, shape, sizes = [], tuple(spec.input_shape), [int(np.prod(spec.input_shape))]
        self.block_of = {}  # index in body -> index of the spec's block (activations sit between)
        for k, b in enumerate(spec.blocks):
            m, act = _block(spec, k, b, shape)
            try:
                with no_grad():
                    m.eval()
                    probe = m(_zeros((2, *shape)))
                    m.train()
            except (ChainruleError, ValueError) as exc:
                raise SpecError(f"{spec.source}: layers[{k}] ({b['kind']}): for samples of shape {shape}: {exc}") from None
            shape = tuple(probe.shape[1:])
            self.block_of[len(mods)] = k
            mods.append(m)
            if act is not None:
                mods.append(act)
            sizes.append(int(np.prod(shape)))
        spec.layers = sizes
        self.body = nn.Sequential(*mods)

    def double_exact(self) -> "LayeredNetwork":
        """In float64, with the weights the spec fixes copied in again at full precision (the layers were
        built in the default dtype, which may have rounded them)."""
        self.double()
        with no_grad():
            for i, k in self.block_of.items():
                if "weight" in self.spec.blocks[k]:
                    self.body[i].weight.copy_(np.asarray(self.spec.blocks[k]["weight"], dtype=np.float64))
                if self.spec.blocks[k]["kind"] == "batchnorm" and "bias" in self.spec.blocks[k]:
                    self.body[i].bias.copy_(np.asarray(self.spec.blocks[k]["bias"], dtype=np.float64))
        return self

    def parameter_names(self) -> dict:
        """``named_parameters()`` names -> the spec's names: body.0.weight -> layers[0].weight."""
        out = {}
        for name, _ in self.named_parameters():
            _, i, rest = name.split(".", 2)
            out[name] = f"layers[{self.block_of[int(i)]}].{rest}"
        return out

    def forward(self, x):
        params = list(self.parameters())
        dtype = params[0].dtype if params else x.dtype
        if x.dtype != dtype:  # CSV data arrives as float64; the layers hold the default dtype
            x = x.astype(dtype)
        return self.body(x.reshape(x.shape[0], *self.spec.input_shape))

    def loss_from_output(self, out, y):
        if self.spec.loss == "cross_entropy":
            return F.cross_entropy(out, y)
        if self.spec.loss == "half_sse":
            return 0.5 * ((out - y) ** 2).sum()
        return F.mse_loss(out, y)


def _zeros(shape):
    from .creation import zeros

    return zeros(*shape)
