"""Element-wise arithmetic and activation ops."""

from __future__ import annotations

import numpy as np

from .base import Op, register

_ZEROS = {np.dtype(t): t(0) for t in (np.float16, np.float32, np.float64)}


def _zero(dtype):
    """0 as a scalar of a float ``dtype`` (0 of the array's own type: NumPy compares a float32 array
    with the Python int 0 through a slower, promoting path, ~1 µs more per call); the int 0 otherwise."""
    return _ZEROS.get(dtype, 0)


def unbroadcast(g: str, out_shape: tuple, shape: tuple) -> str:
    """Code export: the expression that sums gradient ``g`` (shaped ``out_shape``) back to ``shape``."""
    if out_shape == shape:
        return g
    lead = len(out_shape) - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape) if s == 1 and out_shape[lead + i] != 1)
    return f"{g}.sum(axis={axes}).reshape({shape})"


@register
class Add(Op):
    twice_differentiable = True
    name = "add"
    uses_inputs = False
    formula, formula_latex = "a + b", "a + b"
    derivative, derivative_latex = "∂/∂a = 1, ∂/∂b = 1", r"\frac{\partial}{\partial a}=1,\ \frac{\partial}{\partial b}=1"

    def forward(self, a, b):
        return a + b

    def vjp(self, n, g, a, b):
        return g, g

    # Code export (NumPy, whole arrays): the gradient passes to both inputs unchanged, summed over the axes
    # an input was broadcast along.
    def export(self, c, t):
        if c.lang != "np":
            return super().export(c, t)
        a, b = t.grad_fn.parents
        return [f"{c.v(t)} = {c.v(a)} + {c.v(b)}"]

    def export_vjp(self, c, t):
        if c.lang != "np":
            return super().export_vjp(c, t)
        return [c.acc(p, None, unbroadcast(c.g(t), tuple(t.shape), tuple(p.shape)))
                for p in t.grad_fn.parents if p.requires_grad]


@register
class Sub(Op):
    twice_differentiable = True
    name = "sub"
    inputs = ("a", "b")
    uses_inputs = False
    formula, formula_latex = "a − b", "a - b"
    derivative, derivative_latex = "∂/∂a = 1, ∂/∂b = −1", r"\frac{\partial}{\partial a}=1,\ \frac{\partial}{\partial b}=-1"

    def forward(self, a, b):
        return a - b

    def vjp(self, n, g, a, b):
        return g, (-g if n.needs[1] else None)


@register
class Mul(Op):
    twice_differentiable = True
    reads = staticmethod(lambda needs: (needs[1], needs[0]))
    name = "mul"
    formula, formula_latex = "a × b", r"a \times b"
    derivative, derivative_latex = "∂/∂a = b, ∂/∂b = a", r"\frac{\partial}{\partial a}=b,\ \frac{\partial}{\partial b}=a"

    def forward(self, a, b):
        return a * b

    def vjp(self, n, g, a, b):
        return (g * b if n.needs[0] else None), (g * a if n.needs[1] else None)


@register
class Div(Op):
    twice_differentiable = True
    reads = staticmethod(lambda needs: (False, True))
    name = "div"
    uses_output = True
    inputs = ("a", "b")
    formula, formula_latex = "a / b", r"\frac{a}{b}"
    derivative, derivative_latex = "∂/∂a = 1/b, ∂/∂b = −a/b²", r"\frac{\partial}{\partial a}=\frac{1}{b},\ \frac{\partial}{\partial b}=-\frac{a}{b^2}"

    def forward(self, a, b):
        return a / b

    def vjp(self, n, g, a, b):
        ga = g / b if n.needs[0] else None
        gb = -g * n.out / b if n.needs[1] else None
        return ga, gb


def _whole_at_least_one(b) -> bool:
    return b.dtype.kind in "iuf" and bool(b >= 1) and float(b).is_integer()


@register
class Pow(Op):
    twice_differentiable = True
    name = "pow"
    uses_output = True
    inputs = ("a", "b")
    formula, formula_latex = "a ^ b", "a^{b}"
    derivative, derivative_latex = "∂/∂a = b·a^(b−1), ∂/∂b = a^b·ln a", r"\frac{\partial}{\partial a}=b\,a^{b-1},\ \frac{\partial}{\partial b}=a^{b}\ln a"

    def forward(self, a, b):
        return a**b

    def vjp(self, n, g, a, b):
        if not n.needs[1] and b.ndim == 0 and _whole_at_least_one(n.xp.values(b)):
            # A constant whole exponent ≥ 1 (x ** 2): a^(b−1) is finite everywhere, nothing to guard.
            return g * (b * a ** (b - 1)), None
        ga = gb = None
        with np.errstate(divide="ignore", invalid="ignore"):
            if n.needs[0]:
                # d/da of a**0 is 0 everywhere, a = 0 included (PyTorch), not 0 * 0**-1 = nan.
                ga = g * n.xp.where(n.xp.values(b) == 0, 0.0, b * a ** (b - 1))
            if n.needs[1]:
                # d/db of 0**b is 0 for b >= 0 (PyTorch's convention), not 0 * -inf.
                av, bv = n.xp.values(a), n.xp.values(b)
                gb = g * n.xp.where((av == 0) & (bv >= 0), 0.0, n.out * n.xp.log(a))
        return ga, gb


@register
class Neg(Op):
    twice_differentiable = True
    name = "neg"
    uses_inputs = False
    formula, formula_latex = "−a", "-a"
    derivative, derivative_latex = "−1", "-1"

    def forward(self, a):
        return -a

    def vjp(self, n, g, a):
        return (-g,)


@register
class Exp(Op):
    twice_differentiable = True
    name = "exp"
    uses_output = True
    formula, formula_latex = "e^z", "e^{z}"
    derivative, derivative_latex = "e^z", "e^{z}"

    def forward(self, a):
        with np.errstate(over="ignore"):  # e^z past the largest float is inf, silently, as in PyTorch
            return np.exp(a)

    def vjp(self, n, g, a):
        return (g * n.out,)


@register
class Log(Op):
    twice_differentiable = True
    name = "log"
    formula, formula_latex = "ln z", r"\ln z"
    derivative, derivative_latex = "1/z", r"\frac{1}{z}"

    def forward(self, a):
        return np.log(a)

    def vjp(self, n, g, a):
        with np.errstate(over="ignore"):  # 1/z at a subnormal z is inf, as in PyTorch
            return (g / a,)


@register
class Sqrt(Op):
    twice_differentiable = True
    name = "sqrt"
    uses_output = True
    formula, formula_latex = "√z", r"\sqrt{z}"
    derivative, derivative_latex = "1/(2√z)", r"\frac{1}{2\sqrt{z}}"

    def forward(self, a):
        return np.sqrt(a)

    def vjp(self, n, g, a):
        with np.errstate(divide="ignore"):  # at 0 the slope is inf, as in PyTorch, without a warning
            return (g / (2 * n.out),)


@register
class Abs(Op):
    twice_differentiable = True
    name = "abs"
    formula, formula_latex = "|z|", r"\lvert z\rvert"
    derivative, derivative_latex = "sign(z)", r"\operatorname{sign}(z)"

    def forward(self, a):
        return np.abs(a)

    def vjp(self, n, g, a):
        return (g * n.xp.sign(a),)


def sigmoid(a, xp=np):
    """σ(a) = e^min(a, 0) / (1 + e^(−|a|)): 1/(1 + e^(−a)) for a ≥ 0 and e^a/(1 + e^a) below, so no
    exponential overflows and neither branch subtracts (full relative precision, tails included)."""
    return xp.exp(xp.minimum(a, 0)) / (1 + xp.exp(-xp.abs(a)))


def sigmoid_slope(a, xp=np):
    """σ'(a) = σ(a)σ(−a) = e^(−|a|)/(1 + e^(−|a|))², from the input: σ(a)(1 − σ(a)) from the output
    loses every digit of 1 − σ(a) once σ(a) rounds to 1 (a > 17 in float32, a > 37 in float64)."""
    e = xp.exp(-xp.abs(a))
    return e / ((1 + e) * (1 + e))


@register
class Tanh(Op):
    twice_differentiable = True
    name = "tanh"
    uses_output = True
    formula, formula_latex = "tanh(z)", r"\tanh(z)"
    derivative = "1 − tanh²(z) = 4e^(−2|z|)/(1 + e^(−2|z|))²"
    derivative_latex = r"1-\tanh^2(z)=\frac{4e^{-2|z|}}{(1+e^{-2|z|})^2}"
    # Explanation rule (chainrule.explain): templates filled with symbols or with numbers.
    explain = {"name": "tanh", "f": "tanh({z})", "f_latex": r"\tanh\left({z}\right)",
               "d": "1 − {a}²", "d_latex": "1-{a}^{{2}}"}
    # The slope is written from z, as vjp computes it: 1 − a² loses its digits once tanh(z) rounds to ±1.
    code = {"py": "math.tanh({z})", "np": "np.tanh({z})", "torch": "torch.tanh({z})",
            "py_d": "4 * math.exp(-2 * abs({z})) / (1 + math.exp(-2 * abs({z}))) ** 2",
            "np_d": "4 * np.exp(-2 * np.abs({z})) / (1 + np.exp(-2 * np.abs({z}))) ** 2"}

    def forward(self, a):
        return np.tanh(a)

    def vjp(self, n, g, a):
        # sech²(z) from the input, not 1 − tanh²(z) from the output (0 for |z| > 9 in float32).
        with np.errstate(over="ignore"):  # −2|z| = −inf at the largest floats: e = 0, slope 0
            e = n.xp.exp(-2 * n.xp.abs(a))
        return (g * (4 * e / ((1 + e) * (1 + e))),)


@register
class Sigmoid(Op):
    twice_differentiable = True
    name = "sigmoid"
    uses_output = True
    formula, formula_latex = "σ(z) = 1/(1+e^(−z))", r"\sigma(z)=\frac{1}{1+e^{-z}}"
    derivative = "σ(z)(1 − σ(z)) = e^(−|z|)/(1 + e^(−|z|))²"
    derivative_latex = r"\sigma(z)\,(1-\sigma(z))=\frac{e^{-|z|}}{(1+e^{-|z|})^2}"
    # Explanation rule (chainrule.explain): templates filled with symbols or with numbers.
    explain = {"name": "σ", "f": "1/(1 + e^(−{z}))", "f_latex": r"\frac{{1}}{{1+e^{{-{z}}}}}",
               "d": "{a}(1 − {a})", "d_latex": r"{a}\left(1-{a}\right)"}
    # Exported in the forward's own form: 1/(1 + e^(−z)) for z ≥ 0 and e^z/(1 + e^z) below, in one
    # expression; no exponential overflows, and the numbers match the engine's to the last digit.
    code = {"py": "math.exp(min({z}, 0)) / (1 + math.exp(-abs({z})))",
            "np": "np.exp(np.minimum({z}, 0)) / (1 + np.exp(-np.abs({z})))",
            "torch": "torch.sigmoid({z})",
            "py_d": "math.exp(-abs({z})) / (1 + math.exp(-abs({z}))) ** 2",
            "np_d": "np.exp(-np.abs({z})) / (1 + np.exp(-np.abs({z}))) ** 2"}

    def forward(self, a):
        return sigmoid(a)

    def vjp(self, n, g, a):
        return (g * sigmoid_slope(a, n.xp),)


@register
class Softplus(Op):
    """softplus(z) = log(1 + e^(βz))/β, and z itself where βz > threshold (PyTorch's rule)."""

    twice_differentiable = True
    name = "softplus"
    formula = "log(1 + e^(βz))/β, or z where βz > threshold"
    formula_latex = r"\begin{cases}\frac{1}{\beta}\log(1+e^{\beta z}) & \beta z\le t\\z & \beta z>t\end{cases}"
    derivative = "σ(βz), or 1 where βz > threshold"
    derivative_latex = r"\begin{cases}\sigma(\beta z) & \beta z\le t\\1 & \beta z>t\end{cases}"
    # log(1 + e^x) = max(x, 0) + log(1 + e^(−|x|)): no overflow for any threshold, no lost digits below 0.
    code = {"py": "({z} if {z} * {beta!r} > {threshold!r} else (max({z} * {beta!r}, 0) + "
                  "math.log1p(math.exp(-abs({z} * {beta!r})))) / {beta!r})",
            "np": "np.where({z} * {beta!r} > {threshold!r}, {z}, (np.maximum({z} * {beta!r}, 0) + "
                  "np.log1p(np.exp(-np.abs({z} * {beta!r})))) / {beta!r})",
            "torch": "torch.nn.functional.softplus({z}, beta={beta!r}, threshold={threshold!r})",
            "py_d": "(1.0 if {z} * {beta!r} > {threshold!r} else math.exp(min({z} * {beta!r}, 0)) / "
                    "(1 + math.exp(-abs({z} * {beta!r}))))",
            "np_d": "np.where({z} * {beta!r} > {threshold!r}, 1.0, np.exp(np.minimum({z} * {beta!r}, 0)) / "
                    "(1 + np.exp(-np.abs({z} * {beta!r}))))"}

    def forward(self, a, beta=1.0, threshold=20.0):
        with np.errstate(over="ignore"):  # βz = ±inf past the largest floats; the branches below handle it
            x = a * beta
        soft = (np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))) / beta
        return np.where(x > threshold, a, soft.astype(a.dtype, copy=False))

    def vjp(self, n, g, a):
        with np.errstate(over="ignore"):
            x = a * n.attrs["beta"]
        return (g * n.xp.where(n.xp.values(x) > n.attrs["threshold"], 1, sigmoid(x, n.xp)).astype(g.dtype, copy=False),)


@register
class LogSigmoid(Op):
    twice_differentiable = True
    name = "logsigmoid"
    formula, formula_latex = "log σ(z) = min(z, 0) − log(1 + e^(−|z|))", r"\log\sigma(z)=\min(z,0)-\log(1+e^{-|z|})"
    derivative, derivative_latex = "1 − σ(z) = σ(−z)", r"1-\sigma(z)=\sigma(-z)"
    code = {"py": "(min({z}, 0) - math.log1p(math.exp(-abs({z}))))",
            "np": "(np.minimum({z}, 0) - np.log1p(np.exp(-np.abs({z}))))",
            "torch": "torch.nn.functional.logsigmoid({z})",
            "py_d": "math.exp(min(-{z}, 0)) / (1 + math.exp(-abs({z})))",
            "np_d": "np.exp(np.minimum(-{z}, 0)) / (1 + np.exp(-np.abs({z})))"}

    def forward(self, a):
        return np.minimum(a, 0) - np.log1p(np.exp(-np.abs(a)))

    def vjp(self, n, g, a):
        return (g * sigmoid(-a, n.xp),)


@register
class Relu(Op):
    twice_differentiable = True
    name = "relu"
    formula, formula_latex = "max(0, z)", r"\max(0, z)"
    derivative, derivative_latex = "1 if z > 0 else 0", r"\begin{cases}1 & z>0\\0 & z\le 0\end{cases}"
    # Explanation rule (chainrule.explain): templates filled with symbols or with numbers.
    explain = {"name": "ReLU", "f": "max(0, {z})", "f_latex": r"\max\left(0, {z}\right)",
               "d": "[{z} > 0]", "d_latex": "[{z}>0]"}
    code = {"py": "max({z}, 0.0)", "np": "np.maximum({z}, 0)", "torch": "torch.relu({z})",
            "py_d": "(1.0 if {z} > 0 else 0.0)", "np_d": "({z} > 0)"}

    def forward(self, a):
        return np.maximum(a, _zero(a.dtype))

    def vjp(self, n, g, a):
        a = n.xp.values(a)
        return (g * (a > _zero(a.dtype)),)


@register
class LeakyRelu(Op):
    twice_differentiable = True
    name = "leaky_relu"
    formula, formula_latex = "z if z > 0 else α·z", r"\begin{cases}z & z>0\\\alpha z & z\le 0\end{cases}"
    derivative, derivative_latex = "1 if z > 0 else α", r"\begin{cases}1 & z>0\\\alpha & z\le 0\end{cases}"
    # Explanation rule (chainrule.explain): templates filled with symbols or with numbers.
    explain = {"name": "LeakyReLU", "f": "{z}·([{z} > 0] + {negative_slope}·[{z} ≤ 0])",
               "f_latex": r"{z}\left([{z}>0]+{negative_slope}\,[{z}\le 0]\right)",
               "d": "[{z} > 0] + {negative_slope}·[{z} ≤ 0]", "d_latex": r"[{z}>0]+{negative_slope}\,[{z}\le 0]"}
    code = {"py": "({z} if {z} > 0 else {z} * {negative_slope!r})",
            "np": "np.where({z} > 0, {z}, {z} * {negative_slope!r})",
            "torch": "torch.nn.functional.leaky_relu({z}, {negative_slope!r})",
            "py_d": "(1.0 if {z} > 0 else {negative_slope!r})", "np_d": "np.where({z} > 0, 1.0, {negative_slope!r})"}

    def forward(self, a, negative_slope=0.01):
        return np.where(a > 0, a, a * negative_slope)

    def vjp(self, n, g, a):
        slope = np.where(n.xp.values(a) > 0, 1.0, n.attrs["negative_slope"]).astype(g.dtype, copy=False)
        return (g * slope,)


@register
class Clip(Op):
    twice_differentiable = True
    name = "clip"
    formula, formula_latex = "min(max(z, lo), hi)", r"\min(\max(z, lo), hi)"
    derivative, derivative_latex = "1 if lo ≤ z ≤ hi else 0", r"\begin{cases}1 & lo\le z\le hi\\0 & \text{otherwise}\end{cases}"

    def forward(self, a, lo=None, hi=None):
        return np.clip(a, lo, hi)

    def vjp(self, n, g, a):
        lo, hi = n.attrs["lo"], n.attrs["hi"]
        a = n.xp.values(a)
        mask = np.ones(a.shape, dtype=bool)
        if lo is not None:
            mask &= a >= lo
        if hi is not None:
            mask &= a <= hi
        return (g * mask,)


class _Larger(Op):
    """max(a, b) element by element, nan where either is nan (``torch.maximum``); on a tie each input
    gets half the gradient, and where either is nan each gets all of it, as in PyTorch."""

    twice_differentiable = True
    inputs = ("a", "b")
    pick = loses = None  # np.maximum and np.less (min: np.minimum and np.greater)

    def forward(self, a, b):
        return self.pick(a, b)

    def vjp(self, n, g, a, b):
        a, b = n.xp.values(a), n.xp.values(b)
        tie = a == b
        share_a = np.where(tie, 0.5, np.where(self.loses(a, b), 0.0, 1.0)).astype(g.dtype)
        share_b = np.where(tie, 0.5, np.where(self.loses(b, a), 0.0, 1.0)).astype(g.dtype)
        return (g * share_a if n.needs[0] else None, g * share_b if n.needs[1] else None)


@register
class Maximum(_Larger):
    name = "maximum"
    pick, loses = staticmethod(np.maximum), staticmethod(np.less)
    formula, formula_latex = "max(a, b)", r"\max(a, b)"
    derivative = "∂/∂a = [a > b] + ½[a = b], ∂/∂b = [b > a] + ½[a = b]"
    derivative_latex = r"\frac{\partial}{\partial a}=[a>b]+\tfrac12[a=b]"


@register
class Minimum(_Larger):
    name = "minimum"
    pick, loses = staticmethod(np.minimum), staticmethod(np.greater)
    formula, formula_latex = "min(a, b)", r"\min(a, b)"
    derivative = "∂/∂a = [a < b] + ½[a = b], ∂/∂b = [b < a] + ½[a = b]"
    derivative_latex = r"\frac{\partial}{\partial a}=[a<b]+\tfrac12[a=b]"


@register
class Where(Op):
    twice_differentiable = True
    name = "where"
    inputs = ("a", "b")
    uses_inputs = False
    formula, formula_latex = "a if cond else b", r"\begin{cases}a & \text{cond}\\b & \text{otherwise}\end{cases}"
    derivative, derivative_latex = "∂/∂a = cond, ∂/∂b = not cond", r"\frac{\partial}{\partial a}=[\text{cond}],\ \frac{\partial}{\partial b}=[\lnot\text{cond}]"

    def forward(self, a, b, cond=None):
        return np.where(cond, a, b)

    def vjp(self, n, g, a, b):
        cond = n.attrs["cond"]
        zero = np.zeros((), dtype=g.dtype)
        ga = n.xp.where(cond, g, zero) if n.needs[0] else None
        gb = n.xp.where(cond, zero, g) if n.needs[1] else None
        return ga, gb


@register
class Cast(Op):
    twice_differentiable = True
    name = "cast"
    uses_inputs = False
    formula, formula_latex = "z", "z"
    derivative, derivative_latex = "1", "1"

    def forward(self, a, dtype=None):
        return a.astype(dtype)

    def vjp(self, n, g, a):
        return (g,)
