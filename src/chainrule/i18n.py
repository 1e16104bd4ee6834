"""The CLI's error messages in Chinese (``--lang zh``), in one place.

chainrule raises its errors in English (the library's language, and what the tests and docs pin);
the CLI renders them in the user's language at the point of printing (``cli.main``). The catalog
below is keyed by the English template each message is written from: ``{name}`` parts are matched
against the message and carried into the Chinese template, so file names, keys, values and code
stay exactly as they are. A part's name says how it is carried:

* ``detail``/``msg``: a fragment with its own template (``key 'lr': expected a number, got 'a'``),
  translated in turn;
* ``where``/``path``: a file name ("seed (shipped spec)" becomes "seed（内置设定）");
* ``opts``: a list of identifiers, written as code (`none`、`relu`) so no English word is left bare;
* ``code``: written as code; ``word``: a phrase looked up in ``PHRASES`` (else written as code);
* ``toml``/``json``: a parser's own reason, looked up in ``PARSER_REASONS`` (else written as code);
* anything else: carried verbatim (numbers, shapes, values as the file wrote them).

A message with no template stays English. Errors of the engine (the PyTorch API: shapes, dtypes)
are never translated: they match PyTorch's English on purpose.
"""

from __future__ import annotations

import functools
import re

# (English template, Chinese template). More specific templates come before the general ones that
# would also match (the first full match wins).
CATALOG = [
    # ------------------------------------------------------------------ the CLI and argparse
    ("unrecognized arguments: {code}", "无法识别的参数：{code}"),
    ("the following arguments are required: {code}", "缺少必需的参数：{code}"),
    ("argument {code}: invalid choice: {value} (choose from {opts})", "参数 {code}：无效的选项 {value}（可选：{opts}）"),
    ("argument {code}: invalid {code2} value: {value}", "参数 {code}：无效的 {code2} 值 {value}"),
    ("argument {code}: expected one argument", "参数 {code}：需要一个值"),
    ("argument {code}: not allowed with argument {code2}", "参数 {code} 不能与参数 {code2} 同时使用"),
    ("--{opt}: must be a positive number, got {value}", "`--{opt}`：应为正数，实际是 {value}"),
    ("--{opt} must be a positive number, got {value}", "`--{opt}` 应为正数，实际是 {value}"),
    ("--{opt} must be a non-negative number, got {value}", "`--{opt}` 应为非负数，实际是 {value}"),
    ("--{opt} must be 1 or more, got {value}", "`--{opt}` 应不小于 1，实际是 {value}"),
    ("--{opt} must be at least 1, got {value}", "`--{opt}` 应不小于 1，实际是 {value}"),
    ("--{opt} must be between {a} and {b}, got {value}", "`--{opt}` 应在 {a} 到 {b} 之间，实际是 {value}"),
    ("--{opt} must be in {range}, got {value}", "`--{opt}` 应在 {range} 内，实际是 {value}"),
    ("--gradebook and --chart go with --class", "`--gradebook` 和 `--chart` 要与 `--class` 一起使用"),
    ("--out {path}: use a .png, .svg or .pdf file name", "`--out` {path}：请用 .png、.svg 或 .pdf 文件名"),
    ("LAYERS {value}: expected sizes joined by '-', e.g. 3-4-2", "`LAYERS` {value}：应为用 '-' 连接的层大小，例如 3-4-2"),
    ("LAYERS {value}: expected at least two sizes of 1 or more, e.g. 3-4-2",
     "`LAYERS` {value}：应至少有两个不小于 1 的层大小，例如 3-4-2"),
    ("draw: --animate draws fully-connected specs; {path} is a layered spec (drop --animate to draw its step)",
     "`draw`：`--animate` 只画全连接的设定；{path} 是分层设定（去掉 `--animate` 即可画出它的这一步）"),
    ("derive: a layered spec ({path}) is written in {opts} only, got --format {code}",
     "`derive`：分层设定（{path}）只能写成 {opts}，实际是 `--format {code}`"),
    ("derive: a layered spec ({path}) is derived for one step in its own notation (drop --steps/--notation)",
     "`derive`：分层设定（{path}）只推导一步，并使用它自己的记号（去掉 `--steps`/`--notation`）"),
    ("draw: a layered spec ({path}) is drawn for its one sample and first step only (drop {opts})",
     "`draw`：分层设定（{path}）只画它的一个样本和第一步（去掉 {opts}）"),
    ("--animate writes a GIF: --out {path} must end in .gif", "`--animate` 写出 `.gif` 动画：`--out` {path} 必须以 .gif 结尾"),
    ("animate: frames must be between 1 and {n}, got {value}", "`--frames` 应在 1 到 {n} 之间，实际是 {value}"),
    ("cannot write '{path}': the folder '{path2}' does not exist", "无法写入 '{path}'：文件夹 '{path2}' 不存在"),
    ("cannot write '{path}': it is a folder; give a file name", "无法写入 '{path}'：这是一个文件夹；请给出文件名"),
    ("derive: precision must be between 1 and 17 significant digits, got {value}",
     "`derive`：精度应在 1 到 17 位有效数字之间，实际是 {value}"),
    ("derive: Mazur's notation (i, h, o, w1…w8) is for networks with two weight layers (this one has {n}); "
     "use --notation textbook",
     "`derive`：Mazur 的记号（i, h, o, w1…w8）只用于两个权重层的网络（这个网络有 {n} 层）；请用 `--notation textbook`"),
    ("derive: prime notation is for networks with up to 3 weight layers (this one has {n}); use --notation indexed",
     "`derive`：撇号记号只用于不超过 3 个权重层的网络（这个网络有 {n} 层）；请用 `--notation indexed`"),
    ("{path}: chainrule derive writes out layered specs made of one conv2d block, optionally followed by one "
     "maxpool2d (got {opts}); train it with chainrule train",
     "{path}：`chainrule derive` 只推导由一个 `conv2d` 块（后面可以再接一个 `maxpool2d`）组成的分层设定（实际是 {opts}）；"
     "请用 `chainrule train` 训练它"),
    ("derive: --form {code} is for layered specs; {path} is fully connected (its derivation switches to matrix "
     "form by itself beyond the size that fits on a page)",
     "`derive`：`--form` {code} 只用于分层设定；{path} 是全连接网络（超出一页能写下的规模时，它的推导自动改用矩阵形式）"),
    ("{path}: derive writes the matrix form of networks up to {limit} parameters (this one has {n}); train it with "
     "chainrule train and check it with chainrule check",
     "{path}：`derive` 只为不超过 {limit} 个参数的网络写出矩阵形式（这个网络有 {n} 个）；请用 `chainrule train` 训练，"
     "用 `chainrule check` 检验"),
    ("{path}: derive writes the matrix form of networks up to {limit} modules (this one has {n})",
     "{path}：`derive` 只为不超过 {limit} 个模块的网络写出矩阵形式（这个网络有 {n} 个）"),
    ("{path}: module {i} ({code}) outputs {n} values; derive writes the matrix form up to {limit} per module",
     "{path}：模块 {i}（{code}）输出 {n} 个值；`derive` 的矩阵形式每个模块至多 {limit} 个值"),
    ("{path}: derive writes out windows that do not overlap (stride = kernel_size, padding = 0), got stride {a}, "
     "padding {b}",
     "{path}：`derive` 只推导互不重叠的窗口（`stride = kernel_size`，`padding = 0`），实际 `stride` 是 {a}，`padding` 是 {b}"),
    ("{path}: derive writes out a max pool without activation", "{path}：`derive` 只推导不带激活函数的最大池化"),
    ("{path}: derive writes out a one-channel convolution (input [1, H, W], out_channels = 1)",
     "{path}：`derive` 只推导单通道卷积（输入 [1, H, W]，`out_channels = 1`）"),
    ("{path}: derive writes out {code} = {value} only, got {value2}", "{path}：`derive` 只推导 `{code} = {value}`，实际是 {value2}"),
    ("{path}: derive writes out a convolution without activation", "{path}：`derive` 只推导不带激活函数的卷积"),
    ("{path}: derive writes out loss = \"half_sse\" with optimizer = \"sgd\" (got {value}, {value2})",
     "{path}：`derive` 只推导 `loss = \"half_sse\"` 配 `optimizer = \"sgd\"`（实际是 {value}、{value2}）"),
    ("{path}: chainrule derive writes out an unrolled RNN as one rnn block followed by one linear readout (got {opts}); "
     "train it with chainrule train",
     "{path}：`chainrule derive` 只推导由一个 `rnn` 块加一个线性输出层组成的展开的循环网络（实际是 {opts}）；"
     "请用 `chainrule train` 训练它"),
    ("{path}: derive needs the numbers fixed in the spec: keys 'x', 'y', {opts}",
     "{path}：`derive` 需要设定中固定的数值：键 'x'、'y'、{opts}"),
    ("{path}: derive needs the numbers fixed in the spec: keys 'x', 'y' and the block's 'weight'",
     "{path}：`derive` 需要设定中固定的数：键 'x'、'y' 和块的 'weight'"),
    ("{path}: layers[{k}] ({code}): for samples of shape {shape}: {engine}",
     "{path}：layers[{k}]（{code}）：对形状为 {shape} 的样本：{engine}"),
    ("draw: {path}: draws layered specs made of one conv2d block, optionally followed by one maxpool2d, or of one "
     "batchnorm block (got {opts}); train it with chainrule train",
     "`draw`：{path}：只画由一个 `conv2d` 块（后面可以再接一个 `maxpool2d`）或一个 `batchnorm` 块组成的分层设定"
     "（实际是 {opts}）；请用 `chainrule train` 训练它"),
    ("{path}: derive writes out batch norm for a layered spec made of one batchnorm block (got {opts})",
     "{path}：`derive` 只推导由一个 `batchnorm` 块组成的分层设定的批归一化（实际是 {opts}）"),
    ("{path}: derive writes out batch norm without activation", "{path}：`derive` 只推导不带激活函数的批归一化"),
    ("{path}: derive needs a batch fixed in the spec: key 'x' as one row per sample ([[x_1], [x_2], ...]) and key "
     "'y' with one target per sample",
     "{path}：`derive` 需要设定中固定的一批样本：键 'x' 每个样本一行（[[x_1], [x_2], ...]），键 'y' 每个样本一个目标值"),
    ("worksheet: spec '{name}' has {n} samples; a worksheet worked by hand takes at most {max}",
     "`worksheet`：设定 '{name}' 有 {n} 个样本；手算的练习单最多 {max} 个"),
    ("worksheet: spec '{name}' has {n} parameters; a worksheet takes at most {max}",
     "`worksheet`：设定 '{name}' 有 {n} 个参数；练习单最多 {max} 个"),
    ("worksheet: spec '{name}' uses {code}; worksheets are for plain SGD (optimizer = \"sgd\")",
     "`worksheet`：设定 '{name}' 用的是 `{code}`；练习单只用于普通 SGD（`optimizer = \"sgd\"`）"),
    ("worksheet: spec '{name}': no fair variant in {n} draws (last rejected: {engine})",
     "`worksheet`：设定 '{name}'：抽了 {n} 次都没有公平的变体（最后一次被拒的原因：{engine}）"),
    ("export: {path} has {n} parameters; a script writes each one as a number, at most {m}: train it with "
     "`chainrule train` instead",
     "`export`：{path} 有 {n} 个参数；脚本把每个参数写成一个数，最多 {m} 个：请改用 `chainrule train` 训练它"),
    ("{path}: key 'bias': export writes one bias per neuron; a trained bias shared by layer {n} is not supported "
     "(freeze it with frozen = [\"{code}\"], or set bias = true)",
     "{path}：键 'bias'：`export` 为每个神经元写一个偏置；不支持第 {n} 层训练中的共享偏置"
     "（用 `frozen = [\"{code}\"]` 固定它，或设 `bias = true`）"),
    ("draw_scalars: spec {name} has {n} samples; the scalar graph draws one sample's step (use draw_network, which "
     "marks batch sums)",
     "`draw`：设定 {name} 有 {n} 个样本；标量图只画一个样本的一步（请画网络图 `--what network`，它标出批量求和）"),
    ("draw_scalars: spec {name} has {n} parameters, more than the {max} a slide holds as scalars (use draw_network "
     "or draw_graph)",
     "`draw`：设定 {name} 有 {n} 个参数，超过一张幻灯片能画下的 {max} 个标量（请用 `--what network` 或 `--what graph`）"),
    ("sample must be in 0..{n}, got {value}", "样本序号应在 0..{n} 中，实际是 {value}"),
    # ------------------------------------------------------------------ files (io.py)
    ("{path}: no such file, and not a shipped spec (shipped specs: {opts})",
     "{path}：没有这个文件，也不是内置的设定（内置设定：{opts}）"),
    ("{path}: no such answer file", "{path}：没有这个答案文件"),
    ("{path}: no such file", "{path}：没有这个文件"),
    ("{path}: no class.json here (write the sheets with chainrule worksheet first)",
     "{path}：这里没有 class.json（请先用 `chainrule worksheet` 写出练习单）"),
    ("{path}: no such folder of answer files", "{path}：没有这个存放答案文件的文件夹"),
    ("{path}: is a folder, not a file", "{path}：这是文件夹，不是文件"),
    ("{path}: not a UTF-8 text file (byte {n}: {word})", "{path}：不是 `UTF-8` 文本文件（第 {n} 字节：{word}）"),
    ("{path}: not a regular file (a pipe, socket or block device); give a file, or pipe the text into standard "
     "input and name /dev/stdin",
     "{path}：不是普通文件（而是管道、套接字或块设备）；请给出文件，或把文本从标准输入传入并写 `/dev/stdin`"),
    ("{path}: file is over {max} bytes; {word} larger than {max2} bytes are refused",
     "{path}：文件超过 {max} 字节；超过 {max2} 字节的{word}不予读取"),
    ("{path}: file is {size} bytes; {word} larger than {max} bytes are refused",
     "{path}：文件有 {size} 字节；超过 {max} 字节的{word}不予读取"),
    ("{path}: a device with nothing to read; give a file", "{path}：设备中没有可读的内容；请给出文件"),
    ("{path}: cannot read: {word}", "{path}：无法读取：{word}"),
    ("{path}: not valid TOML: {toml} (at line {line}, column {col})",
     "{path}：不是有效的 TOML：第 {line} 行第 {col} 列：{toml}"),
    ("{path}: not valid TOML: {toml} (at end of document)", "{path}：不是有效的 TOML：文件末尾：{toml}"),
    ("{path}: not valid JSON: {json}: line {line} column {col} (char {char})",
     "{path}：不是有效的 JSON：第 {line} 行第 {col} 列（第 {char} 个字符）：{json}"),
    ("{path}: nested more than {n} levels deep", "{path}：嵌套超过 {n} 层"),
    ("{path}: the top level must be a table of keys, got {code}", "{path}：顶层必须是键的表，实际是 {code}"),
    ("{path}: key {value} appears twice in the same object", "{path}：键 {value} 在同一个对象中出现了两次"),
    # ------------------------------------------------------------------ limits
    ("{path}: {steps} steps of {params} parameters on {n} sample(s) is {work} multiply-adds, over the limit of "
     "{limit}; use fewer steps or `chainrule train` on real data",
     "{path}：{n} 个样本上 {params} 个参数的 {steps} 步共 {work} 次乘加，超过上限 {limit}；请减少步数，"
     "或在真实数据上用 `chainrule train`"),
    ("{path}: {word} is {value}, over the limit of {limit}; {word2}", "{path}：{word}为 {value}，超过上限 {limit}；{word2}"),
    ("{path}: steps must be between 1 and {max}, got {value}", "{path}：步数应在 1 到 {max} 之间，实际是 {value}"),
    # ------------------------------------------------------------------ grade.py: answer files
    ("{path}: no answers found (give e.g. loss = ..., or [grad] W1 = [[...]])",
     "{path}：没有找到答案（例如写 `loss = ...`，或 `[grad] W1 = [[...]]`）"),
    ("{path}: step {n}: the answers are too large to replay ({code}); check them for a typo",
     "{path}：第 {n} 步：答案太大，无法重演（{code}）；请检查是否有笔误"),
    ("{path}: not a class record written by chainrule worksheet (key 'format')",
     "{path}：不是 `chainrule worksheet` 写出的班级记录（键 'format'）"),
    ("{path}: a second answer file for student {sid} (the first is {path2})",
     "{path}：学生 {sid} 的第二个答案文件（第一个是 {path2}）"),
    # ------------------------------------------------------------------ layered.py
    ("{path}: unknown key(s) {opts} (layered specs take {opts2})", "{path}：未知的键 {opts}（分层设定可用的键：{opts2}）"),
    ("{path} ({code}): unknown key(s) {opts} (it takes {opts2})", "{path}（{code}）：未知的键 {opts}（它可用的键：{opts2}）"),
    ("{path} ({code}): key '{key}' is required", "{path}（{code}）：必须给出键 '{key}'"),
    ("{path}: needs (C, H, W) samples, but the samples here have shape {shape}; flatten comes after the convolutions",
     "{path}：需要形状为 (C, H, W) 的样本，但这里样本的形状是 {shape}；`flatten` 应放在卷积之后"),
    ("{path}: needs (C, H, W) samples, but the samples here have shape {shape}",
     "{path}：需要形状为 (C, H, W) 的样本，但这里样本的形状是 {shape}"),
    ("{path}: needs sequences (T, features), but the samples here have shape {shape}",
     "{path}：需要序列样本 (T, 特征数)，但这里样本的形状是 {shape}"),
    ("{path}: needs flat samples, but they have shape {shape}; add a block with kind = \"flatten\" first",
     "{path}：需要展平的样本，但样本的形状是 {shape}；请先加一个 `kind = \"flatten\"` 的块"),
    ("{path}: check needs the sample fixed in the spec (keys 'x' and 'y')",
     "{path}：检查需要设定中固定的样本（键 'x' 和 'y'）"),
    ("{path}: check compares deterministic gradients; dropout draws a new mask per call",
     "{path}：检查比较的是确定的梯度；`dropout` 每次调用都会抽取新的掩码"),
    # ------------------------------------------------------------------ grading/layered.py: layered answer files
    ("{path}: no answers found (give e.g. loss = ..., or dL_dk = [[...], [...]])",
     "{path}：没有找到答案（例如写 `loss = ...`，或 `dL_dk = [[...], [...]]`）"),
    ("{path}: chainrule grade marks the layered specs that chainrule derive writes out, such as {opts}; this one "
     "has blocks {opts2}", "{path}：`chainrule grade` 批改 `chainrule derive` 能写出的分层设定，例如 {opts}；"
     "这个设定的块是 {opts2}"),
    ("{path}: the bias is drawn at random without a 'seed', so the numbers would change from run to run; fix it "
     "(bias = [0.5]), give the spec a seed, or set bias = false",
     "{path}：没有 'seed' 时偏置是随机抽取的，每次运行数值都会变；请固定它（`bias = [0.5]`）、给设定一个 `seed`，"
     "或设 `bias = false`"),
    # ------------------------------------------------------------------ a file and a key: spec.py, layered.py, grade.py
    ("{path}: key '{key}': {detail}", "{path}：键 '{key}'：{detail}"),
    # ------------------------------------------------------------------ details (after "file: key 'k': ")
    # layered answers: a grid in the wrong shape (grading/layered.py)
    ("unknown (this derivation's answers: {opts}); did you mean '{key}'?",
     "未知的键（这个推导的答案：{opts}）；是不是 '{key}'？"),
    ("unknown (this derivation's answers: {opts})", "未知的键（这个推导的答案：{opts}）"),
    ("expected a {r}×{c} grid ({r2} rows of {c2} numbers), got {detail}",
     "应为 {r}×{c} 的网格（{r2} 行，每行 {c2} 个数），实际是{detail}"),
    ("expected a list of {n} numbers, got {detail}", "应为 {n} 个数的列表，实际是{detail}"),
    ("expected nested lists of shape {shape}, got {detail}", "应为形状为 {shape} 的嵌套列表，实际是{detail}"),
    ("expected a number, got a list of {n} numbers", "应为一个数，实际是 {n} 个数的列表"),
    ("expected a number, got a {r}×{c} grid", "应为一个数，实际是 {r}×{c} 的网格"),
    ("expected a number, got nested lists of shape {shape}", "应为一个数，实际是形状为 {shape} 的嵌套列表"),
    ("a {r}×{c} grid", " {r}×{c} 的网格"),
    ("a list of {n} numbers", " {n} 个数的列表"),
    ("a number", "一个数"),
    ("nested lists of shape {shape}", "形状为 {shape} 的嵌套列表"),
    ("rows of different lengths", "长短不一的行"),
    ("expected a number, got {value}", "应为数，实际是 {value}"),
    ("expected an integer, got {value}", "应为整数，实际是 {value}"),
    ("expected a whole number, got {value}", "应为整数，实际是 {value}"),
    ("expected a whole number (a class index), got {value}", "应为整数（类别序号），实际是 {value}"),
    ("expected a finite number, got {value}", "应为有限的数，实际是 {value}"),
    ("expected finite numbers, got {value}", "应为有限的数，实际是 {value}"),
    ("expected a number > 0, got {value}", "应为大于 0 的数，实际是 {value}"),
    ("must be > 0, got {value}", "应大于 0，实际是 {value}"),
    ("expected a number >= {min}, got {value}", "应为不小于 {min} 的数，实际是 {value}"),
    ("must be at least {min}, got {value}", "应不小于 {min}，实际是 {value}"),
    ("expected a number in [0, 1), got {value}", "应为 [0, 1) 中的数，实际是 {value}"),
    ("a thousands of-digit integer is too large (at most {max})", "几千位的整数太大（最大 {max}）"),
    ("a {n}-digit integer is too large (at most {max})", "{n} 位的整数太大（最大 {max}）"),
    ("expected one of {opts}, got {value}", "应为 {opts} 之一，实际是 {value}"),
    ("class index {value} is out of range for {n} classes (0..{m})", "类别序号 {value} 超出了 {n} 个类别的范围（0..{m}）"),
    ("class index {value} is out of range", "类别序号 {value} 超出范围"),
    ("binary cross-entropy targets must lie in [0, 1], got {value}", "二元交叉熵的目标值必须在 [0, 1] 中，实际是 {value}"),
    ("rows have different lengths", "各行长度不同"),
    ("expected {n} entries (one per weight layer), got {m}", "应有 {n} 项（每个权重层一项），实际有 {m} 项"),
    ("missing; give the layer sizes, e.g. layers = [2, 3, 1]", "缺失；请给出各层大小，例如 `layers = [2, 3, 1]`"),
    ("missing; give a constant or matrix per weight layer, or set init.seed for random initialisation",
     "缺失；请为每个权重层给出一个常数或矩阵，或设置 `init.seed` 随机初始化"),
    ("missing", "缺失"),
    ("expected {n} inputs per sample (layers[0] = {m}), got shape {shape}",
     "每个样本应有 {n} 个输入（layers[0] = {m}），实际形状是 {shape}"),
    ("{n} samples is more than the {max} a spec may carry", "{n} 个样本超过了一个设定最多可带的 {max} 个"),
    ("expected {n} class index(es), one per sample, got {m}", "应有 {n} 个类别序号，每个样本一个，实际有 {m} 个"),
    ("expected {n} target(s) per sample for {m} sample(s), got shape {shape}",
     "{m} 个样本每个应有 {n} 个目标值，实际形状是 {shape}"),
    ("unknown key (known keys: {opts})", "未知的键（可用的键：{opts}）"),
    ("expected a table [{code}], got {code2}", "应为表 `[{code}]`，实际是 {code2}"),
    ("expected a list of at least two sizes (input ... output), got {value}",
     "应为至少含两个大小的列表（输入 ... 输出），实际是 {value}"),
    ("{n} neurons is more than the {max} a spec may have per layer", "{n} 个神经元超过了一个设定每层最多的 {max} 个"),
    ("expected true, false or \"shared\" (one bias for the whole layer), got {value}",
     "应为 `true`、`false` 或 `\"shared\"`（整层共享一个偏置），实际是 {value}"),
    ("{n} parameters is more than the {max} a spec may have", "{n} 个参数超过了一个设定最多的 {max} 个"),
    ("{n} steps is more than the {max} a spec may run (use `chainrule train` for long runs on real data)",
     "{n} 步超过了一个设定最多可跑的 {max} 步（在真实数据上长时间训练请用 `chainrule train`）"),
    ("softmax is only supported on the output layer", "softmax 只能用在输出层"),
    ("loss 'bce' needs probabilities: set the last activation to 'sigmoid' (got {value})",
     "损失 'bce' 需要概率：请把最后一层的激活函数设为 'sigmoid'（实际是 {value}）"),
    ("expected a number or a {r}x{c} matrix in (from, to) order (row i = input neuron i of layer {l}, column j = "
     "output neuron j), got shape {shape} — this is the (out, in) shape of PyTorch's nn.Linear.weight: transpose "
     "it, or set order = \"out_in\"",
     "应为一个数，或按（来源, 去向）顺序的 {r}x{c} 矩阵（第 i 行是第 {l} 层的输入神经元 i，第 j 列是输出神经元 j），"
     "实际形状是 {shape}——这是 PyTorch 的 nn.Linear.weight 的 `(out, in)` 形状：请转置，或设置 `order = \"out_in\"`"),
    ("expected a number or a {r}x{c} matrix in (from, to) order (row i = input neuron i of layer {l}, column j = "
     "output neuron j), got shape {shape}",
     "应为一个数，或按（来源, 去向）顺序的 {r}x{c} 矩阵（第 i 行是第 {l} 层的输入神经元 i，第 j 列是输出神经元 j），"
     "实际形状是 {shape}"),
    ("expected a number or a {r}x{c} matrix in (out, in) order (order = \"out_in\": row j = output neuron j, column "
     "i = input neuron i), got shape {shape}",
     "应为一个数，或按 `(out, in)` 顺序的 {r}x{c} 矩阵（`order = \"out_in\"`：第 j 行是输出神经元 j，第 i 列是输入神经元 i），"
     "实际形状是 {shape}"),
    ("expected a number or one shared bias (bias = \"shared\"), got shape {shape}",
     "应为一个数，或一个共享的偏置（`bias = \"shared\"`），实际形状是 {shape}"),
    ("expected a number or a list of {n} biases, got shape {shape}", "应为一个数，或 {n} 个偏置的列表，实际形状是 {shape}"),
    ("given, but bias = false; set bias = true or remove init.biases",
     "给出了偏置，但 `bias = false`；请设 `bias = true` 或删去 `init.biases`"),
    ("give either frozen or trainable, not both", "`frozen` 和 `trainable` 只能给一个"),
    ("expected a list of parameter names ({opts}), got {value}", "应为参数名的列表（{opts}），实际是 {value}"),
    ("no parameter {value} in this network (it has {opts})", "这个网络没有参数 {value}（它有 {opts}）"),
    ("every parameter is frozen: nothing would train", "所有参数都被固定了：没有可训练的参数"),
    ("expected a string, got {value}", "应为字符串，实际是 {value}"),
    ("{n} characters is more than the {max} a spec's {key} may have", "{n} 个字符超过了设定的 '{key}' 最多的 {max} 个"),
    ("expected an integer or a pair of integers, got {value}", "应为一个整数或一对整数，实际是 {value}"),
    ("expected the shape of one sample, [C, H, W] or [features], got {value}",
     "应为一个样本的形状，[C, H, W] 或 [特征数]，实际是 {value}"),
    ("expected nested lists of numbers of one shape, got {value}", "应为形状一致的嵌套数字列表，实际是 {value}"),
    ("expected one sample of shape {shape} or a batch of shape {shape2}, got shape {shape3}",
     "应为形状为 {shape} 的一个样本或形状为 {shape2} 的一批样本，实际形状是 {shape3}"),
    ("expected one sample of shape {shape}, got shape {shape2}", "应为形状为 {shape} 的一个样本，实际形状是 {shape2}"),
    ("expected a target of the output's shape {shape}, got shape {shape2}", "应为与输出同形状 {shape} 的目标，实际形状是 {shape2}"),
    ("expected shape {shape} (out, in, kh, kw), got {shape2}", "应为形状 {shape} `(out, in, kh, kw)`，实际是 {shape2}"),
    # the rnn block and its derivation (explain/rnn.py)
    ("expected shape {shape} in the layout {code}, got {shape2}", "应为形状 {shape}（排列为 {code}），实际是 {shape2}"),
    ("the block has no {code} (bias = false)", "这个块没有 {code}（`bias = false`）"),
    ("expected tanh or relu, got {value}", "应为 tanh 或 relu，实际是 {value}"),
    ("expected true or false, got {value}", "应为 `true` 或 `false`，实际是 {value}"),
    ("expected the initial hidden state, shape {shape}, got {shape2}", "应为初始隐藏状态，形状 {shape}，实际是 {shape2}"),
    ("expected the shape of one sample, [T, features] (steps, features per step) before an rnn block, got {value}",
     "应为一个样本的形状，`rnn` 块之前是 [T, 特征数]（时间步数，每步的特征数），实际是 {value}"),
    ("derive writes out the block without an extra activation, got {value}", "`derive` 只推导不另加激活函数的块，实际是 {value}"),
    ("derive writes out a readout without bias (bias = false), since the spec cannot fix its value",
     "`derive` 只推导不带偏置的输出层（`bias = false`），因为设定无法固定偏置的值"),
    ("derive writes out one sample of shape {shape}, got a batch of shape {shape2}",
     "`derive` 只推导形状为 {shape} 的一个样本，实际是形状为 {shape2} 的一批样本"),
    ("derive writes every sum out by hand up to {code} = {max}, got {value}; train larger networks with chainrule train",
     "`derive` 只手写到 {code} = {max} 的求和，实际是 {value}；更大的网络请用 `chainrule train` 训练"),
    ("x is a batch of {n}, so y needs one target per sample, shape {shape}, got shape {shape2}",
     "x 是 {n} 个样本的一批，所以 y 每个样本需要一个目标值，形状 {shape}，实际形状是 {shape2}"),
    ("must be > 0 (it keeps √(σ² + ε) away from 0; PyTorch refuses eps ≤ 0 in training), got {value}",
     "应大于 0（它使 √(σ² + ε) 不为 0；训练时 PyTorch 拒绝 `eps ≤ 0`），实际是 {value}"),
    ("expected a number from 0 to 1, got {value}", "应为 0 到 1 之间的数，实际是 {value}"),
    ("expected {n} number(s), one per feature or channel (shape {shape}), got shape {shape2}",
     "应有 {n} 个数，每个特征或通道一个（形状 {shape}），实际形状是 {shape2}"),
    ("derive writes out a convolution of one sample, shaped as input {shape}; got a batch of shape {shape2}",
     "`derive` 只推导一个样本的卷积，形状同 `input` {shape}；实际是形状为 {shape2} 的一批样本"),
    ("derive writes out batch norm over one feature (input = [1]); each feature is normalised on its own, so a "
     "wider layer is this derivation once per feature; got {value}",
     "`derive` 只推导一个特征上的批归一化（`input = [1]`）；每个特征各自归一化，所以更宽的层就是对每个特征各做一次"
     "这个推导；实际是 {value}"),
    ("batch norm in training needs more than one sample per feature, got {n}",
     "训练时批归一化每个特征需要不止一个样本，实际有 {n} 个"),
    # grade.py answer keys
    ("not allowed next to 'steps' (put it inside a step)", "不能与 'steps' 并列（请放进某一步里）"),
    ("expected a non-empty list of steps", "应为非空的步骤列表"),
    ("expected a table of answers", "应为答案的表"),
    ("unknown (answer keys: {opts})", "未知的键（答案的键：{opts}）"),
    ("expected a step number 1, 2, ..., got {value}", "应为步数 1, 2, ...，实际是 {value}"),
    ("step {value} is beyond the {max} steps chainrule grade marks (answers are worked by hand)",
     "第 {value} 步超出了 `chainrule grade` 批改的 {max} 步（答案是手算的）"),
    ("step {n} is answered twice", "第 {n} 步答了两次"),
    ("expected a list of {n} values, got {value}", "应为 {n} 个值的列表，实际是 {value}"),
    ("expected {n} entries, got {m} (a {r}x{c} matrix: looks transposed; chainrule writes weights as (from, to), "
     "{r2}x{c2}: row i is neuron i of the earlier layer, column j neuron j of the later one)",
     "应有 {n} 项，实际有 {m} 项（一个 {r}x{c} 矩阵：看起来转置了；chainrule 按（来源, 去向）写权重，{r2}x{c2}："
     "第 i 行是前一层的第 i 个神经元，第 j 列是后一层的第 j 个神经元）"),
    ("expected {n} entries, got {m}", "应有 {n} 项，实际有 {m} 项"),
    ("unknown (a layer has z and a). In TOML a table runs from its header to the next header, so '{key}' written "
     "after {code} belongs to that table: move '{key2} = ...' above the first [table] or [[table]] header",
     "未知的键（一层只有 z 和 a）。在 TOML 中，一个表从它的表头延续到下一个表头，所以写在 {code} 之后的 '{key}' "
     "属于那个表：请把 '{key2} = ...' 移到第一个 `[表]` 或 `[[表]]` 表头之前"),
    ("unknown (a layer has z and a)", "未知的键（一层只有 z 和 a）"),
    ("expected a list of layers ([[forward]] in TOML)", "应为各层的列表（TOML 中写作 `[[forward]]`）"),
    ("expected a table with z and/or a", "应为含 z 和/或 a 的表"),
    ("expected 1..{n}, got {value}", "应在 1..{n} 中，实际是 {value}"),
    ("not defined for this network (with cross-entropy the loss takes the logits z: answer delta instead)",
     "这个网络没有这个量（用交叉熵时损失直接取 softmax 之前的 z：请改答 `delta`）"),
    ("expected a table of parameters ({opts})", "应为参数的表（{opts}）"),
    ("{code} is frozen in this spec (not trained), so it has no gradient; leave it out",
     "{code} 在这个设定中是固定的（不训练），没有梯度；请删去它"),
    ("no such parameter (this network has {opts}; W matrices in (from, to) order). In TOML a table runs from its "
     "header to the next header, so '{key}' written after {code} belongs to that table: move '{key2} = ...' above "
     "the first [table] or [[table]] header",
     "没有这个参数（这个网络有 {opts}；W 矩阵按（来源, 去向）顺序）。在 TOML 中，一个表从它的表头延续到下一个表头，"
     "所以写在 {code} 之后的 '{key}' 属于那个表：请把 '{key2} = ...' 移到第一个 `[表]` 或 `[[表]]` 表头之前"),
    ("no such parameter (this network has {opts}; W matrices in (from, to) order)",
     "没有这个参数（这个网络有 {opts}；W 矩阵按（来源, 去向）顺序）"),
]

# Phrases that fill a ``word`` part: the kinds of file in a size message, the limits' "what" and "instead".
PHRASES = {
    "specs": "设定文件", "answer files": "答案文件", "CSV files": "CSV 文件", "class records": "班级记录",
    "Permission denied": "没有权限", "invalid start byte": "无效的起始字节",
    "invalid continuation byte": "无效的后续字节", "unexpected end of data": "数据意外结束", "Is a directory": "这是文件夹",
    "the number of parameters": "参数个数", "the number of weights": "权重个数",
    "the number of weight layers": "权重层数", "the widest layer's number of neurons": "最宽一层的神经元数",
    "the number of steps": "步数", "--step": "`--step`", "the number of steps to write out": "要写出的步数",
    "the number of values to write out (steps × (parameters + neurons × samples))":
        "要写出的值的个数（步数 × (参数数 + 神经元数 × 样本数)）",
    "the number of values to mark (steps × parameters × samples)": "要批改的值的个数（步数 × 参数数 × 样本数）",
    "the number of parameters × samples": "参数数 × 样本数",
    "answers are worked by hand: grade a smaller network, or fewer steps": "答案是手算的：请批改更小的网络，或更少的步数",
    "a derivation is for reading: derive a few steps, and draw the loss curve for long runs":
        "推导是用来读的：只推导几步，长时间训练请画损失曲线",
    "derive fewer steps, or a smaller network of the same shape": "请推导更少的步数，或同样结构的更小网络",
    "finite differences take two forward passes per parameter: check a smaller network of the same shape, or use "
    "cr.gradcheck on a part of this one":
        "有限差分每个参数要做两次前向传播：请检查同样结构的更小网络，或对这个网络的一部分用 `cr.gradcheck`",
    "the scalar script writes one line per weight and sample: use --to numpy or --to torch":
        "标量脚本每个权重、每个样本写一行：请用 `--to numpy` 或 `--to torch`",
    "draw a shallower network of the same kind": "请画同类的更浅的网络",
    "draw the graph (--what graph) or a narrower network": "请画计算图（`--what graph`）或更窄的网络",
    "draw the graph (--what graph) or a smaller network": "请画计算图（`--what graph`）或更小的网络",
    "draw a smaller network of the same shape": "请画同样结构的更小网络",
    "train long runs with `chainrule train`": "长时间训练请用 `chainrule train`",
}

# The TOML and JSON parsers' own reasons (Python's tomllib and json), as patterns.
PARSER_REASONS = [
    (r"Invalid value", "无效的值"),
    (r"Invalid statement", "无效的语句"),
    (r"Unclosed array", "数组没有闭合"),
    (r"Unclosed inline table", "内联表没有闭合"),
    (r"Unterminated string", "字符串没有结束"),
    (r"Expected '=' after a key in a key/value pair", "键值对中的键后面应有 '='"),
    (r"Expected '\]' at the end of a table declaration", "表头末尾应有 ']'"),
    (r"Expected '\]\]' at the end of an array declaration", "数组表头末尾应有 ']]'"),
    (r"Cannot overwrite a value", "不能覆盖已有的值（同一个键写了两次？）"),
    (r"Cannot declare (?P<v>.+) twice", "不能两次声明 {v}"),
    (r"Cannot mutate immutable namespace (?P<v>.+)", "不能修改不可变的命名空间 {v}"),
    (r"Cannot redefine namespace (?P<v>.+)", "不能重新定义命名空间 {v}"),
    (r"Duplicate inline table key (?P<v>.+)", "内联表中的键 {v} 重复"),
    (r"Invalid initial character for a key part", "键的首字符无效"),
    (r"Found invalid character (?P<v>.+)", "发现无效字符 {v}"),
    (r"Illegal character (?P<v>.+)", "非法字符 {v}"),
    (r"Invalid date or datetime", "无效的日期或时间"),
    (r"Invalid hex value", "无效的十六进制值"),
    (r"Unescaped '\\\\' in a string", "字符串中有未转义的 '\\'"),
    (r"Escaped character is not a Unicode scalar value", "转义字符不是 Unicode 标量值"),
    (r"Expecting value", "这里应有一个值"),
    (r"Expecting property name enclosed in double quotes", "这里应有用双引号括起的键"),
    (r"Expecting ',' delimiter", "这里应有分隔符 ','"),
    (r"Expecting ':' delimiter", "这里应有分隔符 ':'"),
    (r"Extra data", "多余的数据"),
    (r"Unterminated string starting at", "字符串没有结束"),
    (r"Invalid control character at", "无效的控制字符"),
    (r"Invalid \\escape", "无效的转义"),
]

ERROR = {"en": "error", "zh": "错误"}
INTERRUPTED = {"en": "interrupted", "zh": "已中断"}


NARROW = {"key": r"[^'\n]+?", **{k: r"[\d,]+" for k in ("n", "m", "size", "limit", "steps", "params", "work", "line",
                                                          "col", "char", "k", "r", "c", "l")}}


@functools.lru_cache(maxsize=None)
def _compiled():
    out = []
    for en, zh in CATALOG:
        pattern, seen = "", set()
        for k, part in enumerate(re.split(r"\{(\w+)\}", en)):
            if k % 2 == 0:
                pattern += re.escape(part)
            elif part in seen:
                pattern += f"(?P={part})"
            else:
                seen.add(part)
                # narrow parts keep matching fast whatever the message holds: a key stops at its quote,
                # a count is digits (with thousands separators)
                pattern += f"(?P<{part}>{NARROW.get(_kind(part), '.+?')})"
        out.append((re.compile(pattern, re.S), zh))
    return out


def _kind(name: str) -> str:
    return name.rstrip("0123456789")


def _code(text: str) -> str:
    return f"`{text}`"


def _path(text: str) -> str:
    # a layered spec's block: "file: layers[0] (conv2d)" becomes "file：layers[0]（`conv2d`）"
    text = re.sub(r": (layers\[\d+\])(?: \((\w+)\))?", lambda m: f"：{m[1]}" + (f"（`{m[2]}`）" if m[2] else ""), text)
    return text.replace(" (shipped spec)", "（内置设定）")


def _opts(text: str) -> str:
    return "、".join(_code(item.strip().strip("'")) for item in text.split(","))


def _word(text: str) -> str:
    return PHRASES.get(text, _code(text))


def _reason(text: str) -> str:
    for pattern, zh in PARSER_REASONS:
        m = re.fullmatch(pattern, text.strip())
        if m:
            return zh.format(**m.groupdict())
    return _code(text)


def _part(name: str, value: str, depth: int) -> str:
    kind = _kind(name)
    if kind in ("detail", "msg"):
        return _translate(value, depth + 1)
    if kind in ("where", "path"):
        return _path(value)
    if kind == "opts":
        return _opts(value)
    if kind == "code":
        return _code(value)
    if kind == "word":
        return _word(value)
    if kind in ("toml", "json"):
        return _reason(value)
    return value


MAX_CHARS = 1500   # longer messages (a file that names a key of thousands of characters) stay English
MAX_DEPTH = 2      # a detail inside a detail, at most: the catalog's messages nest no deeper


def translate(message: str, lang: str) -> str:
    """``message`` (an English error chainrule wrote) in ``lang``; unchanged for English, or when no
    template matches (an engine error, or a message newer than the catalog). Never raises: a message
    that cannot be rendered is printed as it is."""
    if lang == "en" or len(message) > MAX_CHARS:
        return message
    try:
        return _translate(message, 0)
    except Exception:  # noqa: BLE001 - the error being reported matters more than its translation
        return message


def _translate(message: str, depth: int) -> str:
    if depth > MAX_DEPTH:
        return message
    for pattern, zh in _compiled():
        m = pattern.fullmatch(message)
        if m:
            return zh.format(**{name: _part(name, value, depth) for name, value in m.groupdict().items()})
    return message


def error_line(prog: str, message: str, lang: str) -> str:
    """The one line the CLI prints for an error the user can fix: ``prog: error: message``."""
    colon = "：" if lang == "zh" else ": "
    return f"{prog}{colon}{ERROR.get(lang, 'error')}{colon}{translate(message, lang)}"
