"""In the d2l layout torch is allowed, but not its own layers doing the part's work: a corr2d that
calls F.conv2d (even through a helper of its own) or a pool2d built on nn.MaxPool2d earns nothing,
though its values are right (checked against torch here); the book's code uses none of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.checks.d2l import library_layers
from grader.grading import grade_submission
from grader.layouts import d2l_definitions

torch = pytest.importorskip("torch")

FIXTURES = Path(__file__).resolve().parents[1] / "submissions"


def test_the_fixture_is_right_by_torch():
    import importlib.util

    spec = importlib.util.spec_from_file_location("d2l_uses_conv2d", FIXTURES / "d2l_uses_conv2d" / "layers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    X, K = torch.arange(12.0).reshape(3, 4), torch.tensor([[1.0, -1.0], [0.5, 2.0]])
    want = torch.stack([torch.stack([(X[i:i + 2, j:j + 2] * K).sum() for j in range(3)]) for i in range(2)])
    assert torch.allclose(module.corr2d(X, K), want)
    assert torch.allclose(module.pool2d(X, (2, 2), "avg"), torch.nn.functional.avg_pool2d(X[None, None], 2, 1)[0, 0])


def test_library_layers_are_found_through_helpers_and_not_in_the_book():
    definitions = d2l_definitions(FIXTURES / "d2l_uses_conv2d")
    found = library_layers(FIXTURES / "d2l_uses_conv2d", "corr2d", definitions)
    assert [f.what.split(" ")[0] for f in found] == ["conv2d"] and "_correlate" in found[0].what
    assert {f.what.split(" ")[0] for f in library_layers(FIXTURES / "d2l_uses_conv2d", "pool2d", definitions)} == {
        "MaxPool2d", "AvgPool2d"}
    book = FIXTURES / "d2l_book"
    for part in ("corr2d", "corr2d_channels", "pool2d", "conv2d_module"):
        assert library_layers(book, part, d2l_definitions(book)) == []


def test_a_part_that_uses_them_earns_nothing():
    report = grade_submission(FIXTURES / "d2l_uses_conv2d", seed=1, parts="corr2d,pool2d")
    for part in ("corr2d", "pool2d"):
        assert report.part_score(part)[0] == 0, [(t.name, t.feedback) for t in report.tests if t.part == part]
        integrity = next(t for t in report.tests if t.part == part and t.name.endswith("allowed libraries"))
        assert not integrity.passed and "library layer" in integrity.feedback
    forward = [t for t in report.tests if t.part == "corr2d" and t.kind == "forward"]
    assert forward and all("no points" in t.feedback or t.score == 0 for t in forward)
