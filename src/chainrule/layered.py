"""Layered specs: networks described block by block (``[[layers]]`` tables with a ``kind``), for the
convolutional and normalised networks that the fully-connected spec format (``spec.py``) cannot
describe. ``chainrule train`` accepts them; ``chainrule derive`` writes out one whose only block is a
conv2d (``explain/conv.py``), any other in matrix form (``explain/layered_matrix.py``), ``chainrule draw`` draws its step as grids (``viz/conv.py``) and
``chainrule check`` checks it; ``chainrule export`` writes it as NumPy or PyTorch (``export/layered.py``).

    name = "lenet-digits"
    input = [1, 8, 8]            # the shape of one sample (C, H, W), or [features]
    loss = "cross_entropy"       # or "mse"
    optimizer = "adam"           # sgd, momentum or adam, with lr, momentum, beta1, beta2, eps as in spec.py
    lr = 0.002
    seed = 0                     # initialisation seed (optional)

    [[layers]]
    kind = "conv2d"              # conv2d, maxpool2d, avgpool2d, batchnorm, dropout, flatten, linear, rnn
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

An ``rnn`` block (first, with ``input = [T, features]``) is PyTorch's ``nn.RNN(batch_first=True)``, one
layer: keys ``hidden_size``, ``nonlinearity`` (tanh or relu), ``bias``, ``last`` (true: only the last
step's hidden state goes on; default: every step's, and a following linear block reads each step),
``h0`` (a fixed initial hidden state; zeros without it) and the weights ``weight_ih``, ``weight_hh``,
``bias_ih``, ``bias_hh`` in PyTorch's layout. A linear block may fix ``weight`` (out, in).

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
    "linear": {"out": True, "bias": False, "weight": False},
    "rnn": {"hidden_size": True, "nonlinearity": False, "bias": False, "last": False, "h0": False,
            "weight_ih": False, "weight_hh": False, "bias_ih": False, "bias_hh": False},
}
# The weights a block may fix in the spec, and the module attribute each one is copied into.
FIXED = {"conv2d": {"weight": "weight", "bias": "bias"}, "linear": {"weight": "weight", "bias": "bias"},
         "rnn": {"weight_ih": "weight_ih_l0", "weight_hh": "weight_hh_l0", "bias_ih": "bias_ih_l0",
                 "bias_hh": "bias_hh_l0"}}
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
    first = raw["layers"][0] if isinstance(raw.get("layers"), list) and raw["layers"] else None
    sequence = isinstance(first, dict) and first.get("kind") == "rnn"
    if not isinstance(shape, list) or not shape or len(shape) not in ((2,) if sequence else (1, 3)):
        raise SpecError(f"{where}: key 'input': expected the shape of one sample, "
                        f"{'[T, features] (steps, features per step) before an rnn block' if sequence else '[C, H, W] or [features]'}"
                        f", got {shape!r}")
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
    if kind == "linear" and len(shape) == 3:
        raise SpecError(f"{at}: needs flat samples, but they have shape {shape}; add a block with kind = \"flatten\" first")
    if kind == "rnn" and len(shape) != 2:
        raise SpecError(f"{at}: needs sequences (T, features), but the samples here have shape {shape}")
    if kind == "conv2d":
        m = nn.Conv2d(shape[0], _number(at, "out_channels", b["out_channels"], integer=True, low=1),
                      _size(at, "kernel_size", b["kernel_size"]), _size(at, "stride", b.get("stride", 1)),
                      _size(at, "padding", b.get("padding", 0)), _size(at, "dilation", b.get("dilation", 1)),
                      _number(at, "groups", b.get("groups", 1), integer=True, low=1), has_bias(b))
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
    elif kind == "rnn":
        m = _rnn_block(at, b, shape)
    else:  # a linear layer on a flat sample, or on every step of a sequence (nn.Linear reads the last axis)
        m = nn.Linear(shape[-1], _number(at, "out", b["out"], integer=True, low=1), has_bias(b))
    for key, attr in FIXED.get(kind, {}).items():
        if key in b and not isinstance(b[key], bool):
            param = getattr(m, attr, None)
            if param is None:
                raise SpecError(f"{at}: key '{key}': the block has no {key} (bias = false)")
            w = _values(at, key, b[key])
            if w.shape != tuple(param.shape):
                raise SpecError(f"{at}: key '{key}': expected shape {tuple(param.shape)} in the layout "
                                f"{_LAYOUTS[kind, key]}, got {w.shape}")
            with no_grad():
                param.copy_(w)
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
                b = self.spec.blocks[k]
                for key, attr in {**FIXED, "batchnorm": {"weight": "weight", "bias": "bias"}}.get(b["kind"], {}).items():
                    if key in b and not isinstance(b[key], bool):
                        getattr(self.body[i], attr).copy_(np.asarray(b[key], dtype=np.float64))
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
            return F.half_sse_loss(out, y)  # ½Σ(y − y')² as one op (its rules in ops/loss.py; export reads them)
        return F.mse_loss(out, y)


def has_bias(block: dict) -> bool:
    """A conv2d or linear block's ``bias``: true (the default, drawn at random like PyTorch's), false, or
    the bias's numbers (one per output channel or neuron), which fix it."""
    return block.get("bias", True) is not False


def random_bias(block: dict) -> bool:
    """Whether the block has a bias that the spec does not fix (so only a ``seed`` makes it replayable)."""
    return block.get("bias", True) is True


_LAYOUTS = {("conv2d", "weight"): "(out, in, kh, kw)", ("linear", "weight"): "(out, in)",
            ("conv2d", "bias"): "(out,)", ("linear", "bias"): "(out,)",
            ("rnn", "weight_ih"): "(hidden_size, features)", ("rnn", "weight_hh"): "(hidden_size, hidden_size)",
            ("rnn", "bias_ih"): "(hidden_size,)", ("rnn", "bias_hh"): "(hidden_size,)"}


def _rnn_block(at, b, shape):
    """An ``nn.RNN`` (one layer, batch_first) over the sample's steps, from the block's keys."""
    hidden = _number(at, "hidden_size", b["hidden_size"], integer=True, low=1)
    nonlinearity = b.get("nonlinearity", "tanh")
    if nonlinearity not in ("tanh", "relu"):
        raise SpecError(f"{at}: key 'nonlinearity': expected tanh or relu, got {nonlinearity!r}")
    for key in ("bias", "last"):
        if not isinstance(b.get(key, key == "bias"), bool):
            raise SpecError(f"{at}: key '{key}': expected true or false, got {b[key]!r}")
    h0 = None
    if "h0" in b:
        h0 = _values(at, "h0", b["h0"])
        if h0.shape != (hidden,):
            raise SpecError(f"{at}: key 'h0': expected the initial hidden state, shape ({hidden},), got {h0.shape}")
    return SequenceRNN(shape[-1], hidden, nonlinearity, b.get("bias", True), b.get("last", False), h0)


class SequenceRNN(nn.RNN):
    """PyTorch's ``nn.RNN(batch_first=True)`` as one block of a sequential body: it returns the hidden
    state of every step (N, T, hidden), or of the last step only (N, hidden) with ``last``, rather than
    the (output, h_n) pair; ``h0`` (a fixed initial hidden state, zeros when None) is fed as ``hx``."""

    def __init__(self, input_size, hidden_size, nonlinearity="tanh", bias=True, last=False, h0=None):
        super().__init__(input_size, hidden_size, nonlinearity=nonlinearity, bias=bias, batch_first=True)
        self.last, self.h0 = bool(last), None if h0 is None else np.asarray(h0, dtype=np.float64)

    def _hx(self, x):
        if self.h0 is None:
            return None
        from .tensor import Tensor

        return Tensor(np.broadcast_to(self.h0.astype(self.weight_hh_l0.dtype), (1, x.shape[0], self.hidden_size)).copy())

    def forward(self, input, hx=None):  # noqa: A002
        out, _ = super().forward(input, self._hx(input) if hx is None else hx)
        return out[:, -1] if self.last else out

    def torch_twin(self):
        """The same block in PyTorch (``torch.nn.RNN`` with these weights, h0 and output choice), for
        ``check.check_layered``'s side-by-side gradients."""
        import torch

        rnn = torch.nn.RNN(self.input_size, self.hidden_size, nonlinearity=self.nonlinearity, bias=self.bias,
                           batch_first=True)
        rnn.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in self.state_dict().items()})
        h0, last = self.h0, self.last

        class Twin(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = rnn

            def forward(self, x):
                hx = None if h0 is None else torch.tensor(h0, dtype=x.dtype).expand(1, x.shape[0], -1).contiguous()
                out, _ = self.rnn(x, hx)
                return out[:, -1] if last else out

        return Twin()

    def extra_repr(self) -> str:
        return super().extra_repr() + (", last=True" if self.last else "")


def _zeros(shape):
    from .creation import zeros

    return zeros(*shape)
