"""quiz grade: tolerant reading (every spelling people type, any usual CSV
dialect), per-question feedback that names the mistake, each mistake once in
the summary, one output row per response row whatever it holds, unreadable
answers kept apart for review, warnings about the file, CSV cells that cannot
run as formulas, and clear errors for unreadable files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from grader.problems import get
from grader.quiz.grade import grade_responses


def write_key(folder: Path, questions: list[dict]) -> Path:
    path = folder / "key.json"
    path.write_text(json.dumps({"seed": 1, "questions": questions}))
    return path


QUESTIONS = [
    {"id": "q1", "problem": "conv-output-size", "params": {"input_size": 227, "kernel_size": 11, "stride": 4}, "answer": 55},
    {"id": "q2", "problem": "im2col-shape",
     "params": {"input_size": 227, "in_channels": 3, "kernel_size": 11, "stride": 4, "padding": 0, "out_channels": 96},
     "answer": {"X_col": [363, 3025], "W_row": [96, 363], "product": [96, 3025]}},
    {"id": "q3", "problem": "pool-backprop",
     "params": {"input": [[1, 3], [2, 4]], "kind": "max", "kernel_size": 2, "upstream": [[1]]},
     "answer": [[0, 0], [0, 1]]},
    {"id": "q4", "problem": "conv-params", "params": {"in_channels": 3, "out_channels": 10, "kernel_size": 3}, "answer": 280},
]


def read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def grade(tmp_path, run_cli, rows: str):
    key = write_key(tmp_path, QUESTIONS)
    responses = tmp_path / "responses.csv"
    responses.write_text(rows)
    r = run_cli("quiz", "grade", "--key", str(key), str(responses), "--out", str(tmp_path / "grades.csv"))
    assert r.code == 0, r.err
    return r, read(tmp_path / "grades.csv")


def test_tolerant_reading_of_what_people_type(tmp_path, run_cli):
    rows = (
        "student_id,q1,q2,q3,q4\n"
        's1, 55 ,"X_col=(363, 3025); W_row=96x363; product=[96, 3025]","[[0,0],[0,1]]",280\n'
        's2,55.0,"363x3025; 96 x 363; 96×3025","0 0; 0 1","280"\n'
    )
    _, out = grade(tmp_path, run_cli, rows)
    assert [r["score"] for r in out] == ["4", "4"]
    assert all(r["max_score"] == "4" for r in out)
    assert list(out[0])[:5] == ["student_id", "score", "max_score", "q1_points", "q1_feedback"]


def test_wrong_answers_name_the_misconception(tmp_path, run_cli):
    rows = "student_id,q1,q2,q3,q4\ns1,54,\"121x3025; 96x121; 96x3025\",\"[[0.25,0.25],[0.25,0.25]]\",270\n"
    r, out = grade(tmp_path, run_cli, rows)
    row = out[0]
    assert "forgot the +1" in row["q1_feedback"]
    assert "channel" in row["q2_feedback"]
    assert float(row["q2_points"]) == pytest.approx(1 / 3, abs=1e-3)
    assert row["q3_points"] == "0"
    assert "forgot the bias" in row["q4_feedback"]
    assert "most common mistakes" in r.out and "forgot the +1" in r.out


def test_blank_garbage_and_odd_rows_are_scored_not_dropped(tmp_path, run_cli):
    rows = (
        "student_id,q1,q2,q3,q4,comment\n"
        "s1,,,,,\n"
        "s2,fifty-five,{{{{,[[1,2],[3]],NaN,hello\n"
        ",55,,,,\n"
        "s1,55,,,,\n"
        "s3,55\n"  # short row
        "\n"
    )
    r, out = grade(tmp_path, run_cli, rows)
    assert [row["student_id"] for row in out] == ["s1", "s2", "", "s1", "s3"]
    assert out[0]["score"] == "0" and out[0]["q1_feedback"] == "no answer given"
    assert out[1]["score"] == "0" and "could not read" in out[1]["q1_feedback"]
    assert "no student_id" in out[2]["note"] and out[2]["score"] == "1"
    assert "duplicate student_id: also on line(s) 2" in out[3]["note"]
    assert "duplicate student_id: also on line(s) 5" in out[0]["note"]
    assert out[4]["score"] == "1"
    assert "could not be read" in r.out


def test_per_student_keys_and_unknown_students(tmp_path, run_cli):
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id\nann\nben\n")
    r = run_cli("quiz", "generate", "--count", "3", "--seed", "5", "--roster", str(roster), "--format", "json",
                "--out", str(tmp_path / "q"))
    assert r.code == 0
    key = json.loads((tmp_path / "q" / "key.json").read_text())
    ann = key["students"]["ann"]["questions"]
    from grader.problems import get

    cells = [json.dumps(q["answer"]) if not isinstance(q["answer"], (int, str)) else str(q["answer"]) for q in ann]
    responses = tmp_path / "responses.csv"
    with open(responses, "w", newline="") as handle:
        w = csv.writer(handle)
        w.writerow(["student_id", "q1", "q2", "q3"])
        w.writerow(["ann", *cells])
        w.writerow(["ben", *cells])
        w.writerow(["zoe", *cells])
    result = grade_responses(tmp_path / "q" / "key.json", responses)
    by_id = {row.student_id: row for row in result.rows}
    assert by_id["ann"].score == 3
    assert by_id["zoe"].score == 0 and "no quiz variant" in by_id["zoe"].note
    assert get(ann[0]["problem"])  # a real problem type


def test_multi_part_answers_in_columns_of_their_own(tmp_path):
    key = write_key(tmp_path, QUESTIONS[1:2])
    responses = tmp_path / "r.csv"
    responses.write_text("student_id,q2.X_col,q2.W_row,q2.product\ns1,363x3025,96x363,96x3025\n")
    result = grade_responses(key, responses)
    assert result.rows[0].score == 1


@pytest.mark.parametrize(
    "setup, message",
    [
        (lambda d: None, "cannot read key"),
        (lambda d: (d / "key.json").write_text("{not json"), "not a JSON file"),
        (lambda d: (d / "key.json").write_text('{"seed": 1}'), "needs 'questions' or 'students'"),
        (lambda d: (d / "key.json").write_text('{"questions": [{"id": "q1", "problem": "nope", "params": {}}]}'),
         "unknown problem 'nope'"),
    ],
)
def test_bad_keys_exit_2_with_one_line(tmp_path, run_cli, setup, message):
    setup(tmp_path)
    (tmp_path / "r.csv").write_text("student_id,q1\ns1,1\n")
    r = run_cli("quiz", "grade", "--key", str(tmp_path / "key.json"), str(tmp_path / "r.csv"), "--out", str(tmp_path / "g.csv"))
    assert r.code == 2 and message in r.err and len(r.err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "content, message",
    [(None, "cannot read responses"), ("", "the file is empty"), ("name,q1\nx,1\n", "'student_id' column")],
)
def test_bad_responses_exit_2_with_one_line(tmp_path, run_cli, content, message):
    key = write_key(tmp_path, QUESTIONS)
    if content is not None:
        (tmp_path / "r.csv").write_text(content)
    r = run_cli("quiz", "grade", "--key", str(key), str(tmp_path / "r.csv"), "--out", str(tmp_path / "g.csv"))
    assert r.code == 2 and message in r.err and len(r.err.strip().splitlines()) == 1
    assert not (tmp_path / "g.csv").exists()


def test_the_summary_lists_tied_mistakes_in_a_stable_order(tmp_path):
    # a set of feedback strings used to decide the order of ties: it changed with PYTHONHASHSEED
    key = write_key(tmp_path, QUESTIONS)
    responses = tmp_path / "r.csv"
    responses.write_text("student_id,q1,q2,q3,q4\ns1,54,,,270\n")
    mistakes = grade_responses(key, responses).common_mistakes()
    assert [n for _, n in mistakes] == [1, 1]
    assert [text for text, _ in mistakes] == sorted(text for text, _ in mistakes)


# ---------------------------------------------------------------- issue 14: what people type, and the file

SIDE_37 = {"id": "q1", "problem": "conv-output-size", "params": {"input_size": 75, "kernel_size": 3, "stride": 2},
           "answer": 37}  # floor((75 - 2 - 1) / 2) + 1 = 37


def grade_side(folder: Path, typed: str):
    """The grade of ``typed`` as the answer to SIDE_37, through a responses CSV."""
    key = write_key(folder, [SIDE_37])
    responses = folder / "r.csv"
    with open(responses, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["student_id", "q1"], ["s1", typed]])
    return grade_responses(key, responses).rows[0].grades["q1"]


@pytest.mark.parametrize("typed", ["37x37", "(37,37)", "37 × 37", "37 px", "'37", "\u200b37", "３７", "37.0", " 37 ",
                                   "37,0", "37X37 px", "\ufeff37", "(37, 37)"])
def test_every_spelling_of_a_side_is_read(tmp_path, typed):
    # these scored 0 as unreadable: a square map's side typed as its shape, with a unit, behind
    # Excel's apostrophe or a zero-width space, in full-width digits
    assert grade_side(tmp_path, typed).score == 1


@pytest.mark.parametrize("typed", ["37x36", "thirty-seven", "37 parsecs"])
def test_what_is_not_one_number_stays_unreadable(tmp_path, typed):
    grade = grade_side(tmp_path, typed)
    assert grade.status == "invalid" and grade.score == 0


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_a_csv_with_another_delimiter_is_read(tmp_path, run_cli, delimiter):
    # a spreadsheet in a comma-decimal locale writes ';': this failed with "needs a student_id column"
    key = write_key(tmp_path, QUESTIONS)
    responses = tmp_path / "r.csv"
    with open(responses, "w", newline="") as handle:
        csv.writer(handle, delimiter=delimiter).writerows([
            ["student_id", "q1", "q2", "q3", "q4"],
            ["s1", "55", "363x3025, 96x363, 96x3025", "0 0; 0 1", "0,5e3"],
            ["s2", "54", "", "", "280"],
        ])
    r = run_cli("quiz", "grade", "--key", str(key), str(responses), "--out", str(tmp_path / "g.csv"))
    assert r.code == 0, r.err
    out = read(tmp_path / "g.csv")
    assert [row["score"] for row in out] == ["3", "1"]  # 0,5e3 is no number of parameters: unreadable


def test_unknown_columns_are_named_in_a_warning(tmp_path, run_cli):
    key = write_key(tmp_path, QUESTIONS)
    responses = tmp_path / "r.csv"
    responses.write_text("student_id,name,Q1,q2.X_col,q2.W_row,q2.product,q9,comment,q2.bogus\n"
                         "s1,Ada,55,363x3025,96x363,96x3025,1,hi,x\n")
    r = run_cli("quiz", "grade", "--key", str(key), str(responses), "--out", str(tmp_path / "g.csv"))
    assert r.code == 0, r.err
    warning = next(line for line in r.out.splitlines() if line.startswith("warning: column"))
    assert "'q9'" in warning and "'comment'" in warning and "'q2.bogus'" in warning
    assert "'name'" not in warning and "'Q1'" not in warning  # a roster column; a question id in capitals
    assert read(tmp_path / "g.csv")[0]["score"] == "2"  # Q1 and the q2.* columns graded


def test_a_duplicate_student_id_is_flagged_as_such(tmp_path, run_cli):
    key = write_key(tmp_path, QUESTIONS)
    responses = tmp_path / "r.csv"
    responses.write_text("student_id,q1\ns1,55\ns2,55\ns1,54\n")
    r = run_cli("quiz", "grade", "--key", str(key), str(responses), "--out", str(tmp_path / "g.csv"))
    out = read(tmp_path / "g.csv")
    assert [row["student_id"] for row in out] == ["s1", "s2", "s1"]
    assert "duplicate student_id" in out[0]["note"] and "duplicate student_id" in out[2]["note"]
    assert out[1]["note"] == ""
    assert "warning: duplicate student_id 's1' on lines 2, 4" in r.out


def pool_key(folder: Path, students: dict) -> Path:
    problem = get("pool-backprop")
    data = {"seed": 1, "students": {}}
    for sid, raw in students.items():
        params = problem.validate(raw)
        data["students"][sid] = {"questions": [{"id": "q1", "problem": "pool-backprop", "params": params,
                                                "answer": problem.solve(params)}]}
    path = folder / "key.json"
    path.write_text(json.dumps(data))
    return path


def test_each_mistake_is_listed_once_in_the_summary(tmp_path, run_cli):
    # one mistake whose wording carries the student's numbers ("divided by k = 2" / "k = 3")
    # was listed under two names, one line each
    students = {
        "s1": {"input": [[1, 2, 3, 4]] * 4, "kind": "avg", "kernel_size": 2, "upstream": [[4, 8], [12, 16]]},
        "s2": {"input": [[1, 2, 3, 4, 5, 6]] * 6, "kind": "avg", "kernel_size": 3, "upstream": [[9, 18], [27, 36]]},
    }
    key = pool_key(tmp_path, students)
    problem = get("pool-backprop")
    rows = [["student_id", "q1"]]
    for sid, raw in students.items():
        mistake = next(m for m in problem.telling_mistakes(problem.validate(raw)) if m.key == "divide-by-k")
        rows.append([sid, json.dumps(mistake.answer)])
    responses = tmp_path / "r.csv"
    with open(responses, "w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    r = run_cli("quiz", "grade", "--key", str(key), str(responses), "--out", str(tmp_path / "g.csv"))
    assert r.code == 0, r.err
    listed = [line for line in r.out.splitlines() if "divided by k" in line]
    assert len(listed) == 1 and listed[0].startswith("  2 student(s): divided by k = ")


def test_a_matrix_earns_credit_cell_by_cell(tmp_path):
    key = write_key(tmp_path, QUESTIONS[2:3])  # [[0, 0], [0, 1]]
    responses = tmp_path / "r.csv"
    responses.write_text('student_id,q3\ns1,"0 0; 0 2"\ns2,"[[0, 0], [0, 1]]"\ns3,"1 1; 1 1"\n')
    assert [row.score for row in grade_responses(key, responses).rows] == [0.75, 1, 0.25]


def test_unreadable_answers_go_on_a_review_list_apart_from_wrong_ones(tmp_path, run_cli):
    key = write_key(tmp_path, QUESTIONS)
    responses = tmp_path / "r.csv"
    responses.write_text("student_id,q1,q2,q3,q4\ns1,fifty-five,,\"[[1,2],[3]]\",270\ns2,54,,,280\n")
    r = run_cli("quiz", "grade", "--key", str(key), str(responses), "--out", str(tmp_path / "out" / "grades.csv"))
    assert r.code == 0, r.err
    review = tmp_path / "out" / "grades-review.csv"
    assert f"2 answer(s) could not be read (scored 0, kept apart from wrong answers; to review: {review})" in r.out
    listed = read(review)
    assert [(row["student_id"], row["question"], row["response"]) for row in listed] == [
        ("s1", "q1", "fifty-five"), ("s1", "q3", "[[1,2],[3]]")]  # not the wrong 270, 54, nor the blanks
    assert all(row["why"].startswith("could not read the answer") for row in listed)
    # nothing unreadable, no list
    responses.write_text("student_id,q1\ns1,54\n")
    other = tmp_path / "elsewhere.csv"
    r = run_cli("quiz", "grade", "--key", str(key), str(responses), "--out", str(tmp_path / "g.csv"), "--review", str(other))
    assert r.code == 0 and not other.exists() and "could not be read" not in r.out


def test_grades_csv_cells_cannot_run_as_formulas(tmp_path):
    key = write_key(tmp_path, QUESTIONS)
    responses = tmp_path / "r.csv"
    with open(responses, "w", newline="") as handle:
        csv.writer(handle).writerows([["student_id", "q1"], ['=HYPERLINK("http://x","y")', "55"], ["+1", "-3"],
                                      ["@SUM(A1)", "55"]])
    from grader.quiz import write_grades

    path = write_grades(grade_responses(key, responses), tmp_path / "g.csv")
    out = read(path)
    assert [row["student_id"] for row in out] == ["'=HYPERLINK(\"http://x\",\"y\")", "'+1", "'@SUM(A1)"]
    assert out[1]["q1_feedback"].startswith("'-3 is wrong")
    assert out[0]["score"] == "1"  # numbers stay numbers


def test_an_unwritable_out_is_one_line_and_exit_2(tmp_path, run_cli):
    key = write_key(tmp_path, QUESTIONS)
    (tmp_path / "r.csv").write_text("student_id,q1\ns1,55\n")
    (tmp_path / "file").write_text("not a folder")
    r = run_cli("quiz", "grade", "--key", str(key), str(tmp_path / "r.csv"), "--out", str(tmp_path / "file" / "g.csv"))
    assert r.code == 2 and "cannot write" in r.err and len(r.err.strip().splitlines()) == 1
