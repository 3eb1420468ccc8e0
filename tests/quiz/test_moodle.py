"""Moodle XML: the structure Moodle's importer reads (question/format/xml),
one question per quiz question, the right type for each answer, known
mistakes as 0% answers with their feedback, and well-formed cloze codes."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest

from grader.problems import all_problems
from grader.quiz import generate, make_quiz
from grader.quiz.moodle import cloze_escape, convert, shape_spellings, to_moodle_xml

CLOZE = re.compile(r"\{(\d+):(NUMERICAL|SHORTANSWER|MULTICHOICE):((?:\\.|[^\\}])*)\}")


def parse(xml_text: str) -> ET.Element:
    root = ET.fromstring(xml_text.encode("utf-8"))
    assert root.tag == "quiz"
    return root


def test_every_problem_type_exports_a_well_formed_question():
    for problem in all_problems():
        quiz = make_quiz(1, 9, [problem.name])
        root = parse(to_moodle_xml(quiz))
        category, question = root.findall("question")
        assert category.get("type") == "category"
        assert category.find("category/text").text.startswith("$course$/")
        kind = question.get("type")
        assert kind in {"numerical", "shortanswer", "multichoice", "cloze"}
        assert question.find("name/text").text == f"q1 {problem.name}"
        assert question.find("questiontext").get("format") == "html"
        text = question.find("questiontext/text").text
        assert text and "<p>" in text  # HTML, escaped once in the XML
        assert float(question.find("defaultgrade").text) == 1.0
        answers = question.findall("answer")
        if kind == "cloze":
            assert not answers
            codes = CLOZE.findall(text)
            assert codes, text
            # no stray braces: every { opens a sub-question
            assert text.count("{") == len(codes)
            for _, sub, body in codes:
                assert re.search(r"(^|~)(=|%100%)", body), body  # a right answer in each
        else:
            fractions = [float(a.get("fraction")) for a in answers]
            assert 100 in fractions
            for a in answers:
                assert a.find("text").text is not None
                assert a.find("feedback").get("format") == "html"
            if kind == "numerical":
                assert all(a.find("tolerance") is not None for a in answers)
                assert question.find("unitgradingtype").text == "0"
            if kind == "multichoice":
                assert question.find("single").text == "true"
                assert fractions.count(100) == 1


def test_numerical_questions_carry_the_known_mistakes():
    quiz = make_quiz(1, 3, ["conv-output-size"])
    q = quiz.questions[0]
    mq = convert(q)
    assert mq.type == "numerical"
    right = [a for a in mq.answers if a.fraction == 100]
    assert [a.text for a in right] == [str(q.answer)]
    wrong = {a.text: a.feedback for a in mq.answers if a.fraction == 0 and a.text != "*"}
    for m in q.type.telling_mistakes(q.params):
        assert str(m.answer) in wrong and m.feedback in wrong[str(m.answer)]
    assert mq.answers[-1].text == "*"


def test_shapes_accept_every_usual_spelling():
    assert shape_spellings([96, 363])[:3] == ["(96, 363)", "(96,363)", "96x363"]
    assert "96×363" in shape_spellings([96, 363])


def test_cloze_escape_protects_the_special_characters():
    assert cloze_escape('a}b#c~d/e"f\\g<') == 'a\\}b\\#c\\~d\\/e\\"f\\\\g&lt;'


def test_a_generated_file_has_one_question_per_quiz_question(tmp_path):
    generate(tmp_path, count=12, seed=1, kinds=["moodle"])
    root = parse((tmp_path / "quiz.xml").read_text())
    key = json.loads((tmp_path / "key.json").read_text())
    names = [q.find("name/text").text for q in root.findall("question")[1:]]
    assert names == [f"{q['id']} {q['problem']}" for q in key["questions"]]


@pytest.mark.parametrize("seed", range(3))
def test_cloze_numbers_are_plain(seed):
    # Moodle reads "1,040" as a decimal comma: numbers in the export are plain
    for problem in all_problems():
        text = to_moodle_xml(make_quiz(1, seed, [problem.name]))
        for _, kind, body in CLOZE.findall(text):
            if kind == "NUMERICAL":
                for answer in re.split(r"(?<!\\)~", body):
                    value = re.sub(r"^(=|%\d+%)", "", answer).split(":")[0]
                    float(value)
