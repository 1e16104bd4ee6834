"""How fast ``chainrule serve`` answers the page, for the seed network, against the 50 ms goal.

Run:  python benchmarks/bench_serve.py [--repeat N]

Each request goes through the whole HTTP stack (Starlette's test client: routing, Host/Origin checks,
JSON in and out) and the engine, as the page's fetch would:

- stage change: the next stage of the same step (Next / Forward / Backward ...): the step's numbers are
  cached, the new derivation lines are converted to MathML (cached per line once seen);
- stage change, lines new: the same, with the MathML cache cleared first (the first pass through a step);
- new step: the first view of step k (Next at the end of a step): the engine runs the step and
  chainrule derive writes it;
- edit: a changed weight (``/api/edit``) and the view of the edited spec, both computed from scratch.

Times are medians (and 90th percentiles) of wall-clock milliseconds per request; nothing asserts.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

GOAL_MS = 50.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=60, help="requests per measurement (default 60)")
    args = parser.parse_args()

    from starlette.testclient import TestClient

    from chainrule.serve import create_app
    from chainrule.serve import view as view_mod

    client = TestClient(create_app("seed"), base_url="http://127.0.0.1:8000")

    def post(path, body):
        r = client.post(path, content=json.dumps(body), headers={"Content-Type": "application/json"})
        assert r.status_code == 200, r.text
        return r.json()

    n_stages = post("/api/view", {"spec": "seed"})["n_stages"]

    def timed(fn, setup=None):
        times = []
        for k in range(args.repeat):
            if setup:
                setup(k)
            t0 = time.perf_counter()
            fn(k)
            times.append((time.perf_counter() - t0) * 1000)
        return statistics.median(times), sorted(times)[int(0.9 * (len(times) - 1))]

    rows = [
        ("stage change", timed(lambda k: post("/api/view", {"spec": "seed", "stage": k % (n_stages + 1)}))),
        ("stage change, lines new", timed(lambda k: post("/api/view", {"spec": "seed", "stage": 1 + k % n_stages}),
                                          setup=lambda k: view_mod.mathml.cache_clear())),
        ("new step", timed(lambda k: post("/api/view", {"spec": "seed", "step": 2 + k, "stage": 0}))),
    ]

    def edit_and_view(k):
        spec = post("/api/edit", {"spec": "seed", "op": "set", "path": "init.weights[0][0][0]",
                                  "value": str(0.5 + (k + 1) * 1e-3)})["spec"]
        post("/api/view", {"spec": spec, "stage": 2})

    rows.append(("edit a weight + view", timed(edit_and_view)))

    print(f"chainrule serve, seed network (2-3-1), {args.repeat} requests each, HTTP + engine, milliseconds")
    print(f"{'request':<26}{'median':>9}{'p90':>9}{'goal':>8}{'median/goal':>13}")
    for name, (median, p90) in rows:
        print(f"{name:<26}{median:>9.2f}{p90:>9.2f}{GOAL_MS:>8.0f}{median / GOAL_MS:>13.2f}")


if __name__ == "__main__":
    main()
