"""The references' results are remembered per process by the content of their inputs (a batch worker
grades a class on one seed): what comes back equals a fresh computation by torch, is the caller's own
copy, and a declared part (an instructor's file) is never remembered."""

from __future__ import annotations

import numpy as np
import pytest

from grader.checks import truth as truth_module
from grader.checks.cases import CONV_CASES, POOL_CASES, conv_inputs, pool_inputs, upstream
from grader.checks.truth import ReferenceTruth
from grader.layouts import PartSpec
from grader.parts import registry

torch = pytest.importorskip("torch")


def test_a_remembered_result_is_right_and_the_callers_own():
    truth, layer, case = ReferenceTruth(), registry()["conv"], CONV_CASES[3]
    x, w, b, p = conv_inputs(case, 4, "conv", True).args
    first, _ = truth.forward(layer, case, (x, w, b, p))
    first[...] = 0.0  # a caller that writes into its result changes nothing for the next one
    again, _ = ReferenceTruth().forward(layer, case, (x.copy(), w.copy(), b.copy(), dict(p)))
    want = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), stride=p["stride"],
                                      padding=p["pad"], dilation=p["dilation"]).numpy()
    assert np.allclose(again, want, atol=1e-12)
    # other inputs are another entry, not the remembered one
    other, _ = truth.forward(layer, case, (x + 1.0, w, b, p))
    assert not np.allclose(other, again)


def test_a_declared_part_is_not_remembered(monkeypatch):
    layer = registry()["conv"]
    declared = type(layer)(**{**layer.__dict__, "declared": True})
    assert truth_module._cached(declared, "forward", "cpu", ()) is None
    assert truth_module._cached(layer, "forward", "cpu", ()) is not None


def test_remembered_inputs_and_upstream_gradients_are_fresh_draws_and_the_callers_own():
    """A batch worker draws each case's inputs and upstream gradient once per seed: each caller
    gets what a fresh draw gives, in arrays (and a parameter dict) of its own."""
    truth, conv, pool = ReferenceTruth(), registry()["conv"], registry()["max_pool"]
    spec = PartSpec("conv", "conv", "conv.py", "conv_forward", "conv_backward")
    for _ in range(2):  # drawn, then remembered
        got = truth.inputs(conv, CONV_CASES[3], 11, spec)
        want = conv_inputs(CONV_CASES[3], 11, "conv", True)
        assert len(got.args) == 4 and got.args[3] == want.args[3] and got.dout is None
        assert all(np.array_equal(a, b) for a, b in zip(got.args[:3], want.args[:3]))
        got.args[0][...] = 0.0
        got.args[3]["stride"] = 99
        got.dout = np.ones(1)
        dout = truth.upstream(conv, CONV_CASES[3], 11, (2, 3, 4, 4))
        assert np.array_equal(dout, upstream((2, 3, 4, 4), 11, "conv", CONV_CASES[3].name))
        dout[...] = 0.0
    pooled = truth.inputs(pool, POOL_CASES[6], 11, None)
    assert np.array_equal(pooled.args[0], pool_inputs(POOL_CASES[6], 11, "max_pool").args[0])
    assert not np.array_equal(truth.inputs(conv, CONV_CASES[3], 12, spec).args[0], want.args[0])  # another seed


def test_remembered_wrong_variants_are_right_and_read_only():
    """A wrong variant's results are only compared with: remembered, they come back as they are,
    read-only (a caller that tried to write into one would be told, never change the next answer)."""
    truth, layer, case = ReferenceTruth(), registry()["conv"], CONV_CASES[3]
    x, w, b, p = conv_inputs(case, 4, "conv", True).args
    first = {key: result for key, _, result in truth.wrong(layer, "forward", case, (x, w, b, p))}
    assert "conv-kernel-flipped" in first and "conv-no-padding" in first
    for result in first.values():
        with pytest.raises(ValueError, match="read-only"):
            result[...] = 0.0
    again = {key: result for key, _, result in ReferenceTruth().wrong(layer, "forward", case,
                                                                       (x.copy(), w.copy(), b.copy(), dict(p)))}
    assert again.keys() == first.keys()
    # a kernel flipped in both spatial axes, computed by torch: one of the variants gives exactly that
    flipped = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w).flip(2, 3), torch.tensor(b),
                                         stride=p["stride"], padding=p["pad"], dilation=p["dilation"]).numpy()
    assert any(r.shape == flipped.shape and np.allclose(r, flipped, atol=1e-12) for r in again.values())
