"""Write the lesson notebooks, English and Chinese, from one source: ``python lessons/build.py``.

Each lesson is a list of cells; a markdown cell holds both languages, a code cell is shared (the
first cell sets ``LANG``; the Chinese notebook's comments come from ``ZH_COMMENTS``). Notebooks are stored without outputs; tests/test_lessons.py executes every
one of them and fails on a cell error. "Checked outputs" are ``assert`` lines in the cells, against
hand algebra or a published worked example, so a drifted number fails the run.
"""

from __future__ import annotations

import io
import os
import sys
import tokenize

HERE = os.path.dirname(os.path.abspath(__file__))


def md(en, zh):
    return ("md", en.strip("\n"), zh.strip("\n"))


def code(src):
    return ("code", src.strip("\n"))


SETUP = """
import numpy as np

import chainrule as cr
from chainrule.classroom import check_answers
from chainrule.network import run

LANG = "{lang}"   # "en" or "zh": the language of figures, derivations and grades
"""

# The Chinese notebooks' code comments: a code cell is shared, and notebook(cells, "zh") swaps each
# comment below for its Chinese one (comment tokens only, so the code stays identical). A comment of
# symbols alone (# ∂L/∂y') needs no entry; tests/test_lessons.py checks that none in English is left.
ZH_COMMENTS = {
    '# "en" or "zh": the language of figures, derivations and grades': '# 图、推导与评分的语言（`"en"` 或 `"zh"`）',
    "# w1[i][j] = w'_ij: from input i to hidden neuron j": "# w1[i][j] = w'_ij：从输入 i 到隐藏神经元 j",
    "# z_2, z_3 never recomputed": "# z_2、z_3 没有重新计算",
    "# the given numbers only: the rest is yours to work out": "# 只给出这些数，其余的由你来算",
    "# ½(1 − 0.12)², worked for you": "# ½(1 − 0.12)²，已替你算好",
    "# output δ": "# 输出层的 δ",
    "# path sum: one term per output": "# 路径求和：每个输出一项",
    "# it never goes up here": "# 在这里它从不上升",
    "# compare with hand-worked numbers in double precision": "# 以双精度与手算的数比较",
    "# the matrix rule: ∂L/∂W = (input rows)ᵀ · (δ rows)": "# 矩阵规则：∂L/∂W = (输入的行)ᵀ · (δ 的行)",
    "# Mazur's ∂E/∂w5": "# Mazur 的 ∂E/∂w5",
    "# log(1 + e^z) without overflow": "# 不会溢出的 log(1 + e^z)",
    "# your VJP here": "# 在这里写你的向量-雅可比积",
    "# the training statistics, not its own": "# 用训练集的统计量，而不是它自己的",
    "# the batch's mean × its size: a sum over samples": "# 批次的均值 × 批次大小：对样本求和",
    "# (a real loop trains here)": "# （真正的训练循环写在这里）",
    "# different initial weights...": "# 不同的初始权重……",
    "# ...replaced by the saved ones": "# ……被保存的权重替换",
    "# the cosine ends at eta_min = 0": "# 余弦调度在 eta_min = 0 处结束",
    "# the printed labels in the notebook's language (library messages stay as PyTorch words them)":
        "# 打印标签使用笔记本的语言（库的报错信息与 PyTorch 一样保持英文）",
    "# a Drawing shows inline in the notebook": "# 图直接显示在笔记本里",
    "# worked above": "# 上面已经算过",
    "# sqrt of a negative number: NaN": "# 负数开平方：NaN",
    "# the input, 4×4 (its one channel)": "# 输入，4×4（只有一个通道）",
    "# the kernel, 2×2": "# 卷积核，2×2",
    "# the target, 3×3": "# 目标，3×3",
    "# four products, added": "# 四个乘积相加",
    "# hand-worked numbers, compared in double precision": "# 手算的数，以双精度比较",
    "# ∂L/∂k: the input correlated with ∂L/∂y": "# ∂L/∂k：输入与 ∂L/∂y 的互相关",
    "# 5×5: ∂L/∂y inside a ring of zeros": "# 5×5：∂L/∂y 外面围一圈零",
    "# the kernel turned by 180°": "# 卷积核翻转 180°",
    "# PyTorch's name for it: the transposed convolution of ∂L/∂y with the kernel (unflipped)":
        "# PyTorch 的叫法：∂L/∂y 与（不翻转的）卷积核做转置卷积",
    "# the slip: the kernel not turned": "# 错误：卷积核没有翻转",
    "# all of it to the winner": "# 全部流向胜出的格子",
    "# (batch, hidden)": "# （批次，隐藏单元）",
    "# the same cell at every step": "# 每一步都是同一个单元",
    "# the slip: no path through later steps": "# 错误：没有经过后面各步的路径",
    "# x₃ = 1 instead of 2": "# x₃ = 1，而不是 2",
}


def translate_comments(src: str, table: dict[str, str]) -> str:
    """Swap each comment token found in table for its translation; everything else is left as it is."""
    lines = src.splitlines(keepends=True)
    for tok in tokenize.generate_tokens(io.StringIO(src).readline):
        if tok.type == tokenize.COMMENT and tok.string in table:
            row, col = tok.start
            line = lines[row - 1]
            lines[row - 1] = line[:col] + table[tok.string] + line[col + len(tok.string):]
    return "".join(lines)


# ------------------------------------------------------------------------------------------------ 1
L1 = ("01-seed", [
    md("""
# Lesson 1 · One training step by hand, then in code

The network of the seed post: two inputs, three hidden neurons, one output, **no bias and no
activation**. Input x = (40, 80), target y = 60, loss ½(y − y')², learning rate η = 10⁻⁵, every
first-layer weight w' = 0.5 and every second-layer weight w'' = 1.

We work one step by hand, check it with chainrule's engine, read the full derivation, look at what
goes wrong in the post's code listings, and train for 100 epochs.
""", """
# 第 1 课 · 手算一步训练，再用代码验证

原文中的网络：两个输入、三个隐藏神经元、一个输出，**不考虑偏置与激活函数**。输入 x = (40, 80)，
期望输出 y = 60，损失函数 ½(y − y')²，学习率 η = 10⁻⁵，第一层参数全为 w' = 0.5，第二层参数全为 w'' = 1。

我们先手算一步，再用 chainrule 的引擎核对，阅读完整的公式推导，看看原文代码清单里的错误，最后训练 100 轮。
"""),
    code(SETUP),
    code("""
cr.viz.draw_network("seed", show="values", lang=LANG)
"""),
    md("""
## Forward pass and loss, by hand

Each hidden neuron adds its weighted inputs: z_j = w'_1j·x₁ + w'_2j·x₂ = 0.5×40 + 0.5×80 = 60.
The output adds the hidden values: y' = 1×60 + 1×60 + 1×60 = 180, and L = ½(60 − 180)² = 7200.
""", """
## 前向传播与损失，手算

每个隐藏神经元把加权输入相加：z_j = w'_1j·x₁ + w'_2j·x₂ = 0.5×40 + 0.5×80 = 60。
输出把隐藏层的值相加：y' = 1×60 + 1×60 + 1×60 = 180，损失 L = ½(60 − 180)² = 7200。
"""),
    code("""
x, y, eta = [40.0, 80.0], 60.0, 1e-5
w1 = [[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]]     # w1[i][j] = w'_ij: from input i to hidden neuron j
w2 = [1.0, 1.0, 1.0]                         # w2[j] = w''_j1
z = [w1[0][j] * x[0] + w1[1][j] * x[1] for j in range(3)]
y_pred = sum(w2[j] * z[j] for j in range(3))
loss = 0.5 * (y - y_pred) ** 2
print(z, y_pred, loss)
assert (z, y_pred, loss) == ([60.0, 60.0, 60.0], 180.0, 7200.0)
"""),
    md("""
## Backward pass, by hand

∂L/∂y' = y' − y = 120. Each second-layer weight multiplies one hidden value, so
∂L/∂w''_j1 = 120 × z_j = 7200. A first-layer weight w'_ij reaches the loss through z_j alone:
∂L/∂w'_ij = ∂L/∂y' · ∂y'/∂z_j · ∂z_j/∂w'_ij = 120 × w''_j1 × x_i: 4800 for x₁, 9600 for x₂.
(The post writes ∂z₁/∂w'₁₃ in the last factor; it must be ∂z₃/∂w'₁₃. The number is the same here
only because all hidden neurons are equal.)
""", """
## 反向传播，手算

∂L/∂y' = y' − y = 120。第二层的每个权重只乘一个隐藏值，所以 ∂L/∂w''_j1 = 120 × z_j = 7200。
第一层权重 w'_ij 只经过 z_j 影响损失：∂L/∂w'_ij = ∂L/∂y' · ∂y'/∂z_j · ∂z_j/∂w'_ij = 120 × w''_j1 × x_i，
对 x₁ 为 4800，对 x₂ 为 9600。（原文最后一个因子写成了 ∂z₁/∂w'₁₃，应为 ∂z₃/∂w'₁₃；这里数值相同，
只是因为三个隐藏神经元完全相同。）
"""),
    code("""
d_out = y_pred - y
g2 = [d_out * z[j] for j in range(3)]
g1 = [[d_out * w2[j] * x[i] for j in range(3)] for i in range(2)]
print(d_out, g2, g1)
assert g2 == [7200.0] * 3 and g1 == [[4800.0] * 3, [9600.0] * 3]
"""),
    md("""
## The same step with the engine

chainrule's tensors record every operation; `backward()` walks the record and fills `.grad`, as in
PyTorch. Weights are matrices in (from, to) order, so the forward pass is two matrix products.
""", """
## 用引擎算同一步

chainrule 的张量会记录每一个运算；`backward()` 沿着记录往回走，把梯度填进 `.grad`，与 PyTorch 相同。
权重矩阵按（来源，去向）排列，前向传播就是两次矩阵乘法。
"""),
    code("""
X = cr.tensor([[40.0, 80.0]])
W1 = cr.full((2, 3), 0.5, requires_grad=True)
W2 = cr.ones((3, 1), requires_grad=True)
L = 0.5 * ((X @ W1 @ W2 - 60.0) ** 2).sum()
L.backward()
print(L.item(), W2.grad.numpy().ravel(), W1.grad.numpy())
assert L.item() == 7200.0
assert np.allclose(W1.grad.numpy(), g1) and np.allclose(W2.grad.numpy().ravel(), g2)
"""),
    md("""
## The whole derivation, written out

`cr.derive` runs the step and writes every line in the post's style — forward pass, loss, chain
rule, update and a finite-difference check — with the engine's numbers.
""", """
## 完整的公式推导

`cr.derive` 运行这一步，并按原文的格式写出每一行：前向传播、损失、链式法则、参数更新，以及有限差分检验，数字都来自引擎。
"""),
    code("""
cr.derive("seed", lang=LANG)
"""),
    md("""
## What goes wrong in the post's listings

The first listing recomputes the hidden values after the update, but assigns `z_1` three times, so
`z_2` and `z_3` keep their old value 60. Its "final" prediction mixes new and old values.
After the update: w'' = 1 − 10⁻⁵×7200 = 0.928, w' = 0.452 (from x₁) and 0.404 (from x₂), so the
right prediction is 3 × 0.928 × (40×0.452 + 80×0.404) = 3 × 0.928 × 50.4 = 140.3136.
""", """
## 原文代码清单中的错误

第一个清单在更新之后重新计算隐藏层，但把 `z_1` 赋值了三次，`z_2` 和 `z_3` 仍是旧值 60，
所以它的“最终”预测混合了新旧数值。更新后 w'' = 1 − 10⁻⁵×7200 = 0.928，w' = 0.452（来自 x₁）和 0.404（来自 x₂），
正确的预测是 3 × 0.928 × (40×0.452 + 80×0.404) = 3 × 0.928 × 50.4 = 140.3136。
"""),
    code("""
w1_new = [[0.5 - eta * g1[i][j] for j in range(3)] for i in range(2)]
w2_new = [1.0 - eta * g for g in g2]
z_new = [w1_new[0][j] * x[0] + w1_new[1][j] * x[1] for j in range(3)]
right = sum(w2_new[j] * z_new[j] for j in range(3))
listing = w2_new[0] * z_new[0] + w2_new[1] * z[1] + w2_new[2] * z[2]   # z_2, z_3 never recomputed
print(right, listing)
assert abs(right - 140.3136) < 1e-9 and abs(listing - 158.1312) < 1e-9
"""),
    md("""
The second listing stores the new first-layer weights in `layer_l_list` (letter l) and never reads
them, so layer 1 never learns; the third trains correctly. docs/seed-errata.md has every detail.
chainrule writes correct scripts of all three kinds from the same recorded step:
""", """
第二个清单把新的第一层参数存进了 `layer_l_list`（字母 l），之后再也没有读取，所以第一层从未学习；第三个清单是对的。
全部细节见文档 `docs/seed-errata.md`（英文）。chainrule 可以从同一次记录的计算中导出三种正确的代码：
"""),
    code("""
from chainrule.export import export
script = export("seed", to="python", steps=2, lang=LANG)
print("\\n".join(script.splitlines()[:24]))
"""),
    md("""
## 100 epochs, and the symmetric-initialisation trap

Training drives y' to 60. But look at the hidden neurons: they start equal, get equal gradients and
so stay equal forever — the three neurons behave like one. Random initial weights break the symmetry.
""", """
## 训练 100 轮，以及对称初始化的陷阱

训练让 y' 逼近 60。但看看隐藏神经元：它们初值相同、梯度相同，于是永远相同——三个神经元等于一个。随机初始化可以打破这种对称。
"""),
    code("""
result = run("seed", steps=100)
print(result.outputs[-1], result.losses[-1])
W1_end = result.steps[-1].params_after["W1"]
print(W1_end)
assert np.allclose(W1_end[:, 0], W1_end[:, 1]) and np.allclose(W1_end[:, 1], W1_end[:, 2])
cr.viz.plot_loss(result.losses, lang=LANG)
"""),
    md("""
## Exercises

A network of the same shape, with weights that are *not* all equal (so the wrong-neuron slip of the
post would now give a wrong number). Work one step by hand, replace each `"?"` with your number and
run the cell: `chainrule grade` marks every answer, names the classic mistake behind a wrong one and
tells a carried error from a new one. The loss is filled in as an example.
""", """
## 练习

同样结构的网络，但权重*不*全相等（原文中“错用神经元”的笔误在这里会给出错误的数）。手算一步，
把每个 `"?"` 换成你的结果并运行：`chainrule grade` 会批改每个答案，指出错误背后常见的原因，并区分“连带错误”与新的错误。损失值已作为示例填好。
"""),
    code("""
exercise = {"name": "exercise-1", "layers": [2, 3, 1], "activations": ["none", "none"], "loss": "half_sse",
            "lr": 0.1, "init": {"weights": [[[0.2, -0.3, 0.4], [0.1, 0.5, -0.2]], [[0.6], [-0.4], [0.3]]]},
            "data": {"x": [2, 3], "y": [1]}}
from chainrule.sheet import given_figure
given_figure(exercise, lang=LANG)       # the given numbers only: the rest is yours to work out
"""),
    code("""
# z = (0.2·2 + 0.1·3, −0.3·2 + 0.5·3, 0.4·2 − 0.2·3) = (0.7, 0.9, 0.2); y' = 0.42 − 0.36 + 0.06 = 0.12
answers = {
    "loss": 0.3872,                     # ½(1 − 0.12)², worked for you
    "dL_doutput": "?",                  # ∂L/∂y'
    "grad": {"W2": [["?"], ["?"], ["?"]],
             "W1": [["?", "?", "?"], ["?", "?", "?"]]},
}
report = check_answers(exercise, answers, lang=LANG)
assert report.counts["wrong"] == 0
"""),
])

# ------------------------------------------------------------------------------------------------ 2
L2 = ("02-mazur", [
    md("""
# Lesson 2 · Nonlinearity and biases: Mazur's 2-2-2 network

Matt Mazur's "A Step by Step Backpropagation Example" adds what the seed left out: a **sigmoid**
σ(z) = 1/(1 + e^(−z)) after every layer and a **bias** per layer. Inputs (0.05, 0.10), targets
(0.01, 0.99), learning rate 0.5. His published numbers are our checks.
""", """
# 第 2 课 · 非线性与偏置：Mazur 的 2-2-2 网络

Mazur 的文章《反向传播逐步演算示例》（原题 `A Step by Step Backpropagation Example`）补上了原文省略的部分：每层之后的 **sigmoid** 激活
σ(z) = 1/(1 + e^(−z))，以及每层的**偏置**。输入 (0.05, 0.10)，期望输出 (0.01, 0.99)，学习率 0.5。
他公布的数字就是我们的检验标准。
"""),
    code(SETUP),
    code("""
cr.viz.draw_network("mazur", show="all", lang=LANG)
"""),
    md("""
## Forward pass

z₁ = 0.15×0.05 + 0.20×0.10 + 0.35 = 0.3775 and a₁ = σ(0.3775) = 0.593269992; Mazur's outputs are
out_o1 = 0.75136507 and out_o2 = 0.772928465, and the total error is 0.298371109.
""", """
## 前向传播

z₁ = 0.15×0.05 + 0.20×0.10 + 0.35 = 0.3775，a₁ = σ(0.3775) = 0.593269992；Mazur 给出的输出为
out_o1 = 0.75136507、out_o2 = 0.772928465，总误差 0.298371109。
"""),
    code("""
step = run("mazur", steps=1).steps[0].to_dict()
print(step["forward"][0]["a"], step["output"], step["loss"])
assert abs(step["forward"][0]["a"][0] - 0.593269992) < 1e-9
assert np.allclose(step["output"], [0.75136507, 0.772928465], atol=1e-8)
assert abs(step["loss"] - 0.298371109) < 1e-9
"""),
    md("""
## δ terms and the path sum

Write δ = ∂L/∂z for every neuron. At the output δ^(2)_k = (y'_k − y_k)·σ'(z^(2)_k), and
σ'(z) = a(1 − a) needs only the activation. A hidden neuron feeds *both* outputs, so its δ adds one
term per path: δ_j = (Σ_k δ^(2)_k · w''_jk) · a_j(1 − a_j). Every gradient is then "δ of the neuron
above × value of the neuron below". Mazur: ∂E/∂w5 = 0.082167041, w5 ← 0.35891648, w1 ← 0.149780716.
""", """
## δ 项与路径求和

对每个神经元记 δ = ∂L/∂z。输出层 δ^(2)_k = (y'_k − y_k)·σ'(z^(2)_k)，而 σ'(z) = a(1 − a) 只需要激活值。
隐藏神经元同时连向*两个*输出，所以它的 δ 按路径相加：δ_j = (Σ_k δ^(2)_k · w''_jk) · a_j(1 − a_j)。
每个梯度都是“上方神经元的 δ × 下方神经元的值”。Mazur：∂E/∂w5 = 0.082167041，w5 ← 0.35891648，w1 ← 0.149780716。
"""),
    code("""
a1 = np.array(step["forward"][0]["a"])
out = np.array(step["output"])
W2 = np.array(step["params_before"]["W2"])
d2 = (out - [0.01, 0.99]) * out * (1 - out)          # output δ
d1 = (W2 @ d2) * a1 * (1 - a1)                       # path sum: one term per output
grad_W2 = np.outer(a1, d2)
grad_W1 = np.outer([0.05, 0.10], d1)
print(d2, d1)
assert np.allclose(d2, step["delta"][1]) and np.allclose(d1, step["delta"][0])
assert abs(grad_W2[0, 0] - 0.082167041) < 1e-9
assert abs(step["params_after"]["W2"][0][0] - 0.35891648) < 1e-8
assert abs(step["params_after"]["W1"][0][0] - 0.149780716) < 1e-9
"""),
    md("""
The derivation writes the same thing line by line; the layer-1 gradients show both paths.
""", """
公式推导逐行写出同样的内容；第一层的梯度展示了两条路径。
"""),
    code("""
cr.derive("mazur", lang=LANG)
"""),
    md("""
## The first 10,000 steps

Mazur reports the error after 10,000 rounds. His walk-through keeps the biases fixed, while this
spec updates them too, so compare the shape of the curve rather than the last digits.
""", """
## 前 10,000 步

Mazur 给出了 10,000 轮之后的误差。他的推导中偏置保持不变，而这里的网络也更新偏置，所以请比较曲线的形状，而不是最后几位数字。
"""),
    code("""
long = run("mazur", steps=10_000, keep_graph=0)
print(long.losses[0], long.losses[999], long.losses[-1])
assert long.losses[-1] < 1e-4 < long.losses[0]
assert all(b <= a + 1e-15 for a, b in zip(long.losses, long.losses[1:]))   # it never goes up here
cr.viz.plot_loss(long.losses, lang=LANG)
"""),
    md("""
## Exercises

A variant of Mazur's network with other numbers (the same one a worksheet would give a student).
Work the forward pass and the output δ terms by hand; z₁ is given as an example.
""", """
## 练习

Mazur 网络的一个变体（练习卷会发给学生的那种）。手算前向传播和输出层的 δ；z₁ 已作为示例给出。
"""),
    code("""
from chainrule.worksheet import variant
v = variant("mazur", seed=2026, index=1)
print(v.raw["init"], v.raw["data"], "lr =", v.raw["lr"])
from chainrule.sheet import given_figure
given_figure(v.spec, lang=LANG)
"""),
    code("""
x1, x2 = v.raw["data"]["x"]
(w11, w12), (w21, w22) = v.raw["init"]["weights"][0]
z1 = w11 * x1 + w21 * x2 + v.raw["init"]["biases"][0][0]
answers = {
    "forward": [{"layer": 1, "z": [z1, "?"], "a": ["?", "?"]},
                {"layer": 2, "z": ["?", "?"], "a": ["?", "?"]}],
    "loss": "?",
    "delta": [["?", "?"], ["?", "?"]],
}
report = check_answers(v.spec, answers, lang=LANG)
assert report.counts["wrong"] == 0
"""),
])

# ------------------------------------------------------------------------------------------------ 3
L3 = ("03-matrices", [
    md("""
# Lesson 3 · From scalars to matrices: batches and broadcasting

Mazur's network again, now as matrix products: Z₁ = X·W₁ + b₁, A₁ = σ(Z₁), Z₂ = A₁·W₂ + b₂.
One row of X per sample. Then a batch: why gradients **sum over samples**, and why a bias's gradient
is a column sum (**broadcasting undone**).
""", """
# 第 3 课 · 从标量到矩阵：批次与广播

再看 Mazur 的网络，这次写成矩阵乘法：Z₁ = X·W₁ + b₁，A₁ = σ(Z₁)，Z₂ = A₁·W₂ + b₂。X 的每一行是一个样本。
然后是批次：为什么梯度要**对样本求和**，为什么偏置的梯度是按列求和（**撤销广播**）。
"""),
    code(SETUP),
    code("""
cr.set_default_dtype(cr.float64)   # compare with hand-worked numbers in double precision
X = cr.tensor([[0.05, 0.10]])
W1 = cr.tensor([[0.15, 0.25], [0.20, 0.30]], requires_grad=True)
b1 = cr.tensor([0.35, 0.35], requires_grad=True)
W2 = cr.tensor([[0.40, 0.50], [0.45, 0.55]], requires_grad=True)
b2 = cr.tensor([0.60, 0.60], requires_grad=True)
Y = cr.tensor([[0.01, 0.99]])
A1 = cr.sigmoid(X @ W1 + b1)
A2 = cr.sigmoid(A1 @ W2 + b2)
L = 0.5 * ((A2 - Y) ** 2).sum()
L.backward()
print(L.item())
print(W2.grad.numpy())
# the matrix rule: ∂L/∂W = (input rows)ᵀ · (δ rows)
a1, a2 = A1.detach().numpy(), A2.detach().numpy()
D2 = (a2 - Y.numpy()) * a2 * (1 - a2)
assert np.allclose(W2.grad.numpy(), a1.T @ D2)
assert abs(W2.grad.numpy()[0, 0] - 0.082167041) < 1e-9        # Mazur's ∂E/∂w5
"""),
    md("""
## A batch: gradients add up

With several samples the loss is a sum (or a mean) over them, so every gradient is the sum of the
samples' own gradients. The `relu` spec has three samples and the mean squared error; below each
sample's gradient is computed alone, and the batch gradient is their sum divided by 3.
""", """
## 批次：梯度相加

有多个样本时，损失是对它们的求和（或平均），所以每个梯度都是各样本梯度之和。`relu` 网络有三个样本，
使用均方误差；下面先单独计算每个样本的梯度，批次梯度等于它们的和再除以 3。
"""),
    code("""
from chainrule.spec import load_spec
spec = load_spec("relu")
batch = run(spec, steps=1).steps[0].grads["W1"]
parts = []
for s in range(spec.batch_size):
    one = dict(spec.raw, data={"x": spec.x[s].tolist(), "y": spec.y[s].tolist()})
    parts.append(run(load_spec(one), steps=1).steps[0].grads["W1"])
print(batch)
assert np.allclose(batch, sum(parts) / spec.batch_size)
"""),
    md("""
## Broadcasting undone

`X @ W1 + b1` adds the same bias row to every sample: b₁ is *broadcast* from shape (3,) to (N, 3).
Its gradient must come back to shape (3,), and since b₁ was used once per sample, the upstream
gradients are **summed down the rows**. The engine does this in one place for every op.
""", """
## 撤销广播

`X @ W1 + b1` 把同一个偏置行加到每个样本上：b₁ 从形状 (3,) *广播* 成 (N, 3)。它的梯度必须回到形状 (3,)；
既然 b₁ 对每个样本都用了一次，上游梯度就要**按行相加**。引擎在一个地方为所有运算完成这件事。
"""),
    code("""
Xb = cr.tensor(spec.x)
W = cr.tensor(spec.weights[0], requires_grad=True)
b = cr.tensor(spec.biases[0], requires_grad=True)
Z = Xb @ W + b
Z.retain_grad()
(cr.relu(Z) ** 2).sum().backward()
print(b.grad.numpy(), Z.grad.numpy().sum(axis=0))
assert b.grad.numpy().shape == (3,) and np.allclose(b.grad.numpy(), Z.grad.numpy().sum(axis=0))
"""),
    md("""
The derivation of a batch writes each sample's forward pass and then the summed gradients:
""", """
批次的公式推导先写出每个样本的前向传播，再写出求和后的梯度：
"""),
    code("""
cr.derive("relu", lang=LANG)
"""),
    md("""
## Exercises

For the `relu` spec (three samples, mean squared error over 3 values): the loss and ∂L/∂b'' — the
output bias's gradient, a sum over the three samples. The first sample's output is given.
""", """
## 练习

对 `relu` 网络（三个样本，对 3 个值取均方误差）：求损失和 ∂L/∂b''——输出偏置的梯度，是对三个样本的求和。第一个样本的输出已给出。
"""),
    code("""
first = run("relu", steps=1).steps[0].to_dict()["output"][0]
answers = {"output": [first, ["?"], ["?"]], "loss": "?", "grad": {"b2": ["?"]}}
report = check_answers("relu", answers, lang=LANG)
assert report.counts["wrong"] == 0
"""),
])

# ------------------------------------------------------------------------------------------------ 4
L4 = ("04-build-an-op", [
    md("""
# Lesson 4 · Build your own op

Every op in chainrule keeps three things side by side: its **forward** (NumPy), its **VJP** (the
gradient of the output pulled back to each input: g ↦ g·∂out/∂in) and its **written rule**, which the
derivations print. Here we add softplus(z) = log(1 + eᶻ), whose derivative is σ(z), and check it
with `cr.gradcheck` — central finite differences in float64.
""", """
# 第 4 课 · 自己写一个运算

chainrule 的每个运算把三样东西放在一起：**前向计算**（用 `NumPy`）、**向量-雅可比积**（`VJP`，把输出的梯度拉回到每个输入：
g ↦ g·∂输出/∂输入）和**书面规则**（推导中打印的公式）。这里我们添加 softplus(z) = log(1 + eᶻ)，它的导数是 σ(z)，
并用 `cr.gradcheck`（float64 的中心有限差分）检验。
"""),
    code(SETUP),
    code("""
from chainrule.ops.base import Op
from chainrule.tensor import apply


class Softplus(Op):
    name = "softplus"
    formula, derivative = "log(1 + e^z)", "σ(z) = 1/(1 + e^(−z))"

    def forward(self, z):
        return np.logaddexp(0.0, z)            # log(1 + e^z) without overflow

    def vjp(self, node, g, z):
        return (g * 0.5 * (1 + np.tanh(0.5 * z)),)   # g · σ(z)


def softplus(t):
    return apply(Softplus(), t)


z = cr.tensor([-3.0, 0.0, 2.5], dtype=cr.float64, requires_grad=True)
softplus(z).sum().backward()
print(z.grad.numpy())
assert np.allclose(z.grad.numpy(), 1 / (1 + np.exp(-np.array([-3.0, 0.0, 2.5]))))
"""),
    code("""
zs = cr.randn(4, 3, dtype=cr.float64, requires_grad=True)
assert cr.gradcheck(softplus, (zs,))
print({"en": "gradcheck passed", "zh": "梯度检查通过"}[LANG])
"""),
    md("""
## A wrong VJP is caught

Forget the ½ inside the tanh form of σ and the gradient is wrong everywhere except at 0.
`gradcheck` compares every element of the Jacobian and names the first mismatch.
""", """
## 错误的向量-雅可比积会被发现

在 σ 的 tanh 形式里漏掉 ½，梯度除了 0 处以外都是错的。`gradcheck` 比较雅可比矩阵的每个元素，并指出第一个不一致之处。
"""),
    code("""
class BadSoftplus(Softplus):
    def vjp(self, node, g, z):
        return (g * 0.5 * (1 + np.tanh(z)),)


try:
    cr.gradcheck(lambda t: apply(BadSoftplus(), t), (zs,))
    caught = None
except cr.GradcheckError as exc:
    caught = exc
print(caught)
assert caught is not None
"""),
    md("""
## The op in a network

A custom op is used like any other: a tiny layer with softplus trains, and every gradient it
records passes the same check.
""", """
## 在网络中使用这个运算

自定义运算和其他运算用法相同：用 `softplus` 的小网络可以训练，它记录的每个梯度都通过同样的检验。
"""),
    code("""
cr.manual_seed(0)
X = cr.randn(8, 2, dtype=cr.float64)
W = cr.randn(2, 1, dtype=cr.float64, requires_grad=True)
assert cr.gradcheck(lambda w: (softplus(X @ w) ** 2).mean(), (W,))
opt = cr.optim.SGD([W], lr=0.1)
losses = []
for _ in range(50):
    opt.zero_grad()
    loss = (softplus(X @ W) ** 2).mean()
    loss.backward()
    opt.step()
    losses.append(loss.item())
print(losses[0], losses[-1])
assert losses[-1] < losses[0]
"""),
    md("""
## Exercises

1. Write a `Cube` op (z³, derivative 3z²) and check it with `cr.gradcheck`.
2. By hand: the `seed`-shaped network below has a tanh hidden layer. Give ∂L/∂y' and the output
   layer's δ; the grader checks them (z₁ is given).
""", """
## 练习

1. 写一个 `Cube` 运算（z³，导数 3z²），并用 `cr.gradcheck` 检验。
2. 手算：下面的网络有一个 tanh 隐藏层。求 ∂L/∂y' 和输出层的 δ；由批改程序检查（z₁ 已给出）。
"""),
    code("""
class Cube(Op):
    name = "cube"
    formula, derivative = "z³", "3z²"

    def forward(self, z):
        return z ** 3

    def vjp(self, node, g, z):
        return (g * 3 * z ** 2,)     # your VJP here


assert cr.gradcheck(lambda t: apply(Cube(), t), (zs,))
"""),
    code("""
exercise = {"name": "exercise-4", "layers": [2, 2, 1], "activations": ["tanh", "none"], "loss": "half_sse",
            "lr": 0.1, "init": {"weights": [[[0.3, -0.2], [0.4, 0.6]], [[0.5], [-0.7]]]},
            "data": {"x": [0.5, -0.5], "y": [0.2]}}
answers = {"forward": [{"layer": 1, "z": [-0.05, "?"], "a": ["?", "?"]}],
           "dL_doutput": "?", "delta": [["?", "?"], ["?"]]}
report = check_answers(exercise, answers, lang=LANG)
assert report.counts["wrong"] == 0
"""),
])

# ------------------------------------------------------------------------------------------------ 5
L5 = ("05-train-for-real", [
    md("""
# Lesson 5 · Train for real: iris and digits

So far every network had a handful of weights and one or two samples. Now real data: Fisher's
**iris** flowers (150 samples, 4 measurements, 3 species) and 1,797 handwritten **digits** (8×8
images), both bundled with chainrule. The tools are PyTorch's: a `TensorDataset` and a `DataLoader`
for mini-batches, an **optimizer**, a **learning-rate schedule**, a **checkpoint** to stop and
resume, and **loss curves** to see what happened.
""", """
# 第 5 课 · 真正的训练：鸢尾花与手写数字

到目前为止，每个网络只有几个权重、一两个样本。现在换成真实数据：费希尔的**鸢尾花**（150 个样本，4 个测量值，3 个品种）
和 1,797 个**手写数字**（8×8 图像），两者都随 chainrule 一起提供。工具与 PyTorch 相同：用 `TensorDataset` 和
`DataLoader` 取小批次，用**优化器**更新参数，用**学习率调度**调整步长，用**检查点**暂停与恢复训练，用**损失曲线**观察训练过程。
"""),
    code(SETUP),
    md("""
## The data

`cr.data.load_dataset("iris")` gives a table: features `x` (150, 4) and class labels `y`. Fisher's
1936 paper has 50 flowers of each species. We hold out 20% of each species for validation
(`stratify=True`) and standardise every column with the *training* rows' mean and standard
deviation — the validation rows must not leak into the statistics.
""", """
## 数据

`cr.data.load_dataset("iris")` 返回一张表：特征 `x`（150, 4）和类别标签 `y`。费希尔 1936 年的论文中每个品种各有 50 朵花。
我们从每个品种中各留出 20% 作为验证集（`stratify=True`），并用*训练集*的均值和标准差对每一列做标准化——验证集的数据不能混进这些统计量。
"""),
    code("""
from chainrule import nn
import chainrule.nn.functional as F

# the printed labels in the notebook's language (library messages stay as PyTorch words them)
SAY = {"en": {"train": "train loss", "val": "validation loss", "acc": "accuracy", "bytes": "bytes",
              "after": "validation accuracy after {n} epochs", "wrong": "{k} of {n} validation digits wrong"},
       "zh": {"train": "训练损失", "val": "验证损失", "acc": "准确率", "bytes": "字节",
              "after": "训练 {n} 轮后的验证准确率", "wrong": "{n} 个验证数字中错了 {k} 个"}}[LANG]

iris = cr.data.load_dataset("iris")
print(iris.x.shape, iris.feature_names, iris.classes, np.bincount(iris.y))
assert iris.x.shape == (150, 4) and np.bincount(iris.y).tolist() == [50, 50, 50]
(x_train, y_train), (x_val, y_val) = cr.data.train_val_split(iris.x, iris.y, val_fraction=0.2, seed=0,
                                                             stratify=True)
x_train, mean, std = cr.data.standardize(x_train)
x_val, _, _ = cr.data.standardize(x_val, mean, std)          # the training statistics, not its own
print(len(x_train), len(x_val), np.bincount(y_val))
assert (len(x_train), len(x_val)) == (120, 30) and np.bincount(y_val).tolist() == [10, 10, 10]
"""),
    md("""
## Dataset and DataLoader

A `TensorDataset` pairs the i-th row of each tensor: `train_set[i]` is (features, label). A
`DataLoader` cuts it into mini-batches, in a fresh random order every epoch when `shuffle=True`.
120 samples in batches of 32 make ⌈120/32⌉ = 4 batches: 32 + 32 + 32 + 24.
""", """
## 数据集与数据加载器

`TensorDataset` 把每个张量的第 i 行配成一对：`train_set[i]` 就是（特征，标签）。`DataLoader` 把它切成小批次，
`shuffle=True` 时每一轮都重新随机排序。120 个样本、每批 32 个，共 ⌈120/32⌉ = 4 批：32 + 32 + 32 + 24。
"""),
    code("""
train_set = cr.data.TensorDataset(cr.tensor(x_train, dtype=cr.float32), cr.tensor(y_train))
loader = cr.data.DataLoader(train_set, batch_size=32, shuffle=True, generator=0)
sizes = [len(yb) for xb, yb in loader]
print(len(train_set), len(loader), sizes)
assert len(loader) == 4 and sizes == [32, 32, 32, 24]
xb, yb = next(iter(loader))
print(xb.shape, xb.dtype, yb.shape, yb.dtype)
"""),
    md("""
## How an optimizer moves a weight

`opt.step()` reads every parameter's `.grad` and moves the parameter; `opt.zero_grad()` clears the
gradients, which otherwise **add up** from one `backward()` to the next. Plain SGD moves by −η·g.
SGD with momentum μ keeps a velocity, v ← μ·v + g, and moves by −η·v (PyTorch's form). Take one
weight w = 0.5, input x = 2, target y = 3, loss ½(y − w·x)², η = 0.1, μ = 0.9:
the prediction is 1, ∂L/∂w = (1 − 3)·2 = −4, v = −4 and w ← 0.5 − 0.1·(−4) = 0.9.
""", """
## 优化器如何移动一个权重

`opt.step()` 读取每个参数的 `.grad` 并更新参数；`opt.zero_grad()` 把梯度清零，否则梯度会在一次次 `backward()` 之间**累加**。
普通 SGD 的步长是 −η·g。带动量 μ 的 SGD 保存一个速度 v ← μ·v + g，步长为 −η·v（PyTorch 的写法）。
取一个权重 w = 0.5、输入 x = 2、目标 y = 3、损失 ½(y − w·x)²、η = 0.1、μ = 0.9：
预测为 1，∂L/∂w = (1 − 3)·2 = −4，v = −4，w ← 0.5 − 0.1·(−4) = 0.9。
"""),
    code("""
w = cr.tensor([0.5], dtype=cr.float64, requires_grad=True)
opt = cr.optim.SGD([w], lr=0.1, momentum=0.9)
opt.zero_grad()
loss = 0.5 * ((3.0 - w * 2.0) ** 2).sum()
loss.backward()
print(w.grad.item())
opt.step()
print(w.item())
assert w.grad.item() == -4.0 and abs(w.item() - 0.9) < 1e-12
"""),
    md("""
Adam divides a running mean of the gradient by the square root of a running mean of its square.
On the very first step both means are bias-corrected to g and g², so every weight moves by
η·g/|g| = η against the sign of its gradient — **whatever the gradient's size**. Below the
gradients are 3, −0.01 and 200, and all three weights move by 0.1 (the middle one by 10⁻⁷ less:
Adam divides by |g| + ε with ε = 10⁻⁸).
""", """
Adam 用梯度的滑动平均除以梯度平方的滑动平均的平方根。第一步时，两个平均值经过偏差修正后恰好是 g 和 g²，
所以每个权重都沿梯度的反方向移动 η·g/|g| = η——**与梯度大小无关**。下面三个梯度分别是 3、−0.01 和 200，三个权重都移动 0.1（中间那个少 10⁻⁷：Adam 除以的是 |g| + ε，ε = 10⁻⁸）。
"""),
    code("""
w = cr.tensor([1.0, -2.0, 0.5], dtype=cr.float64, requires_grad=True)
opt = cr.optim.Adam([w], lr=0.1)
(w * cr.tensor([3.0, -0.01, 200.0], dtype=cr.float64)).sum().backward()
opt.step()
print(w.detach().numpy())
g = np.array([3.0, -0.01, 200.0])
assert np.allclose(w.detach().numpy(), [1.0, -2.0, 0.5] - 0.1 * g / (np.abs(g) + 1e-8), rtol=0, atol=1e-12)
assert np.allclose(w.detach().numpy(), [0.9, -1.9, 0.4], rtol=0, atol=1.01e-7)
"""),
    md("""
## Training iris

A 4-16-3 network (tanh hidden layer; the softmax lives inside `cross_entropy`, which takes logits),
Adam with η = 0.01, 30 epochs of 4 mini-batches. After each epoch we measure the loss on the
validation rows under `cr.no_grad()` (nothing to differentiate there) and draw both curves.
""", """
## 训练鸢尾花分类器

4-16-3 网络（隐藏层 tanh；softmax 在 `cross_entropy` 内部，它接收未经归一化的分数，即代码里的 `logits`），Adam，η = 0.01，训练 30 轮，每轮 4 个小批次。
每轮结束后在 `cr.no_grad()` 下计算验证集上的损失（这里不需要求导），并画出两条曲线。
"""),
    code("""
def evaluate(model, x, y):
    \"\"\"(mean cross-entropy, accuracy) on x, y, without recording a graph.\"\"\"
    with cr.no_grad():
        logits = model(x)
        return F.cross_entropy(logits, y).item(), float((logits.argmax(1).numpy() == y.numpy()).mean())


cr.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 3))
opt = cr.optim.Adam(model.parameters(), lr=0.01)
xv, yv = cr.tensor(x_val, dtype=cr.float32), cr.tensor(y_val)
history = {"train": [], "val": []}
for epoch in range(30):
    total = 0.0
    for xb, yb in loader:
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        total += loss.item() * len(yb)         # the batch's mean × its size: a sum over samples
    history["train"].append(total / len(train_set))
    val_loss, val_acc = evaluate(model, xv, yv)
    history["val"].append(val_loss)
print(f"{SAY['train']} {history['train'][-1]:.3f}, {SAY['val']} {val_loss:.3f},",
      f"{SAY['acc']} {val_acc:.0%}")
assert history["train"][-1] < history["train"][0] / 5 and val_acc >= 0.9
cr.viz.plot_loss(history, lang=LANG)
"""),
    md("""
## Learning-rate schedules

A schedule changes η between epochs: call `scheduler.step()` once per epoch, after the optimizer's
steps. `StepLR(step_size=2, gamma=0.5)` halves η every 2 epochs: 0.1, 0.1, 0.05, 0.05, 0.025, 0.025.
`CosineAnnealingLR(T_max=10, eta_min=0.001)` follows half a cosine,
η_t = η_min + (η₀ − η_min)·(1 + cos(πt/10))/2, from 0.1 down to 0.001.
""", """
## 学习率调度

调度器在轮与轮之间改变 η：每轮在优化器的各步之后调用一次 `scheduler.step()`。`StepLR(step_size=2, gamma=0.5)`
每 2 轮把 η 减半：0.1、0.1、0.05、0.05、0.025、0.025。`CosineAnnealingLR(T_max=10, eta_min=0.001)` 沿半个余弦下降：
η_t = η_min + (η₀ − η_min)·(1 + cos(πt/10))/2，从 0.1 降到 0.001。
"""),
    code("""
import math

def lrs(make, epochs):
    p = cr.zeros(1, requires_grad=True)
    opt = cr.optim.SGD([p], lr=0.1)
    sched = make(opt)
    seen = []
    for _ in range(epochs):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()            # (a real loop trains here)
        sched.step()
    return seen


step_lrs = lrs(lambda o: cr.optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.5), 6)
cos_lrs = lrs(lambda o: cr.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=0.001), 11)
print(step_lrs)
print([round(v, 4) for v in cos_lrs])
assert np.allclose(step_lrs, [0.1, 0.1, 0.05, 0.05, 0.025, 0.025])
assert np.allclose(cos_lrs, [0.001 + 0.099 * (1 + math.cos(math.pi * t / 10)) / 2 for t in range(11)])
"""),
    md("""
## Checkpoints: stop and resume

`cr.io.save_checkpoint` writes the model's parameters, the optimizer's state (Adam's running means)
and any JSON `meta` into one file, atomically; `load_checkpoint` reads it back without unpickling
anything. A fresh model and optimizer loaded from the file continue **exactly** where the first
ones stopped: one more step on each gives bit-identical weights.
""", """
## 检查点：暂停与恢复

`cr.io.save_checkpoint` 把模型参数、优化器状态（Adam 的滑动平均）和任意 JSON 格式的 `meta` 原子地写进一个文件；
`load_checkpoint` 读回它，不做任何反序列化（不用 `pickle`）。从文件载入的新模型和新优化器会从原来停下的地方**精确地**继续：
两边各再走一步，得到的权重逐位相同。
"""),
    code("""
import os
import tempfile

path = os.path.join(tempfile.mkdtemp(), "iris.ckpt")
cr.io.save_checkpoint(path, model, opt, meta={"epoch": 30, "val_acc": val_acc})

cr.manual_seed(123)                                        # different initial weights...
model2 = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 3))
opt2 = cr.optim.Adam(model2.parameters(), lr=0.01)
ckpt = cr.io.load_checkpoint(path, model2, opt2)           # ...replaced by the saved ones
print(ckpt["meta"], os.path.getsize(path), SAY["bytes"])
for m, o in ((model, opt), (model2, opt2)):
    o.zero_grad()
    F.cross_entropy(m(xv), yv).backward()
    o.step()
assert all(np.array_equal(a.detach().numpy(), b.detach().numpy())
           for a, b in zip(model.parameters(), model2.parameters()))
"""),
    md("""
## Digits

`cr.data.load_digits()` gives 1,797 images of 8×8 pixels scaled to [0, 1] (the UCI test set of
handwritten digits, about 180 of each digit). Flattened to 64 numbers, they train a 64-64-10 ReLU
network: SGD with momentum 0.9, η from 0.1 down a cosine schedule, 10 epochs of batches of 64.
""", """
## 手写数字

`cr.data.load_digits()` 给出 1,797 张 8×8 像素、缩放到 [0, 1] 的图像（加州大学尔湾分校机器学习库中的手写数字测试集，每个数字约 180 张）。
展平成 64 个数后，训练一个 64-64-10 的 ReLU 网络：动量 0.9 的 SGD，η 从 0.1 按余弦调度下降，训练 10 轮，每批 64 个样本。
"""),
    code("""
images, labels = cr.data.load_digits()
print(images.shape, images.min(), images.max(), np.bincount(labels))
assert images.shape == (1797, 1, 8, 8) and 0 <= images.min() and images.max() <= 1
(d_train, l_train), (d_val, l_val) = cr.data.train_val_split(images.reshape(1797, 64), labels,
                                                             val_fraction=0.2, seed=0, stratify=True)
digits = cr.data.DataLoader(cr.data.TensorDataset(cr.tensor(d_train), cr.tensor(l_train)),
                            batch_size=64, shuffle=True, generator=0)
dv, lv = cr.tensor(d_val), cr.tensor(l_val)

cr.manual_seed(0)
net = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
opt = cr.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
EPOCHS = 10
sched = cr.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=EPOCHS)
curves = {"train": [], "val": []}
for epoch in range(EPOCHS):
    total = 0.0
    for xb, yb in digits:
        opt.zero_grad()
        loss = F.cross_entropy(net(xb), yb)
        loss.backward()
        opt.step()
        total += loss.item() * len(yb)
    sched.step()
    curves["train"].append(total / len(d_train))
    val_loss, val_acc = evaluate(net, dv, lv)
    curves["val"].append(val_loss)
print(f"{SAY['after'].format(n=EPOCHS)}: {val_acc:.1%}")
assert val_acc > 0.9 and opt.param_groups[0]["lr"] < 1e-12   # the cosine ends at eta_min = 0
cr.viz.plot_loss(curves, lang=LANG)
"""),
    md("""
24 validation digits drawn at random, with the network's answer above each (red where it is wrong):
""", """
随机抽取的 24 个验证集数字，上方是网络的答案（错误的标为红色）：
"""),
    code("""
from matplotlib.figure import Figure

with cr.no_grad():
    guess = net(dv).argmax(1).numpy()
print(SAY["wrong"].format(k=int((guess != l_val).sum()), n=len(l_val)))
pick = np.random.default_rng(1).choice(len(l_val), 24, replace=False)
fig = Figure(figsize=(9, 1.9))
for ax, k in zip(fig.subplots(2, 12).flat, pick):
    img, g, true = d_val[k], guess[k], l_val[k]
    ax.imshow(img.reshape(8, 8), cmap="gray_r")
    ax.set_title(str(g), color="#1b7f3b" if g == true else "#c0392b", fontsize=11)
    ax.axis("off")
cr.viz.Drawing(fig, "digits", LANG)      # a Drawing shows inline in the notebook
"""),
    md("""
## Exercises

The one-weight network of the momentum example (w = 0.5, x = 2, y = 3, η = 0.1, μ = 0.9) trains
for a second step. Give ∂L/∂w at step 2 and w after step 2 — remember that v carries step 1's −4.
Step 1's new weight is filled in as an example. (With a single layer the grader notes that it
cannot catch the "already-updated weights" slip here: that mistake needs two layers.)
""", """
## 练习

上面动量例子中的单权重网络（w = 0.5，x = 2，y = 3，η = 0.1，μ = 0.9）再训练一步。求第 2 步的 ∂L/∂w 和第 2 步之后的 w——
别忘了 v 中还带着第 1 步的 −4。第 1 步之后的新权重已作为示例填好。（只有一层时，批改程序会提示它无法发现“使用已更新的权重”
这一错误：那需要两层网络。）
"""),
    code("""
exercise = {"name": "exercise-5", "layers": [1, 1], "activations": ["none"], "bias": False, "loss": "half_sse",
            "lr": 0.1, "optimizer": "momentum", "momentum": 0.9, "init": {"weights": [[[0.5]]]},
            "data": {"x": [2], "y": [3]}}
answers = {"steps": [
    {"step": 1, "params_after": {"W1": [[0.9]]}},            # worked above
    {"step": 2, "grad": {"W1": [["?"]]}, "params_after": {"W1": [["?"]]}},
]}
report = check_answers(exercise, answers, lang=LANG)
assert report.counts["wrong"] == 0
"""),
])

# ------------------------------------------------------------------------------------------------ 6
L6 = ("06-what-goes-wrong", [
    md("""
# Lesson 6 · What goes wrong

Four failures every practitioner meets, each made visible with chainrule: **vanishing gradients**
in a deep sigmoid stack, **exploding steps** from a learning rate that is too large, **dead ReLUs**,
and a NaN tracked to the line that made it with **anomaly detection**.
""", """
# 第 6 课 · 哪里会出错

每个实践者都会遇到的四种失败，用 chainrule 逐一呈现：深层 sigmoid 网络中的**梯度消失**、学习率过大导致的**步长爆炸**、
**死亡 ReLU**，以及用**异常检测**把 NaN 追踪到产生它的那一行。
"""),
    code(SETUP),
    md("""
## Vanishing gradients

σ'(z) is at most ¼, and backpropagation multiplies one such factor per layer. Through eight sigmoid
layers the first layer's gradient is orders of magnitude smaller than the last one's.
""", """
## 梯度消失

σ'(z) 最大只有 ¼，反向传播每经过一层就乘一个这样的因子。经过八个 sigmoid 层后，第一层的梯度比最后一层小几个数量级。
"""),
    code("""
from chainrule import nn
cr.manual_seed(1)
layers = []
for _ in range(8):
    layers += [nn.Linear(4, 4), nn.Sigmoid()]
deep = nn.Sequential(*layers, nn.Linear(4, 1))
x = cr.randn(16, 4)
(deep(x) ** 2).mean().backward()
norms = [float(np.abs(m.weight.grad.numpy()).mean()) for m in deep if isinstance(m, nn.Linear)]
LAYER = {"en": "layer {k}: mean |∂L/∂W| = {n:.2e}",
         "zh": "第 {k} 层：|∂L/∂W| 的平均值 = {n:.2e}"}[LANG]
for k, n in enumerate(norms, 1):
    print(LAYER.format(k=k, n=n))
assert norms[0] < norms[-1] / 100
"""),
    md("""
## Exploding steps

The seed network with η = 10⁻³ instead of 10⁻⁵: every update overshoots, and the loss grows each
step. The derivation warns about it.
""", """
## 步长爆炸

把原文网络的学习率从 10⁻⁵ 改成 10⁻³：每次更新都冲过头，损失一步比一步大。公式推导会给出警告。
"""),
    code("""
from chainrule.spec import load_spec
hot = dict(load_spec("seed").raw, lr=1e-3, name="seed-hot")
losses = run(hot, steps=5).losses
print(losses)
assert all(b > a for a, b in zip(losses, losses[1:]))
warnings = cr.derive(hot, lang=LANG).to_dict()["steps"][0]["warnings"]
print(warnings)
assert warnings
"""),
    md("""
## Dead ReLUs

A ReLU whose input is negative for every sample passes no gradient: its weights never change.
A large negative bias is enough to kill a unit.
""", """
## 死亡 ReLU

如果某个 ReLU 对所有样本的输入都是负数，它就不传递任何梯度：它的权重永远不会改变。一个很大的负偏置就足以“杀死”一个单元。
"""),
    code("""
dead = dict(load_spec("relu").raw, name="relu-dead")
dead["init"] = dict(dead["init"], biases=[[-50.0, 0.0, 0.0], 0.0])
step = run(dead, steps=1).steps[0]
print(step.grads["W1"])
assert np.all(step.grads["W1"][:, 0] == 0)
print([w for w in cr.derive(dead, lang=LANG).to_dict()["steps"][0]["warnings"] if "ReLU" in w])
"""),
    md("""
## Anomaly detection

A NaN in a large computation usually shows up far from where it was made. Inside
`cr.detect_anomaly()` every op checks its output and its gradients and names the line that created
the bad value.
""", """
## 异常检测

在大的计算中，NaN 往往在远离产生它的地方才被发现。在 `cr.detect_anomaly()` 中，每个运算都会检查输出和梯度，并指出产生坏值的那一行。
"""),
    code("""
w = cr.tensor([1.0, -2.0], requires_grad=True)
try:
    with cr.detect_anomaly():
        y = cr.sqrt(w)           # sqrt of a negative number: NaN
        y.sum().backward()
    message = None
except cr.AnomalyError as exc:
    message = str(exc)
print(message)
assert message is not None and "sqrt" in message
"""),
    md("""
## Exercises

In the dead-ReLU network above, which gradients are zero? Fill in ∂L/∂w'_11 and ∂L/∂b'_1 (the
dead unit's) and the loss; the grader checks them.
""", """
## 练习

在上面的死亡 ReLU 网络中，哪些梯度为零？填写 ∂L/∂w'_11、∂L/∂b'_1（死亡单元的）和损失；由批改程序检查。
"""),
    code("""
answers = {"loss": "?", "grad": {"W1": [[0, "?", "?"], ["?", "?", "?"]], "b1": ["?", "?", "?"]}}
report = check_answers(dead, answers, lang=LANG)
assert report.counts["wrong"] == 0
"""),
])

# ------------------------------------------------------------------------------------------------ 7
L7 = ("07-conv-rnn", [
    md("""
# Lesson 7 · A convolution and an RNN step by hand

Two layers that **share weights**: a convolution slides one small kernel over the whole image, and a
recurrent cell applies the same matrices at every time step. Sharing is why their gradients are
*sums* — over every position the kernel visited, over every step the cell took. We work both by hand
in NumPy, check each number against the engine, and compute the two rules that are easy to get wrong:
the **flipped kernel** in ∂L/∂x and the **sum over time** in ∂L/∂W_hh.
""", """
# 第 7 课 · 手算卷积与循环神经网络的一步

两种**共享权重**的层：卷积把一个小卷积核滑过整张图像，循环单元在每个时间步使用同一组矩阵。正因为共享，
它们的梯度都是*求和*——对卷积核到过的每个位置求和，对单元走过的每一步求和。我们用 `NumPy` 手算这两种层，
把每个数都与引擎核对，并算清两条容易出错的规则：∂L/∂x 中**翻转的卷积核**，以及 ∂L/∂W_hh 中**对时间的求和**。
"""),
    code(SETUP),
    md("""
## The `conv` spec: a 4×4 input and a 2×2 kernel

chainrule ships a convolution small enough to work on paper: one channel, a 4×4 input x, a 2×2 kernel
k, stride 1, no padding, no bias, so the output y is 3×3; the loss is L = ½Σ(y − t)² against a 3×3
target t.
""", """
## `conv` 网络：4×4 的输入与 2×2 的卷积核

chainrule 自带一个小到可以在纸上计算的卷积：单通道，4×4 的输入 x，2×2 的卷积核 k，步长 1，无填充，无偏置，
所以输出 y 是 3×3；损失函数 L = ½Σ(y − t)²，t 是 3×3 的目标。
"""),
    code("""
from chainrule.layered import load_layered_spec, parse_layered

spec = load_layered_spec("conv")
x = np.array(spec.x[0], dtype=float)                        # the input, 4×4 (its one channel)
k = np.array(spec.blocks[0]["weight"], dtype=float)[0, 0]   # the kernel, 2×2
t = np.array(spec.y[0], dtype=float)                        # the target, 3×3
print(x, k, t, sep="\\n\\n")
"""),
    md("""
## Forward pass, by hand

Output pixel y_ij is the kernel laid on the 2×2 window of x whose top-left corner is x_ij: four
products, added. For the first one, y₁₁ = 1×1 + 0.5×2 + (−1)×0 + 2×1 = 4. (Deep learning's
"convolution" does not flip the kernel in the forward pass — mathematicians call this a
cross-correlation; PyTorch's `conv2d` and chainrule's compute exactly this.)
""", """
## 前向传播，手算

输出像素 y_ij 是把卷积核放在 x 中以 x_ij 为左上角的 2×2 窗口上：四个乘积相加。第一个是
y₁₁ = 1×1 + 0.5×2 + (−1)×0 + 2×1 = 4。（深度学习里的“卷积”在前向传播中并不翻转卷积核——数学上这叫互相关；
PyTorch 的 `conv2d` 和 chainrule 的计算的正是它。）
"""),
    code("""
y = np.zeros((3, 3))
for i in range(3):
    for j in range(3):
        window = x[i:i + 2, j:j + 2]
        y[i, j] = (k * window).sum()                        # four products, added
        products = " + ".join(f"{a:g}×{b:g}" for a, b in zip(k.ravel(), window.ravel()))
        print(f"y_{i + 1}{j + 1} = {products} = {y[i, j]:g}")
assert y[0, 0] == 1 * 1 + 0.5 * 2 + (-1) * 0 + 2 * 1 == 4
"""),
    md("""
The same with the engine, as in PyTorch: tensors are (batch, channels, height, width) and the kernel
is (out channels, in channels, height, width). `cr.conv2d` is the function, `nn.Conv2d` the layer
that holds the kernel as its `weight`.
""", """
用引擎算同样的东西，与 PyTorch 的写法相同：张量的形状是（批次，通道，高，宽），卷积核是（输出通道，输入通道，高，宽）。
`cr.conv2d` 是函数，`nn.Conv2d` 是把卷积核存为 `weight` 的层。
"""),
    code("""
from chainrule import nn

cr.set_default_dtype(cr.float64)            # hand-worked numbers, compared in double precision
X = cr.tensor(x[None, None], requires_grad=True)
K = cr.tensor(k[None, None], requires_grad=True)
Y = cr.conv2d(X, K)
print(Y)
assert np.allclose(Y.detach().numpy()[0, 0], y)

layer = nn.Conv2d(1, 1, kernel_size=2, bias=False)
with cr.no_grad():
    layer.weight.copy_(K)
assert np.allclose(layer(X).detach().numpy(), Y.detach().numpy())
"""),
    md("""
## Backward pass: ∂L/∂y, then ∂L/∂k

L = ½Σ(y − t)² gives ∂L/∂y_ab = y_ab − t_ab, one number per output pixel. The kernel weight k_ij
was used in **every** output pixel (that is the sharing), multiplied by a different input pixel each
time, so its gradient adds one term per output pixel:

∂L/∂k_ij = Σ_ab ∂L/∂y_ab · x_(a+i−1)(b+j−1)

— the input **correlated with ∂L/∂y**, the same sliding window as the forward pass with ∂L/∂y as
the kernel. For k₁₁: 1×1 + 1×2 + (−0.5)×0 + 0.5×0 + 0.5×1 + 0.5×3 + 0.5×2 + 1×1 + 0×0 = 7.
""", """
## 反向传播：先求 ∂L/∂y，再求 ∂L/∂k

由 L = ½Σ(y − t)² 得 ∂L/∂y_ab = y_ab − t_ab，每个输出像素一个数。卷积核权重 k_ij 参与了**每一个**输出像素
（这就是共享），每次乘的是不同的输入像素，所以它的梯度对每个输出像素各加一项：

∂L/∂k_ij = Σ_ab ∂L/∂y_ab · x_(a+i−1)(b+j−1)

——即输入**与 ∂L/∂y 做互相关**，与前向传播的滑动窗口相同，只是把 ∂L/∂y 当作卷积核。以 k₁₁ 为例：
1×1 + 1×2 + (−0.5)×0 + 0.5×0 + 0.5×1 + 0.5×3 + 0.5×2 + 1×1 + 0×0 = 7。
"""),
    code("""
def correlate(a, w):
    \"\"\"Slide w over a (stride 1, no padding): every output a sum of products.\"\"\"
    (m, n), (p, q) = a.shape, w.shape
    return np.array([[(a[i:i + p, j:j + q] * w).sum() for j in range(n - q + 1)]
                     for i in range(m - p + 1)])


L = 0.5 * ((Y - cr.tensor(t[None, None])) ** 2).sum()
L.backward()
dy = y - t                                  # ∂L/∂y
dk = correlate(x, dy)                       # ∂L/∂k: the input correlated with ∂L/∂y
print(L.item(), dy, dk, sep="\\n\\n")
assert np.allclose(correlate(x, k), y) and L.item() == 0.5 * (dy ** 2).sum()
assert dk[0, 0] == 1 * 1 + 1 * 2 + (-0.5) * 0 + 0.5 * 0 + 0.5 * 1 + 0.5 * 3 + 0.5 * 2 + 1 * 1 + 0 * 0 == 7
assert np.allclose(dk, K.grad.numpy()[0, 0])
"""),
    md("""
## ∂L/∂x: a full convolution with the flipped kernel

An input pixel x_uv sits in the window of up to four output pixels, each time under a *different*
kernel weight. x₂₂ is under k₂₂ in y₁₁'s window, under k₂₁ in y₁₂'s, under k₁₂ in y₂₁'s and under
k₁₁ in y₂₂'s, so

∂L/∂x₂₂ = 1×2 + 1×(−1) + 0.5×0.5 + 0.5×1 = 1.75.

Read the kernel weights in that sum: k₂₂, k₂₁, k₁₂, k₁₁ — the kernel **backwards**. In general
∂L/∂x_uv = Σ_ij ∂L/∂y_(u−i+1)(v−j+1) · k_ij (terms outside y are 0): pad ∂L/∂y with a ring of
zeros and slide the kernel **turned by 180°** over it — a *full* convolution.
""", """
## ∂L/∂x：与翻转的卷积核做完全卷积

一个输入像素 x_uv 最多落在四个输出像素的窗口里，每次对应*不同*的卷积核权重。x₂₂ 在 y₁₁ 的窗口中对应 k₂₂，
在 y₁₂ 的窗口中对应 k₂₁，在 y₂₁ 的窗口中对应 k₁₂，在 y₂₂ 的窗口中对应 k₁₁，所以

∂L/∂x₂₂ = 1×2 + 1×(−1) + 0.5×0.5 + 0.5×1 = 1.75。

看这个和式中卷积核权重的顺序：k₂₂、k₂₁、k₁₂、k₁₁——卷积核被**倒过来**读。一般地，
∂L/∂x_uv = Σ_ij ∂L/∂y_(u−i+1)(v−j+1) · k_ij（落在 y 以外的项为 0）：给 ∂L/∂y 补一圈零，
再把**旋转 180° 的卷积核**滑过它——这就是*完全*卷积。
"""),
    code("""
padded = np.pad(dy, 1)                      # 5×5: ∂L/∂y inside a ring of zeros
flipped = k[::-1, ::-1]                     # the kernel turned by 180°
dx = correlate(padded, flipped)
print(flipped, dx, sep="\\n\\n")
assert dx[1, 1] == 1 * 2 + 1 * (-1) + 0.5 * 0.5 + 0.5 * 1 == 1.75
assert np.allclose(dx, X.grad.numpy()[0, 0])
# PyTorch's name for it: the transposed convolution of ∂L/∂y with the kernel (unflipped)
assert np.allclose(cr.conv_transpose2d(cr.tensor(dy[None, None]), K.detach()).numpy()[0, 0], dx)
"""),
    md("""
### Forgetting the flip

Slide the kernel as it is, unflipped, over the padded ∂L/∂y: for x₂₂ the window of ∂L/∂y is
(1, 1; 0.5, 0.5), and 1×1 + 1×0.5 + 0.5×(−1) + 0.5×2 = 2 instead of 1.75. Over the whole input:
""", """
### 忘记翻转

把卷积核原样（不翻转）滑过补零后的 ∂L/∂y：对 x₂₂，∂L/∂y 的窗口是 (1, 1; 0.5, 0.5)，
1×1 + 1×0.5 + 0.5×(−1) + 0.5×2 = 2，而不是 1.75。整张输入的结果如下：
"""),
    code("""
no_flip = correlate(padded, k)              # the slip: the kernel not turned
print(no_flip, no_flip - dx, sep="\\n\\n")
wrong = ~np.isclose(no_flip, dx)
print(f"{wrong.sum()} / {wrong.size}")
assert no_flip[1, 1] == 2 and wrong.sum() >= 12
"""),
    md("""
Most of the 16 numbers come out wrong. The slip survives only where the kernel's symmetry or zeros
in ∂L/∂y hide it, so a check on one pixel can pass by luck; a finite-difference check of every pixel
(or `cr.gradcheck`) cannot be fooled.

## The figure and the derivation

`chainrule draw conv` draws the step as grids of numbers and `chainrule derive conv` writes every
pixel out; in Python they are `cr.viz.draw_conv` and `derive_conv`, whose grids are the numbers we
just worked.
""", """
16 个数中大多数都错了。只有在卷积核的对称性或 ∂L/∂y 中的零恰好掩盖它时，这个错误才不显形，所以只检查一个像素可能侥幸通过；
对每个像素做有限差分检验（或用 `cr.gradcheck`）则不会被骗过。

## 图与公式推导

`chainrule draw conv` 把这一步画成数字网格，`chainrule derive conv` 逐个像素写出推导；在 `Python` 中它们是
`cr.viz.draw_conv` 和 `derive_conv`，其中的网格就是我们刚才算出的数。
"""),
    code("""
from chainrule.explain.conv import derive_conv

derivation = derive_conv(spec, lang=LANG)
grids = derivation.to_dict()["grids"]
for key, mine in (("y", y), ("dL_dy", dy), ("dL_dk", dk), ("dL_dx", dx)):
    assert np.allclose(grids[key], mine), key
cr.viz.draw_conv(derivation, lang=LANG)
"""),
    code("""
print(derivation)
"""),
    md("""
## Max pooling: the gradient goes to the winner

The `conv-pool` spec puts a 2×2 max pool (stride 2) after the same kind of convolution: a 5×5 input
gives a 4×4 y, and each pooled pixel p_ab is the largest of its 2×2 window of y. A small change to
any *other* cell of the window does not change p_ab, so ∂p_ab/∂y is 1 at the window's maximum and
0 elsewhere: ∂L/∂p travels back to the winning cell only, and 12 of the 16 cells of ∂L/∂y are 0.
""", """
## 最大池化：梯度只流向胜出的格子

`conv-pool` 网络在同样的卷积之后接一个 2×2 的最大池化（步长 2）：5×5 的输入得到 4×4 的 y，每个池化像素 p_ab
是它在 y 中 2×2 窗口里的最大值。窗口中*其他*格子的微小变化不会改变 p_ab，所以 ∂p_ab/∂y 在窗口最大值处为 1，
其余为 0：∂L/∂p 只传回胜出的格子，∂L/∂y 的 16 个格子中有 12 个是 0。
"""),
    code("""
pool_spec = load_layered_spec("conv-pool")
xp = np.array(pool_spec.x[0], dtype=float)
kp = np.array(pool_spec.blocks[0]["weight"], dtype=float)[0, 0]
tp = np.array(pool_spec.y[0], dtype=float)
yp = correlate(xp, kp)                                   # 4×4
p, dyp = np.zeros((2, 2)), np.zeros((4, 4))
winners = {}
for a in range(2):
    for b in range(2):
        window = yp[2 * a:2 * a + 2, 2 * b:2 * b + 2]
        r, c = np.unravel_index(window.argmax(), window.shape)
        p[a, b], winners[a, b] = window[r, c], (2 * a + r, 2 * b + c)
dp = p - tp                                              # ∂L/∂p
for (a, b), (r, c) in winners.items():
    dyp[r, c] = dp[a, b]                                 # all of it to the winner
print(yp, p, dyp, sep="\\n\\n")

Yp = cr.conv2d(cr.tensor(xp[None, None]), cr.tensor(kp[None, None], requires_grad=True))
Yp.retain_grad()
P = cr.max_pool2d(Yp, 2)
(0.5 * ((P - cr.tensor(tp[None, None])) ** 2).sum()).backward()
assert np.allclose(P.detach().numpy()[0, 0], p)
assert np.allclose(Yp.grad.numpy()[0, 0], dyp) and np.count_nonzero(dyp) == 4
"""),
    code("""
cr.viz.draw_conv(pool_spec, lang=LANG)
"""),
    md("""
## An RNN, three steps by hand

The `rnn` spec reads a sequence of three numbers x = (1, −0.5, 2) and keeps a state of two numbers:
h_t = tanh(W_ih x_t + W_hh h_(t−1) + b), here without a bias (b = 0), with W_ih = (0.5, −1)ᵀ,
W_hh = (0.5, −0.25; 0.25, 0.5) and a fixed starting state h₀ = (0.5, −0.5). At every step a readout
ŷ_t = V h_t with V = (1, −1) is compared with a target y_t = 1, 0.5, 1: L = ½Σ_t (ŷ_t − y_t)².

The first step: W_ih·1 + W_hh h₀ = (0.5, −1) + (0.5×0.5 + (−0.25)×(−0.5), 0.25×0.5 + 0.5×(−0.5))
= (0.875, −1.125), so h₁ = (tanh 0.875, tanh(−1.125)) = (0.7039, −0.8093) and
ŷ₁ = 0.7039 + 0.8093 = 1.5132.
""", """
## 循环神经网络：手算三步

`rnn` 网络读入一个由三个数组成的序列 x = (1, −0.5, 2)，并保存由两个数组成的状态：
h_t = tanh(W_ih x_t + W_hh h_(t−1) + b)，这里没有偏置（b = 0），W_ih = (0.5, −1)ᵀ，
W_hh = (0.5, −0.25; 0.25, 0.5)，初始状态固定为 h₀ = (0.5, −0.5)。每一步的读出 ŷ_t = V h_t（V = (1, −1)）
与目标 y_t = 1、0.5、1 比较：L = ½Σ_t (ŷ_t − y_t)²。

第一步：W_ih·1 + W_hh h₀ = (0.5, −1) + (0.5×0.5 + (−0.25)×(−0.5), 0.25×0.5 + 0.5×(−0.5)) = (0.875, −1.125)，
所以 h₁ = (tanh 0.875, tanh(−1.125)) = (0.7039, −0.8093)，ŷ₁ = 0.7039 + 0.8093 = 1.5132。
"""),
    code("""
W_ih = np.array([[0.5], [-1.0]])
W_hh = np.array([[0.5, -0.25], [0.25, 0.5]])
V = np.array([[1.0, -1.0]])
h0 = np.array([0.5, -0.5])
xs, ys = [1.0, -0.5, 2.0], [1.0, 0.5, 1.0]


def unroll(xs, w_hh=W_hh):
    \"\"\"The states h₀…h₃ and the readouts ŷ₁…ŷ₃, by hand.\"\"\"
    hs, outs = [h0], []
    for x_t in xs:
        hs.append(np.tanh(W_ih[:, 0] * x_t + w_hh @ hs[-1]))
        outs.append(float(V[0] @ hs[-1]))
    return hs, outs


hs, outs = unroll(xs)
for step in (1, 2, 3):
    print(f"t = {step}: h = {np.round(hs[step], 4)}, ŷ = {outs[step - 1]:.4f}")
loss = 0.5 * sum((o - y_t) ** 2 for o, y_t in zip(outs, ys))
print(f"L = {loss:.6f}")
assert np.allclose(W_ih[:, 0] * 1 + W_hh @ h0, [0.875, -1.125])
assert np.allclose(hs[1], np.tanh([0.875, -1.125])) and abs(outs[0] - 1.5132) < 1e-4
"""),
    md("""
`nn.RNNCell` is one step, with PyTorch's parameter names and shapes (it keeps two biases, `bias_ih`
and `bias_hh`, which `bias=False` leaves out); the same cell with the same weights runs at every
step. `nn.RNN` runs the whole sequence at once and returns every state.
""", """
`nn.RNNCell` 是一步，参数的名称与形状和 PyTorch 相同（它有两个偏置 `bias_ih` 和 `bias_hh`，`bias=False` 时都不要）；
同一个单元、同一组权重在每一步运行。`nn.RNN` 一次运行整个序列，返回每一步的状态。
"""),
    code("""
cell = nn.RNNCell(1, 2, bias=False)
readout = nn.Linear(2, 1, bias=False)
with cr.no_grad():
    cell.weight_ih.copy_(cr.tensor(W_ih))
    cell.weight_hh.copy_(cr.tensor(W_hh))
    readout.weight.copy_(cr.tensor(V))


def engine_loss(xs):
    h, total = cr.tensor(h0[None]), 0.0                 # (batch, hidden)
    for x_t, y_t in zip(xs, ys):
        h = cell(cr.tensor([[x_t]]), h)                 # the same cell at every step
        total = total + 0.5 * ((readout(h) - y_t) ** 2).sum()
    return h, total


h, L = engine_loss(xs)
L.backward()
print(h, L.item())
assert np.allclose(h.detach().numpy()[0], hs[3]) and np.isclose(L.item(), loss)

rnn = nn.RNN(1, 2, bias=False, batch_first=True)
with cr.no_grad():
    rnn.weight_ih_l0.copy_(cell.weight_ih)
    rnn.weight_hh_l0.copy_(cell.weight_hh)
states, h_n = rnn(cr.tensor(xs).reshape(1, 3, 1), cr.tensor(h0).reshape(1, 1, 2))
print(states.detach().numpy()[0])
assert np.allclose(states.detach().numpy()[0], hs[1:])
"""),
    md("""
## Backpropagation through time

W_hh is used at all three steps, so ∂L/∂W_hh has one term per step. Write δ_t = ∂L/∂a_t for the
pre-activation a_t = W_ih x_t + W_hh h_(t−1). The state h_t reaches the loss in two ways: through its
own readout ŷ_t, and through a_(t+1) into every later step. Going backwards from t = 3, where there is
no later step,

δ_t = (Vᵀ(ŷ_t − y_t) + W_hhᵀ δ_(t+1)) ⊙ (1 − h_t²)      (tanh′ = 1 − tanh²)

and step t contributes δ_t h_(t−1)ᵀ:

∂L/∂W_hh = δ₃ h₂ᵀ + δ₂ h₁ᵀ + δ₁ h₀ᵀ,   ∂L/∂W_ih = δ₃ x₃ + δ₂ x₂ + δ₁ x₁.
""", """
## 随时间反向传播

W_hh 在三步中都被用到，所以 ∂L/∂W_hh 每一步各有一项。记 δ_t = ∂L/∂a_t，a_t = W_ih x_t + W_hh h_(t−1) 是激活之前的值。
状态 h_t 通过两条路径影响损失：经过它自己的读出 ŷ_t，以及经过 a_(t+1) 进入之后的每一步。从 t = 3（没有之后的步）往回算：

δ_t = (Vᵀ(ŷ_t − y_t) + W_hhᵀ δ_(t+1)) ⊙ (1 − h_t²)      （tanh′ = 1 − tanh²）

第 t 步贡献 δ_t h_(t−1)ᵀ：

∂L/∂W_hh = δ₃ h₂ᵀ + δ₂ h₁ᵀ + δ₁ h₀ᵀ，∂L/∂W_ih = δ₃ x₃ + δ₂ x₂ + δ₁ x₁。
"""),
    code("""
def bptt(hs, outs, xs, through_time=True):
    \"\"\"δ_t and the terms δ_t h_(t−1)ᵀ of ∂L/∂W_hh, from the last step back.\"\"\"
    deltas, terms, later = {}, {}, np.zeros(2)
    for step in (3, 2, 1):
        from_readout = V[0] * (outs[step - 1] - ys[step - 1])         # Vᵀ(ŷ_t − y_t)
        from_later = W_hh.T @ later if through_time else 0.0         # W_hhᵀ δ_(t+1)
        deltas[step] = later = (from_readout + from_later) * (1 - hs[step] ** 2)
        terms[step] = np.outer(deltas[step], hs[step - 1])
    return deltas, terms


deltas, terms = bptt(hs, outs, xs)
for step in (3, 2, 1):
    print(f"t = {step}: δ = {np.round(deltas[step], 6)}, δ h_{step - 1}ᵀ =")
    print(np.round(terms[step], 6))
dW_hh = terms[3] + terms[2] + terms[1]
dW_ih = sum(deltas[s][:, None] * xs[s - 1] for s in (1, 2, 3))
print("∂L/∂W_hh =", np.round(dW_hh, 6), sep="\\n")
assert np.allclose(dW_hh, cell.weight_hh.grad.numpy()) and np.allclose(dW_ih, cell.weight_ih.grad.numpy())
"""),
    md("""
Dropping the second path — W_hhᵀ δ_(t+1), the way h_t reaches later losses — is the recurrent twin of
forgetting the flip: every term still looks reasonable, and the sum is wrong. Finite differences of L,
computed in NumPy without the engine, settle it; `cr.gradcheck` does the same for every element.
""", """
漏掉第二条路径——W_hhᵀ δ_(t+1)，即 h_t 影响之后各步损失的那条路——是“忘记翻转”在循环网络中的翻版：每一项看起来都合理，
和却是错的。不经过引擎、直接用 `NumPy` 对 L 做有限差分就能判定；`cr.gradcheck` 对每个元素做同样的检验。
"""),
    code("""
def loss_np(w_hh):
    _, outs = unroll(xs, w_hh)
    return 0.5 * sum((o - y_t) ** 2 for o, y_t in zip(outs, ys))


eps, fd = 1e-6, np.zeros((2, 2))
for idx in np.ndindex(2, 2):
    bump = np.zeros((2, 2))
    bump[idx] = eps
    fd[idx] = (loss_np(W_hh + bump) - loss_np(W_hh - bump)) / (2 * eps)
_, cut = bptt(hs, outs, xs, through_time=False)
no_time = cut[3] + cut[2] + cut[1]                  # the slip: no path through later steps
print(np.round(fd, 6), np.round(no_time, 6), sep="\\n\\n")
assert np.allclose(fd, dW_hh, atol=1e-8)
assert not np.allclose(fd, no_time, atol=1e-2)


def loss_of(w_hh):
    h, total = cr.tensor(h0[None]), 0.0
    for x_t, y_t in zip(xs, ys):
        h = cr.tanh(cr.tensor([[x_t]]) @ cr.tensor(W_ih).T + h @ w_hh.T)
        total = total + 0.5 * ((h @ cr.tensor(V).T - y_t) ** 2).sum()
    return total


assert cr.gradcheck(loss_of, (cr.tensor(W_hh, requires_grad=True),))
print({"en": "gradcheck ✓", "zh": "梯度检查 ✓"}[LANG])
"""),
    md("""
## The figure and the derivation

`chainrule draw rnn` draws the network unrolled over its three steps, with every value and gradient,
and the three terms of ∂L/∂W_hh added under it; `chainrule derive rnn` writes every line. In Python
they are `cr.viz.draw_rnn` and `derive_rnn`, and their numbers are the ones we just worked.
""", """
## 图与公式推导

`chainrule draw rnn` 把网络按三个时间步展开画出，标出每个值和梯度，并在下方把 ∂L/∂W_hh 的三项相加；
`chainrule derive rnn` 逐行写出推导。在 `Python` 中它们是 `cr.viz.draw_rnn` 和 `derive_rnn`，其中的数就是我们刚才算出的。
"""),
    code("""
from chainrule.explain.rnn import derive_rnn

rnn_spec = load_layered_spec("rnn")
block, head = rnn_spec.blocks
assert np.allclose(block["weight_ih"], W_ih) and np.allclose(block["weight_hh"], W_hh)
assert np.allclose(head["weight"], V) and np.allclose(block["h0"], h0)
assert np.allclose(rnn_spec.x[:, 0], xs) and np.allclose(rnn_spec.y[:, 0], ys)
rnn_derivation = derive_rnn(rnn_spec, lang=LANG)
rnn_grids = rnn_derivation.to_dict()["grids"]
assert np.allclose(rnn_grids["h"], hs[1:])
assert np.allclose(np.ravel(rnn_grids["yhat"]), outs)
assert np.allclose(rnn_grids["dL_dW_hh_terms"], [terms[1], terms[2], terms[3]])
assert np.allclose(rnn_grids["dL_dW_hh"], dW_hh)
cr.viz.draw_rnn(rnn_derivation, lang=LANG)
"""),
    code("""
print(rnn_derivation)
"""),
    md("""
## Exercises

1. A convolution of the same shape with other numbers, given below. By hand, work the output y,
   ∂L/∂y, ∂L/∂k and ∂L/∂x (remember the flip), replace each `"?"` with your number and run the cell:
   `chainrule grade` marks every number, writes the line that gives the right one and names the
   classic mistake behind a wrong one (an unflipped kernel, for instance). y₁₁ is given as an example.
2. The `rnn` network with x₃ = 1 instead of 2: give ŷ₂, ŷ₃ and ∂L/∂W_hh (the three steps' terms,
   added). ŷ₁ is given. The same answers in a file are graded by `chainrule grade SPEC answers.toml`.
""", """
## 练习

1. 同样形状、不同数字的卷积，见下。手算输出 y、∂L/∂y、∂L/∂k 和 ∂L/∂x（别忘了翻转），把每个 `"?"` 换成你的结果并运行：
   `chainrule grade` 批改每个数，写出得到正确结果的那一行，并指出错误背后常见的原因（例如卷积核没有翻转）。y₁₁ 已作为示例给出。
2. `rnn` 网络，把 x₃ 从 2 改成 1：求 ŷ₂、ŷ₃ 和 ∂L/∂W_hh（三步各项之和）。ŷ₁ 已给出。
   写在文件里的同样答案可以用 `chainrule grade SPEC answers.toml` 批改。
"""),
    code("""
conv_block = {"kind": "conv2d", "out_channels": 1, "kernel_size": 2, "bias": False,
              "weight": [[[[1, -1], [0.5, 1]]]]}
exercise = parse_layered({
    "name": "exercise-7", "input": [1, 4, 4], "loss": "half_sse", "lr": 0.1,
    "x": [[[0, 1, 2, 1], [1, 0, 1, 2], [2, 1, 0, 1], [1, 2, 1, 0]]],
    "y": [[[1, 2, 2], [2, 1, 2], [2, 2, 1]]],
    "layers": [conv_block]}, "exercise-7")
ex_k = np.array(exercise.blocks[0]["weight"])[0, 0]
print(np.array(exercise.x[0]), ex_k, np.array(exercise.y[0]), sep="\\n\\n")
"""),
    code("""
answers = {
    "y": [[-0.5, "?", "?"], ["?", "?", "?"], ["?", "?", "?"]],   # y₁₁ = 0 − 1 + 0.5 + 0
    "dL_dy": [["?", "?", "?"], ["?", "?", "?"], ["?", "?", "?"]],
    "dL_dk": [["?", "?"], ["?", "?"]],
    "dL_dx": [["?", "?", "?", "?"], ["?", "?", "?", "?"],
              ["?", "?", "?", "?"], ["?", "?", "?", "?"]],
}
report = check_answers(exercise, answers, lang=LANG)
assert report.counts["wrong"] == 0
"""),
    code("""
rnn_block = {"kind": "rnn", "hidden_size": 2, "nonlinearity": "tanh", "bias": False,
             "h0": [0.5, -0.5], "weight_ih": [[0.5], [-1]], "weight_hh": [[0.5, -0.25], [0.25, 0.5]]}
readout_block = {"kind": "linear", "out": 1, "bias": False, "weight": [[1, -1]]}
rnn_exercise = parse_layered({
    "name": "exercise-7-rnn", "input": [3, 1], "loss": "half_sse", "lr": 0.1,
    "x": [[1], [-0.5], [1]],                                     # x₃ = 1 instead of 2
    "y": [[1], [0.5], [1]],
    "layers": [rnn_block, readout_block]}, "exercise-7-rnn")
answers = {"yhat": [1.5132, "?", "?"], "dL_dW_hh": [["?", "?"], ["?", "?"]]}
report = check_answers(rnn_exercise, answers, lang=LANG)
assert report.counts["wrong"] == 0
"""),
])

LESSONS = [L1, L2, L3, L4, L5, L6, L7]


def notebook(cells, lang):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    out = []
    for k, cell in enumerate(cells):
        if cell[0] == "md":
            out.append(nbformat.v4.new_markdown_cell(cell[1] if lang == "en" else cell[2]))
        else:
            src = cell[1].replace("{lang}", lang)
            out.append(nbformat.v4.new_code_cell(src if lang == "en" else translate_comments(src, ZH_COMMENTS)))
        out[-1]["id"] = f"c{k:02d}"
    nb.cells = out
    return nb


def build(folder: str = HERE) -> list[str]:
    import nbformat

    written = []
    for name, cells in LESSONS:
        for lang in ("en", "zh"):
            os.makedirs(os.path.join(folder, lang), exist_ok=True)
            path = os.path.join(folder, lang, f"{name}.ipynb")
            text = nbformat.writes(notebook(cells, lang)) + "\n"
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text)
            written.append(path)
    return written


if __name__ == "__main__":
    for p in build(sys.argv[1] if len(sys.argv) > 1 else HERE):
        print(p)
