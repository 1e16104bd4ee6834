"""Side-by-side timing of one MLP training step: hand-written NumPy, chainrule and PyTorch CPU.

Run:  python benchmarks/bench_engine.py [--quick] [--threads N] [--cpu-time]

On a shared, busy machine pass ``--cpu-time``: every library then runs single-threaded (BLAS and
torch) and steps are timed in process CPU time, which other processes do not inflate.

Each step is forward + loss + backward + SGD update (cross-entropy for the classifiers, MSE for the
tiny 2-3-1 net), float32, the same shapes in every library. Times are the best of several
``timeit`` repeats, in microseconds per step. A second table measures per-op overhead: a chain of
1000 scalar ops (500 multiply + 500 add) run forward and backward.

This is a script, not a test: nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import sys
import time
import timeit

if "--cpu-time" in sys.argv:  # thread counts must be fixed before NumPy and torch load their BLAS
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = "1"

import numpy as np  # noqa: E402

import chainrule as cr  # noqa: E402

try:
    import torch
except ImportError:  # pragma: no cover - torch is optional here
    torch = None

DTYPE = np.float32
LR = 0.01
TIMER = timeit.default_timer


# ----------------------------------------------------------------------------- shared data and weights
def make_problem(sizes, batch, seed=0):
    rng = np.random.default_rng(seed)
    weights = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        bound = 1 / np.sqrt(fan_in)
        weights.append(rng.uniform(-bound, bound, (fan_out, fan_in)).astype(DTYPE))
        weights.append(rng.uniform(-bound, bound, fan_out).astype(DTYPE))
    x = rng.standard_normal((batch, sizes[0])).astype(DTYPE)
    if sizes[-1] == 1:
        y = rng.standard_normal((batch, 1)).astype(DTYPE)
    else:
        y = rng.integers(0, sizes[-1], batch)
    return weights, x, y


# ----------------------------------------------------------------------------- hand-written NumPy
def numpy_step(weights, x, y):
    """One step of a ReLU MLP with hand-derived backprop (the floor any engine pays)."""
    acts, pre = [x], []
    h = x
    n_layers = len(weights) // 2
    for i in range(n_layers):
        w, b = weights[2 * i], weights[2 * i + 1]
        z = h @ w.T + b
        pre.append(z)
        h = np.maximum(z, 0) if i < n_layers - 1 else z
        acts.append(h)
    out = acts[-1]
    n = out.shape[0]
    if y.dtype.kind == "f":  # MSE
        d = out - y
        loss = (d * d).mean()
        g = d * (2.0 / d.size)
    else:  # softmax cross-entropy
        shifted = out - out.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        s = e.sum(axis=1, keepdims=True)
        loss = (np.log(s)[:, 0] - shifted[np.arange(n), y]).mean()
        g = e / s
        g[np.arange(n), y] -= 1
        g /= n
    for i in reversed(range(n_layers)):
        w = weights[2 * i]
        gw = g.T @ acts[i]
        gb = g.sum(axis=0)
        if i:
            g = (g @ w) * (pre[i - 1] > 0)
        weights[2 * i] -= LR * gw
        weights[2 * i + 1] -= LR * gb
    return loss


# ----------------------------------------------------------------------------- chainrule
def chainrule_setup(weights, sizes):
    layers = []
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        lin = cr.nn.Linear(fan_in, fan_out)
        lin.load_state_dict({"weight": weights[2 * i], "bias": weights[2 * i + 1]})
        layers.append(lin)
        if i < len(sizes) - 2:
            layers.append(cr.nn.ReLU())
    model = cr.nn.Sequential(*layers)
    return model, cr.optim.SGD(model.parameters(), lr=LR)


def chainrule_step(model, opt, x, y):
    opt.zero_grad()
    out = model(x)
    loss = cr.nn.functional.mse_loss(out, y) if y.dtype.kind == "f" else cr.nn.functional.cross_entropy(out, y)
    loss.backward()
    opt.step()
    return loss


# ----------------------------------------------------------------------------- PyTorch
def torch_setup(weights, sizes):
    layers = []
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        lin = torch.nn.Linear(fan_in, fan_out)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(weights[2 * i]))
            lin.bias.copy_(torch.from_numpy(weights[2 * i + 1]))
        layers.append(lin)
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    return model, torch.optim.SGD(model.parameters(), lr=LR)


def torch_step(model, opt, x, y):
    opt.zero_grad()
    out = model(x)
    loss = torch.nn.functional.mse_loss(out, y) if y.is_floating_point() else torch.nn.functional.cross_entropy(out, y)
    loss.backward()
    opt.step()
    return loss


# ----------------------------------------------------------------------------- timing

def interleaved_us(fns, number, repeat):
    """Best µs per call of each function, timed in alternating rounds so load hits all of them alike."""
    for fn in fns.values():
        fn()  # warm up
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeat):
        for name, fn in fns.items():
            best[name] = min(best[name], timeit.timeit(fn, number=number, timer=TIMER) / number * 1e6)
    return best


def bench_mlp(sizes, batch, number, repeat):
    weights, x, y = make_problem(sizes, batch)
    w_np = [w.copy() for w in weights]
    model, opt = chainrule_setup(weights, sizes)
    xc = cr.tensor(x)
    fns = {"numpy": lambda: numpy_step(w_np, x, y), "chainrule": lambda: chainrule_step(model, opt, xc, y)}
    if torch is not None:
        tmodel, topt = torch_setup(weights, sizes)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        fns["torch"] = lambda: torch_step(tmodel, topt, xt, yt)
    return interleaved_us(fns, number, repeat)


def check_agreement(sizes, batch, steps=5):
    """The three implementations really compute the same step (max |Δw| after a few steps)."""
    weights, x, y = make_problem(sizes, batch)
    w_np = [w.copy() for w in weights]
    model, opt = chainrule_setup(weights, sizes)
    for _ in range(steps):
        numpy_step(w_np, x, y)
        chainrule_step(model, opt, cr.tensor(x), y)
    diffs = {"chainrule": max(float(np.abs(p.data - w).max()) for p, w in zip(model.parameters(), w_np))}
    if torch is not None:
        tmodel, topt = torch_setup(weights, sizes)
        for _ in range(steps):
            torch_step(tmodel, topt, torch.from_numpy(x), torch.from_numpy(y))
        diffs["torch"] = max(float(np.abs(p.detach().numpy() - w).max()) for p, w in zip(tmodel.parameters(), w_np))
    return diffs


def scalar_chain_cr(n_pairs):
    x = cr.tensor(np.float32(0.5), requires_grad=True)
    a, b = cr.tensor(np.float32(0.999)), cr.tensor(np.float32(0.001))
    y = x
    for _ in range(n_pairs):
        y = y * a + b
    y.backward()
    return x


def scalar_chain_torch(n_pairs):
    x = torch.tensor(0.5, requires_grad=True)
    a, b = torch.tensor(0.999), torch.tensor(0.001)
    y = x
    for _ in range(n_pairs):
        y = y * a + b
    y.backward()
    return x


def scalar_chain_numpy(n_pairs):
    """Forward and hand backward of the same chain on 0-d arrays (NumPy's own per-call cost)."""
    x, a, b = np.float32(0.5), np.float32(0.999), np.float32(0.001)
    y = np.asarray(x)
    for _ in range(n_pairs):
        y = y * a + b
    g = np.asarray(np.float32(1.0))
    for _ in range(n_pairs):
        g = g * a
    return g


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's own)")
    parser.add_argument("--cpu-time", action="store_true",
                        help="single-threaded everywhere, timed in process CPU time (for busy machines)")
    args = parser.parse_args(argv)
    repeat = 3 if args.quick else 7
    global TIMER
    if args.cpu_time:
        TIMER = time.process_time
        args.threads = 1
        repeat *= 2
    if torch is not None and args.threads:
        torch.set_num_threads(args.threads)

    print(f"python {platform.python_version()}, numpy {np.__version__}, chainrule {cr.__version__}, "
          f"torch {torch.__version__ if torch else 'not installed'}"
          f"{f' ({torch.get_num_threads()} threads)' if torch else ''}, {os.cpu_count()} CPUs, float32")
    clock = "process CPU time, single-threaded" if args.cpu_time else "wall clock"
    print("one training step = forward + loss + backward + SGD update; best of "
          f"{repeat} interleaved timeit rounds ({clock})\n")

    cases = [
        ("MLP 784-128-10, batch 32", (784, 128, 10), 32, 200),
        ("MLP 784-128-10, batch 256", (784, 128, 10), 256, 50),
        ("MLP 2-3-1, batch 1", (2, 3, 1), 1, 2000),
        ("MLP 2-3-1, batch 32", (2, 3, 1), 32, 2000),
    ]
    if args.quick:
        cases = [(n, s, b, max(1, k // 5)) for n, s, b, k in cases]
    header = f"{'case':<28}{'numpy µs':>11}{'chainrule µs':>14}{'torch µs':>11}{'chainrule/numpy':>17}{'torch/numpy':>13}"
    print(header)
    print("-" * len(header))
    for name, sizes, batch, number in cases:
        row = bench_mlp(sizes, batch, number, repeat)
        base, ours, t = row["numpy"], row["chainrule"], row.get("torch")
        t_us = f"{t:.1f}" if t else "-"
        t_ratio = f"{t / base:.2f}x" if t else "-"
        print(f"{name:<28}{base:>11.1f}{ours:>14.1f}{t_us:>11}{ours / base:>16.2f}x{t_ratio:>13}")
        sys.stdout.flush()

    n_pairs = 500
    number = 2 if args.quick else 5
    print(f"\nper-op overhead: chain of {2 * n_pairs} scalar ops (mul + add), forward + backward")
    ops = 2 * n_pairs
    fns = {"numpy (hand)": lambda: scalar_chain_numpy(n_pairs), "chainrule": lambda: scalar_chain_cr(n_pairs)}
    if torch is not None:
        fns["torch"] = lambda: scalar_chain_torch(n_pairs)
    rows = interleaved_us(fns, number, repeat).items()
    for name, us in rows:
        print(f"  {name:<14}{us:>10.0f} µs total  {us / ops:>7.2f} µs/op")

    print("\nagreement after 5 steps, max |w - w_numpy|:")
    for name, sizes, batch, _ in cases[:1] + cases[2:3]:
        diffs = check_agreement(sizes, batch)
        print(f"  {name:<28}" + "  ".join(f"{k} {v:.1e}" for k, v in diffs.items()))


if __name__ == "__main__":
    main()
