"""Moodle XML, checked against how Moodle's importer reads it and how Moodle grades
(lms_rules.py: question/format/xml/format.php, question/type/multianswer,
question_bank::fraction_options_full): every question imports worth the same
multiple of its points, a cloze question credits its blanks as ``quiz grade``
credits the answer's leaves, one answer a wrong value, statements that ask only
for what the question type takes, options listed once, and a bank with one
category per question slot holding every student's variant."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest

from grader.problems import all_problems, get
from grader.quiz import generate, make_quiz
from grader.quiz.model import Quiz
from grader.quiz.moodle import cloze_escape, shape_spellings, to_moodle_xml

from lms_rules import CLOZE, MOODLE_FRACTIONS, blank_fraction, moodle_fraction, read_moodle
from quiz_cases import ISSUE_QUIZ, blank_texts, question, responses

def moodle_questions(quiz: Quiz):
    return read_moodle(to_moodle_xml(quiz))


def test_the_issues_quiz_imports_every_question_worth_its_points_on_one_scale():
    read = moodle_questions(ISSUE_QUIZ)
    assert [q.type for q in read] == ["numerical", "cloze", "cloze", "multichoice", "cloze", "cloze"]
    marks = [q.mark for q in read]
    # a 4×4 matrix (16 blanks) and a 4-layer table (9 blanks) are no longer worth 16 and 9 beside 1:
    # every question imports worth the same multiple of its points (all 1 here)
    assert len(set(marks)) == 1, marks
    scale = marks[0]
    assert scale == int(scale) and scale % 16 == 0 and scale % 9 == 0 and scale % 3 == 0
    pool = read[1]
    assert len(pool.blanks) == 16 and {b.weight for b in pool.blanks} == {scale // 16}
    # the defaultgrade written for a cloze question (which Moodle ignores) agrees with its blanks
    root = ET.fromstring(to_moodle_xml(ISSUE_QUIZ))
    assert [float(q.find("defaultgrade").text) for q in root.findall("question") if q.get("type") != "category"] == marks


@pytest.mark.parametrize("seed", range(4))
def test_generated_quizzes_keep_every_question_on_one_scale(seed):
    quiz = make_quiz(11, seed)
    read = moodle_questions(quiz)
    ratios = {q.mark / p.points for q, p in zip(read, quiz.questions)}
    assert len(ratios) == 1
    for q in read:
        if q.type == "cloze":
            assert len({b.weight for b in q.blanks}) == 1, q.name  # each blank an equal share


def test_a_matrix_typed_to_two_decimals_is_right_in_both():
    # the statement asks for two decimals: 1/9 typed 0.11 is within every cell's tolerance
    q = question("q1", "pool-backprop", {"input": [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]],
                                         "kind": "avg", "kernel_size": 3, "stride": 1, "upstream": [[1, 2], [3, 4]]})
    typed = [f"{v:.2f}" for row in q.answer for v in row]
    assert "0.11" in typed and "0.67" in typed  # 1/9, 6/9
    quiz = Quiz(1, (q,))
    assert moodle_fraction(moodle_questions(quiz)[0], typed) == 1
    assert q.type.grade(q.params, "; ".join(" ".join(typed[i:i + 4]) for i in range(0, 16, 4))).score == 1
    typed[0] = "0.1"  # 0.1 for 0.111...: wrong in both
    assert moodle_fraction(moodle_questions(quiz)[0], typed) == pytest.approx(15 / 16)


def test_a_scale_past_moodles_largest_mark_leaves_each_question_its_own():
    # question.defaultmark is DECIMAL(12,7): at most 99999.9999999. 30 questions of many blank
    # counts (16, 25, 36; 7 to 23) need a common scale in the hundreds of thousands
    quiz = make_quiz(30, 5)
    text = to_moodle_xml(quiz)
    read = read_moodle(text)
    assert "past the largest mark Moodle stores" in text
    assert all(q.mark < 100000 for q in read)
    for q, mq in zip(quiz.questions, read):
        assert mq.mark == (len(mq.blanks) if mq.type == "cloze" else q.points)
        assert len({b.weight for b in mq.blanks}) <= 1  # still an equal share a blank


@pytest.mark.parametrize("seed", range(3))
def test_moodle_grades_every_answer_as_quiz_grade_does(seed):
    # the right answer, each known mistake, and half-right matrices: Moodle's fraction
    # (sum of blank fractions × weights over the weights) is quiz grade's score
    for quiz in (ISSUE_QUIZ, make_quiz(11, seed)):
        for mq, q in zip(moodle_questions(quiz), quiz.questions):
            for answer in responses(q):
                expected = q.type.grade(q.params, answer).score
                got = moodle_fraction(mq, blank_texts(q, answer))
                assert got == pytest.approx(expected, abs=1e-9), (q.problem, answer)


def test_every_question_is_valid_for_moodles_importer():
    for problem in all_problems():
        for seed in range(3):
            xml_text = to_moodle_xml(make_quiz(1, seed, [problem.name]))
            for q in read_moodle(xml_text):
                assert q.category == "$course$/cnn-quiz-seed-%d/q1" % seed
                if q.type == "cloze":
                    assert q.text.count("{") == len(q.blanks) == len(CLOZE.findall(q.text))
                    answers = [a for b in q.blanks for a in b.answers]
                    for b in q.blanks:  # qtype_multianswer_validate_question: a 100% answer in each blank
                        assert any(a.fraction == 1 for a in b.answers)
                else:
                    answers = q.answers
                    assert any(a.fraction == 1 for a in answers)
                for a in answers:
                    assert round(100 * a.fraction, 5) in MOODLE_FRACTIONS
                    if q.type == "numerical" and a.text != "*":
                        float(a.text)  # plain numbers, no grouping


def test_one_answer_a_value_with_the_feedback_of_every_mistake_that_gives_it():
    # AVG_TILED: at row 1, column 2 "forgot to divide" (every element gets dL/dy = 4) and "treated
    # average pooling like max pooling" (the window's maximum, here that element, gets 4) give the
    # same 4: Moodle shows the first answer that matches, so the two must be one answer
    cloze = moodle_questions(ISSUE_QUIZ)[1]
    cell = cloze.blanks[1]  # row 1, column 2
    fraction, feedback = blank_fraction(cell.type, cell.answers, "4")
    assert fraction == 0
    assert "forgot to divide" in feedback and "treated average pooling like max pooling" in feedback
    for quiz in (ISSUE_QUIZ, make_quiz(11, 1), make_quiz(11, 2)):
        for q in moodle_questions(quiz):
            for answers in ([b.answers for b in q.blanks] if q.type == "cloze" else [q.answers]):
                values = [a.text for a in answers]
                assert len(values) == len(set(values)), values


@pytest.mark.parametrize("seed", range(20))
def test_statements_ask_only_for_what_the_question_types_take(seed):
    # Moodle's numerical fields take decimal numbers: no fractions ("1/9"), no units ("93 MB")
    for problem in all_problems():
        params = problem.sample(__import__("numpy").random.default_rng(seed))
        prompt = problem.statement(params).prompt
        assert not re.search(r"\d+/\d+|fraction|\bunits?\b|\b[KMG]i?B\b", prompt), (problem.name, prompt)


def test_multiple_choice_lists_its_options_once():
    mc = moodle_questions(ISSUE_QUIZ)[3]
    options = [label for _, label in get("transfer-strategy").answer_format.options]
    assert [a.text for a in mc.answers] == options
    assert not any(label in mc.text for label in options)  # not again in the question text
    assert [a.fraction for a in mc.answers].count(1) == 1


def test_numerical_questions_carry_the_known_mistakes():
    numerical = moodle_questions(ISSUE_QUIZ)[0]
    right = [a for a in numerical.answers if a.fraction == 1]
    assert [a.text for a in right] == ["55"]
    assert blank_fraction("numerical", numerical.answers, "54") == (0, "forgot the +1")
    assert numerical.answers[-1].text == "*"


def test_the_bank_has_a_category_a_slot_with_every_students_variant(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,name\ns1,Ada\ns2,Grace\ns3,Alan\n")
    generate(tmp_path / "q", count=4, seed=7, roster=roster, kinds=["moodle"])
    key = json.loads((tmp_path / "q" / "key.json").read_text())
    bank = read_moodle((tmp_path / "q" / "quiz.xml").read_text())
    categories = list(dict.fromkeys(q.category for q in bank))
    assert categories == [f"$course$/cnn-quiz-seed-7/q{i}" for i in range(1, 5)]
    for i, cat in enumerate(categories, 1):
        variants = [q for q in bank if q.category == cat]
        assert [q.name.split("(")[-1].rstrip(")") for q in variants] == ["s1", "s2", "s3"]
        for q, sid in zip(variants, ["s1", "s2", "s3"]):
            entry = key["students"][sid]["questions"][i - 1]
            assert q.name.startswith(f"q{i} {entry['problem']}")
            if q.type == "numerical":
                assert float(next(a.text for a in q.answers if a.fraction == 1)) == entry["answer"]
    # a student's own file uses the same slot categories: importing it adds to the bank's
    own = read_moodle((tmp_path / "q" / "s2" / "quiz.xml").read_text())
    assert [q.category for q in own] == categories


def test_shapes_accept_every_usual_spelling():
    assert shape_spellings([96, 363])[:3] == ["(96, 363)", "(96,363)", "96x363"]
    assert "96×363" in shape_spellings([96, 363])


def test_cloze_escape_protects_the_special_characters():
    assert cloze_escape('a}b#c~d/e"f\\g<') == 'a\\}b\\#c\\~d\\/e\\"f\\\\g&lt;'


def test_a_generated_file_has_one_question_per_quiz_question(tmp_path):
    generate(tmp_path, count=12, seed=1, kinds=["moodle"])
    read = read_moodle((tmp_path / "quiz.xml").read_text())
    key = json.loads((tmp_path / "key.json").read_text())
    assert [q.name for q in read] == [f"{q['id']} {q['problem']}" for q in key["questions"]]
    assert [q.category.rsplit("/", 1)[1] for q in read] == [q["id"] for q in key["questions"]]
