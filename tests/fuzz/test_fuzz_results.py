"""Fuzz the result checking (issue 5): random arrays and malformed return
values thrown at ``check_array``, ``rel_error``, ``heatmap`` and a real
``LayerChecker`` (with a fake sandbox session) must never crash it, must
always give one scored TestResult per test, and must never pass a test whose
value was not right."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import grader.config
import grader.layouts
from grader.checks.compare import check_array, heatmap, rel_error
from grader.checks.layers import LayerChecker, Truth
from grader.results import TestResult
from grader.sandbox import FAILURE_KINDS, CallResult

PARTS = ("conv", "max_pool", "avg_pool")
SEED = 7
TOLERANCE = grader.config.load().tolerance
TRUTH = Truth("cpu")

# ---------------------------------------------------------------- strategies

small_shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4)

numeric_dtypes = st.one_of(
    hnp.boolean_dtypes(),
    hnp.integer_dtypes(),
    hnp.unsigned_integer_dtypes(),
    hnp.floating_dtypes(),
    hnp.complex_number_dtypes(),
)
other_dtypes = st.one_of(
    hnp.unicode_string_dtypes(max_len=4),
    hnp.byte_string_dtypes(max_len=4),
    hnp.datetime64_dtypes(),
    hnp.timedelta64_dtypes(),
    st.just(np.dtype([("a", "f8"), ("b", "i4")])),
)


def arrays_of(shape=small_shapes, dtypes=st.one_of(numeric_dtypes, other_dtypes)):
    return hnp.arrays(dtype=dtypes, shape=shape)


object_arrays = st.lists(st.one_of(st.none(), st.integers(), st.text(max_size=3), st.floats()),
                         max_size=6).map(lambda xs: np.array(xs + [None], dtype=object)[:len(xs)])

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=10**30, max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True), st.complex_numbers(), st.text(max_size=8),
    st.binary(max_size=8), st.just(Ellipsis), st.just(float("nan")),
)

junk = st.recursive(
    st.one_of(scalars, arrays_of(), object_arrays),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(st.text(max_size=4), inner, max_size=3),
    ),
    max_leaves=8,
)


def float_arrays(shape):
    """float64 arrays of ``shape`` with NaN, inf and huge or tiny values."""
    return hnp.arrays(np.float64, shape, elements=st.floats(allow_nan=True, allow_infinity=True, width=64))


# ---------------------------------------------------------------- check_array

EXPECTED = np.zeros((2, 3, 4, 4))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=st.one_of(junk, arrays_of(), arrays_of(shape=st.just(EXPECTED.shape)),
                       float_arrays(EXPECTED.shape), float_arrays(st.sampled_from([(2, 3, 4), (3, 2, 4, 4), ()]))))
def test_check_array_never_raises(value):
    message = check_array(value, EXPECTED, "the output")
    ok = (isinstance(value, np.ndarray) and value.dtype == np.float64 and value.shape == EXPECTED.shape
          and bool(np.isfinite(value).all()))
    if ok:
        assert message is None
    else:
        assert isinstance(message, str) and message.startswith("the output")


@settings(max_examples=40, deadline=None)
@given(value=junk, expected_shape=small_shapes)
def test_check_array_any_expected_shape(value, expected_shape):
    message = check_array(value, np.zeros(expected_shape), "dx")
    assert message is None or isinstance(message, str)
    if message is None:
        assert isinstance(value, np.ndarray) and value.dtype == np.float64 and value.shape == expected_shape


# ---------------------------------------------------------------- rel_error, heatmap


@st.composite
def array_pairs(draw, min_side=0):
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=min_side, max_side=30))
    return draw(float_arrays(shape)), draw(float_arrays(shape))


@settings(max_examples=60, deadline=None)
@given(pair=array_pairs())
def test_rel_error_never_raises(pair):
    a, b = pair
    with np.errstate(all="ignore"):
        err = rel_error(a, b)
        self_err = rel_error(a, a.copy())
    assert isinstance(err, float)
    assert not math.isnan(err) and err >= 0.0  # NaN or overflow counts as the worst error: inf, never NaN
    if np.isfinite(a).all():
        assert self_err == 0.0


@settings(max_examples=60, deadline=None)
@given(pair=array_pairs(min_side=1))
def test_heatmap_never_raises_on_non_empty_arrays(pair):
    a, b = pair
    with np.errstate(all="ignore"):
        picture = heatmap(a, b)
    if a.ndim < 2:
        assert picture is None
    if picture is None:
        return
    assert len(picture["cells"]) <= 24 and all(len(row) <= 24 for row in picture["cells"])
    assert len(picture["where"]) == a.ndim - 2
    if np.isfinite(a).all() and np.isfinite(b).all() and np.isfinite(a - b).all():
        # the only inputs LayerChecker gives it: values that passed check_array
        assert math.isfinite(picture["max"]) and picture["max"] > 0
        assert all(0.0 <= v <= 1.0 for row in picture["cells"] for v in row)


@settings(max_examples=40, deadline=None)
@given(pair=array_pairs(min_side=1).filter(lambda p: np.isfinite(p[0]).all() and np.isfinite(p[1]).all()))
def test_heatmap_on_finite_arrays_is_finite(pair):
    a, b = pair
    with np.errstate(all="ignore"):
        if not np.isfinite(a - b).all():
            return
        picture = heatmap(a, b)
    if picture is not None:
        assert math.isfinite(picture["max"]) and picture["max"] > 0


def test_heatmap_of_empty_2d_arrays():
    assert heatmap(np.zeros((0, 0)), np.zeros((0, 0))) is None


def test_heatmap_with_nan():
    picture = heatmap(np.zeros((1, 1)), np.full((1, 1), np.nan))
    assert picture is None or (math.isfinite(picture["max"])
                               and all(math.isfinite(v) for row in picture["cells"] for v in row))


@settings(max_examples=30, deadline=None)
@given(got=arrays_of(shape=st.just((2, 3, 4))))
def test_heatmap_with_any_dtype_of_the_same_shape(got):
    # called on arrays that may fail check_array: any dtype gives a picture or None, never an error
    picture = heatmap(got, np.zeros((2, 3, 4)))
    if got.dtype.kind not in "biuf":
        assert picture is None


def test_heatmap_of_a_complex_array_is_none_without_a_warning():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert heatmap(np.full((2, 2), 1 + 2j), np.zeros((2, 2))) is None


# ---------------------------------------------------------------- LayerChecker with a fake session


def _key(args: tuple) -> tuple:
    parts = []
    for a in args:
        if isinstance(a, np.ndarray):
            parts.append((a.shape, a.tobytes()))
        else:
            parts.append(repr(a))
    return tuple(parts)


FORWARD_MODES = ("correct", "correct_list", "none_cache", "nan", "inf", "float32", "int", "wrong_shape",
                 "swapped", "as_list", "offset", "noise", "scalar", "junk", "junk_pair", "short_tuple",
                 "fail", "raise")
BACKWARD_MODES = ("correct", "correct_list", "nan", "float32", "wrong_shape", "as_list", "partial", "reversed",
                  "noise", "junk", "short_tuple", "fail", "raise")


class FakeSession:
    """Stands for ``grader.sandbox.Session``: each call draws what the
    "student's" function returns from hypothesis; it records, for each call,
    whether what it returned was the right answer."""

    def __init__(self, part: str, data: st.DataObject | None, forward_modes=FORWARD_MODES,
                 backward_modes=BACKWARD_MODES):
        self.part, self.data = part, data
        self.spec = grader.layouts.NATIVE.spec(part)
        self.forward_modes, self.backward_modes = forward_modes, backward_modes
        self.forward_log: list[tuple[tuple, bool]] = []  # (args key, returned the right output)
        self.backward_log: list[tuple[bytes, bool]] = []  # (dout bytes, returned the right gradients)
        self.approx_log: list[tuple[bytes, bool]] = []  # (dout bytes, right values, any float dtype)
        self._alive = True
        self.restarts = 0

    @property
    def alive(self) -> bool:
        return self._alive

    def restart(self) -> None:
        self.restarts += 1
        self._alive = True

    def call(self, module: str, function: str, args: tuple, kwargs: dict | None = None) -> CallResult:
        assert module == self.spec.module
        if self.data is not None and self.data.draw(st.booleans(), label="dies"):
            self._alive = False
        if function == self.spec.forward:
            return self._forward(args)
        assert function == self.spec.backward
        return self._backward(*args)

    def call_each(self, module: str, function: str, calls, timeout_s: float | None = None) -> list[CallResult]:
        """As ``Session.call_each``: the first calls' results as ``call`` gives them (the rest are then
        made one by one by the caller); hypothesis draws whether the request is given up at once."""
        if self.data is not None and self.data.draw(st.booleans(), label="made one by one"):
            return []
        logs = (self.forward_log, self.backward_log, self.approx_log)
        lengths = [len(log) for log in logs]
        made = []
        for args in calls:
            try:
                made.append(self.call(module, function, args))
            except (ValueError, TypeError):  # (the real one raises before any call is made: none was)
                for log, length in zip(logs, lengths):
                    del log[length:]
                raise
            if made[-1].kind in ("timeout", "exit", "crash", "memory", "cpu", "channel", "dead") or not self._alive:
                break  # the last call the child makes
        return made

    def _mode(self, modes, label):
        if self.data is None:
            return "correct"
        return self.data.draw(st.sampled_from(modes), label=label)

    def _common(self, mode, label):
        if mode == "fail":
            kind = self.data.draw(st.sampled_from(FAILURE_KINDS), label=f"{label} kind")
            return CallResult(ok=False, error=f"it failed ({kind})", kind=kind,
                              stdout=self.data.draw(st.text(max_size=300), label="stdout"))
        if mode == "raise":
            raise self.data.draw(st.sampled_from([ValueError("cache from a dead child"), TypeError("bad")]))
        if mode == "junk":
            # a forward (out, cache) pair with a ragged out is left out: see
            # test_numeric_gradient_with_a_ragged_output_bug
            strategy = junk
            return CallResult(ok=True, value=self.data.draw(strategy, label=f"{label} junk"))
        return None

    def _forward(self, args: tuple) -> CallResult:
        mode = self._mode(self.forward_modes, "forward mode")
        out, cache = TRUTH.forward(self.part, None, args)
        right = mode in ("correct", "correct_list", "none_cache")
        self.forward_log.append((_key(args), right))
        common = self._common(mode, "forward")
        if common is not None:
            return common
        d = self.data
        if mode == "correct":
            value = (out, cache)
        elif mode == "correct_list":
            value = [out, cache]
        elif mode == "none_cache":
            value = (out, None)
        elif mode in ("nan", "inf"):
            bad = out.copy()
            index = d.draw(st.integers(0, bad.size - 1), label="bad index")
            bad.flat[index] = np.nan if mode == "nan" else -np.inf
            value = (bad, cache)
        elif mode == "float32":
            value = (out.astype(np.float32), cache)
        elif mode == "int":
            value = (out.astype(np.int64), cache)
        elif mode == "wrong_shape":
            shape = d.draw(st.sampled_from([out.shape[::-1], out.shape[1:], (out.size,), out.shape + (1,)]),
                           label="shape")
            value = (np.resize(out, shape), cache)
        elif mode == "swapped":
            swapped = np.swapaxes(out, 2, 3).copy()
            if swapped.shape == out.shape and _close(swapped, out):  # symmetric output: still right
                self.forward_log[-1] = (self.forward_log[-1][0], True)
            value = (swapped, cache)
        elif mode == "as_list":
            value = (out.tolist(), cache)
        elif mode == "offset":
            value = (out + d.draw(st.floats(1e-3, 1e3), label="offset"), cache)
        elif mode == "noise":
            noisy = out + d.draw(float_arrays(out.shape), label="noise")
            if _close(noisy, out):  # tiny noise: still the right answer
                self.forward_log[-1] = (self.forward_log[-1][0], True)
            value = (noisy, cache)
        elif mode == "scalar":
            value = (np.float64(d.draw(st.floats(), label="scalar")), cache)
        elif mode == "junk_pair":
            # ragged outputs are left out here: see test_numeric_gradient_with_a_ragged_output_bug
            value = (d.draw(st.one_of(arrays_of(), junk), label="junk out"), cache)
        elif mode == "short_tuple":
            value = d.draw(st.sampled_from([(), (out,), (out, cache, None)]), label="tuple")
        else:  # pragma: no cover
            raise AssertionError(mode)
        return CallResult(ok=True, value=value)

    def _backward(self, dout: Any, cache: Any) -> CallResult:
        mode = self._mode(self.backward_modes, "backward mode")
        try:
            grads = TRUTH.backward(self.part, None, dout, cache)
        except Exception as exc:  # a junk cache: the student's code would raise
            self.backward_log.append((_dout_key(dout), False))
            self.approx_log.append((_dout_key(dout), False))
            return CallResult(ok=False, error=f"{type(exc).__name__}: {exc}", kind="exception")
        right = mode in ("correct", "correct_list")
        self.backward_log.append((_dout_key(dout), right))
        # the numeric-gradient test checks values, not the dtype: float32 gradients agree with it
        self.approx_log.append((_dout_key(dout), right or mode == "float32"))
        common = self._common(mode, "backward")
        if common is not None:
            return common
        d = self.data
        conv = self.part == "conv"
        if mode == "correct":
            value = grads if conv else grads[0]
        elif mode == "correct_list":
            value = list(grads) if conv else grads[0]
        elif mode == "nan":
            bad = [g.copy() for g in grads]
            bad[0].flat[0] = np.nan
            value = tuple(bad) if conv else bad[0]
        elif mode == "float32":
            value = tuple(g.astype(np.float32) for g in grads) if conv else grads[0].astype(np.float32)
        elif mode == "wrong_shape":
            value = tuple(g.reshape(-1) for g in grads) if conv else grads[0][0]
        elif mode == "as_list":
            value = tuple(g.tolist() for g in grads) if conv else grads[0].tolist()
        elif mode == "partial":
            bad = [g.copy() for g in grads]
            which = d.draw(st.integers(0, len(bad) - 1), label="which")
            bad[which] = bad[which] * 2 + 1
            value = tuple(bad) if conv else bad[0]
        elif mode == "reversed":
            value = tuple(grads[::-1]) if conv else (grads[0],)
        elif mode == "noise":
            bad = [g + d.draw(float_arrays(g.shape), label="noise") for g in grads]
            if all(_close(b, g) for b, g in zip(bad, grads)):  # tiny noise: still right
                self.backward_log[-1] = (self.backward_log[-1][0], True)
                self.approx_log[-1] = (self.approx_log[-1][0], True)
            value = tuple(bad) if conv else bad[0]
        elif mode == "short_tuple":
            value = d.draw(st.sampled_from([(), tuple(grads[:1]), tuple(grads) + (None,)]), label="tuple")
        else:  # pragma: no cover
            raise AssertionError(mode)
        return CallResult(ok=True, value=value)


def _close(got: np.ndarray, want: np.ndarray) -> bool:
    with np.errstate(all="ignore"):
        return bool(np.isfinite(got).all()) and rel_error(got, want) <= min(TOLERANCE["forward"], TOLERANCE["backward"])


def _dout_key(dout: Any) -> bytes:
    return dout.tobytes() if isinstance(dout, np.ndarray) else repr(dout).encode()


def make_checker(part: str, session: FakeSession) -> LayerChecker:
    return LayerChecker(part, grader.layouts.NATIVE.spec(part), session, SEED, Truth("cpu"), TOLERANCE)


def expected_count(checker: LayerChecker) -> int:
    cases = checker.cases()
    return sum(len(c.kinds) for c in cases)


def check_results(checker: LayerChecker, tests: list[TestResult]) -> None:
    assert len(tests) == expected_count(checker)
    assert all(isinstance(t, TestResult) for t in tests)
    assert len({t.name for t in tests}) == len(tests)
    for t in tests:
        assert t.part == checker.part
        assert t.kind in ("forward", "backward", "numeric-gradient")
        assert t.max_score == 1.0
        assert 0.0 <= t.score <= t.max_score, (t.name, t.score)
        assert isinstance(t.feedback, str) and t.feedback
        assert t.passed == (t.score == t.max_score) or not t.passed


def first(log, key):
    return next((right for k, right in log if k == key), None)


def backward_calls(log, key):
    return [right for k, right in log if k == key]


@pytest.mark.parametrize("part", PARTS)
def test_a_correct_fake_passes_everything(part):
    session = FakeSession(part, None)
    checker = make_checker(part, session)
    tests = checker.run()
    check_results(checker, tests)
    assert all(t.passed for t in tests), [(t.name, t.feedback) for t in tests if not t.passed]


@pytest.mark.parametrize("part", PARTS)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_layer_checker_survives_malformed_returns(part, data):
    session = FakeSession(part, data)
    checker = make_checker(part, session)
    with np.errstate(all="ignore"):
        tests = checker.run()
    check_results(checker, tests)
    by_name = {t.name: t for t in tests}
    label = {"numeric-gradient": "numeric gradient"}
    for case in checker.cases():
        inputs = checker.inputs(case)
        forward = by_name[f"{part} forward: {case.name}"]
        if forward.passed:
            assert first(session.forward_log, _key(inputs.args)) is True, forward.feedback
        expected_out, _ = TRUTH.forward(part, None, inputs.args)
        dout_key = _dout_key(checker.runs[checker.cases().index(case)].inputs.dout) \
            if checker.runs[checker.cases().index(case)].inputs.dout is not None else None
        calls = backward_calls(session.backward_log, dout_key) if dout_key is not None else []
        if "backward" in case.kinds:
            backward = by_name[f"{part} backward: {case.name}"]
            if backward.passed:
                assert calls and calls[0] is True, backward.feedback
            else:
                assert backward.score < 1.0
        if "numeric-gradient" in case.kinds:
            numeric = by_name[f"{part} {label['numeric-gradient']}: {case.name}"]
            if numeric.passed:
                # the numeric check's backward call is the last with this dout
                approx = backward_calls(session.approx_log, dout_key) if dout_key is not None else []
                assert approx and approx[-1] is True, numeric.feedback


class RaggedForward(FakeSession):
    """A right forward and backward, except that the first forward call returns
    ``([None, []], cache)``: a ragged list as the output."""

    def __init__(self, part):
        super().__init__(part, None)

    def _forward(self, args):
        result = super()._forward(args)
        if len(self.forward_log) == 1:
            return CallResult(ok=True, value=([None, []], result.value[1]))
        return result


def test_numeric_gradient_with_a_ragged_output():
    checker = make_checker("avg_pool", RaggedForward("avg_pool"))
    tests = checker.run()
    check_results(checker, tests)
