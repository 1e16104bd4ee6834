"""Export for layered specs (``chainrule.layered``: conv2d, pooling, batch norm, ... block by block).

As for fully-connected specs, nothing here writes an op's arithmetic: ``record`` runs one step of the
spec's own network (``LayeredNetwork``, float64) and the NumPy script is the recorded graph's ops
writing their own lines (``Op.export`` / ``Op.export_vjp``); the PyTorch script builds the same
modules by name from the network's modules (their reprs are PyTorch's constructors).

The sample: a spec that fixes ``x`` and ``y`` (the derivation specs conv, conv-pool) takes its step on
them, with ∂L/∂x computed and printed too; a spec that trains on a data set (lenet-digits) takes its
step on a fixed batch of random samples drawn here and written into the script as numbers, because a
standalone script cannot load the data set. Dropout is written as the identity (evaluation mode): its
random mask could not be the same in NumPy and PyTorch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..autograd import tensor_order
from ..errors import SpecError
from ..escape import python_text
from .graph import Context, ExportError

KINDS = ("conv2d", "maxpool2d", "avgpool2d", "batchnorm", "dropout", "flatten", "linear", "rnn")
DATA_BATCH = 4          # samples in the fixed random batch of a spec without its own sample
MAX_PARAMETERS = 200_000  # weights written out as literals; beyond this a script is not for reading
NOT_SCALAR = {
    "en": ("export: {source} is a layered spec (conv2d, pooling, batch norm, ...); --to python writes fully-connected "
           "networks only, one scalar variable per weight and neuron, which a convolution's shared kernels and "
           "windows do not fit. Use --to numpy (the same rules with arrays: sliding windows, the correlation and "
           "full-convolution backward) or --to torch"),
    "zh": ("export：{source} 是分层设定（卷积、池化、批归一化等）；--to python 只写全连接网络，每个权重和神经元一个标量变量，"
           "卷积共享的卷积核与滑动窗口无法这样写出。请改用 --to numpy（同样的规则写成数组：滑动窗口、相关与完整卷积的反向传播）"
           "或 --to torch"),
}


@dataclass
class LayeredRecorded:
    """One recorded step of a layered spec and the names the exporters give its tensors."""

    spec: object
    net: object
    x: object                # the input tensor (requires grad when the spec fixes its sample)
    target: object           # the target tensor (float) or class labels (integers, cross-entropy)
    loss: object
    output: object
    blocks: list             # (spec block index, module, the tensors the module made, in forward order)
    names: dict              # id(tensor) -> variable name
    params: dict             # variable name -> (spec name "layers[0].weight", tensor)
    initial: dict            # variable name -> starting values (PyTorch's layout)
    forward: list            # non-leaf tensors in forward order
    backward: list           # non-leaf tensors from the loss down
    fixed: bool              # the sample is the spec's own (x, y)
    dropout: list            # spec block indices written as the identity
    constants: dict          # variable name -> values of a constant leaf (an rnn's fixed h0)
    transposed: set          # parameter variables written in (from, to) order (the weights of linear ops)

    @property
    def labels(self) -> bool:
        return self.spec.loss == "cross_entropy"


def refuse_scalar(spec, lang: str = "en") -> None:
    source = spec.source.replace(" (shipped spec)", "（内置设定）") if lang == "zh" else spec.source
    raise ExportError(NOT_SCALAR[lang].format(source=source))


def _sample(spec):
    """(x, target) as arrays: the spec's own sample, or a fixed random batch (normal(0, 1) inputs;
    labels or normal targets), drawn from the spec's seed (0 without one)."""
    if spec.x is not None and spec.y is not None:
        one = tuple(spec.x.shape) == tuple(spec.input_shape)   # one sample, or a batch (N, *input)
        x, y = (spec.x[None], spec.y[None]) if one else (spec.x, spec.y)
        return x.astype(np.float64), y.astype(np.float64), True
    rng = np.random.default_rng(spec.seed or 0)
    x = rng.standard_normal((DATA_BATCH, *spec.input_shape))
    if spec.loss == "cross_entropy":
        return x, rng.integers(0, spec.layers[-1], DATA_BATCH), False
    return x, None, False


def record(spec) -> LayeredRecorded:
    """One step of the spec's network in float64, recorded block by block."""
    from .. import float64, nn, tensor
    from ..layered import LayeredNetwork

    for k, b in enumerate(spec.blocks):
        if b["kind"] not in KINDS:
            raise ExportError(f"export: {spec.source}: layers[{k}] has kind {b['kind']!r}, which export does not "
                              f"write yet (it writes {', '.join(KINDS)})")
    net = LayeredNetwork(spec).double_exact()
    n_params = sum(int(np.prod(p.shape)) for p in net.parameters())
    if n_params > MAX_PARAMETERS:
        raise SpecError(f"export: {spec.source} has {n_params} parameters; a script writes each one as a number, "
                        f"at most {MAX_PARAMETERS}: train it with `chainrule train` instead")
    x_arr, y_arr, fixed = _sample(spec)
    dropout = []
    for i, m in enumerate(net.body):
        if isinstance(m, nn.Dropout):   # identity: no mask could be the same in NumPy and PyTorch
            m.eval()
            dropout.append(net.block_of[i])
    x = tensor(x_arr, dtype=float64, requires_grad=fixed)
    h, made, seen = x, [], set()
    for m in net.body:
        h = m(h)
        mine = [t for t in reversed(tensor_order(h)) if t.grad_fn is not None and id(t) not in seen]
        seen.update(id(t) for t in mine)
        made.append(mine)
    out = h
    if y_arr is None:  # mse / half_sse without a fixed target: normal targets of the output's shape
        y_arr = np.random.default_rng((spec.seed or 0) + 1).standard_normal(tuple(out.shape))
    target = tensor(y_arr) if spec.loss == "cross_entropy" else tensor(y_arr, dtype=float64)
    loss = net.loss_from_output(out, target)
    order = tensor_order(loss)
    forward = [t for t in reversed(order) if t.grad_fn is not None]
    backward = [t for t in order if t.grad_fn is not None]

    names = {id(x): "x", id(loss): "loss", id(out): "y_pred"}
    if spec.loss != "cross_entropy":
        names[id(target)] = "y_true"
    params, initial = {}, {}
    spec_names = net.parameter_names()
    blocks = []
    for i, (m, mine) in enumerate(zip(net.body, made)):
        k = net.block_of.get(i)
        if k is None:  # an activation: belongs to the block before it
            k = net.block_of[max(j for j in net.block_of if j < i)]
        blocks.append((k, m, mine))
        steps = _step_names(m, mine, k, sum(1 for _, b, _ in blocks if hasattr(b, "weight_hh_l0")))
        for j, t in enumerate(mine):
            if id(t) not in names:
                base = f"a{k + 1}" if i not in net.block_of else f"z{k + 1}"
                names[id(t)] = base if j == len(mine) - 1 else steps.get(id(t), f"{base}_{j + 1}")
    for full, p in net.named_parameters():
        label = spec_names[full]
        k = int(label.split("[")[1].split("]")[0])
        kind = spec.blocks[k]["kind"]
        attr = full.rsplit(".", 1)[1].removesuffix("_l0")   # weight, bias; an rnn's weight_ih, bias_hh, ...
        # batch norm's γ and β as gamma_3, beta_3 (Adam's beta1, beta2 are hyperparameters)
        head, _, rest = attr.partition("_")
        var = {("batchnorm", "weight"): "gamma_", ("batchnorm", "bias"): "beta_"}.get(
            (kind, attr), ("W" if head == "weight" else "b") + (f"_{rest}" if rest else ""))
        var = f"{var}{k + 1}"
        names[id(p)] = var
        params[var] = (label, p)
        initial[var] = np.array(p.array, dtype=np.float64)
    # leaves that are neither input, target nor parameter: constants the network holds (an rnn's h0)
    constants = {}
    for t in forward:
        for parent in t.grad_fn.parents:
            if parent.grad_fn is None and id(parent) not in names:
                first_step = names.get(id(t), "").endswith("hw_1")   # an rnn's fixed initial hidden state
                names[id(parent)] = names[id(t)][:-4] + "h_0" if first_step else f"const{len(constants) + 1}"
                constants[names[id(parent)]] = np.array(parent.array, dtype=np.float64)
    # weights a linear op reads are written in (from, to) order, as the linear op's NumPy rule reads them
    transposed = {names[id(t.grad_fn.parents[1])] for t in forward if t.grad_fn.op.name == "linear"}
    return LayeredRecorded(spec, net, x, target, loss, out, blocks, names, params, initial, forward, backward,
                           fixed, dropout, constants, transposed)


def _step_names(module, made, k, rnns) -> dict:
    """An rnn block's tensors named as its derivation names them, per time step t: xw_t (the input's part),
    hw_t (the recurrent part), a_t = xw_t + hw_t, h_t = tanh(a_t) (relu(a_t)); xw for every step at once and
    hs for the stacked h_t. Other blocks: none (their tensors are z3_1, z3_2, ...)."""
    if not hasattr(module, "weight_hh_l0"):
        return {}
    pre = "" if rnns == 1 else f"r{k + 1}_"
    out, step, seen_linear = {}, 0, False
    for t in made:
        op = t.grad_fn.op.name
        if op == "linear" and not seen_linear:
            out[id(t)], seen_linear = f"{pre}xw", True
            continue
        if op == "getitem":
            step += 1
            out[id(t)] = f"{pre}xw_{step}"
        elif op == "linear":
            out[id(t)] = f"{pre}hw_{step}"
        elif op == "add":
            out[id(t)] = f"{pre}a_{step}"
        elif op in ("tanh", "relu"):
            out[id(t)] = f"{pre}h_{step}"
        elif op == "stack":
            out[id(t)] = f"{pre}hs"
    return out


class LayeredContext(Context):
    """``Context`` for a layered spec: whole arrays, the names ``record`` chose."""

    def __init__(self, lang: str, rec: LayeredRecorded):
        self.lang = lang
        self.rec = rec
        self.depth = 0
        self.batched = False
        self.assigned: set = set()
        self._extra: dict = {}

    def base(self, t) -> str:
        name = self.rec.names.get(id(t))
        if name is None:
            name = self._extra.setdefault(id(t), f"t{len(self._extra) + 1}")
        return name

    def v(self, t, j=None) -> str:
        if j is not None:
            raise NotImplementedError("layered specs are written with whole arrays")
        return self.base(t)

    def is_param(self, t) -> bool:
        return self.base(t) in self.rec.params

    def acc(self, t, j, expr: str) -> str:
        """``grad = expr``, then ``grad = grad + expr``: never in place, so a gradient that is another's
        array (or a view of it) never changes that one."""
        key = (id(t), j)
        if key in self.assigned:
            return f"{self.g(t, j)} = {self.g(t, j)} + {expr}"
        self.assigned.add(key)
        return f"{self.g(t, j)} = {expr}"

    def target(self, j=None) -> str:
        return "labels" if self.lang == "torch" and self.rec.labels else "y_true"

    def elements(self, t):
        return [None]

    def stage(self, t, backward: bool = False) -> str:
        op = t.grad_fn.op
        formula, derivative = op.describe(t.grad_fn)
        where = self.block_of(t)
        where = f" ({where})" if where else ""
        return f"# {op.name}{' backward' if backward else ''}{where}: {derivative if backward else formula}"

    def block_of(self, t) -> str:
        for k, _, made in self.rec.blocks:
            if any(u is t for u in made):
                return f"layers[{k}]"
        return ""


def describe_blocks(spec) -> str:
    """The blocks in one line: conv2d(1→1, 2×2) → maxpool2d(2×2) → ..."""
    parts = []
    for b in spec.blocks:
        kind = b["kind"]
        extra = {"conv2d": "{out_channels} channels, kernel {kernel_size}", "maxpool2d": "kernel {kernel_size}",
                 "avgpool2d": "kernel {kernel_size}", "linear": "{out} outputs", "dropout": "p {p}",
                 "rnn": "{hidden_size} hidden units, {nonlinearity}"}.get(kind)
        act = b.get("activation", "none")
        fields = {"p": 0.5, "nonlinearity": "tanh", **b}
        parts.append(kind + (f"({extra.format(**fields)})" if extra else "") + ("" if act == "none" else f" + {act}"))
    return " → ".join(parts)


def header(rec: LayeredRecorded, to: str, steps: int, lang: str = "en") -> str:
    spec = rec.spec
    name = python_text(spec.name)
    command = f"`chainrule export {name} --to {to}`"
    setup = f"{describe_blocks(spec)}, loss {spec.loss}, optimizer {spec.optimizer}, learning rate {spec.lr!r}"
    if lang == "zh":
        sample = ("样本 x 及其目标取自设定本身；脚本也打印 ∂L/∂x。" if rec.fixed else
                  f"该设定在数据集上训练；本脚本在下面写出的一批固定的 {rec.x.shape[0]} 个随机样本"
                  f"（标准正态分布，种子 {spec.seed or 0}）上运行，因此无需其他文件。")
        lines = [f'"""分层设定 \'{name}\' 的网络，由 {command} 生成。', "",
                 f"{_zh_setup(setup)}，{steps} 轮。", sample]
        if rec.dropout:
            lines.append("随机失活写成恒等映射（评估模式）：两种脚本中的随机掩码无法相同。")
        lines += ["每轮训练打印更新前的预测值和损失值，与 chainrule 算出的完全相同，然后打印更新后的参数。", '"""']
        return "\n".join(lines)
    if rec.fixed:
        sample = "The sample x and its target are the spec's own; the script also prints ∂L/∂x."
    else:
        sample = (f"The spec trains on a data set; this script takes its steps on a fixed batch of {rec.x.shape[0]} "
                  f"random samples (normal(0, 1), seed {spec.seed or 0}) written below, so that it runs on its own.")
    lines = [f'"""The network of layered spec \'{name}\', written out by {command}.', "",
             f"{setup}, {steps} epoch(s).", sample]
    if rec.dropout:
        lines.append("Dropout is written as the identity (evaluation mode): a random mask could not be the same in "
                     "NumPy and PyTorch.")
    lines += ["Each epoch prints the prediction and the loss before that epoch's update, exactly as chainrule computes them,",
              "then the parameters after the update.", '"""']
    return "\n".join(lines)


def _zh_setup(text: str) -> str:
    for en, zh in (("batchnorm", "批归一化"), ("flatten", "展平"), ("linear(", "线性层("), ("dropout(", "随机失活("),
                   ("optimizer momentum", "optimizer 动量"), ("rnn(", "循环层("), (" hidden units", " 个隐藏单元"), (" channels, kernel ", " 个通道，卷积核 "), ("kernel ", "窗口 "), (" outputs", " 个输出"),
                   ("loss ", "损失函数 "), ("optimizer ", "优化器 "), ("learning rate ", "学习率 "), ("p ", "概率 "),
                   (", ", "，")):
        text = text.replace(en, zh)
    return text


def flat_lines(head: str, values, tail: str = ")", width: int = 100) -> list[str]:
    """``head + values + tail`` with exact float literals, for ``head`` ending in an opened call
    (``W1 = np.array(``) and ``tail`` closing it. Arrays of more than two axes that do not fit on one line
    are written one image row per line (or, when there are many rows, as wrapped numbers) and reshaped."""
    from .graph import matrix_lines, nested

    values = np.asarray(values, dtype=np.float64)
    if values.ndim <= 2:
        return matrix_lines(head, values, tail)
    one = f"{head}{nested(values)}{tail}"
    if len(one) <= width:
        return [one]
    close = f"]).reshape{values.shape}{tail[1:]}"
    rows = values.reshape(-1, values.shape[-1])
    if len(rows) <= 64 and all(len(nested(r)) + 5 <= width for r in rows):
        return [f"{head}["] + [f"    {nested(r)}," for r in rows] + [close]
    lines, current = [f"{head}["], "   "
    for item in (repr(float(v)) for v in values.ravel()):
        if len(current) + len(item) + 2 > width:
            lines.append(current)
            current = "   "
        current += f" {item},"
    return lines + [current, close]
