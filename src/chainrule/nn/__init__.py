"""Neural-network building blocks with PyTorch's names: ``Module``, ``Linear``, losses, ``init``."""

from . import functional, init, utils
from .bridge import from_torch
from .containers import ModuleDict, ModuleList
from .layers import Identity, LeakyReLU, Linear, LogSigmoid, ReLU, Sequential, Sigmoid, Softmax, Softplus, Tanh
from .losses import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HalfSquaredError, HalfSSELoss, MSELoss
from .module import Module, Parameter

__all__ = [
    "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "HalfSSELoss", "HalfSquaredError", "Identity",
    "LeakyReLU", "Linear", "MSELoss", "Module", "Parameter", "ReLU", "Sequential", "Sigmoid", "Softmax",
    "Tanh", "functional", "init",
    "LogSigmoid", "Softplus",
    "ModuleDict", "ModuleList", "utils", "from_torch",
]
