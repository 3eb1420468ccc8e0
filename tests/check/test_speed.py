"""The speed test: the student's time against the vectorized reference (interleaved, in two
children) and a line against the loop reference, which a process times once per inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.checks import speed
from grader.layouts import detect
from grader.sandbox import Limits, Session

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "submission"


class Counting:
    """A references' session that counts which reference files it ran."""

    def __init__(self, session: Session):
        self.session, self.files = session, []

    def __getattr__(self, name):
        return getattr(self.session, name)

    def call_trusted(self, path, function, args=(), kwargs=None, **options):
        self.files.append(Path(path).stem)
        return self.session.call_trusted(path, function, args, kwargs, **options)


@pytest.fixture
def sessions(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with Session(EXAMPLE, Limits()) as student, Session(empty, Limits()) as references:
        yield student, Counting(references)


def test_the_loop_reference_is_timed_once_per_process_and_inputs(sessions, monkeypatch):
    monkeypatch.setattr(speed, "_LOOPS", {})
    student, references = sessions
    spec = detect(EXAMPLE).spec("max_pool")
    first = speed.run_speed("max_pool", spec, student, references, 5, 2, 0.0, ())
    assert first.passed and "vectorized reference" in first.feedback and "loop reference" in first.feedback
    assert references.files.count("numpy_loops") == 2 and references.files.count("numpy_fast") == 4
    again = speed.run_speed("max_pool", spec, student, references, 5, 2, 0.0, ())  # a batch's next submission
    assert references.files.count("numpy_loops") == 2 and references.files.count("numpy_fast") == 8
    assert again.details["speed"]["loops_s"] == first.details["speed"]["loops_s"]
    assert "loop reference" in again.feedback
    speed.run_speed("max_pool", spec, student, references, 6, 1, 0.0, ())  # other inputs: timed again
    assert references.files.count("numpy_loops") == 4
