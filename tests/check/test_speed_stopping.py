"""The speed test stops repeating once the repeats left cannot change the score (``speed.decided``),
and times the loop reference on one sample of the batch.  Scores are compared with what every
repeat would have given, computed here from the medians of all of them; the timings are scripted
(stand-in sessions that run the references in this process and report the wall times a test
gives), so that no test depends on this machine's speed."""

from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.checks import speed
from grader.config import SpeedBand
from grader.layouts import detect
from grader.parts import registry
from grader.sandbox import CallResult, Limits, Session

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "submission"
BANDS = (SpeedBand(5.0, 1.0), SpeedBand(50.0, 0.5))  # the default assignment's


def full_fraction(student: list[float], fast: list[float], bands) -> float:
    """The score's fraction with every repeat run: the best band that holds the ratio of the medians."""
    ratio = statistics.median(student) / statistics.median(fast)
    return max((b.fraction for b in bands if ratio <= b.ratio), default=0.0)


times = st.floats(min_value=1e-4, max_value=1.0, allow_nan=False)
band_lists = st.lists(st.builds(SpeedBand, st.floats(0.5, 200.0), st.sampled_from([0.25, 0.5, 0.75, 1.0])),
                      min_size=1, max_size=3)


@settings(max_examples=400, deadline=None)
@given(st.integers(1, 9).flatmap(lambda n: st.tuples(st.lists(times, min_size=n, max_size=n),
                                                     st.lists(times, min_size=n, max_size=n))), band_lists)
def test_stopping_early_never_gives_another_score_than_every_repeat(pair, bands):
    student, fast = pair
    n = len(student)
    for k in range(1, n + 1):
        if speed.decided(student[:k], fast[:k], n, 3.0, bands):
            early = full_fraction(student[:k], fast[:k], bands)
            assert early == full_fraction(student, fast, bands), (k, n)
            assert k >= min(speed.MIN_REPEATS, n) and k > n // 2
            return
    pytest.fail("never decided, even with every repeat known")


def test_without_points_the_minimum_of_repeats_runs():
    assert not speed.decided([1.0, 1.0], [1.0, 1.0], 5, 0.0, BANDS)
    assert speed.decided([1.0] * 3, [1.0] * 3, 5, 0.0, BANDS)
    assert not speed.decided([1.0] * 2, [1.0] * 2, 3, 0.0, BANDS)  # fewer asked than the minimum: all of them


# ---------------------------------------------------------------- run_speed with scripted timings


class Scripted:
    """A session stand-in: runs the references in this process and says each call took the
    seconds ``walls`` gives it, one after the other (a repeat: forward then backward)."""

    def __init__(self, walls, wrong_after: int | None = None, loops_s: float | None = None):
        self.walls, self.loops_s = list(walls), loops_s  # (the loop reference's calls take loops_s each)
        self.alive = True
        self.calls: list[tuple[str, str, tuple]] = []
        self.wrong_after = wrong_after  # a student's results go wrong from this forward call on

    def _run(self, module: str, function: str, args) -> CallResult:
        import importlib

        self.calls.append((module, function, args))
        value = getattr(importlib.import_module(module), function)(*args)
        forwards = sum(1 for _, f, _ in self.calls if f.endswith("_forward"))
        if self.wrong_after is not None and function.endswith("_forward") and forwards > self.wrong_after:
            value = (value[0] + 1.0, value[1])
        return CallResult(True, value=value, wall_s=self.loops_s if module.endswith("loops") else self.walls.pop(0))

    def call(self, module, function, args=(), kwargs=None, **options) -> CallResult:
        return self._run("grader.reference.numpy_fast", function, args)  # a correct submission

    def call_trusted(self, path, function, args=(), kwargs=None, **options) -> CallResult:
        return self._run(f"grader.reference.{Path(path).stem}", function, args)

    def restart(self) -> None:
        pass


@pytest.fixture(autouse=True)
def timed_here(monkeypatch):
    """Nothing shared with other tests of this process: every timing of the references is made anew."""
    monkeypatch.setattr(speed, "_LOOPS", {})
    monkeypatch.setattr(speed, "_FAST", None)


def scripted_run(part: str, student_s: list[float], fast_s: list[float], points: float, loops_s: float = 0.01,
                 repeats: int | None = None, wrong_after: int | None = None):
    """run_speed on seed 3 with these per-repeat times (forward + backward, split evenly)."""
    repeats = repeats or len(student_s)
    student = Scripted([t / 2 for t in student_s for _ in (0, 1)], wrong_after)
    references = Scripted([t / 2 for t in fast_s for _ in (0, 1)], loops_s=loops_s / 2)
    spec = detect(EXAMPLE).spec(part)
    result = speed.run_speed(part, spec, student, references, 3, repeats, points, BANDS)
    return result, student, references


@pytest.mark.parametrize("part, student_s, fast_s, runs", [
    ("conv", [0.02, 0.021, 0.019, 0.5, 0.5], [0.001] * 5, 3),  # a slow correct submission: 20x, half the points
    ("max_pool", [0.0011, 0.0012, 0.001, 1e-4, 1e-4], [0.001] * 5, 3),  # as fast as the reference: all of them
    ("avg_pool", [0.2, 0.3, 0.25, 1e-4, 1e-4], [0.001] * 5, 3),  # far too slow: none
    ("conv", [0.004, 0.006, 0.0049, 0.0052, 0.0051], [0.001] * 5, 5),  # near 5x: every repeat
    ("max_pool", [0.049, 0.051, 0.05, 0.0502, 0.0498], [0.001] * 5, 5),  # near 50x: every repeat
])
def test_scores_are_those_of_every_repeat_on_correct_and_slow_submissions(part, student_s, fast_s, runs):
    result, student, _ = scripted_run(part, student_s, fast_s, 3.0)
    assert result.passed
    assert result.details["speed"]["repeats"] == runs
    assert len([c for c in student.calls if c[1].endswith("_forward")]) == runs
    assert result.score == pytest.approx(3.0 * full_fraction(student_s, fast_s, BANDS))
    if runs < 5:
        assert f"median of {runs} (the other {5 - runs} repeats could not change the score)" in result.feedback
    else:
        assert "median of 5, fresh inputs" in result.feedback


def test_a_submission_wrong_on_the_timing_inputs_is_still_caught_where_the_repeats_run():
    result, _, _ = scripted_run("max_pool", [0.001] * 5, [0.001] * 5, 3.0, wrong_after=1)
    assert not result.passed and result.score == 0
    assert result.feedback.startswith("not timed: on the timing inputs (repeat 2) the output is wrong")


def test_the_loop_reference_is_timed_on_one_sample_and_scaled_to_the_batch():
    result, _, references = scripted_run("conv", [0.002] * 3, [0.001] * 3, 0.0, loops_s=0.03)
    loops = [(f, args) for module, f, args in references.calls if module.endswith("numpy_loops")]
    assert [f for f, _ in loops] == ["conv_forward", "conv_backward"]
    x, dout = loops[0][1][0], loops[1][1][0]
    assert x.shape[0] == 1 and dout.shape[0] == 1  # the first sample of the speed test's batch of 4
    timed_x, _ = speed.speed_inputs("conv", detect(EXAMPLE).spec("conv"), 3, 0)
    assert timed_x.args[0].shape[0] == 4 and np.array_equal(x[0], timed_x.args[0][0])
    assert result.details["speed"]["loops_s"] == pytest.approx(4 * 0.03)  # its loops run once per sample
    assert "faster than the loop reference" in result.feedback


def test_the_loop_references_time_grows_with_the_batch(tmp_path):
    """What the scaling rests on, checked on the loop reference itself: its result on a batch is its
    results on each sample (so each sample is a run of its loops of its own), for every part."""
    from grader.reference import numpy_loops

    for part in ("conv", "max_pool", "avg_pool"):
        layer = registry()[part]
        inputs, dout = speed.speed_inputs(layer, detect(EXAMPLE).spec(part), 5, 0)
        forward, backward = getattr(numpy_loops, f"{part}_forward"), getattr(numpy_loops, f"{part}_backward")
        whole, cache = forward(*inputs.args)
        x, *rest = inputs.args
        for i in range(x.shape[0]):
            one, one_cache = forward(x[i:i + 1], *rest)
            np.testing.assert_allclose(one, whole[i:i + 1])
            grads = backward(dout[i:i + 1], one_cache)
            first = grads[0] if isinstance(grads, tuple) else grads
            every = backward(dout, cache)
            np.testing.assert_allclose(first, (every[0] if isinstance(every, tuple) else every)[i:i + 1])


def test_the_example_in_a_sandbox_stops_at_the_minimum_without_points(tmp_path):
    """The whole path, sandbox children and all: the shipped (correct) example, no speed points."""
    empty = tmp_path / "empty"
    empty.mkdir()
    spec = detect(EXAMPLE).spec("avg_pool")
    with Session(EXAMPLE, Limits()) as student, Session(empty, Limits()) as references:
        result = speed.run_speed("avg_pool", spec, student, references, 11, 5, 0.0, BANDS)
    assert result.passed and result.score == 0.0
    assert result.details["speed"]["repeats"] == speed.MIN_REPEATS
    assert result.details["speed"]["loops_s"] > 0
