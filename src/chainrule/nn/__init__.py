"""Neural-network building blocks with PyTorch's names: ``Module``, ``Linear``, losses, ``init``."""

from . import functional, init, utils
from .activation import ELU, GELU, LogSoftmax, SiLU
from .bridge import from_torch
from .containers import ModuleDict, ModuleList
from .conv import Conv2d, ConvTranspose2d
from .dropout import Dropout
from .layers import Identity, LeakyReLU, Linear, LogSigmoid, ReLU, Sequential, Sigmoid, Softmax, Softplus, Tanh
from .loss_extra import HuberLoss, L1Loss, NLLLoss, SmoothL1Loss
from .losses import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HalfSquaredError, HalfSSELoss, MSELoss
from .module import Module, Parameter
from .normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from .pooling import AdaptiveAvgPool2d, AvgPool2d, Flatten, MaxPool2d
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from .sparse import Embedding

__all__ = [
    "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "HalfSSELoss", "HalfSquaredError", "Identity",
    "LeakyReLU", "Linear", "MSELoss", "Module", "Parameter", "ReLU", "Sequential", "Sigmoid", "Softmax",
    "Tanh", "functional", "init",
    "LogSigmoid", "Softplus",
    "ModuleDict", "ModuleList", "utils", "from_torch",
    "AdaptiveAvgPool2d", "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "Conv2d", "ConvTranspose2d", "Dropout", "ELU",
    "Embedding", "Flatten", "GELU", "GRU", "GRUCell", "HuberLoss", "L1Loss", "LSTM", "LSTMCell", "LayerNorm",
    "LogSoftmax", "MaxPool2d", "NLLLoss", "RNN", "RNNCell", "SiLU", "SmoothL1Loss",
]
