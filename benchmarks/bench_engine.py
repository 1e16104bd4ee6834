"""Side-by-side timing of the engine: hand-written NumPy, chainrule and PyTorch CPU, in one run.

Run:  python benchmarks/bench_engine.py [--quick] [--threads N] [--cpu-time]

On a shared, busy machine pass ``--cpu-time``: every library then runs single-threaded (BLAS and
torch) and work is timed in process CPU time, which other processes do not inflate.

Rows, each timed in interleaved rounds (numpy, chainrule, torch, numpy, ...; best round kept):

* training steps: forward + loss + backward + SGD update (cross-entropy for the classifiers, MSE
  for the seed's 2-3-1 net), float32, the same shapes and weights in every library; the digits-sized
  64-128-128-10 net uses SGD with momentum 0.9 and is also given per epoch of 1797 samples;
* per-op overhead: a chain of scalar ops (multiply, add) run forward and backward, and chainrule's
  forward and backward time per op at 10, 1,000 and 100,000 ops (the curve should be flat);
* peak memory of one step of the large MLP (tracemalloc, which sees NumPy's buffers);
* start-up: ``import numpy`` / ``import chainrule`` / ``import torch``, ``chainrule --version`` and
  ``chainrule derive seed`` in fresh interpreters (CPU time of the child process, bytecode compiled
  once beforehand, as for an installed package); the wall clock of ``chainrule derive seed``, of
  ``derive`` on a 20-neuron network and of ``chainrule demo`` (until its first line, and in all);
  ``derive("seed")`` in process;
* agreement: max |w − w_numpy| after 5 steps, so the three really compute the same step.

This is a script, not a test: nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import timeit
import tracemalloc

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
def numpy_step(weights, x, y, bufs=None, momentum=0.0):
    """One step of a ReLU MLP with hand-derived backprop (the floor any engine pays).

    With ``momentum``, ``bufs`` (a list, filled on the first step) holds the velocity of each weight,
    updated in place as PyTorch's SGD does: v ← momentum·v + g, w ← w − lr·v.
    """
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
    grads = [None] * len(weights)
    for i in reversed(range(n_layers)):
        w = weights[2 * i]
        grads[2 * i] = g.T @ acts[i]
        grads[2 * i + 1] = g.sum(axis=0)
        if i:
            g = (g @ w) * (pre[i - 1] > 0)
    for k, (w, gw) in enumerate(zip(weights, grads)):
        if momentum:
            if len(bufs) <= k:
                bufs.append(gw.copy())
            else:
                bufs[k] *= momentum
                bufs[k] += gw
            gw = bufs[k]
        w -= LR * gw
    return loss


# ----------------------------------------------------------------------------- chainrule
def chainrule_setup(weights, sizes, momentum=0.0):
    layers = []
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        lin = cr.nn.Linear(fan_in, fan_out)
        lin.load_state_dict({"weight": weights[2 * i], "bias": weights[2 * i + 1]})
        layers.append(lin)
        if i < len(sizes) - 2:
            layers.append(cr.nn.ReLU())
    model = cr.nn.Sequential(*layers)
    return model, cr.optim.SGD(model.parameters(), lr=LR, momentum=momentum)


def chainrule_step(model, opt, x, y):
    opt.zero_grad()
    out = model(x)
    loss = cr.nn.functional.mse_loss(out, y) if y.dtype.kind == "f" else cr.nn.functional.cross_entropy(out, y)
    loss.backward()
    opt.step()
    return loss


# ----------------------------------------------------------------------------- PyTorch
def torch_setup(weights, sizes, momentum=0.0):
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
    return model, torch.optim.SGD(model.parameters(), lr=LR, momentum=momentum)


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


def mlp_fns(sizes, batch, momentum=0.0):
    """One training step of each library, as argument-less functions over the same weights and data."""
    weights, x, y = make_problem(sizes, batch)
    w_np, bufs = [w.copy() for w in weights], []
    model, opt = chainrule_setup(weights, sizes, momentum)
    xc = cr.tensor(x)
    fns = {"numpy": lambda: numpy_step(w_np, x, y, bufs, momentum), "chainrule": lambda: chainrule_step(model, opt, xc, y)}
    if torch is not None:
        tmodel, topt = torch_setup(weights, sizes, momentum)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        fns["torch"] = lambda: torch_step(tmodel, topt, xt, yt)
    return fns


def bench_mlp(sizes, batch, number, repeat, momentum=0.0):
    return interleaved_us(mlp_fns(sizes, batch, momentum), number, repeat)


def peak_memory_mib(sizes, batch):
    """Peak traced memory of one step (after a warm-up step), NumPy by hand and chainrule."""
    fns = mlp_fns(sizes, batch)
    peaks = {}
    for name in ("numpy", "chainrule"):
        fns[name]()
        tracemalloc.start()
        fns[name]()
        peaks[name] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return peaks


def check_agreement(sizes, batch, steps=5, momentum=0.0):
    """The three implementations really compute the same step (max |Δw| after a few steps)."""
    weights, x, y = make_problem(sizes, batch)
    w_np, bufs = [w.copy() for w in weights], []
    model, opt = chainrule_setup(weights, sizes, momentum)
    for _ in range(steps):
        numpy_step(w_np, x, y, bufs, momentum)
        chainrule_step(model, opt, cr.tensor(x), y)
    diffs = {"chainrule": max(float(np.abs(p.detach().numpy() - w).max()) for p, w in zip(model.parameters(), w_np))}
    if torch is not None:
        tmodel, topt = torch_setup(weights, sizes, momentum)
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


def chain_curve(n_ops, repeat):
    """chainrule's forward and backward µs per op for chains of ``n_ops`` scalar ops (best round).

    A round runs enough chains for about 20,000 ops, so short chains are not timed one by one.
    """
    chains = max(1, 20_000 // n_ops)
    fwd = bwd = float("inf")
    for _ in range(repeat):
        t_fwd = t_bwd = 0.0
        for _ in range(chains):
            x = cr.tensor(np.float32(0.5), requires_grad=True)
            a, b = cr.tensor(np.float32(0.999)), cr.tensor(np.float32(0.001))
            t0 = TIMER()
            y = x
            for _ in range(n_ops // 2):
                y = y * a + b
            t1 = TIMER()
            y.backward()
            t2 = TIMER()
            t_fwd, t_bwd = t_fwd + t1 - t0, t_bwd + t2 - t1
        fwd, bwd = min(fwd, t_fwd / (chains * n_ops) * 1e6), min(bwd, t_bwd / (chains * n_ops) * 1e6)
        del x, y
        gc.collect()  # each round starts from the same heap, whatever the previous one left
    return fwd, bwd


def _child_env(pycache):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p), "PYTHONPYCACHEPREFIX": pycache}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def child_cpu_ms(argv, repeat, pycache):
    """Best CPU time (user + system) of a fresh interpreter running ``argv``, in ms.

    Compiled bytecode is kept in ``pycache`` (and the first run, which writes it, is not timed), so
    chainrule loads as an installed package does, even where PYTHONDONTWRITEBYTECODE is set.
    """
    best = float("inf")
    env = _child_env(pycache)
    subprocess.run([sys.executable, *argv], check=True, stdout=subprocess.DEVNULL, env=env)
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([sys.executable, *argv], check=True, stdout=subprocess.DEVNULL, env=env)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        best = min(best, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return best * 1e3


def child_wall_ms(argv, repeat, pycache):
    """Best wall-clock ms of a fresh interpreter running ``argv``: (until its first line of output,
    until it exits). Bytecode cached as in ``child_cpu_ms``."""
    env = _child_env(pycache)
    subprocess.run([sys.executable, *argv], check=True, stdout=subprocess.DEVNULL, env=env)
    first = total = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        with subprocess.Popen([sys.executable, *argv], stdout=subprocess.PIPE, env=env) as child:
            child.stdout.readline()
            t1 = time.perf_counter()
            child.stdout.read()
        if child.returncode:
            raise subprocess.CalledProcessError(child.returncode, argv)
        first, total = min(first, t1 - t0), min(total, time.perf_counter() - t0)
    return first * 1e3, total * 1e3


def _ratio(a, b):
    return f"{a / b:.2f}x" if a and b else "-"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and no large MLP (a smoke run)")
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

    digits = (64, 128, 128, 10)
    # (label, sizes, batch, steps per timing, SGD momentum)
    cases = [
        ("MLP 2-3-1 (seed), batch 1", (2, 3, 1), 1, 2000, 0.0),
        ("MLP 2-3-1, batch 32", (2, 3, 1), 32, 2000, 0.0),
        ("MLP 784-128-10, batch 32", (784, 128, 10), 32, 200, 0.0),
        ("MLP 784-128-10, batch 256", (784, 128, 10), 256, 50, 0.0),
        ("digits 64-128-128-10 mom, b16", digits, 16, 500, 0.9),
        ("digits 64-128-128-10 mom, b64", digits, 64, 200, 0.9),
        ("digits 64-128-128-10 mom, b1797", digits, 1797, 10, 0.9),
        ("MLP 784-1024-1024-10, batch 512", (784, 1024, 1024, 10), 512, 1, 0.0),
    ]
    if args.quick:
        cases = [(n, s, b, max(1, k // 5), m) for n, s, b, k, m in cases if b != 512]
    header = (f"{'case':<34}{'numpy µs':>11}{'chainrule µs':>14}{'torch µs':>11}{'chainrule/numpy':>17}"
              f"{'chainrule/torch':>17}")
    print(header)
    print("-" * len(header))
    for name, sizes, batch, number, momentum in cases:
        row = bench_mlp(sizes, batch, number, repeat if batch < 512 else max(3, repeat // 3), momentum)
        base, ours, t = row["numpy"], row["chainrule"], row.get("torch")
        t_us = f"{t:.1f}" if t else "-"
        print(f"{name:<34}{base:>11.1f}{ours:>14.1f}{t_us:>11}{_ratio(ours, base):>17}{_ratio(ours, t):>17}")
        if sizes == digits:
            epoch = math.ceil(1797 / batch) / 1e3
            t_ms = f"{t * epoch:.2f}" if t else "-"
            print(f"{'  per epoch of 1797 samples (ms)':<34}{base * epoch:>11.2f}{ours * epoch:>14.2f}{t_ms:>11}")
        sys.stdout.flush()

    n_pairs = 500
    number = 2 if args.quick else 5
    ops = 2 * n_pairs
    print(f"\nper-op overhead: chain of {ops} scalar ops (mul + add), forward + backward")
    fns = {"numpy (hand)": lambda: scalar_chain_numpy(n_pairs), "chainrule": lambda: scalar_chain_cr(n_pairs)}
    if torch is not None:
        fns["torch"] = lambda: scalar_chain_torch(n_pairs)
    rows = interleaved_us(fns, number, repeat)
    for name, us in rows.items():
        print(f"  {name:<14}{us:>10.0f} µs total  {us / ops:>7.2f} µs/op  {_ratio(us, rows['numpy (hand)']):>8} numpy")
    print("chainrule per op as the chain grows (forward / backward µs per op):")
    for n_ops in (10, 1000, 100_000) if not args.quick else (10, 1000, 10_000):
        fwd, bwd = chain_curve(n_ops, max(3, repeat // 2))
        print(f"  {n_ops:>7} ops  {fwd:6.2f} / {bwd:6.2f}")

    if not args.quick:
        peaks = peak_memory_mib((784, 1024, 1024, 10), 512)
        print("\npeak memory of one step, MLP 784-1024-1024-10 batch 512 (tracemalloc): "
              + ", ".join(f"{k} {v:.1f} MiB" for k, v in peaks.items())
              + f"  (chainrule/numpy {_ratio(peaks['chainrule'], peaks['numpy'])})")

    print("\nstart-up, fresh interpreter (CPU ms of the child process, best of rounds):")
    starts = {"python -c pass": ["-c", "pass"], "import numpy": ["-c", "import numpy"],
              "import chainrule": ["-c", "import chainrule"], "chainrule --version": ["-m", "chainrule", "--version"],
              "chainrule derive seed": ["-m", "chainrule", "derive", "seed"]}
    if torch is not None:
        starts["import torch"] = ["-c", "import torch"]
    rounds = 3 if args.quick else 7
    with tempfile.TemporaryDirectory() as pycache:
        for label, argv_ in starts.items():
            print(f"  {label:<22}{child_cpu_ms(argv_, rounds, pycache):8.0f} ms", flush=True)
    print("wall clock, fresh interpreter (best of rounds): first line of output / whole run")
    with tempfile.TemporaryDirectory() as tmp:
        net20 = os.path.join(tmp, "net20.toml")  # 4 + 6 + 6 + 4 = 20 neurons, sigmoid, random weights
        subprocess.run([sys.executable, "-m", "chainrule", "new", "4-6-6-4", "--activation", "sigmoid", "--loss",
                        "mse", "--init", "random", "--seed", "0", "--out", net20], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_child_env(tmp))
        walls = {"chainrule derive seed": ["-m", "chainrule", "derive", "seed"],
                 "chainrule derive (20 neurons)": ["-m", "chainrule", "derive", net20],
                 "chainrule demo": ["-m", "chainrule", "demo"]}
        for label, argv_ in walls.items():
            first, total = child_wall_ms(argv_, 2 if label == "chainrule demo" else rounds, tmp)
            print(f"  {label:<30}{first:8.0f} ms / {total:6.0f} ms", flush=True)
    from chainrule.spec import load_spec

    spec = load_spec("seed")
    cr.derive(spec)  # first call imports the derivation machinery; time the ones after it
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        cr.derive(spec)
        best = min(best, time.perf_counter() - t0)
    print(f"  derive('seed') in process: {best * 1e3:.0f} ms wall")

    print("\nagreement after 5 steps, max |w - w_numpy|:")
    for name, sizes, batch, _, momentum in (cases[0], cases[2], cases[4]):
        diffs = check_agreement(sizes, batch, momentum=momentum)
        print(f"  {name:<34}" + "  ".join(f"{k} {v:.1e}" for k, v in diffs.items()))


if __name__ == "__main__":
    main()
