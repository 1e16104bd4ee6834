"""The benchmarks' own claims of correctness (their timings are printed, never asserted)."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))

import bench_floor  # noqa: E402
import pytest  # noqa: E402


def test_the_minimal_tape_computes_what_chainrule_and_hand_algebra_compute():
    bench_floor.check_same_gradients()  # asserts: scalar chain, a five-path DAG, two MLPs over three steps


def test_the_minimal_tape_would_be_caught_computing_something_else(monkeypatch):
    monkeypatch.setattr(bench_floor, "relu", lambda z: z)  # a wrong network: no nonlinearity
    with pytest.raises(AssertionError):
        bench_floor.check_same_gradients()
