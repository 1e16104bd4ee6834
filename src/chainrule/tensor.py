"""``Tensor``: an ndarray plus what reverse-mode autodiff needs, with a PyTorch-shaped API."""

from __future__ import annotations

import itertools

import numpy as np

from . import anomaly, autograd
from .dtypes import as_array, get_default_dtype
from .errors import ChainruleError, DTypeError, GraphError, ShapeError
from .ops import REGISTRY as OPS

_ADD, _SUB, _MUL, _DIV, _POW, _NEG, _MATMUL = (
    OPS[k] for k in ("add", "sub", "mul", "div", "pow", "neg", "matmul")
)


def _shape_str(shape) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


_AxisError = getattr(np, "exceptions", np).AxisError


def check_dim(name: str, dim: int, ndim: int, extra: int = 0) -> int:
    """``dim`` made non-negative, or PyTorch's "Dimension out of range" naming the op.

    ``extra`` is 1 for ops that insert a dimension (``stack``).
    """
    n = max(ndim + extra, 1)
    if not isinstance(dim, (int, np.integer)) or not -n <= dim < n:
        raise ShapeError(
            f"{name}: dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim}) "
            f"for a tensor with {ndim} dimensions"
        )
    return int(dim) % n


def _broadcast_message(name: str, shapes) -> str | None:
    """PyTorch's wording for the last dimension where the operand shapes cannot broadcast."""
    width = max(len(s) for s in shapes)
    padded = [(1,) * (width - len(s)) + tuple(s) for s in shapes]
    for d in range(width - 1, -1, -1):
        sizes = [s[d] for s in padded]
        big = [(i, n) for i, n in enumerate(sizes) if n != 1]
        for (i, n), (j, m) in itertools.pairwise(big):
            if n != m:
                a, b = "abcdefgh"[i], "abcdefgh"[j]
                shown = " and ".join(_shape_str(s) for s in shapes)
                return (
                    f"{name}: shapes {shown} cannot be broadcast together: the size of tensor {a} ({n}) "
                    f"must match the size of tensor {b} ({m}) at non-singleton dimension {d}"
                )
    return None


def _forward_error(op, parents, exc) -> Exception:
    """Turn a NumPy error from inside an op's forward into one that names the op and the shapes."""
    shapes = [p.data.shape for p in parents]
    shown = " and ".join(_shape_str(s) for s in shapes)
    if isinstance(exc, _AxisError):
        return ShapeError(f"{op.name}: {exc} (operand shapes {shown})")
    if isinstance(exc, IndexError):
        return IndexError(f"{op.name}: {exc} (tensor of shape {shown})")
    if len(parents) > 1 and "broadcast" in str(exc):
        message = _broadcast_message(op.name, shapes)
        if message:
            return ShapeError(message)
    return ShapeError(f"{op.name}: cannot combine operands of shapes {shown}: {exc}")


def apply(op, *parents, **attrs) -> "Tensor":
    """Run ``op`` forward on the parents' arrays and record a node when a gradient is needed."""
    try:
        if anomaly._enabled:  # NaN/Inf is reported below as an AnomalyError, so NumPy's warning is noise
            with np.errstate(all="ignore"):
                out = op.forward(*[p.data for p in parents], **attrs)
        else:
            out = op.forward(*[p.data for p in parents], **attrs)
    except (ValueError, IndexError) as exc:
        if isinstance(exc, ChainruleError):
            raise
        raise _forward_error(op, parents, exc) from None
    if type(out) is not np.ndarray:
        out = np.asarray(out)
    t = Tensor.__new__(Tensor)
    t.data = out
    t.grad = None
    t._version = 0
    t._retains_grad = False
    t.name = None
    needs = tuple([p.requires_grad for p in parents]) if autograd._grad_enabled else ()
    if True in needs:
        t.requires_grad = True
        node = autograd.Node(op, parents, attrs, out, needs)
        if anomaly._enabled:
            node.origin = anomaly.user_frame()
            anomaly.check_forward(op.name, out, node.origin)
        t.grad_fn = node
    else:
        t.requires_grad = False
        t.grad_fn = None
    return t


def _lift(value, like: "Tensor") -> "Tensor":
    """Turn a Python or NumPy number/array into a constant tensor next to ``like``."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        kind = like.data.dtype.kind
        if kind == "f" or (kind in "iu" and isinstance(value, int)):
            return _const(np.asarray(value, dtype=like.data.dtype))
        if kind == "b" and isinstance(value, int):
            return _const(np.asarray(value, dtype=np.int64))  # bool + 1 is int64 (PyTorch)
        return _const(np.asarray(value, dtype=get_default_dtype()))
    return _const(as_array(value))


_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


def _pair(a: "Tensor", b: "Tensor"):
    """The operands of a binary op, cast where PyTorch's type promotion differs from NumPy's.

    An integer or bool operand takes the floating operand's dtype (int64 * float32 is float32,
    not float64), and a 0-d tensor does not widen a dimensioned tensor of the same category
    (float32 vector * float64 0-d is float32).
    """
    da, db = a.data.dtype, b.data.dtype
    if da is db or da == db:
        return a, b
    ca, cb = _CATEGORY.get(da.kind, 4), _CATEGORY.get(db.kind, 4)
    if ca == cb:
        if (a.data.ndim == 0) != (b.data.ndim == 0):
            return (a.astype(db), b) if a.data.ndim == 0 else (a, b.astype(da))
    elif ca >= 2 and ca > cb:
        return a, b.astype(da)
    elif cb >= 2 and cb > ca:
        return a.astype(db), b
    return a, b


def _true_div_pair(a: "Tensor", b: "Tensor"):
    """Operands of ``/``: integer or bool division gives the default float dtype (PyTorch)."""
    a, b = _pair(a, b)
    if a.data.dtype.kind not in "fc":
        dtype = get_default_dtype()
        a, b = a.astype(dtype), b.astype(dtype)
    return a, b


def _holds_tensor(data) -> bool:
    return any(isinstance(d, Tensor) or (isinstance(d, (list, tuple)) and _holds_tensor(d)) for d in data)


def _arrays(data):
    """Nested lists with every tensor replaced by its array."""
    if isinstance(data, Tensor):
        return data.data
    if isinstance(data, (list, tuple)):
        return [_arrays(d) for d in data]
    return data


def _const(arr: np.ndarray) -> "Tensor":
    t = Tensor.__new__(Tensor)
    t.data = arr
    t.grad = None
    t.grad_fn = None
    t.requires_grad = False
    t._version = 0
    t._retains_grad = False
    t.name = None
    return t


def _axis(axis, dim):
    if dim is not None:
        axis = dim
    if isinstance(axis, list):
        axis = tuple(axis)
    return axis


def _keep(keepdims, keepdim):
    return bool(keepdim) if keepdim is not None else bool(keepdims)


def _index(index):
    """Tensors inside an index become arrays; lists become integer arrays."""
    if isinstance(index, tuple):
        return tuple(_index(i) for i in index)
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):
        return np.asarray(index)
    return index


def _resolve_shape(shape, size):
    """``shape`` with a -1 filled in, or None when it cannot hold ``size`` elements."""
    shape = [int(s) for s in shape]
    free = [i for i, s in enumerate(shape) if s == -1]
    known = int(np.prod([s for s in shape if s != -1], dtype=np.int64))
    if len(free) > 1 or any(s < -1 for s in shape):
        return None
    if free:
        if known == 0 or size % known:
            return None
        shape[free[0]] = size // known
    elif known != size:
        return None
    return tuple(shape)


class Tensor:
    """An n-dimensional array that can record the ops applied to it and backpropagate through them.

    >>> import chainrule as cr
    >>> w = cr.tensor([0.5, 0.5], requires_grad=True)
    >>> y = (w * cr.tensor([40.0, 80.0])).sum()
    >>> y.backward()
    >>> w.grad
    array([40., 80.], dtype=float32)
    """

    # _base (set only on views and detach() results) is the tensor whose memory this one shares;
    # an in-place change here advances its version counter too, as PyTorch's shared counter does.
    __slots__ = ("data", "grad", "grad_fn", "requires_grad", "_version", "_retains_grad", "name", "_base", "__weakref__")
    __array_ufunc__ = None  # make NumPy defer to our reflected operators (ndarray * Tensor -> Tensor)

    def __init__(self, data, dtype=None, requires_grad: bool = False):
        if isinstance(data, Tensor):
            data = data.data
        elif isinstance(data, (list, tuple)) and _holds_tensor(data):
            data = np.array(_arrays(data))  # torch.tensor([t1, t2]): the tensors' values, their dtype
        self.data = as_array(data, dtype)
        self.grad = None
        self.grad_fn = None
        self._version = 0
        self._retains_grad = False
        self.name = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # ----------------------------------------------------------------- properties
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    def size(self, dim=None):
        return self.data.shape if dim is None else self.data.shape[dim]

    def dim(self) -> int:
        return self.data.ndim

    def numel(self) -> int:
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def T(self) -> "Tensor":
        return self.permute(*reversed(range(self.ndim)))

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    # ----------------------------------------------------------------- autograd
    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        if requires_grad and self.data.dtype.kind not in "fc":
            raise DTypeError(
                f"only floating point tensors can require gradients, but this tensor has dtype "
                f"{self.data.dtype}; create it with a float dtype, e.g. cr.tensor(data, dtype=np.float32)"
            )
        if not requires_grad and self.grad_fn is not None:
            raise GraphError("requires_grad_(False) is only allowed on leaf tensors; use .detach() instead")
        self.requires_grad = bool(requires_grad)
        return self

    def backward(self, gradient=None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``; frees the graph unless retained."""
        if not self.requires_grad:
            raise GraphError(
                "backward(): this tensor does not require grad and has no grad_fn, so there is "
                "nothing to differentiate; set requires_grad=True on the inputs (and make sure the "
                "forward pass did not run under cr.no_grad())"
            )
        if gradient is None:
            if self.data.size != 1:
                raise GraphError(
                    f"backward(): grad can be implicitly created only for scalar outputs, but this "
                    f"tensor has shape {_shape_str(self.shape)}; pass gradient= with that shape, or "
                    f"reduce it first (e.g. .sum())"
                )
            grad = np.ones(self.shape, dtype=self.dtype)
        else:
            grad = np.array(gradient.data if isinstance(gradient, Tensor) else gradient, dtype=self.dtype)
            if grad.shape != self.shape:
                raise ShapeError(
                    f"backward(): gradient has shape {_shape_str(grad.shape)} but the tensor has "
                    f"shape {_shape_str(self.shape)}"
                )
        autograd.run_backward(self, grad, retain_graph=retain_graph)

    def retain_grad(self) -> "Tensor":
        """Keep ``.grad`` on this non-leaf tensor after backward (leaves always keep it)."""
        if not self.requires_grad:
            raise GraphError("retain_grad(): can't retain the gradient of a tensor that does not require grad")
        if self.grad_fn is not None:
            self._retains_grad = True
        return self

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    def detach(self) -> "Tensor":
        """The same values, cut from the graph (shares memory and version counter, like PyTorch)."""
        out = _const(self.data)
        base = getattr(self, "_base", None)
        out._base = self if base is None else base
        return out

    # ----------------------------------------------------------------- conversion
    def item(self):
        if self.data.size != 1:
            raise ShapeError(f"item(): only one-element tensors can be converted, got shape {_shape_str(self.shape)}")
        return self.data.item()

    def numpy(self) -> np.ndarray:
        if self.requires_grad:
            raise GraphError("numpy(): can't call numpy() on a tensor that requires grad; use .detach().numpy()")
        return self.data

    def tolist(self):
        return self.data.tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ShapeError("the truth value of a tensor with more than one element is ambiguous")
        return bool(self.data)

    def astype(self, dtype) -> "Tensor":
        dtype = np.dtype(dtype)
        if dtype == self.data.dtype:
            return self
        return apply(OPS["cast"], self, dtype=dtype)

    to = astype

    def float(self) -> "Tensor":
        return self.astype(np.float32)

    def double(self) -> "Tensor":
        return self.astype(np.float64)

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extras = []
        if self.data.dtype not in (get_default_dtype(), np.int64, np.bool_):
            extras.append(f"dtype={self.data.dtype}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{self.grad_fn.name}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    # ----------------------------------------------------------------- in place (no graph)
    def _bump(self) -> None:
        self._version += 1
        base = getattr(self, "_base", None)
        if base is not None:
            base._version += 1

    def _alias(self, out: "Tensor") -> "Tensor":
        """Mark ``out`` as sharing ``self``'s memory when it does (a NumPy view, not a copy)."""
        if out.data.base is not None and np.may_share_memory(out.data, self.data):
            base = getattr(self, "_base", None)
            out._base = self if base is None else base
        return out

    def _check_inplace(self, what: str) -> None:
        if autograd._grad_enabled and self.requires_grad:
            kind = "a leaf tensor that requires grad" if self.grad_fn is None else "a tensor in the graph"
            raise GraphError(
                f"{what}: in-place modification of {kind} is not allowed while grad is enabled; "
                f"wrap it in `with cr.no_grad():`"
            )

    def _inplace(self, what, values) -> "Tensor":
        self._check_inplace(what)
        values = values.data if isinstance(values, Tensor) else values
        self.data[...] = values
        self._bump()
        return self

    def _augmented(self, op, other, what, pair=None) -> "Tensor":
        """``self op= other`` as PyTorch does it: in place, so every reference sees the change.

        A tensor taking part in the graph (it or ``other`` requires grad while grad mode is on) is
        combined out of place instead, which gives the gradients PyTorch's recorded in-place op
        gives; a leaf that requires grad is refused, as in PyTorch.
        """
        other = _lift(other, self)
        a, b = (pair or _pair)(self, other)
        if autograd._grad_enabled and (self.requires_grad or other.requires_grad):
            if self.requires_grad and self.grad_fn is None:
                self._check_inplace(what)
            return apply(op, a, b)
        result = apply(op, a, b).data
        if result.shape != self.data.shape:
            raise ShapeError(
                f"{what}: output with shape {_shape_str(self.shape)} doesn't match the broadcast shape "
                f"{_shape_str(result.shape)}"
            )
        if not np.can_cast(result.dtype, self.data.dtype, casting="same_kind"):
            raise DTypeError(f"{what}: result type {result.dtype} can't be cast to the tensor's dtype {self.data.dtype}")
        return self._inplace(what, result)

    def __iadd__(self, other):
        return self._augmented(_ADD, other, "+=")

    def __isub__(self, other):
        return self._augmented(_SUB, other, "-=")

    def __imul__(self, other):
        return self._augmented(_MUL, other, "*=")

    def __itruediv__(self, other):
        return self._augmented(_DIV, other, "/=", _true_div_pair)

    def __setitem__(self, index, value) -> None:
        self._check_inplace("__setitem__")
        self.data[_index(index)] = value.data if isinstance(value, Tensor) else value
        self._bump()

    def copy_(self, src) -> "Tensor":
        return self._inplace("copy_", src)

    def fill_(self, value) -> "Tensor":
        return self._inplace("fill_", value)

    def zero_(self) -> "Tensor":
        return self._inplace("zero_", 0)

    def add_(self, other, alpha=1) -> "Tensor":
        other = other.data if isinstance(other, Tensor) else other
        return self._inplace("add_", self.data + alpha * other)

    def sub_(self, other, alpha=1) -> "Tensor":
        other = other.data if isinstance(other, Tensor) else other
        return self._inplace("sub_", self.data - alpha * other)

    def mul_(self, other) -> "Tensor":
        other = other.data if isinstance(other, Tensor) else other
        return self._inplace("mul_", self.data * other)

    # ----------------------------------------------------------------- arithmetic
    def __add__(self, other):
        return apply(_ADD, *_pair(self, _lift(other, self)))

    def __radd__(self, other):
        return apply(_ADD, *_pair(_lift(other, self), self))

    def __sub__(self, other):
        return apply(_SUB, *_pair(self, _lift(other, self)))

    def __rsub__(self, other):
        return apply(_SUB, *_pair(_lift(other, self), self))

    def __mul__(self, other):
        return apply(_MUL, *_pair(self, _lift(other, self)))

    def __rmul__(self, other):
        return apply(_MUL, *_pair(_lift(other, self), self))

    def __truediv__(self, other):
        return apply(_DIV, *_true_div_pair(self, _lift(other, self)))

    def __rtruediv__(self, other):
        return apply(_DIV, *_true_div_pair(_lift(other, self), self))

    def __pow__(self, other):
        return apply(_POW, *_pair(self, _lift(other, self)))

    def __rpow__(self, other):
        return apply(_POW, *_pair(_lift(other, self), self))

    def __neg__(self):
        return apply(_NEG, self)

    def __pos__(self):
        return self

    def __matmul__(self, other):
        return apply(_MATMUL, self, _lift(other, self))

    def __rmatmul__(self, other):
        return apply(_MATMUL, _lift(other, self), self)

    # comparisons give constant boolean tensors
    def _compare(self, other, fn):
        other = other.data if isinstance(other, Tensor) else other
        return _const(np.asarray(fn(self.data, other)))

    def __lt__(self, other):
        return self._compare(other, np.less)

    def __le__(self, other):
        return self._compare(other, np.less_equal)

    def __gt__(self, other):
        return self._compare(other, np.greater)

    def __ge__(self, other):
        return self._compare(other, np.greater_equal)

    def __eq__(self, other):
        return self._compare(other, np.equal)

    def __ne__(self, other):
        return self._compare(other, np.not_equal)

    __hash__ = object.__hash__

    # ----------------------------------------------------------------- element-wise functions
    def exp(self):
        return apply(OPS["exp"], self)

    def log(self):
        return apply(OPS["log"], self)

    def sqrt(self):
        return apply(OPS["sqrt"], self)

    def abs(self):
        return apply(OPS["abs"], self)

    def tanh(self):
        return apply(OPS["tanh"], self)

    def sigmoid(self):
        return apply(OPS["sigmoid"], self)

    def relu(self):
        return apply(OPS["relu"], self)

    def leaky_relu(self, negative_slope: float = 0.01):
        return apply(OPS["leaky_relu"], self, negative_slope=negative_slope)

    def clip(self, min=None, max=None):  # noqa: A002  (PyTorch's argument names)
        if min is None and max is None:
            raise ValueError("clip: at least one of min and max must be given")
        return apply(OPS["clip"], self, lo=min, hi=max)

    clamp = clip

    def softmax(self, dim: int = -1):
        return apply(OPS["softmax"], self, axis=check_dim("softmax", dim, self.ndim))

    def log_softmax(self, dim: int = -1):
        return apply(OPS["log_softmax"], self, axis=check_dim("log_softmax", dim, self.ndim))

    def logsumexp(self, dim: int = -1, keepdim: bool = False):
        """log Σ exp along ``dim``, computed from shifted values so ±1000 neither overflows nor warns."""
        return apply(OPS["logsumexp"], self, axis=check_dim("logsumexp", dim, self.ndim), keepdims=bool(keepdim))

    # ----------------------------------------------------------------- reductions
    def _reduce(self, name, axis, keepdims, dim, keepdim):
        axis = _axis(axis, dim)
        if axis is not None:
            axes = axis if isinstance(axis, tuple) else (axis,)
            for ax in axes:
                if not -self.ndim <= ax < max(self.ndim, 1):
                    raise ShapeError(
                        f"{name}: dimension {ax} is out of range for a tensor of shape {_shape_str(self.shape)}"
                    )
        return apply(OPS[name], self, axis=axis, keepdims=_keep(keepdims, keepdim))

    def sum(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return self._reduce("sum", axis, keepdims, dim, keepdim)

    def mean(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        if self.data.dtype.kind not in "fc":
            raise DTypeError(
                f"mean(): could not infer output dtype. Input dtype must be a floating point dtype, got "
                f"{self.data.dtype}; convert first, e.g. t.float().mean()"
            )
        return self._reduce("mean", axis, keepdims, dim, keepdim)

    def max(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return self._reduce("max", axis, keepdims, dim, keepdim)

    def min(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return self._reduce("min", axis, keepdims, dim, keepdim)

    def argmax(self, axis=None, *, dim=None):
        return _const(np.asarray(self.data.argmax(axis=_axis(axis, dim))))

    def argmin(self, axis=None, *, dim=None):
        return _const(np.asarray(self.data.argmin(axis=_axis(axis, dim))))

    # ----------------------------------------------------------------- shape
    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        target = _resolve_shape(shape, self.data.size)
        if target is None:
            raise ShapeError(
                f"reshape: shape {list(shape)} is invalid for a tensor of shape {_shape_str(self.shape)} "
                f"({self.data.size} elements)"
            )
        return self._alias(apply(OPS["reshape"], self, shape=target))

    view = reshape

    def flatten(self):
        return self.reshape(-1)

    def permute(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        axes = tuple(check_dim("permute", a, self.ndim) for a in axes)
        if sorted(axes) != list(range(self.ndim)):
            raise ShapeError(f"permute: {list(axes)} is not a permutation of the {self.ndim} dims of shape {_shape_str(self.shape)}")
        return self._alias(apply(OPS["permute"], self, axes=axes))

    def transpose(self, dim0=None, dim1=None):
        """Swap two dimensions (PyTorch); with no arguments, swap the last two (a matrix transpose)."""
        if self.ndim < 2:
            return self
        if dim0 is None and dim1 is None:
            dim0, dim1 = -2, -1
        dim0, dim1 = check_dim("transpose", dim0, self.ndim), check_dim("transpose", dim1, self.ndim)
        axes = list(range(self.ndim))
        axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
        return self.permute(*axes)

    def t(self):
        return self.transpose()

    def __getitem__(self, index):
        return self._alias(apply(OPS["getitem"], self, index=_index(index)))

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]


def zero_grads(params, set_to_none: bool = True) -> None:
    """Reset ``.grad`` of every tensor: to None, or to zeros in place (as ``zero_grad`` does in PyTorch)."""
    for p in params:
        if set_to_none:
            p.grad = None
        elif p.grad is not None:
            p.grad[...] = 0


def tensor(data, dtype=None, requires_grad: bool = False) -> Tensor:
    """Make a tensor from data (copies it). Python floats get the default dtype (float32)."""
    return Tensor(data, dtype=dtype, requires_grad=requires_grad)
