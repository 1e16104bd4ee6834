"""The seed-style derivation of a tiny convolution (a layered spec such as the shipped ``conv``).

``derive_conv(spec)`` runs one training step of the spec's network with the engine — the input
``x`` a leaf that requires grad, ``retain_grad()`` on the convolution's output — and writes every
pixel out: each output as its sum of products, the loss, ∂L/∂y, ∂L/∂k as the correlation of the
input with ∂L/∂y, ∂L/∂x as the full convolution of ∂L/∂y with the flipped kernel, the SGD update of
each kernel weight and a finite-difference check. Every value printed is a recorded tensor's value or
a gradient backward computed; this module only decides which recorded numbers stand next to each
other in a written product (the index bookkeeping of a stride-1 convolution). The rule itself is the
op's own (``Conv2d.formula``/``derivative`` and their LaTeX twins).
"""

from __future__ import annotations

import json

import numpy as np

from ..autograd import tensor_order
from ..check import layered_central_difference, relative_error
from ..errors import SpecError
from ..layered import random_bias
from .render import _width
from .symbols import derive_options, num_latex, num_text

DEFAULT_PRECISION = 6
FD_EPS = 1e-6
SHOWN_INPUT_PIXELS = ((1, 1), (1, 2), (2, 2))  # ∂L/∂x written out term by term here (plus the last corner)

LABELS = {
    "en": {
        "title": "Backpropagation through a convolution, worked by hand: {name}",
        "setup": "Setup",
        "setup_text": ("Input x ({h}×{w}, one channel), kernel k ({kh}×{kw}), stride 1, no padding, {bias}; "
                       "output y ({oh}×{ow}); loss L = ½Σ(y − t)² over the output; learning rate η = {lr}; optimizer: SGD."),
        "no_bias": "no bias", "bias": "bias b",
        "input": "Input x", "kernel": "Kernel k", "target": "Target t",
        "forward": "1. Forward pass",
        "forward_text": "Each output pixel is the kernel laid on the window below it: a sum of products.",
        "rule": "The op's rule ({op}; here z is y and w is k, with one sample, one channel, s = 1, d = 1, p = 0):",
        "output": "Output y",
        "loss": "2. Loss",
        "backward": "3. Backward pass",
        "dy": "3.1 Gradient of the loss with respect to each output pixel",
        "dy_text": "∂L/∂y_ij = ½ × 2 × (y_ij − t_ij) = y_ij − t_ij",
        "dk": "3.2 Gradient of each kernel weight",
        "dk_text": ("k_ij touches every output pixel: ∂L/∂k_ij = Σ_ab ∂L/∂y_ab · x_(a+i−1)(b+j−1), "
                    "the input correlated with ∂L/∂y."),
        "db": "Gradient of the bias: every output pixel adds b once, so ∂L/∂b = Σ_ab ∂L/∂y_ab.",
        "dx": "3.3 Gradient of each input pixel",
        "dx_text": ("x_uv feeds the outputs whose window covers it: ∂L/∂x_uv = Σ_ij ∂L/∂y_(u−i+1)(v−j+1) · k_ij "
                    "(terms outside the output are 0). That is the full convolution of ∂L/∂y (padded with zeros) "
                    "with the kernel flipped in both directions."),
        "dx_some": "Written out for a corner, an edge and an inner pixel:",
        "padded": "∂L/∂y padded with zeros", "flipped": "Kernel flipped",
        "dx_grid": "∂L/∂x for every pixel",
        "dk_grid": "∂L/∂k", "dy_grid": "∂L/∂y",
        "update": "4. Update (SGD: k ← k − η ∂L/∂k)",
        "new_kernel": "Kernel after the step",
        "check": "5. Finite-difference check",
        "check_text": "Central differences (L(k + ε) − L(k − ε)) / 2ε with ε = {eps}, against the engine's gradient:",
        "check_head": ("weight", "engine", "finite differences", "relative error"),
    },
    "zh": {
        "title": "卷积的反向传播，手算推导：`{name}`",
        "setup": "设定",
        "setup_text": ("输入 x（{h}×{w}，单通道），卷积核 k（{kh}×{kw}），步长 1，无填充，{bias}；"
                       "输出 y（{oh}×{ow}）；损失 L = ½Σ(y − t)²（对全部输出求和）；学习率 η = {lr}；优化器：SGD。"),
        "no_bias": "无偏置", "bias": "偏置 b",
        "input": "输入 x", "kernel": "卷积核 k", "target": "目标 t",
        "forward": "1. 前向传播",
        "forward_text": "每个输出像素是把卷积核放在其下方窗口上的乘积之和。",
        "rule": "算子的公式（此处 z 即 y，w 即 k；单个样本、单通道，s = 1，d = 1，p = 0）：",
        "output": "输出 y",
        "loss": "2. 损失",
        "backward": "3. 反向传播",
        "dy": "3.1 损失对每个输出像素的梯度",
        "dy_text": "∂L/∂y_ij = ½ × 2 × (y_ij − t_ij) = y_ij − t_ij",
        "dk": "3.2 每个卷积核权重的梯度",
        "dk_text": "k_ij 参与每个输出像素：∂L/∂k_ij = Σ_ab ∂L/∂y_ab · x_(a+i−1)(b+j−1)，即输入与 ∂L/∂y 的互相关。",
        "db": "偏置的梯度：每个输出像素各加一次 b，所以 ∂L/∂b = Σ_ab ∂L/∂y_ab。",
        "dx": "3.3 每个输入像素的梯度",
        "dx_text": ("x_uv 进入窗口覆盖它的那些输出：∂L/∂x_uv = Σ_ij ∂L/∂y_(u−i+1)(v−j+1) · k_ij（输出范围以外的项为 0），"
                    "即补零后的 ∂L/∂y 与上下左右翻转后的卷积核做完全卷积。"),
        "dx_some": "逐项写出一个角、一条边和一个内部像素：",
        "padded": "补零后的 ∂L/∂y", "flipped": "翻转后的卷积核",
        "dx_grid": "每个输入像素的 ∂L/∂x",
        "dk_grid": "∂L/∂k", "dy_grid": "∂L/∂y",
        "update": "4. 参数更新（SGD：k ← k − η ∂L/∂k）",
        "new_kernel": "更新后的卷积核",
        "check": "5. 有限差分检验",
        "check_text": "中心差分 (L(k + ε) − L(k − ε)) / 2ε，ε = {eps}，与引擎的梯度比较：",
        "check_head": ("权重", "引擎", "有限差分", "相对误差"),
    },
}


POOL_LABELS = {
    "en": {
        "setup_text": ("Input x ({h}×{w}, one channel), kernel k ({kh}×{kw}), stride 1, no padding, {bias}; "
                       "output y ({oh}×{ow}); max pooling over {ph}×{pw} windows with stride {ps} gives p ({qh}×{qw}); "
                       "loss L = ½Σ(p − t)² over p; learning rate η = {lr}; optimizer: SGD."),
        "pool": "2. Max pooling",
        "pool_text": "Each pooled pixel p_ab is the largest output pixel of its window; the cell that holds it wins.",
        "pool_rule": "The op's rule ({op}; here x is y and z is p, with s = {s}, d = 1 and the padding p = 0):",
        "pooled": "Pooled p",
        "loss": "3. Loss",
        "backward": "4. Backward pass",
        "dp": "4.1 Gradient of the loss with respect to each pooled pixel",
        "dp_text": "∂L/∂p_ab = ½ × 2 × (p_ab − t_ab) = p_ab − t_ab",
        "dp_grid": "∂L/∂p",
        "dy": "4.2 Through the max pool: the gradient goes to the winner",
        "dy_text": ("p_ab moves only with the cell that won its window: ∂L/∂y_ij = ∂L/∂p_ab when y_ij is the maximum "
                    "of p_ab's window, otherwise 0."),
        "losers": "Every other ∂L/∂y_ij is 0.",
        "dk": "4.3 Gradient of each kernel weight",
        "zero_terms": "Terms with ∂L/∂y_ab = 0 are left out.",
        "dx": "4.4 Gradient of each input pixel",
        "update": "5. Update (SGD: k ← k − η ∂L/∂k)",
        "check": "6. Finite-difference check",
    },
    "zh": {
        "setup_text": ("输入 x（{h}×{w}，单通道），卷积核 k（{kh}×{kw}），步长 1，无填充，{bias}；输出 y（{oh}×{ow}）；"
                       "{ph}×{pw} 窗口、步长 {ps} 的最大池化得到 p（{qh}×{qw}）；损失 L = ½Σ(p − t)²（对全部 p 求和）；"
                       "学习率 η = {lr}；优化器：SGD。"),
        "pool": "2. 最大池化",
        "pool_text": "每个池化像素 p_ab 是其窗口中最大的输出像素；取得最大值的那个格子胜出。",
        "pool_rule": "算子的公式（此处 x 即 y，z 即 p；s = {s}，d = 1，公式中的填充 p = 0）：",
        "pool_formula": "z[n,c,y,x] = 窗口 (i, j) 上 x[n,c, s·y + d·i − p, s·x + d·j − p] 的最大值",
        "pool_derivative": ("∂L/∂x = ∂L/∂z 传给每个窗口的最大值所在的格子（并列时取第一个，与 PyTorch 相同）；"
                            "窗口中其他格子得 0；重叠的窗口相加"),
        "pooled": "池化输出 p",
        "loss": "3. 损失",
        "backward": "4. 反向传播",
        "dp": "4.1 损失对每个池化像素的梯度",
        "dp_text": "∂L/∂p_ab = ½ × 2 × (p_ab − t_ab) = p_ab − t_ab",
        "dp_grid": "∂L/∂p",
        "dy": "4.2 经过最大池化：梯度只传给胜出的格子",
        "dy_text": "p_ab 只随其窗口中胜出的格子变化：若 y_ij 是 p_ab 的窗口中的最大值，则 ∂L/∂y_ij = ∂L/∂p_ab，否则为 0。",
        "losers": "其余的 ∂L/∂y_ij 都是 0。",
        "dk": "4.3 每个卷积核权重的梯度",
        "zero_terms": "∂L/∂y_ab = 0 的项省略不写。",
        "dx": "4.4 每个输入像素的梯度",
        "update": "5. 参数更新（SGD：k ← k − η ∂L/∂k）",
        "check": "6. 有限差分检验",
    },
}


class ConvDerivation:
    """The written derivation of one step of a tiny convolution; ``markdown()``, ``text()``, ``to_json()``.

    ``items`` is the document: ("h", level, title), ("p", text), ("rule", text, latex),
    ("eqs", [entry, ...]) and ("grid", label, key, array); ``entries`` every written equation with
    its key, symbol, expression (text and LaTeX) and value."""

    SUB_RULE = "-"                # the text underline of headings below level 3 (level 1 is "=")
    LATEX_RULES_IN_ZH = False     # text output: write a rule's LaTeX where its plain text is English

    def __init__(self, spec, lang, precision, items, grids, check, loss):
        self.spec, self.lang, self.precision = spec, lang, precision
        self.items, self.grids, self.check, self.loss = items, grids, check, loss

    @property
    def entries(self) -> list[dict]:
        return [e for item in self.items if item[0] == "eqs" for e in item[1]]

    def to_dict(self) -> dict:
        s = self.spec
        return {
            "format": "chainrule-derivation", "version": 1,
            "kind": "conv2d+max_pool2d" if len(s.blocks) == 2 else "conv2d",
            "spec": {"name": s.name, "input": list(s.input_shape), "loss": s.loss, "lr": s.lr, "optimizer": s.optimizer},
            "lang": self.lang, "precision": self.precision, "loss": self.loss,
            "grids": {k: np.asarray(v).tolist() for k, v in self.grids.items()},
            "entries": [{k: v for k, v in e.items()} for e in self.entries],
            "check": self.check,
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)

    def markdown(self) -> str:
        out = []
        for item in self.items:
            kind = item[0]
            if kind == "h":
                out.append("#" * item[1] + " " + item[2] + "\n")
            elif kind == "p":
                out.append(item[1] + "\n")
            elif kind == "rule":
                out.append(f"{item[1]}\n\n$$\n{item[2]}\n$$\n")
            elif kind == "eqs":
                lines = [f"{e['latex_symbol']}&{'=' if e['relation'] == '=' else chr(92) + 'leftarrow '}{e['latex']}"
                         for e in item[1]]
                out.append("$$\n\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}\n$$\n")
            elif kind == "grid":
                out.append(f"{item[1]}{self._colon}\n\n$$\n{_grid_latex(item[3], self.precision)}\n$$\n")
            elif kind == "mat":
                out.append(f"{item[1]} — {item[2]}{self._colon}\n\n$$\n{item[4]}\n$$\n")
            elif kind == "table":
                head, rows = item[1], item[2]
                out.append("| " + " | ".join(head) + " |\n|" + "---|" * len(head) + "\n"
                           + "".join("| " + " | ".join(r) + " |\n" for r in rows))
        return "\n".join(out)

    def text(self) -> str:
        out = []
        for item in self.items:
            kind = item[0]
            if kind == "h":
                out.append(item[2] + "\n" + ("=" if item[1] <= 1 else "-" if item[1] <= 3 else self.SUB_RULE)
                           * _width(item[2]))
            elif kind == "p":
                out.append(item[1])
            elif kind == "rule":
                out.append(f"{item[1]}\n  " + (f"$${item[2]}$$" if self.LATEX_RULES_IN_ZH and self.lang == "zh"
                                                else item[3]))
            elif kind == "eqs":
                out.append("\n".join(f"  {e['symbol']} {e['relation']} {e['expression']}" for e in item[1]))
            elif kind == "grid":
                out.append(f"{item[1]}{self._colon}\n" + _grid_text(item[3], self.precision))
            elif kind == "mat":
                out.append(f"{item[1]} — {item[2]}{self._colon}\n  {item[3]}")
            elif kind == "table":
                head, rows = item[1], item[2]
                widths = [max(_width(r[k]) for r in [head, *rows]) for k in range(len(head))]
                out.append("\n".join("  " + "  ".join(c + " " * (w - _width(c)) for c, w in zip(r, widths))
                                     for r in [head, *rows]))
        return "\n\n".join(out) + "\n"

    def __str__(self) -> str:
        return self.text()

    @property
    def _colon(self) -> str:
        return "：" if self.lang == "zh" else ":"


def _grid_text(a, p) -> str:
    cells = [[num_text(v, p) for v in row] for row in np.asarray(a)]
    width = max(len(c) for row in cells for c in row)
    return "\n".join("  [ " + "  ".join(c.rjust(width) for c in row) + " ]" for row in cells)


def _grid_latex(a, p) -> str:
    rows = [" & ".join(num_latex(v, p) for v in row) for row in np.asarray(a)]
    return r"\begin{bmatrix}" + r" \\ ".join(rows) + r"\end{bmatrix}"


def _sym(name, i, j=None):
    """(text, LaTeX) of a pixel symbol: x_12 / x_{12}; ∂L/∂… for gradients (name 'dL/dy' etc.)."""
    sub = f"{i}{j}" if j is not None else f"{i}"
    if name.startswith("dL/d"):
        base = name[4:]
        return f"∂L/∂{base}_{sub}", rf"\frac{{\partial L}}{{\partial {base}_{{{sub}}}}}"
    return f"{name}_{sub}", f"{name}_{{{sub}}}"


def _products(pairs, value, p, bias=None):
    """A sum of products written twice: with symbols and with numbers, then the value.
    ``pairs`` holds ((text, latex), number) for both factors of every term; ``bias`` a last term b."""
    sym_t = " + ".join(f"{a[0][0]}·{b[0][0]}" for a, b in pairs)
    sym_l = "+".join(f"{a[0][1]}\\,{b[0][1]}" for a, b in pairs)
    num_t = " + ".join(f"{num_text(a[1], p, True)}×{num_text(b[1], p, True)}" for a, b in pairs)
    num_l = "+".join(f"{num_latex(a[1], p, True)}\\times {num_latex(b[1], p, True)}" for a, b in pairs)
    if bias is not None:
        sym_t, sym_l = sym_t + " + b", sym_l + "+b"
        num_t, num_l = num_t + f" + {num_text(bias, p, True)}", num_l + f"+{num_latex(bias, p, True)}"
    return f"{sym_t} = {num_t} = {num_text(value, p)}", f"{sym_l}={num_l}={num_latex(value, p)}"


def _entry(key, sym, expr, value, relation="="):
    """One written equation; ``relation`` is "←" for an update (the seed's w ← w − η·∂L/∂w)."""
    return {"key": key, "symbol": sym[0], "latex_symbol": sym[1], "relation": relation, "expression": expr[0],
            "latex": expr[1], "value": float(value)}


def _validate(spec):
    where = spec.source
    kinds = [b["kind"] for b in spec.blocks]
    if kinds not in (["conv2d"], ["conv2d", "maxpool2d"]):
        raise SpecError(f"{where}: chainrule derive writes out layered specs made of one conv2d block, optionally "
                        f"followed by one maxpool2d (got {', '.join(kinds)}); train it with chainrule train")
    if len(kinds) == 2:
        pool = spec.blocks[1]
        size = pool["kernel_size"]
        if pool.get("stride") not in (None, size) or pool.get("padding", 0) not in (0, [0, 0]):
            raise SpecError(f"{where}: layers[1] (maxpool2d): derive writes out windows that do not overlap "
                            f"(stride = kernel_size, padding = 0), got stride {pool.get('stride')!r}, "
                            f"padding {pool.get('padding', 0)!r}")
        if pool.get("activation", "none") != "none":
            raise SpecError(f"{where}: layers[1] (maxpool2d): derive writes out a max pool without activation")
    b = spec.blocks[0]
    if spec.input_shape[0] != 1 or b["out_channels"] != 1 or len(spec.input_shape) != 3:
        raise SpecError(f"{where}: derive writes out a one-channel convolution (input [1, H, W], out_channels = 1)")
    for key, default in (("stride", 1), ("padding", 0), ("dilation", 1), ("groups", 1)):
        if b.get(key, default) not in (default, [default, default]):
            raise SpecError(f"{where}: layers[0] (conv2d): derive writes out {key} = {default} only, got {b[key]!r}")
    if b.get("activation", "none") != "none":
        raise SpecError(f"{where}: layers[0] (conv2d): derive writes out a convolution without activation")
    if random_bias(b) and spec.seed is None:  # a fresh random bias in every network built
        raise SpecError(f"{where}: layers[0] (conv2d): the bias is drawn at random without a 'seed', so the "
                        f"numbers would change from run to run; fix it (bias = [0.5]), give the spec a seed, "
                        f"or set bias = false")
    if spec.loss != "half_sse" or spec.optimizer != "sgd":
        raise SpecError(f"{where}: derive writes out loss = \"half_sse\" with optimizer = \"sgd\" "
                        f"(got {spec.loss!r}, {spec.optimizer!r})")
    if spec.x is None or spec.y is None or "weight" not in b:
        raise SpecError(f"{where}: derive needs the numbers fixed in the spec: keys 'x', 'y' and the block's 'weight'")
    if spec.x.shape != tuple(spec.input_shape):
        raise SpecError(f"{where}: key 'x': derive writes out a convolution of one sample, shaped as input "
                        f"{list(spec.input_shape)}; got a batch of shape {spec.x.shape}")


def _step(spec):
    """One recorded step: the network, its input leaf, the conv output (grad retained), loss, target, the
    conv node, the arrays it read, its rule; and for a pooled spec (pooled output, pool node, the
    winners' rows and columns as the op itself finds them, its rule), else None."""
    from .. import float64, tensor
    from ..layered import LayeredNetwork

    net = LayeredNetwork(spec).double_exact()
    conv = net.body[0]
    x = tensor(spec.x[None], dtype=float64, requires_grad=True)
    target = tensor(spec.y[None], dtype=float64)
    out = net(x)
    loss = net.loss_from_output(out, target)
    order = tensor_order(loss)
    y = next(t for t in order if t.grad_fn.op.name == "conv2d")
    node = y.grad_fn
    # the values the conv op read, taken before backward frees the graph
    read = [np.array(t.array) for t in node.parents]
    rule = node.op.describe(node)
    y.retain_grad()
    pool = None
    pooled = [t for t in order if t.grad_fn.op.name == "max_pool2d"]
    if pooled:
        p = pooled[0]
        pnode = p.grad_fn
        rows, cols, _ = pnode.op.indices(np.asarray(y.array), pnode.attrs)  # each window's arg-max, by the op
        pool = (p, pnode, rows[0, 0], cols[0, 0], pnode.op.describe(pnode))
        p.retain_grad()
    loss.backward()
    return net, conv, x, y, loss, target, node, read, rule, pool


def derive_conv(spec, lang: str = "en", precision: int | None = None) -> ConvDerivation:
    p = derive_options(LABELS, lang, precision, DEFAULT_PRECISION)
    _validate(spec)
    pooled = len(spec.blocks) == 2
    T = {**LABELS[lang], **POOL_LABELS[lang]} if pooled else LABELS[lang]
    net, conv, x, y, loss, target, node, read, (formula, derivative), pool = _step(spec)
    X, K = read[0][0, 0], read[1][0, 0]
    has_bias = len(read) == 3
    B = float(read[2][0]) if has_bias else None
    Y, TG = np.asarray(y.array)[0, 0], np.asarray(target.array)[0, 0]
    GY = np.asarray(y.grad.array)[0, 0]
    GK = np.asarray(conv.weight.grad.array)[0, 0]
    GX = np.asarray(x.grad.array)[0, 0]
    GB = float(np.asarray(conv.bias.grad.array)[0]) if has_bias else None
    L = float(np.asarray(loss.array))
    (h, w), (kh, kw), (oh, ow) = X.shape, K.shape, Y.shape
    if pooled:
        p_t, pnode, WR, WC, (pool_formula, pool_derivative) = pool
        P, GP = np.asarray(p_t.array)[0, 0], np.asarray(p_t.grad.array)[0, 0]
        (qh, qw), (ph, pw), ps = P.shape, pnode.attrs["kernel_size"], pnode.attrs["stride"][0]
        OUT, o = P, "p"  # what the loss compares with the target, and its letter
    else:
        OUT, o = Y, "y"

    items = [("h", 1, T["title"].format(name=spec.name))]
    if lang == "en" and spec.description:
        items.append(("p", spec.description))
    items += [("h", 3, T["setup"]),
              ("p", T["setup_text"].format(h=h, w=w, kh=kh, kw=kw, oh=oh, ow=ow, lr=num_text(spec.lr, p),
                                           bias=T["bias"] if has_bias else T["no_bias"],
                                           **(dict(ph=ph, pw=pw, ps=ps, qh=qh, qw=qw) if pooled else {}))),
              ("grid", T["input"], "x", X), ("grid", T["kernel"], "k", K), ("grid", T["target"], "t", TG)]
    grids = {"x": X, "k": K, "t": TG}

    # 1. forward: the op's rule, then every output pixel
    latex_formula = node.op.formula_latex if has_bias else node.op.formula_latex.replace("b_o+", "")
    items += [("h", 3, T["forward"]), ("p", T["forward_text"]),
              ("rule", T["rule"].format(op=node.op.name), latex_formula, formula)]
    eqs = []
    for a in range(oh):
        for c in range(ow):
            pairs = [((_sym("k", i + 1, j + 1), K[i, j]), (_sym("x", a + i + 1, c + j + 1), X[a + i, c + j]))
                     for i in range(kh) for j in range(kw)]
            eqs.append(_entry(f"y_{a + 1}{c + 1}", _sym("y", a + 1, c + 1), _products(pairs, Y[a, c], p, B), Y[a, c]))
    items += [("eqs", eqs), ("grid", T["output"], "y", Y)]
    grids["y"] = Y
    if pooled:
        eqs = []
        for a in range(qh):
            for c in range(qw):
                cells = [(a * ps + i, c * ps + j) for i in range(ph) for j in range(pw)]
                win = (int(WR[a, c]) + 1, int(WC[a, c]) + 1)
                sym_t = ", ".join(_sym("y", u + 1, v + 1)[0] for u, v in cells)
                sym_l = ",".join(_sym("y", u + 1, v + 1)[1] for u, v in cells)
                num_t = ", ".join(num_text(Y[u, v], p) for u, v in cells)
                num_l = ",".join(num_latex(Y[u, v], p) for u, v in cells)
                e = _entry(f"p_{a + 1}{c + 1}", _sym("p", a + 1, c + 1),
                           (f"max({sym_t}) = max({num_t}) = {_sym('y', *win)[0]} = {num_text(P[a, c], p)}",
                            rf"\max({sym_l})=\max({num_l})={_sym('y', *win)[1]}={num_latex(P[a, c], p)}"), P[a, c])
                e["winner"] = f"y_{win[0]}{win[1]}"
                eqs.append(e)
        items += [("h", 3, T["pool"]), ("p", T["pool_text"]),
                  ("rule", T["pool_rule"].format(op=pnode.op.name, s=ps), pnode.op.formula_latex,
                   pool_formula if lang == "en" else T["pool_formula"]),
                  ("eqs", eqs), ("grid", T["pooled"], "p", P)]
        grids["p"] = P

    # 2. loss
    terms_t = " + ".join(f"({num_text(v, p)} − {num_text(tv, p)})²" for v, tv in zip(OUT.ravel(), TG.ravel()))
    terms_l = "+".join(f"\\left({num_latex(v, p)}-{num_latex(tv, p)}\\right)^{{2}}"
                       for v, tv in zip(OUT.ravel(), TG.ravel()))
    items += [("h", 3, T["loss"]),
              ("eqs", [_entry("loss", ("L", "L"), (f"½ Σ_ij ({o}_ij − t_ij)² = ½ [{terms_t}] = {num_text(L, p)}",
                                                   rf"\frac{{1}}{{2}}\sum_{{ij}}\left({o}_{{ij}}-t_{{ij}}\right)^{{2}}"
                                                   rf"=\frac{{1}}{{2}}\left[{terms_l}\right]={num_latex(L, p)}"), L)])]

    # 3. backward (4. with a pool)
    conv_rule = ("rule", T["rule"].format(op=node.op.name),
                 node.op.derivative_latex if has_bias else
                 node.op.derivative_latex.rsplit(r",\ \frac{\partial L}{\partial b_o}", 1)[0],
                 derivative if lang == "en" else T["dk_text"])
    if pooled:
        items += [("h", 3, T["backward"])]
        _pool_backward(items, grids, T, lang, p, P, TG, GP, GY, WR, WC, pnode, ps, pool_derivative)
        items += [("h", 4, T["dk"]), conv_rule]
    else:
        items += [("h", 3, T["backward"]), conv_rule]
        _dy_section(items, grids, T, p, Y, TG, GY)

    eqs = []
    for i in range(kh):
        for j in range(kw):
            pairs = [((_sym("dL/dy", a + 1, c + 1), GY[a, c]), (_sym("x", a + i + 1, c + j + 1), X[a + i, c + j]))
                     for a in range(oh) for c in range(ow)]
            if pooled:  # most of ∂L/∂y is 0 behind a max pool: write the terms that are not
                pairs = [t for t in pairs if t[0][1] != 0] or pairs
            eqs.append(_entry(f"dL_dk_{i + 1}{j + 1}", _sym("dL/dk", i + 1, j + 1), _products(pairs, GK[i, j], p), GK[i, j]))
    items += ([("p", T["dk_text"]), ("p", T["zero_terms"])] if pooled else [("h", 4, T["dk"]), ("p", T["dk_text"])])
    items += [("eqs", eqs), ("grid", T["dk_grid"], "dL_dk", GK)]
    grids["dL_dk"] = GK
    if has_bias:
        sum_t = " + ".join(num_text(v, p, True) for v in GY.ravel())
        items += [("p", T["db"]), ("eqs", [_entry("dL_db", ("∂L/∂b", r"\frac{\partial L}{\partial b}"),
                                                  (f"{sum_t} = {num_text(GB, p)}", f"{sum_t.replace('−', '-')}={num_latex(GB, p)}"), GB)])]

    padded = np.zeros((oh + 2 * (kh - 1), ow + 2 * (kw - 1)))
    padded[kh - 1:kh - 1 + oh, kw - 1:kw - 1 + ow] = GY  # the layout of the picture, from the recorded ∂L/∂y
    shown = [*SHOWN_INPUT_PIXELS, (h, w)]
    eqs = [_dx_entry(u, v, GY, K, GX, p) for u, v in shown]
    items += [("h", 4, T["dx"]), ("p", T["dx_text"]), ("grid", T["padded"], "dL_dy_padded", padded),
              ("grid", T["flipped"], "k_flipped", K[::-1, ::-1]), ("p", T["dx_some"]), ("eqs", eqs),
              ("grid", T["dx_grid"], "dL_dx", GX)]
    grids["dL_dx"] = GX

    # 5. finite differences on the weights the step starts from (before the update)
    check = _finite_differences(net, conv, x, target, GK, GB, p)

    # 4. update: the engine's optimizer takes the step
    from ..optim import SGD

    before_k, before_b = K.copy(), B
    SGD(net.parameters(), lr=spec.lr).step()
    K1 = np.asarray(conv.weight.array)[0, 0]
    eqs = [_entry(f"k_{i + 1}{j + 1}_after", (f"k_{i + 1}{j + 1}", f"k_{{{i + 1}{j + 1}}}"),
                  (f"k_{i + 1}{j + 1} − η·∂L/∂k_{i + 1}{j + 1} = {num_text(before_k[i, j], p)} − "
                   f"{num_text(spec.lr, p)}×{num_text(GK[i, j], p, True)} = {num_text(K1[i, j], p)}",
                   rf"k_{{{i + 1}{j + 1}}}-\eta\frac{{\partial L}}{{\partial k_{{{i + 1}{j + 1}}}}}="
                   rf"{num_latex(before_k[i, j], p)}-{num_latex(spec.lr, p)}\times {num_latex(GK[i, j], p, True)}="
                   rf"{num_latex(K1[i, j], p)}"), K1[i, j], "←")
           for i in range(kh) for j in range(kw)]
    if has_bias:
        B1 = float(np.asarray(conv.bias.array)[0])
        eqs.append(_entry("b_after", ("b", "b"), (f"b − η·∂L/∂b = {num_text(before_b, p)} − {num_text(spec.lr, p)}×"
                                                  f"{num_text(GB, p, True)} = {num_text(B1, p)}",
                                                  rf"b-\eta\frac{{\partial L}}{{\partial b}}={num_latex(before_b, p)}-"
                                                  rf"{num_latex(spec.lr, p)}\times {num_latex(GB, p, True)}={num_latex(B1, p)}"), B1, "←"))
    items += [("h", 3, T["update"]), ("eqs", eqs), ("grid", T["new_kernel"], "k_after", K1)]
    grids["k_after"] = K1

    items += [("h", 3, T["check"]), ("p", T["check_text"].format(eps=num_text(FD_EPS, 2))),
              ("table", list(T["check_head"]),
               [[c["symbol"], num_text(c["engine"], p), num_text(c["numeric"], p), f"{c['relative_error']:.1e}"]
                for c in check])]
    return ConvDerivation(spec, lang, p, items, grids, check, L)


def _dx_entry(u, v, GY, K, GX, p):
    """∂L/∂x_uv (1-based) as its sum of products ∂L/∂y_(u−i+1)(v−j+1)·k_ij over the outputs it feeds."""
    (oh, ow), (kh, kw) = GY.shape, K.shape
    pairs = [((_sym("dL/dy", u - i, v - j), GY[u - i - 1, v - j - 1]), (_sym("k", i + 1, j + 1), K[i, j]))
             for i in range(kh) for j in range(kw) if 0 <= u - i - 1 < oh and 0 <= v - j - 1 < ow]
    return _entry(f"dL_dx_{u}{v}", _sym("dL/dx", u, v), _products(pairs, GX[u - 1, v - 1], p), GX[u - 1, v - 1])


def _dy_section(items, grids, T, p, Y, TG, GY):
    """∂L/∂y = y − t for every output pixel (the loss reads y directly)."""
    oh, ow = Y.shape
    eqs = [_entry(f"dL_dy_{a + 1}{c + 1}", _sym("dL/dy", a + 1, c + 1),
                  (f"y_{a + 1}{c + 1} − t_{a + 1}{c + 1} = {num_text(Y[a, c], p)} − {num_text(TG[a, c], p, True)} = "
                   f"{num_text(GY[a, c], p)}",
                   f"y_{{{a + 1}{c + 1}}}-t_{{{a + 1}{c + 1}}}={num_latex(Y[a, c], p)}-{num_latex(TG[a, c], p, True)}="
                   f"{num_latex(GY[a, c], p)}"), GY[a, c])
           for a in range(oh) for c in range(ow)]
    items += [("h", 4, T["dy"]), ("p", T["dy_text"]), ("eqs", eqs), ("grid", T["dy_grid"], "dL_dy", GY)]
    grids["dL_dy"] = GY


def _pool_backward(items, grids, T, lang, p, P, TG, GP, GY, WR, WC, pnode, ps, pool_derivative):
    """∂L/∂p = p − t, then through the max pool: each window's winner (found by the op) gets ∂L/∂p of its
    window; the value written is the engine's own ∂L/∂y at that cell."""
    qh, qw = P.shape
    eqs = [_entry(f"dL_dp_{a + 1}{c + 1}", _sym("dL/dp", a + 1, c + 1),
                  (f"p_{a + 1}{c + 1} − t_{a + 1}{c + 1} = {num_text(P[a, c], p)} − {num_text(TG[a, c], p, True)} = "
                   f"{num_text(GP[a, c], p)}",
                   f"p_{{{a + 1}{c + 1}}}-t_{{{a + 1}{c + 1}}}={num_latex(P[a, c], p)}-{num_latex(TG[a, c], p, True)}="
                   f"{num_latex(GP[a, c], p)}"), GP[a, c])
           for a in range(qh) for c in range(qw)]
    items += [("h", 4, T["dp"]), ("p", T["dp_text"]), ("eqs", eqs), ("grid", T["dp_grid"], "dL_dp", GP)]
    grids["dL_dp"] = GP
    eqs = []
    for a in range(qh):
        for c in range(qw):
            u, v = int(WR[a, c]), int(WC[a, c])
            dp = _sym("dL/dp", a + 1, c + 1)
            eqs.append(_entry(f"dL_dy_{u + 1}{v + 1}", _sym("dL/dy", u + 1, v + 1),
                              (f"{dp[0]} = {num_text(GY[u, v], p)}", f"{dp[1]}={num_latex(GY[u, v], p)}"), GY[u, v]))
    items += [("h", 4, T["dy"]),
              ("rule", T["pool_rule"].format(op=pnode.op.name, s=ps), pnode.op.derivative_latex,
               pool_derivative if lang == "en" else T["pool_derivative"]),
              ("p", T["dy_text"]), ("eqs", eqs), ("p", T["losers"]), ("grid", T["dy_grid"], "dL_dy", GY)]
    grids["dL_dy"] = GY


def _finite_differences(net, conv, x, target, GK, GB, p):
    """Central differences of the loss, recomputed by the engine's forward, for every kernel weight (and b)."""
    rows = []
    kh, kw = GK.shape
    for i in range(kh):
        for j in range(kw):
            idx = (0, 0, i, j)
            num = layered_central_difference(net, x, target, conv.weight, idx, FD_EPS)
            rows.append({"key": f"dL_dk_{i + 1}{j + 1}", "symbol": f"∂L/∂k_{i + 1}{j + 1}", "engine": float(GK[i, j]),
                         "numeric": num, "relative_error": relative_error(float(GK[i, j]), num)})
    if GB is not None:
        num = layered_central_difference(net, x, target, conv.bias, (0,), FD_EPS)
        rows.append({"key": "dL_db", "symbol": "∂L/∂b", "engine": GB, "numeric": num,
                     "relative_error": relative_error(GB, num)})
    return rows


# ----------------------------------------------------------------------------- grading (chainrule grade)
# The quantities a learner works, in the order they are worked: the keys of ``to_dict()["grids"]`` plus
# the loss (and ∂L/∂b, b after the step where the convolution has a bias). ``replay`` computes them all
# with the engine's ops from the learner's own earlier answers; ``classic_mistakes`` each the way a
# classic mistake does. Both are read by ``chainrule.grading.layered``.
MISTAKES = ("forward_flipped", "bias_forgotten", "half_forgotten", "sign", "pool_spread", "pool_average", "pool_first_cell",
            "kernel_not_flipped", "dk_flipped", "dk_transposed", "ascent")


def _numbers(spec):
    """x, k, t as float64 grids and the bias (None without one): the numbers the derivation starts from."""
    from ..layered import LayeredNetwork

    _validate(spec)
    conv = LayeredNetwork(spec).double_exact().body[0]
    K = np.array(conv.weight.array, dtype=np.float64)[0, 0]
    B = None if conv.bias is None else float(np.asarray(conv.bias.array)[0])
    return np.asarray(spec.x, dtype=np.float64)[0], K, np.asarray(spec.y, dtype=np.float64)[0], B


def _grid_tensor(a, grad=False):
    from .. import float64, tensor

    return tensor(np.asarray(a, dtype=np.float64)[None, None], dtype=float64, requires_grad=grad)


def _sgd(value, grad, lr):
    """One step of the engine's SGD on a copy of ``value`` (a grid or a scalar)."""
    from .. import float64, tensor
    from ..nn import Parameter
    from ..optim import SGD

    w = Parameter(tensor(np.array(value, dtype=np.float64), dtype=float64))
    w.grad = tensor(np.array(grad, dtype=np.float64), dtype=float64)
    SGD([w], lr=lr).step()
    return np.array(w.array)


def replay(spec, given: dict | None = None, mistake: str | None = None) -> dict:
    """Every quantity of the step computed by the engine's ops the way ``mistake`` (one of ``MISTAKES``)
    would, each from the learner's own earlier answers where ``given`` holds them (a NaN cell was left
    blank: the computed value stands in). A quantity in ``given`` is still returned as computed, so the
    grader can tell an answer carried from an earlier one. With neither, the derivation's own numbers."""
    from ..functional_nn import avg_pool2d, conv2d, max_pool2d
    from ..grading.given import Given

    given_ = Given(given)
    use = given_.use
    X, K, TG, B = _numbers(spec)
    pooled = len(spec.blocks) == 2
    bias = None if B is None else _grid_tensor(B).reshape(1)
    # forward: the engine's conv2d, which correlates (a learner who flips the kernel convolves)
    y = conv2d(_grid_tensor(X), _grid_tensor(K[::-1, ::-1] if mistake == "forward_flipped" else K),
               None if mistake == "bias_forgotten" else bias)
    Y = use("y", np.array(y.array)[0, 0])
    out_value = Y
    if pooled:
        size = spec.blocks[1]["kernel_size"]
        y_leaf = _grid_tensor(Y, grad=True)
        p = max_pool2d(y_leaf, size)
        out_value = use("p", np.array(p.array)[0, 0])
    grad_name = "dL_dp" if pooled else "dL_dy"
    out = _grid_tensor(out_value, grad=True)
    loss = 0.5 * ((out - _grid_tensor(TG)) ** 2).sum()
    loss.backward()
    factor = 2.0 if mistake == "half_forgotten" else 1.0  # L = Σ(o − t)², ∂L/∂o = 2(o − t)
    use("loss", factor * float(np.asarray(loss.array)))
    sign = -1.0 if mistake == "sign" else 1.0            # ∂L/∂o = t − o
    dout = use(grad_name, sign * factor * np.array(out.grad.array)[0, 0])
    if pooled:
        if mistake in ("pool_spread", "pool_average"):  # an average pool's gradient (× the window's area: spread)
            y_avg = _grid_tensor(Y, grad=True)
            avg_pool2d(y_avg, size).backward(_grid_tensor(dout))
            area = size * size if isinstance(size, int) else size[0] * size[1]
            dy = np.array(y_avg.grad.array)[0, 0] * (area if mistake == "pool_spread" else 1.0)
        elif mistake == "pool_first_cell":  # every window's gradient to its top-left cell
            step = size if isinstance(size, int) else size[0]
            dy = np.zeros_like(Y)
            dy[0:dout.shape[0] * step:step, 0:dout.shape[1] * step:step] = dout
        else:  # the op's own routing to each window's winner
            p.backward(_grid_tensor(dout))
            dy = np.array(y_leaf.grad.array)[0, 0]
        dout = use("dL_dy", dy)
    dy = dout
    # ∂L/∂k (and ∂L/∂b): the conv op's own vector-Jacobian product with the learner's ∂L/∂y
    k_leaf = _grid_tensor(K, grad=True)
    b_leaf = None if B is None else _grid_tensor(B, grad=True)
    conv2d(_grid_tensor(X), k_leaf, None if b_leaf is None else b_leaf.reshape(1)).backward(_grid_tensor(dy))
    dk = np.array(k_leaf.grad.array)[0, 0]
    if mistake == "dk_flipped":     # the input convolved with ∂L/∂y (flipped) instead of correlated
        dk = np.array(conv2d(_grid_tensor(X), _grid_tensor(dy[::-1, ::-1])).array)[0, 0]
    elif mistake == "dk_transposed":  # ∂L/∂k_ij written at k_ji
        dk = dk.T.copy()
    dk = use("dL_dk", dk)
    db = None if B is None else use("dL_db", float(np.asarray(b_leaf.grad.array).ravel()[0]))
    # ∂L/∂x: ∂L/∂y padded with zeros, correlated (the engine's conv2d) with the kernel flipped
    kh, kw = K.shape
    padded = np.pad(dy, ((kh - 1, kh - 1), (kw - 1, kw - 1)))
    flipped = K.copy() if mistake == "kernel_not_flipped" else K[::-1, ::-1].copy()
    use("dL_dx", np.array(conv2d(_grid_tensor(padded), _grid_tensor(flipped)).array)[0, 0])
    # the update, by the engine's SGD; "ascent" takes the same step the other way
    k_after = _sgd(K, dk, spec.lr)
    use("k_after", 2 * K - k_after if mistake == "ascent" else k_after)
    if B is not None:
        b_after = float(_sgd(B, db, spec.lr))
        use("b_after", 2 * B - b_after if mistake == "ascent" else b_after)
    return given_.computed


def mistakes_for(spec) -> tuple:
    """The classic mistakes that can happen on this spec (pooling ones behind a pool, a transpose with a
    square kernel, a forgotten bias where there is one)."""
    pooled = len(spec.blocks) == 2
    kh, kw = np.shape(spec.blocks[0]["weight"])[2:]
    bias = spec.blocks[0].get("bias", True)
    return tuple(m for m in MISTAKES if (pooled or not m.startswith("pool_")) and (m != "dk_transposed" or kh == kw)
                 and (bias or m != "bias_forgotten"))


def classic_mistakes(spec) -> dict:
    """mistake id -> {quantity: its value as the mistake computes it}, only the quantities it changes
    (an empty dict: on this spec the mistake gives the right numbers)."""
    truth = replay(spec)
    out = {}
    for m in mistakes_for(spec):
        world = replay(spec, mistake=m)
        out[m] = {k: v for k, v in world.items() if not np.allclose(v, truth[k], rtol=1e-12, atol=1e-12)}
    return out


def cell_lines(derivation) -> dict:
    """(quantity, cell index) -> (symbol, written line) for every cell a learner answers: the
    derivation's own equations, every input pixel's ∂L/∂x written the same way, and a short line for
    the cells the derivation states in words (∂L/∂y = 0 behind the pool, the padding, the flipped kernel)."""
    from ..grading.messages import message

    lang, p, g = derivation.lang, derivation.precision, derivation.grids
    out = {}
    for e in derivation.entries:
        key = e["key"]
        if key in ("loss", "dL_db", "b_after"):
            out[(key, ())] = (e["symbol"], e["expression"])
            continue
        name, _, digits = key.removesuffix("_after").rpartition("_")
        name += "_after" if key.endswith("_after") else ""
        if name in g and len(digits) == 2:
            out[(name, (int(digits[0]) - 1, int(digits[1]) - 1))] = (e["symbol"], e["expression"])
    GY, K, GX = (np.asarray(g[k]) for k in ("dL_dy", "k", "dL_dx"))
    for u in range(GX.shape[0]):
        for v in range(GX.shape[1]):
            e = _dx_entry(u + 1, v + 1, GY, K, GX, p)
            out[("dL_dx", (u, v))] = (e["symbol"], e["expression"])
    for (i, j) in np.ndindex(GY.shape):
        if ("dL_dy", (i, j)) not in out:  # behind the pool: a cell that won no window
            out[("dL_dy", (i, j))] = (_sym("dL/dy", i + 1, j + 1)[0], message(lang, "line_not_winner", y=f"y_{i + 1}{j + 1}"))
    return out
