"""When the grader itself fails in one part (a bug, a sandbox that cannot start), that part
fails with a test worth all its points, the other parts are graded, a results file is still
written, and the exit code is 1 (graded, below the bar), never a traceback or exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader import grading
from grader.sandbox import SandboxError

ROOT = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).resolve().parent / "fast.toml"
EXAMPLE = ROOT / "examples" / "submission"


@pytest.fixture(params=[RuntimeError("a bug in the grader"), SandboxError("the sandbox could not start: no numpy")],
                ids=["bug", "sandbox"])
def failing_conv(request, monkeypatch):
    real = grading.grade_part

    def grade_part(root, part, *args, **kwargs):
        if part == "conv":
            raise request.param
        return real(root, part, *args, **kwargs)

    monkeypatch.setattr(grading, "grade_part", grade_part)
    return request.param


def test_a_part_the_grader_cannot_grade_fails_alone_and_results_are_written(failing_conv, run_cli, tmp_path):
    out = tmp_path / "results" / "results.json"
    run = run_cli("check", str(EXAMPLE), "--parts", "conv,max_pool", "--seed", "3", "--config", str(CONFIG),
                  "--format", "gradescope", "--out", str(out))
    assert run.code == 1, run.err
    assert "Traceback" not in run.err + run.out
    data = json.loads(out.read_text())
    conv = [t for t in data["tests"] if "conv" in t["tags"]]
    assert len(conv) == 1 and conv[0]["status"] == "failed" and conv[0]["score"] == 0
    assert conv[0]["max_score"] == pytest.approx(10.0)  # forward 4 + backward 4 + numeric-gradient 2
    assert "not your code's fault" in conv[0]["output"] and str(failing_conv) in conv[0]["output"]
    pool = [t for t in data["tests"] if "max_pool" in t["tags"]]
    assert pool and all(t["status"] == "passed" for t in pool)
    # each test's score is rounded to 4 places: the sum may be off by half a unit of the 4th place per test
    assert data["score"] == pytest.approx(sum(t["score"] for t in pool), abs=0.5e-4 * len(pool) + 1e-9)
    assert sorted(p.name for p in out.parent.iterdir()) == ["results.json"]  # no temporary file left behind


def test_the_failure_is_noted_in_the_report(failing_conv):
    report = grading.grade_submission(EXAMPLE, parts="conv", seed=3, device="cpu", config_path=CONFIG)
    assert [t.name for t in report.tests] == ["conv: not graded (internal grader error)"]
    assert any(note.startswith("internal error while grading conv: ") for note in report.notes)
