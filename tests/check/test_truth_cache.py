"""The references' results are remembered per process by the content of their inputs (a batch worker
grades a class on one seed): what comes back equals a fresh computation by torch, is the caller's own
copy, and a declared part (an instructor's file) is never remembered."""

from __future__ import annotations

import numpy as np
import pytest

from grader.checks import truth as truth_module
from grader.checks.cases import CONV_CASES, conv_inputs
from grader.checks.truth import ReferenceTruth
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
