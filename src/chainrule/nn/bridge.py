"""Moving a model between chainrule and PyTorch: ``Module.to_torch()`` and ``nn.from_torch(module)``.

The road for a model that outgrows one CPU is PyTorch (GPUs, distributed training): the same
architecture, built from the PyTorch class of the same name, with the same weights. Layers are
matched by class name and rebuilt from the constructor arguments both libraries store under the
same attribute names (``in_features``, ``negative_slope``, ``dim``, …); containers keep their
children's names, so state-dict keys match. A module with a forward() of its own (a subclass you
wrote) cannot be translated: its code calls chainrule, not torch.
"""

from __future__ import annotations

import numpy as np

from .containers import ModuleDict, ModuleList
from .layers import Sequential
from .module import Module


def _torch():
    try:
        import torch
    except ImportError:  # pragma: no cover - the test extra installs torch
        raise ImportError("to_torch()/from_torch() need PyTorch: pip install torch") from None
    return torch


def _arguments(target_cls, source) -> dict:
    """Constructor arguments of ``target_cls`` read from ``source``'s attributes of the same names."""
    import inspect  # only the bridge needs it; imported here to keep `import chainrule` fast

    args = {}
    params = {}
    for cls in target_cls.__mro__:  # torch.nn.LSTM(*args, **kwargs) names its arguments in RNNBase
        init = cls.__dict__.get("__init__")
        if init is None:
            continue
        for name, param in inspect.signature(init).parameters.items():
            if param.kind not in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                params.setdefault(name, param)
        if not any(p.kind == p.VAR_POSITIONAL for p in inspect.signature(init).parameters.values()):
            break
    if target_cls.__name__ in ("RNN", "RNNCell"):
        params.setdefault("nonlinearity", None)
    for name in params:
        if name in ("self", "device", "dtype", "mode"):
            continue
        if name == "bias" and hasattr(source, "bias"):
            bias = source.bias
            args[name] = bias if isinstance(bias, bool) else bias is not None
        elif hasattr(source, name):
            value = getattr(source, name)
            if isinstance(value, (bool, int, float, str, tuple, type(None))):
                args[name] = value
    return args


def _children(module):
    return list(module._modules.items())


def to_torch(module: Module):
    """An equivalent ``torch.nn.Module``: same classes, names and weights (same dtype)."""
    torch = _torch()
    built = _build_torch(module, torch)
    state = {k: torch.from_numpy(np.array(v)) for k, v in module.state_dict().items()}
    built.load_state_dict(state, strict=True)
    built.train(module.training)
    return built


def _build_torch(module, torch):
    name = type(module).__name__
    if isinstance(module, (Sequential, ModuleList, ModuleDict)):
        children = [(k, _build_torch(m, torch)) for k, m in _children(module)]
        if isinstance(module, Sequential):
            from collections import OrderedDict

            return torch.nn.Sequential(OrderedDict(children))
        if isinstance(module, ModuleList):
            return torch.nn.ModuleList([m for _, m in children])
        return torch.nn.ModuleDict(dict(children))
    cls = getattr(torch.nn, name, None)
    if cls is None or type(module).forward is Module.forward:
        raise TypeError(f"to_torch(): no PyTorch twin for {name}; build the model from chainrule.nn layers")
    if _children(module) and not isinstance(module, (Sequential, ModuleList, ModuleDict)):
        raise TypeError(f"to_torch(): {name} has sub-modules and its own forward(); only chainrule.nn layers and "
                        f"containers (Sequential, ModuleList, ModuleDict) can be translated")
    built = cls(**_arguments(cls, module))
    params = [p for p in module.parameters()]
    if params:
        dtype = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[params[0].dtype]
        built = built.to(dtype)
    return built


def from_torch(module):
    """A chainrule model equivalent to ``module`` (a ``torch.nn.Module`` built from standard layers)."""
    torch = _torch()
    built = _build_ours(module, torch)
    built.load_state_dict({k: v.detach().cpu().numpy() for k, v in module.state_dict().items()})
    built.train(module.training)
    return built


def _build_ours(module, torch):
    from .. import nn

    name = type(module).__name__
    if isinstance(module, torch.nn.Sequential):
        from collections import OrderedDict

        return Sequential(OrderedDict((k, _build_ours(m, torch)) for k, m in module.named_children()))
    if isinstance(module, torch.nn.ModuleList):
        return ModuleList([_build_ours(m, torch) for m in module])
    if isinstance(module, torch.nn.ModuleDict):
        return ModuleDict({k: _build_ours(m, torch) for k, m in module.items()})
    cls = getattr(nn, name, None)
    if cls is None or not (isinstance(cls, type) and issubclass(cls, Module)):
        raise TypeError(f"from_torch(): chainrule has no layer {name}")
    args = _arguments(cls, module)
    params = list(module.parameters(recurse=False))
    import inspect

    if params and "dtype" in inspect.signature(cls.__init__).parameters:
        args["dtype"] = {torch.float32: np.float32, torch.float64: np.float64}[params[0].dtype]
    return cls(**args)
