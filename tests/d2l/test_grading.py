"""The d2l layout end to end: found by what the files define, the book's own code (as .py files
and as a notebook) graded to full marks, and each planted bug named in the part where it lives
(tests/submissions/d2l_*, whose verdicts test_d2l_fixtures_against_torch takes from torch)."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.errors import UsageError
from grader.grading import grade_submission
from grader.layouts import detect

pytest.importorskip("torch")
FIXTURES = Path(__file__).resolve().parents[1] / "submissions"
D2L = "corr2d,corr2d_channels,pool2d,conv2d_module"


@pytest.mark.parametrize("name", ["d2l_book", "d2l_notebook"])
def test_the_books_code_scores_full_marks(name):
    report = grade_submission(FIXTURES / name, parts=D2L, seed=5, device="cpu")
    assert report.layout == "d2l"
    assert report.parts() == D2L.split(",")
    failed = [(t.name, t.feedback) for t in report.tests if not t.passed]
    assert not failed and report.score == report.max_score > 0
    assert not any("has no" in n for n in report.notes), report.notes


# fixture: (the part graded, the bug's key in the diagnosis, a substring of its feedback)
BUGS = {
    "d2l_flipped": ("corr2d", "corr2d-kernel-flipped", "kernel looks flipped"),
    "d2l_avgpool_no_divide": ("pool2d", "pool2d-avg-no-divide", "forgot to divide by the window size"),
    "d2l_window_off_by_one": ("corr2d", "corr2d-window-off-by-one", "one row and one column short"),
    "d2l_channels_summed": ("corr2d_channels", "corr2d_multi_in_out-channels-summed", "output channels were added"),
    "d2l_stride_ignored": ("pool2d", "pool2d-stride-ignored", "ignored the stride"),
    "d2l_padding_ignored": ("corr2d", "corr2d-padding-ignored", "forgot the padding"),
}


@pytest.mark.parametrize("name", sorted(BUGS))
def test_each_bug_loses_points_and_is_named(name):
    part, key, words = BUGS[name]
    report = grade_submission(FIXTURES / name, parts=part, seed=5, device="cpu")
    lost = [t for t in report.tests if not t.passed]
    assert lost and report.score < report.max_score
    assert any(t.details.get("diagnosis") == key for t in lost), [(t.name, t.feedback) for t in lost]
    assert any(words in t.feedback.lower() for t in lost)
    assert all(t.part == part for t in report.tests)


def test_a_flipped_kernel_learns_the_flipped_edge_detector():
    report = grade_submission(FIXTURES / "d2l_flipped", parts="conv2d_module", seed=5, device="cpu")
    learned = next(t for t in report.tests if t.kind == "accuracy")
    assert not learned.passed and "kernel flipped" in learned.feedback
    assert learned.details["weight"][0][0] < -0.9 < 0.9 < learned.details["weight"][0][1]


def test_d2l_is_found_by_definitions_and_never_takes_a_native_submission(tmp_path):
    (tmp_path / "pool.py").write_text("import torch\n\ndef pool2d(X, pool_size, mode='max'):\n    return X\n")
    layout = detect(tmp_path)
    assert layout.name == "d2l" and [p.part for p in layout.parts] == ["pool2d"]
    assert layout.spec("pool2d").module == "pool"
    (tmp_path / "pool.py").write_text("def max_pool_forward(x, p):\n    pass\n\ndef pool2d(X, s):\n    pass\n")
    assert detect(tmp_path).name == "native"  # a native pool.py with a helper named pool2d
    (tmp_path / "pool.py").write_text("def pool2d(X, s:\n")  # does not parse: no d2l definition either
    assert detect(tmp_path).name == "native"


def test_no_submission_message_names_the_d2l_layout(tmp_path):
    (tmp_path / "notes.py").write_text("def helper():\n    pass\n")
    with pytest.raises(UsageError, match="d2l layout"):
        detect(tmp_path)
