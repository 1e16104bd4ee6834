"""``cr.detect_anomaly()``: the first op whose forward or backward makes NaN/Inf raises, naming the op
and the line of *this* file that created it; outside the context nothing is checked.

Entries A1 and A2 of docs/errors.md.
"""

from __future__ import annotations

import inspect
import re
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

HERE = __file__


def line_after() -> int:
    """The line number just after the caller's line (where the op under test is created)."""
    return inspect.currentframe().f_back.f_lineno + 1


@pytest.fixture(autouse=True)
def quiet_numpy():
    # log(0), 1/0 and 0/0 warn in NumPy; these tests are about chainrule's errors, not NumPy's warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def where(line: int) -> str:
    return re.escape(f"the op was created at {HERE}:{line} in ")


def test_A1_forward_inf_names_op_and_line():
    x = cr.tensor([1.0, 0.0], dtype=np.float64, requires_grad=True)
    message = re.escape("log produced Inf in its forward output (shape (2,))")
    with pytest.raises(cr.AnomalyError, match="^" + message) as e, cr.detect_anomaly():
        line = line_after()
        x.log()  # log(0) = -inf
    assert re.search(where(line), str(e.value))


def test_A1_forward_nan_names_op_and_line():
    x = cr.tensor([4.0, -1.0], dtype=np.float64, requires_grad=True)
    with pytest.raises(cr.AnomalyError, match=r"^sqrt produced NaN in its forward output") as e, cr.detect_anomaly():
        line = line_after()
        x.sqrt()
    assert re.search(where(line), str(e.value))


def test_A1_forward_inside_a_module_points_at_the_callers_line():
    # the op is applied inside chainrule's nn code; the error must point at the user's line instead
    layer = nn.Linear(2, 1, dtype=np.float64)
    with cr.no_grad():
        layer.weight.fill_(np.inf)
    x = cr.tensor([[1.0, -1.0]], dtype=np.float64)
    with pytest.raises(cr.AnomalyError, match=r"^linear produced NaN") as e, cr.detect_anomaly():
        line = line_after()
        layer(x)  # inf - inf
    assert re.search(where(line), str(e.value))


def test_A2_backward_inf_names_op_and_line():
    x = cr.tensor([1.0, 0.0], dtype=np.float64, requires_grad=True)
    with cr.detect_anomaly():
        line = line_after()
        y = x.sqrt().sum()  # finite forward; d sqrt/dx at 0 is inf
        with pytest.raises(cr.AnomalyError, match=re.escape(
            "sqrt backward returned Inf in the gradient of input 0 (shape (2,))"
        ) + ".*" + where(line)):
            y.backward()
    assert x.grad is None  # nothing reached the leaf


def test_A2_backward_nan_names_op_and_line():
    # forward is finite everywhere (sqrt(0) * 0 = 0), but sqrt's backward computes 0 / 0
    x = cr.tensor([0.0, 4.0], dtype=np.float64, requires_grad=True)
    with cr.detect_anomaly():
        line = line_after()
        s = x.sqrt()
        y = (s * cr.tensor([0.0, 1.0], dtype=np.float64)).sum()
        with pytest.raises(cr.AnomalyError, match=r"^sqrt backward returned NaN in the gradient of input 0.*"
                           + where(line)):
            y.backward()


def test_A2_backward_of_log_at_zero_is_caught_at_the_first_op():
    x = cr.tensor([0.0, 1.0], dtype=np.float64, requires_grad=True)
    with cr.detect_anomaly():
        y = (x * x)  # finite
        z = (y + 1).log()  # finite: log(1), log(2)
        w = (z * 0 + y.sqrt()).sum()  # sqrt(0) = 0 finite; its backward is inf
        with pytest.raises(cr.AnomalyError, match=r"^sqrt backward returned Inf"):
            w.backward()


def test_outside_the_context_nothing_is_checked():
    x = cr.tensor([1.0, 0.0, -1.0], dtype=np.float64, requires_grad=True)
    y = x.log()  # -inf and nan, no error
    assert y.grad_fn.origin is None  # no stack walk either
    s = x[:2].sqrt().sum()
    s.backward()
    assert np.isinf(x.grad[1])  # 1 / (2 sqrt 0), exactly what PyTorch returns
    # and after a context has exited (even by an exception) checking is off again
    with pytest.raises(cr.AnomalyError), cr.detect_anomaly():
        x.log()
    assert not cr.anomaly.is_enabled()
    x.log()


def test_nested_contexts_and_check_nan_false():
    x = cr.tensor([0.0], dtype=np.float64, requires_grad=True)
    with cr.detect_anomaly():
        with cr.detect_anomaly():
            pass
        with pytest.raises(cr.AnomalyError):  # the outer one is still active
            x.log()
    with cr.detect_anomaly(check_nan=False):
        x.log()


def test_finite_values_pass_unchanged():
    a = np.array([0.5, 2.0, 3.0])
    x = cr.tensor(a, requires_grad=True)
    with cr.detect_anomaly():
        y = (x.log() * x).sum()
        y.backward()
    np.testing.assert_allclose(x.grad, np.log(a) + 1, rtol=1e-14)  # d(x ln x)/dx = ln x + 1


def test_anomaly_errors_come_without_numpy_warnings():
    import warnings

    x = cr.tensor(np.array([0.0, 1.0]), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a RuntimeWarning would be raised here instead of the AnomalyError
        with cr.detect_anomaly(), pytest.raises(cr.AnomalyError, match="log"):
            x.log()
