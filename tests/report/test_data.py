"""Gradescope's results.json and the JSON report."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings, strategies as st

from grader.report import to_gradescope, to_json
from grader.report.data import _dumps, to_json_and_gradescope
from grader.results import PARTS, Report, TestResult

TOP = {"score", "max_score", "execution_time", "output", "output_format", "stdout_visibility", "tests"}
TEST = {"name", "score", "max_score", "status", "output", "tags", "visibility"}


def test_gradescope_has_exactly_the_schema_fields_and_types(report):
    data = json.loads(to_gradescope(report))
    assert set(data) == TOP
    for key in ("score", "max_score", "execution_time"):
        assert isinstance(data[key], (int, float)) and not isinstance(data[key], bool)
    assert isinstance(data["output"], str) and data["output"]
    assert data["output_format"] == "text" and data["stdout_visibility"] == "hidden"
    assert len(data["tests"]) == len(report.tests)
    for entry, test in zip(data["tests"], report.tests):
        assert set(entry) == TEST
        assert entry["name"] == test.name
        assert isinstance(entry["score"], float) and isinstance(entry["max_score"], float)
        assert entry["status"] in ("passed", "failed") and entry["status"] == test.status
        assert isinstance(entry["output"], str)
        assert entry["visibility"] == "visible"


def test_gradescope_tags_are_part_and_kind(report):
    data = json.loads(to_gradescope(report))
    kinds = set()
    for entry in data["tests"]:
        part, kind = entry["tags"]
        assert part in PARTS
        kinds.add(kind)
    assert kinds == {"forward", "backward", "numeric-gradient", "speed", "integrity"}


def test_gradescope_statuses(report):
    data = json.loads(to_gradescope(report))
    statuses = {e["name"]: e["status"] for e in data["tests"]}
    assert statuses["conv backward: basic"] == "failed"  # partial credit is not a pass
    assert statuses["conv speed"] == "passed"  # half the points, but details say it passed
    assert statuses["max_pool speed"] == "passed"  # zero-point test


def test_gradescope_scores_sum_and_are_rounded(report):
    data = json.loads(to_gradescope(report))
    assert math.isclose(sum(e["score"] for e in data["tests"]), data["score"], abs_tol=1e-3)
    assert math.isclose(sum(e["max_score"] for e in data["tests"]), data["max_score"])
    assert data["score"] == 5.1667 and data["max_score"] == 10
    assert next(e["score"] for e in data["tests"] if e["name"] == "conv backward: basic") == 0.6667
    assert data["execution_time"] == 12.346


def test_gradescope_output_summarises(report):
    output = json.loads(to_gradescope(report))["output"]
    assert "5.17 / 10 (51.7%)" in output
    assert "seed 1234: rerun with --seed 1234" in output
    assert "conv: 3.17 / 5" in output


def test_json_adds_the_extras(report):
    data = json.loads(to_json(report))
    assert TOP <= set(data)
    assert data["seed"] == 1234 and data["layout"] == "native" and data["device"] == "cpu"
    assert data["percent"] == 51.6667
    assert data["notes"] == list(report.notes)
    assert data["protections"]["rlimits"] == {"RLIMIT_AS": True, "RLIMIT_CPU": True}
    for entry, test in zip(data["tests"], report.tests):
        assert TEST <= set(entry)
        assert entry["part"] == test.part and entry["kind"] == test.kind
        assert isinstance(entry["details"], dict)


def test_json_details_are_made_json_safe(report):
    data = json.loads(to_json(report))
    details = {e["name"]: e["details"] for e in data["tests"]}
    assert details["conv forward: basic"]["rel_error"] == 2.1e-9  # numpy scalar
    backward = details["conv backward: basic"]
    assert backward["shape"] == [3, 4]  # tuple
    assert backward["array"] == [0.0, 1.0, 2.0, 3.0]  # ndarray
    assert "bad" not in backward  # an object with no JSON form is dropped
    assert backward["nan"] is None  # strict JSON has no NaN
    assert details["conv speed"]["speed"]["student_s"] == 0.0123
    assert len(details["conv forward: stride 2, pad 1"]["heatmap"]["cells"]) == 6


def test_json_is_strict():
    test = TestResult("conv forward: a", "conv", "forward", 1.0, 0.0, "x",
                      {"inf": float("inf"), "nested": {"deep": [float("-inf"), {1, 2}]}, 3: "int key"})
    text = to_json(Report("s", 1, [test]))
    json.loads(text, parse_constant=lambda name: (_ for _ in ()).throw(AssertionError(name)))
    details = json.loads(text)["tests"][0]["details"]
    assert details == {"inf": None, "nested": {"deep": [None, [1, 2]]}, "3": "int key"}


def test_empty_report_is_valid():
    data = json.loads(to_gradescope(Report("s", 1)))
    assert data["tests"] == [] and data["score"] == 0 and data["max_score"] == 0


# JSON as the reports hold it: every value json.dumps writes (text of any code point, floats of any size)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_the_reports_json_is_written_as_json_dumps_writes_it(value):
    assert _dumps(value) == json.dumps(value, indent=2, allow_nan=False) + "\n"


@pytest.mark.parametrize("value", [{"x": float("nan")}, [float("inf")], {"k": -float("inf")}, {1: "int key"},
                                   {None: 1}, {"s": {1, 2}}, {"b": b"bytes"}, [object()]])
def test_what_the_fast_writer_leaves_to_json_dumps_comes_out_as_json_dumps_makes_it(value):
    """Non-finite floats, keys that are not str and values that are not JSON: json.dumps's text or error."""
    try:
        want = json.dumps(value, indent=2, allow_nan=False) + "\n"
    except (ValueError, TypeError) as exc:
        with pytest.raises(type(exc), match=str(exc)):
            _dumps(value)
    else:
        assert _dumps(value) == want


def test_one_pass_gives_both_reports(report):
    assert to_json_and_gradescope(report) == (to_json(report), to_gradescope(report))
    empty = Report("s", 1)
    assert to_json_and_gradescope(empty) == (to_json(empty), to_gradescope(empty))
