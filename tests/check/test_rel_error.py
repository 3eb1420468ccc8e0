"""``rel_error``, cs231n's max |a-b| / max(|a|+|b|), on values worked out by hand: every shape it is
given (0-d arrays and plain numbers too), broadcasting, and the values that make the metric undefined."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from grader.checks.compare import rel_error


@pytest.mark.parametrize("a,b,expected", [
    (3.0, 1.0, 0.5),                                    # |3-1| / (3+1)
    (np.array(3.0), np.array(1.0), 0.5),                # 0-d arrays: a - b is a numpy scalar there
    (np.float32(2.0), np.array(-2.0), 1.0),             # opposite signs: the largest error there is
    (np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1.0, 2.0], [3.0, 5.0]]), 1 / 9),  # max |d| 1, max sum 9
    (np.array([1, 2, 4]), np.array([1.0, 2.0, 2.0]), 2 / 6),   # integers are compared as floats
    (np.ones((2, 3)), np.full(3, 2.0), 1 / 3),          # broadcast, as a - b does
    (np.zeros((2, 2)), np.zeros((2, 2)), 0.0),          # both zero: 0 / 1e-12, not a division by zero
    (np.zeros((0, 3)), np.zeros((0, 3)), 0.0),          # nothing to compare
])
def test_worked_values(a, b, expected):
    assert rel_error(a, b) == pytest.approx(expected, rel=1e-12)
    assert type(rel_error(a, b)) is float


@pytest.mark.parametrize("a,b", [
    (np.array([np.nan, 1.0]), np.array([1.0, 1.0])),
    (np.array(np.inf), np.array(np.inf)),
    (np.array([1e308, -1e308]), np.array([-1e308, 1e308])),  # the difference overflows
])
def test_undefined_or_overflowing_is_infinitely_wrong_and_silent(a, b):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning leaks out of the grader's comparison
        assert rel_error(a, b) == float("inf")
