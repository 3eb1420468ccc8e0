"""Student mode: ``grader check`` with the public cases and no reference.

A correct submission gets full marks in both modes, and every planted bug that loses
points in the instructor's mode loses points in student mode, in the same tests, with
the same diagnosis (over every fixture of tests/submissions and the shipped examples).
The public cases are computed once per test session by the instructor's install, as
``grader export student`` does.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pytest

from grader.checks.cases import cases_for
from grader.grading import grade_submission
from grader.student import public
from grader.student.build import PUBLIC_SEED, write_public

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "submissions"
EXAMPLES = ROOT / "examples"
CONFIG = ROOT / "tests" / "check" / "fast.toml"

LAYER_PARTS = "conv,max_pool,avg_pool"
# every planted bug of tests/submissions, with the parts it is graded on
PLANTED = {path.name: ("transfer" if path.name.startswith("transfer_") else LAYER_PARTS)
           for path in sorted(FIXTURES.iterdir()) if path.is_dir()}


@pytest.fixture(scope="session")
def cases(tmp_path_factory) -> public.PublicData:
    folder = write_public(tmp_path_factory.mktemp("public"), CONFIG)
    return public.load(folder)


@functools.cache
def _graded(folder: Path, parts: str, mode: str, public_folder: Path | None):
    return grade_submission(folder, parts=parts, seed=11, device="cpu", config_path=CONFIG,
                            public=public_folder if mode == "student" else None)


def grade(cases, folder: Path, parts: str, mode: str):
    return _graded(folder, parts, mode, cases.folder if mode == "student" else None)


def losses(report) -> dict[tuple[str, str], set]:
    """(part, kind) -> the diagnoses of the tests of that kind that lost points (None: no diagnosis)."""
    out: dict[tuple[str, str], set] = {}
    for t in report.tests:
        if t.kind != "speed" and (t.score < t.max_score - 1e-9 or not t.passed):
            out.setdefault((t.part, t.kind), set()).add(t.details.get("diagnosis"))
    return out


def test_the_public_cases_are_plain_data_of_every_case(cases):
    manifest = json.loads((cases.folder / public.MANIFEST).read_text(encoding="utf-8"))
    assert manifest["seed"] == PUBLIC_SEED and manifest["format"] == public.FORMAT
    for part in ("conv", "max_pool", "avg_pool"):
        assert set(manifest["layers"][part]) == {c.name for c in cases_for(part)}
    with np.load(cases.folder / public.ARRAYS, allow_pickle=False) as npz:
        assert all(npz[k].dtype != object for k in npz.files)


def test_the_expected_results_are_torchs(cases):
    # the shipped expected outputs and gradients agree with torch's conv2d and autograd (not with our references)
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    for name, entry in cases.manifest["layers"]["conv"].items():
        x, w, b = (torch.tensor(cases.arrays[a["array"]], requires_grad=True) for a in entry["args"][:3])
        p = entry["args"][3]["value"]
        out = F.conv2d(x, w, b, stride=p["stride"], padding=p["pad"], dilation=p.get("dilation", 1))
        assert np.allclose(out.detach().numpy(), cases.arrays[entry["out"]], atol=1e-10), name
        out.backward(torch.tensor(cases.arrays[entry["dout"]]))
        for tensor, key in zip((x, w, b), entry["grads"]):
            assert np.allclose(tensor.grad.numpy(), cases.arrays[key], atol=1e-10), name
    for name, entry in cases.manifest["layers"]["avg_pool"].items():
        x = torch.tensor(cases.arrays[entry["args"][0]["array"]], requires_grad=True)
        p = entry["args"][1]["value"]
        out = F.avg_pool2d(x, (p["pool_height"], p["pool_width"]), p["stride"])
        assert np.allclose(out.detach().numpy(), cases.arrays[entry["out"]], atol=1e-12), name


def test_a_correct_submission_gets_full_marks_and_the_report_says_what_it_is(cases):
    report = grade(cases, EXAMPLES / "submission", f"{LAYER_PARTS},transfer", "student")
    assert report.percent == pytest.approx(100.0), [(t.name, t.feedback) for t in report.tests if t.score < t.max_score]
    assert report.seed == PUBLIC_SEED
    assert public.NOTE in report.notes
    speed = [t for t in report.tests if t.kind == "speed"]
    assert speed and all(t.status == "not run" and "autograder" in t.feedback for t in speed)
    accuracy = [t for t in report.tests if t.kind == "accuracy"]
    assert len(accuracy) == 2 and all(t.passed and "practice split" in t.feedback for t in accuracy)


def test_the_cs231n_layout_gets_full_marks_too(cases):
    report = grade(cases, EXAMPLES / "cs231n_submission", LAYER_PARTS, "student")
    assert report.tests and report.percent == pytest.approx(100.0)


@pytest.mark.parametrize("name", sorted(PLANTED))
def test_a_planted_bug_loses_the_same_points_with_the_same_diagnosis(cases, name):
    """(and a fixture that is right loses nothing in either mode)"""
    parts = PLANTED[name]
    hidden = losses(grade(cases, FIXTURES / name, parts, "instructor"))
    shown = losses(grade(cases, FIXTURES / name, parts, "student"))
    if not hidden:  # a right answer written another way (a tie routed to the last maximum): full marks in both
        assert not shown, (name, shown)
        return
    accuracy = {k for k in hidden if k[1] == "accuracy"}  # trained on other images: compared below
    assert {k: v for k, v in shown.items() if k not in accuracy} == \
           {k: v for k, v in hidden.items() if k not in accuracy}, name
    if set(hidden) <= accuracy:  # a bug that shows only in the accuracy shows there on the practice split too
        assert set(shown) & accuracy, name


def test_the_buggy_example_is_named_in_both_modes(cases):
    hidden = losses(grade(cases, EXAMPLES / "buggy_submission", LAYER_PARTS, "instructor"))
    shown = losses(grade(cases, EXAMPLES / "buggy_submission", LAYER_PARTS, "student"))
    assert shown == hidden and any(d for v in shown.values() for d in v)


def test_a_seed_is_noted_and_ignored(cases):
    report = grade_submission(EXAMPLES / "submission", parts="avg_pool", seed=5, device="cpu",
                              config_path=CONFIG, public=cases)
    assert report.seed == PUBLIC_SEED and any("--seed 5 ignored" in n for n in report.notes)
    assert report.percent == pytest.approx(100.0)


def test_a_broken_public_folder_is_one_clear_error(tmp_path, run_cli):
    (tmp_path / public.MANIFEST).write_text("{}", encoding="utf-8")
    result = run_cli("check", str(EXAMPLES / "submission"), "--public", str(tmp_path))
    assert result.code == 2 and result.err.count("\n") == 1 and "export student" in result.err
