"""The seed-style derivation of a recurrent network unrolled over time (a layered spec such as the
shipped ``rnn``: one ``rnn`` block and a linear readout).

``derive_rnn(spec)`` runs one training step of the spec's network with the engine — ``nn.RNN`` with
``retain_grad()`` on every step's pre-activation a_t and hidden state h_t and on the readout ŷ — and
writes it out: each step's a_t as a sum of products, h_t = tanh(a_t), ŷ_t; the loss; backpropagation
through time (∂L/∂h_t from the step's own output and from step t + 1 through W_hh, then through the
activation); every shared weight's gradient as the sum over time of one term per step; the SGD update
and a finite-difference check. Every value printed is a recorded tensor's value or a gradient that
backward computed; this module only decides which recorded numbers stand next to each other. The
written rules are the ops' own (``linear`` and ``tanh``/``relu``: ``formula``, ``derivative`` and their
``explain`` templates).

``classic_mistakes(spec)`` reruns the step with the engine on a deliberately wrong graph for each
classic mistake of backpropagation through time (the weights of earlier steps held constant, the
recurrent path cut, the activation's slope left out) and returns what each mistake produces.
"""

from __future__ import annotations

import numpy as np

from ..autograd import tensor_order
from ..check import layered_central_difference, relative_error
from ..errors import SpecError
from .conv import ConvDerivation, _entry
from .symbols import derive_options, num_latex, num_text

DEFAULT_PRECISION = 6
FD_EPS = 1e-6
LIMITS = {"T": 5, "features": 3, "hidden_size": 3, "out": 2}  # beyond these a page of sums stops being readable

LABELS = {
    "en": {
        "title": "Backpropagation through time, worked by hand: {name}",
        "setup": "Setup",
        "setup_text": ("An input sequence x_1 … x_{T} (T = {T} steps, {I} {features} each); a hidden state h_t of {H} "
                       "units that starts from h_0; {act}; the same weights W_ih, W_hh{biases} at every step; {readout}; "
                       "loss L = ½Σ (ŷ − y)² over {over}; learning rate η = {lr}; optimizer: SGD."),
        "readout_all": "a linear readout ŷ_t = V h_t{c} at every step", "readout_last": "a linear readout ŷ = V h_{T}{c} of the last step only",
        "over_all": "every step's output", "over_last": "the outputs",
        "x": "Input x (row t is x_t)", "h0": "Initial hidden state h_0", "W_ih": "W_ih", "W_hh": "W_hh",
        "b_ih": "b_ih", "b_hh": "b_hh", "V": "Readout V", "c": "Readout bias c", "y": "Target y (row t is y_t)",
        "forward": "1. Forward pass, step by step",
        "forward_text": ("Each step reads its input and the previous hidden state with the same weights: "
                         "a_t = W_ih x_t + W_hh h_(t−1){bsum}, h_t = {f}(a_t){yhat_t}."),
        "rule_linear": "The linear op's rule (each row of W times a vector, as in a_t and ŷ_t):",
        "rule_act": "The {op} op's rule (here z is a_t):",
        "step": "Step {t}",
        "h_grid": "Hidden states h (row t is h_t)", "a_grid": "Pre-activations a (row t is a_t)",
        "yhat_grid": "Outputs ŷ",
        "loss": "2. Loss",
        "backward": "3. Backward pass through time",
        "dyhat": "3.1 Gradient of the loss with respect to each output",
        "dyhat_text": "∂L/∂ŷ = ½ × 2 × (ŷ − y) = ŷ − y",
        "dh": "3.2 Gradient of each hidden state, from the last step back to the first",
        "dh_text": ("h_t reaches the loss by two paths: through its own output ŷ_t (weights V) and through the next "
                    "step's pre-activation a_(t+1) (weights W_hh). So ∂L/∂h_t = Vᵀ ∂L/∂ŷ_t + W_hhᵀ ∂L/∂a_(t+1): "
                    "the last step has only the first term{last_note}. Then through the activation: "
                    "∂L/∂a_t = ∂L/∂h_t · {fprime} for each unit."),
        "last_note": ", and with the readout on the last step only the earlier steps have only the second",
        "rule_act_d": "The {op} op's derivative (here z is a_t, and {f}(z) is h_t):",
        "dh_grid": "∂L/∂h (row t is ∂L/∂h_t)", "da_grid": "∂L/∂a (row t is ∂L/∂a_t)",
        "dw": "3.3 Gradients of the shared weights: one term per step, summed over time",
        "dw_text": ("W_ih, W_hh{biases} are used at every step, so each of their gradients is a sum over t = 1 … {T} "
                    "of that step's term: ∂L/∂W_hh[i,j] = Σ_t ∂L/∂a_t,i · h_(t−1),j, ∂L/∂W_ih[i,k] = Σ_t ∂L/∂a_t,i · "
                    "x_t,k{bterm}. V is used at every step with a readout: ∂L/∂V[o,i] = Σ_t ∂L/∂ŷ_t,o · h_t,i."),
        "rule_linear_d": "The linear op's derivative (per step, before the sum over time):",
        "term_grid": "Step {t}'s term of ∂L/∂W_hh (∂L/∂a_{t} times h_{s}ᵀ)",
        "sum_grid": "∂L/∂W_hh = the sum of the {T} terms",
        "dW_ih": "∂L/∂W_ih", "dV": "∂L/∂V",
        "update": "4. Update (SGD: w ← w − η ∂L/∂w)",
        "after": "{name} after the step",
        "check": "5. Finite-difference check",
        "check_text": "Central differences (L(w + ε) − L(w − ε)) / 2ε with ε = {eps}, against the engine's gradient:",
        "check_head": ("weight", "engine", "finite differences", "relative error"),
        "act": {"tanh": "h_t = tanh(a_t)", "relu": "h_t = max(0, a_t) (ReLU)"},
        "fprime": {"tanh": "(1 − h_t²)", "relu": "[a_t > 0]"},
    },
    "zh": {
        "title": "随时间反向传播，手算推导：`{name}`",
        "setup": "设定",
        "setup_text": ("输入序列 x_1 … x_{T}（T = {T} 个时间步，每步 {I} 个特征）；隐藏状态 h_t 有 {H} 个单元，从 h_0 开始；"
                       "{act}；每个时间步使用同一组权重 W_ih、W_hh{biases}；{readout}；损失 L = ½Σ (ŷ − y)²（对{over}求和）；"
                       "学习率 η = {lr}；优化器：SGD。"),
        "readout_all": "每个时间步都有线性输出 ŷ_t = V h_t{c}", "readout_last": "只在最后一步有线性输出 ŷ = V h_{T}{c}",
        "over_all": "每个时间步的输出", "over_last": "全部输出",
        "x": "输入 x（第 t 行是 x_t）", "h0": "初始隐藏状态 h_0", "W_ih": "W_ih", "W_hh": "W_hh",
        "b_ih": "b_ih", "b_hh": "b_hh", "V": "输出权重 V", "c": "输出偏置 c", "y": "目标 y（第 t 行是 y_t）",
        "forward": "1. 前向传播，逐个时间步",
        "forward_text": "每个时间步用同一组权重读取本步输入和上一步的隐藏状态：a_t = W_ih x_t + W_hh h_(t−1){bsum}，h_t = {f}(a_t){yhat_t}。",
        "rule_linear": "线性算子的公式（W 的每一行乘一个向量，a_t 和 ŷ_t 都是这样算的）：",
        "rule_act": "{op} 算子的公式（此处 z 即 a_t）：",
        "step": "第 {t} 步",
        "h_grid": "隐藏状态 h（第 t 行是 h_t）", "a_grid": "激活前的值 a（第 t 行是 a_t）",
        "yhat_grid": "输出 ŷ",
        "loss": "2. 损失",
        "backward": "3. 随时间反向传播",
        "dyhat": "3.1 损失对每个输出的梯度",
        "dyhat_text": "∂L/∂ŷ = ½ × 2 × (ŷ − y) = ŷ − y",
        "dh": "3.2 每个隐藏状态的梯度，从最后一步倒推到第一步",
        "dh_text": ("h_t 通过两条路径影响损失：经过本步的输出 ŷ_t（权重 V），以及经过下一步的 a_(t+1)（权重 W_hh）。"
                    "所以 ∂L/∂h_t = Vᵀ ∂L/∂ŷ_t + W_hhᵀ ∂L/∂a_(t+1)：最后一步只有第一项{last_note}。"
                    "再经过激活函数：每个单元的 ∂L/∂a_t = ∂L/∂h_t · {fprime}。"),
        "last_note": "；只在最后一步有输出时，前面各步只有第二项",
        "rule_act_d": "{op} 算子的导数（此处 z 即 a_t，{f}(z) 即 h_t）：",
        "dh_grid": "∂L/∂h（第 t 行是 ∂L/∂h_t）", "da_grid": "∂L/∂a（第 t 行是 ∂L/∂a_t）",
        "dw": "3.3 共享权重的梯度：每个时间步一项，对时间求和",
        "dw_text": ("W_ih、W_hh{biases} 在每个时间步都被使用，所以它们的梯度是 t = 1 … {T} 各步之项的和："
                    "∂L/∂W_hh[i,j] = Σ_t ∂L/∂a_t,i · h_(t−1),j，∂L/∂W_ih[i,k] = Σ_t ∂L/∂a_t,i · x_t,k{bterm}。"
                    "V 在每个有输出的时间步都被使用：∂L/∂V[o,i] = Σ_t ∂L/∂ŷ_t,o · h_t,i。"),
        "rule_linear_d": "线性算子的导数（每个时间步各自的，求和之前）：",
        "term_grid": "第 {t} 步对 ∂L/∂W_hh 的贡献（∂L/∂a_{t} 乘 h_{s}ᵀ）",
        "sum_grid": "∂L/∂W_hh = {T} 项之和",
        "dW_ih": "∂L/∂W_ih", "dV": "∂L/∂V",
        "update": "4. 参数更新（SGD：w ← w − η ∂L/∂w）",
        "after": "更新后的 {name}",
        "check": "5. 有限差分检验",
        "check_text": "中心差分 (L(w + ε) − L(w − ε)) / 2ε，ε = {eps}，与引擎的梯度比较：",
        "check_head": ("权重", "引擎", "有限差分", "相对误差"),
        "act": {"tanh": "h_t = tanh(a_t)", "relu": "h_t = max(0, a_t)（relu）"},
        "fprime": {"tanh": "(1 − h_t²)", "relu": "[a_t > 0]"},
    },
}

# symbol bases: (text, LaTeX); time-indexed quantities are written x_2,1, parameters W_hh[1,2]
TIMED = {"x": ("x", "x"), "h": ("h", "h"), "a": ("a", "a"), "yhat": ("ŷ", r"\hat{y}"), "y": ("y", "y")}
PARAMS = {"W_ih": ("W_ih", "W^{ih}"), "W_hh": ("W_hh", "W^{hh}"), "b_ih": ("b_ih", "b^{ih}"),
          "b_hh": ("b_hh", "b^{hh}"), "V": ("V", "V"), "c": ("c", "c")}
RNN_PARAMS = ("W_ih", "W_hh", "b_ih", "b_hh")
MODULE_NAMES = {"W_ih": "weight_ih_l0", "W_hh": "weight_hh_l0", "b_ih": "bias_ih_l0", "b_hh": "bias_hh_l0",
                "V": "weight", "c": "bias"}


def _sym(base, *idx, grad=False, width=2):
    """(text, LaTeX) of a symbol: h_2,1 / h_{2,1} (the unit's index left out when ``width`` is 1),
    W_hh[1,2] / W^{hh}_{12}; ∂L/∂… with ``grad``."""
    if base in TIMED:
        t, lt = TIMED[base]
        shown = idx if width > 1 or len(idx) < 2 else idx[:1]
        text, latex = f"{t}_{','.join(map(str, shown))}", f"{lt}_{{{','.join(map(str, shown))}}}"
    else:
        t, lt = PARAMS[base]
        text, latex = f"{t}[{','.join(map(str, idx))}]", f"{lt}_{{{''.join(map(str, idx))}}}"
    if grad:
        return f"∂L/∂{text}", rf"\frac{{\partial L}}{{\partial {latex}}}"
    return text, latex


def _sum(terms, value, p):
    """A sum written twice, with symbols and with numbers, then the value. Each term is a list of
    (symbol, number) factors (one factor: a plain term)."""
    sym_t = " + ".join("·".join(s[0] for s, _ in f) for f in terms)
    sym_l = "+".join(r"\,".join(s[1] for s, _ in f) for f in terms)
    num_t = " + ".join("×".join(num_text(v, p, True) for _, v in f) for f in terms)
    num_l = "+".join(r"\times ".join(num_latex(v, p, True) for _, v in f) for f in terms)
    return f"{sym_t} = {num_t} = {num_text(value, p)}", f"{sym_l}={num_l}={num_latex(value, p)}"


class RNNDerivation(ConvDerivation):
    """The written derivation of one step of an unrolled RNN; ``markdown()``, ``text()``, ``to_json()``
    (the document model is the convolution's: headings, paragraphs, rules, equations, grids, a table).
    ``grids`` names every quantity a learner computes: h, a, ŷ and their gradients per step, each
    parameter's gradient and its per-step terms (``dL_dW_hh_terms``, one matrix per step), the
    weights after the update."""

    def to_dict(self) -> dict:
        d = super().to_dict()
        d["kind"] = "rnn"
        return d


def _validate(spec):
    where = spec.source
    kinds = [b["kind"] for b in spec.blocks]
    if kinds != ["rnn", "linear"]:
        raise SpecError(f"{where}: chainrule derive writes out an unrolled RNN as one rnn block followed by one linear "
                        f"readout (got {', '.join(kinds)}); train it with chainrule train")
    rnn, lin = spec.blocks
    for k, b in enumerate(spec.blocks):
        if b.get("activation", "none") != "none":
            raise SpecError(f"{where}: layers[{k}] ({b['kind']}): key 'activation': derive writes out the block "
                            f"without an extra activation, got {b['activation']!r}")
    if spec.loss != "half_sse" or spec.optimizer != "sgd":
        raise SpecError(f"{where}: derive writes out loss = \"half_sse\" with optimizer = \"sgd\" "
                        f"(got {spec.loss!r}, {spec.optimizer!r})")
    needed = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if rnn.get("bias", True) else [])
    missing = [f"layers[0].{k}" for k in needed if k not in rnn] + (["layers[1].weight"] if "weight" not in lin else [])
    if spec.x is None or spec.y is None or missing:
        raise SpecError(f"{where}: derive needs the numbers fixed in the spec: keys 'x', 'y', "
                        f"{', '.join(missing) or 'and every weight'}")
    if tuple(spec.x.shape) != tuple(spec.input_shape):
        raise SpecError(f"{where}: key 'x': derive writes out one sample of shape {tuple(spec.input_shape)}, "
                        f"got a batch of shape {spec.x.shape}")
    if lin.get("bias", True):
        raise SpecError(f"{where}: layers[1] (linear): key 'bias': derive writes out a readout without bias "
                        f"(bias = false), since the spec cannot fix its value")
    sizes = {"T": (where, "input", spec.input_shape[0]), "features": (where, "input", spec.input_shape[1]),
             "hidden_size": (f"{where}: layers[0] (rnn)", "hidden_size", rnn["hidden_size"]),
             "out": (f"{where}: layers[1] (linear)", "out", lin["out"])}
    for name, (at, key, n) in sizes.items():
        if n > LIMITS[name]:
            raise SpecError(f"{at}: key '{key}': derive writes every sum out by hand up to {name} = {LIMITS[name]}, "
                            f"got {n}; train larger networks with chainrule train")


def _record(spec):
    """One recorded step: the network, the step's tensors (pre-activations a_t and hidden states h_t in
    time order, the readout ŷ, the loss, the target; grads retained) and the ops' nodes."""
    from .. import float64, tensor
    from ..layered import LayeredNetwork

    net = LayeredNetwork(spec).double_exact()
    x = tensor(spec.x[None], dtype=float64)
    target = tensor(spec.y[None], dtype=float64)
    out = net(x)
    loss = net.loss_from_output(out, target)
    act = spec.blocks[0].get("nonlinearity", "tanh")
    # the graph lists each tensor before the ones it was computed from: the last step's h comes first
    hs = [t for t in tensor_order(loss) if t.grad_fn is not None and t.grad_fn.op.name == act][::-1]
    a_s = [h.grad_fn.parents[0] for h in hs]
    for t in (*hs, *a_s, out):
        t.retain_grad()
    act_node, lin_node = hs[0].grad_fn, out.grad_fn
    rules = {"linear": lin_node.op.describe(lin_node), "act": act_node.op.describe(act_node)}  # before backward frees them
    loss.backward()
    return net, x, target, out, loss, hs, a_s, act_node, lin_node, rules


def derive_rnn(spec, lang: str = "en", precision: int | None = None) -> RNNDerivation:
    p = derive_options(LABELS, lang, precision, DEFAULT_PRECISION)
    _validate(spec)
    L_ = LABELS[lang]
    net, x, target, out, loss, hs, a_s, act_node, lin_node, rules = _record(spec)
    rnn, lin = net.body[0], net.body[1]
    act = rnn.nonlinearity
    last = rnn.last
    T, n_in = spec.input_shape
    H, n_out = rnn.hidden_size, lin.out_features
    W = {k: np.array(getattr(rnn if k in RNN_PARAMS else lin, m).array) for k, m in MODULE_NAMES.items()
         if getattr(rnn if k in RNN_PARAMS else lin, m, None) is not None}
    G = {k: np.array(getattr(rnn if k in RNN_PARAMS else lin, m).grad.array) for k, m in MODULE_NAMES.items()
         if k in W}
    has_b = "b_ih" in W
    X = np.asarray(spec.x, dtype=np.float64)
    H0 = np.zeros(H) if rnn.h0 is None else np.array(rnn.h0, dtype=np.float64)
    A = np.stack([np.asarray(a.array)[0] for a in a_s])
    HS = np.stack([np.asarray(h.array)[0] for h in hs])
    GA = np.stack([np.asarray(a.grad.array)[0] for a in a_s])
    GH = np.stack([np.asarray(h.grad.array)[0] for h in hs])
    YH = np.asarray(out.array)[0].reshape(-1, n_out)
    GY = np.asarray(out.grad.array)[0].reshape(-1, n_out)
    TG = np.asarray(target.array)[0].reshape(-1, n_out)
    steps = [T] if last else list(range(1, T + 1))  # the steps with a readout (1-based)
    row = {t: r for r, t in enumerate(steps)}  # a step's row in ŷ
    L = float(np.asarray(loss.array))
    prev = np.vstack([H0[None], HS[:-1]])  # h_(t−1) for t = 1 … T
    f = act_node.op.explain
    bsum = " + b_ih + b_hh" if has_b else ""

    def ts(base, t, i, **kw):  # a time-indexed symbol; vectors of one element drop the unit's index
        return _sym(base, t, i, width={"x": n_in, "yhat": n_out, "y": n_out}.get(base, H), **kw)

    items = [("h", 1, L_["title"].format(name=spec.name))]
    if lang == "en" and spec.description:
        items.append(("p", spec.description))
    c_txt = " + c" if "c" in W else ""
    items += [("h", 3, L_["setup"]),
              ("p", L_["setup_text"].format(
                  T=T, I=n_in, H=H, features="feature" if n_in == 1 else "features", act=L_["act"][act],
                  biases=(", b_ih, b_hh" if lang == "en" else "、b_ih、b_hh") if has_b else "",
                  readout=(L_["readout_last"] if last else L_["readout_all"]).format(T=T, c=c_txt),
                  over=L_["over_last"] if last else L_["over_all"], lr=num_text(spec.lr, p))),
              ("grid", L_["x"], "x", X), ("grid", L_["h0"], "h0", H0[None])]
    grids = {"x": X, "h0": H0[None]}
    for k in ("W_ih", "W_hh", "b_ih", "b_hh", "V", "c"):
        if k in W:
            shown = W[k][None] if W[k].ndim == 1 else W[k]
            items.append(("grid", L_[k], k, shown))
            grids[k] = shown
    items.append(("grid", L_["y"], "y", TG))
    grids["y"] = TG

    # 1. forward, step by step: the ops' rules, then every a_t,i, h_t,i and ŷ_t,o
    (lf, ld), (af, ad) = rules["linear"], rules["act"]
    lin_latex, lin_latex_d = lin_node.op.formula_latex, lin_node.op.derivative_latex
    if "c" not in W:  # the readout has no bias: its rule without b_j, as the op's describe() writes it
        lin_latex = lin_latex.replace("+b_j", "")
        lin_latex_d = lin_latex_d.rsplit(r",\ \frac{\partial z_j}{\partial b_j}", 1)[0]
    items += [("h", 3, L_["forward"]),
              ("p", L_["forward_text"].format(bsum=bsum, f=f["name"],
                                              yhat_t=(("，" if lang == "zh" else ", ") + "ŷ_t = V h_t" + c_txt)
                                              if not last else "")),
              ("rule", L_["rule_linear"], lin_latex, lf),
              ("rule", L_["rule_act"].format(op=act_node.op.name), act_node.op.formula_latex, af)]
    for t in range(1, T + 1):
        eqs = []
        for i in range(1, H + 1):
            terms = [[(_sym("W_ih", i, k), W["W_ih"][i - 1, k - 1]), (ts("x", t, k), X[t - 1, k - 1])] for k in range(1, n_in + 1)]
            terms += [[(_sym("W_hh", i, j), W["W_hh"][i - 1, j - 1]), (ts("h", t - 1, j), prev[t - 1, j - 1])]
                      for j in range(1, H + 1)]
            if has_b:
                terms += [[(_sym("b_ih", i), W["b_ih"][i - 1])], [(_sym("b_hh", i), W["b_hh"][i - 1])]]
            eqs.append(_entry(f"a_{t}_{i}", ts("a", t, i), _sum(terms, A[t - 1, i - 1], p), A[t - 1, i - 1]))
        for i in range(1, H + 1):
            a_sym, v = ts("a", t, i), HS[t - 1, i - 1]
            eqs.append(_entry(f"h_{t}_{i}", ts("h", t, i),
                              (f"{f['f'].format(z=a_sym[0])} = {f['f'].format(z=num_text(A[t - 1, i - 1], p))} = {num_text(v, p)}",
                               f"{f['f_latex'].format(z=a_sym[1])}={f['f_latex'].format(z=num_latex(A[t - 1, i - 1], p))}"
                               f"={num_latex(v, p)}"), v))
        if t in row:
            for o in range(1, n_out + 1):
                terms = [[(_sym("V", o, i), W["V"][o - 1, i - 1]), (ts("h", t, i), HS[t - 1, i - 1])] for i in range(1, H + 1)]
                v = YH[row[t], o - 1]
                eqs.append(_entry(f"yhat_{t}_{o}", ts("yhat", t, o), _sum(terms, v, p), v))
        items += [("h", 4, L_["step"].format(t=t)), ("eqs", eqs)]
    items += [("grid", L_["a_grid"], "a", A), ("grid", L_["h_grid"], "h", HS), ("grid", L_["yhat_grid"], "yhat", YH)]
    grids.update(a=A, h=HS, yhat=YH)

    # 2. loss
    pairs = [(YH[row[t], o], TG[row[t], o]) for t in steps for o in range(n_out)]
    terms_t = " + ".join(f"({num_text(v, p)} − {num_text(tv, p, True)})²" for v, tv in pairs)
    terms_l = "+".join(f"\\left({num_latex(v, p)}-{num_latex(tv, p, True)}\\right)^{{2}}" for v, tv in pairs)
    items += [("h", 3, L_["loss"]),
              ("eqs", [_entry("loss", ("L", "L"), (f"½ Σ (ŷ − y)² = ½ [{terms_t}] = {num_text(L, p)}",
                                                   rf"\frac{{1}}{{2}}\sum\left(\hat{{y}}-y\right)^{{2}}"
                                                   rf"=\frac{{1}}{{2}}\left[{terms_l}\right]={num_latex(L, p)}"), L)])]

    # 3. backward through time
    eqs = []
    for t in steps:
        for o in range(1, n_out + 1):
            yh, yt, g = ts("yhat", t, o), ts("y", t, o), GY[row[t], o - 1]
            eqs.append(_entry(f"dL_dyhat_{t}_{o}", ts("yhat", t, o, grad=True),
                              (f"{yh[0]} − {yt[0]} = {num_text(YH[row[t], o - 1], p)} − {num_text(TG[row[t], o - 1], p, True)} = "
                               f"{num_text(g, p)}",
                               f"{yh[1]}-{yt[1]}={num_latex(YH[row[t], o - 1], p)}-{num_latex(TG[row[t], o - 1], p, True)}="
                               f"{num_latex(g, p)}"), g))
    items += [("h", 3, L_["backward"]), ("h", 4, L_["dyhat"]), ("p", L_["dyhat_text"]), ("eqs", eqs),
              ("grid", "∂L/∂ŷ", "dL_dyhat", GY)]
    grids["dL_dyhat"] = GY

    items += [("h", 4, L_["dh"]),
              ("p", L_["dh_text"].format(last_note=L_["last_note"] if last else "", fprime=L_["fprime"][act])),
              ("rule", L_["rule_act_d"].format(op=act_node.op.name, f=f["name"]), act_node.op.derivative_latex, ad)]
    def wrap(text):  # a slope written as a sum gets parentheses; an Iverson bracket [z > 0] stands alone
        return text if text.startswith("[") else f"({text})"

    def wrap_l(text):
        return text if text.startswith("[") else rf"\left({text}\right)"

    for t in range(T, 0, -1):
        eqs = []
        for i in range(1, H + 1):
            terms = []
            if t in row:
                terms += [[(_sym("V", o, i), W["V"][o - 1, i - 1]), (ts("yhat", t, o, grad=True), GY[row[t], o - 1])]
                          for o in range(1, n_out + 1)]
            if t < T:
                terms += [[(_sym("W_hh", j, i), W["W_hh"][j - 1, i - 1]), (ts("a", t + 1, j, grad=True), GA[t, j - 1])]
                          for j in range(1, H + 1)]
            eqs.append(_entry(f"dL_dh_{t}_{i}", ts("h", t, i, grad=True), _sum(terms, GH[t - 1, i - 1], p), GH[t - 1, i - 1]))
        for i in range(1, H + 1):
            h_sym, a_sym = ts("h", t, i), ts("a", t, i)
            d_sym = f["d"].format(a=h_sym[0], z=a_sym[0])
            d_lat = f["d_latex"].format(a=h_sym[1], z=a_sym[1])
            d_num = f["d"].format(a=num_text(HS[t - 1, i - 1], p, context="base"), z=num_text(A[t - 1, i - 1], p))
            d_num_l = f["d_latex"].format(a=num_latex(HS[t - 1, i - 1], p, context="base"), z=num_latex(A[t - 1, i - 1], p))
            gh, g = ts("h", t, i, grad=True), GA[t - 1, i - 1]
            eqs.append(_entry(f"dL_da_{t}_{i}", ts("a", t, i, grad=True),
                              (f"{gh[0]} · {wrap(d_sym)} = {num_text(GH[t - 1, i - 1], p, True)} × {wrap(d_num)} = "
                               f"{num_text(g, p)}",
                               rf"{gh[1]}{wrap_l(d_lat)}={num_latex(GH[t - 1, i - 1], p, True)}\times{wrap_l(d_num_l)}"
                               f"={num_latex(g, p)}"), g))
        items += [("h", 5, L_["step"].format(t=t)), ("eqs", eqs)]
    items += [("grid", L_["dh_grid"], "dL_dh", GH), ("grid", L_["da_grid"], "dL_da", GA)]
    grids.update(dL_dh=GH, dL_da=GA)

    # 3.3 every shared weight: the sum over time of one term per step (the value is the engine's gradient)
    terms_of = {
        "W_ih": lambda i, k: [[(ts("a", t, i, grad=True), GA[t - 1, i - 1]), (ts("x", t, k), X[t - 1, k - 1])]
                              for t in range(1, T + 1)],
        "W_hh": lambda i, j: [[(ts("a", t, i, grad=True), GA[t - 1, i - 1]), (ts("h", t - 1, j), prev[t - 1, j - 1])]
                              for t in range(1, T + 1)],
        "b_ih": lambda i: [[(ts("a", t, i, grad=True), GA[t - 1, i - 1])] for t in range(1, T + 1)],
        "b_hh": lambda i: [[(ts("a", t, i, grad=True), GA[t - 1, i - 1])] for t in range(1, T + 1)],
        "V": lambda o, i: [[(ts("yhat", t, o, grad=True), GY[row[t], o - 1]), (ts("h", t, i), HS[t - 1, i - 1])]
                           for t in steps],
    }
    eqs = []
    for k in ("W_ih", "W_hh", "b_ih", "b_hh", "V"):
        if k not in W:
            continue
        for idx in np.ndindex(W[k].shape):
            one = tuple(n + 1 for n in idx)
            eqs.append(_entry(f"dL_d{k}_{''.join(map(str, one))}", _sym(k, *one, grad=True),
                              _sum(terms_of[k](*one), G[k][idx], p), G[k][idx]))
    bterm = (", ∂L/∂b_ih[i] = ∂L/∂b_hh[i] = Σ_t ∂L/∂a_t,i" if lang == "en" else "，∂L/∂b_ih[i] = ∂L/∂b_hh[i] = Σ_t ∂L/∂a_t,i") \
        if has_b else ""
    # each step's term as a matrix: the layout of the sum, from the recorded ∂L/∂a_t and h_(t−1)
    terms_hh = np.stack([np.outer(GA[t], prev[t]) for t in range(T)])
    terms_ih = np.stack([np.outer(GA[t], X[t]) for t in range(T)])
    terms_v = np.stack([np.outer(GY[row[t]], HS[t - 1]) for t in steps])
    items += [("h", 4, L_["dw"]),
              ("p", L_["dw_text"].format(biases=(", b_ih, b_hh" if lang == "en" else "、b_ih、b_hh") if has_b else "",
                                         T=T, bterm=bterm)),
              ("rule", L_["rule_linear_d"], lin_latex_d, ld), ("eqs", eqs)]
    for t in range(1, T + 1):
        items.append(("grid", L_["term_grid"].format(t=t, s=t - 1), f"dL_dW_hh_term_{t}", terms_hh[t - 1]))
    items += [("grid", L_["sum_grid"].format(T=T), "dL_dW_hh", G["W_hh"]), ("grid", L_["dW_ih"], "dL_dW_ih", G["W_ih"]),
              ("grid", L_["dV"], "dL_dV", G["V"])]
    for k in W:
        grids[f"dL_d{k}"] = G[k][None] if G[k].ndim == 1 else G[k]
    grids.update(dL_dW_hh_terms=terms_hh, dL_dW_ih_terms=terms_ih, dL_dV_terms=terms_v)

    # 5. finite differences on the weights the step starts from (before the update)
    check = _finite_differences(net, x, target, W, G, rnn, lin)

    # 4. update: the engine's optimizer takes the step
    from ..optim import SGD

    SGD(net.parameters(), lr=spec.lr).step()
    eqs = []
    for k in W:
        after = np.array(getattr(rnn if k in RNN_PARAMS else lin, MODULE_NAMES[k]).array)
        for idx in np.ndindex(W[k].shape):
            one = tuple(n + 1 for n in idx)
            s, gs = _sym(k, *one), _sym(k, *one, grad=True)
            eqs.append(_entry(f"{k}_{''.join(map(str, one))}_after", s,
                              (f"{s[0]} − η·{gs[0]} = {num_text(W[k][idx], p)} − {num_text(spec.lr, p)}×"
                               f"{num_text(G[k][idx], p, True)} = {num_text(after[idx], p)}",
                               rf"{s[1]}-\eta{gs[1]}={num_latex(W[k][idx], p)}-{num_latex(spec.lr, p)}\times "
                               rf"{num_latex(G[k][idx], p, True)}={num_latex(after[idx], p)}"), after[idx], "←"))
        grids[f"{k}_after"] = after[None] if after.ndim == 1 else after
    items += [("h", 3, L_["update"]), ("eqs", eqs)]
    for k in W:
        items.append(("grid", L_["after"].format(name=k), f"{k}_after", grids[f"{k}_after"]))

    items += [("h", 3, L_["check"]), ("p", L_["check_text"].format(eps=num_text(FD_EPS, 2))),
              ("table", list(L_["check_head"]),
               [[c["symbol"], num_text(c["engine"], p), num_text(c["numeric"], p), f"{c['relative_error']:.1e}"]
                for c in check])]
    return RNNDerivation(spec, lang, p, items, grids, check, L)


def _finite_differences(net, x, target, W, G, rnn, lin):
    """Central differences of the loss, recomputed by the engine's forward, for every parameter element."""
    rows = []
    for k in W:
        param = getattr(rnn if k in RNN_PARAMS else lin, MODULE_NAMES[k])
        for idx in np.ndindex(W[k].shape):
            one = tuple(n + 1 for n in idx)
            num = layered_central_difference(net, x, target, param, idx, FD_EPS)
            engine = float(G[k][idx])
            rows.append({"key": f"dL_d{k}_{''.join(map(str, one))}", "symbol": _sym(k, *one, grad=True)[0],
                         "engine": engine, "numeric": num, "relative_error": relative_error(engine, num)})
    return rows


# The classic mistakes of backpropagation through time, each an honest computation on a wrong graph:
#   not_summed_over_time    only the last step's term of each shared weight's gradient (the weights of the
#                           earlier steps held constant, so backward adds nothing from them)
#   no_recurrent_path       ∂L/∂h_t from its own output only (h_(t−1) enters step t detached)
#   tanh_derivative_missing ∂L/∂a_t = ∂L/∂h_t, the activation's slope left out (h_t = a_t + (tanh(a_t) − a_t)
#                           detached: the same values forward, slope 1 backward); relu_… for a ReLU RNN
MISTAKES = ("not_summed_over_time", "no_recurrent_path", "derivative_missing")


def classic_mistakes(spec) -> dict[str, dict[str, np.ndarray]]:
    """Mistake id -> the quantities (keys of the derivation's ``grids``: dL_dh, dL_da, dL_dW_hh, W_hh_after,
    …) as that mistake produces them, only those that differ from the right ones."""
    _validate(spec)
    act = spec.blocks[0].get("nonlinearity", "tanh")
    right = unrolled_step(spec)
    out = {}
    for name, flags in (("not_summed_over_time", {"last_step_only": True}), ("no_recurrent_path", {"recurrent": False}),
                        (f"{act}_derivative_missing", {"slope": False})):
        wrong = unrolled_step(spec, **flags)
        out[name] = {k: v for k, v in wrong.items() if not np.allclose(v, right[k], rtol=1e-9, atol=1e-12)}
    return out


def unrolled_step(spec, *, last_step_only: bool = False, recurrent: bool = True, slope: bool = True) -> dict:
    """One training step of the spec's RNN unrolled with the engine's own ops (linear, tanh/relu), from the
    spec's numbers, on the right graph or on the graph of a classic mistake; the quantities named as in
    the derivation's ``grids``. ∂L/∂h and ∂L/∂a are left out where the graph has none (the weights held
    constant before the last step leave the early steps without a gradient)."""
    from .. import float64, tensor
    from .. import functional as F
    from ..optim import SGD

    rnn, lin = spec.blocks
    act = F.tanh if rnn.get("nonlinearity", "tanh") == "tanh" else F.relu
    last = rnn.get("last", False)
    T = spec.input_shape[0]
    names = {"W_ih": "weight_ih", "W_hh": "weight_hh", "b_ih": "bias_ih", "b_hh": "bias_hh"}
    params = {k: tensor(np.asarray(rnn[key], dtype=np.float64), dtype=float64, requires_grad=True)
              for k, key in names.items() if key in rnn}
    params["V"] = tensor(np.asarray(lin["weight"], dtype=np.float64), dtype=float64, requires_grad=True)
    X, Y = np.asarray(spec.x, dtype=np.float64), np.asarray(spec.y, dtype=np.float64).reshape(-1, lin["out"])
    h = tensor(np.asarray(rnn.get("h0", np.zeros(rnn["hidden_size"])), dtype=np.float64), dtype=float64)
    hs, a_s, loss = [], [], 0
    for t in range(T):
        P = params if not last_step_only or t == T - 1 else {k: v.detach() for k, v in params.items()}
        prev = h if recurrent else h.detach()
        a = F.linear(tensor(X[t], dtype=float64), P["W_ih"], P.get("b_ih")) + F.linear(prev, P["W_hh"], P.get("b_hh"))
        h = act(a) if slope else a + (act(a) - a).detach()
        for v in (a, h):
            if v.requires_grad:
                v.retain_grad()
        hs.append(h)
        a_s.append(a)
        if not last or t == T - 1:
            loss = loss + 0.5 * ((F.linear(h, P["V"]) - tensor(Y[0 if last else t], dtype=float64)) ** 2).sum()
    loss.backward()
    out = {}
    if all(v.grad is not None for v in (*hs, *a_s)):
        out["dL_dh"] = np.stack([np.asarray(v.grad.array) for v in hs])
        out["dL_da"] = np.stack([np.asarray(v.grad.array) for v in a_s])
    for k, v in params.items():
        g = np.asarray(v.grad.array)
        out[f"dL_d{k}"] = g[None] if g.ndim == 1 else g
    SGD(list(params.values()), lr=spec.lr).step()
    for k, v in params.items():
        w = np.array(v.array)
        out[f"{k}_after"] = w[None] if w.ndim == 1 else w
    return out
