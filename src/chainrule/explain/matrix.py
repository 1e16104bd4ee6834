"""Per-layer matrix form for networks too large to write out element by element.

The blocks show each layer's equation with its matrices (abbreviated); every element still gets an
entry (a keyed equation that is not rendered), so ``Derivation.entries`` stays complete.
"""

from __future__ import annotations

import numpy as np

from .model import Block, Eq
from .symbols import d, num_latex, num_text

SHOW_ROWS, SHOW_COLS = 4, 6


def mat(arr, prec):
    """(text, latex) of a matrix or vector, abbreviated with … beyond 4 rows and 6 columns."""
    a = np.atleast_2d(np.asarray(arr, dtype=float))
    rows = list(range(min(len(a), SHOW_ROWS)))
    cols = list(range(min(a.shape[1], SHOW_COLS)))
    more_r, more_c = len(a) > SHOW_ROWS, a.shape[1] > SHOW_COLS
    t_rows, l_rows = [], []
    for i in rows:
        t = [num_text(a[i, j], prec) for j in cols] + (["…"] if more_c else [])
        lt = [num_latex(a[i, j], prec) for j in cols] + ([r"\cdots"] if more_c else [])
        t_rows.append("[" + ", ".join(t) + "]")
        l_rows.append("&".join(lt))
    if more_r:
        t_rows.append("…")
        l_rows.append("&".join([r"\vdots"] * (len(cols) + more_c)))
    shape = "×".join(map(str, a.shape))
    return f"[{', '.join(t_rows)}] ({shape})", r"\begin{bmatrix}" + r"\\".join(l_rows) + r"\end{bmatrix}"


def _elements(doc, arr, key, symbol, batch, prec, rule=("", "")):
    a = np.asarray(arr, dtype=float)
    for idx in np.ndindex(a.shape):
        if not batch and a.ndim == 2 and a.shape[0] == 1 and key.startswith(("forward", "delta", "dL")):
            k, i = f"{key}[{idx[1]}]", idx[1:]
        else:
            k, i = key + "".join(f"[{x}]" for x in idx), idx
        sym = symbol(i)
        r = rule(i) if callable(rule) else rule
        forms = [r] if r[0] else []
        doc.eqs.append(Eq(sym, forms, a[idx], key=k))


def _grad_rule(b, name, idx):
    """The element's chain-rule form: ∂L/∂w_ij = δ_j·a_i (summed over the samples), ∂L/∂b_j = δ_j."""
    sym, li = b.sym, int(name[1:]) - 1
    j = idx[-1]
    if b.batch:
        s_text, s_latex = "Σ_s ", r"\sum_s "
        delta = sym.delta(li, j, 0)[0].replace("[1]", "[s]"), sym.delta(li, j, 0)[1].replace("[1]", "[s]")
        inp = sym.a(li - 1, idx[0], 0) if name[0] == "W" else None
        inp = inp and (inp[0].replace("[1]", "[s]"), inp[1].replace("[1]", "[s]"))
    else:
        s_text, s_latex = "", ""
        delta, inp = sym.delta(li, j), (sym.a(li - 1, idx[0]) if name[0] == "W" else None)
    if inp is None:
        return s_text + delta[0], s_latex + delta[1]
    return f"{s_text}{delta[0]}·{inp[0]}", rf"{s_latex}{delta[1]}\,{inp[1]}"


def matrix_blocks(b, doc, t) -> None:
    sym, prec, rec = b.sym, b.prec, b.rec
    V = sym.layer_vector
    add = doc.blocks.append
    batch = f"{t['matrix_batch'].format(s=b.N)}" if b.N > 1 else ""
    add(Block("para", t["matrix"].format(n=b.spec.n_params, batch=batch)))
    add(Block("heading", t["forward"], level=3))
    eqs = []
    for li in range(b.D):
        prev = ("x", "x") if li == 0 else V("a", li - 1)
        z, a = V("z", li), V("a", li)
        rhs = (f"{prev[0]}·W^({li + 1})" + (f" + b^({li + 1})" if b.B[li] is not None else ""),
               rf"{prev[1]}W^{{({li + 1})}}" + (rf"+b^{{({li + 1})}}" if b.B[li] is not None else ""))
        eqs.append(Eq(z, [rhs, mat(b.Z[li], prec)]))
        if b.views[li].act is not None:
            name = b.views[li].act_name
            eqs.append(Eq(a, [(f"{name}({z[0]})", rf"\mathrm{{{name}}}\left({z[1]}\right)"), mat(b.A[li], prec)]))
        _elements(doc, b.Z[li], f"forward[{li}].z", lambda i, li=li: sym.z(li, i[-1], i[0] if b.batch else None), b.batch, prec)
        _elements(doc, b.A[li], f"forward[{li}].a", lambda i, li=li: sym.a(li, i[-1], i[0] if b.batch else None), b.batch, prec)
    add(Block("math", eqs=eqs))
    add(Block("heading", t["loss"], level=3))
    loss = Eq(b.sym.loss, [], float(rec.loss.array), key="loss")
    add(Block("math", eqs=[loss]))
    doc.eqs.append(loss)
    add(Block("heading", t["backward"], level=3))
    eqs = []
    if not b.ce:
        eqs.append(Eq(("∂L/∂y'", r"\frac{\partial L}{\partial y^{\prime}}"), [mat(b.dA[-1], prec)]))
        _elements(doc, b.dA[-1], "dL_doutput", lambda i: d(b.sym.loss, sym.output(i[-1], i[0] if b.batch else None)), b.batch, prec)
    for li in reversed(range(b.D)):
        dl, W = V("delta", li), (f"W^({li + 1})", rf"W^{{({li + 1})}}")
        if li == b.D - 1:
            rhs = ("∂L/∂z (the loss rule)", r"\frac{\partial L}{\partial z}") if b.ce or b.views[li].act is None else \
                ("∂L/∂y' ⊙ f'(z)", r"\frac{\partial L}{\partial y^{\prime}}\odot f^{\prime}(z)")
        else:
            nxt, Wn = V("delta", li + 1), f"W^({li + 2})"
            rhs = (f"({nxt[0]}·{Wn}ᵀ)" + (" ⊙ f'(z)" if b.views[li].act is not None else ""),
                   rf"\left({nxt[1]}W^{{({li + 2})\top}}\right)" + (r"\odot f^{\prime}(z)" if b.views[li].act is not None else ""))
        eqs.append(Eq(dl, [rhs, mat(b.dZ[li], prec)]))
        prev = ("x", "x") if li == 0 else V("a", li - 1)
        if f"W{li + 1}" in rec.grads:  # a frozen weight matrix has no gradient
            eqs.append(Eq((f"∂L/∂{W[0]}", rf"\frac{{\partial L}}{{\partial {W[1]}}}"),
                          [(f"{prev[0]}ᵀ·{dl[0]}", rf"{{{prev[1]}}}^{{\top}}{dl[1]}"), mat(rec.grads[f"W{li + 1}"], prec)]))
        if b.B[li] is not None and f"b{li + 1}" in rec.grads:  # a frozen bias has no gradient
            eqs.append(Eq((f"∂L/∂b^({li + 1})", rf"\frac{{\partial L}}{{\partial b^{{({li + 1})}}}}"),
                          [(f"Σ_s {dl[0]}", rf"\sum_s {dl[1]}"), mat(rec.grads[f"b{li + 1}"], prec)]))
        _elements(doc, b.dZ[li], f"delta[{li}]", lambda i, li=li: sym.delta(li, i[-1], i[0] if b.batch else None), b.batch, prec)
    add(Block("math", eqs=eqs))
    for name, g in rec.grads.items():
        _elements(doc, g, f"grad.{name}", lambda i, name=name: d(b.sym.loss, sym.param(name, i)), True, prec,
                  rule=lambda i, name=name: _grad_rule(b, name, i))
    add(Block("heading", t["update"], level=3))
    add(Block("para", t["pre_update"]))
    eqs = []
    lr = (num_text(b.spec.lr, prec), num_latex(b.spec.lr, prec))
    for name, after in rec.params_after.items():
        p = (name.replace("W", "W^(").replace("b", "b^(") + ")", name[0] + "^{(" + name[1:] + ")}")
        eqs.append(Eq(p, [(f"{p[0]} − {lr[0]}·∂L/∂{p[0]}" if b.spec.optimizer == "sgd" else f"{b.spec.optimizer} step",
                           rf"{p[1]}-{lr[1]}\frac{{\partial L}}{{\partial {p[1]}}}" if b.spec.optimizer == "sgd"
                           else rf"\text{{{b.spec.optimizer} step}}"), mat(after, prec)], arrow=True))
        _elements(doc, after, f"params_after.{name}", lambda i, name=name: sym.param(name, i), True, prec)
    add(Block("math", eqs=eqs))
