"""chainrule: backpropagation you can run, read and verify.

A NumPy autograd engine with a PyTorch-shaped API (``Tensor``, ``nn``, ``optim``), plus tools
that write out, export, check and draw what it computes.
"""

from . import autograd, data, nn, ops, optim
from .anomaly import detect_anomaly
from .autograd import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .check import gradcheck
from .creation import arange, eye, full, ones, ones_like, rand, randn, zeros, zeros_like
from .dtypes import float32, float64, get_default_dtype, int64, set_default_dtype
from .errors import (
    AnomalyError,
    ChainruleError,
    CheckpointError,
    DTypeError,
    GradcheckError,
    GraphError,
    LabelRangeError,
    ShapeError,
    SpecError,
)
from .functional import (
    abs,
    cat,
    clamp,
    clip,
    exp,
    leaky_relu,
    log,
    log_softmax,
    logsumexp,
    matmul,
    relu,
    sigmoid,
    softmax,
    sqrt,
    stack,
    tanh,
    where,
)
from .functional_nn import (  # convolutional layers as free functions (torch.conv2d, ...)
    adaptive_avg_pool2d,
    avg_pool2d,
    conv2d,
    conv_transpose2d,
    dropout,
    max_pool2d,
)
from .methods import (
    amax,
    amin,
    argmax,
    argmin,
    chunk,
    clone,
    cos,
    flatten,
    gather,
    log1p,
    masked_fill,
    max,
    maximum,
    mean,
    min,
    minimum,
    norm,
    permute,
    reshape,
    sin,
    split,
    square,
    squeeze,
    std,
    sum,
    transpose,
    unsqueeze,
    var,
)
from .random import manual_seed
from .tensor import Tensor, tensor

__version__ = "0.1.0"


def __getattr__(name):
    # Loaded on first use, so ``import chainrule`` stays fast: ``cr.viz`` (matplotlib), ``cr.io``
    # (zip, JSON, TOML), ``cr.explain`` and ``cr.derive`` (the derivation builder).
    import importlib

    if name in ("viz", "io", "explain"):
        return importlib.import_module(f".{name}", __name__)
    if name == "derive":
        return importlib.import_module(".explain", __name__).derive
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "AnomalyError", "ChainruleError", "CheckpointError", "DTypeError", "GraphError", "LabelRangeError", "ShapeError", "SpecError",
    "Tensor", "abs", "arange", "cat", "clamp", "clip", "detect_anomaly", "enable_grad", "exp", "eye", "float32",
    "float64", "full", "get_default_dtype", "int64", "io", "is_grad_enabled", "leaky_relu", "log", "log_softmax",
    "logsumexp",
    "manual_seed", "matmul", "nn", "no_grad", "ones", "ones_like", "ops", "optim", "rand", "randn", "relu",
    "set_default_dtype", "sigmoid", "softmax", "sqrt", "stack", "tanh", "tensor", "where", "zeros",
    "zeros_like", "gradcheck", "GradcheckError", "derive",
    "amax", "amin", "argmax", "argmin", "autograd", "chunk", "clone", "cos", "flatten", "gather", "inference_mode",
    "log1p", "masked_fill", "max", "maximum", "mean", "min", "minimum", "norm", "permute", "reshape",
    "set_grad_enabled", "sin", "split", "square", "squeeze", "std", "sum", "transpose", "unsqueeze", "var",
    "adaptive_avg_pool2d", "avg_pool2d", "conv2d", "conv_transpose2d", "data", "dropout", "max_pool2d",
]
