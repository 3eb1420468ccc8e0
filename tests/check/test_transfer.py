"""The transfer part: a correct pipeline earns full marks in both modes, and
each classic mistake loses points in the right test with the right message.
The grader trains every model itself (fixed budget, fixed seeds) and scores
logits against test labels that never reach the child."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from grader.grading import grade_submission

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "submissions"
EXAMPLES = ROOT / "examples"
CONFIG = Path(__file__).resolve().parent / "fast.toml"


@functools.cache
def grade(folder: Path):
    """Each fixture is graded once per test session (each grading trains four models)."""
    report = grade_submission(folder, parts="transfer", seed=4, device="cpu", config_path=CONFIG)
    return report, {t.name: t for t in report.tests}


def test_a_correct_pipeline_scores_full_marks_in_both_modes():
    report, tests = grade(ROOT / "examples" / "submission")
    assert report.parts() == ["transfer"]
    assert not [(t.name, t.feedback) for t in report.tests if not t.passed]
    assert report.score == pytest.approx(report.max_score) and report.max_score == 8
    for mode in ("feature_extractor", "fine_tune"):
        acc = tests[f"transfer accuracy ({mode}): test accuracy"]
        assert acc.passed and acc.details["accuracy"] >= acc.details["reference_accuracy"] - 0.10
        assert "transfer" in tests[f"transfer speed ({mode}): training time"].tags


@pytest.mark.parametrize(
    "fixture, test, phrase",
    [
        ("transfer_not_frozen", "transfer structure (feature_extractor): frozen backbone",
         "backbone not frozen in feature_extractor mode"),
        ("transfer_not_frozen", "transfer structure (feature_extractor): optimizer", "also updates the frozen backbone"),
        ("transfer_optimizer_all", "transfer structure (feature_extractor): optimizer", "also updates the frozen backbone"),
        ("transfer_same_lr", "transfer structure (fine_tune): learning rates", "the same learning rate"),
        ("transfer_old_head", "transfer structure (feature_extractor): output",
         "the head still outputs 10 classes, the target task has 4"),
        ("transfer_reinit", "transfer structure (fine_tune): pretrained weights kept", "re-initialised"),
        ("transfer_broken", "transfer structure (fine_tune): output", "transfer.py, line"),
    ],
)
def test_each_mistake_is_named_in_its_test(fixture, test, phrase):
    report, tests = grade(FIXTURES / fixture)
    assert test in tests, list(tests)
    assert not tests[test].passed and tests[test].score == 0
    assert phrase in tests[test].feedback, tests[test].feedback


def test_right_parts_of_a_wrong_pipeline_keep_their_points():
    _, tests = grade(FIXTURES / "transfer_same_lr")
    assert tests["transfer structure (feature_extractor): frozen backbone"].passed
    assert tests["transfer structure (fine_tune): everything trains"].passed
    _, tests = grade(FIXTURES / "transfer_optimizer_all")
    assert tests["transfer structure (feature_extractor): frozen backbone"].passed


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs a CUDA GPU")
def test_the_same_grading_runs_on_cuda():
    report = grade_submission(ROOT / "examples" / "submission", parts="transfer", seed=4, device="cuda",
                              config_path=CONFIG)
    assert report.device == "cuda"
    assert not [(t.name, t.feedback) for t in report.tests if not t.passed]


def test_an_instructor_can_swap_in_their_own_task(tmp_path, run_cli):
    (tmp_path / "task.py").write_text((ROOT / "examples" / "instructor_task.py").read_text())
    (tmp_path / "assignment.toml").write_text('[transfer]\ntask = "task.py:make_task"\n')
    report = grade_submission(ROOT / "examples" / "submission", parts="transfer", seed=1, device="cpu",
                              config_path=tmp_path / "assignment.toml")
    assert not [(t.name, t.feedback) for t in report.tests if not t.passed]
    assert any("after 6 epochs" in t.feedback for t in report.tests if t.kind == "accuracy")
    (tmp_path / "broken.toml").write_text('[transfer]\ntask = "task.py:no_such_function"\n')
    r = run_cli("check", str(ROOT / "examples" / "submission"), "--parts", "transfer",
                "--config", str(tmp_path / "broken.toml"))
    assert r.code == 2 and "no_such_function" in r.err and len(r.err.strip().splitlines()) == 1


def test_a_pipeline_that_reaches_outside_earns_nothing_and_is_named(tmp_path):
    """A correct pipeline that also starts a process and patches torch's comparison: the guard
    refuses the process (a violation: the part scores 0), the patch is named (a notice)."""
    source = (ROOT / "examples" / "submission" / "transfer.py").read_text()
    (tmp_path / "transfer.py").write_text(source + '''

import subprocess as _subprocess

import torch as _torch

_torch.allclose = lambda *args, **kwargs: True
_build_model = build_model


def build_model(pretrained, num_classes, mode):
    try:
        _subprocess.run(["true"])
    except Exception:
        pass
    return _build_model(pretrained, num_classes, mode)
''')
    report = grade_submission(tmp_path, parts="transfer", seed=4, device="cpu", config_path=CONFIG)
    assert report.score == 0
    rules = next(t for t in report.tests if t.name == "transfer integrity: sandbox rules")
    assert not rules.passed
    assert "tried to start a process (subprocess.Popen)" in rules.feedback
    assert "replaced torch.allclose" in rules.feedback
    accuracy = [t for t in report.tests if t.kind == "accuracy"]
    assert accuracy and all(t.feedback.startswith("no points: started processes") for t in accuracy)


def test_the_parent_never_imports_torch_for_the_shipped_task():
    """torch runs only in the children: the parent gets the pretrained weights it compares with
    from the reference's child (which runs no student code), not by loading them itself."""
    import subprocess
    import sys

    code = ("import sys; from grader.grading import grade_submission; "
            f"r = grade_submission({str(ROOT / 'examples' / 'submission')!r}, parts='transfer', seed=4, device='cpu', "
            f"config_path={str(CONFIG)!r}); print(r.score, r.max_score, 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["8.0", "8.0", "False"], done.stdout


def test_the_same_seed_gives_the_same_transfer_results(monkeypatch):
    # the new head's initial weights come from torch's generator: unseeded, the feature-extractor
    # accuracy moved by several points from run to run (77.0%, 79.5%, 76.0% for one seed)
    from grader.checks import transfer

    def summary():
        monkeypatch.setattr(transfer, "_REFERENCE_RUNS", {})  # the reference trains again too
        report = grade_submission(EXAMPLES / "submission", parts="transfer", seed=11, device="cpu")
        return [(t.name, round(t.score, 9), t.feedback) for t in report.tests if t.kind != "speed"]

    first = summary()
    assert any("test accuracy" in feedback for _, _, feedback in first)
    assert summary() == first
