"""The seed-style derivation of batch norm's three-term gradient (a layered spec such as the shipped
``batchnorm``: one batchnorm block over one feature, a batch fixed in the spec).

``derive_batchnorm(spec)`` runs one training step twice with the engine, both recorded:

* the network as the spec builds it (``nn.BatchNorm1d`` in training mode, one fused ``batch_norm`` op):
  μ and σ² as the op recorded them, y, ∂L/∂y (``retain_grad``), ∂L/∂γ, ∂L/∂β, ∂L/∂x from backward, the
  running statistics the layer moved, the SGD step and a finite-difference check;
* the same layer written as elementary ops (mean, subtract, square, mean, add ε, sqrt, divide, scale,
  shift), so that μ, σ², σ and x̂ are recorded tensors whose gradients backward fills in: ∂L/∂x̂, ∂L/∂σ²
  and ∂L/∂μ. That is where the three terms of ∂L/∂x_i come from:

      ∂L/∂x_i = ∂L/∂x̂_i · 1/σ  +  ∂L/∂μ · 1/N  +  ∂L/∂σ² · 2(x_i − μ)/N
                (direct)          (through μ)      (through σ²)

The split is this module's bookkeeping (a recorded gradient times the local derivative of one edge); it
is asserted to add up to the fused op's ∂L/∂x, and so is the op's own compact rule
(γ/σ)(g_i − mean(g) − x̂_i·mean(g·x̂)) evaluated on the recorded numbers. Nothing printed is a second
formula for the total.

``classic_mistakes(spec)`` gives, for the grader, the quantities as three classic mistakes produce them,
each computed by the engine the mistaken way (μ and σ held constant, σ² held constant, σ² over N − 1).
"""

from __future__ import annotations

import numpy as np

from ..autograd import no_grad, tensor_order
from ..check import relative_error
from ..errors import ChainruleError, SpecError
from .conv import ConvDerivation, _entry
from .symbols import derive_options, num_latex, num_text

DEFAULT_PRECISION = 7  # the shipped spec's numbers are exact in 7 significant digits (0.1797968 = 0.192 − 0.1 + 0.0877968)
FD_EPS = 1e-6
AGREE = dict(rtol=1e-10, atol=1e-12)  # the bookkeeping against the engine's own numbers (float64 throughout)

LABELS = {
    "en": {
        "title": "Backpropagation through batch norm, worked by hand: {name}",
        "setup": "Setup",
        "setup_text": ("A batch of N = {n} samples of one feature, x = (x_1, …, x_{n}); batch norm in training mode: "
                       "the batch's own mean μ and variance σ² normalise it, then γ and β scale and shift it; "
                       "γ = {gamma}, β = {beta}, ε = {eps}; loss L = ½Σ_i (y_i − t_i)² over the batch; "
                       "learning rate η = {lr}; optimizer: SGD."),
        "input": "Input x (one number per sample)", "target": "Target t",
        "eps_text": ("ε = {eps} is the spec's eps (PyTorch's default is 1e-5, which would make every number below "
                     "long; PyTorch refuses ε = 0 in training). It enters in one place only, under the square "
                     "root: σ = √(σ² + ε). It keeps the division defined when every sample is equal, and makes σ "
                     "a little larger than the batch's standard deviation. Below, σ always means √(σ² + ε)."),
        "forward": "1. Forward pass",
        "rule": "The op's rule ({op}; here μ_B is μ and σ²_B is σ²):",
        "biased": ("The batch statistics use the biased variance, dividing by N (not N − 1), as PyTorch does in "
                   "training mode."),
        "xhat": "Normalised x̂", "output": "Output y",
        "loss": "2. Loss",
        "backward": "3. Backward pass",
        "dy": "3.1 Gradient of the loss with respect to each output",
        "dy_text": "∂L/∂y_i = ½ × 2 × (y_i − t_i) = y_i − t_i",
        "dy_grid": "∂L/∂y",
        "dgb": "3.2 Gradients of γ and β",
        "dgb_text": "y_i = γ·x̂_i + β for every sample, so γ and β collect a term from each: ∂L/∂γ = Σ_i ∂L/∂y_i·x̂_i, "
                    "∂L/∂β = Σ_i ∂L/∂y_i.",
        "dx": "3.3 Gradient of each input: three paths",
        "dx_text": ("x_i reaches the loss three ways: directly, through its own x̂_i = (x_i − μ)/σ; through μ, which "
                    "every x̂_j subtracts; and through σ², which every x̂_j divides by (as σ). The chain rule adds "
                    "the three paths: ∂L/∂x_i = ∂L/∂x̂_i·(1/σ) + ∂L/∂μ·(1/N) + ∂L/∂σ²·2(x_i − μ)/N, "
                    "where ∂μ/∂x_i = 1/N and ∂σ²/∂x_i = 2(x_i − μ)/N."),
        "dxhat": "Through x̂: ∂L/∂x̂_i = ∂L/∂y_i·γ.",
        "dxhat_grid": "∂L/∂x̂",
        "dvar": ("Through σ²: every x̂_j = (x_j − μ)·(σ² + ε)^(−1/2) depends on σ², with ∂x̂_j/∂σ² = "
                 "−½(x_j − μ)(σ² + ε)^(−3/2) = −(x_j − μ)/(2σ³):"),
        "dmu": ("Through μ: every x̂_j subtracts μ (∂x̂_j/∂μ = −1/σ), and σ² depends on μ too "
                "(∂σ²/∂μ = −(2/N)·Σ_j (x_j − μ)), but that sum is 0, so only the first part remains:"),
        "terms": "The three terms for each sample, and their sum:",
        "terms_head": ("i", "direct: ∂L/∂x̂_i/σ", "through μ: ∂L/∂μ/N", "through σ²: ∂L/∂σ²·2(x_i − μ)/N", "∂L/∂x_i"),
        "dx_grid": "∂L/∂x for every sample",
        "compact": "3.4 The compact form",
        "compact_text": ("Putting ∂L/∂x̂ = γ·g with g = ∂L/∂y into the three terms gives the op's own rule "
                         "(its ĝ is γ·g): ∂L/∂x_i = (γ/σ)(g_i − mean(g) − x̂_i·mean(g·x̂)), mean(·) over the "
                         "batch. The mean(g) part is the μ path; the x̂_i·mean(g·x̂) part is the σ² path. "
                         "With this batch's numbers:"),
        "same": "The same numbers as the three terms above, and the engine's ∂L/∂x.",
        "update": "4. Update (SGD: γ ← γ − η ∂L/∂γ, β ← β − η ∂L/∂β)",
        "running": "5. A note: the running statistics",
        "running_text": ("In training mode the layer also moves its running statistics, which evaluation mode uses "
                         "instead of the batch's. With momentum m = {m}, as PyTorch, running_var takes the unbiased "
                         "variance σ²·N/(N − 1): (1 − m)·old + m·new. They are no part of the gradient."),
        "check": "6. Finite-difference check",
        "check_text": ("Central differences (L(v + ε) − L(v − ε)) / 2ε with ε = {eps}, the loss recomputed by the "
                       "engine's forward (the batch's μ and σ² recomputed too), against the engine's gradient:"),
        "check_head": ("quantity", "engine", "finite differences", "relative error"),
    },
    "zh": {
        "title": "批归一化的反向传播，手算推导：`{name}`",
        "setup": "设定",
        "setup_text": ("一批 N = {n} 个样本，各有一个特征，x = (x_1, …, x_{n})；批归一化处于训练模式："
                       "用这一批自己的均值 μ 和方差 σ² 归一化，再由 γ 缩放、β 平移；γ = {gamma}，β = {beta}，"
                       "ε = {eps}；损失 L = ½Σ_i (y_i − t_i)²（对整批求和）；学习率 η = {lr}；优化器：SGD。"),
        "input": "输入 x（每个样本一个数）", "target": "目标 t",
        "eps_text": ("ε = {eps} 取自规格文件（PyTorch 的默认值 1e-5 会让下面每个数都很长；PyTorch 在训练模式下不接受 "
                     "ε = 0）。它只出现在一处，即平方根之下：σ = √(σ² + ε)。当一批样本全都相等时它使除法仍有定义，"
                     "也让 σ 比这一批的标准差略大。下文的 σ 都指 √(σ² + ε)。"),
        "forward": "1. 前向传播",
        "rule": "算子的公式（{op}；此处 μ_B 即 μ，σ²_B 即 σ²）：",
        "biased": "批统计量使用有偏方差，除以 N（而不是 N − 1），与 PyTorch 训练模式相同。",
        "xhat": "归一化后的 x̂", "output": "输出 y",
        "loss": "2. 损失",
        "backward": "3. 反向传播",
        "dy": "3.1 损失对每个输出的梯度",
        "dy_text": "∂L/∂y_i = ½ × 2 × (y_i − t_i) = y_i − t_i",
        "dy_grid": "∂L/∂y",
        "dgb": "3.2 γ 与 β 的梯度",
        "dgb_text": "每个样本都有 y_i = γ·x̂_i + β，所以 γ 和 β 从每个样本各得一项：∂L/∂γ = Σ_i ∂L/∂y_i·x̂_i，∂L/∂β = Σ_i ∂L/∂y_i。",
        "dx": "3.3 每个输入的梯度：三条路径",
        "dx_text": ("x_i 通过三条路径影响损失：直接经过它自己的 x̂_i = (x_i − μ)/σ；经过 μ（每个 x̂_j 都减去 μ）；"
                    "经过 σ²（每个 x̂_j 都除以由它得到的 σ）。链式法则把三条路径相加："
                    "∂L/∂x_i = ∂L/∂x̂_i·(1/σ) + ∂L/∂μ·(1/N) + ∂L/∂σ²·2(x_i − μ)/N，"
                    "其中 ∂μ/∂x_i = 1/N，∂σ²/∂x_i = 2(x_i − μ)/N。"),
        "dxhat": "经过 x̂：∂L/∂x̂_i = ∂L/∂y_i·γ。",
        "dxhat_grid": "∂L/∂x̂",
        "dvar": ("经过 σ²：每个 x̂_j = (x_j − μ)·(σ² + ε)^(−1/2) 都依赖 σ²，"
                 "∂x̂_j/∂σ² = −½(x_j − μ)(σ² + ε)^(−3/2) = −(x_j − μ)/(2σ³)："),
        "dmu": ("经过 μ：每个 x̂_j 都减去 μ（∂x̂_j/∂μ = −1/σ）；σ² 也依赖 μ（∂σ²/∂μ = −(2/N)·Σ_j (x_j − μ)），"
                "但这个和为 0，所以只剩第一部分："),
        "terms": "每个样本的三项及其和：",
        "terms_head": ("i", "直接项 ∂L/∂x̂_i/σ", "经 μ 的项 ∂L/∂μ/N", "经 σ² 的项 ∂L/∂σ²·2(x_i − μ)/N", "∂L/∂x_i"),
        "dx_grid": "每个样本的 ∂L/∂x",
        "compact": "3.4 紧凑形式",
        "compact_text": ("把 ∂L/∂x̂ = γ·g（g = ∂L/∂y）代入三项，就得到算子自己的公式（其中 ĝ 即 γ·g）："
                         "∂L/∂x_i = (γ/σ)(g_i − mean(g) − x̂_i·mean(g·x̂))，mean(·) 为对整批取平均。"
                         "mean(g) 部分来自经 μ 的路径，x̂_i·mean(g·x̂) 部分来自经 σ² 的路径。代入这一批的数："),
        "same": "与上面三项之和相同，也与引擎算出的 ∂L/∂x 相同。",
        "update": "4. 参数更新（SGD：γ ← γ − η ∂L/∂γ，β ← β − η ∂L/∂β）",
        "running": "5. 附注：滑动统计量",
        "running_text": ("训练模式下该层还会更新滑动统计量（评估模式用它们代替批统计量）。动量 m = {m}；"
                         "与 PyTorch 相同，滑动方差取无偏方差 σ²·N/(N − 1)：(1 − m)·旧值 + m·新值。"
                         "它们不参与梯度。"),
        "rm_symbol": "滑动均值", "rv_symbol": "滑动方差",
        "check": "6. 有限差分检验",
        "check_text": ("中心差分 (L(v + ε) − L(v − ε)) / 2ε，ε = {eps}，损失由引擎的前向重新计算（批的 μ 与 σ² 也随之重算），"
                       "与引擎的梯度比较："),
        "check_head": ("量", "引擎", "有限差分", "相对误差"),
        "formula": "y = γ · (x − μ_B) / √(σ²_B + ε) + β，μ_B、σ²_B 为该通道在整批上的均值与（有偏）方差",
        "derivative": ("x̂ = (x − μ_B)/√(σ²_B + ε)；∂L/∂x = (1/√(σ²_B + ε)) · (ĝ − mean(ĝ) − x̂ · mean(ĝ · x̂))，"
                       "ĝ = γ · ∂L/∂y（三项：直接项、经 μ_B 的项、经 σ²_B 的项）；∂L/∂γ = Σ ∂L/∂y · x̂；∂L/∂β = Σ ∂L/∂y"),
    },
}

# the quantities a learner computes, as named in the JSON "grids" (per-sample ones shaped (N, 1))
QUANTITIES = ("mu", "var", "sigma", "xhat", "y", "dL_dy", "dL_dgamma", "dL_dbeta", "dL_dxhat", "dL_dvar", "dL_dmu",
              "dL_dx_direct", "dL_dx_mean", "dL_dx_var", "dL_dx", "gamma_after", "beta_after")


class BatchNormDerivation(ConvDerivation):
    """The written derivation of one batch-norm step; ``markdown()``, ``text()``, ``to_json()`` as
    ``ConvDerivation`` (the same document items)."""

    def to_dict(self) -> dict:
        d = super().to_dict()
        b = self.spec.blocks[0]
        d["kind"] = "batch_norm"
        d["spec"].update(batch=int(self.spec.batch()[0].shape[0]), eps=float(b.get("eps", 1e-5)),
                         momentum=float(b.get("momentum", 0.1)))
        return d


def _validate(spec):
    where = spec.source
    kinds = [b["kind"] for b in spec.blocks]
    if kinds != ["batchnorm"]:
        raise SpecError(f"{where}: derive writes out batch norm for a layered spec made of one batchnorm block "
                        f"(got {', '.join(kinds)})")
    b = spec.blocks[0]
    if b.get("activation", "none") != "none":
        raise SpecError(f"{where}: layers[0] (batchnorm): derive writes out batch norm without activation")
    if tuple(spec.input_shape) != (1,):
        raise SpecError(f"{where}: key 'input': derive writes out batch norm over one feature (input = [1]); each "
                        f"feature is normalised on its own, so a wider layer is this derivation once per feature; "
                        f"got {list(spec.input_shape)}")
    if spec.loss != "half_sse" or spec.optimizer != "sgd":
        raise SpecError(f"{where}: derive writes out loss = \"half_sse\" with optimizer = \"sgd\" "
                        f"(got {spec.loss!r}, {spec.optimizer!r})")
    if spec.x is None or spec.y is None or spec.x.ndim != 2:
        raise SpecError(f"{where}: derive needs a batch fixed in the spec: key 'x' as one row per sample "
                        f"([[x_1], [x_2], ...]) and key 'y' with one target per sample")
    if spec.x.shape[0] < 2:
        raise SpecError(f"{where}: key 'x': batch norm in training needs more than one sample per feature, "
                        f"got {spec.x.shape[0]}")


def _fused(spec):
    """The network as the spec builds it, one recorded step: the layer, input leaf, output (grad retained),
    loss, the batch_norm node's recorded statistics and rule, the running statistics before and after."""
    from .. import float64, tensor
    from ..layered import LayeredNetwork

    net = LayeredNetwork(spec).double_exact()
    net.train()
    bn = net.body[0]
    xs, ts = spec.batch()
    x = tensor(xs, dtype=float64, requires_grad=True)
    target = tensor(ts, dtype=float64)
    running0 = (np.array(bn.running_mean.array), np.array(bn.running_var.array))
    out = net(x)
    loss = net.loss_from_output(out, target)
    node = next(t for t in tensor_order(loss) if t.grad_fn.op.name == "batch_norm").grad_fn
    stats = {k: np.array(node.attrs[k]) for k in ("mean", "var")}
    rule = node.op.describe(node)
    out.retain_grad()
    loss.backward()
    running1 = (np.array(bn.running_mean.array), np.array(bn.running_var.array))
    return dict(net=net, bn=bn, x=x, out=out, loss=loss, target=target, node=node, stats=stats, rule=rule,
                running=(running0, running1))


def quantities(spec, ddof: int = 0, constant: tuple = ()) -> dict:
    """Every quantity a learner computes, from the layer written as elementary ops and recorded by the
    engine: μ = mean(x), d = x − μ, σ² = Σd²/(N − ddof), σ = √(σ² + ε), x̂ = d/σ, y = γx̂ + β, the loss, one
    backward (retain_grad on μ, σ², x̂, y) and one SGD step. ``constant`` names what backward must not
    differentiate ("mu", "var": ``detach``ed), the way a mistaken derivation treats it.

    The three terms of ∂L/∂x_i are the recorded gradients of μ, σ² and x̂ times the local derivatives
    ∂μ/∂x_i = 1/N, ∂σ²/∂x_i = 2(x_i − μ)/(N − ddof), ∂x̂_i/∂x_i|direct = 1/σ; they are checked to add up
    to the engine's ∂L/∂x of this graph."""
    from .. import float64, tensor
    from ..optim import SGD

    xs, ts = spec.batch()
    b = spec.blocks[0]
    n = xs.shape[0]
    eps = float(b.get("eps", 1e-5))
    x = tensor(xs, dtype=float64, requires_grad=True)
    gamma = tensor(np.asarray(b.get("weight", [1.0]), dtype=np.float64), dtype=float64, requires_grad=True)
    beta = tensor(np.asarray(b.get("bias", [0.0]), dtype=np.float64), dtype=float64, requires_grad=True)
    mu = x.sum(0, keepdim=True) / n
    if "mu" in constant:
        mu = mu.detach()
    d = x - mu
    var = (d * d).sum(0, keepdim=True) / (n - ddof)
    if "var" in constant:
        var = var.detach()
    sigma = (var + eps).sqrt()
    xhat = d / sigma
    y = xhat * gamma + beta
    for t in (mu, var, xhat, y):
        if t.requires_grad:
            t.retain_grad()
    loss = 0.5 * ((y - tensor(ts, dtype=float64)) ** 2).sum()
    loss.backward()

    def grad(t):
        return np.zeros(t.shape) if t.grad is None else np.array(t.grad.array)

    A = {k: np.array(t.array) for k, t in dict(mu=mu, var=var, sigma=sigma, xhat=xhat, y=y).items()}
    q = {"mu": A["mu"][0], "var": A["var"][0], "sigma": A["sigma"][0], "xhat": A["xhat"], "y": A["y"],
         "dL_dy": grad(y), "dL_dgamma": grad(gamma), "dL_dbeta": grad(beta), "dL_dxhat": grad(xhat),
         "dL_dvar": grad(var)[0], "dL_dmu": grad(mu)[0], "loss": float(np.asarray(loss.array))}
    q["dL_dx_direct"] = q["dL_dxhat"] / q["sigma"]
    q["dL_dx_mean"] = np.broadcast_to(q["dL_dmu"] / n, xs.shape).copy()
    q["dL_dx_var"] = q["dL_dvar"] * 2 * (xs - q["mu"]) / (n - ddof)
    q["dL_dx"] = np.array(x.grad.array)
    total = q["dL_dx_direct"] + q["dL_dx_mean"] + q["dL_dx_var"]
    if not np.allclose(total, q["dL_dx"], **AGREE):
        raise ChainruleError(f"derive batchnorm: the three terms {total.ravel()} do not add up to the engine's "
                             f"∂L/∂x {q['dL_dx'].ravel()}")
    SGD([gamma, beta], lr=spec.lr).step()
    q["gamma_after"], q["beta_after"] = np.array(gamma.array), np.array(beta.array)
    return q


def classic_mistakes(spec) -> dict[str, dict[str, np.ndarray]]:
    """Mistake id -> the quantities (``QUANTITIES`` names, the JSON grids' keys) as that mistake produces
    them, only those that differ from the right ones. Each is the engine's computation done the mistaken
    way, not a perturbed answer:

    * ``missing_mean_terms``: μ and σ treated as constants, so ∂L/∂x = (γ/σ)·∂L/∂y (the direct term only);
    * ``missing_variance_term``: σ² treated as a constant, so ∂L/∂x = direct term + μ term;
    * ``unbiased_variance``: σ² over N − 1 (the running statistics' convention) in the forward pass, and
      everything downstream of it;
    * ``running_var_biased``: the running variance moved with the biased σ² instead of σ²·N/(N − 1).
    """
    _validate(spec)
    right = quantities(spec)
    out = {}
    for name, kw in (("missing_mean_terms", dict(constant=("mu", "var"))),
                     ("missing_variance_term", dict(constant=("var",))),
                     ("unbiased_variance", dict(ddof=1))):
        wrong = quantities(spec, **kw)
        out[name] = {k: np.asarray(wrong[k]) for k in QUANTITIES if not np.allclose(wrong[k], right[k], **AGREE)}
    b = spec.blocks[0]
    m = float(b.get("momentum", 0.1))
    out["running_var_biased"] = {"running_var": (1 - m) * 1.0 + m * right["var"]}  # from the fresh buffer, 1
    return out


def _sym(name, i=None):
    """(text, LaTeX) of a symbol, with sample index i (1-based) or none."""
    base = {"x": ("x", "x"), "xhat": ("x̂", r"\hat x"), "y": ("y", "y"), "t": ("t", "t"), "mu": ("μ", r"\mu"),
            "var": ("σ²", r"\sigma^{2}"), "sigma": ("σ", r"\sigma"), "gamma": ("γ", r"\gamma"), "beta": ("β", r"\beta")}
    grad = name.startswith("dL/d")
    t, tex = base[name[4:] if grad else name]
    if i is not None:
        t, tex = f"{t}_{i}", f"{tex}_{{{i}}}"
    if grad:
        return f"∂L/∂{t}", rf"\frac{{\partial L}}{{\partial {tex}}}"
    return t, tex


def _lt(text: str) -> str:
    """A number's text as it stands inside a LaTeX expression (− as -)."""
    return text.replace("−", "-")


def derive_batchnorm(spec, lang: str = "en", precision: int | None = None) -> BatchNormDerivation:
    p = derive_options(LABELS, lang, precision, DEFAULT_PRECISION)
    _validate(spec)
    T = LABELS[lang]
    F = _fused(spec)
    Q = quantities(spec)
    b = spec.blocks[0]
    eps, mom = float(b.get("eps", 1e-5)), float(b.get("momentum", 0.1))

    def nt(v, signed=False):
        return num_text(v, p, signed)

    def nl(v, signed=False):
        return num_latex(v, p, signed)

    # the fused op's own numbers
    X = np.array(F["x"].array)[:, 0]
    TG = np.array(F["target"].array)[:, 0]
    Y = np.array(F["out"].array)[:, 0]
    GY = np.array(F["out"].grad.array)[:, 0]
    GX = np.array(F["x"].grad.array)[:, 0]
    bn = F["bn"]
    G0, B0 = float(bn.weight.array[0]), float(bn.bias.array[0])
    GG, GB = float(bn.weight.grad.array[0]), float(bn.bias.grad.array[0])
    MU, VAR = float(F["stats"]["mean"][0]), float(F["stats"]["var"][0])
    L = float(np.asarray(F["loss"].array))
    # the elementary graph's recorded tensors and gradients (σ, x̂, ∂L/∂x̂, ∂L/∂σ², ∂L/∂μ) and the terms
    SIG = float(Q["sigma"][0])
    XH, GXH = Q["xhat"][:, 0], Q["dL_dxhat"][:, 0]
    GVAR, GMU = float(Q["dL_dvar"][0]), float(Q["dL_dmu"][0])
    D1, D2, D3 = Q["dL_dx_direct"][:, 0], Q["dL_dx_mean"][:, 0], Q["dL_dx_var"][:, 0]
    for name, mine, engine in (("μ", Q["mu"], F["stats"]["mean"]), ("σ²", Q["var"], F["stats"]["var"]),
                               ("y", Q["y"][:, 0], Y), ("∂L/∂y", Q["dL_dy"][:, 0], GY), ("∂L/∂γ", Q["dL_dgamma"], GG),
                               ("∂L/∂β", Q["dL_dbeta"], GB), ("∂L/∂x", Q["dL_dx"][:, 0], GX),
                               ("the three terms", D1 + D2 + D3, GX)):
        if not np.allclose(mine, engine, **AGREE):
            raise ChainruleError(f"derive batchnorm: {name} of the written-out graph ({mine}) differs from the "
                                 f"batch_norm op's ({engine})")
    n = len(X)
    idx = range(1, n + 1)

    items = [("h", 1, T["title"].format(name=spec.name))]
    if lang == "en" and spec.description:
        items.append(("p", spec.description))
    items += [("h", 3, T["setup"]),
              ("p", T["setup_text"].format(n=n, gamma=nt(G0), beta=nt(B0), eps=nt(eps), lr=nt(spec.lr))),
              ("grid", T["input"], "x", X[None]), ("grid", T["target"], "t", TG[None]),
              ("p", T["eps_text"].format(eps=nt(eps)))]
    grids = {"x": F["x"].array, "t": F["target"].array, "gamma": np.array([G0]), "beta": np.array([B0])}

    # 1. forward
    formula, derivative = F["rule"]
    node = F["node"]
    items += [("h", 3, T["forward"]),
              ("rule", T["rule"].format(op=node.op.name), node.op.formula_latex, formula if lang == "en" else T["formula"]),
              ("p", T["biased"])]
    xs_t, xs_l = " + ".join(nt(v, True) for v in X), "+".join(_lt(nt(v, True)) for v in X)
    sym_t = " + ".join(f"x_{i}" for i in idx)
    sym_l = "+".join(f"x_{{{i}}}" for i in idx)
    dev = X - MU  # x_i − μ from the recorded x and the op's recorded μ (bookkeeping for the written sums)
    dev_t = " + ".join(f"{nt(v, True)}²" for v in dev)
    dev_l = "+".join(rf"{nl(v, True)}^{{2}}" for v in dev)
    eqs = [_entry("mu", _sym("mu"), (f"({sym_t})/{n} = ({xs_t})/{n} = {nt(MU)}",
                                     rf"\frac{{{sym_l}}}{{{n}}}=\frac{{{xs_l}}}{{{n}}}={nl(MU)}"), MU),
           _entry("var", _sym("var"),
                  (f"Σ_i (x_i − μ)²/{n} = ({dev_t})/{n} = {nt(VAR)}",
                   rf"\frac{{1}}{{{n}}}\sum_i\left(x_i-\mu\right)^{{2}}=\frac{{{dev_l}}}{{{n}}}={nl(VAR)}"), VAR),
           _entry("sigma", _sym("sigma"), (f"√(σ² + ε) = √({nt(VAR)} + {nt(eps)}) = {nt(SIG)}",
                                           rf"\sqrt{{\sigma^{{2}}+\epsilon}}=\sqrt{{{nl(VAR)}+{nl(eps)}}}={nl(SIG)}"), SIG)]
    for i in idx:
        xi = _sym("x", i)
        eqs.append(_entry(f"xhat_{i}", _sym("xhat", i),
                          (f"({xi[0]} − μ)/σ = ({nt(X[i - 1])} − {nt(MU)})/{nt(SIG)} = {nt(XH[i - 1])}",
                           rf"\frac{{{xi[1]}-\mu}}{{\sigma}}=\frac{{{nl(X[i - 1])}-{nl(MU)}}}{{{nl(SIG)}}}={nl(XH[i - 1])}"),
                          XH[i - 1]))
    for i in idx:
        xh = _sym("xhat", i)
        eqs.append(_entry(f"y_{i}", _sym("y", i),
                          (f"γ·{xh[0]} + β = {nt(G0)}×{nt(XH[i - 1], True)} + {nt(B0, True)} = {nt(Y[i - 1])}",
                           rf"\gamma\,{xh[1]}+\beta={nl(G0)}\times {nl(XH[i - 1], True)}+{nl(B0, True)}={nl(Y[i - 1])}"),
                          Y[i - 1]))
    items += [("eqs", eqs), ("grid", T["xhat"], "xhat", XH[None]), ("grid", T["output"], "y", Y[None])]
    grids.update(mu=np.array([MU]), var=np.array([VAR]), sigma=np.array([SIG]), xhat=Q["xhat"], y=F["out"].array)

    # 2. loss
    terms_t = " + ".join(f"({nt(v)} − {nt(t, True)})²" for v, t in zip(Y, TG))
    terms_l = "+".join(rf"\left({nl(v)}-{nl(t, True)}\right)^{{2}}" for v, t in zip(Y, TG))
    items += [("h", 3, T["loss"]),
              ("eqs", [_entry("loss", ("L", "L"), (f"½ Σ_i (y_i − t_i)² = ½ [{terms_t}] = {nt(L)}",
                                                   rf"\frac{{1}}{{2}}\sum_i\left(y_i-t_i\right)^{{2}}"
                                                   rf"=\frac{{1}}{{2}}\left[{terms_l}\right]={nl(L)}"), L)])]

    # 3. backward
    items += [("h", 3, T["backward"]),
              ("rule", T["rule"].format(op=node.op.name), node.op.derivative_latex,
               derivative if lang == "en" else T["derivative"]),
              ("h", 4, T["dy"]), ("p", T["dy_text"])]
    eqs = [_entry(f"dL_dy_{i}", _sym("dL/dy", i),
                  (f"y_{i} − t_{i} = {nt(Y[i - 1])} − {nt(TG[i - 1], True)} = {nt(GY[i - 1])}",
                   f"y_{{{i}}}-t_{{{i}}}={nl(Y[i - 1])}-{nl(TG[i - 1], True)}={nl(GY[i - 1])}"), GY[i - 1]) for i in idx]
    items += [("eqs", eqs), ("grid", T["dy_grid"], "dL_dy", GY[None])]
    grids["dL_dy"] = F["out"].grad.array

    gg_t = " + ".join(f"{nt(g, True)}×{nt(h, True)}" for g, h in zip(GY, XH))
    gg_l = "+".join(rf"{nl(g, True)}\times {nl(h, True)}" for g, h in zip(GY, XH))
    gb_t = " + ".join(nt(g, True) for g in GY)
    gb_l = "+".join(nl(g, True) for g in GY)
    items += [("h", 4, T["dgb"]), ("p", T["dgb_text"]),
              ("eqs", [_entry("dL_dgamma", _sym("dL/dgamma"),
                              (f"Σ_i ∂L/∂y_i·x̂_i = {gg_t} = {nt(GG)}",
                               rf"\sum_i\frac{{\partial L}}{{\partial y_i}}\hat x_i={gg_l}={nl(GG)}"), GG),
                       _entry("dL_dbeta", _sym("dL/dbeta"), (f"Σ_i ∂L/∂y_i = {gb_t} = {nt(GB)}",
                                                             rf"\sum_i\frac{{\partial L}}{{\partial y_i}}={gb_l}={nl(GB)}"), GB)])]
    grids.update(dL_dgamma=np.array([GG]), dL_dbeta=np.array([GB]))

    # 3.3 ∂L/∂x: the three paths
    eqs = [_entry(f"dL_dxhat_{i}", _sym("dL/dxhat", i),
                  (f"∂L/∂y_{i}·γ = {nt(GY[i - 1], True)}×{nt(G0, True)} = {nt(GXH[i - 1])}",
                   rf"{_sym('dL/dy', i)[1]}\,\gamma={nl(GY[i - 1], True)}\times {nl(G0, True)}={nl(GXH[i - 1])}"),
                  GXH[i - 1]) for i in idx]
    items += [("h", 4, T["dx"]), ("p", T["dx_text"]), ("p", T["dxhat"]), ("eqs", eqs),
              ("grid", T["dxhat_grid"], "dL_dxhat", GXH[None])]
    grids["dL_dxhat"] = Q["dL_dxhat"]
    sv_t = " + ".join(f"{nt(g, True)}×{nt(v, True)}" for g, v in zip(GXH, dev))
    sv_l = "+".join(rf"{nl(g, True)}\times {nl(v, True)}" for g, v in zip(GXH, dev))
    items += [("p", T["dvar"]),
              ("eqs", [_entry("dL_dvar", _sym("dL/dvar"),
                              (f"Σ_j ∂L/∂x̂_j·(−(x_j − μ)/(2σ³)) = −1/(2×{nt(SIG, True)}³) × [{sv_t}] = {nt(GVAR)}",
                               rf"\sum_j\frac{{\partial L}}{{\partial \hat x_j}}\left(-\frac{{x_j-\mu}}{{2\sigma^{{3}}}}\right)"
                               rf"=-\frac{{1}}{{2\times {nl(SIG, True)}^{{3}}}}\left[{sv_l}\right]={nl(GVAR)}"), GVAR)])]
    sm_t = " + ".join(nt(g, True) for g in GXH)
    sm_l = "+".join(nl(g, True) for g in GXH)
    items += [("p", T["dmu"]),
              ("eqs", [_entry("dL_dmu", _sym("dL/dmu"),
                              (f"Σ_j ∂L/∂x̂_j·(−1/σ) + ∂L/∂σ²·(−2/N)·Σ_j (x_j − μ) = −({sm_t})/{nt(SIG, True)} + 0 = "
                               f"{nt(GMU)}",
                               rf"\sum_j\frac{{\partial L}}{{\partial \hat x_j}}\left(-\frac{{1}}{{\sigma}}\right)"
                               rf"+\frac{{\partial L}}{{\partial \sigma^{{2}}}}\left(-\frac{{2}}{{N}}\right)\sum_j(x_j-\mu)"
                               rf"=-\frac{{{sm_l}}}{{{nl(SIG, True)}}}+0={nl(GMU)}"), GMU)])]
    grids.update(dL_dvar=np.array([GVAR]), dL_dmu=np.array([GMU]))
    eqs = []
    for i in idx:
        k = i - 1
        eqs.append(_entry(
            f"dL_dx_{i}", _sym("dL/dx", i),
            (f"∂L/∂x̂_{i}/σ + ∂L/∂μ/N + ∂L/∂σ²·2(x_{i} − μ)/N = {nt(GXH[k], True)}/{nt(SIG, True)} + "
             f"{nt(GMU, True)}/{n} + {nt(GVAR, True)}×2×{nt(dev[k], True)}/{n} = "
             f"{nt(D1[k], True)} + {nt(D2[k], True)} + {nt(D3[k], True)} = {nt(GX[k])}",
             rf"{_sym('dL/dxhat', i)[1]}\frac{{1}}{{\sigma}}+\frac{{\partial L}}{{\partial\mu}}\frac{{1}}{{N}}"
             rf"+\frac{{\partial L}}{{\partial\sigma^{{2}}}}\frac{{2(x_{{{i}}}-\mu)}}{{N}}"
             rf"=\frac{{{nl(GXH[k])}}}{{{nl(SIG)}}}+\frac{{{nl(GMU)}}}{{{n}}}"
             rf"+{nl(GVAR, True)}\times\frac{{2\times {nl(dev[k], True)}}}{{{n}}}"
             rf"={nl(D1[k], True)}+{nl(D2[k], True)}+{nl(D3[k], True)}={nl(GX[k])}"), GX[k]))
    items += [("p", T["terms"]), ("eqs", eqs),
              ("table", list(T["terms_head"]),
               [[str(i), nt(D1[i - 1]), nt(D2[i - 1]), nt(D3[i - 1]), nt(GX[i - 1])] for i in idx]),
              ("grid", T["dx_grid"], "dL_dx", GX[None])]
    grids.update(dL_dx_direct=Q["dL_dx_direct"], dL_dx_mean=Q["dL_dx_mean"], dL_dx_var=Q["dL_dx_var"],
                 dL_dx=F["x"].grad.array)

    # 3.4 the compact form: the op's rule on the recorded numbers
    mg, mgx = float(np.mean(GY)), float(np.mean(GY * XH))
    compact = G0 / SIG * (GY - mg - XH * mgx)
    if not np.allclose(compact, GX, **AGREE):
        raise ChainruleError(f"derive batchnorm: the compact rule gives {compact} but the engine's ∂L/∂x is {GX}")
    gx_t = " + ".join(f"{nt(g, True)}×{nt(h, True)}" for g, h in zip(GY, XH))
    gx_l = "+".join(rf"{nl(g, True)}\times {nl(h, True)}" for g, h in zip(GY, XH))
    eqs = [_entry("mean_g", ("mean(g)", r"\overline{g}"), (f"({gb_t})/{n} = {nt(mg)}", rf"\frac{{{gb_l}}}{{{n}}}={nl(mg)}"), mg),
           _entry("mean_g_xhat", ("mean(g·x̂)", r"\overline{g\,\hat x}"),
                  (f"({gx_t})/{n} = {nt(mgx)}", rf"\frac{{{gx_l}}}{{{n}}}={nl(mgx)}"), mgx)]
    for i in idx:
        k = i - 1
        eqs.append(_entry(
            f"dL_dx_{i}_compact", _sym("dL/dx", i),
            (f"(γ/σ)(g_{i} − mean(g) − x̂_{i}·mean(g·x̂)) = ({nt(G0)}/{nt(SIG, True)})×({nt(GY[k])} − {nt(mg, True)} − "
             f"{nt(XH[k], True)}×{nt(mgx, True)}) = {nt(GX[k])}",
             rf"\frac{{\gamma}}{{\sigma}}\left(g_{{{i}}}-\overline{{g}}-\hat x_{{{i}}}\,\overline{{g\,\hat x}}\right)"
             rf"=\frac{{{nl(G0)}}}{{{nl(SIG, True)}}}\left({nl(GY[k])}-{nl(mg, True)}-{nl(XH[k], True)}\times "
             rf"{nl(mgx, True)}\right)={nl(GX[k])}"), GX[k]))
    items += [("h", 4, T["compact"]), ("p", T["compact_text"]), ("eqs", eqs), ("p", T["same"])]

    # 6. finite differences, on the numbers the step starts from
    check = _finite_differences(F, GG, GB, GX)

    # 4. update: the engine's optimizer takes the step
    from ..optim import SGD

    SGD(F["net"].parameters(), lr=spec.lr).step()
    G1, B1 = float(bn.weight.array[0]), float(bn.bias.array[0])
    eqs = [_entry("gamma_after", _sym("gamma"),
                  (f"γ − η·∂L/∂γ = {nt(G0)} − {nt(spec.lr)}×{nt(GG, True)} = {nt(G1)}",
                   rf"\gamma-\eta\frac{{\partial L}}{{\partial\gamma}}={nl(G0)}-{nl(spec.lr)}\times {nl(GG, True)}={nl(G1)}"),
                  G1, "←"),
           _entry("beta_after", _sym("beta"),
                  (f"β − η·∂L/∂β = {nt(B0)} − {nt(spec.lr)}×{nt(GB, True)} = {nt(B1)}",
                   rf"\beta-\eta\frac{{\partial L}}{{\partial\beta}}={nl(B0)}-{nl(spec.lr)}\times {nl(GB, True)}={nl(B1)}"),
                  B1, "←")]
    items += [("h", 3, T["update"]), ("eqs", eqs)]
    grids.update(gamma_after=np.array([G1]), beta_after=np.array([B1]))

    # 5. running statistics, as the layer moved them in the forward pass
    (rm0, rv0), (rm1, rv1) = F["running"]
    unb = VAR * n / (n - 1)
    rm_sym = ("running_mean", r"\mathrm{running\_mean}") if lang == "en" else (T["rm_symbol"], r"\text{" + T["rm_symbol"] + "}")
    rv_sym = ("running_var", r"\mathrm{running\_var}") if lang == "en" else (T["rv_symbol"], r"\text{" + T["rv_symbol"] + "}")
    eqs = [_entry("running_mean", rm_sym,
                  (f"(1 − m)·{rm_sym[0]} + m·μ = {nt(1 - mom)}×{nt(rm0[0], True)} + {nt(mom)}×{nt(MU, True)} = {nt(rm1[0])}",
                   rf"(1-m)\,{rm_sym[1]}+m\,\mu={nl(1 - mom)}\times {nl(rm0[0], True)}+{nl(mom)}\times {nl(MU, True)}"
                   rf"={nl(rm1[0])}"), rm1[0], "←"),
           _entry("running_var", rv_sym,
                  (f"(1 − m)·{rv_sym[0]} + m·σ²·N/(N − 1) = {nt(1 - mom)}×{nt(rv0[0], True)} + {nt(mom)}×"
                   f"({nt(VAR)}×{n}/{n - 1}) = {nt(1 - mom)}×{nt(rv0[0], True)} + {nt(mom)}×{nt(unb, True)} = {nt(rv1[0])}",
                   rf"(1-m)\,{rv_sym[1]}+m\,\sigma^{{2}}\frac{{N}}{{N-1}}={nl(1 - mom)}\times {nl(rv0[0], True)}+{nl(mom)}"
                   rf"\times\left({nl(VAR)}\times\frac{{{n}}}{{{n - 1}}}\right)={nl(1 - mom)}\times {nl(rv0[0], True)}+{nl(mom)}"
                   rf"\times {nl(unb, True)}={nl(rv1[0])}"), rv1[0], "←")]
    items += [("h", 3, T["running"]), ("p", T["running_text"].format(m=nt(mom))), ("eqs", eqs)]
    grids.update(running_mean=rm1, running_var=rv1)

    items += [("h", 3, T["check"]), ("p", T["check_text"].format(eps=num_text(FD_EPS, 2))),
              ("table", list(T["check_head"]),
               [[c["symbol"], nt(c["engine"]), nt(c["numeric"]), f"{c['relative_error']:.1e}"] for c in check])]
    return BatchNormDerivation(spec, lang, p, items, grids, check, L)


def _finite_differences(F, GG, GB, GX):
    """Central differences of the loss, recomputed by the engine's forward (the batch statistics with it),
    for γ, β and every input x_i."""
    net, x, target, bn = F["net"], F["x"], F["target"], F["bn"]

    def loss_at(arr, idx, delta):
        with no_grad():
            old = arr[idx]
            arr[idx] = old + delta
            value = float(np.asarray(net.loss_from_output(net(x.detach()), target).array))
            arr[idx] = old
        return value

    running = (np.array(bn.running_mean.array), np.array(bn.running_var.array), np.array(bn.num_batches_tracked.array))
    rows = []
    for key, sym, arr, idx, engine in [("dL_dgamma", "∂L/∂γ", bn.weight.array, (0,), GG),
                                       ("dL_dbeta", "∂L/∂β", bn.bias.array, (0,), GB),
                                       *[(f"dL_dx_{i + 1}", f"∂L/∂x_{i + 1}", x.array, (i, 0), GX[i])
                                         for i in range(len(GX))]]:
        num = (loss_at(arr, idx, FD_EPS) - loss_at(arr, idx, -FD_EPS)) / (2 * FD_EPS)
        rows.append({"key": key, "symbol": sym, "engine": float(engine), "numeric": num,
                     "relative_error": relative_error(float(engine), num)})
    with no_grad():  # the probes ran the layer in training mode: put its running statistics back
        bn.running_mean.array[...] = running[0]
        bn.running_var.array[...] = running[1]
        bn.num_batches_tracked.array[...] = running[2]
    return rows
