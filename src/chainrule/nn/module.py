"""``Module`` and ``Parameter``: named parameter trees with PyTorch's state-dict conventions."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from ..autograd import no_grad
from ..errors import ShapeError
from ..tensor import Tensor, _check_device, zero_grads


class Parameter(Tensor):
    """A tensor that a ``Module`` registers as trainable (requires grad by default)."""

    __slots__ = ()

    def __init__(self, data, requires_grad: bool = True):
        super().__init__(data.array if isinstance(data, Tensor) else data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class: assign ``Parameter``s and sub-``Module``s as attributes and define ``forward``."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before assigning attributes")
        if name in self._parameters and value is not None and not isinstance(value, Parameter):
            raise TypeError(
                f"cannot assign {type(value).__name__} as parameter {name!r} (cr.nn.Parameter or None "
                f"expected); wrap it in cr.nn.Parameter(...) or assign under another name"
            )
        if name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} as buffer {name!r} (a Tensor or None expected)")
            self._buffers[name] = value
            object.__setattr__(self, name, value)
            return
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        self._buffers.pop(name, None)
        object.__delattr__(self, name)

    def add_module(self, name: str, module) -> None:
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        if not isinstance(name, str) or "." in name or not name:
            raise KeyError(f"module name must be a non-empty string without '.', got {name!r}")
        setattr(self, name, module)

    register_module = add_module

    def register_parameter(self, name: str, param) -> None:
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign {type(param).__name__} object to parameter {name!r} (cr.nn.Parameter or None required)")
        setattr(self, name, param)

    def register_buffer(self, name: str, tensor, persistent: bool = True) -> None:
        """A tensor that belongs to the module's state (in ``state_dict`` unless not persistent) but is
        not a parameter: running statistics, masks, constants."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign {type(tensor).__name__} object to buffer {name!r} (a Tensor or None required)")
        if "." in name or not name:
            raise KeyError(f"buffer name can't contain '.' or be empty, got {name!r}")
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"attribute {name!r} already exists")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)
        object.__setattr__(self, name, tensor)

    def named_buffers(self, prefix: str = "", recurse: bool = True):
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mod_name, module in modules:
            for name, b in module._buffers.items():
                if b is not None:
                    yield (f"{mod_name}.{name}" if mod_name else name), b

    def buffers(self, recurse: bool = True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def _state_items(self):
        """(name, tensor) of every parameter and persistent buffer, in PyTorch's state-dict order."""
        for mod_name, module in self.named_modules():
            for name, p in module._parameters.items():
                if p is not None:
                    yield (f"{mod_name}.{name}" if mod_name else name), p
            for name, b in module._buffers.items():
                if b is not None and name not in module._non_persistent:
                    yield (f"{mod_name}.{name}" if mod_name else name), b

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------ traversal
    def named_children(self):
        yield from self._modules.items()

    def children(self):
        for _, m in self.named_children():
            yield m

    def named_modules(self, prefix: str = ""):
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_parameters(self, prefix: str = "", recurse: bool = True):
        seen = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mod_name, module in modules:
            for name, p in module._parameters.items():
                if id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self, recurse: bool = True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    # ------------------------------------------------------------ state
    def zero_grad(self, set_to_none: bool = True) -> None:
        zero_grads(self.parameters(), set_to_none)

    def train(self, mode: bool = True) -> "Module":
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Parameter name (PyTorch-style, e.g. ``0.weight``) to a copy of its array."""
        return OrderedDict((name, t.array.copy()) for name, t in self._state_items())

    def load_state_dict(self, state_dict, strict: bool = True):
        """Copy arrays (NumPy arrays, tensors or nested lists) into the parameters, checking names and shapes."""
        own = dict(self._state_items())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append("missing keys: " + ", ".join(missing))
            if unexpected:
                parts.append("unexpected keys: " + ", ".join(unexpected))
            raise KeyError(f"load_state_dict for {type(self).__name__}: " + "; ".join(parts))
        arrays = {}
        for name, value in state_dict.items():
            if name not in own:
                continue
            arr = np.asarray(value.array if isinstance(value, Tensor) else value)
            if arr.shape != own[name].shape:
                raise ShapeError(
                    f"load_state_dict for {type(self).__name__}: size mismatch for {name}: the checkpoint "
                    f"has shape {arr.shape}, the model has shape {own[name].shape}"
                )
            arrays[name] = arr
        with no_grad():
            for name, arr in arrays.items():
                own[name].array[...] = arr  # in place (cast to the parameter's dtype), as torch's copy_
                own[name]._bump()
        return missing, unexpected

    def to(self, *args, dtype=None, device=None) -> "Module":
        """Convert every parameter (and floating buffer) to ``dtype`` in place; ``to("cpu")`` is a no-op."""
        for arg in args:
            if isinstance(arg, str) or type(arg).__name__ == "device":
                device = arg
            else:
                dtype = arg
        _check_device(device, "Module.to")
        if dtype is None:
            return self
        dtype = np.dtype(dtype)
        for module in self.modules():
            for b in module._buffers.values():
                if b is not None and b.dtype.kind == "f":
                    b.array = b.array.astype(dtype)
        for p in self.parameters():
            p.array = p.array.astype(dtype)
            p._grad = None if p._grad is None else Tensor(p._grad.array, dtype=dtype)
            p._bump()
        return self

    def cpu(self) -> "Module":
        return self

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def get_submodule(self, target: str) -> "Module":
        module = self
        for part in target.split(".") if target else []:
            if part not in module._modules:
                raise AttributeError(f"{type(module).__name__} has no attribute `{part}`")
            module = module._modules[part]
        return module

    def to_torch(self):
        """An equivalent ``torch.nn.Module`` with the same weights (see ``chainrule.nn.bridge``)."""
        from .bridge import to_torch

        return to_torch(self)

    def double(self) -> "Module":
        return self.to(np.float64)

    def float(self) -> "Module":
        return self.to(np.float32)

    def apply(self, fn) -> "Module":
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------ repr
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"({name}): " + repr(child).replace("\n", "\n  ") for name, child in self._modules.items()]
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        body = "\n  ".join(([extra] if extra else []) + lines)
        return f"{type(self).__name__}(\n  {body}\n)"
