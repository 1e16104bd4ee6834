"""``Tensor``: an ndarray plus what reverse-mode autodiff needs, with a PyTorch-shaped API."""

from __future__ import annotations

import itertools
import operator
import weakref
from collections import namedtuple

import numpy as np

from . import anomaly, autograd
from .dtypes import as_array, get_default_dtype
from .errors import ChainruleError, DTypeError, GraphError, ShapeError
from .ops import REGISTRY as OPS
from .ops.reduce import nonempty_along

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
    shapes = [p.array.shape for p in parents]
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


# ``needs`` of one- and two-input ops, made once: looked up by the inputs' flags, not built per op
_NEEDS1 = ((False,), (True,))
_NEEDS2 = (((False, False), (False, True)), ((True, False), (True, True)))
_ARRAY, _REQUIRES_GRAD = operator.attrgetter("array"), operator.attrgetter("_requires_grad")  # map() them: no frame


def apply(op, *parents, **attrs) -> "Tensor":
    """Run ``op`` forward on the parents' arrays and record a node when a gradient is needed.

    Every op of every graph passes through here, so it is written for speed: ops of one, two or
    three inputs and no attributes (nearly all of a graph) take their arrays and ``needs`` without a
    loop (a list comprehension costs a function call in Python 3.11) and call the op's forward with
    positional arguments, and the result is built with ``_new`` rather than ``Tensor()``, which would
    check and convert its data.
    """
    n = len(parents)
    if n == 2:  # which inputs require grad, fixed now (PyTorch)
        a, b = parents
        needs = _NEEDS2[a._requires_grad][b._requires_grad]
    elif n == 1:
        a = parents[0]
        needs = _NEEDS1[a._requires_grad]
    elif n == 3:  # linear layers: input, weight, bias
        a, b, c = parents
        needs = (a._requires_grad, b._requires_grad, c._requires_grad)
    else:
        needs = tuple(map(_REQUIRES_GRAD, parents))
    try:
        if attrs or not 0 < n <= 3 or anomaly._enabled:
            out = _forward(op, parents, attrs)
        elif n == 2:  # the op's forward called with positional arrays: a *args call costs ~150 ns more
            out = op.forward(a.array, b.array)
        elif n == 1:
            out = op.forward(a.array)
        else:
            out = op.forward(a.array, b.array, c.array)
    except (ValueError, IndexError) as exc:
        if isinstance(exc, ChainruleError):
            raise
        raise _forward_error(op, parents, exc) from None
    if type(out) is not np.ndarray:
        out = np.asarray(out)  # NumPy returns a scalar, not a 0-d array, from 0-d operands
    if True in needs and autograd._grad_enabled:
        node = autograd.Node(op, parents, attrs, out, needs)
        t = _new(out, node, True)
        if op.uses_output:
            node.saved_out = (t._counter(), 0)
        if anomaly._enabled:
            node.origin = anomaly.user_frame()
            anomaly.check_forward(op.name, out, node.origin)
        return t
    return _new(out, None, False)


def _forward(op, parents, attrs):
    """The output of an op called with attributes, with no or more than three inputs, or in anomaly mode."""
    if anomaly._enabled:  # NaN/Inf is reported as an AnomalyError by apply, so NumPy's warning is noise
        with np.errstate(all="ignore"):
            return op.forward(*map(_ARRAY, parents), **attrs)
    return op.forward(*map(_ARRAY, parents), **attrs)


def _lift(value, like: "Tensor") -> "Tensor":
    """Turn a Python or NumPy number/array into a constant tensor next to ``like``."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        kind = like.array.dtype.kind
        if kind == "f" or (kind in "iu" and isinstance(value, int)):
            return _const(np.asarray(value, dtype=like.array.dtype))
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
    da, db = a.array.dtype, b.array.dtype
    if da is db or da == db:
        return a, b
    ca, cb = _CATEGORY.get(da.kind, 4), _CATEGORY.get(db.kind, 4)
    if ca == cb:
        if (a.array.ndim == 0) != (b.array.ndim == 0):
            return (a.astype(db), b) if a.array.ndim == 0 else (a, b.astype(da))
    elif ca >= 2 and ca > cb:
        return a, b.astype(da)
    elif cb >= 2 and cb > ca:
        return a.astype(db), b
    return a, b


def _true_div_pair(a: "Tensor", b: "Tensor"):
    """Operands of ``/``: integer or bool division gives the default float dtype (PyTorch)."""
    a, b = _pair(a, b)
    if a.array.dtype.kind not in "fc":
        dtype = get_default_dtype()
        a, b = a.astype(dtype), b.astype(dtype)
    return a, b


def _binary(op, pair=_pair):
    """``(__op__, __rop__)``: the methods behind a binary operator such as ``*``.

    ``other`` (a number, an array or a tensor) is lifted to a tensor and the dtypes are promoted
    by ``pair``; two tensors of one dtype, the usual case, need neither and go straight to the op
    (true division still turns two integer tensors into floats, so it always asks ``pair``).
    """
    direct = pair is _pair

    def method(self, other):
        if direct and isinstance(other, Tensor) and other.array.dtype is self.array.dtype:
            return apply(op, self, other)
        return apply(op, *pair(self, _lift(other, self)))

    def reflected(self, other):  # other ⊙ self, where other is not a tensor
        return apply(op, *pair(_lift(other, self), self))

    name = {"div": "truediv"}.get(op.name, op.name)
    method.__name__, reflected.__name__ = f"__{name}__", f"__r{name}__"
    method.__qualname__, reflected.__qualname__ = f"Tensor.__{name}__", f"Tensor.__r{name}__"
    return method, reflected


def _holds_tensor(data) -> bool:
    return any(isinstance(d, Tensor) or (isinstance(d, (list, tuple)) and _holds_tensor(d)) for d in data)


def _arrays(data):
    """Nested lists with every tensor replaced by its array."""
    if isinstance(data, Tensor):
        return data.array
    if isinstance(data, (list, tuple)):
        return [_arrays(d) for d in data]
    return data


_bare = object.__new__  # an empty instance, without running Tensor.__init__

# The version counter of a tensor not yet changed in place and sharing memory with no other tensor:
# read as version 0 like any counter, and replaced by a list of its own (``Tensor._counter``) before
# it is bumped or shared. Most tensors never need one, so most never allocate it.
_FRESH = (0,)


def _new(arr: np.ndarray, grad_fn, requires_grad: bool) -> "Tensor":
    """A tensor around ``arr`` (no copy, no checks): how the engine makes its results."""
    t = _bare(Tensor)
    t.array = arr
    t.grad_fn = grad_fn
    t._requires_grad = requires_grad
    t._grad = t._hooks = t.name = t._base = None
    t._vc = _FRESH
    return t


def _const(arr: np.ndarray) -> "Tensor":
    """A tensor around ``arr`` (no copy) that requires no grad."""
    return _new(arr, None, False)


autograd._const = _const  # the engine wraps gradients in tensors without importing this module


def _scatter_index(name: str, index, dim: int, t: "Tensor") -> np.ndarray:
    """An integer index for gather/scatter_add, every entry in 0..size-1 along ``dim`` (PyTorch's check:
    NumPy would wrap a negative index and read or write another entry)."""
    index = np.asarray(_index(index))
    if index.dtype.kind not in "iu":
        raise DTypeError(f"{name}(): Expected dtype int64 for index, got {index.dtype}")
    size = t.shape[dim] if t.ndim else 1
    outside = (index < 0) | (index >= size)
    if outside.any():
        raise ShapeError(f"{name}(): index {int(index[outside].flat[0])} is out of bounds for dimension {dim} with size {size}")
    return index


def _no_larger(name: str, index: np.ndarray, dim: int, shape: tuple, what: str, apart_from_dim: bool) -> None:
    """PyTorch's rule that the index is no larger than ``shape`` (apart from ``dim`` for the input), where
    NumPy would broadcast a smaller one or a smaller source."""
    for d, (i, n) in enumerate(zip(index.shape, shape)):
        if i > n and not (apart_from_dim and d == dim):
            raise ShapeError(
                f"{name}(): Size does not match at dimension {d}: expected index {list(index.shape)} to be no larger "
                f"than {what} {list(shape)}" + (f" apart from dimension {dim}" if apart_from_dim else "")
            )


def _leading(t: "Tensor", shape: tuple, dim) -> "Tensor":
    """``t`` cut to ``shape``'s leading block in every dim but ``dim`` (a recorded slice, so its gradient
    comes back padded with zeros): the entries a gather or scatter_add with that index shape reads."""
    if all(n == m or d == dim for d, (n, m) in enumerate(zip(shape, t.shape))):
        return t
    return t[tuple(slice(None) if d == dim else slice(0, n) for d, n in enumerate(shape))]


def _overwritten(old: "Tensor", new: "Tensor") -> "Tensor":
    """``new``, broadcast to ``old``'s shape, in place of ``old``'s values: the gradient reaches ``new`` and
    none reaches ``old``. (Not old·0 + new, which would carry an inf or nan of ``old`` into the result.)"""
    return apply(OPS["where"], new, old, cond=np.True_)


def _axis(axis, dim):
    """A ``dim`` (or NumPy-style ``axis``) as the ops take it: None, an int, or a tuple of ints (NumPy's
    integers too, which the ops' ``isinstance(axis, int)`` would otherwise read as a sequence)."""
    if dim is not None:
        axis = dim
    if isinstance(axis, (list, tuple)):  # () is every dim, as in PyTorch (NumPy's axis=() is none)
        return tuple(int(a) if isinstance(a, np.integer) else a for a in axis) or None
    return int(axis) if isinstance(axis, np.integer) else axis


def _keep(keepdims, keepdim):
    return bool(keepdim) if keepdim is not None else bool(keepdims)


def _index(index):
    """Tensors inside an index become arrays; lists become integer arrays."""
    if isinstance(index, tuple):
        return tuple(_index(i) for i in index)
    if isinstance(index, Tensor):
        return index.array
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

    # ``array`` is the NumPy array holding the values (what chainrule's own code computes with);
    # ``.data`` and ``.grad`` are tensors, as in PyTorch. ``_vc`` is the version counter (a one-item
    # list: cheaper to make than an object, and mutable; ``_FRESH`` until first needed), one
    # object shared by a tensor, its views and detach() results, so an in-place change through any
    # alias is seen by backward; ``_base`` (views only) is the tensor whose memory a view shares.
    __slots__ = ("array", "_grad", "grad_fn", "_requires_grad", "_vc", "_hooks", "name", "_base", "__weakref__")
    __array_priority__ = 1000  # ndarray * Tensor defers to Tensor.__rmul__ (-> Tensor), as for torch tensors

    def __init__(self, data, dtype=None, requires_grad: bool = False):
        if isinstance(data, Tensor):
            data = data.array
        elif isinstance(data, (list, tuple)) and _holds_tensor(data):
            data = np.array(_arrays(data))  # torch.tensor([t1, t2]): the tensors' values, their dtype
        self.array = as_array(data, dtype)
        self._grad = None
        self.grad_fn = None
        self._vc = _FRESH
        self._hooks = None
        self.name = None
        self._base = None
        self._requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    def __array__(self, dtype=None, copy=None):
        if self._requires_grad:
            raise GraphError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead."
            )
        if dtype is not None and np.dtype(dtype) != self.array.dtype:
            return self.array.astype(dtype)
        return self.array.copy() if copy else self.array

    # ----------------------------------------------------------------- properties
    @property
    def shape(self) -> tuple:
        return self.array.shape

    @property
    def ndim(self) -> int:
        return self.array.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.array.dtype

    def size(self, dim=None):
        return self.array.shape if dim is None else self.array.shape[dim]

    def dim(self) -> int:
        return self.array.ndim

    def numel(self) -> int:
        return self.array.size

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value) -> None:
        self.requires_grad_(bool(value))

    @property
    def _version(self) -> int:
        return self._vc[0]

    @property
    def data(self) -> "Tensor":
        """The values as a tensor outside the graph, sharing memory (not the version counter), as in PyTorch."""
        return _const(self.array)

    @data.setter
    def data(self, value) -> None:
        self.array = value.array if isinstance(value, Tensor) else as_array(value)

    @property
    def grad(self):
        """The accumulated gradient (a tensor), or None; for a non-leaf only after ``retain_grad()``."""
        return self._grad

    @grad.setter
    def grad(self, value) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(
                    f"assigned grad expected to be a Tensor or None but got grad of type {type(value).__name__}"
                )
            if value.shape != self.shape:
                raise ShapeError(
                    f"assigned grad has data of a different size: grad {_shape_str(value.shape)}, "
                    f"tensor {_shape_str(self.shape)}"
                )
            if value.dtype != self.dtype:
                raise DTypeError(f"assigned grad has data of a different type: grad {value.dtype}, tensor {self.dtype}")
        self._grad = value

    @grad.deleter
    def grad(self) -> None:
        self._grad = None

    @property
    def T(self) -> "Tensor":
        return self.permute(*reversed(range(self.ndim)))

    def __len__(self) -> int:
        if self.array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.array)

    # ----------------------------------------------------------------- autograd
    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        if requires_grad and self.array.dtype.kind not in "fc":
            raise DTypeError(
                f"only Tensors of floating point dtype can require gradients, but this tensor has dtype "
                f"{self.array.dtype}; create it with a float dtype, e.g. cr.tensor(data, dtype=np.float32)"
            )
        if self.grad_fn is not None and not requires_grad:
            raise GraphError(
                "you can only change requires_grad flags of leaf variables. If you want to use a computed "
                "variable in a subgraph that doesn't require differentiation use var_no_grad = var.detach()."
            )
        self._requires_grad = bool(requires_grad)
        return self

    def detach_(self) -> "Tensor":
        """Cut this tensor from the graph in place: it becomes a leaf that requires no grad."""
        if self._base is not None and self._base._requires_grad:
            raise GraphError("Can't detach views in-place. Use detach() instead.")
        self.grad_fn = None
        self._requires_grad = False
        return self

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned tensor replaces it.

        Returns a handle whose ``remove()`` unregisters the hook (PyTorch's API).
        """
        if not self._requires_grad:
            raise GraphError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is None:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        else:
            if self.grad_fn.hooks is None:
                self.grad_fn.hooks = []
            hooks = self.grad_fn.hooks
        hooks.append(hook)
        return _HookHandle(hooks, hook)

    def backward(self, gradient=None, retain_graph=None, create_graph: bool = False, inputs=None) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``; frees the graph unless retained.

        ``create_graph=True`` records the backward pass itself, so the gradients can be
        differentiated again (Hessian-vector products, gradient penalties); ``inputs`` limits
        the accumulation to those tensors.
        """
        if retain_graph is None:
            retain_graph = create_graph
        if inputs is not None:
            autograd.backward([self], None if gradient is None else [gradient], retain_graph, create_graph, inputs)
            return
        if not self._requires_grad:
            raise GraphError(
                "backward(): this tensor does not require grad and has no grad_fn, so there is "
                "nothing to differentiate; set requires_grad=True on the inputs (and make sure the "
                "forward pass did not run under cr.no_grad())"
            )
        if gradient is None:
            if self.array.size != 1:
                raise GraphError(
                    f"backward(): grad can be implicitly created only for scalar outputs, but this "
                    f"tensor has shape {_shape_str(self.shape)}; pass gradient= with that shape, or "
                    f"reduce it first (e.g. .sum())"
                )
            grad = _one(self.array)
        else:
            grad = _seed_gradient(self, gradient, "backward()")
        if create_graph:
            grad = grad if isinstance(gradient, Tensor) and gradient.shape == self.shape else _const(grad)
        autograd.run_backward((self,), (grad,), retain_graph, create_graph)

    def retain_grad(self) -> "Tensor":
        """Keep ``.grad`` on this non-leaf tensor after backward (leaves always keep it)."""
        if not self.requires_grad:
            raise GraphError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is not None:
            self.grad_fn.retained = weakref.ref(self)
        return self

    @property
    def retains_grad(self) -> bool:
        return self.grad_fn is not None and self.grad_fn.retained is not None

    def detach(self) -> "Tensor":
        """The same values, cut from the graph (shares memory and version counter, like PyTorch)."""
        out = _const(self.array)
        out._vc = self._counter()
        out._base = self if self._base is None else self._base
        return out

    def clone(self) -> "Tensor":
        """A copy with its own memory; the gradient flows back to this tensor (PyTorch's clone)."""
        return apply(OPS["clone"], self)

    # ----------------------------------------------------------------- conversion
    def item(self):
        if self.array.size != 1:
            raise ShapeError(f"item(): only one-element tensors can be converted, got shape {_shape_str(self.shape)}")
        return self.array.item()

    def numpy(self) -> np.ndarray:
        """The array behind the tensor (shares memory), as ``Tensor.numpy()`` does in PyTorch."""
        if self.requires_grad:
            raise GraphError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        return self.array

    def tolist(self):
        return self.array.tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self.array.size != 1:
            raise ShapeError("the truth value of a tensor with more than one element is ambiguous")
        return bool(self.array)

    def astype(self, dtype, copy: bool = False) -> "Tensor":
        dtype = np.dtype(dtype)
        if dtype == self.array.dtype:
            return self
        if dtype.kind not in "fc" and self._requires_grad and autograd._grad_enabled:
            # The result of a cast to an integer or bool type is not differentiable (PyTorch).
            with autograd.no_grad():
                return apply(OPS["cast"], self, dtype=dtype)
        return apply(OPS["cast"], self, dtype=dtype)

    def to(self, *args, dtype=None, device=None, copy: bool = False, **kwargs) -> "Tensor":
        """``to(dtype)``, ``to("cpu")``, ``to(other_tensor)``; any device other than the CPU is refused."""
        for arg in args:
            if isinstance(arg, Tensor):
                dtype = arg.dtype
            elif isinstance(arg, str) or _is_device(arg):
                device = arg
            else:
                dtype = arg
        _check_device(device, "to")
        out = self if dtype is None else self.astype(dtype)
        return out.clone() if copy and out is self else out

    def cpu(self) -> "Tensor":
        return self

    @property
    def device(self) -> str:
        return "cpu"

    def type_as(self, other: "Tensor") -> "Tensor":
        return self.astype(other.dtype)

    def float(self) -> "Tensor":
        return self.astype(np.float32)

    def double(self) -> "Tensor":
        return self.astype(np.float64)

    def long(self) -> "Tensor":
        return self.astype(np.int64)

    def int(self) -> "Tensor":
        return self.astype(np.int32)

    def bool(self) -> "Tensor":
        return self.astype(np.bool_)

    def __repr__(self) -> str:
        body = np.array2string(self.array, separator=", ", prefix="tensor(")
        extras = []
        if self.array.dtype not in (get_default_dtype(), np.int64, np.bool_):
            extras.append(f"dtype={self.array.dtype}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{self.grad_fn.name}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    # ----------------------------------------------------------------- in place
    def _bump(self) -> None:
        """Record an in-place change: the version advances, and backward learns that it must check
        the versions of nodes recorded before now (``autograd._last_write``)."""
        self._counter()[0] += 1
        autograd.wrote()

    def _counter(self) -> list:
        """This tensor's version counter, made its own first if it was the shared ``_FRESH`` (or a copy
        of it: unpickling makes a new tuple)."""
        vc = self._vc
        if type(vc) is not list:
            vc = self._vc = [vc[0]]
        return vc

    def _alias(self, out: "Tensor") -> "Tensor":
        """Mark ``out`` as sharing ``self``'s memory when it does (a NumPy view, not a copy)."""
        if out.array.base is not None and np.may_share_memory(out.array, self.array):
            out._vc = self._counter()
            out._base = self if self._base is None else self._base
        return out

    def _modify(self, what: str, compute, others=()) -> "Tensor":
        """Change this tensor in place to ``compute(old)``, as PyTorch's in-place ops do.

        ``compute`` gets a tensor standing for the current value and returns the new value (a
        tensor, computed out of place with the ordinary ops). Outside the graph the result is
        written into this tensor's memory. Inside the graph (grad mode on and this tensor or one of
        ``others`` requires grad) the write is recorded as well: this tensor takes the new op as
        its history, while ops recorded earlier keep the old one, and every alias's version
        advances, so a backward that needs an overwritten value raises instead of using it.
        """
        recording = autograd._grad_enabled and (
            self._requires_grad or any(isinstance(o, Tensor) and o._requires_grad for o in others)
        )
        if recording and self._requires_grad and self.grad_fn is None:
            raise GraphError(
                f"{what}: a leaf Variable that requires grad is being used in an in-place operation "
                f"(wrap the update in `with cr.no_grad():`, or clone() the tensor first)"
            )
        if recording and self._base is not None and (self._requires_grad or self._base._requires_grad):
            raise GraphError(
                f"{what}: in-place change of a view of a tensor that takes part in the graph is not "
                f"supported by chainrule (PyTorch rewrites the base's history); clone() the view, or "
                f"change the base tensor itself"
            )
        if not recording:
            with autograd.no_grad():
                result = compute(_const(self.array)).array
            self._write(what, result)
            self._bump()
            return self
        old = _const(self.array.copy())  # the value the new op's backward may read
        old.grad_fn, old._requires_grad = self.grad_fn, self._requires_grad
        new = compute(old)
        self._write(what, new.array)
        self._bump()
        node = new.grad_fn
        node.out = self.array
        if node.saved_out is not None:
            node.saved_out = (self._vc, self._vc[0])
        self.grad_fn, self._requires_grad = node, True
        return self

    def _write(self, what: str, result: np.ndarray) -> None:
        if result.shape != self.array.shape:
            raise ShapeError(
                f"{what}: output with shape {_shape_str(self.shape)} doesn't match the broadcast shape "
                f"{_shape_str(result.shape)}"
            )
        if result.dtype != self.array.dtype and not np.can_cast(result.dtype, self.array.dtype, casting="same_kind"):
            raise DTypeError(f"{what}: result type {result.dtype} can't be cast to the desired output type {self.array.dtype}")
        np.copyto(self.array, result, casting="unsafe")

    def _same_dtype(self, value: "Tensor") -> "Tensor":
        return value if value.dtype == self.dtype else value.astype(self.dtype)

    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    def __setitem__(self, index, value) -> None:
        index = _index(index)
        value = _lift(value, self)

        def compute(old):
            return apply(OPS["setitem"], old, self._same_dtype(value), index=index)

        self._modify("__setitem__", compute, (value,))

    def copy_(self, src) -> "Tensor":
        src = _lift(src, self)
        return self._modify("copy_", lambda old: self._same_dtype(_overwritten(old, src)), (src,))

    def fill_(self, value) -> "Tensor":
        value = _lift(value, self)
        return self._modify("fill_", lambda old: self._same_dtype(_overwritten(old, value)), (value,))

    def zero_(self) -> "Tensor":
        return self._modify("zero_", lambda old: _overwritten(old, _const(np.zeros((), old.dtype))))

    def masked_fill_(self, mask, value) -> "Tensor":
        mask = _const(np.asarray(_index(mask), dtype=bool))
        value = _lift(value, self)
        return self._modify("masked_fill_", lambda old: self._same_dtype(old.masked_fill(mask, value)), (value,))

    def add_(self, other, alpha=1) -> "Tensor":
        other = _lift(other, self)
        return self._modify("add_", lambda old: old + (other if alpha == 1 else other * alpha), (other,))

    def sub_(self, other, alpha=1) -> "Tensor":
        other = _lift(other, self)
        return self._modify("sub_", lambda old: old - (other if alpha == 1 else other * alpha), (other,))

    def mul_(self, other) -> "Tensor":
        other = _lift(other, self)
        return self._modify("mul_", lambda old: old * other, (other,))

    def div_(self, other) -> "Tensor":
        other = _lift(other, self)
        return self._modify("div_", lambda old: old / other, (other,))

    def pow_(self, exponent) -> "Tensor":
        exponent = _lift(exponent, self)
        return self._modify("pow_", lambda old: old**exponent, (exponent,))

    def clamp_(self, min=None, max=None) -> "Tensor":  # noqa: A002
        return self._modify("clamp_", lambda old: old.clamp(min, max))

    clip_ = clamp_

    def relu_(self) -> "Tensor":
        return self._modify("relu_", lambda old: old.relu())

    def sigmoid_(self) -> "Tensor":
        return self._modify("sigmoid_", lambda old: old.sigmoid())

    def tanh_(self) -> "Tensor":
        return self._modify("tanh_", lambda old: old.tanh())

    def exp_(self) -> "Tensor":
        return self._modify("exp_", lambda old: old.exp())

    def neg_(self) -> "Tensor":
        return self._modify("neg_", lambda old: -old)

    def normal_(self, mean=0.0, std=1.0, generator=None) -> "Tensor":
        from .random import generator as _default_generator

        rng = generator or _default_generator()
        return self._modify("normal_", lambda old: _const(rng.normal(mean, std, self.shape).astype(self.dtype)))

    def uniform_(self, a=0.0, b=1.0, generator=None) -> "Tensor":
        from .random import generator as _default_generator

        rng = generator or _default_generator()
        return self._modify("uniform_", lambda old: _const(rng.uniform(a, b, self.shape).astype(self.dtype)))

    # ----------------------------------------------------------------- arithmetic
    __add__, __radd__ = _binary(_ADD)
    __sub__, __rsub__ = _binary(_SUB)
    __mul__, __rmul__ = _binary(_MUL)
    __truediv__, __rtruediv__ = _binary(_DIV, _true_div_pair)
    __pow__, __rpow__ = _binary(_POW)

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
        if not isinstance(other, (Tensor, np.ndarray, np.generic, int, float, bool, list, tuple)):
            return NotImplemented  # lets the other operand decide (pytest.approx, as with torch tensors)
        other = other.array if isinstance(other, Tensor) else other
        return _const(np.asarray(fn(self.array, other)))

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
        return apply(OPS["exp"], self._float())

    def log(self):
        return apply(OPS["log"], self._float())

    def sqrt(self):
        return apply(OPS["sqrt"], self._float())

    def abs(self):
        return apply(OPS["abs"], self)

    def tanh(self):
        return apply(OPS["tanh"], self._float())

    def sigmoid(self):
        return apply(OPS["sigmoid"], self._float())

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
        return apply(OPS["logsumexp"], self._float(), axis=check_dim("logsumexp", dim, self.ndim), keepdims=bool(keepdim))

    def _float(self) -> "Tensor":
        """This tensor, or an integer or bool one's values in the default float dtype: what PyTorch's float
        functions (exp, log, sqrt, ...) compute on. NumPy would pick float64, or float16 for 8-bit input."""
        return self if self.array.dtype.kind in "fc" else self.to(get_default_dtype())

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
        if self.array.dtype.kind not in "fc":
            raise DTypeError(
                f"mean(): could not infer output dtype. Input dtype must be a floating point dtype, got "
                f"{self.array.dtype}; convert first, e.g. t.float().mean()"
            )
        return self._reduce("mean", axis, keepdims, dim, keepdim)

    def max(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """Over all elements: the largest value. With ``dim``: PyTorch's ``(values, indices)`` pair."""
        return self._extremum("max", dim, keepdim, axis, keepdims)

    def min(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """Over all elements: the smallest value. With ``dim``: PyTorch's ``(values, indices)`` pair."""
        return self._extremum("min", dim, keepdim, axis, keepdims)

    def _extremum(self, name, dim, keepdim, axis, keepdims):
        if isinstance(dim, Tensor):
            return (maximum if name == "max" else minimum)(self, dim)
        dim = _axis(axis, dim)
        keepdim = _keep(keepdim, keepdims)
        if dim is None:
            return self._reduce(name, self._extremum_dims(name, None), False, None, None)
        dim = check_dim(name, dim, self.ndim)
        values = self._reduce("max_dim" if name == "max" else "min_dim", dim, keepdim, None, None)
        arg = self.array.argmax if name == "max" else self.array.argmin
        indices = _const(np.asarray(arg(axis=dim, keepdims=keepdim) if self.ndim else arg()))
        return (MaxResult if name == "max" else MinResult)(values, indices)

    def amax(self, dim=None, keepdim=False):
        return self._reduce("max", self._extremum_dims("amax", dim), keepdim, None, None)

    def amin(self, dim=None, keepdim=False):
        return self._reduce("min", self._extremum_dims("amin", dim), keepdim, None, None)

    def _extremum_dims(self, name, dim):
        dims = _dims(dim)
        if dims is None and self.array.size == 0:  # PyTorch's RuntimeError (a ShapeError is one)
            raise ShapeError(f"{name}(): expected a non-empty tensor (shape {_shape_str(self.shape)}), or a dim")
        return dims

    def argmax(self, dim=None, keepdim=False, *, axis=None):
        return self._arg("argmax", self.array.argmax, _axis(axis, dim), keepdim)

    def argmin(self, dim=None, keepdim=False, *, axis=None):
        return self._arg("argmin", self.array.argmin, _axis(axis, dim), keepdim)

    def _arg(self, name, fn, dim, keepdim):
        if dim is None:
            if self.array.size == 0:  # PyTorch's IndexError here
                raise IndexError(f"{name}(): expected a non-empty tensor (shape {_shape_str(self.shape)}), or a dim")
            out = np.asarray(fn())
            return _const(out.reshape((1,) * self.ndim) if keepdim else out)
        dim = check_dim(name, dim, self.ndim)
        if self.array.size == 0:
            try:
                nonempty_along(self.shape, dim)
            except IndexError as exc:
                raise IndexError(f"{name}(): {exc} (tensor of shape {_shape_str(self.shape)})") from None
        return _const(np.asarray(fn(axis=dim, keepdims=bool(keepdim))))

    # ----------------------------------------------------------------- shape
    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        target = _resolve_shape(shape, self.array.size)
        if target is None:
            raise ShapeError(
                f"reshape: shape {list(shape)} is invalid for a tensor of shape {_shape_str(self.shape)} "
                f"({self.array.size} elements)"
            )
        return self._alias(apply(OPS["reshape"], self, shape=target))

    view = reshape

    def flatten(self, start_dim: int = 0, end_dim: int = -1):
        if self.ndim == 0:
            return self.reshape(1)
        start, end = check_dim("flatten", start_dim, self.ndim), check_dim("flatten", end_dim, self.ndim)
        if start > end:
            raise ShapeError("flatten() has invalid args: start_dim cannot come after end_dim")
        shape = self.shape[:start] + (-1,) + self.shape[end + 1:]
        return self.reshape(shape)

    def unsqueeze(self, dim: int):
        dim = check_dim("unsqueeze", dim, self.ndim, extra=1)
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def squeeze(self, dim=None):
        if dim is None:
            return self.reshape(tuple(s for s in self.shape if s != 1))
        dims = {check_dim("squeeze", d, self.ndim) for d in (dim if isinstance(dim, (tuple, list)) else (dim,))}
        return self.reshape(tuple(s for i, s in enumerate(self.shape) if not (i in dims and s == 1)))

    def expand(self, *sizes):
        if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
            sizes = tuple(sizes[0])
        lead = len(sizes) - self.ndim
        if lead < 0:
            raise ShapeError(
                f"expand: the number of sizes provided ({len(sizes)}) must be greater or equal to the number "
                f"of dimensions in the tensor ({self.ndim})"
            )
        shape = []
        for i, size in enumerate(sizes):
            own = self.shape[i - lead] if i >= lead else None
            if size == -1:
                if own is None:
                    raise ShapeError(f"expand: -1 is not allowed in a leading, non-existing dimension ({i})")
                size = own
            elif own is not None and own != 1 and own != size:
                raise ShapeError(
                    f"expand: the expanded size of the tensor ({size}) must match the existing size ({own}) at "
                    f"non-singleton dimension {i}.  Target sizes: {list(sizes)}.  Tensor sizes: {list(self.shape)}"
                )
            shape.append(int(size))
        return self._alias(apply(OPS["expand"], self, shape=tuple(shape)))

    def expand_as(self, other: "Tensor"):
        return self.expand(other.shape)

    def repeat(self, *sizes):
        if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
            sizes = tuple(sizes[0])
        if len(sizes) < self.ndim:
            raise ShapeError(
                "repeat: number of dimensions of repeat dims can not be smaller than number of dimensions of tensor"
            )
        return apply(OPS["repeat"], self, reps=tuple(int(s) for s in sizes))

    def split(self, split_size_or_sections, dim: int = 0):
        dim = check_dim("split", dim, self.ndim)
        n = self.shape[dim]
        if isinstance(split_size_or_sections, int):
            if split_size_or_sections <= 0 and n:
                raise ValueError(f"split: split_size must be positive, got {split_size_or_sections}")
            step = max(split_size_or_sections, 1)
            sizes = [min(step, n - i) for i in range(0, n, step)] or [0]
        else:
            sizes = [int(s) for s in split_size_or_sections]
            if sum(sizes) != n:
                raise ShapeError(
                    f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size at "
                    f"dimension {dim}), but got split_sizes={sizes}"
                )
        out, start = [], 0
        for size in sizes:
            index = (slice(None),) * dim + (slice(start, start + size),)
            out.append(self[index])
            start += size
        return tuple(out)

    def chunk(self, chunks: int, dim: int = 0):
        if chunks <= 0:
            raise ValueError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
        n = self.shape[check_dim("chunk", dim, self.ndim)]
        return self.split(max(-(-n // chunks), 1), dim)

    def gather(self, dim: int, index):
        dim = check_dim("gather", dim, self.ndim)
        index = _scatter_index("gather", index, dim, self)
        if index.ndim != self.ndim:
            raise ShapeError("gather(): Index tensor must have the same number of dimensions as input tensor")
        _no_larger("gather", index, dim, self.shape, "self", apart_from_dim=True)
        return apply(OPS["gather"], _leading(self, index.shape, dim), dim=dim, index=index)

    def scatter_add(self, dim: int, index, src):
        dim = check_dim("scatter_add", dim, self.ndim)
        index = _scatter_index("scatter_add", index, dim, self)
        src = _lift(src, self)
        if not index.ndim == src.ndim == self.ndim:
            raise ShapeError("scatter_add(): Index tensor must have the same number of dimensions as self and src tensors")
        _no_larger("scatter_add", index, dim, src.shape, "src", apart_from_dim=False)
        _no_larger("scatter_add", index, dim, self.shape, "self", apart_from_dim=True)
        return apply(OPS["scatter_add"], *_pair(self, _leading(src, index.shape, None)), dim=dim, index=index)

    def masked_fill(self, mask, value):
        mask = np.asarray(_index(mask))
        if mask.dtype != np.bool_:
            raise DTypeError(f"masked_fill only supports boolean masks, but got mask with dtype {mask.dtype}")
        value = _lift(value, self)
        if value.ndim:
            raise ShapeError(
                f"masked_fill only supports a 0-dimensional value tensor, but got tensor with {value.ndim} dimension(s)"
            )
        return apply(OPS["where"], value.astype(self.dtype), self, cond=mask)

    def where(self, condition, other):
        from .functional import where

        return where(condition, self, other)

    def var(self, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
        """Variance; unbiased (divides by N − 1) unless ``correction=0`` or ``unbiased=False``, as in PyTorch."""
        if correction is None:
            correction = 1 if unbiased is None or unbiased else 0
        dims = _dims(dim)
        n = self.array.size if dims is None else int(np.prod([self.shape[d] for d in (dims if isinstance(dims, tuple) else (dims,))]))
        centered = self - self.mean(dims, keepdims=True)
        return (centered * centered).sum(dims, keepdims=keepdim) / max(n - correction, 0)

    def std(self, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
        return self.var(dim, unbiased, keepdim, correction=correction).sqrt()

    def norm(self, p=2, dim=None, keepdim: bool = False):
        """The vector p-norm over ``dim`` (all elements by default), as ``torch.norm``/``linalg.vector_norm``."""
        dims = _dims(dim)
        if p == 2 or p == "fro":
            return apply(OPS["norm2"], self, axis=dims, keepdims=bool(keepdim))
        if p == 1:
            return self.abs().sum(dims, keepdims=keepdim)
        if p == float("inf"):
            return self.abs().amax(dims, keepdim)
        if p == float("-inf"):
            return self.abs().amin(dims, keepdim)
        return (self.abs() ** p).sum(dims, keepdims=keepdim) ** (1.0 / p)

    def __abs__(self):
        return self.abs()

    def any(self, dim=None, keepdim: bool = False):
        return _const(np.asarray(self.array.any(axis=_dims(dim), keepdims=keepdim)))

    def all(self, dim=None, keepdim: bool = False):
        return _const(np.asarray(self.array.all(axis=_dims(dim), keepdims=keepdim)))

    def isnan(self):
        return _const(np.isnan(self.array))

    def isfinite(self):
        return _const(np.isfinite(self.array))

    def sin(self):
        return apply(OPS["sin"], self._float())

    def cos(self):
        return apply(OPS["cos"], self._float())

    def log1p(self):
        return apply(OPS["log1p"], self._float())

    def square(self):
        return self * self

    def __floordiv__(self, other):
        return apply(OPS["floor_divide"], *_pair(self, _lift(other, self)))

    def __rfloordiv__(self, other):
        return apply(OPS["floor_divide"], *_pair(_lift(other, self), self))

    def __mod__(self, other):
        return apply(OPS["remainder"], *_pair(self, _lift(other, self)))

    def __rmod__(self, other):
        return apply(OPS["remainder"], *_pair(_lift(other, self), self))

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


MaxResult = namedtuple("max", ["values", "indices"])
MinResult = namedtuple("min", ["values", "indices"])


def _dims(dim):
    """A ``dim`` argument (int, list, tuple or None) as NumPy's ``axis``."""
    return _axis(dim, None)


def _is_device(value) -> bool:
    return type(value).__name__ == "device"


def _check_device(device, what: str) -> None:
    if device is None:
        return
    name = str(device)
    if name.split(":")[0] != "cpu":
        raise RuntimeError(
            f"{what}: chainrule runs on the CPU only (NumPy), got device {name!r}; for GPUs convert the model "
            f"with Module.to_torch()"
        )


def _elementwise(name, a, b) -> "Tensor":
    a = a if isinstance(a, Tensor) else _lift(a, b)
    return apply(OPS[name], *_pair(a, _lift(b, a)))


def maximum(a, b) -> "Tensor":
    return _elementwise("maximum", a, b)


def minimum(a, b) -> "Tensor":
    return _elementwise("minimum", a, b)


class _HookHandle:
    """What ``register_hook`` returns: ``remove()`` unregisters the hook."""

    def __init__(self, hooks: list, hook):
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


_ONES: dict = {}  # dtype -> a 0-d array holding 1, copied for each implicit seed gradient


def _one(like: np.ndarray) -> np.ndarray:
    """A fresh array of ones shaped like the one-element array ``like`` (np.ones costs 5x more)."""
    one = _ONES.get(like.dtype)
    if one is None:
        one = _ONES[like.dtype] = np.ones((), like.dtype)
    return one.copy() if like.ndim == 0 else one.reshape(like.shape).copy()


def _seed_gradient(t: "Tensor", gradient, what: str) -> np.ndarray:
    """The gradient given to ``backward``/``autograd.grad`` as an array of ``t``'s shape and dtype."""
    if gradient is None:
        if t.array.size != 1:
            raise GraphError(f"{what}: grad can be implicitly created only for scalar outputs, got shape {_shape_str(t.shape)}")
        return _one(t.array)
    grad = np.array(gradient.array if isinstance(gradient, Tensor) else gradient, dtype=t.dtype)
    if grad.shape != t.shape:
        raise ShapeError(
            f"{what}: Mismatch in shape: grad_output has a shape of {_shape_str(grad.shape)} and output has a "
            f"shape of {_shape_str(t.shape)}"
        )
    return grad


def zero_grads(params, set_to_none: bool = True) -> None:
    """Reset ``.grad`` of every tensor: to None, or to zeros in place (as ``zero_grad`` does in PyTorch)."""
    for p in params:
        if set_to_none:
            p._grad = None
        elif p._grad is not None:
            if p._grad.grad_fn is not None:
                p._grad = p._grad.detach()
            p._grad.array[...] = 0


def tensor(data, dtype=None, requires_grad: bool = False) -> Tensor:
    """Make a tensor from data (copies it). Python floats get the default dtype (float32)."""
    return Tensor(data, dtype=dtype, requires_grad=requires_grad)
