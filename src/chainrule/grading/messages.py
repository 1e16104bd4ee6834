"""Every sentence the grader writes, in English and in Chinese (``chainrule grade --lang zh``).

Symbols (∂L/∂y', δ, w'_ij, σ'(z)) and keys (grad.W1[0][0]) stay as they are in both languages.
"""

from __future__ import annotations

MESSAGES = {
    "en": {
        # causes
        "sign": "a sign error in ∂L/∂y': it is y' − y (prediction minus target), not y − y'",
        "factor2_half": "the ½ of the loss forgotten (a factor of 2): with L = ½(y − y')², ∂L/∂y' = y' − y",
        "factor2_square": "a factor of 2: the derivative of (y' − y)² is 2(y' − y)",
        "updated": "the update applied with already-updated weights: every gradient of this step must use the "
                   "weights from before the update",
        "ascent": "the update went the wrong way: w ← w − η·∂L/∂w (minus, down the gradient)",
        "mean": "the 1/N of the mean forgotten (N = {n}, the number of {what}): the loss is a mean, so it and "
                "every gradient carry the factor 1/N",
        "mean_samples": "samples",
        "mean_values": "values averaged, samples × outputs",
        "skip": "a missing activation derivative: the {act}'(z) factor of layer {layer} belongs in this product",
        "only": "only the path through {via} counted: {a} reaches the loss through all {n} neurons of the next "
                "layer, so ∂L/∂{a} = Σ_k δ_k·w_jk adds every path",
        "drop": "the path through {via} left out: {a} reaches the loss through all {n} neurons of the next "
                "layer, so ∂L/∂{a} = Σ_k δ_k·w_jk adds every path",
        "weight": "the outgoing weight forgotten in δ of layer {layer}: each path back from the next layer "
                  "carries its weight, δ_j = (Σ_k δ_k·w_jk)·{act}'(z_j)",
        "wrong_delta": "a factor taken from the wrong neuron: ∂L/∂{used} used where ∂L/∂{right} belongs "
                       "(like the seed's ∂z_1/∂w'_13)",
        "wrong_input": "a factor taken from the wrong neuron: {used} used where {right} belongs",
        "wrong_out": "a factor taken from the wrong neuron: the weights out of {used} used where those out of "
                     "{right} belong",
        "other_neuron": "the value of another neuron (neuron {used} instead of {right})",
        "transposed": "looks transposed: this is the value of {other} ({other_key}); chainrule writes weights "
                      "as (from, to): row i is neuron i of the earlier layer, column j neuron j of the later one "
                      "(PyTorch's nn.Linear.weight is the transpose)",
        "rounded": "right to {d} significant digits, not {n}: rounded too early; keep {keep} digits in the "
                   "intermediate values and round only the answer",
        "or": "; or ",
        # short names (for "this exercise cannot tell ... from the right method")
        "name_sign": "a sign error in ∂L/∂y'",
        "name_factor2": "a dropped factor of 2",
        "name_updated": "using already-updated weights",
        "name_ascent": "updating the wrong way",
        "name_mean": "forgetting the 1/N of the mean",
        "name_skip": "forgetting the {act}'(z) of layer {layer}",
        "name_only": "counting only the path through {via}",
        "name_drop": "leaving out the path through {via}",
        "name_weight": "forgetting the outgoing weights {w} in δ of layer {layer}",
        "name_neuron": "a factor from the wrong neuron of layer {layer}, like the seed's typo in ∂L/∂w'_13",
        "all_one": " (every {w} is 1)",
        "equal_units": " (all its neurons have the same δ)",
        "cannot_tell": "this exercise cannot tell {mistake} from the right method: on this spec both give the "
                       "same numbers",
        "teacher_note": "Note for teachers: this exercise cannot tell these mistakes from the right method (on this "
                        "spec they give the same numbers): {items}. Change the spec (e.g. different weights) to "
                        "test them.",
        # report
        "heading": "Grading answers for spec {spec!r} (tolerance: {tol})",
        "you_wrote": "you wrote {given}, correct {correct}",
        "likely": "likely cause: {cause}",
        "no_cause": "no classic mistake reproduces this value",
        "carried": "carried error: right given your earlier answer {origin}",
        "carried_summary": "{n} answer(s) follow from {origin}: each is right given your value there ({keys})",
        "in_step": "{symbol} (step {n})",
        "counts": "{right} right, {wrong} wrong, {carried} carried error(s) of {total}",
        "first": "first mistake: {symbol} ({key}, step {step})",
        "tol_digits": "{n} significant digits",
        "tol_rtol": "rtol {r:g}",
        "md_heading": "## Grade: spec `{spec}` (tolerance: {tol})",
        "md_head": ["", "step", "quantity", "your answer", "correct", "derivation", "note"],
        "md_counts": "**{right} right, {wrong} wrong, {carried} carried** of {total}",
        "step": "step {n}",
        "note": "note",
    },
    "zh": {
        "sign": "∂L/∂y' 的符号错了：应是 y' − y（预测值减目标值），不是 y − y'",
        "factor2_half": "漏掉了损失函数的 ½（差了 2 倍）：L = ½(y − y')² 时 ∂L/∂y' = y' − y",
        "factor2_square": "差了 2 倍：(y' − y)² 的导数是 2(y' − y)",
        "updated": "用了已经更新过的权重：这一步的所有梯度都必须用更新前的权重计算",
        "ascent": "更新方向反了：w ← w − η·∂L/∂w（是减号，沿梯度下降）",
        "mean": "漏掉了平均值的 1/N（N = {n}，即{what}）：损失是平均值，所以损失和每个梯度都带有因子 1/N",
        "mean_samples": "样本数",
        "mean_values": "参与平均的值的个数，样本数 × 输出数",
        "skip": "漏掉了激活函数的导数：第{layer}层的 {act}'(z) 因子应在这个乘积中",
        "only": "只算了经过 {via} 的路径：{a} 经过下一层全部 {n} 个神经元影响损失，"
                "∂L/∂{a} = Σ_k δ_k·w_jk 要把每条路径都加起来",
        "drop": "漏掉了经过 {via} 的路径：{a} 经过下一层全部 {n} 个神经元影响损失，"
                "∂L/∂{a} = Σ_k δ_k·w_jk 要把每条路径都加起来",
        "weight": "算第{layer}层的 δ 时漏掉了输出权重：从下一层传回的每条路径都要乘上它的权重，"
                  "δ_j = (Σ_k δ_k·w_jk)·{act}'(z_j)",
        "wrong_delta": "因子取自错误的神经元：在应该用 ∂L/∂{right} 的地方用了 ∂L/∂{used}（就像原文的 ∂z_1/∂w'_13）",
        "wrong_input": "因子取自错误的神经元：在应该用 {right} 的地方用了 {used}",
        "wrong_out": "因子取自错误的神经元：在应该用 {right} 的输出权重的地方用了 {used} 的输出权重",
        "other_neuron": "这是另一个神经元的值（第 {used} 个，而不是第 {right} 个）",
        "transposed": "看起来转置了：这是 {other}（{other_key}）的值；chainrule 按（来源, 去向）写权重："
                      "第 i 行是前一层的第 i 个神经元，第 j 列是后一层的第 j 个神经元"
                      "（PyTorch 的 nn.Linear.weight 是它的转置）",
        "rounded": "只有 {d} 位有效数字正确（要求 {n} 位）：取整太早了；中间结果保留 {keep} 位，只在最后取整",
        "or": "；或者 ",
        "name_sign": "∂L/∂y' 的符号错误",
        "name_factor2": "差 2 倍的错误",
        "name_updated": "用已更新的权重",
        "name_ascent": "更新方向反了",
        "name_mean": "漏掉平均值的 1/N",
        "name_skip": "漏掉第{layer}层的 {act}'(z)",
        "name_only": "只算经过 {via} 的路径",
        "name_drop": "漏掉经过 {via} 的路径",
        "name_weight": "算第{layer}层的 δ 时漏掉输出权重 {w}",
        "name_neuron": "第{layer}层的因子取自错误的神经元，如原文 ∂L/∂w'_13 中的笔误",
        "all_one": "（每个 {w} 都等于 1）",
        "equal_units": "（该层所有神经元的 δ 都相同）",
        "cannot_tell": "这道题无法区分「{mistake}」和正确方法：在这个设定下两者得出相同的数",
        "teacher_note": "给老师的提示：这道题无法区分下列错误和正确方法（在这个设定下得出相同的数）：{items}。"
                        "要考查它们，请修改设定（例如换用不同的权重）。",
        "heading": "批改答案：设定 {spec!r}（容差：{tol}）",
        "you_wrote": "你的答案 {given}，正确答案 {correct}",
        "likely": "可能的原因：{cause}",
        "no_cause": "没有哪种常见错误能得出这个值",
        "carried": "连带错误：根据你前面的答案 {origin}，这个值是对的",
        "carried_summary": "有 {n} 个答案由 {origin} 连带而来：按你在那里的值，它们都是对的（{keys}）",
        "in_step": "{symbol}（第 {n} 步）",
        "counts": "{right} 个正确，{wrong} 个错误，{carried} 个连带错误，共 {total} 个",
        "first": "第一个错误：{symbol}（{key}，第 {step} 步）",
        "tol_digits": "{n} 位有效数字",
        "tol_rtol": "相对误差 {r:g}",
        "md_heading": "## 批改：设定 `{spec}`（容差：{tol}）",
        "md_head": ["", "步", "量", "你的答案", "正确答案", "推导", "说明"],
        "md_counts": "**{right} 个正确，{wrong} 个错误，{carried} 个连带错误**，共 {total} 个",
        "step": "第 {n} 步",
        "note": "说明",
    },
}

# Optimizer mistakes (issue 13): the velocity of momentum forgotten (an update worked as plain SGD), and
# Adam's bias correction forgotten.
MESSAGES["en"].update({
    "momentum": "the momentum forgotten: this is plain SGD's w − η·∂L/∂w; with momentum the step is w − η·v, "
                "where the velocity v = μ·v_prev + ∂L/∂w (μ = {mu}; at step 1, v = ∂L/∂w)",
    "name_momentum": "forgetting the momentum (updating as plain SGD, w − η·∂L/∂w; it shows from step 2 on)",
    "adam_bias": "Adam's bias correction forgotten: the step is w − η·m̂/(√v̂ + ε) with m̂ = m/(1 − β1^t) and "
                 "v̂ = v/(1 − β2^t), t the step number from 1 (β1 = {b1}, β2 = {b2})",
    "name_adam_bias": "forgetting Adam's bias correction (m/(1 − β1^t), v/(1 − β2^t))",
})
MESSAGES["zh"].update({
    "momentum": "漏掉了动量：这是普通 SGD 的 w − η·∂L/∂w；带动量时这一步是 w − η·v，"
                "其中速度 v = μ·v_prev + ∂L/∂w（μ = {mu}；第 1 步时 v = ∂L/∂w）",
    "name_momentum": "漏掉动量（按普通 SGD 更新，w − η·∂L/∂w；从第 2 步起才看得出）",
    "adam_bias": "漏掉了 Adam 的偏差修正：这一步是 w − η·m̂/(√v̂ + ε)，其中 m̂ = m/(1 − β1^t)，"
                 "v̂ = v/(1 − β2^t)，t 是从 1 数起的步数（β1 = {b1}，β2 = {b2}）",
    "name_adam_bias": "漏掉 Adam 的偏差修正（m/(1 − β1^t)，v/(1 − β2^t)）",
})

LANGS = tuple(MESSAGES)

# How an activation's derivative is written in a cause: a symbol, the same in every language.
ACT_SYMBOL = {"sigmoid": "σ", "tanh": "tanh", "relu": "ReLU", "leaky_relu": "LeakyReLU", "softmax": "softmax",
              "none": "1"}


def message(lang: str, name: str, **values) -> str:
    return MESSAGES[lang][name].format(**values)


# Layered derivations (grading/layered.py): the report's own phrases, and each classic mistake by its id
# ("mistake.<id>": the cause of a wrong answer, "mistake_name.<id>": its short name for "cannot tell").
# A derivation module that adds mistakes (explain/batchnorm.py, explain/rnn.py) adds its ids here.
LAYERED_MESSAGES = {
    "en": {
        "quantity_right": "{label}: all {n} right",
        "quantity_some": "{label}: {right} of {n} right, {wrong} wrong, {carried} carried",
        "cause_all": "likely cause (every wrong cell): {cause}",
        "more_cells": "… and {n} more wrong cell(s) like these",
        "first_layered": "first mistake: {symbol} ({key})",
        "line_not_winner": "0: {y} won no pooling window, so no gradient reaches it",
        "md_head_layered": ["", "quantity", "cell", "your answer", "correct", "derivation", "note"],
        "mistake.forward_flipped": "the kernel flipped in the forward pass (a true convolution): chainrule's conv2d, "
                                   "like PyTorch's, lays k on each window unflipped (a correlation), "
                                   "y_ij = Σ_ab k_ab·x_(i+a−1)(j+b−1)",
        "mistake.bias_forgotten": "the bias forgotten in the forward pass: every output pixel adds b once, "
                                  "y_ij = Σ_ab k_ab·x_(i+a−1)(j+b−1) + b",
        "mistake.half_forgotten": "the ½ of the loss forgotten (a factor of 2): with L = ½Σ({o} − t)², "
                                  "∂L/∂{o} = {o} − t",
        "mistake.sign": "a sign error in ∂L/∂{o}: it is {o} − t (output minus target), not t − {o}",
        "mistake.pool_spread": "the pooling gradient spread to every cell of the window: a max pool passes "
                               "∂L/∂p only to the cell that won the window, the others get 0",
        "mistake.pool_average": "the pooling gradient averaged over the window (as for an average pool): a max "
                                "pool passes all of ∂L/∂p to the cell that won the window, the others get 0",
        "mistake.pool_first_cell": "the pooling gradient routed to the window's first (top-left) cell: it goes to "
                                   "the cell that holds the window's maximum",
        "mistake.kernel_not_flipped": "the kernel not flipped for ∂L/∂x: ∂L/∂x is ∂L/∂y (padded with zeros) "
                                      "correlated with the kernel flipped in both directions, "
                                      "∂L/∂x_uv = Σ_ij ∂L/∂y_(u−i+1)(v−j+1)·k_ij",
        "mistake.dk_flipped": "∂L/∂k from ∂L/∂y flipped (the input convolved with ∂L/∂y): ∂L/∂k is the input "
                              "correlated with ∂L/∂y, ∂L/∂k_ij = Σ_ab ∂L/∂y_ab·x_(a+i−1)(b+j−1)",
        "mistake.dk_transposed": "∂L/∂k transposed: ∂L/∂k_ij belongs at row i, column j "
                                 "(this is the value of ∂L/∂k_ji)",
        "mistake.ascent": "the update went the wrong way: k ← k − η·∂L/∂k (minus, down the gradient)",
        "mistake_name.forward_flipped": "flipping the kernel in the forward pass",
        "mistake_name.bias_forgotten": "forgetting the bias",
        "mistake_name.half_forgotten": "forgetting the ½ of the loss",
        "mistake_name.sign": "a sign error in ∂L/∂{o}",
        "mistake_name.pool_spread": "spreading the pooling gradient to every cell of the window",
        "mistake_name.pool_average": "averaging the pooling gradient over the window",
        "mistake_name.pool_first_cell": "routing the pooling gradient to the window's first cell",
        "mistake_name.kernel_not_flipped": "not flipping the kernel for ∂L/∂x",
        "mistake_name.dk_flipped": "flipping ∂L/∂y for ∂L/∂k",
        "mistake_name.dk_transposed": "transposing ∂L/∂k",
        "mistake_name.ascent": "updating the wrong way",
        # batch norm (explain/batchnorm.py)
        "mistake.missing_mean_terms": "batch norm's gradient without the terms through μ and σ²: both depend on "
                                      "every x_i, so ∂L/∂x_i = ∂L/∂x̂_i/σ + ∂L/∂μ/N + ∂L/∂σ²·2(x_i − μ)/N",
        "mistake.missing_variance_term": "the term through σ² left out of ∂L/∂x_i: σ² depends on every x_i, "
                                         "∂L/∂x_i = ∂L/∂x̂_i/σ + ∂L/∂μ/N + ∂L/∂σ²·2(x_i − μ)/N",
        "mistake.unbiased_variance": "σ² over N − 1: batch norm normalises with the biased variance Σ(x_i − μ)²/N "
                                     "(N − 1 is only for the running variance)",
        "mistake.running_var_biased": "the running variance moved with the biased σ²: it takes σ²·N/(N − 1)",
        "mistake_name.missing_mean_terms": "leaving out the terms through μ and σ²",
        "mistake_name.missing_variance_term": "leaving out the term through σ²",
        "mistake_name.unbiased_variance": "dividing σ² by N − 1",
        "mistake_name.running_var_biased": "moving the running variance with the biased σ²",
        # the RNN (explain/rnn.py)
        "mistake.not_summed_over_time": "the gradient not summed over time steps: a shared weight is used at every "
                                        "step, so its gradient adds one term per step, ∂L/∂W = Σ_t (the term of step t)",
        "mistake.no_recurrent_path": "the path through the next step left out: h_t reaches the loss through ŷ_t and "
                                     "through a_(t+1), so ∂L/∂h_t = V^T·∂L/∂ŷ_t + W_hh^T·∂L/∂a_(t+1)",
        "mistake.tanh_derivative_missing": "the derivative of tanh left out: ∂L/∂a_t = ∂L/∂h_t·(1 − h_t²)",
        "mistake.relu_derivative_missing": "the derivative of ReLU left out: ∂L/∂a_t = ∂L/∂h_t·1[a_t > 0]",
        "mistake_name.not_summed_over_time": "not summing the gradient over time steps",
        "mistake_name.no_recurrent_path": "leaving out the path through the next step",
        "mistake_name.tanh_derivative_missing": "leaving out the derivative of tanh",
        "mistake_name.relu_derivative_missing": "leaving out the derivative of ReLU",
    },
    "zh": {
        "quantity_right": "{label}：{n} 个全对",
        "quantity_some": "{label}：{n} 个中 {right} 个正确，{wrong} 个错误，{carried} 个连带错误",
        "cause_all": "可能的原因（每个错误的格子）：{cause}",
        "more_cells": "…… 另有 {n} 个同样的错误格子",
        "first_layered": "第一个错误：{symbol}（{key}）",
        "line_not_winner": "0：{y} 没有在任何池化窗口中胜出，所以没有梯度传到它",
        "md_head_layered": ["", "量", "格子", "你的答案", "正确答案", "推导", "说明"],
        "mistake.forward_flipped": "前向传播时把卷积核翻转了（真正的卷积）：chainrule 的 conv2d 与 PyTorch 相同，"
                                   "把 k 不翻转地放在每个窗口上（互相关），y_ij = Σ_ab k_ab·x_(i+a−1)(j+b−1)",
        "mistake.bias_forgotten": "前向传播时漏掉了偏置：每个输出像素各加一次 b，y_ij = Σ_ab k_ab·x_(i+a−1)(j+b−1) + b",
        "mistake.half_forgotten": "漏掉了损失函数的 ½（差了 2 倍）：L = ½Σ({o} − t)² 时 ∂L/∂{o} = {o} − t",
        "mistake.sign": "∂L/∂{o} 的符号错了：应是 {o} − t（输出减目标值），不是 t − {o}",
        "mistake.pool_spread": "把池化的梯度分给了窗口中的每个格子：最大池化只把 ∂L/∂p 传给窗口中胜出的格子，其他格子得 0",
        "mistake.pool_average": "把池化的梯度在窗口内平均分配了（像平均池化那样）：最大池化把 ∂L/∂p 全部传给窗口中"
                                "胜出的格子，其他格子得 0",
        "mistake.pool_first_cell": "把池化的梯度传给了窗口的第一个（左上角）格子：应传给窗口中最大值所在的格子",
        "mistake.kernel_not_flipped": "求 ∂L/∂x 时没有翻转卷积核：∂L/∂x 是补零后的 ∂L/∂y 与上下左右翻转后的卷积核的"
                                      "互相关，∂L/∂x_uv = Σ_ij ∂L/∂y_(u−i+1)(v−j+1)·k_ij",
        "mistake.dk_flipped": "求 ∂L/∂k 时把 ∂L/∂y 翻转了（输入与 ∂L/∂y 做了卷积）：∂L/∂k 是输入与 ∂L/∂y 的互相关，"
                              "∂L/∂k_ij = Σ_ab ∂L/∂y_ab·x_(a+i−1)(b+j−1)",
        "mistake.dk_transposed": "∂L/∂k 转置了：∂L/∂k_ij 应在第 i 行第 j 列（这是 ∂L/∂k_ji 的值）",
        "mistake.ascent": "更新方向反了：k ← k − η·∂L/∂k（是减号，沿梯度下降）",
        "mistake_name.forward_flipped": "前向传播时翻转卷积核",
        "mistake_name.bias_forgotten": "漏掉偏置",
        "mistake_name.half_forgotten": "漏掉损失函数的 ½",
        "mistake_name.sign": "∂L/∂{o} 的符号错误",
        "mistake_name.pool_spread": "把池化梯度分给窗口中的每个格子",
        "mistake_name.pool_average": "把池化梯度在窗口内平均",
        "mistake_name.pool_first_cell": "把池化梯度传给窗口的第一个格子",
        "mistake_name.kernel_not_flipped": "求 ∂L/∂x 时不翻转卷积核",
        "mistake_name.dk_flipped": "求 ∂L/∂k 时翻转 ∂L/∂y",
        "mistake_name.dk_transposed": "把 ∂L/∂k 转置",
        "mistake_name.ascent": "更新方向反了",
        # 批归一化、循环网络
        "mistake.missing_mean_terms": "批归一化的梯度漏掉了经过 μ 和 σ² 的项：两者都依赖每个 x_i，"
                                      "∂L/∂x_i = ∂L/∂x̂_i/σ + ∂L/∂μ/N + ∂L/∂σ²·2(x_i − μ)/N",
        "mistake.missing_variance_term": "∂L/∂x_i 漏掉了经过 σ² 的项：σ² 依赖每个 x_i，"
                                         "∂L/∂x_i = ∂L/∂x̂_i/σ + ∂L/∂μ/N + ∂L/∂σ²·2(x_i − μ)/N",
        "mistake.unbiased_variance": "σ² 除以了 N − 1：批归一化用有偏方差 Σ(x_i − μ)²/N 归一化（N − 1 只用于滑动方差）",
        "mistake.running_var_biased": "滑动方差用了有偏的 σ²：应使用 σ²·N/(N − 1)",
        "mistake_name.missing_mean_terms": "漏掉经过 μ 和 σ² 的项",
        "mistake_name.missing_variance_term": "漏掉经过 σ² 的项",
        "mistake_name.unbiased_variance": "σ² 除以 N − 1",
        "mistake_name.running_var_biased": "滑动方差用有偏的 σ²",
        "mistake.not_summed_over_time": "梯度没有对各时间步求和：共享的权重在每一步都被使用，"
                                        "所以它的梯度是每一步一项之和，∂L/∂W = Σ_t（第 t 步的项）",
        "mistake.no_recurrent_path": "漏掉了经过下一步的路径：h_t 经过 ŷ_t 和 a_(t+1) 两条路影响损失，"
                                     "∂L/∂h_t = V^T·∂L/∂ŷ_t + W_hh^T·∂L/∂a_(t+1)",
        "mistake.tanh_derivative_missing": "漏掉了 tanh 的导数：∂L/∂a_t = ∂L/∂h_t·(1 − h_t²)",
        "mistake.relu_derivative_missing": "漏掉了 ReLU 的导数：∂L/∂a_t = ∂L/∂h_t·1[a_t > 0]",
        "mistake_name.not_summed_over_time": "梯度不对时间步求和",
        "mistake_name.no_recurrent_path": "漏掉经过下一步的路径",
        "mistake_name.tanh_derivative_missing": "漏掉 tanh 的导数",
        "mistake_name.relu_derivative_missing": "漏掉 ReLU 的导数",
    },
}
for _lang, _table in LAYERED_MESSAGES.items():
    MESSAGES[_lang].update(_table)
