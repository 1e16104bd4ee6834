"""Hand algebra for the seed's 2-3-1 linear network (½(y − y')², SGD), with each classic mistake
written out independently of chainrule.grade: the expected values of the worksheet and class tests."""

from __future__ import annotations

import numpy as np


def seed_by_hand(spec):
    """Every blank of the 2-3-1 linear network and each classic mistake's version of it, by hand."""
    w1, w2 = np.asarray(spec.weights[0]), np.asarray(spec.weights[1])[:, 0]
    x, y, eta = np.asarray(spec.x[0]), float(np.asarray(spec.y).reshape(-1)[0]), spec.lr

    def blanks(sign=1.0, two=1.0, updated=False, ascent=False):
        z = x @ w1
        out = float(z @ w2)
        e = sign * two * (out - y)
        g2 = e * z
        w2_used = w2 - eta * g2 if updated else w2
        delta = e * w2_used
        g1 = np.outer(x, delta)
        step = -eta if not ascent else eta
        return {"z": z, "out": [out], "L": [two * 0.5 * (out - y) ** 2], "dL": [e], "delta": delta, "g2": g2,
                "g1": g1.ravel(), "w2": w2 + step * g2, "w1": (w1 + step * g1).ravel()}

    return blanks


def answer_file(values: dict, student: str, name: str = "") -> dict:
    """``seed_by_hand``'s values as an answer file in the grader's format (docs/grade.md)."""
    def lst(a):
        return [float(v) for v in np.ravel(a)]

    return {
        "spec": student, "name": name,
        "forward": [{"layer": 1, "z": lst(values["z"])}, {"layer": 2, "z": lst(values["out"])}],
        "loss": float(values["L"][0]), "dL_doutput": lst(values["dL"]),
        "delta": [lst(values["delta"]), lst(values["dL"])],
        "grad": {"W1": np.reshape(values["g1"], (2, 3)).tolist(), "W2": [[v] for v in lst(values["g2"])]},
        "params_after": {"W1": np.reshape(values["w1"], (2, 3)).tolist(), "W2": [[v] for v in lst(values["w2"])]},
    }
