"""A grading detects the submission's layout once (it was detected once for the part list and again
for every numpy part), and a later grading of a changed folder detects it again."""

from __future__ import annotations

import shutil
from pathlib import Path

from grader import grading, layouts

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "submission"


def test_one_detection_per_grading(tmp_path, monkeypatch):
    calls = []

    def counted(root):
        calls.append(Path(root).resolve())
        return layouts.detect(root)

    monkeypatch.setattr(grading, "detect", counted)
    submission = tmp_path / "sub"
    shutil.copytree(EXAMPLE, submission)
    first = grading.grade_submission(submission, parts="max_pool,avg_pool", seed=3, device="cpu")
    assert calls == [submission.resolve()]
    assert first.layout == layouts.detect(submission).name
    assert {t.part for t in first.tests} == {"max_pool", "avg_pool"}

    (submission / "conv.py").unlink()  # the next grading reads the folder again, as it is then
    second = grading.grade_submission(submission, parts="max_pool", seed=3, device="cpu")
    assert calls == [submission.resolve()] * 2
    assert second.layout == layouts.detect(submission).name
