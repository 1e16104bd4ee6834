"""Write one training step as the seed writes it: forward, loss, ∂L/∂y', backward, update, check.

Every number comes from the step the engine recorded (``chainrule.network.run``): values and
retained gradients of the graph's tensors, the op's own local-derivative rule (its ``vjp``), the
parameters before and after, and the optimizer's state replayed by the optimizer's own code.
Each op's written rule (``op.explain``) sits next to its forward and vjp in ``chainrule.ops``.
"""

from __future__ import annotations

import numpy as np

from ..ops import REGISTRY
from .graph import ELEMENTWISE, local_derivative, read_graph, softmax_jacobian, softmax_values
from .labels import LABELS
from .model import Block, Eq
from .symbols import Symbols, d, num_latex, num_text, number

MAX_FULL_PARAMS = 300     # beyond this many parameters: per-layer matrix form
MAX_FULL_SAMPLES = 8      # beyond this many samples: per-layer matrix form
MAX_PATHS = 4             # write every path of a gradient when there are at most this many


def _join(items, sep_text, sep_latex):
    return sep_text.join(i[0] for i in items), sep_latex.join(i[1] for i in items)


def _paren(sym, when=True):
    return (f"({sym[0]})", rf"\left({sym[1]}\right)") if when else sym


def _is_sum(sym) -> bool:
    """Whether a written expression has a + or − outside any brackets (so a product needs parentheses)."""
    depth = 0
    text = sym[0]
    for i, ch in enumerate(text):
        depth += ch in "(["
        depth -= ch in ")]"
        if depth == 0 and ch in "+−" and 0 < i < len(text) - 1 and text[i - 1] == " ":
            return True
    return False


class StepBuilder:
    def __init__(self, spec, record, style, precision, lang, opt_state=None):
        self.spec, self.rec, self.prec, self.lang = spec, record, precision, lang
        self.t = LABELS[lang]
        self.loss_node, self.views = read_graph(record)
        self.D = len(self.views)
        self.N = record.x.shape[0]
        self.batch = not record.single_sample
        self.sym = Symbols(spec.layers, spec.activations, style, self.batch,
                           [spec.is_shared(k) for k in range(1, spec.depth + 1)])
        self.opt_state = opt_state
        self.ce = self.loss_node.op.name == "cross_entropy"
        self.reduction = self.loss_node.attrs.get("reduction")
        self._values()

    # ----------------------------------------------------------------- values read from the graph
    def _values(self):
        rec = self.rec
        self.X = [np.asarray(v.x.array, dtype=float) for v in self.views]
        self.Z = [np.asarray(v.z.array, dtype=float) for v in self.views]
        self.A = [np.asarray(v.a.array, dtype=float) for v in self.views]
        self.dZ = [None if v.z.grad is None else v.z.grad.array for v in self.views]
        self.dA = [v.a.grad.array if v.on_path and v.a.grad is not None else None for v in self.views]
        self.W = [rec.params_before[f"W{li + 1}"] for li in range(self.D)]
        self.B = [rec.params_before.get(f"b{li + 1}") for li in range(self.D)]
        self.fp = [local_derivative(v.act, self.Z[li]) if v.act is not None and v.act.op.name in ELEMENTWISE
                   and v.on_path else None for li, v in enumerate(self.views)]
        top = self.views[-1]
        self.J = softmax_jacobian(top.act, self.Z[-1]) if top.on_path and top.act_name == "softmax" else None
        self.probs = softmax_values(self.Z[-1]) if self.ce else None
        self.Y = np.asarray(rec.y.array)

    # ----------------------------------------------------------------- small helpers
    def n(self, value, signed=False, context=None):
        return number(value, self.prec, context or ("operand" if signed else "value"))

    def vkey(self, prefix, s, j):
        return f"{prefix}[{j}]" if not self.batch else f"{prefix}[{s}][{j}]"

    def samples(self):
        return range(self.N)

    def act_op(self, li):
        v = self.views[li]
        return None if v.act is None else v.act.op

    def fill(self, template_key, op, latex, **values):
        """An op's explanation template with symbols or numbers (values are (text, latex) pairs)."""
        if template_key not in op.explain:  # e.g. "d_1" where the general rule already reads well
            template_key = template_key.split("_")[0]
        key = template_key + ("_latex" if latex else "")
        if latex:  # a group, so that a template's own superscript never doubles one in the symbol
            return op.explain[key].format(**{name: "{" + v[1] + "}" for name, v in values.items()})
        return op.explain[key].format(**{name: v[0] for name, v in values.items()})

    def rule(self, template_key, op, **values):
        return self.fill(template_key, op, False, **values), self.fill(template_key, op, True, **values)

    def act_values(self, li):
        """Extra template values of layer l's activation (the leaky ReLU slope)."""
        v = self.views[li]
        if v.act is not None and v.act.op.name == "leaky_relu":
            return {"negative_slope": self.n(v.act.attrs.get("negative_slope", 0.01))}
        return {}

    def dprime(self, li, j, s, numbers: bool):
        """The activation derivative of neuron j written with symbols or with the numbers plugged in."""
        op = self.act_op(li)
        if numbers:
            # "base": a template may square them (tanh: 1 − a²)
            return self.rule("d", op, z=self.n(self.Z[li][s, j], context="base"),
                             a=self.n(self.A[li][s, j], context="base"),
                             **self.act_values(li))
        return self.rule("d", op, z=self.sym.z(li, j, s), a=self.sym.a(li, j, s), **self.act_values(li))

    # ----------------------------------------------------------------- forward
    def forward_eqs(self, s):
        sym, lin = self.sym, REGISTRY["linear"]
        eqs = []
        for li in range(self.D):
            n_in, n_out = self.W[li].shape
            for j in range(n_out):
                terms_s = [self.rule("term", lin, w=sym.param(f"W{li + 1}", (i, j)), x=sym.a(li - 1, i, s))
                           for i in range(n_in)]
                terms_n = [self.rule("num", lin, w=self.n(self.W[li][i, j], True), x=self.n(self.X[li][s, i], True))
                           for i in range(n_in)]
                if self.B[li] is not None:
                    jb = 0 if len(self.B[li]) == 1 else j      # a bias shared by the layer is b_1 for all
                    terms_s.append(sym.param(f"b{li + 1}", (jb,)))
                    terms_n.append(self.n(self.B[li][jb], True))
                same = self.views[li].act is None
                keys = (self.vkey(f"forward[{li}].a", s, j),) if same else ()
                eqs.append(Eq(sym.z(li, j, s), [_join(terms_s, " + ", "+"), _join(terms_n, " + ", "+")],
                              self.Z[li][s, j], key=self.vkey(f"forward[{li}].z", s, j), keys=keys))
            op = self.act_op(li)
            if op is None:
                continue
            for j in range(n_out):
                a_sym = sym.a(li, j, s)
                if op.name == "softmax":
                    exps_s = _join([self.rule("exp", op, z=sym.z(li, k, s)) for k in range(n_out)], " + ", "+")
                    exps_n = _join([self.rule("exp", op, z=self.n(self.Z[li][s, k])) for k in range(n_out)], " + ", "+")
                    forms = [self.rule("f", op, z=sym.z(li, j, s), exps=exps_s),
                             self.rule("f", op, z=self.n(self.Z[li][s, j]), exps=exps_n)]
                else:
                    name = op.explain["name"]
                    z_sym = sym.z(li, j, s)
                    forms = [(f"{name}({z_sym[0]})", rf"\mathrm{{{name}}}\left({z_sym[1]}\right)" if name != "σ"
                              else rf"\sigma\left({z_sym[1]}\right)"),
                             self.rule("f", op, z=self.n(self.Z[li][s, j], "({z})" not in op.explain["f"]),
                                       **self.act_values(li))]
                eqs.append(Eq(a_sym, forms, self.A[li][s, j], key=self.vkey(f"forward[{li}].a", s, j)))
        return eqs

    # ----------------------------------------------------------------- loss and ∂L/∂y'
    def loss_eq(self):
        op, sym = self.loss_node.op, self.sym
        n_out = self.spec.layers[-1]
        terms_s, terms_n = [], []
        for s in self.samples():
            if self.ce:
                c = int(self.Y[s])
                p_sym = self.prob_sym(c, s)
                terms_s.append(self.rule("term", op, s=p_sym))
                terms_n.append(self.rule("term", op, s=self.n(self.probs[s, c])))
                continue
            for j in range(n_out):
                terms_s.append(self.rule("term", op, y=sym.y(j, s), p=sym.output(j, s)))
                terms_n.append(self.rule("term", op, y=self.n(self.Y[s, j], True), p=self.n(self.A[-1][s, j], True)))
        count = len(terms_s)
        variant = "loss_sum" if self.reduction == "sum" and "loss_sum" in op.explain else (
            "loss_1" if count == 1 else "loss")
        sep = (" + ", "+")
        forms = [self.rule(variant, op, terms=_join(terms_s, *sep), n=(str(count), str(count))),
                 self.rule(variant, op, terms=_join(terms_n, *sep), n=(str(count), str(count)))]
        if self.loss_parts():   # Mazur: E_total = E_o1 + E_o2
            units = [self.sym._mazur_unit(self.D - 1, j) for j in range(n_out)]
            forms = [(" + ".join(f"E_{u}" for u in units), "+".join(f"E_{{{u}}}" for u in units))] + forms
        return Eq(self.sym.loss, forms, float(self.rec.loss.array), key="loss")

    def loss_parts(self):
        """Mazur's E_o1, E_o2, ... (one per output, shown before E_total); none in other notations."""
        if self.sym.profile != "mazur" or self.ce or self.loss_node.op.name != "half_sse_loss" or self.batch:
            return []
        eqs = []
        for j in range(self.spec.layers[-1]):
            unit = self.sym._mazur_unit(self.D - 1, j)
            y, p = self.sym.y(j), self.sym.output(j)
            yv, pv = self.n(self.Y[0, j], True), self.n(self.A[-1][0, j], True)
            eqs.append(Eq((f"E_{unit}", f"E_{{{unit}}}"),
                          [(f"½({y[0]} − {p[0]})²", rf"\frac{{1}}{{2}}\left({y[1]}-{p[1]}\right)^{{2}}"),
                           (f"½({yv[0]} − {pv[0]})²", rf"\frac{{1}}{{2}}\left({yv[1]}-{pv[1]}\right)^{{2}}")],
                          0.5 * float(self.Y[0, j] - self.A[-1][0, j]) ** 2))
        return eqs

    def prob_sym(self, c, s):
        if self.spec.activations[-1] == "softmax":
            return self.sym.output(c, s)
        text = f"softmax(z^({self.D}))_{c + 1}"
        return self.sym._sample((text, rf"\operatorname{{softmax}}(z^{{({self.D})}})_{{{c + 1}}}"), s)

    def dloss_eqs(self):
        op, sym = self.loss_node.op, self.sym
        n_out = self.spec.layers[-1]
        count = self.N if op.explain.get("count") == "rows" else self.N * n_out
        variant = "d_sum" if self.reduction == "sum" and "d_sum" in op.explain else ("d_1" if count == 1 else "d")
        nn = (str(count), str(count))
        eqs = []
        for s in self.samples():
            for j in range(n_out):
                if self.ce:
                    hit = int(self.Y[s]) == j
                    t_sym = (f"[y = {j}]", f"[y={j}]") if not self.batch else (f"[y[{s + 1}] = {j}]", f"[y^{{[{s + 1}]}}={j}]")
                    forms = [self.rule(variant, op, s=self.prob_sym(j, s), t=t_sym, n=nn),
                             self.rule(variant, op, s=self.n(self.probs[s, j], True), t=self.n(1 if hit else 0), n=nn)]
                    eqs.append(Eq(d(self.sym.loss, sym.z(self.D - 1, j, s)), forms, self.dZ[-1][s, j],
                                  key=self.vkey(f"delta[{self.D - 1}]", s, j)))
                else:
                    forms = [self.rule(variant, op, p=sym.output(j, s), y=sym.y(j, s), n=nn),
                             self.rule(variant, op, p=self.n(self.A[-1][s, j], True), y=self.n(self.Y[s, j], True), n=nn)]
                    if op.name == "half_sse_loss":
                        # the seed's own step: where the ½ and the sign go (the two mistakes graded most)
                        y, p = sym.y(j, s), sym.output(j, s)
                        forms.insert(0, (f"½ × 2 × ({y[0]} − {p[0]}) × (−1)",
                                         rf"\frac{{1}}{{2}}\times 2\times\left({y[1]}-{p[1]}\right)\times(-1)"))
                    eqs.append(Eq(d(self.sym.loss, sym.output(j, s)), forms, self.dA[-1][s, j],
                                  key=self.vkey("dL_doutput", s, j)))
        return eqs

    # ----------------------------------------------------------------- δ of each neuron
    def delta_eqs(self, li):
        sym, eqs = self.sym, []
        n_out = self.W[li].shape[1]
        top = li == self.D - 1
        if top and self.ce:
            return []
        for s in self.samples():
            for j in range(n_out):
                dz = d(self.sym.loss, sym.z(li, j, s))
                lhs = sym.delta(li, j, s)
                value, key = self.dZ[li][s, j], self.vkey(f"delta[{li}]", s, j)
                act = self.views[li].act_name
                if top:
                    out = sym.output(j, s)
                    if act == "none":
                        eqs.append(Eq(lhs, [d(self.sym.loss, out)], value, key=key))
                    elif act == "softmax":
                        k_range = range(n_out)
                        chain = _join([_join([d(self.sym.loss, sym.output(k, s)), d(sym.output(k, s), sym.z(li, j, s))], "·", "")
                                       for k in k_range], " + ", "+")
                        nums = _join([_join([self.n(self.dA[li][s, k], True), self.n(self.J[s, k, j], True)], " × ", r"\times ")
                                      for k in k_range], " + ", "+")
                        eqs.append(Eq(lhs, [dz, chain, nums], value, key=key))
                    else:
                        chain = _join([d(self.sym.loss, out), d(out, sym.z(li, j, s))], "·", "")
                        g = self.n(self.dA[li][s, j], True)
                        mixed = _join([g, _paren(self.dprime(li, j, s, False), _is_sum(self.dprime(li, j, s, False)))], " × ", r"\times ")
                        nums = _join([g, _paren(self.dprime(li, j, s, True), _is_sum(self.dprime(li, j, s, True)))], " × ", r"\times ")
                        eqs.append(Eq(lhs, [chain, mixed, nums], value, key=key, factors=[
                            {"symbol": d(self.sym.loss, out)[0], "value": float(self.dA[li][s, j])},
                            {"symbol": d(out, sym.z(li, j, s))[0], "value": float(self.fp[li][s, j])}]))
                    continue
                nxt = self.W[li + 1].shape[1]
                up_s = _join([_join([sym.delta(li + 1, k, s), sym.param(f"W{li + 2}", (j, k))], "·", "")
                              for k in range(nxt)], " + ", "+")
                up_n = _join([_join([self.n(self.dZ[li + 1][s, k], True), self.n(self.W[li + 1][j, k], True)], " × ", r"\times ")
                              for k in range(nxt)], " + ", "+")
                if act == "none":
                    eqs.append(Eq(lhs, [dz, up_s, up_n], value, key=key))
                    continue
                a = sym.a(li, j, s)
                chain = _join([d(self.sym.loss, a), d(a, sym.z(li, j, s))], "·", "")
                wrap = nxt > 1
                mixed = _join([_paren(up_s, wrap), _paren(self.dprime(li, j, s, False), _is_sum(self.dprime(li, j, s, False)))], "·", r"\cdot ")
                nums = _join([_paren(up_n, wrap), _paren(self.dprime(li, j, s, True), _is_sum(self.dprime(li, j, s, True)))], " × ", r"\times ")
                eqs.append(Eq(lhs, [chain, mixed, nums], value, key=key, factors=[
                    {"symbol": d(self.sym.loss, a)[0], "value": float(self.dA[li][s, j])},
                    {"symbol": d(a, sym.z(li, j, s))[0], "value": float(self.fp[li][s, j])}]))
        return eqs

    # ----------------------------------------------------------------- paths from z^(li)_j to the loss
    def path_count(self, li):
        count = int(np.prod([self.W[m].shape[1] for m in range(li + 1, self.D)])) if li + 1 < self.D else 1
        return count * (self.W[-1].shape[1] if self.J is not None else 1)

    def paths(self, li, j):
        """Every path from z^(li)_j up to L (sample 0) as a list of factors (symbol, local expr, value)."""
        sym, s, D = self.sym, 0, self.D
        top = D - 1
        found = []

        def head(k):
            if self.ce:
                return [[(d(self.sym.loss, sym.z(top, k)), self.n(self.dZ[top][s, k], True), self.dZ[top][s, k])]]
            out = sym.output(k)
            first = (d(self.sym.loss, out), self.n(self.dA[top][s, k], True), self.dA[top][s, k])
            act = self.views[top].act_name
            if act == "none":
                return [[first]]
            if act == "softmax":
                op = self.act_op(top)
                return [[(d(self.sym.loss, sym.output(o)), self.n(self.dA[top][s, o], True), self.dA[top][s, o]),
                         (d(sym.output(o), sym.z(top, k)),
                          self.rule("d", op, si=sym.output(o), sj=sym.output(k), kd=self.n(1 if o == k else 0)),
                          self.J[s, o, k])] for o in range(self.W[top].shape[1])]
            return [[first, (d(out, sym.z(top, k)), self.dprime(top, k, s, False), self.fp[top][s, k])]]

        def down(m, k, acc):
            # acc ends at z^(m)_k; go to a^(m-1)_k2 then z^(m-1)_k2
            if m == li:
                if k == j:
                    found.append(acc)
                return
            choices = [j] if m - 1 == li else range(self.W[m - 1].shape[1])
            for k2 in choices:
                step = [(d(sym.z(m, k), sym.a(m - 1, k2)), sym.param(f"W{m + 1}", (k2, k)), self.W[m][k2, k])]
                if self.views[m - 1].act is not None:
                    step.append((d(sym.a(m - 1, k2), sym.z(m - 1, k2)), self.dprime(m - 1, k2, s, False),
                                 self.fp[m - 1][s, k2]))
                down(m - 1, k2, acc + step)

        for k in ([j] if li == top else range(self.W[top].shape[1])):
            for start in head(k):
                down(top, k, start)
        return found

    # ----------------------------------------------------------------- ∂L/∂w and ∂L/∂b
    def grad_eqs(self, li):
        sym, eqs = self.sym, []
        n_in, n_out = self.W[li].shape
        items = [(f"W{li + 1}", (i, j)) for i in range(n_in) for j in range(n_out)]
        if self.B[li] is not None and len(self.B[li]) == n_out:
            items += [(f"b{li + 1}", (j,)) for j in range(n_out)]
        items = [it for it in items if it[0] in self.rec.grads]    # frozen parameters have no gradient
        use_paths = not self.batch and self.path_count(li) <= MAX_PATHS and sym.profile != "mazur"
        for name, idx in items:
            j = idx[-1]
            p_sym = sym.param(name, idx)
            value = self.rec.grads[name][idx]
            key = f"grad.{name}" + "".join(f"[{k}]" for k in idx)
            is_w = name[0] == "W"
            if self.batch:
                terms_s, terms_n, factors = [], [], []
                for s in self.samples():
                    xs = sym.a(li - 1, idx[0], s) if is_w else ("1", "1")
                    xv = self.X[li][s, idx[0]] if is_w else 1.0
                    terms_s.append(_join([sym.delta(li, j, s), xs], "·", "") if is_w else sym.delta(li, j, s))
                    terms_n.append(_join([self.n(self.dZ[li][s, j], True), self.n(xv, True)], " × ", r"\times ")
                                   if is_w else self.n(self.dZ[li][s, j], True))
                    factors += [{"symbol": sym.delta(li, j, s)[0], "value": float(self.dZ[li][s, j]), "sample": s + 1},
                                {"symbol": d(sym.z(li, j, s), p_sym)[0], "value": float(xv), "sample": s + 1}]
                eqs.append(Eq(d(self.sym.loss, p_sym), [_join(terms_s, " + ", "+"), _join(terms_n, " + ", "+")], value,
                              key=key, factors=factors))
                continue
            last = (d(sym.z(li, j), p_sym), sym.a(li - 1, idx[0]) if is_w else ("1", "1"),
                    self.X[li][0, idx[0]] if is_w else 1.0)
            dz_factors = [{"symbol": d(self.sym.loss, sym.z(li, j))[0], "value": float(self.dZ[li][0, j])},
                          {"symbol": last[0][0], "value": float(last[2])}]
            if use_paths:
                paths = [p + [last] for p in self.paths(li, j)]
                chain = _join([_join([f[0] for f in p], "·", "") for p in paths], " + ", "+")
                nums = _join([_join([self.n(f[2], True) for f in p], " × ", r"\times ") for p in paths], " + ", "+")
                forms = [chain]
                if len(paths) == 1:
                    forms.append(_join([_paren(f[1], _is_sum(f[1])) for f in paths[0]],
                                       " × ", r"\times "))
                forms.append(nums)
                factors = ([{"symbol": f[0][0], "value": float(f[2])} for f in paths[0]] if len(paths) == 1
                           else dz_factors)
                eqs.append(Eq(d(self.sym.loss, p_sym), forms, value, key=key, factors=factors))
            else:
                forms = [_join([d(self.sym.loss, sym.z(li, j)), last[0]], "·", ""),
                         _join([sym.delta(li, j), last[1]], "·", ""),
                         _join([self.n(self.dZ[li][0, j], True), self.n(last[2], True)], " × ", r"\times ")]
                eqs.append(Eq(d(self.sym.loss, p_sym), forms, value, key=key, factors=dz_factors))
        return eqs

    # ----------------------------------------------------------------- update
    def update_blocks(self):
        spec, t = self.spec, self.t
        blocks = []
        lr = self.n(spec.lr)
        w = ("w", "w")
        if spec.optimizer == "sgd":
            blocks.append(Block("para", t["rule_sgd"]))
            blocks.append(Block("math", eqs=[Eq(w, [("w − η·∂L/∂w", r"w-\eta\frac{\partial L}{\partial w}")], arrow=True)]))
        elif spec.optimizer == "momentum":
            blocks.append(Block("para", t["rule_momentum"].format(m=num_text(spec.momentum, self.prec))))
            blocks.append(Block("math", eqs=[
                Eq(("v", "v"), [("μ·v + ∂L/∂w", r"\mu v+\frac{\partial L}{\partial w}")], arrow=True),
                Eq(w, [("w − η·v", r"w-\eta v")], arrow=True)]))
        else:
            b1, b2 = spec.betas
            step = self.rec.index + 1
            blocks.append(Block("para", t["rule_adam"].format(b1=num_text(b1, self.prec), b2=num_text(b2, self.prec),
                                                              eps=num_text(spec.eps, self.prec), t=step)))
            blocks.append(Block("math", eqs=[
                Eq(("m", "m"), [("β₁·m + (1 − β₁)·∂L/∂w", r"\beta_1 m+(1-\beta_1)\frac{\partial L}{\partial w}")], arrow=True),
                Eq(("v", "v"), [("β₂·v + (1 − β₂)·(∂L/∂w)²", r"\beta_2 v+(1-\beta_2)\left(\frac{\partial L}{\partial w}\right)^2")],
                   arrow=True),
                Eq(w, [("w − η·(m/(1 − β₁^t)) / (√(v/(1 − β₂^t)) + ε)",
                        r"w-\eta\,\frac{m/(1-\beta_1^{t})}{\sqrt{v/(1-\beta_2^{t})}+\epsilon}")], arrow=True)]))
        blocks.append(Block("para", t["pre_update"]))
        for li in reversed(range(self.D)):
            eqs = []
            names = [f"W{li + 1}"] + ([f"b{li + 1}"] if self.B[li] is not None else [])
            for name in [n for n in names if n in self.rec.grads]:  # frozen parameters keep their value
                for idx in np.ndindex(self.rec.grads[name].shape):
                    eqs.extend(self.update_eqs(name, idx, lr))
            blocks.append(Block("math", eqs=eqs))
        return blocks

    def update_eqs(self, name, idx, lr):
        sym, spec = self.sym, self.spec
        p = sym.param(name, idx)
        before, g = self.rec.params_before[name][idx], self.rec.grads[name][idx]
        after = self.rec.params_after[name][idx]
        key = f"params_after.{name}" + "".join(f"[{k}]" for k in idx)
        dp = d(self.sym.loss, p)
        if spec.optimizer == "sgd":
            forms = [(f"{p[0]} − η·{dp[0]}", rf"{p[1]}-\eta{dp[1]}"),
                     (f"{num_text(before, self.prec)} − {lr[0]} × {num_text(g, self.prec, True)}",
                      rf"{num_latex(before, self.prec)}-{lr[1]}\times {num_latex(g, self.prec, True)}")]
            return [Eq(p, forms, after, key=key, arrow=True)]
        prev, new = self.opt_state[name]
        orient = (lambda a: a.T) if name[0] == "W" else (lambda a: a)
        if spec.optimizer == "momentum":
            buf = orient(new["momentum_buffer"])[idx]
            v = (f"v({p[0]})", rf"v\left({p[1]}\right)")
            if "momentum_buffer" in prev:
                old = orient(prev["momentum_buffer"])[idx]
                vf = [(f"μ·{v[0]} + {dp[0]}", rf"\mu {v[1]}+{dp[1]}"),
                      (f"{num_text(spec.momentum, self.prec)} × {num_text(old, self.prec, True)} + {num_text(g, self.prec, True)}",
                       rf"{num_latex(spec.momentum, self.prec)}\times {num_latex(old, self.prec, True)}+{num_latex(g, self.prec, True)}")]
            else:
                vf = [dp]
            forms = [(f"{p[0]} − η·{v[0]}", rf"{p[1]}-\eta {v[1]}"),
                     (f"{num_text(before, self.prec)} − {lr[0]} × {num_text(buf, self.prec, True)}",
                      rf"{num_latex(before, self.prec)}-{lr[1]}\times {num_latex(buf, self.prec, True)}")]
            return [Eq(v, vf, buf, arrow=True), Eq(p, forms, after, key=key, arrow=True)]
        b1, b2 = spec.betas
        m_new, v_new = orient(new["exp_avg"])[idx], orient(new["exp_avg_sq"])[idx]
        m_old = orient(prev["exp_avg"])[idx] if "exp_avg" in prev else 0.0
        v_old = orient(prev["exp_avg_sq"])[idx] if "exp_avg_sq" in prev else 0.0
        t_ = new["step"]
        N = lambda x, s=False, context=None: self.n(x, s, context)  # noqa: E731
        m = (f"m({p[0]})", rf"m\left({p[1]}\right)")
        v = (f"v({p[0]})", rf"v\left({p[1]}\right)")
        m_eq = Eq(m, [(f"{N(b1)[0]} × {N(m_old, True)[0]} + {N(1 - b1)[0]} × {N(g, True)[0]}",
                       rf"{N(b1)[1]}\times {N(m_old, True)[1]}+{N(1 - b1)[1]}\times {N(g, True)[1]}")], m_new, arrow=True)
        g2 = N(g, context="base")
        v_eq = Eq(v, [(f"{N(b2)[0]} × {N(v_old, True)[0]} + {N(1 - b2)[0]} × {g2[0]}²",
                       rf"{N(b2)[1]}\times {N(v_old, True)[1]}+{N(1 - b2)[1]}\times {g2[1]}^{{2}}")], v_new, arrow=True)
        c1, c2 = 1 - b1**t_, 1 - b2**t_
        w_eq = Eq(p, [(f"{N(before)[0]} − {lr[0]} × ({N(m_new, True)[0]}/{N(c1)[0]}) / (√({N(v_new)[0]}/{N(c2)[0]}) + {N(spec.eps)[0]})",
                       rf"{N(before)[1]}-{lr[1]}\times\frac{{{N(m_new, True)[1]}/{N(c1)[1]}}}"
                       rf"{{\sqrt{{{N(v_new)[1]}/{N(c2)[1]}}}+{N(spec.eps)[1]}}}")], after, key=key, arrow=True)
        return [m_eq, v_eq, w_eq]
