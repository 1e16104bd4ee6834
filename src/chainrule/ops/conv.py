"""2-D convolution and transposed convolution (NCHW, PyTorch's weight layouts).

Both ops share three array helpers, because each one's backward is the other one's forward:

* ``conv_forward``: every window of the (padded) input copied out once (im2col), in (N, C, H, W)
  order or channels last (whichever copies in longer runs), then one matrix product with the kernel;
* ``conv_input_grad``: per kernel offset, that slice of the kernel transposed times the output
  gradient, added back onto its slab of the input grid (col2im: a loop over the kh·kw offsets,
  never over pixels). This is "the full convolution of ∂L/∂z with the flipped kernel" written as a
  scatter;
* ``conv_weight_grad``: the correlation of the input with the output gradient, as one product.

A convolution's ∂L/∂x is ``conv_input_grad`` and a transposed convolution's forward is the same
function; a transposed convolution's ∂L/∂x is ``conv_forward``.

``F.conv2d`` passes an empty dict as the attribute ``saved``: the forward keeps its im2col windows
there for the weight's gradient (PyTorch's save_for_backward), instead of copying them out twice.
The windows are written into a ``chainrule.allocator.scratch`` buffer, so a training loop reuses
the same memory every step (fresh pages for them cost a third of a LeNet step).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..allocator import scratch
from ..errors import DTypeError, ShapeError
from .base import Op, register


def out_size(size: int, k: int, stride: int, padding: int, dilation: int) -> int:
    return (size + 2 * padding - dilation * (k - 1) - 1) // stride + 1


def _cols(x, kh, kw, stride, padding, dilation, oh, ow):
    """Every window of ``x`` (N, C, H, W): a strided view (N, C, kh, kw, OH, OW) (copied out by the caller: im2col)."""
    (ph, pw), (sh, sw), (dh, dw) = padding, stride, dilation
    if ph or pw:  # zeros around the image (np.pad costs more than this for small inputs)
        xp = np.zeros(x.shape[:2] + (x.shape[2] + 2 * ph, x.shape[3] + 2 * pw), dtype=x.dtype)
        xp[:, :, ph:ph + x.shape[2], pw:pw + x.shape[3]] = x
        x = xp
    n, c = x.shape[:2]
    s_n, s_c, s_h, s_w = x.strides
    view = as_strided(x, (n, c, kh, kw, oh, ow), (s_n, s_c, s_h * dh, s_w * dw, s_h * sh, s_w * sw), writeable=False)
    return view


def _cols_last(x, kh, kw, stride, padding, dilation, oh, ow):
    """Every window of ``x`` (N, C, H, W), channels last: a strided view (N, OH, OW, kh, kw, C) of a
    padded (N, H, W, C) copy, in which each window's row (kw pixels × C channels) is contiguous."""
    (ph, pw), (sh, sw), (dh, dw) = padding, stride, dilation
    n, c, h, wd = x.shape
    xp = np.zeros((n, h + 2 * ph, wd + 2 * pw, c), dtype=x.dtype) if ph or pw else np.empty((n, h, wd, c), x.dtype)
    xp[:, ph:ph + h, pw:pw + wd] = x.transpose(0, 2, 3, 1)
    s_n, s_h, s_w, s_c = xp.strides
    return as_strided(xp, (n, oh, ow, kh, kw, c), (s_n, s_h * sh, s_w * sw, s_h * dh, s_w * dw, s_c), writeable=False)


def conv_forward(x, w, stride, padding, dilation, groups, saved=None):
    """Cross-correlation of x (N, C, H, W) with w (O, C/groups, kh, kw): (N, O, OH, OW).

    ``saved`` (a dict) receives the im2col windows, which the weight's gradient reuses. Copying the
    windows out costs more than the product, and a copy is fast when its innermost run is long: a
    window row is OW values long in (N, C, H, W) order and kw·C long with channels last, so the
    layout with the longer run is used (channels last for deep, small layers: 6 channels of 12×12)."""
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    oh = out_size(h, kh, stride[0], padding[0], dilation[0])
    ow = out_size(wd, kw, stride[1], padding[1], dilation[1])
    if groups == 1 and dilation[1] == 1 and c * kw > ow:  # channels last: (N·OH·OW, kh·kw·C) windows
        cols = scratch((n * oh * ow, kh * kw * c), x.dtype)  # the last step's windows' memory, once free
        np.copyto(cols.reshape(n, oh, ow, kh, kw, c), _cols_last(x, kh, kw, stride, padding, dilation, oh, ow))
        out = cols @ w.transpose(2, 3, 1, 0).reshape(kh * kw * c, o)  # (N·OH·OW, O)
        # back to (N, O, OH, OW) memory: the layers after it (and their gradients) then share one layout
        out = np.ascontiguousarray(out.reshape(n, oh, ow, o).transpose(0, 3, 1, 2))
    else:  # (N, groups, C/g·kh·kw, OH·OW) windows, one batched product per group
        cols = scratch((n, groups, cg * kh * kw, oh * ow), x.dtype)
        np.copyto(cols.reshape(n, c, kh, kw, oh, ow), _cols(x, kh, kw, stride, padding, dilation, oh, ow))
        out = (w.reshape(groups, o // groups, cg * kh * kw) @ cols).reshape(n, o, oh, ow)
    if saved is not None:
        saved["cols"] = cols
    return out


def conv_weight_grad(x, g, w_shape, stride, padding, dilation, groups, cols=None):
    """∂L/∂w of a convolution: Σ over samples and positions of g[n, o, y, x] × window[n, c, i, j, y, x]."""
    n = x.shape[0]
    o, cg, kh, kw = w_shape
    oh, ow = g.shape[2:]
    if cols is not None and cols.ndim == 2:  # the forward's channels-last windows: one product over N·OH·OW
        gw = g.transpose(0, 2, 3, 1).reshape(n * oh * ow, o).T @ cols  # (O, kh·kw·C)
        return np.ascontiguousarray(gw.reshape(o, kh, kw, cg).transpose(0, 3, 1, 2))
    if cols is None:
        cols = _cols(x, kh, kw, stride, padding, dilation, oh, ow).reshape(n, groups, cg * kh * kw, oh * ow)
    g2 = g.reshape(n, groups, o // groups, oh * ow)
    # one small product per sample, then the sum over samples (cheaper than one product after transposing both)
    gw = (g2 @ cols.swapaxes(-1, -2)).sum(axis=0)
    return gw.reshape(w_shape)


def conv_input_grad(g, w, x_shape, stride, padding, dilation, groups):
    """∂L/∂x of a convolution (and the forward of a transposed one): (N, C, H, W) of ``x_shape``.

    For each kernel offset (i, j), the kernel's slice w[:, :, i, j] transposed times ∂L/∂z is the
    gradient of the input pixels that offset touched; it is added onto its strided slab of the input
    grid. The grid is laid out (C, H, W, N), so every slab's rows are long contiguous runs, and each
    offset's product is added while it is small, instead of materialising all kh·kw of them at once."""
    n, c, h, wd = x_shape
    o, cg, kh, kw = w.shape
    oh, ow = g.shape[2:]
    (ph, pw), (sh, sw), (dh, dw) = padding, stride, dilation
    g2 = g.transpose(1, 2, 3, 0).reshape(groups, o // groups, oh * ow * n)  # (groups, O/g, OH·OW·N)
    wt = w.reshape(groups, o // groups, cg, kh, kw).transpose(3, 4, 0, 2, 1)  # (kh, kw, groups, C/g, O/g)
    canvas = np.zeros((groups, cg, max(h + 2 * ph, dh * (kh - 1) + sh * (oh - 1) + 1),
                       max(wd + 2 * pw, dw * (kw - 1) + sw * (ow - 1) + 1), n), dtype=np.result_type(g, w))
    for i in range(kh):  # one product and one vectorised add per kernel offset
        for j in range(kw):
            slab = canvas[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw]
            slab += (wt[i, j] @ g2).reshape(groups, cg, oh, ow, n)
    grid = canvas.reshape(c, *canvas.shape[2:])[:, ph:ph + h, pw:pw + wd]
    return np.ascontiguousarray(grid.transpose(3, 0, 1, 2))  # back to (N, C, H, W)


def _check(op, x, w, b, groups, in_axis):
    if x.ndim != 4 or w.ndim != 4:
        raise ShapeError(f"{op}: expected a 4-D input (N, C, H, W) and a 4-D weight, got input {x.shape} and weight {w.shape}")
    if x.dtype != w.dtype or (b is not None and b.dtype != x.dtype):
        raise DTypeError(
            f"{op}: input dtype {x.dtype} does not match weight dtype {w.dtype}"
            + (f" and bias dtype {b.dtype}" if b is not None else "") + "; convert one (e.g. model.double() or x.float())"
        )
    c_in = w.shape[1] * groups if in_axis == 1 else w.shape[0]
    if x.shape[1] != c_in:
        raise ShapeError(
            f"{op}: weight of size {list(w.shape)} with groups={groups} expects input to have {c_in} channels, "
            f"but got input of size {list(x.shape)} with {x.shape[1]} channels"
        )


@register
class Conv2d(Op):
    name = "conv2d"
    inputs = ("x", "W", "b")
    formula = "z[n,o,y,x] = b_o + Σ_c Σ_i Σ_j w[o,c,i,j] · x[n,c, s·y + d·i − p, s·x + d·j − p]"
    formula_latex = r"z_{n,o,y,x}=b_o+\sum_{c,i,j} w_{o,c,i,j}\,x_{n,c,\,sy+di-p,\,sx+dj-p}"
    derivative = ("∂L/∂w[o,c,i,j] = Σ_{n,y,x} ∂L/∂z[n,o,y,x] · x[n,c, s·y + d·i − p, s·x + d·j − p] (the input correlated "
                  "with ∂L/∂z); ∂L/∂x = ∂L/∂z convolved in full with the flipped kernel; ∂L/∂b_o = Σ_{n,y,x} ∂L/∂z[n,o,y,x]")
    derivative_latex = (r"\frac{\partial L}{\partial w_{o,c,i,j}}=\sum_{n,y,x}\frac{\partial L}{\partial z_{n,o,y,x}}"
                        r"x_{n,c,\,sy+di-p,\,sx+dj-p},\ "
                        r"\frac{\partial L}{\partial x_{n,c,u,v}}=\sum_{o,i,j}\frac{\partial L}{\partial z_{n,o,\frac{u+p-di}{s},\frac{v+p-dj}{s}}}w_{o,c,i,j},\ "
                        r"\frac{\partial L}{\partial b_o}=\sum_{n,y,x}\frac{\partial L}{\partial z_{n,o,y,x}}")

    def describe(self, node):
        if len(node.parents) == 3:
            return self.formula, self.derivative
        return (self.formula.replace("b_o + ", ""), self.derivative.rsplit("; ∂L/∂b_o", 1)[0])

    def forward(self, x, w, b=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1, saved=None):
        _check(self.name, x, w, b, groups, 1)
        if w.shape[0] % groups:
            raise ShapeError(f"conv2d: out_channels ({w.shape[0]}) must be divisible by groups ({groups})")
        out = conv_forward(x, w, stride, padding, dilation, groups, saved)
        if out.shape[2] < 1 or out.shape[3] < 1:
            raise ShapeError(
                f"conv2d: input {x.shape} (padded by {padding}) is smaller than the kernel {w.shape[2:]} "
                f"with dilation {dilation}: the output would be {out.shape[2:]}"
            )
        if b is not None:
            out += b.reshape(1, -1, 1, 1)
        return out

    def vjp(self, n, g, x, w, b=None):
        a = n.attrs
        args = (a["stride"], a["padding"], a["dilation"], a["groups"])
        gx = conv_input_grad(g, w, x.shape, *args) if n.needs[0] else None
        saved = a.get("saved") or {}
        gw = conv_weight_grad(x, g, w.shape, *args, cols=saved.pop("cols", None)) if n.needs[1] else None
        gb = g.sum(axis=(0, 2, 3)) if b is not None and n.needs[2] else None
        return gx, gw, gb

    # Code export: PyTorch calls its own conv2d; NumPy writes the rule above with sliding windows and one
    # einsum each way (export_numpy below); scalar Python stops at MLPs (the base class's message).
    def export(self, c, t):
        if c.lang == "np":
            return export_numpy(c, t)
        if c.lang != "torch":
            return super().export(c, t)
        x, w, *b = t.grad_fn.parents
        a = t.grad_fn.attrs
        bias = c.v(b[0]) if b else "None"
        return [f"{c.v(t)} = torch.nn.functional.conv2d({c.v(x)}, {c.v(w)}, {bias}, stride={a['stride']}, "
                f"padding={a['padding']}, dilation={a['dilation']}, groups={a['groups']})"]

    def export_vjp(self, c, t):
        if c.lang == "np":
            return export_numpy_vjp(c, t)
        return super().export_vjp(c, t)


def _np_windows(src: str, shape, kernel, stride, dilation) -> str:
    """The NumPy expression for every window of ``src`` (N, C, H, W) at the given stride and dilation:
    (N, C, OH, OW, kh, kw). Trivial steps are left out so the common case reads simply."""
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    expr = f"np.lib.stride_tricks.sliding_window_view({src}, {span}, axis=(2, 3))"
    if (dh, dw) != (1, 1):
        expr += f"[:, :, ::{sh}, ::{sw}, ::{dh}, ::{dw}]"
    elif (sh, sw) != (1, 1):
        expr += f"[:, :, ::{sh}, ::{sw}]"
    return expr


def _np_pad(src: str, padding, fill: str = "") -> str:
    (ph, pw) = padding
    value = f", constant_values={fill}" if fill else ""
    return f"np.pad({src}, ((0, 0), (0, 0), ({ph}, {ph}), ({pw}, {pw})){value})"


def export_numpy(c, t) -> list[str]:
    """conv2d forward in NumPy: the padded input's windows (a view, no loop over pixels) and one einsum
    that multiplies each window by each kernel and sums over channels and kernel positions."""
    x, w, *b = t.grad_fn.parents
    a = t.grad_fn.attrs
    n, ch, h, wd = x.shape
    o, cg, kh, kw = w.shape
    g = a["groups"]
    oh, ow = t.shape[2:]
    src, win = c.v(x), c.tmp(t, "windows")
    lines = []
    if any(a["padding"]):
        lines += ["# zeros around the image", f"{c.tmp(t, 'x_pad')} = {_np_pad(src, a['padding'])}"]
        src = c.tmp(t, "x_pad")
    lines += ["# every window of the input, one per output pixel: (N, C, OH, OW, kh, kw)",
              f"{win} = {_np_windows(src, (h, wd), (kh, kw), a['stride'], a['dilation'])}"]
    bias = f" + {c.v(b[0])}.reshape(1, -1, 1, 1)" if b else ""
    if g == 1:
        lines += ["# each output pixel: its window times the kernel, summed over channels c and positions (i, j)",
                  f"{c.v(t)} = np.einsum('ncyxij,ocij->noyx', {win}, {c.v(w)}, optimize=True){bias}"]
    else:
        lines += [f"# groups = {g}: input channels and kernels split into {g} groups that never meet",
                  f"{c.v(t)} = np.einsum('ngcyxij,gocij->ngoyx', {win}.reshape({n}, {g}, {cg}, {oh}, {ow}, {kh}, {kw}), "
                  f"{c.v(w)}.reshape({g}, {o // g}, {cg}, {kh}, {kw}), optimize=True).reshape({n}, {o}, {oh}, {ow}){bias}"]
    return lines


def export_numpy_vjp(c, t) -> list[str]:
    """conv2d backward in NumPy, written as the two rules a learner derives: ∂L/∂w is the correlation of
    the input with ∂L/∂z, ∂L/∂x the full convolution of ∂L/∂z with the flipped kernel."""
    x, w, *b = t.grad_fn.parents
    a = t.grad_fn.attrs
    n, ch, h, wd = x.shape
    o, cg, kh, kw = w.shape
    g = a["groups"]
    oh, ow = t.shape[2:]
    (sh, sw), (ph, pw), (dh, dw) = a["stride"], a["padding"], a["dilation"]
    win, gz = c.tmp(t, "windows"), c.g(t)
    lines = []
    if w.requires_grad:
        lines.append("# ∂L/∂w: the correlation of the input with ∂L/∂z (each weight meets every input pixel it multiplied)")
        if g == 1:
            lines.append(c.acc(w, None, f"np.einsum('ncyxij,noyx->ocij', {win}, {gz}, optimize=True)"))
        else:
            lines.append(c.acc(w, None, f"np.einsum('ngcyxij,ngoyx->gocij', {win}.reshape({n}, {g}, {cg}, {oh}, {ow}, {kh}, {kw}), "
                                        f"{gz}.reshape({n}, {g}, {o // g}, {oh}, {ow}), optimize=True).reshape({o}, {cg}, {kh}, {kw})"))
    if b and b[0].requires_grad:
        lines += ["# ∂L/∂b: the sum of ∂L/∂z over the samples and the pixels of each output channel",
                  c.acc(b[0], None, f"{gz}.sum(axis=(0, 2, 3))")]
    if not x.requires_grad:
        return lines
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    hp, wp = h + 2 * ph, wd + 2 * pw
    extra_h, extra_w = hp - ((oh - 1) * sh + span_h), wp - ((ow - 1) * sw + span_w)  # rows no window reached
    spread, kernel = gz, c.tmp(t, "flipped")
    lines.append("# ∂L/∂x: the full convolution of ∂L/∂z with the flipped kernel")
    if (sh, sw) != (1, 1):
        spread = c.tmp(t, "spread")
        lines += [f"# the stride spreads ∂L/∂z out: {sh - 1} and {sw - 1} zeros between neighbours",
                  f"{spread} = np.zeros(({n}, {o}, {(oh - 1) * sh + 1}, {(ow - 1) * sw + 1}))",
                  f"{spread}[:, :, ::{sh}, ::{sw}] = {gz}"]
    lines += ["# the kernel rotated by 180° (flipped top to bottom and left to right)",
              f"{kernel} = {c.v(w)}[:, :, ::-1, ::-1]"]
    if (dh, dw) != (1, 1):
        lines += ["# dilation: zeros between the kernel's taps",
                  f"{kernel}_dilated = np.zeros(({o}, {cg}, {span_h}, {span_w}))",
                  f"{kernel}_dilated[:, :, ::{dh}, ::{dw}] = {kernel}"]
        kernel += "_dilated"
    full = c.tmp(t, "full")
    lines += ["# 'full': ∂L/∂z padded by the kernel's reach minus one on every side, so every overlap counts",
              f"{full} = np.pad({spread}, ((0, 0), (0, 0), ({span_h - 1}, {span_h - 1 + extra_h}), "
              f"({span_w - 1}, {span_w - 1 + extra_w})))",
              f"{full} = np.lib.stride_tricks.sliding_window_view({full}, ({span_h}, {span_w}), axis=(2, 3))"]
    dx = c.tmp(t, "d_x_pad") if (ph or pw) else None
    if g == 1:
        expr = f"np.einsum('noyxij,ocij->ncyx', {full}, {kernel}, optimize=True)"
    else:
        expr = (f"np.einsum('ngoyxij,gocij->ngcyx', {full}.reshape({n}, {g}, {o // g}, {hp}, {wp}, {span_h}, {span_w}), "
                f"{kernel}.reshape({g}, {o // g}, {cg}, {span_h}, {span_w}), optimize=True).reshape({n}, {ch}, {hp}, {wp})")
    if dx is None:
        return lines + [c.acc(x, None, expr)]
    return lines + [f"{dx} = {expr}", "# the padding's cells are not inputs: cut them off",
                    c.acc(x, None, f"{dx}[:, :, {ph}:{ph + h}, {pw}:{pw + wd}]")]


@register
class ConvTranspose2d(Op):
    name = "conv_transpose2d"
    inputs = ("x", "W", "b")
    formula = "z[n,o, s·y + d·i − p, s·x + d·j − p] += Σ_c x[n,c,y,x] · w[c,o,i,j], then + b_o (each input pixel stamps the kernel)"
    formula_latex = r"z_{n,o,\,sy+di-p,\,sx+dj-p}\mathrel{+}=\sum_c x_{n,c,y,x}\,w_{c,o,i,j},\quad z_{n,o,\cdot,\cdot}\mathrel{+}=b_o"
    derivative = ("∂L/∂x = ∂L/∂z correlated with the kernel (an ordinary convolution, same stride, padding and dilation); "
                  "∂L/∂w[c,o,i,j] = Σ_{n,y,x} x[n,c,y,x] · ∂L/∂z[n,o, s·y + d·i − p, s·x + d·j − p]; ∂L/∂b_o = Σ ∂L/∂z[n,o,·,·]")
    derivative_latex = (r"\frac{\partial L}{\partial x}=\operatorname{conv2d}\left(\frac{\partial L}{\partial z}, w\right),\ "
                        r"\frac{\partial L}{\partial w_{c,o,i,j}}=\sum_{n,y,x}x_{n,c,y,x}\frac{\partial L}{\partial z_{n,o,\,sy+di-p,\,sx+dj-p}},\ "
                        r"\frac{\partial L}{\partial b_o}=\sum\frac{\partial L}{\partial z_{n,o,\cdot,\cdot}}")

    def forward(self, x, w, b=None, stride=(1, 1), padding=(0, 0), output_padding=(0, 0), dilation=(1, 1), groups=1):
        _check(self.name, x, w, b, groups, 0)
        if w.shape[0] % groups:
            raise ShapeError(f"conv_transpose2d: in_channels ({w.shape[0]}) must be divisible by groups ({groups})")
        for k in range(2):
            if not output_padding[k] < max(stride[k], dilation[k]):
                raise ShapeError(
                    f"conv_transpose2d: output padding must be smaller than either stride or dilation, got "
                    f"output_padding={output_padding}, stride={stride}, dilation={dilation}"
                )
        n, _, h, wd = x.shape
        kh, kw = w.shape[2:]
        size = [(s - 1) * st - 2 * p + d * (k - 1) + op + 1
                for s, st, p, d, k, op in zip((h, wd), stride, padding, dilation, (kh, kw), output_padding)]
        if min(size) < 1:
            raise ShapeError(f"conv_transpose2d: the output size {tuple(size)} is too small (input {x.shape}, weight {w.shape})")
        out = conv_input_grad(x, w, (n, w.shape[1] * groups, *size), stride, padding, dilation, groups)
        if b is not None:
            out += b.reshape(1, -1, 1, 1)
        return out

    def vjp(self, n, g, x, w, b=None):
        a = n.attrs
        args = (a["stride"], a["padding"], a["dilation"], a["groups"])
        gx = gw = gb = None
        if n.needs[0]:
            gx = conv_forward(g, w, *args)[:, :, :x.shape[2], :x.shape[3]]
        if n.needs[1]:
            gw = conv_weight_grad(g, x, w.shape, *args)
        if b is not None and n.needs[2]:
            gb = g.sum(axis=(0, 2, 3))
        return gx, gw, gb

    def export(self, c, t):
        if c.lang != "torch":
            return super().export(c, t)
        x, w, *b = t.grad_fn.parents
        a = t.grad_fn.attrs
        bias = c.v(b[0]) if b else "None"
        return [f"{c.v(t)} = torch.nn.functional.conv_transpose2d({c.v(x)}, {c.v(w)}, {bias}, stride={a['stride']}, "
                f"padding={a['padding']}, output_padding={a['output_padding']}, groups={a['groups']}, "
                f"dilation={a['dilation']})"]
