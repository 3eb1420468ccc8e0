"""What the batch writes about the class: every row against the assignment's maximum, the class
statistics over like rows, the roster join, and gradebooks that Canvas and Moodle import (checked
against the rules of their importers: Canvas's GradebookImporter, Moodle's gradeimport_csv)."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest

from grader.config import load
from grader.errors import InputFileError
from grader.gradebook import ABSENT, Row, canvas_csv, class_summary, moodle_csv, row_for
from grader.grading import grade_submission, part_points
from grader.roster import Roster, Student, match, read_roster

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "tests" / "check" / "fast.toml"


def parse(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


# ---------------------------------------------------------------- the maximum


@pytest.mark.slow
def test_a_parts_maximum_is_what_its_tests_are_worth(tmp_path):
    # speed points on: the numpy parts have one speed test each, the transfer part one per mode
    config = tmp_path / "speed.toml"
    config.write_text(CONFIG.read_text() + "\n[points]\nspeed = 1.5\nintegrity = 0.5\n")
    cfg = load(config)
    report = grade_submission(ROOT / "examples" / "submission", seed=1, device="cpu", config_path=config)
    assert report.parts() == ["conv", "max_pool", "avg_pool", "transfer"]
    for part in report.parts():
        assert report.part_score(part)[1] == pytest.approx(part_points(part, cfg)), part
    assert part_points("conv", cfg) == 4 + 4 + 2 + 1.5 + 0.5 and part_points("transfer", cfg) == 4 + 4 + 3 + 0.5


def test_a_missing_part_is_zero_of_its_points_and_an_error_zero_of_the_whole():
    maximum = {"conv": 10.0, "max_pool": 10.0, "avg_pool": 10.0}
    report = {"tests": [{"part": "conv", "score": 10.0}, {"part": "max_pool", "score": 7.5}]}  # no avg_pool
    row = row_for("dave", report, maximum, "graded")
    assert (row.score, row.max_score, row.parts) == (17.5, 30.0, {"conv": 10.0, "max_pool": 7.5, "avg_pool": 0.0})
    error = row_for("erin", None, maximum, "error: BadZipFile")
    assert (error.score, error.max_score) == (0.0, 30.0)


def test_the_class_mean_and_histogram_count_errors_as_zero_of_the_same_maximum():
    maximum = {"conv": 10.0, "max_pool": 10.0}
    rows = [row_for("a", {"tests": [{"part": "conv", "score": 10.0}, {"part": "max_pool", "score": 10.0}]},
                    maximum, "graded"),
            row_for("b", {"tests": [{"part": "conv", "score": 10.0}]}, maximum, "graded"),  # a layout without pools
            row_for("c", None, maximum, "error: BadZipFile"),
            row_for("d", None, maximum, "not graded (interrupted)")]  # not a result: left out
    summary = class_summary(rows)
    assert summary["mean"] == pytest.approx((1.0 + 0.5 + 0.0) / 3)
    assert [b["count"] for b in summary["bins"]] == [1, 0, 0, 0, 0, 1, 0, 0, 0, 1]
    assert [r.submission for r in summary["errors"]] == ["c"]


# ---------------------------------------------------------------- the roster


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_a_roster_in_excel_s_semicolon_csv_with_a_bom_reads(tmp_path):
    roster = read_roster(write(tmp_path / "r.csv", "\ufeffStudent ID;Name;Email\ns001;Ada Lovelace;ada@x.org\n"))
    assert roster.students == [Student("s001", "Ada Lovelace", "ada@x.org")]
    assert roster.columns == ("student_id", "name", "email")


@pytest.mark.parametrize("text, encoding, message", [
    ("name\nAda\n", "utf-8", "needs a student_id column"),
    ("student_id\ns1\ns1\n", "utf-8", "student_id 's1' is also on line 2"),
    ("student_id,name\n,Ada\n", "utf-8", "line 2: no student_id"),
    ("", "utf-8", "is empty"),
    ("student_id,name\ns1,José\n", "latin-1", "not UTF-8 text"),
])
def test_a_bad_roster_is_one_clear_error(tmp_path, text, encoding, message):
    with pytest.raises(InputFileError, match=message):
        read_roster(write(tmp_path / "r.csv", text, encoding))


def test_submissions_are_matched_to_students_as_lms_downloads_name_them():
    roster = Roster([Student("s001", "Ada Lovelace"), Student("s002", "Grace Hopper", canvas_id="12345"),
                     Student("s003", "Alan Turing", submission="turing-final"), Student("s004", "Kurt Godel"),
                     Student("s005", "Emmy Noether")], ("student_id", "name", "canvas_id", "submission"))
    found = match(roster, ["s001", "hoppergrace_12345_67890_conv", "turing-final",
                           "Kurt Godel_88_assignsubmission_file_", "stranger"])
    assert {sub: s.student_id for sub, s in found.by_submission.items()} == {
        "s001": "s001", "hoppergrace_12345_67890_conv": "s002", "turing-final": "s003",
        "Kurt Godel_88_assignsubmission_file_": "s004"}
    assert found.unmatched == ["stranger"] and [s.student_id for s in found.absent] == ["s005"]


def test_an_ambiguous_match_is_reported_never_guessed():
    roster = Roster([Student("7"), Student("8")], ("student_id",))
    found = match(roster, ["7_8_both", "8", "8_late"])
    # "8" is exact; "7_8_both" fits 7 (8 is taken by then) at the token step; "8_late" fits nobody left
    assert {sub: s.student_id for sub, s in found.by_submission.items()} == {"8": "8", "7_8_both": "7"}
    twice = match(Roster([Student("7")], ("student_id",)), ["7_a", "7_b"])
    assert twice.by_submission == {} and twice.unmatched == ["7_a", "7_b"] and "several submissions" in twice.notes[0]


# ---------------------------------------------------------------- LMS gradebooks


@pytest.fixture
def graded() -> tuple[list[Row], Roster]:
    students = [Student("s001", "Lovelace, Ada", "ada@x.org", canvas_id="101", section="A"),
                Student("s002", "=cmd|' /C calc'!A0", "grace@x.org", sis_login_id="ghopper"),
                Student("s003", "Alan Turing", "alan@x.org"), Student("s004", "Emmy Noether", "emmy@x.org")]
    roster = Roster(students, ("student_id", "name", "email", "canvas_id", "section", "sis_login_id"))
    maximum = {"conv": 10.0, "max_pool": 10.0}
    rows = [row_for("s001", {"tests": [{"part": "conv", "score": 10.0}, {"part": "max_pool", "score": 7.5}]},
                    maximum, "graded"),
            row_for("s002", {"tests": [{"part": "conv", "score": 4.0}]}, maximum, "graded (earlier run)"),
            row_for("s003", None, maximum, "error: BadZipFile: File is not a zip file"),
            Row("", 0.0, 20.0, {}, ABSENT, student=students[3])]
    for row, student in zip(rows, students):
        row.student = student
    return rows, roster


def test_the_canvas_gradebook_follows_canvas_s_import_rules(graded):
    rows, roster = graded
    table = parse(canvas_csv(rows, roster, "CNN layers (4711)", 20.0))
    head, points, *students = table
    # GradebookImporter: row[0] has "Student", row[1] "ID"; SIS User ID then SIS Login ID; Section last
    # of the student columns; the rest are assignments, "Title (id)" finding assignment id
    assert head == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "CNN layers (4711)"]
    assert points == ["Points Possible", "", "", "", "", "20"]  # (a row Canvas reads when its first cell says so)
    assert students == [["Lovelace, Ada", "101", "s001", "", "A", "17.5"],
                        ["'=cmd|' /C calc'!A0", "", "s002", "ghopper", "", "4"],
                        ["Alan Turing", "", "s003", "", "", ""],  # an error is left for the instructor
                        ["Emmy Noether", "", "s004", "", "", ""]]  # no submission: an empty cell changes nothing


def test_the_moodle_gradebook_follows_moodle_s_import_rules(graded):
    rows, roster = graded
    table = parse(moodle_csv(rows, roster, "CNN layers"))
    head, *students = table
    assert head == ["ID number", "Email address", "Full name", "CNN layers"]
    # load_data.php stops the whole import at a row whose user is not found or is blank, and takes an
    # empty grade as "no grade" (clearing a grade already there): only the students with a grade
    assert students == [["s001", "ada@x.org", "Lovelace, Ada", "17.5"],
                        ["s002", "grace@x.org", "'=cmd|' /C calc'!A0", "4"]]
    assert all(line[0] and float(line[-1]) >= 0 for line in students)


def test_a_batch_with_a_roster_writes_both_and_names_every_student(run_cli, tmp_path):
    klass = tmp_path / "class"
    shutil.copytree(ROOT / "examples" / "submission", klass / "s001")
    shutil.copytree(ROOT / "examples" / "buggy_submission", klass / "hoppergrace_777_1_conv")
    shutil.copytree(ROOT / "examples" / "submission", klass / "unknown")
    roster = write(tmp_path / "roster.csv", "student_id,name,canvas_id\ns001,Ada Lovelace,\ns002,Grace Hopper,777\n"
                                            "s003,Alan Turing,\n")
    out = tmp_path / "out"
    r = run_cli("batch", str(klass), "--out", str(out), "--seed", "1", "--parts", "max_pool", "--device", "cpu",
                "--config", str(CONFIG), "--roster", str(roster), "--lms-column", "Pooling (99)")
    assert r.code == 0, r.err
    assert "1 submission(s) match no student of the roster" in r.err and "unknown" in r.err
    book = {(row["submission"], row["student_id"]): row for row in csv.DictReader(open(out / "gradebook.csv"))}
    assert set(book) == {("s001", "s001"), ("hoppergrace_777_1_conv", "s002"), ("unknown", ""), ("", "s003")}
    assert book[("", "s003")]["status"] == ABSENT and book[("", "s003")]["max_score"] == "10"
    assert book[("hoppergrace_777_1_conv", "s002")]["name"] == "Grace Hopper"
    canvas = parse((out / "gradebook-canvas.csv").read_text())
    assert canvas[0][-1] == "Pooling (99)" and [line[2] for line in canvas[2:]] == ["s001", "s002", "s003"]
    moodle = parse((out / "gradebook-moodle.csv").read_text())
    assert [line[0] for line in moodle[1:]] == ["s001", "s002"]
    assert "gradebook-canvas.csv" in r.out and "gradebook-moodle.csv" in r.out
