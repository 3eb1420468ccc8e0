"""A Moodle and a Canvas export of the same quiz give every question the same weight
relative to its points: Moodle's marks (defaultgrade, or a cloze question's sum of
blank weights as its importer computes it) and Canvas's points_possible, each over
their quiz's total, are each question's points over the quiz's total points."""

from __future__ import annotations

from dataclasses import replace

import pytest

from grader.quiz import generate, make_quiz
from grader.quiz.model import Quiz
from grader.quiz.moodle import to_moodle_xml
from grader.quiz.qti import to_qti_zip

from lms_rules import read_moodle, read_qti
from quiz_cases import ISSUE_QUIZ


def shares(values: list[float]) -> list[float]:
    return [v / sum(values) for v in values]


def assert_same_weights(quiz: Quiz, moodle_xml: str, qti_zip: bytes) -> None:
    moodle = read_moodle(moodle_xml)
    canvas = read_qti(qti_zip)[1]
    points = [q.points for q in quiz.questions]
    assert [q.name.split()[0] for q in moodle] == [it.title.split()[0] for it in canvas] == [q.id for q in quiz.questions]
    assert shares([q.mark for q in moodle]) == pytest.approx(shares(points))
    assert shares([it.points for it in canvas]) == pytest.approx(shares(points))
    assert [it.points for it in canvas] == points  # Canvas: each item worth its points


def test_the_issues_quiz_weighs_the_same_in_moodle_and_canvas():
    # the 4×4 pool-backprop question (16 blanks) and the 4-layer network (9 blanks) beside a
    # numerical question: each worth 1 point, in both
    assert_same_weights(ISSUE_QUIZ, to_moodle_xml(ISSUE_QUIZ), to_qti_zip(ISSUE_QUIZ))


def test_questions_of_other_points_keep_their_weights_in_both():
    points = [1, 2, 0.5, 3, 1.5, 0.25]
    quiz = replace(ISSUE_QUIZ, questions=tuple(replace(q, points=p) for q, p in zip(ISSUE_QUIZ.questions, points)))
    assert_same_weights(quiz, to_moodle_xml(quiz), to_qti_zip(quiz))
    marks = [q.mark for q in read_moodle(to_moodle_xml(quiz))]
    assert all(m == int(m) for m in marks)  # whole blank weights, whole marks


@pytest.mark.parametrize("seed", range(5))
def test_generated_quizzes_weigh_the_same_in_both(seed):
    quiz = make_quiz(11, seed)
    assert_same_weights(quiz, to_moodle_xml(quiz), to_qti_zip(quiz))


def test_each_students_files_weigh_the_same_in_both(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id\ns1\ns2\n")
    generate(tmp_path / "q", count=11, seed=3, roster=roster, kinds=["moodle", "qti"])
    for sid in ("s1", "s2"):
        quiz = make_quiz(11, 3, student_id=sid)
        folder = tmp_path / "q" / sid
        assert_same_weights(quiz, (folder / "quiz.xml").read_text(), (folder / "quiz-qti.zip").read_bytes())
