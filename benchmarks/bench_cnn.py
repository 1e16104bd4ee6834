"""Side-by-side timing of CNN training steps in chainrule and PyTorch CPU (single thread).

Run:  python benchmarks/bench_cnn.py [--quick]

Two networks, float32, forward + cross-entropy + backward + SGD step, batch 64:

* LeNet-sized on 28×28: conv 1→6 5×5, ReLU, max-pool 2, conv 6→16 5×5, ReLU, max-pool 2, flatten,
  linear 256→120, ReLU, linear 120→10;
* a small CNN on the bundled 8×8 digits: conv 1→16 3×3 pad 1, ReLU, max-pool 2, conv 16→32 3×3
  pad 1, ReLU, max-pool 2, flatten, linear 128→10.

Both libraries start from the same weights (copied from the torch model) and run single-threaded
(BLAS and torch), timed in process CPU time so other processes on a shared machine do not inflate
the numbers. Times are the best of several repeats, in milliseconds per step. The table is printed
twice: with glibc's default malloc, then after ``chainrule.allocator.keep_freed_memory()`` (opt-in:
large freed arrays are kept for reuse instead of being mapped and zeroed again every step; it applies
to the whole process, so PyTorch runs under it too). This is a script, not a test: nothing here
asserts on time.
"""

from __future__ import annotations

import os
import platform
import sys
import time

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # before NumPy and torch load
    os.environ[_var] = "1"

import numpy as np  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule.allocator import keep_freed_memory  # noqa: E402

try:
    import torch
except ImportError:  # pragma: no cover - torch is optional here
    torch = None


def lenet(m):
    return m.Sequential(m.Conv2d(1, 6, 5), m.ReLU(), m.MaxPool2d(2), m.Conv2d(6, 16, 5), m.ReLU(), m.MaxPool2d(2),
                        m.Flatten(), m.Linear(256, 120), m.ReLU(), m.Linear(120, 10))


def digits_cnn(m):
    return m.Sequential(m.Conv2d(1, 16, 3, padding=1), m.ReLU(), m.MaxPool2d(2), m.Conv2d(16, 32, 3, padding=1),
                        m.ReLU(), m.MaxPool2d(2), m.Flatten(), m.Linear(128, 10))


def best_of_interleaved(steps, repeats, number):
    """The best per-step time (ms) of each step function, measured in alternating rounds so a burst of
    load from other processes falls on both sides rather than on one."""
    for step in steps:
        step()  # warm up
    best = [float("inf")] * len(steps)
    for _ in range(repeats):
        for i, step in enumerate(steps):
            start = time.process_time()
            for _ in range(number):
                step()
            best[i] = min(best[i], (time.process_time() - start) / number)
    return [b * 1000 for b in best]


def run(name, make, x, y, repeats, number):
    torch.manual_seed(0)
    theirs = make(torch.nn)
    ours = make(cr.nn)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    opt = cr.optim.SGD(ours.parameters(), lr=0.01)
    topt = torch.optim.SGD(theirs.parameters(), lr=0.01)
    loss_fn, tloss_fn = cr.nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    cx, tx, ty = cr.tensor(x), torch.tensor(x), torch.tensor(y)

    def ours_step():
        opt.zero_grad()
        loss_fn(ours(cx), y).backward()
        opt.step()

    def torch_step():
        topt.zero_grad()
        tloss_fn(theirs(tx), ty).backward()
        topt.step()

    ours_ms, torch_ms = best_of_interleaved((ours_step, torch_step), repeats, number)
    print(f"{name:<28} {ours_ms:>10.2f} {torch_ms:>10.2f} {ours_ms / torch_ms:>8.2f}x")
    return ours_ms, torch_ms


def main():
    if torch is None:
        sys.exit("bench_cnn.py compares with PyTorch: pip install torch")
    torch.set_num_threads(1)
    quick = "--quick" in sys.argv
    repeats, number = (2, 3) if quick else (5, 10)
    rng = np.random.default_rng(0)
    print(f"chainrule {cr.__version__}, NumPy {np.__version__}, PyTorch {torch.__version__}, Python "
          f"{platform.python_version()}, {platform.machine()}; single-threaded, process CPU time")
    images, labels = cr.data.load_digits()
    for tuned in (False, True):
        if tuned and not keep_freed_memory():
            print("(keep_freed_memory() is not available here: not glibc)")
            break
        print()
        print("allocator: " + ("keep_freed_memory()" if tuned else "glibc default"))
        print(f"{'one training step, batch 64':<28} {'chainrule':>10} {'PyTorch':>10} {'ratio':>9}")
        print(f"{'':<28} {'ms':>10} {'ms':>10}")
        run("LeNet 28x28", lenet, rng.standard_normal((64, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, 64),
            repeats, number)
        run("small CNN on 8x8 digits", digits_cnn, images[:64], labels[:64], repeats, number * 3)


if __name__ == "__main__":
    main()
