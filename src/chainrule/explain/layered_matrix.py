"""Matrix form of a layered spec's training step: block by block, for networks too large to write out
pixel by pixel (``chainrule derive lenet-digits``).

``derive_layered_matrix(spec)`` runs one step of the spec's network with the engine in float64 — on
the spec's own ``x``/``y`` when it fixes them, else on the first sample of the bundled digits set when
the network's input and output fit it (64 pixels, 10 classes), else on a seeded random input — with
``retain_grad()`` on every block's output. It then writes, for each module of the network (a block and
its activation are two): its kind, hyper-parameters and weight shapes, the shapes in and out, the
rules of the ops the engine recorded for it (each op's own ``formula``/``derivative`` and LaTeX twins,
read from the recorded nodes: nothing is restated here), a few numbers of its output and gradients
(a top-left slice as a small matrix, with mean and max|·|), the loss, the update with each
parameter's gradient norm, and a central-difference check of a few entries of every parameter.
"""

from __future__ import annotations

import json

import numpy as np

from ..autograd import no_grad, tensor_order
from ..check import relative_error
from ..errors import SpecError
from .conv import ConvDerivation
from .matrix import mat
from .symbols import derive_options, num_text

DEFAULT_PRECISION = 6
FD_EPS = 1e-6
MAX_PARAMS = 250_000      # beyond this the step (and its check) is no longer a page-sized read
MAX_VALUES = 500_000      # elements of one block's output
MAX_MODULES = 40
BATCH_NORM = 4            # samples drawn for a spec with batch norm and no x (one sample has no batch statistics)
FD_ENTRIES = 3            # entries of each parameter checked by central differences
HYPER = ("out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "out", "hidden_size",
         "nonlinearity", "p", "momentum", "eps", "last")

LABELS = {
    "en": {
        "title": "Backpropagation through {name}, in matrix form",
        "setup": "Setup",
        "setup_text": ("One training step of the network below, in float64. Input: {sample}. Loss: {loss}; "
                       "optimizer: {opt}, learning rate η = {lr}; {n} parameters in {m} modules; weights {init}. "
                       "Every tensor is shown by a top-left slice of at most 4×6 entries (which slice is named), "
                       "with its shape, mean and largest magnitude."),
        "fixed": "the spec's fixed x and y", "digits": "the first sample of the bundled digits set (pixels / 16), label {y}",
        "random": "a seeded random input x ~ N(0, 1) (seed {seed}), target {y}",
        "digits_n": ("the first {n} samples of the bundled digits set (pixels / 16; batch norm needs more than one), "
                     "labels {y}"),
        "random_n": ("a seeded random batch of {n} inputs x ~ N(0, 1) (seed {seed}; batch norm needs more than one), "
                     "targets {y}"),
        "init_fixed": "as the spec fixes them (any others drawn with seed {seed})", "init_seed": "drawn with the spec's seed {seed}",
        "init_zero": "drawn with seed 0 (the spec has no seed)",
        "forward": "1. Forward pass", "block": "Module {i}{at}: {kind}{hyper}",
        "shapes": "Shape in {a} → shape out {b}{params}.", "weights": "; parameters: {w}",
        "rule": "The {op} op's forward rule:", "rule_d": "The {op} op's vector-Jacobian rule:",
        "out": "Output", "input": "Input x",
        "loss": "2. Loss", "loss_value": "L = {v}",
        "backward": "3. Backward pass (last module first)",
        "grad_out": "∂L/∂output", "grad_in": "∂L/∂input", "grad_p": "∂L/∂{p}", "norm": "‖∂L/∂{p}‖ = {v}",
        "update": "4. Update",
        "update_text": {"sgd": "SGD: w ← w − η ∂L/∂w for every parameter, η = {lr}.",
                        "momentum": "SGD with momentum {mom}: v ← μv + ∂L/∂w, w ← w − ηv (v starts at 0), η = {lr}.",
                        "adam": "Adam (β₁ = {b1}, β₂ = {b2}, ε = {eps}), η = {lr}: its first step moves each weight by "
                                "about η in the direction of −∂L/∂w."},
        "update_head": ("parameter", "shape", "‖∂L/∂w‖", "‖Δw‖ after the step"),
        "loss_after": "Loss on the same sample after the step: {v}.",
        "check": "5. Finite-difference check",
        "check_text": ("Central differences (L(w + ε) − L(w − ε)) / 2ε with ε = {eps} for {k} entries of each "
                       "parameter (the first, the largest gradient, the last), against the engine's gradient:"),
        "check_head": ("entry", "engine", "finite differences", "relative error"),
        "slice": "{name}{idx}, shape {shape}: mean {mean}, max|·| {mx}",
    },
    "zh": {
        "title": "`{name}` 的反向传播（矩阵形式）",
        "setup": "设定",
        "setup_text": ("下面网络的一次训练（float64）。输入：{sample}。损失：{loss}；优化器：{opt}，学习率 η = {lr}；"
                       "共 {n} 个参数，{m} 个模块；权重{init}。每个张量只显示左上角至多 4×6 个元素（注明取自哪一片），"
                       "并给出形状、均值与绝对值最大值。"),
        "fixed": "配置文件中给定的 x 与 y", "digits": "自带手写数字数据集的第一个样本（像素值除以 16），标签 {y}",
        "random": "以种子 {seed} 生成的随机输入 x ~ N(0, 1)，目标 {y}",
        "digits_n": "自带手写数字数据集的前 {n} 个样本（像素值除以 16；批归一化需要不止一个样本），标签 {y}",
        "random_n": "以种子 {seed} 生成的 {n} 个随机输入 x ~ N(0, 1)（批归一化需要不止一个样本），目标 {y}",
        "init_fixed": "由配置文件给定（其余以种子 {seed} 生成）", "init_seed": "以配置文件的种子 {seed} 生成",
        "init_zero": "以种子 0 生成（配置文件未给种子）",
        "forward": "1. 前向传播", "block": "模块 {i}{at}：{kind}{hyper}",
        "shapes": "输入形状 {a} → 输出形状 {b}{params}。", "weights": "；参数：{w}",
        "rule": "算子 {op} 的前向公式：", "rule_d": "算子 {op} 的向量-雅可比公式：",
        "out": "输出", "input": "输入 x",
        "loss": "2. 损失", "loss_value": "L = {v}",
        "backward": "3. 反向传播（从最后一个模块开始）",
        "grad_out": "∂L/∂输出", "grad_in": "∂L/∂输入", "grad_p": "∂L/∂{p}", "norm": "‖∂L/∂{p}‖ = {v}",
        "update": "4. 参数更新",
        "update_text": {"sgd": "SGD：对每个参数 w ← w − η ∂L/∂w，η = {lr}。",
                        "momentum": "带动量 {mom} 的 SGD：v ← μv + ∂L/∂w，w ← w − ηv（v 从 0 开始），η = {lr}。",
                        "adam": "Adam（β₁ = {b1}，β₂ = {b2}，ε = {eps}），η = {lr}：第一步使每个权重沿 −∂L/∂w 的方向移动约 η。"},
        "update_head": ("参数", "形状", "‖∂L/∂w‖", "更新后的 ‖Δw‖"),
        "loss_after": "更新后同一样本上的损失：{v}。",
        "check": "5. 有限差分检验",
        "check_text": ("中心差分 (L(w + ε) − L(w − ε)) / 2ε，ε = {eps}，每个参数取 {k} 个元素（第一个、梯度最大的、最后一个），"
                       "与引擎的梯度比较："),
        "check_head": ("元素", "引擎", "有限差分", "相对误差"),
        "slice": "{name}{idx}，形状 {shape}：均值 {mean}，绝对值最大 {mx}",
    },
}
KIND_ZH = {"conv2d": "卷积", "maxpool2d": "最大池化", "avgpool2d": "平均池化", "batchnorm": "批归一化",
           "dropout": "随机失活", "flatten": "展平", "linear": "全连接", "rnn": "循环层", "activation": "激活"}
LOSS_NAMES = {"en": {"cross_entropy": "cross-entropy of softmax", "mse": "mean squared error", "half_sse": "½Σ(y − t)²"},
              "zh": {"cross_entropy": "softmax 的交叉熵", "mse": "均方误差", "half_sse": "½Σ(y − t)²"}}


def _slice(a):
    """The top-left 2-D slice shown for an array, and its index text: x[0, 0] for (1, C, H, W)."""
    a = np.asarray(a, dtype=float)
    lead = a.ndim - 2 if a.ndim >= 2 else 0
    view = a[(0,) * lead] if a.ndim >= 2 else np.atleast_2d(a)
    rows, cols = min(view.shape[0], 4), min(view.shape[1], 6)
    return view[:rows, :cols], ("[" + ", ".join(["0"] * lead) + "]" if lead else "")


def summary(a) -> dict:
    """What the derivation shows of a tensor: shape, the slice (as nested lists), mean, max|·|, norm."""
    a = np.asarray(a, dtype=float)
    head, idx = _slice(a)
    return {"shape": list(a.shape), "slice": idx, "head": head.tolist(), "mean": float(a.mean()),
            "max_abs": float(np.abs(a).max()), "norm": float(np.linalg.norm(a.ravel()))}


def _rules(nodes) -> list[dict]:
    """Each distinct op recorded for a module, with its written rules (the op's own)."""
    out, seen = [], set()
    for n in nodes:
        if n.op.name in seen:
            continue
        seen.add(n.op.name)
        formula, derivative = n.op.describe(n)
        out.append({"op": n.op.name, "formula": formula, "derivative": derivative,
                    "formula_latex": n.op.formula_latex, "derivative_latex": n.op.derivative_latex})
    return out


def _sample(spec, net):
    """(x, target, how) for the step: the spec's x/y, the first digits sample, or a seeded random one (the
    first BATCH_NORM samples, or as many random ones, when a batch norm needs a batch)."""
    from .. import float64, int64, tensor

    if spec.x is not None and spec.y is not None:
        x, y = spec.batch()
        target = tensor(y, dtype=int64 if spec.loss == "cross_entropy" else float64)
        return tensor(x, dtype=float64, requires_grad=True), target, ("fixed", {})
    with no_grad():
        net.eval()
        out_shape = tuple(net(tensor(np.zeros((1, *spec.input_shape)), dtype=float64)).shape[1:])
        net.train()
    n = BATCH_NORM if any(b["kind"] == "batchnorm" for b in spec.blocks) else 1
    if int(np.prod(spec.input_shape)) == 64 and out_shape == (10,) and spec.loss == "cross_entropy":
        from ..data.datasets import load_digits

        images, labels = load_digits()
        x = images[:n].astype(np.float64).reshape(n, *spec.input_shape)
        return (tensor(x, dtype=float64, requires_grad=True), tensor(labels[:n].astype(np.int64), dtype=int64),
                ("digits", {"n": n, "y": ", ".join(str(int(v)) for v in labels[:n])}))
    seed = 0 if spec.seed is None else spec.seed
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, *spec.input_shape))
    if spec.loss == "cross_entropy":
        y, target = "0", tensor(np.zeros(n, dtype=np.int64), dtype=int64)
    else:
        y, target = "0", tensor(np.zeros((n, *out_shape)), dtype=float64)
    return tensor(x, dtype=float64, requires_grad=True), target, ("random", {"n": n, "seed": seed, "y": y})


def _validate(spec, net):
    where = spec.source
    n = sum(int(np.prod(p.shape)) for p in net.parameters())
    if n > MAX_PARAMS:
        raise SpecError(f"{where}: derive writes the matrix form of networks up to {MAX_PARAMS:,} parameters "
                        f"(this one has {n:,}); train it with chainrule train and check it with chainrule check")
    if len(net.body) > MAX_MODULES:
        raise SpecError(f"{where}: derive writes the matrix form of networks up to {MAX_MODULES} modules "
                        f"(this one has {len(net.body)})")
    return n


def _step(spec):
    """The recorded step: network, input, target, per-module (input, output, nodes), loss."""
    from ..layered import LayeredNetwork
    from ..random import manual_seed

    if spec.seed is None:
        manual_seed(0)
    net = LayeredNetwork(spec).double_exact()
    n = _validate(spec, net)
    x, target, how = _sample(spec, net)
    seed = 0 if spec.seed is None else spec.seed
    manual_seed(seed)  # a dropout mask drawn the same way in the check's forward passes
    h, stages = x, []
    for i, m in enumerate(net.body):
        before = {id(t) for t in tensor_order(h)} | {id(h)} if h.grad_fn is not None else {id(h)}
        out = m(h)
        if int(np.prod(out.shape)) > MAX_VALUES:
            raise SpecError(f"{spec.source}: module {i} ({type(m).__name__}) outputs {int(np.prod(out.shape)):,} "
                            f"values; derive writes the matrix form up to {MAX_VALUES:,} per module")
        nodes = [t.grad_fn for t in reversed(tensor_order(out)) if id(t) not in before] + [out.grad_fn]
        out.retain_grad()
        stages.append({"module": m, "input": h, "output": out, "rules": _rules(nodes)})
        h = out
    loss = net.loss_from_output(h, target)
    loss_rules = _rules([loss.grad_fn])
    loss.backward()
    return net, x, target, how, stages, loss, loss_rules, n, seed


def _loss_of(net, x, target, seed):
    from ..random import manual_seed

    with no_grad():
        manual_seed(seed)
        return float(np.asarray(net.loss_from_output(net(x), target).array))


def _fd(net, x, target, seed, names, lang):
    """Central differences of a few entries of every parameter against the engine's gradient."""
    rows = []
    xd = x.detach()
    for name, prm in net.named_parameters():
        g = np.asarray(prm.grad.array)
        flat = g.ravel()
        picks = sorted({0, int(np.argmax(np.abs(flat))), flat.size - 1})[:FD_ENTRIES]
        arr = prm.array
        for k in picks:
            idx = np.unravel_index(k, arr.shape)
            old = arr[idx]
            arr[idx] = old + FD_EPS
            up = _loss_of(net, xd, target, seed)
            arr[idx] = old - FD_EPS
            down = _loss_of(net, xd, target, seed)
            arr[idx] = old
            fd = (up - down) / (2 * FD_EPS)
            rows.append({"param": names[name], "index": [int(v) for v in idx], "engine": float(g[idx]), "fd": fd,
                         "rel_error": float(relative_error(g[idx], fd))})
    return rows


def _kind(net, i, spec):
    """(kind, block dict or None) of body module ``i``: a spec block, or the activation after one."""
    if i in net.block_of:
        b = spec.blocks[net.block_of[i]]
        return b["kind"], b
    return "activation", None  # the activation of the block before it (net.block_of[i - 1])


def derive_layered_matrix(spec, lang: str = "en", precision: int | None = None) -> "MatrixDerivation":
    p = derive_options(LABELS, lang, precision, DEFAULT_PRECISION)
    net, x, target, (how, how_args), stages, loss, loss_rules, n, seed = _step(spec)
    names = net.parameter_names()
    L = float(np.asarray(loss.array))
    blocks = []
    for i, st in enumerate(stages):
        kind, b = _kind(net, i, spec)
        params = {names[f"body.{i}.{k}"]: list(v.shape) for k, v in st["module"].named_parameters()}
        grads = {names[f"body.{i}.{k}"]: summary(v.grad.array) for k, v in st["module"].named_parameters()
                 if v.grad is not None}
        gin = st["input"].grad
        blocks.append({
            "module": i, "block": net.block_of[i] if b is not None else net.block_of[i - 1], "kind": kind,
            "name": type(st["module"]).__name__,
            "hyper": {} if b is None else {k: b[k] for k in HYPER if k in b},
            "params": params, "shape_in": list(st["input"].shape), "shape_out": list(st["output"].shape),
            "ops": st["rules"], "value": summary(st["output"].array),
            "grad_out": summary(st["output"].grad.array),
            "grad_in": None if gin is None else summary(gin.array), "grads": grads,
        })
    # the update, run by the optimizer the spec names
    from ..network import make_optimizer

    before = {k: np.array(v.array) for k, v in net.named_parameters()}
    grad_norms = {k: float(np.linalg.norm(np.asarray(v.grad.array).ravel())) for k, v in net.named_parameters()}
    check = _fd(net, x, target, seed, names, lang)
    opt = make_optimizer(spec, net.parameters())
    opt.step()
    update = [{"param": names[k], "shape": list(v.shape), "grad_norm": grad_norms[k],
               "step_norm": float(np.linalg.norm((np.asarray(v.array) - before[k]).ravel()))}
              for k, v in net.named_parameters()]
    loss_after = _loss_of(net, x.detach(), target, seed)
    sample = {"source": how, **how_args, "x": summary(x.array)}
    return MatrixDerivation(spec, lang, p, n, sample, blocks, L, loss_rules, update, loss_after, check)


class MatrixDerivation(ConvDerivation):
    """The written matrix form; ``markdown()``, ``text()``, ``to_json()`` (rendered as the tiny
    derivations are, from ``items``, with ("mat", label, caption, text, latex) slices). ``blocks`` holds
    one dict per module (kind, hyper-parameters, weight shapes, shapes, the ops' rules and the numbers
    shown)."""

    SUB_RULE = "·"
    LATEX_RULES_IN_ZH = True  # the ops' plain-text rules are written in English

    def __init__(self, spec, lang, precision, n_params, sample, blocks, loss, loss_rules, update, loss_after, check):
        self.spec, self.lang, self.precision, self.n_params = spec, lang, precision, n_params
        self.sample, self.blocks, self.loss, self.loss_rules = sample, blocks, loss, loss_rules
        self.update, self.loss_after, self.check = update, loss_after, check

    def to_dict(self) -> dict:
        s = self.spec
        return {"format": "chainrule-derivation", "version": 1, "kind": "layered-matrix",
                "spec": {"name": s.name, "input": list(s.input_shape), "loss": s.loss, "lr": s.lr,
                         "optimizer": s.optimizer},
                "lang": self.lang, "precision": self.precision, "n_params": self.n_params, "sample": self.sample,
                "blocks": self.blocks, "loss": self.loss, "loss_ops": self.loss_rules, "update": self.update,
                "loss_after": self.loss_after, "check": self.check}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)

    # ---- the document, as items rendered by markdown() and text()
    def _n(self, v):
        return num_text(v, self.precision)

    def _kind_name(self, b):
        if self.lang == "zh":
            return f"{KIND_ZH.get(b['kind'], b['kind'])}（`{b['name']}`）"
        return f"{b['kind']} ({b['name']})" if b["kind"] != "activation" else f"activation ({b['name']})"

    def _head(self, b):
        at = f"（`layers[{b['block']}]`）" if self.lang == "zh" else f" (layers[{b['block']}])"
        return LABELS[self.lang]["block"].format(i=b["module"], at=at, kind=self._kind_name(b), hyper=self._hyper(b))

    def _hyper(self, b):
        if not b["hyper"]:
            return ""
        inner = ", ".join(f"{k} = {v}" for k, v in b["hyper"].items())
        return f"，`{inner}`" if self.lang == "zh" else f", {inner}"

    def _mat(self, label, name, s):
        T = LABELS[self.lang]
        head = np.asarray(s["head"], dtype=float)
        text, latex = mat(head, self.precision)
        text = text.rsplit(" (", 1)[0]  # the slice's own shape: the tensor's is in the caption
        caption = T["slice"].format(name=name, idx=s["slice"], shape="×".join(map(str, s["shape"])) or "1",
                                    mean=self._n(s["mean"]), mx=self._n(s["max_abs"]))
        return ("mat", label, caption, text, latex)

    @property
    def items(self) -> list:
        T, s, zh = LABELS[self.lang], self.spec, self.lang == "zh"
        how = self.sample["source"]
        many = self.sample.get("n", 1) > 1
        sample = T[how + "_n" if many else how].format(**{k: v for k, v in self.sample.items() if k in ("n", "seed", "y")})
        fixed = any(k in b for b in s.blocks for k in ("weight", "weight_ih"))
        init = T["init_fixed" if fixed else "init_seed" if s.seed is not None else "init_zero"].format(
            seed=0 if s.seed is None else s.seed)
        opt = s.optimizer if not zh else {"momentum": "动量 SGD"}.get(s.optimizer, s.optimizer)
        items = [("h", 1, T["title"].format(name=s.name))]
        if not zh and s.description:
            items.append(("p", s.description))
        items += [("h", 3, T["setup"]),
                  ("p", T["setup_text"].format(sample=sample, loss=LOSS_NAMES[self.lang][s.loss], opt=opt,
                                               lr=self._n(s.lr), n=self.n_params, m=len(self.blocks), init=init)),
                  self._mat(T["input"], "x", self.sample["x"]), ("h", 3, T["forward"])]
        for b in self.blocks:
            items.append(("h", 4, self._head(b)))
            w = ", ".join((f"`{k.split('.')[-1]}`" if zh else k.split(".")[-1]) + " " + "×".join(map(str, v))
                          for k, v in b["params"].items())
            items.append(("p", T["shapes"].format(a="×".join(map(str, b["shape_in"])), b="×".join(map(str, b["shape_out"])),
                                                  params=T["weights"].format(w=w) if w else "")))
            for r in b["ops"]:
                items.append(("rule", T["rule"].format(op=f"`{r['op']}`" if zh else r["op"]), r["formula_latex"],
                              r["formula"]))
            items.append(self._mat(T["out"], "z", b["value"]))
        items += [("h", 3, T["loss"])]
        for r in self.loss_rules:
            items.append(("rule", T["rule"].format(op=f"`{r['op']}`" if zh else r["op"]), r["formula_latex"], r["formula"]))
        items.append(("p", T["loss_value"].format(v=self._n(self.loss))))
        items.append(("h", 3, T["backward"]))
        for r in self.loss_rules:
            items.append(("rule", T["rule_d"].format(op=f"`{r['op']}`" if zh else r["op"]), r["derivative_latex"],
                          r["derivative"]))
        for b in reversed(self.blocks):
            items.append(("h", 4, self._head(b)))
            for r in b["ops"]:
                items.append(("rule", T["rule_d"].format(op=f"`{r['op']}`" if zh else r["op"]), r["derivative_latex"],
                              r["derivative"]))
            items.append(self._mat(T["grad_out"], "∂L/∂z", b["grad_out"]))
            for name, g in b["grads"].items():
                short = name.split(".")[-1]
                items.append(self._mat(T["grad_p"].format(p=f"`{name}`" if zh else name), f"∂L/∂{short[0]}", g))
                items.append(("p", T["norm"].format(p=short[0], v=self._n(g["norm"]))))
            if b["grad_in"] is not None:
                items.append(self._mat(T["grad_in"], "∂L/∂x", b["grad_in"]))
        items.append(("h", 3, T["update"]))
        items.append(("p", T["update_text"][s.optimizer].format(lr=self._n(s.lr), mom=self._n(s.momentum),
                                                                 b1=self._n(s.betas[0]), b2=self._n(s.betas[1]),
                                                                 eps=self._n(s.eps))))
        items.append(("table", T["update_head"],
                      [(f"`{u['param']}`" if zh else u["param"], "×".join(map(str, u["shape"])),
                        self._n(u["grad_norm"]), self._n(u["step_norm"])) for u in self.update]))
        items.append(("p", T["loss_after"].format(v=self._n(self.loss_after))))
        items += [("h", 3, T["check"]), ("p", T["check_text"].format(eps=FD_EPS, k=FD_ENTRIES)),
                  ("table", T["check_head"],
                   [((lambda e: f"`{e}`" if zh else e)(f"{c['param']}[{', '.join(map(str, c['index']))}]"),
                     self._n(c["engine"]), self._n(c["fd"]), f"{c['rel_error']:.1e}") for c in self.check])]
        return items


__all__ = ["derive_layered_matrix", "MatrixDerivation", "summary", "MAX_PARAMS"]
