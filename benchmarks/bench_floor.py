"""How fast can a tape-based autograd engine in CPython over NumPy be? A floor for bench_engine's rows.

Run:  python benchmarks/bench_floor.py [--quick]

Times, in interleaved rounds of process CPU time and single-threaded BLAS:

* hand-written NumPy (bench_engine's baseline);
* the NumPy calls alone that an engine keeping every tensor as an ndarray cannot avoid (a 0-d
  array in, a 0-d array out) — for the scalar chain only;
* a minimal tape (below): the least bookkeeping that still handles any graph — a node per op with
  its inputs and backward closure, gradients summed over paths through a heap in creation order,
  leaf gradients kept, inputs that need no gradient skipped — and nothing else: no dtype or shape
  checks, no version counters, hooks, anomaly mode, grad mode, views, or errors that name anything;
* the same minimal tape over NumPy scalars instead of 0-d arrays (scalar chain only);
* chainrule.

The minimal tape is a measuring device, not an engine to use: it shows how much of chainrule's cost
per op is CPython and NumPy, which no Python engine escapes, and how much is what chainrule does
on top (PyTorch's checks and semantics). Its gradients are compared with chainrule's before timing.
This is a script, not a test: nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import os
import sys
import time

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_engine as B  # noqa: E402

B.TIMER = time.process_time
LR = B.LR

# ----------------------------------------------------------------------------- the minimal tape
_clock = itertools.count()


class Var:
    __slots__ = ("array", "node", "grad", "requires_grad")

    def __init__(self, array, node=None, requires_grad=False):
        self.array, self.node, self.grad, self.requires_grad = array, node, None, requires_grad

    def __mul__(self, other):
        a, b, ra, rb = self.array, other.array, self.requires_grad, other.requires_grad
        return _record(np.multiply(a, b), (self, other), lambda g: (g * b if ra else None, g * a if rb else None))

    def __add__(self, other):
        return _record(np.add(self.array, other.array), (self, other), lambda g: (g, g))


class Step:
    __slots__ = ("vjp", "inputs", "edges", "needs", "seq")


def _record(out, inputs, vjp):
    if type(out) is not np.ndarray and type(inputs[0].array) is np.ndarray:
        out = np.asarray(out)  # NumPy returns a scalar from 0-d operands; keep arrays arrays
    if len(inputs) == 2:
        a, b = inputs
        needs, edges = (a.requires_grad, b.requires_grad), (a.node, b.node)
    else:
        needs, edges = tuple([t.requires_grad for t in inputs]), tuple([t.node for t in inputs])
    if True not in needs:
        return Var(out)
    step = Step()
    step.vjp, step.inputs, step.needs, step.edges, step.seq = vjp, inputs, needs, edges, next(_clock)
    return Var(out, step, True)


def backward(root):
    """Each step runs once every gradient of its output is in: steps leave a heap latest-created first,
    except that a step handing its gradient to a single earlier step, with nothing else pending, hands
    it over directly (a chain, or the layers of an MLP), as chainrule's engine does."""
    pending, waiting = {}, []
    step, g = root.node, np.ones_like(root.array)
    while True:
        if step is None:
            if not waiting:
                return
            step = heapq.heappop(waiting)[1]
            g = pending.pop(step)
        following = following_g = None
        for var, edge, need, pg in zip(step.inputs, step.edges, step.needs, step.vjp(g)):
            if not need:
                continue
            if edge is None:
                var.grad = pg if var.grad is None else var.grad + pg
                continue
            if following is not None:
                pending[following] = following_g
                heapq.heappush(waiting, (-following.seq, following))
                following = None
            if edge in pending:
                pending[edge] = pending[edge] + pg
            elif not pending:
                following, following_g = edge, pg
            else:
                pending[edge] = pg
                heapq.heappush(waiting, (-edge.seq, edge))
        step, g = following, following_g


def linear(x, w, b):
    xa, wa = x.array, w.array
    out = xa @ wa.T
    out += b.array

    def vjp(g):
        return (g @ wa if x.requires_grad else None, g.T @ xa, g.sum(axis=0))

    return _record(out, (x, w, b), vjp)


def relu(z):
    za = z.array
    return _record(np.maximum(za, 0), (z,), lambda g: (g * (za > 0),))


def mse(p, target):
    d = p.array - target
    n = d.size
    return _record(np.asarray((d * d).mean()), (p,), lambda g: (d * (2.0 * g / n),))


def cross_entropy(z, labels):
    za = z.array
    n = len(za)
    shifted = za - za.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    s = e.sum(axis=1, keepdims=True)
    loss = np.asarray((np.log(s)[:, 0] - shifted[np.arange(n), labels]).mean())

    def vjp(g):
        p = e / s
        p[np.arange(n), labels] -= 1
        p *= g / n
        return (p,)

    return _record(loss, (z,), vjp)


def tape_setup(weights, sizes):
    params = [Var(w.copy(), requires_grad=True) for w in weights]
    return params, [None] * len(params)


def tape_step(params, bufs, x, y, momentum):
    for p in params:
        p.grad = None
    h = x
    n_layers = len(params) // 2
    for i in range(n_layers):
        h = linear(h, params[2 * i], params[2 * i + 1])
        if i < n_layers - 1:
            h = relu(h)
    loss = mse(h, y) if y.dtype.kind == "f" else cross_entropy(h, y)
    backward(loss)
    for k, p in enumerate(params):
        g = p.grad
        if momentum:
            if bufs[k] is None:
                bufs[k] = g.copy()
            else:
                bufs[k] *= momentum
                bufs[k] += g
            g = bufs[k]
        p.array -= LR * g
    return loss


def tape_chain(n_pairs, scalars=False):
    wrap = (lambda v: v) if scalars else np.asarray
    x = Var(wrap(np.float32(0.5)), requires_grad=True)
    a, b = Var(wrap(np.float32(0.999))), Var(wrap(np.float32(0.001)))
    y = x
    for _ in range(n_pairs):
        y = y * a + b
    backward(y)
    return x


def numpy_calls_chain(n_pairs):
    """The NumPy calls alone of the chain when every value is a 0-d array: two forward ufuncs per pair,
    one for the gradient through the multiply, each result made an array again."""
    a, b = np.asarray(np.float32(0.999)), np.asarray(np.float32(0.001))
    y = np.asarray(np.float32(0.5))
    for _ in range(n_pairs):
        y = np.asarray(np.add(np.asarray(np.multiply(y, a)), b))
    g = np.asarray(np.float32(1.0))
    for _ in range(n_pairs):
        g = np.asarray(np.multiply(g, a))
    return g


# ----------------------------------------------------------------------------- checks and rows
def _dag(v, a):
    return (v * v + v * a) * v + v  # v reaches the output by five paths


def check_same_gradients():
    """The tape computes what chainrule computes (to float32 rounding), or the timings mean nothing."""
    x = tape_chain(50)
    xc = B.scalar_chain_cr(50)
    assert np.allclose(x.grad, xc.grad.array, rtol=1e-5), (x.grad, xc.grad.array)
    tv, cv = Var(np.asarray(1.5), requires_grad=True), B.cr.tensor(1.5, dtype=B.cr.float64, requires_grad=True)
    backward(_dag(tv, Var(np.asarray(0.5))))
    _dag(cv, B.cr.tensor(0.5, dtype=B.cr.float64)).backward()
    expected = 3 * 1.5**2 + 2 * 0.5 * 1.5 + 1  # d/dv of v³ + a·v² + v, by hand
    assert np.isclose(tv.grad, expected) and np.isclose(cv.grad.item(), expected), (tv.grad, cv.grad)
    for sizes, batch, momentum in [((2, 3, 1), 1, 0.0), ((64, 128, 128, 10), 16, 0.9)]:
        weights, xa, y = B.make_problem(sizes, batch)
        params, bufs = tape_setup(weights, sizes)
        model, opt = B.chainrule_setup(weights, sizes, momentum)
        for _ in range(3):
            tape_step(params, bufs, Var(xa), y, momentum)
            B.chainrule_step(model, opt, B.cr.tensor(xa), y)
        for p, q in zip(params, model.parameters()):
            assert np.allclose(p.array, q.array, rtol=1e-5, atol=1e-7), sizes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    args = parser.parse_args(argv)
    repeat = 3 if args.quick else 9
    check_same_gradients()
    print("The floor under chainrule: hand NumPy, a minimal tape, chainrule (process CPU time, 1 thread)\n")

    pairs = 500
    r = B.interleaved_us({
        "hand NumPy (NumPy scalars)": lambda: B.scalar_chain_numpy(pairs),
        "NumPy calls alone, 0-d arrays": lambda: numpy_calls_chain(pairs),
        "minimal tape, NumPy scalars": lambda: tape_chain(pairs, scalars=True),
        "minimal tape, 0-d arrays": lambda: tape_chain(pairs),
        "chainrule": lambda: B.scalar_chain_cr(pairs),
    }, 5 if args.quick else 20, repeat)
    ops = 2 * pairs
    print(f"scalar chain y = y * a + b, {ops} ops, forward + backward (µs per op):")
    for name, us in r.items():
        print(f"  {name:32s} {us / ops:6.2f}   {us / r['chainrule']:5.2f}× chainrule")

    print("\none training step (µs), ratio to hand NumPy:")
    print(f"  {'workload':34s} {'hand':>8s} {'tape':>8s} {'chainrule':>10s} {'tape/hand':>10s} {'chainrule/hand':>15s}")
    rows = [("seed MLP 2-3-1, batch 1", (2, 3, 1), 1, 0.0, 300),
            ("MLP 784-128-10, batch 32", (784, 128, 10), 32, 0.0, 50),
            ("digits 64-128-128-10 mom., b16", (64, 128, 128, 10), 16, 0.9, 100),
            ("digits 64-128-128-10 mom., b64", (64, 128, 128, 10), 64, 0.9, 60)]
    for name, sizes, batch, momentum, number in rows:
        fns = B.mlp_fns(sizes, batch, momentum)
        fns.pop("torch", None)
        weights, xa, y = B.make_problem(sizes, batch)
        params, bufs = tape_setup(weights, sizes)
        xv = Var(xa)
        fns["tape"] = lambda params=params, bufs=bufs, xv=xv, y=y, momentum=momentum: tape_step(params, bufs, xv, y, momentum)
        t = B.interleaved_us(fns, max(1, number // 5) if args.quick else number, repeat)
        print(f"  {name:34s} {t['numpy']:8.1f} {t['tape']:8.1f} {t['chainrule']:10.1f} "
              f"{t['tape'] / t['numpy']:9.2f}× {t['chainrule'] / t['numpy']:14.2f}×")


if __name__ == "__main__":
    main()
