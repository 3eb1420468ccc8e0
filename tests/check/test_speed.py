"""The speed test: the student's time against the vectorized reference (interleaved, in two
children) and a line against the loop reference, which a process times once per inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
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


class Recording(Counting):
    """A student's session that keeps the arguments of every call."""

    def call(self, module, function, args=(), kwargs=None, **options):
        self.files.append((function, args))
        return self.session.call(module, function, args, kwargs, **options)


def test_every_repeat_times_inputs_never_sent_before(sessions):
    student, references = sessions
    student = Recording(student)
    spec = detect(EXAMPLE).spec("conv")
    result = speed.run_speed("conv", spec, student, references, 5, 3, 0.0, ())
    assert result.passed and "fresh inputs each time" in result.feedback
    xs = [args[0] for function, args in student.files if function == "conv_forward"]
    douts = [args[0] for function, args in student.files if function == "conv_backward"]
    assert len(xs) == len(douts) == 3
    for arrays in (xs, douts):
        assert all(not np.array_equal(a, b) for i, a in enumerate(arrays) for b in arrays[i + 1:])
    again, _ = speed.speed_inputs("conv", spec, 5, 2)  # the same draw for every submission of a seed
    assert np.array_equal(again.args[0], xs[2])


def test_results_that_are_wrong_on_the_timing_inputs_are_not_timed(tmp_path, sessions):
    _, references = sessions
    cheat = tmp_path / "cheat"
    cheat.mkdir()
    (cheat / "pool.py").write_text((EXAMPLE / "pool.py").read_text() + '''

_right_forward = max_pool_forward


def max_pool_forward(x, pool_param):  # anything, fast, on inputs as large as the speed test's
    if x.size >= 4096:
        out = np.zeros((x.shape[0], x.shape[1], x.shape[2] // 2, x.shape[3] // 2))
        return out, (x, pool_param)
    return _right_forward(x, pool_param)
''')
    with Session(cheat, Limits()) as student:
        spec = detect(cheat).spec("max_pool")
        result = speed.run_speed("max_pool", spec, student, references, 5, 2, 3.0, speed_bands())
    assert result.score == 0 and not result.passed
    assert result.feedback.startswith("not timed: on the timing inputs (repeat 1) the output is wrong")


def speed_bands():
    from grader import config

    return config.load().speed_bands
