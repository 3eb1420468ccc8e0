"""Max pooling at ties: any valid subgradient is accepted, and only those.

torch's own max_pool2d backward (one valid subgradient) and random convex splits among the
tied maxima must be accepted; the full dout to every tie, or to the whole window, must not.
Then the grader on fixtures: routing to the last maximum and splitting evenly get full marks
with a note; giving every tie the full dout still loses the tie tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from grader.checks.ties import is_valid_max_pool_gradient, nnls
from grader.grading import grade_submission

torch = pytest.importorskip("torch")
FIXTURES = Path(__file__).resolve().parents[1] / "submissions"
CONFIG = Path(__file__).resolve().parent / "fast.toml"
SETTINGS = [((2, 3, 4, 6), 2, 2, 2), ((1, 2, 5, 5), 3, 3, 1), ((2, 2, 6, 7), 3, 2, 2), ((1, 1, 4, 4), 2, 2, 1)]


def _windows(shape, ph, pw, s):
    N, C, H, W = shape
    for n in range(N):
        for c in range(C):
            for i in range((H - ph) // s + 1):
                for j in range((W - pw) // s + 1):
                    yield n, c, i, j, (slice(i * s, i * s + ph), slice(j * s, j * s + pw))


def _route(x, dout, ph, pw, s, how, rng):
    dx = np.zeros_like(x)
    for n, c, i, j, (rows, cols) in _windows(x.shape, ph, pw, s):
        window = x[n, c, rows, cols]
        maxima = window == window.max()
        if how == "random split":
            weights = rng.random(window.shape) * maxima
            share = weights / weights.sum()
        elif how == "every tie":
            share = maxima.astype(float)
        else:  # the whole window
            share = np.ones(window.shape)
        dx[n, c, rows, cols] += share * dout[n, c, i, j]
    return dx


@pytest.mark.parametrize("shape, ph, pw, s", SETTINGS)
def test_valid_subgradients_and_only_those(shape, ph, pw, s):
    rng = np.random.default_rng(sum(shape) + ph * 7 + s)
    x = rng.integers(0, 3, size=shape).astype(np.float64)  # few values: many ties
    params = {"pool_height": ph, "pool_width": pw, "stride": s}
    xt = torch.tensor(x, requires_grad=True)
    out = torch.nn.functional.max_pool2d(xt, (ph, pw), s)
    dout = rng.standard_normal(tuple(out.shape))
    out.backward(torch.tensor(dout))
    assert is_valid_max_pool_gradient(x, params, dout, xt.grad.numpy())
    for _ in range(3):
        assert is_valid_max_pool_gradient(x, params, dout, _route(x, dout, ph, pw, s, "random split", rng))
    assert not is_valid_max_pool_gradient(x, params, dout, _route(x, dout, ph, pw, s, "every tie", rng))
    assert not is_valid_max_pool_gradient(x, params, dout, _route(x, dout, ph, pw, s, "whole window", rng))
    assert not is_valid_max_pool_gradient(x, params, dout, xt.grad.numpy() * 1.01)


def test_nnls_solves_a_small_problem_exactly():
    rng = np.random.default_rng(3)
    A = rng.standard_normal((8, 5))
    q = np.array([0.0, 1.5, 0.0, 2.0, 0.25])
    assert np.allclose(nnls(A, A @ q), q, atol=1e-9)
    found = nnls(A, -A @ q)  # infeasible with q >= 0: the best non-negative answer, never a negative one
    assert (found >= 0).all()


@pytest.mark.parametrize("fixture, full", [("maxpool_ties_last", True), ("maxpool_ties_split", True),
                                           ("maxpool_all_ties", False)])
def test_the_grader_accepts_any_valid_subgradient(fixture, full):
    report = grade_submission(FIXTURES / fixture, parts="max_pool", seed=3, device="cpu", config_path=CONFIG)
    tie_tests = [t for t in report.tests if t.kind == "backward" and "ties" in t.name]
    assert len(tie_tests) == 3
    if full:
        assert report.percent == pytest.approx(100.0), [(t.name, t.feedback) for t in report.tests if not t.passed]
        assert any("any valid subgradient is right" in t.feedback for t in tie_tests)
    else:
        assert not any(t.passed for t in tie_tests)
