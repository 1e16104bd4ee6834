"""Chinese comments for exported scripts (``chainrule export --lang zh``), as the seed's own code has.

The generators write English comments (their own, and each op's formula line); this module rewrites
only the comments and the module docstring, phrase by phrase, so the code itself is untouched and
runs exactly as the English script does. Formulas, symbols and identifiers stay as they are.
"""

from __future__ import annotations

import re

# Whole-comment phrases first, then the pieces op comments are made of ("linear backward, layer 2
# (output): ..."). Order matters: longer phrases before the words inside them.
PHRASES = [
    ("Each epoch prints the prediction and the loss before that epoch's update, exactly as chainrule computes them,",
     "每轮训练打印更新前的预测值和损失值，与 chainrule 算出的完全相同，"),
    ("then the parameters after the update.", "然后打印更新后的参数。"),
    ("Hyperparameters", "超参数"),
    ("Forward pass", "前向传播"),
    ("Backward pass and update: autograd computes every gradient, the optimizer applies them",
     "反向传播与更新：autograd 计算每个梯度，优化器把它们应用到参数上"),
    ("Backward pass: the chain rule, from the loss back to every weight", "反向传播：链式法则，从损失一直传回每个权重"),
    ("Backward pass: the chain rule, layer by layer", "反向传播：链式法则，逐层计算"),
    ("every gradient above was computed with the weights from before this update",
     "上面所有梯度都是用本次更新之前的权重算出的"),
    ("Update", "更新"),
    ("Data: the inputs and the expected output (the class as one-hot)", "数据：输入和期望输出（类别写成独热向量）"),
    ("Data: the inputs and the expected output", "数据：输入和期望输出"),
    ("Data: one row per sample; the classes as one-hot rows", "数据：每行一个样本；类别写成独热向量"),
    ("Data: one row per sample", "数据：每行一个样本"),
    ("one row per sample", "每行一个样本"),
    ("Layers. nn.Linear keeps its weight as (out, in): row j holds the weights w_ij into neuron j",
     "网络层。nn.Linear 按（输出, 输入）存放权重：第 j 行是进入神经元 j 的各个权重 w_ij"),
    ("Initialisation: w_l_ij is the weight of layer l from neuron i (below) to neuron j (above)",
     "初始化：w_l_ij 是第 l 层从（前一层的）神经元 i 到（后一层的）神经元 j 的权重"),
    ("Initialisation: W1[i, j] is the weight from neuron i of the layer below to neuron j (w_ij)",
     "初始化：W1[i, j] 是从前一层的神经元 i 到神经元 j 的权重（w_ij）"),
    ("Gradients start at zero and are summed over the samples of the batch", "梯度从零开始，对批次中的样本求和"),
    ("Adam's running averages of the gradient (m) and of its square (v)", "Adam 的梯度滑动平均 (m) 与梯度平方的滑动平均 (v)"),
    ("Momentum buffers", "动量缓存"),
    ("Frozen parameters: no gradient, not updated", "固定参数：不求梯度，也不更新"),
    ("shifted by the largest logit, so that e^z cannot overflow", "先减去最大的 z，使 e^z 不会溢出"),
    ("from the shifted logits", "由平移后的 z 计算"),
    ("finite even where softmax(z)_j underflows to 0", "即使 softmax(z)_j 下溢为 0 也是有限值"),
    ("finite even where softmax(z) underflows to 0", "即使 softmax(z) 下溢为 0 也是有限值"),
    ("The parameters after this epoch's update (weights in (from, to) order, the transpose of .weight)",
     "本轮更新后的参数（权重按（来源, 去向）顺序，是 .weight 的转置）"),
    ("The parameters after this epoch's update", "本轮更新后的参数"),
] + [
    # layered specs (export/layered*.py and the NumPy rules of conv2d, pooling, batch norm, reshape)
    ("Data: the spec's sample, as a batch of one (N, C, H, W)", "数据：设定中的样本，作为只有一个样本的批次 (N, C, H, W)"),
    ("Data: the spec's sample, as a batch of one", "数据：设定中的样本，作为只有一个样本的批次"),
    ("the classes as one-hot rows", "类别写成独热向量"),
    ("Data: the spec's batch, one sample per row", "数据：设定中的批次，每行一个样本"),
    ("Initialisation: the spec's weights", "初始化：设定中的权重"),
    ("a kernel W[o, c, i, j]: output channel o, input channel c, row i, column j (PyTorch's layout)",
     "卷积核 W[o, c, i, j]：输出通道 o、输入通道 c、第 i 行、第 j 列（PyTorch 的存放方式）"),
    ("a linear layer's W[i, j]: from input i to output j (the transpose of PyTorch's .weight)",
     "线性层的 W[i, j]：从输入 i 到输出 j（PyTorch 中 .weight 的转置）"),
    ("batch norm's γ (gamma) and β (beta): one per channel or feature", "批归一化的 γ 和 β：每个通道或特征一个"),
    ("The network: the spec's blocks as PyTorch modules", "网络：设定中的各层写成 PyTorch 模块"),
    ("an rnn's W_ih and W_hh likewise: from input (or hidden unit) i to hidden unit j",
     "循环层的 W_ih 和 W_hh 同样：从输入（或隐藏单元）i 到隐藏单元 j"),
    ("torch.nn.RNN (batch_first) that returns every step's hidden state, or the last step's, from a fixed h0",
     "torch.nn.RNN（batch_first）：从固定的 h0 出发，返回每一步的隐藏状态，或只返回最后一步的"),
    ("Constants the network holds (not trained)", "网络中的常量（不训练）"),
    ("the spec's starting weights", "设定中的初始权重"),
    ("∂L/∂x is printed too", "同时打印 ∂L/∂x"),
    ("(in PyTorch's layout)", "（按 PyTorch 的存放方式）"),
    ("written as the identity (evaluation mode): no random mask is drawn", "写成恒等映射（评估模式）：不抽取随机掩码"),
    ("zeros around the image", "在图像四周补零"),
    ("padded with −∞, which never wins a window", "用 −∞ 填充，它永远不会成为窗口的最大值"),
    ("every window of the input, one per output pixel: (N, C, OH, OW, kh, kw)",
     "输入的每个窗口，每个输出像素一个：形状为（样本 N，通道 C，输出的行、列，卷积核的行、列）"),
    ("every window of the input, one per output pixel", "输入的每个窗口，每个输出像素一个"),
    ("each output pixel: its window times the kernel, summed over channels c and positions (i, j)",
     "每个输出像素：它的窗口乘以卷积核，对通道 c 和位置 (i, j) 求和"),
    ("input channels and kernels split into", "输入通道和卷积核分成"),
    ("groups that never meet", "组，组与组之间互不相连"),
    ("∂L/∂w: the correlation of the input with ∂L/∂z (each weight meets every input pixel it multiplied)",
     "∂L/∂w：输入与 ∂L/∂z 的相关（每个权重与它乘过的每个输入像素相遇）"),
    ("∂L/∂b: the sum of ∂L/∂z over the samples and the pixels of each output channel",
     "∂L/∂b：每个输出通道上 ∂L/∂z 对样本和像素求和"),
    ("∂L/∂x: the full convolution of ∂L/∂z with the flipped kernel", "∂L/∂x：∂L/∂z 与翻转后的卷积核做完整卷积"),
    ("the stride spreads ∂L/∂z out:", "步幅把 ∂L/∂z 拉开："),
    ("zeros between neighbours", "个零插在相邻元素之间"),
    ("the kernel rotated by 180° (flipped top to bottom and left to right)", "卷积核旋转 180°（上下翻转并左右翻转）"),
    ("dilation: zeros between the kernel's taps", "膨胀：在卷积核的各个抽头之间插入零"),
    ("'full': ∂L/∂z padded by the kernel's reach minus one on every side, so every overlap counts",
     "“完整”卷积：∂L/∂z 四周各补（卷积核跨度 − 1）个零，使每一处重叠都被计入"),
    ("the padding's cells are not inputs: cut them off", "填充的格子不是输入：把它们切掉"),
    ("the arg-max of each window (the first one on ties, as PyTorch), as a row and column of the input",
     "每个窗口的最大值位置（并列时取第一个，与 PyTorch 相同），写成输入中的行和列"),
    ("each window's ∂L/∂z goes to its arg-max; every other cell gets 0 (overlapping windows add up)",
     "每个窗口的 ∂L/∂z 传给它的最大值位置；其他格子得到 0（重叠的窗口相加）"),
    ("each window's ∂L/∂z, shared equally by its cells: one slab per kernel offset (i, j)",
     "每个窗口的 ∂L/∂z 由窗口内各格平分：每个核偏移 (i, j) 处理一片"),
    ("the mean μ_B and the biased variance σ²_B of each channel over the batch (axes", "每个通道在批次上的均值 μ_B 和有偏方差 σ²_B（轴"),
    ("the three terms: directly, through the mean μ_B, through the variance σ²_B", "三项：直接项、经过均值 μ_B 的项、经过方差 σ²_B 的项"),
    # the ops' own rules (ops/conv.py, pool.py, norm.py, shape.py), as the stage comments quote them
    ("(the input correlated with ∂L/∂z)", "（输入与 ∂L/∂z 的相关）"),
    ("∂L/∂z convolved in full with the flipped kernel", "∂L/∂z 与翻转后的卷积核做完整卷积"),
    ("max over the window (i, j) of", "窗口 (i, j) 内的最大值："),
    ("∂L/∂z routed to the arg-max of each window (the first one on ties, as PyTorch); every other cell of the window "
     "gets 0; overlapping windows add up",
     "∂L/∂z 传给每个窗口的最大值位置（并列时取第一个，与 PyTorch 相同）；窗口内其他格子得到 0；重叠的窗口相加"),
    ("Σ over the windows that hold (u, v) of", "对包含 (u, v) 的所有窗口求和："),
    ("|window|", "|窗口|"),
    ("with μ_B, σ²_B the mean and (biased) variance of the channel over the batch",
     "其中 μ_B、σ²_B 是该通道在批次上的均值和（有偏）方差"),
    ("(the three terms: direct, through μ_B, through σ²_B)", "（三项：直接项、经过 μ_B 的项、经过 σ²_B 的项）"),
    (" with ĝ = ", "，其中 ĝ = "),
    ("In evaluation (running statistics)", "评估模式（滑动统计量）下"),
    ("identity on each element", "对每个元素是恒等映射"),
    (" and ", " 和 "),
]
PIECES = [
    (re.compile(r"\bbackward\b"), "反向"),
    (re.compile(r"\blayer (\d+) \(output\)"), r"第\1层（输出层）"),
    (re.compile(r"\blayer (\d+)\b"), r"第\1层"),
    (re.compile(r"^linear\b"), "线性层"),
    (re.compile(r"^reshape\b"), "变形"),
    (re.compile(r"^permute\b"), "转置"),
    (re.compile(r"^getitem\b"), "取元素"),
    (re.compile(r"^add\b"), "加法"),
    (re.compile(r"^stack\b"), "堆叠"),
    (re.compile(r"\b1 at each selected position \(summed over repeats\)"), "选中的每个位置为 1（重复选中时相加）"),
    (re.compile(r"\bz if z > 0 else α·z\b"), "z > 0 时为 z，否则为 α·z"),
    (re.compile(r"\b1 if z > 0 else α\b"), "z > 0 时为 1，否则为 α"),
    (re.compile(r"\(momentum\)"), "（动量）"),
    (re.compile(r"^layers\[(\d+)\]: dropout\b"), r"layers[\1]：随机失活"),
    (re.compile(r"^Data: a fixed batch of (\d+) random samples \(normal\(0, 1\), seed (\d+)\)"),
     r"数据：一批固定的 \1 个随机样本（标准正态分布，种子 \2）"),
    (re.compile(r"groups = (\d+): "), r"分组数 = \1："),
    (re.compile(r"\b1 if z > 0 else 0\b"), "z > 0 时为 1，否则为 0"),
]


def _comment(text: str) -> str:
    for en, zh in PHRASES:
        text = text.replace(en, zh)
    for pattern, zh in PIECES:
        text = pattern.sub(zh, text)
    return text.replace(", 第", "，第").replace(": ", "：")


def _header(doc: str) -> str:
    """The module docstring's first lines in Chinese; its command line stays as code."""
    m = re.match(r'"""The network of spec (.+?), written out by (`[^`]+`)\.\n\n(.*?)\n(.*?)\n"""', doc, re.S)
    if not m:
        return doc
    name, command, setup, last = m.groups()
    setup = (setup.replace("activations ", "激活函数 ").replace("with bias", "有偏置").replace("no bias", "无偏置")
             .replace("loss ", "损失函数 ").replace("optimizer ", "优化器 ").replace("learning rate ", "学习率 ")
             .replace(" epoch(s).", " 轮。").replace("bias ", "偏置 ").replace("/on", "/有").replace("/off", "/无")
             .replace("on/", "有/").replace("off/", "无/").replace("none", "无").replace(", ", "，"))
    return f'"""设定 {name} 的网络，由 {command} 生成。\n\n{setup}\n{_comment(last)}\n"""'


def translate(code: str) -> str:
    """The script with Chinese comments and docstring; every code token unchanged."""
    end = code.index('"""', 3) + 3 if code.startswith('"""') else 0
    out = [_header(code[:end])] if end else []
    for line in code[end:].split("\n"):
        stripped = line.lstrip()
        if stripped.startswith("#"):
            indent = line[: len(line) - len(stripped)]
            out.append(indent + "# " + _comment(stripped[1:].strip()))
        else:
            out.append(line)
    return (out[0] + "\n".join(out[1:])) if end else "\n".join(out)
