"""Pooling over 2-D windows (NCHW): max, average and adaptive average.

Windows are strided views of the (padded) input, so nothing loops over pixels; backward adds each
kernel offset's slab back onto the input grid (a loop over the kh·kw offsets only).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..errors import ShapeError
from .base import Op, register


def pool_out_size(size, k, stride, padding, dilation, ceil_mode):
    """PyTorch's output length: floor (or ceil) division, and with ceil_mode the last window must
    start inside the input or its left padding."""
    span = size + 2 * padding - dilation * (k - 1) - 1
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def _check_pool(op, x, kernel, stride, padding, dilation, ceil_mode):
    if x.ndim != 4:
        raise ShapeError(f"{op}: expected a 4-D input (N, C, H, W), got shape {x.shape}")
    for k, p in zip(kernel, padding):
        if p > k // 2:
            raise ShapeError(f"{op}: pad should be at most half of effective kernel size, but got pad={p} and kernel_size={k}")
    sizes = [pool_out_size(s, k, st, p, d, ceil_mode)
             for s, k, st, p, d in zip(x.shape[2:], kernel, stride, padding, dilation)]
    if min(sizes) < 1:
        raise ShapeError(
            f"{op}: the input {x.shape} is too small for kernel_size={kernel}, stride={stride}, padding={padding}, "
            f"dilation={dilation}: the output would be {tuple(sizes)}"
        )
    return sizes


def _windows(x, kernel, stride, padding, dilation, out, fill):
    """(N, C, OH, OW, kh, kw) view of the input padded with ``fill`` (enough for every window)."""
    (kh, kw), (sh, sw), (dh, dw), (ph, pw) = kernel, stride, dilation, padding
    need_h = (out[0] - 1) * sh + dh * (kh - 1) + 1
    need_w = (out[1] - 1) * sw + dw * (kw - 1) + 1
    h, w = x.shape[2:]
    extra_h, extra_w = max(need_h - h - 2 * ph, 0), max(need_w - w - 2 * pw, 0)  # ceil_mode's last windows
    if ph or pw or extra_h or extra_w:
        x = np.pad(x, ((0, 0), (0, 0), (ph, ph + extra_h), (pw, pw + extra_w)), constant_values=fill)
    s_n, s_c, s_h, s_w = x.strides
    n, c = x.shape[:2]
    return as_strided(x, (n, c, out[0], out[1], kh, kw), (s_n, s_c, s_h * sh, s_w * sw, s_h * dh, s_w * dw),
                      writeable=False), x.shape


def _scatter(slabs, padded_shape, x_shape, stride, padding, dilation):
    """Add slabs (N, C, OH, OW, kh, kw) back onto the padded grid and crop to ``x_shape``."""
    n, c, oh, ow, kh, kw = slabs.shape
    (sh, sw), (dh, dw), (ph, pw) = stride, dilation, padding
    canvas = np.zeros(padded_shape, dtype=slabs.dtype)
    for i in range(kh):
        for j in range(kw):
            canvas[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw] += slabs[..., i, j]
    return canvas[:, :, ph:ph + x_shape[2], pw:pw + x_shape[3]]


@register
class MaxPool2d(Op):
    """Max over each window, computed as a running maximum over the kh·kw kernel offsets (one strided
    slab each), which also records the offset that won each window (the first maximum on ties, as
    PyTorch). Backward routes ∂L/∂z to the winners, offset by offset; ``F.max_pool2d`` passes an
    empty dict as the attribute ``saved``, where the forward keeps the winners (PyTorch's indices)
    so backward does not search the windows again."""

    name = "max_pool2d"
    # backward reads the input and the winners, not its output (as PyTorch, which saves the indices):
    # changing the pooled output in place before backward is fine
    formula = "z[n,c,y,x] = max over the window (i, j) of x[n,c, s·y + d·i − p, s·x + d·j − p]"
    formula_latex = r"z_{n,c,y,x}=\max_{i,j} x_{n,c,\,sy+di-p,\,sx+dj-p}"
    derivative = ("∂L/∂x = ∂L/∂z routed to the arg-max of each window (the first one on ties, as PyTorch); "
                  "every other cell of the window gets 0; overlapping windows add up")
    derivative_latex = (r"\frac{\partial L}{\partial x_{n,c,u,v}}=\sum_{y,x:\ (u,v)=\operatorname{argmax}(\text{window}_{y,x})}"
                        r"\frac{\partial L}{\partial z_{n,c,y,x}}")

    @staticmethod
    def _padded(x, a):
        """The input padded with -inf (enough for ceil_mode's last windows) and the output size."""
        out = tuple(pool_out_size(x.shape[2 + k], a["kernel_size"][k], a["stride"][k], a["padding"][k],
                                  a["dilation"][k], a["ceil_mode"]) for k in range(2))
        (kh, kw), (sh, sw), (dh, dw), (ph, pw) = a["kernel_size"], a["stride"], a["dilation"], a["padding"]
        extra_h = max((out[0] - 1) * sh + dh * (kh - 1) + 1 - x.shape[2] - 2 * ph, 0)
        extra_w = max((out[1] - 1) * sw + dw * (kw - 1) + 1 - x.shape[3] - 2 * pw, 0)
        if ph or pw or extra_h or extra_w:
            fill = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
            xp = np.full(x.shape[:2] + (x.shape[2] + 2 * ph + extra_h, x.shape[3] + 2 * pw + extra_w), fill, x.dtype)
            xp[:, :, ph:ph + x.shape[2], pw:pw + x.shape[3]] = x
            x = xp
        return x, out

    @staticmethod
    def _slab(a, out, i, j):
        (sh, sw), (dh, dw) = a["stride"], a["dilation"]
        return (slice(None), slice(None), slice(i * dh, i * dh + sh * (out[0] - 1) + 1, sh),
                slice(j * dw, j * dw + sw * (out[1] - 1) + 1, sw))

    def _offsets(self, a):
        kh, kw = a["kernel_size"]
        return [divmod(k, kw) for k in range(kh * kw)]

    def _run(self, x, a):
        """(maxima, winners, padded shape): the running maximum over the kernel offsets, and for each
        window the number k = i·kw + j of the offset that holds its first maximum."""
        xp, out = self._padded(x, a)
        offsets = self._offsets(a)
        best = xp[self._slab(a, out, *offsets[0])].copy()
        won = np.zeros(best.shape, dtype=np.uint8 if len(offsets) < 256 else np.int32)
        for k, (i, j) in enumerate(offsets[1:], 1):  # one strided slab per kernel offset
            slab = xp[self._slab(a, out, i, j)]
            # strictly greater: an earlier offset keeps a tie; a later improvement has the larger k,
            # so the maximum of the k's is the last improvement (cheaper than a masked write)
            np.maximum(won, (slab > best) * won.dtype.type(k), out=won)
            np.maximum(best, slab, out=best)
        return best, won, xp.shape

    def forward(self, x, kernel_size=(2, 2), stride=(2, 2), padding=(0, 0), dilation=(1, 1), ceil_mode=False,
                saved=None):
        _check_pool(self.name, x, kernel_size, stride, padding, dilation, ceil_mode)
        a = dict(kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode)
        best, won, _ = self._run(x, a)
        if saved is not None:
            saved["won"] = won
        return best

    def indices(self, x, attrs):
        """Arg-max of every window as (row, column) in the padded grid, and the padded shape."""
        _, won, padded = self._run(x, attrs)
        kw = attrs["kernel_size"][1]
        rows = (won // kw).astype(np.int64) * attrs["dilation"][0]
        cols = (won % kw).astype(np.int64) * attrs["dilation"][1]
        rows += np.arange(won.shape[2]).reshape(-1, 1) * attrs["stride"][0]
        cols += np.arange(won.shape[3]) * attrs["stride"][1]
        return rows, cols, padded

    def vjp(self, n, g, x):
        a = n.attrs
        won = (a.get("saved") or {}).get("won")
        if won is None:  # recorded without ``saved``: find the winners again
            won = self._run(x, a)[1]
        zero = np.zeros((), dtype=g.dtype)
        (kh, kw), (oh, ow) = a["kernel_size"], g.shape[2:]
        if a["stride"] == (kh, kw) and a["padding"] == (0, 0) and a["dilation"] == (1, 1) and x.shape[2:] == (oh * kh, ow * kw):
            # the windows tile the input: write each offset's cells of the gradient in place, no canvas to add into
            gx = np.empty((x.shape[0], x.shape[1], oh, kh, ow, kw), dtype=g.dtype)
            for k, (i, j) in enumerate(self._offsets(a)):
                np.copyto(gx[:, :, :, i, :, j], np.where(won == k, g, zero))
            return (gx.reshape(x.shape),)
        (sh, sw), (dh, dw), (ph, pw) = a["stride"], a["dilation"], a["padding"]
        padded = (x.shape[0], x.shape[1], max(x.shape[2] + 2 * ph, (oh - 1) * sh + dh * (kh - 1) + 1),
                  max(x.shape[3] + 2 * pw, (ow - 1) * sw + dw * (kw - 1) + 1))  # the forward's padded grid
        canvas = np.zeros(padded, dtype=g.dtype)
        for k, (i, j) in enumerate(self._offsets(a)):
            canvas[self._slab(a, (oh, ow), i, j)] += np.where(won == k, g, zero)
        return (canvas[:, :, ph:ph + x.shape[2], pw:pw + x.shape[3]],)

    # Code export. NumPy: the windows as a view and their maximum; backward routes each window's gradient
    # to its arg-max (np.add.at, so overlapping windows add up).
    def export(self, c, t):
        if c.lang == "np":
            return self._export_numpy(c, t)
        if c.lang != "torch":
            return super().export(c, t)
        x, a = t.grad_fn.parents[0], t.grad_fn.attrs
        return [f"{c.v(t)} = torch.nn.functional.max_pool2d({c.v(x)}, {a['kernel_size']}, {a['stride']}, {a['padding']}, "
                f"{a['dilation']}, ceil_mode={a['ceil_mode']})"]

    def export_vjp(self, c, t):
        if c.lang != "np":
            return super().export_vjp(c, t)
        x, a = t.grad_fn.parents[0], t.grad_fn.attrs
        if not x.requires_grad:
            return []
        n, ch, h, w = x.shape
        oh, ow = t.shape[2:]
        (kh, kw), (sh, sw), (dh, dw), (ph, pw) = a["kernel_size"], a["stride"], a["dilation"], a["padding"]
        win, arg, gx = c.tmp(t, "windows"), c.tmp(t, "argmax"), c.tmp(t, "d_x_pad")
        rows, cols = c.tmp(t, "rows"), c.tmp(t, "cols")
        lines = ["# the arg-max of each window (the first one on ties, as PyTorch), as a row and column of the input",
                 f"{arg} = {win}.reshape({n}, {ch}, {oh}, {ow}, {kh * kw}).argmax(axis=-1)",
                 f"{rows} = np.arange({oh}).reshape(-1, 1) * {sh} + {arg} // {kw}" + (f" * {dh}" if dh != 1 else ""),
                 f"{cols} = np.arange({ow}) * {sw} + {arg} % {kw}" + (f" * {dw}" if dw != 1 else ""),
                 "# each window's ∂L/∂z goes to its arg-max; every other cell gets 0 (overlapping windows add up)",
                 f"{gx} = np.zeros(({n}, {ch}, {h + 2 * ph}, {w + 2 * pw}))",
                 f"np.add.at({gx}, (np.arange({n}).reshape(-1, 1, 1, 1), np.arange({ch}).reshape(-1, 1, 1), {rows}, {cols}), "
                 f"{c.g(t)})"]
        if ph or pw:
            return lines + [c.acc(x, None, f"{gx}[:, :, {ph}:{ph + h}, {pw}:{pw + w}]")]
        return lines + [c.acc(x, None, gx)]

    def _export_numpy(self, c, t):
        a = t.grad_fn.attrs
        if a["ceil_mode"]:
            raise NotImplementedError("op 'max_pool2d' with ceil_mode=True has no code-export rule for NumPy")
        return _np_pool_lines(c, t, "# padded with −∞, which never wins a window", "-np.inf", a["dilation"], "max")


def _np_pool_lines(c, t, pad_note, pad_fill, dilation, reduce):
    """Code export: a pooling written in NumPy, the input padded (with ``pad_fill``, zeros when "") when the op pads,
    every window cut out, and each reduced by ``reduce`` ("max" or "mean")."""
    from .conv import _np_pad, _np_windows

    x, a = t.grad_fn.parents[0], t.grad_fn.attrs
    src = c.v(x)
    lines = []
    if any(a["padding"]):
        lines += [pad_note, f"{c.tmp(t, 'x_pad')} = {_np_pad(src, a['padding'], pad_fill)}"]
        src = c.tmp(t, "x_pad")
    return lines + ["# every window of the input, one per output pixel: (N, C, OH, OW, kh, kw)",
                    f"{c.tmp(t, 'windows')} = {_np_windows(src, x.shape[2:], a['kernel_size'], a['stride'], dilation)}",
                    f"{c.v(t)} = {c.tmp(t, 'windows')}.{reduce}(axis=(4, 5))"]


def avg_divisor(size, k, stride, padding, out, count_include_pad):
    """PyTorch's per-position divisor along one axis: the window's length clipped to the padded
    input (count_include_pad) or to the input itself."""
    start = np.arange(out) * stride - padding
    end = np.minimum(start + k, size + padding)
    if count_include_pad:
        return end - start
    return np.minimum(end, size) - np.maximum(start, 0)


@register
class AvgPool2d(Op):
    name = "avg_pool2d"
    uses_inputs = False
    formula = "z[n,c,y,x] = (1/|window|) Σ_{i,j} x[n,c, s·y + i − p, s·x + j − p]"
    formula_latex = r"z_{n,c,y,x}=\frac{1}{\lvert\text{window}\rvert}\sum_{i,j} x_{n,c,\,sy+i-p,\,sx+j-p}"
    derivative = "∂L/∂x[n,c,u,v] = Σ over the windows that hold (u, v) of ∂L/∂z[n,c,y,x] / |window|"
    derivative_latex = r"\frac{\partial L}{\partial x_{n,c,u,v}}=\sum_{(y,x)\ni(u,v)}\frac{1}{\lvert\text{window}\rvert}\frac{\partial L}{\partial z_{n,c,y,x}}"

    def _divisor(self, x_shape, a, out):
        if a["divisor_override"]:
            return np.asarray(a["divisor_override"], dtype=np.float64)
        dh = avg_divisor(x_shape[2], a["kernel_size"][0], a["stride"][0], a["padding"][0], out[0], a["count_include_pad"])
        dw = avg_divisor(x_shape[3], a["kernel_size"][1], a["stride"][1], a["padding"][1], out[1], a["count_include_pad"])
        return np.outer(dh, dw).astype(np.float64)

    def forward(self, x, kernel_size=(2, 2), stride=(2, 2), padding=(0, 0), ceil_mode=False, count_include_pad=True,
                divisor_override=None):
        out = _check_pool(self.name, x, kernel_size, stride, padding, (1, 1), ceil_mode)
        win, _ = _windows(x, kernel_size, stride, padding, (1, 1), out, 0)
        a = dict(kernel_size=kernel_size, stride=stride, padding=padding, count_include_pad=count_include_pad,
                 divisor_override=divisor_override)
        return (win.sum(axis=(4, 5)) / self._divisor(x.shape, a, out)).astype(x.dtype, copy=False)

    def vjp(self, n, g, x):
        a = n.attrs
        out = g.shape[2:]
        share = (g / self._divisor(x.shape, a, out)).astype(g.dtype, copy=False)
        kh, kw = a["kernel_size"]
        slabs = np.broadcast_to(share[..., None, None], share.shape + (kh, kw))
        (sh, sw), (ph, pw) = a["stride"], a["padding"]
        padded = (x.shape[0], x.shape[1], max(x.shape[2] + 2 * ph, (out[0] - 1) * sh + kh),
                  max(x.shape[3] + 2 * pw, (out[1] - 1) * sw + kw))
        return (_scatter(slabs, padded, x.shape, a["stride"], a["padding"], (1, 1)),)

    # Code export. NumPy: the mean of each window of the zero-padded input (PyTorch's divisor when the
    # padding counts, the default); backward shares each window's gradient equally, one kernel offset at a time.
    def export(self, c, t):
        if c.lang == "np":
            return self._export_numpy(c, t)
        if c.lang != "torch":
            return super().export(c, t)
        x, a = t.grad_fn.parents[0], t.grad_fn.attrs
        return [f"{c.v(t)} = torch.nn.functional.avg_pool2d({c.v(x)}, {a['kernel_size']}, {a['stride']}, {a['padding']}, "
                f"ceil_mode={a['ceil_mode']}, count_include_pad={a['count_include_pad']}, "
                f"divisor_override={a['divisor_override']})"]

    def _numpy_check(self, a):
        if a["ceil_mode"] or a["divisor_override"] or (any(a["padding"]) and not a["count_include_pad"]):
            raise NotImplementedError("op 'avg_pool2d' with ceil_mode, divisor_override or count_include_pad=False "
                                      "has no code-export rule for NumPy")

    def _export_numpy(self, c, t):
        self._numpy_check(t.grad_fn.attrs)
        return _np_pool_lines(c, t, "# zeros around the image", "", (1, 1), "mean")

    def export_vjp(self, c, t):
        if c.lang != "np":
            return super().export_vjp(c, t)
        x, a = t.grad_fn.parents[0], t.grad_fn.attrs
        if not x.requires_grad:
            return []
        self._numpy_check(a)
        n, ch, h, w = x.shape
        oh, ow = t.shape[2:]
        (kh, kw), (sh, sw), (ph, pw) = a["kernel_size"], a["stride"], a["padding"]
        gx = c.tmp(t, "d_x_pad")
        lines = ["# each window's ∂L/∂z, shared equally by its cells: one slab per kernel offset (i, j)",
                 f"{gx} = np.zeros(({n}, {ch}, {h + 2 * ph}, {w + 2 * pw}))",
                 f"for i in range({kh}):",
                 f"    for j in range({kw}):",
                 f"        {gx}[:, :, i:i + {sh * (oh - 1) + 1}:{sh}, j:j + {sw * (ow - 1) + 1}:{sw}] += {c.g(t)} / {kh * kw}"]
        if ph or pw:
            return lines + [c.acc(x, None, f"{gx}[:, :, {ph}:{ph + h}, {pw}:{pw + w}]")]
        return lines + [c.acc(x, None, gx)]


def adaptive_matrix(size: int, out: int, dtype) -> np.ndarray:
    """(out, size) averaging matrix: row i averages x[floor(i·size/out) : ceil((i+1)·size/out)]."""
    m = np.zeros((out, size), dtype=dtype)
    for i in range(out):  # one row per output position of one axis
        start, end = (i * size) // out, math.ceil((i + 1) * size / out)
        m[i, start:end] = 1.0 / (end - start)
    return m


@register
class AdaptiveAvgPool2d(Op):
    name = "adaptive_avg_pool2d"
    uses_inputs = False
    formula = "z[n,c,y,x] = mean of x[n,c, ⌊y·H/OH⌋ : ⌈(y+1)·H/OH⌉, ⌊x·W/OW⌋ : ⌈(x+1)·W/OW⌉]  (z = P_h x P_wᵀ)"
    formula_latex = r"z=P_h\,x\,P_w^{\top},\ (P_h)_{y,u}=\frac{[u\in\text{bin}_y]}{\lvert\text{bin}_y\rvert}"
    derivative = "∂L/∂x = P_hᵀ (∂L/∂z) P_w: each output's gradient shared equally by its bin"
    derivative_latex = r"\frac{\partial L}{\partial x}=P_h^{\top}\frac{\partial L}{\partial z}P_w"

    def forward(self, x, output_size=(1, 1)):
        if x.ndim != 4:
            raise ShapeError(f"adaptive_avg_pool2d: expected a 4-D input (N, C, H, W), got shape {x.shape}")
        ph = adaptive_matrix(x.shape[2], output_size[0], x.dtype)
        pw = adaptive_matrix(x.shape[3], output_size[1], x.dtype)
        return ph @ x @ pw.T

    def vjp(self, n, g, x):
        ph = adaptive_matrix(x.shape[2], g.shape[2], g.dtype)
        pw = adaptive_matrix(x.shape[3], g.shape[3], g.dtype)
        return (ph.T @ g @ pw,)

    def export(self, c, t):
        if c.lang != "torch":
            return super().export(c, t)
        return [f"{c.v(t)} = torch.nn.functional.adaptive_avg_pool2d({c.v(t.grad_fn.parents[0])}, "
                f"{t.grad_fn.attrs['output_size']})"]
