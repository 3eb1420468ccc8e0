"""Fuzz ``quiz grade`` (issue 5): malformed responses CSVs must give either a
clear InputFileError (empty file, or no header row with a student_id column)
or exactly one graded row per non-blank response row, with every score in
range, and a gradebook that reads back with as many rows; single responses
of any shape must never crash a problem's grader."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grader.csvcells import neutralise
from grader.errors import InputFileError
from grader.problems import all_problems
from grader.quiz import generate, grade_responses, write_grades

import numpy as np

FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("quiz")
    generate(base / "shared", count=4, seed=1, kinds=["json"])
    roster = base / "roster.csv"
    roster.write_text("student_id,name\ns1,A\ns2,B\ns3,C\n")
    generate(base / "roster", count=4, seed=1, roster=roster, kinds=["json"])
    return {"shared": base / "shared" / "key.json", "roster": base / "roster" / "key.json"}


# ---------------------------------------------------------------- CSV strategies

QIDS = ["q1", "q2", "q3", "q4", "q1.params", "q4.output_shape", "q9"]
weird_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)
cells = st.one_of(
    st.sampled_from(["", " ", "s1", "s2", "s3", "55", "1; 2; 3", "[[0,0],[0,1]]", '"', '""', ",", "\n", "\r\n",
                     "\x00", "\ufeff", "é", "😀", "x" * 500, "null", "NaN", "1e999", "-0", "(3, 4, 4)"]),
    weird_text,
)
column_names = st.one_of(st.sampled_from(["student_id", " student_id ", "Student_ID", "\ufeffstudent_id", ""] + QIDS),
                         weird_text)


@st.composite
def csv_texts(draw) -> str:
    header = draw(st.lists(column_names, min_size=0, max_size=7))
    if draw(st.booleans()):
        header.insert(draw(st.integers(0, len(header))), "student_id")
    rows = [header]
    for _ in range(draw(st.integers(0, 8))):
        if draw(st.integers(0, 5)) == 0:
            rows.append([])  # an empty line
            continue
        width = draw(st.integers(0, len(header) + 2))  # missing and extra cells
        rows.append([draw(cells) for _ in range(width)])
    buffer = io.StringIO()
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONE]))
    terminator = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    writer = csv.writer(buffer, quoting=quoting, escapechar="\\", lineterminator=terminator)
    fallback = csv.writer(buffer, lineterminator=terminator)
    for row in rows:
        try:
            writer.writerow(row)
        except csv.Error:  # QUOTE_NONE cannot write a lone empty field
            fallback.writerow(row)
    text = buffer.getvalue()
    if draw(st.booleans()):  # a stray fragment somewhere: an unbalanced quote, a NUL, a BOM
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(['"', "\x00", "\ufeff", "\n\n", ",,,", "\r"])) + text[at:]
    return text


@st.composite
def csv_files(draw) -> bytes:
    kind = draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "bytes", "utf-8"]))
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    text = draw(csv_texts())
    data = text.encode(kind, errors="replace")
    if kind == "latin-1" and draw(st.booleans()):
        data += "é,ü\n".encode("latin-1")  # not UTF-8 at all
    return data


def decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def expected_rows(raw: bytes) -> int | None:
    """Response rows the grader must grade, or None when it must refuse the file."""
    rows = list(csv.reader(io.StringIO(decode(raw), newline="")))
    if not rows or "student_id" not in [h.strip() for h in rows[0]]:
        return None
    return sum(1 for cells in rows[1:] if any(c.strip() for c in cells))


def check_grading(key: Path, raw: bytes, folder: Path) -> None:
    responses = folder / "responses.csv"
    responses.write_bytes(raw)
    want = expected_rows(raw)
    try:
        result = grade_responses(key, responses)
    except InputFileError:
        assert want is None, f"refused a file with a student_id header and {want} row(s)"
        return
    assert want is not None, "graded a file with no student_id header"
    assert len(result.rows) == want
    for row in result.rows:
        assert 0.0 <= row.score <= row.max_score + 1e-9, (row.student_id, row.score, row.max_score)
        for qid, points in row.points.items():
            assert points >= 0.0 and math.isfinite(points)
        for grade in row.grades.values():
            assert 0.0 <= grade.score <= 1.0
    assert isinstance(result.summary(), str)
    out = write_grades(result, folder / "out" / "grades.csv")
    with open(out, newline="", encoding="utf-8") as handle:
        back = list(csv.reader(handle))
    assert len(back) == len(result.rows) + 1
    assert back[0][:3] == ["student_id", "score", "max_score"]
    # text a spreadsheet would run as a formula comes back behind an apostrophe (grader.csvcells)
    assert [r[0] for r in back[1:]] == [neutralise(r.student_id) for r in result.rows]


@FUZZ
@given(raw=csv_files())
def test_grade_malformed_csv_shared_key(keys, tmp_path, raw):
    check_grading(keys["shared"], raw, tmp_path)


@settings(FUZZ, max_examples=40)
@given(raw=csv_files())
def test_grade_malformed_csv_roster_key(keys, tmp_path, raw):
    check_grading(keys["roster"], raw, tmp_path)


@pytest.mark.parametrize("raw", [
    b"",
    b"\xef\xbb\xbf",
    b"\n\n",
    b"name,q1\ns1,55\n",
    b"student_id\n",
    b"student_id,q1\n\n,,\n  ,\n",
    b"student_id,q1,q1\ns1,1,2\ns1,3\n,55\n",
    b"\xef\xbb\xbfstudent_id,q1\ns1,55\n",
    b"student_id,q1\ns1,\"unterminated\n",
    b"student_id,q1\ns\x00 1,5\x005\n",
    "student_id,q1\ns\u00e9,55\n".encode("latin-1"),
    b"student_id,q2,q3\ns2," + b"9" * 5000 + b",[[1]]\n",
])
def test_grade_known_awkward_files(keys, tmp_path, raw):
    check_grading(keys["shared"], raw, tmp_path)
    check_grading(keys["roster"], raw, tmp_path)


def test_one_over_long_cell_loses_no_row(keys, tmp_path):
    raw = b"student_id,q1\ns1," + b"5" * (131072 + 10) + b"\ns2,55\n"
    responses = tmp_path / "responses.csv"
    responses.write_bytes(raw)
    result = grade_responses(keys["shared"], responses)
    assert [r.student_id for r in result.rows] == ["s1", "s2"]


# ---------------------------------------------------------------- single responses

PROBLEMS = all_problems()

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.integers(min_value=10**20, max_value=10**400),
              st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20)),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=10,
)


def _params(problem, seed: int):
    return problem.sample(np.random.default_rng(seed))


@pytest.mark.parametrize("problem", PROBLEMS, ids=lambda p: p.name)
@settings(max_examples=40, deadline=None)
@given(response=st.one_of(st.text(), json_values, json_values.map(json.dumps)), seed=st.integers(0, 3))
def test_problem_grade_never_raises(problem, response, seed):
    params = _params(problem, seed)
    grade = problem.grade(params, response)
    assert 0.0 <= grade.score <= 1.0
    assert grade.status in ("correct", "partial", "wrong", "invalid", "blank")
    assert isinstance(grade.feedback, str)


@pytest.mark.parametrize("problem", PROBLEMS, ids=lambda p: p.name)
@settings(max_examples=20, deadline=None)
@given(data=st.data(), seed=st.integers(0, 3))
def test_problem_grade_mangled_right_answer(problem, data, seed):
    """The right answer with its text cut, padded or with characters inserted."""
    params = _params(problem, seed)
    right = problem.solve(params)
    assert problem.grade(params, right).score == 1.0
    text = json.dumps(right) if not isinstance(right, str) else right
    at = data.draw(st.integers(0, len(text)))
    mangled = data.draw(st.sampled_from([text[:at], text[:at] + data.draw(st.text(max_size=5)) + text[at:],
                                         " " + text + " ;", text.replace(",", ";"), text * 2]))
    grade = problem.grade(params, mangled)
    assert 0.0 <= grade.score <= 1.0
