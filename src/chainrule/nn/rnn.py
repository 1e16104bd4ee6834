"""Recurrent layers composed from existing ops (linear, tanh, sigmoid, slicing, stack): ``RNNCell``,
``LSTMCell``, ``GRUCell``, ``RNN`` and ``LSTM``.

Nothing here has a backward of its own: unrolling over time records one small graph per step, and
the engine's backward through it is backpropagation through time (a weight's gradient is the sum of
its contributions at every step). Parameter names, shapes, gate order and initialisation are
PyTorch's, so a ``state_dict`` copied from ``torch.nn.LSTM`` gives the same outputs.
"""

from __future__ import annotations

import math

import numpy as np

from .. import functional as F
from .. import functional_nn as Fn
from ..dtypes import get_default_dtype
from ..errors import ShapeError
from ..tensor import Tensor
from . import init
from .module import Module, Parameter

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _zeros(shape, like):
    return Tensor(np.zeros(shape, dtype=like.dtype))


def _rnn_step(x, h, w_ih, w_hh, b_ih, b_hh, nonlinearity):
    z = F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh)
    return F.tanh(z) if nonlinearity == "tanh" else F.relu(z)


def _lstm_step(x, h, c, w_ih, w_hh, b_ih, b_hh, xw=None):
    """One LSTM step; gates in PyTorch's order i, f, g, o. ``xw`` is x's part when precomputed."""
    gates = (F.linear(x, w_ih, b_ih) if xw is None else xw) + F.linear(h, w_hh, b_hh)
    n = h.shape[-1]
    i = gates[..., :n].sigmoid()
    f = gates[..., n:2 * n].sigmoid()
    g = gates[..., 2 * n:3 * n].tanh()
    o = gates[..., 3 * n:].sigmoid()
    c = f * c + i * g
    return o * c.tanh(), c


def _gru_step(x, h, w_ih, w_hh, b_ih, b_hh, xw=None):
    """One GRU step; gates in PyTorch's order r, z, n, with r applied to the hidden part of n."""
    gi = F.linear(x, w_ih, b_ih) if xw is None else xw
    gh = F.linear(h, w_hh, b_hh)
    n_ = h.shape[-1]
    r = (gi[..., :n_] + gh[..., :n_]).sigmoid()
    z = (gi[..., n_:2 * n_] + gh[..., n_:2 * n_]).sigmoid()
    n = (gi[..., 2 * n_:] + r * gh[..., 2 * n_:]).tanh()
    return (1 - z) * n + z * h


class _CellBase(Module):
    gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None):
        super().__init__()
        dtype = dtype or get_default_dtype()
        self.input_size, self.hidden_size, self.bias = int(input_size), int(hidden_size), bias
        g = self.gates * hidden_size
        self.weight_ih = Parameter(np.empty((g, input_size), dtype=dtype))
        self.weight_hh = Parameter(np.empty((g, hidden_size), dtype=dtype))
        self.bias_ih = Parameter(np.empty(g, dtype=dtype)) if bias else None
        self.bias_hh = Parameter(np.empty(g, dtype=dtype)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias uniform in ±1/√hidden_size (PyTorch's)."""
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _input(self, x):
        if x.ndim not in (1, 2):
            raise ShapeError(f"{type(self).__name__}: Expected input to be 1D or 2D, got {x.ndim}D instead")
        if x.shape[-1] != self.input_size:
            raise ShapeError(
                f"{type(self).__name__}: input has {x.shape[-1]} features, the cell expects input_size={self.input_size}"
            )
        return x

    def _hidden(self, x, h):
        shape = (x.shape[0], self.hidden_size) if x.ndim == 2 else (self.hidden_size,)
        if h is None:
            return _zeros(shape, x)
        if tuple(h.shape) != shape:
            raise ShapeError(f"{type(self).__name__}: hidden state must have shape {shape}, got {tuple(h.shape)}")
        return h

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNNCell(_CellBase):
    """h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh) (or relu)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh", device=None,
                 dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: unknown nonlinearity {nonlinearity!r} (tanh or relu)")
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):  # noqa: A002
        x = self._input(input)
        return _rnn_step(x, self._hidden(x, hx), self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh,
                         self.nonlinearity)


class LSTMCell(_CellBase):
    """(h', c') from x and (h, c): gates i, f, g, o; c' = f·c + i·g, h' = o·tanh(c')."""

    gates = 4

    def forward(self, input, hx=None):  # noqa: A002
        x = self._input(input)
        h, c = (None, None) if hx is None else hx
        return _lstm_step(x, self._hidden(x, h), self._hidden(x, c), self.weight_ih, self.weight_hh, self.bias_ih,
                          self.bias_hh)


class GRUCell(_CellBase):
    """h' = (1 − z)·n + z·h with r, z the reset and update gates and n = tanh(W_in x + b_in + r·(W_hn h + b_hn))."""

    gates = 3

    def forward(self, input, hx=None):  # noqa: A002
        x = self._input(input)
        return _gru_step(x, self._hidden(x, hx), self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)


class _RNNBase(Module):
    mode = "RNN_TANH"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        if proj_size:
            raise NotImplementedError(f"{name}: proj_size is not supported")
        if not 0 <= dropout <= 1:
            raise ValueError(f"{name}: dropout should be a number in range [0, 1] representing the probability of an element being zeroed")
        if num_layers < 1 or hidden_size < 1:
            raise ValueError(f"{name}: num_layers and hidden_size must be positive, got {num_layers} and {hidden_size}")
        dtype = dtype or get_default_dtype()
        self.input_size, self.hidden_size, self.num_layers = int(input_size), int(hidden_size), int(num_layers)
        self.bias, self.batch_first, self.dropout, self.bidirectional = bias, batch_first, float(dropout), bidirectional
        g = _GATES[self.mode] * hidden_size
        directions = 2 if bidirectional else 1
        for layer in range(num_layers):
            for d in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if d else "")
                width = input_size if layer == 0 else hidden_size * directions
                setattr(self, "weight_ih" + suffix, Parameter(np.empty((g, width), dtype=dtype)))
                setattr(self, "weight_hh" + suffix, Parameter(np.empty((g, hidden_size), dtype=dtype)))
                if bias:
                    setattr(self, "bias_ih" + suffix, Parameter(np.empty(g, dtype=dtype)))
                    setattr(self, "bias_hh" + suffix, Parameter(np.empty(g, dtype=dtype)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _weights(self, layer, d):
        suffix = f"_l{layer}" + ("_reverse" if d else "")
        get = self._parameters.get
        return get("weight_ih" + suffix), get("weight_hh" + suffix), get("bias_ih" + suffix), get("bias_hh" + suffix)

    def _run(self, seq, h, c, weights, reverse):
        """One direction of one layer over the time-major sequence (L, N, features)."""
        w_ih, w_hh, b_ih, b_hh = weights
        xw = F.linear(seq, w_ih, b_ih)  # the input's part of every step in one product
        steps = range(seq.shape[0] - 1, -1, -1) if reverse else range(seq.shape[0])
        outs = []
        for t in steps:
            if self.mode == "LSTM":
                h, c = _lstm_step(None, h, c, None, w_hh, None, b_hh, xw=xw[t])
            elif self.mode == "GRU":
                h = _gru_step(None, h, None, w_hh, None, b_hh, xw=xw[t])
            else:
                z = xw[t] + F.linear(h, w_hh, b_hh)
                h = F.tanh(z) if self.mode == "RNN_TANH" else F.relu(z)
            outs.append(h)
        if reverse:
            outs.reverse()
        return F.stack(outs, 0), h, c

    def forward(self, input, hx=None):  # noqa: A002
        x = input
        name = type(self).__name__
        if x.ndim not in (2, 3):
            raise ShapeError(f"{name}: Expected input to be 2D or 3D, got {x.ndim}D instead")
        unbatched = x.ndim == 2
        if unbatched:
            x = x.reshape(x.shape[0], 1, x.shape[1])
        elif self.batch_first:
            x = x.transpose(0, 1)
        if x.shape[-1] != self.input_size:
            raise ShapeError(f"{name}: input.size(-1) must be equal to input_size. Expected {self.input_size}, got {x.shape[-1]}")
        directions = 2 if self.bidirectional else 1
        state_shape = (self.num_layers * directions, x.shape[1], self.hidden_size)
        lstm = self.mode == "LSTM"
        h0, c0 = (hx if lstm else (hx, None)) if hx is not None else (None, None)

        def _state(s, what):
            if s is None:
                return _zeros(state_shape, x)
            s = s.reshape(state_shape[0], 1, state_shape[2]) if unbatched and s.ndim == 2 else s
            if tuple(s.shape) != state_shape:
                raise ShapeError(f"{name}: Expected {what} size {state_shape}, got {tuple(s.shape)}")
            return s

        h0 = _state(h0, "hidden")
        c0 = _state(c0, "cell") if lstm else None
        seq, h_n, c_n = x, [], []
        for layer in range(self.num_layers):
            outs = []
            for d in range(directions):
                k = layer * directions + d
                out, h, c = self._run(seq, h0[k], c0[k] if lstm else None, self._weights(layer, d), reverse=bool(d))
                outs.append(out)
                h_n.append(h)
                c_n.append(c)
            seq = outs[0] if directions == 1 else F.cat(outs, dim=2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                seq = Fn.dropout(seq, self.dropout, True)
        h_n = F.stack(h_n, 0)
        c_n = F.stack(c_n, 0) if lstm else None
        if unbatched:
            seq, h_n = seq[:, 0], h_n[:, 0]
            c_n = c_n[:, 0] if lstm else None
        elif self.batch_first:
            seq = seq.transpose(0, 1)
        return (seq, (h_n, c_n)) if lstm else (seq, h_n)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(_RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ihᵀ + b_ih + h_(t−1) W_hhᵀ + b_hh), over (L, N, H_in) or batch_first (N, L, H_in)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity {nonlinearity!r} (tanh or relu)")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, dtype=dtype)
        self.nonlinearity = nonlinearity
        self.mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"


class LSTM(_RNNBase):
    """LSTM over a sequence; returns (output, (h_n, c_n))."""

    mode = "LSTM"


class GRU(_RNNBase):
    """GRU over a sequence; returns (output, h_n)."""

    mode = "GRU"
