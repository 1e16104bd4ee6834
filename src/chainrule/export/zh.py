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
]
PIECES = [
    (re.compile(r"\bbackward\b"), "反向"),
    (re.compile(r"\blayer (\d+) \(output\)"), r"第\1层（输出层）"),
    (re.compile(r"\blayer (\d+)\b"), r"第\1层"),
    (re.compile(r"^linear\b"), "线性层"),
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
