"""Canvas QTI: the zip Canvas's "QTI .zip file" import reads (an imsmanifest.xml naming
one QTI 1.2 assessment), its items in QTI 1.2's element order, the metadata Canvas
reads (question_type, points_possible), and Canvas's scoring of each item type
(lms_rules.py) giving the score ``quiz grade`` gives."""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest

from grader.problems import get
from grader.problems.transfer_strategy import WHY_NOT
from grader.quiz import make_quiz
from grader.quiz.qti import to_qti_zip

from lms_rules import QTI, canvas_score, read_qti
from quiz_cases import ISSUE_QUIZ, blank_texts, exact_or_clearly_wrong, question, responses

# QTI 1.2 content models (ims_qtiasiv1p2 DTD) of the elements the export writes, as regular
# expressions over the children's names; ANY marks Canvas's own extension elements.
_CONDITIONS = "(not|and|or|unanswered|other|varequal|varlt|varlte|vargt|vargte|varsubset|varinside|varsubstring)"
CONTENT = {
    "questestinterop": r"(qticomment )?(objectbank |assessment |((section|item) )+)",
    "assessment": r"(qticomment )?(duration )?(qtimetadata )*(objectives )*(assessmentcontrol )*(rubric )*"
                  r"(presentation_material )?(outcomes_processing )*(assessproc_extension )?(assessfeedback )*"
                  r"(selection_ordering )?(reference )?((sectionref|section) )+",
    "section": r"(qticomment )?(duration )?(qtimetadata )*(objectives )*(sectioncontrol )*(sectionprecondition )*"
               r"(sectionpostcondition )*(rubric )*(presentation_material )?(outcomes_processing )*"
               r"(sectionproc_extension )?(sectionfeedback )*(selection_ordering )?(reference )?"
               r"((itemref|item|sectionref|section) )*",
    "item": r"(qticomment )?(duration )?(itemmetadata )?(objectives )*(itemcontrol )*(itemprecondition )*"
            r"(itempostcondition )*((itemrubric|rubric) )*(presentation )?(resprocessing )*(itemproc_extension )?"
            r"(itemfeedback )*(reference )?",
    "itemmetadata": r"(qtimetadata )*",
    "qtimetadata": r"(vocabulary )?(qtimetadatafield )+",
    "qtimetadatafield": r"fieldlabel fieldentry ",
    "presentation": r"(qticomment )?(flow |((material|response_lid|response_xy|response_str|response_num|response_grp"
                    r"|response_extension) )+)",
    "response_lid": r"((material|material_ref) )?(render_choice|render_hotspot|render_slider|render_fib"
                    r"|render_extension) ((material|material_ref) )?",
    "response_str": r"((material|material_ref) )?(render_choice|render_hotspot|render_slider|render_fib"
                    r"|render_extension) ((material|material_ref) )?",
    "render_choice": r"((material|material_ref|response_label|flow_label) )*(response_na )?",
    "render_fib": r"((material|material_ref|response_label|flow_label) )*(response_na )?",
    "resprocessing": r"(qticomment )?outcomes ((respcondition|itemproc_extension) )+",
    "outcomes": r"(qticomment )?(decvar (interpretvar )*)+",
    "respcondition": r"(qticomment )?conditionvar (setvar )*(displayfeedback )*(respcond_extension )?",
    "conditionvar": rf"({_CONDITIONS} )+",
    "or": rf"({_CONDITIONS} )+",
    "and": rf"({_CONDITIONS} )+",
    "itemfeedback": r"((flow_mat|material|solution|hint) )+",
    "flow_mat": r"(qticomment )?((flow_mat|material|material_ref) )+",
    "material": r"(qticomment )?((mattext|matemtext|matimage|mataudio|matvideo|matapplet|matapplication|matref"
                r"|matbreak|mat_extension) )+(altmaterial )*",
    "selection_ordering": r"(qticomment )?(sequence_parameter )*(selection )*(order )?",
    "selection": r"(sourcebank_ref )?(selection_number )?(selection_metadata )?"
                 r"((and_selection|or_selection|not_selection|selection_extension) )?",
}
REQUIRED = {"assessment": {"ident", "title"}, "section": {"ident"}, "item": {"ident"}, "response_lid": {"ident"},
            "response_str": {"ident"}, "response_label": {"ident"}, "decvar": {"varname"},
            "setvar": {"varname", "action"}, "varequal": {"respident"}, "vargte": {"respident"},
            "varlte": {"respident"}, "displayfeedback": {"linkrefid"}, "itemfeedback": {"ident"}}
EXTENSIONS = {"selection_extension"}  # ANY inside


def check_qti_1_2(element) -> None:
    """Every element (outside extensions) has its content model's children, in order, and its required attributes."""
    name = element.tag.removeprefix(QTI)
    children = [c.tag.removeprefix(QTI) for c in element]
    if name in CONTENT:
        assert re.fullmatch(CONTENT[name], "".join(c + " " for c in children)), (name, children)
    assert REQUIRED.get(name, set()) <= set(element.attrib), (name, element.attrib)
    if name not in EXTENSIONS:
        for child in element:
            check_qti_1_2(child)


def test_the_zip_is_a_qti_package_canvas_imports():
    data = to_qti_zip(ISSUE_QUIZ)
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert names[0] == "imsmanifest.xml" and len(names) == 2
    _, items, groups, root = read_qti(data)
    check_qti_1_2(root)
    assert [i.type for i in items] == ["numerical_question", "fill_in_multiple_blanks_question",
                                       "fill_in_multiple_blanks_question", "multiple_choice_question",
                                       "fill_in_multiple_blanks_question", "fill_in_multiple_blanks_question"]
    assert groups == []
    assert len({i.ident for i in items}) == len(items)
    assert to_qti_zip(ISSUE_QUIZ) == data  # the same quiz, the same bytes


@pytest.mark.parametrize("seed", range(3))
def test_every_generated_item_is_valid_qti_1_2(seed):
    _, items, _, root = read_qti(to_qti_zip(make_quiz(11, seed)))
    check_qti_1_2(root)
    for item in items:
        refs = {d.get("linkrefid") for d in item.element.iter(f"{QTI}displayfeedback")}
        assert refs <= set(item.feedback), (item.title, refs)  # every feedback shown exists
        if item.type == "fill_in_multiple_blanks_question":
            assert re.findall(r"\[(b\d+)\]", item.text) == list(item.blanks)  # each blank once, in order


@pytest.mark.parametrize("seed", range(3))
def test_canvas_scores_every_answer_as_quiz_grade_does(seed):
    for quiz in (ISSUE_QUIZ, make_quiz(11, seed)):
        _, items, _, _ = read_qti(to_qti_zip(quiz))
        for item, q in zip(items, quiz.questions):
            assert item.points == q.points
            for answer in filter(lambda a: exact_or_clearly_wrong(q, a), responses(q)):
                expected = q.type.grade(q.params, answer).score
                texts = blank_texts(q, answer)
                if item.type == "multiple_choice_question":
                    texts = [next(i for i, label in item.choices.items() if label == texts[0])]
                assert canvas_score(item, texts) / item.points == pytest.approx(expected, abs=1e-9), (q.problem, answer)


def test_a_fill_in_blank_takes_the_spellings_of_its_value_not_a_tolerance():
    # Canvas compares a blank as text (trimmed, lower-cased): 1/9 is taken as 0.11, 0.111, .11,
    # but a value inside quiz grade's tolerance that is none of them (0.112) is wrong in Canvas
    q = question("q1", "pool-backprop", {"input": [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]],
                                         "kind": "avg", "kernel_size": 3, "stride": 1, "upstream": [[1, 2], [3, 4]]})
    item = read_qti(to_qti_zip(__import__("grader.quiz.model", fromlist=["Quiz"]).Quiz(1, (q,))))[1][0]
    first = list(item.blanks.values())[0]
    assert {"0.11", "0.111", "0.1111", ".11"} <= set(first)
    typed = [f"{v:.2f}" for row in q.answer for v in row]
    assert canvas_score(item, typed) == item.points
    assert q.type.grade(q.params, [[0.112] + row[1:] if i == 0 else row for i, row in enumerate(q.answer)]).correct
    assert canvas_score(item, ["0.112"] + typed[1:]) == pytest.approx(item.points * 15 / 16)


def test_a_numerical_item_has_the_tolerance_as_margin_and_lists_the_known_mistakes():
    _, items, _, _ = read_qti(to_qti_zip(ISSUE_QUIZ))
    numerical = items[0]
    assert numerical.exact == [(55.0, 0.0)]
    assert "54: forgot the +1" in numerical.feedback["general_incorrect_fb"]
    bytes_item = read_qti(to_qti_zip(make_quiz(1, 3, ["memory-estimate"])))[1][0]
    assert bytes_item.type == "fill_in_multiple_blanks_question"  # five byte counts


def test_multiple_choice_lists_its_options_once_with_feedback_per_wrong_option():
    _, items, _, _ = read_qti(to_qti_zip(ISSUE_QUIZ))
    mc = items[3]
    options = dict(get("transfer-strategy").answer_format.options)
    assert sorted(mc.choices.values()) == sorted(options.values())
    assert not any(label in mc.text for label in options.values())
    assert mc.choices[mc.correct] == options["head-on-earlier-layers"]
    for ident, label in mc.choices.items():
        key = next(k for k, v in options.items() if v == label)
        if ident != mc.correct:
            assert WHY_NOT[("small", "different")][key] in mc.feedback[f"{ident}_fb"]


def test_a_matrix_is_a_grid_of_blanks_and_a_layer_table_a_table():
    _, items, _, _ = read_qti(to_qti_zip(ISSUE_QUIZ))
    grid = items[1].text
    rows = re.findall(r"<tr>(.*?)</tr>", grid.split('class="answer-grid"')[1])
    assert [re.findall(r"\[(b\d+)\]", r) for r in rows] == [[f"b{4 * i + j}" for j in range(1, 5)] for i in range(4)]
    table = items[2].text.split('class="answer-table"')[1]
    for layer in ("conv3-8p1", "pool2", "fc32", "fc10", "total params"):
        assert f"<th>{layer}</th>" in table


def test_the_bank_is_a_question_group_a_slot(tmp_path, run_cli):
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,name\ns1,Ada\ns2,Grace\ns3,Alan\n")
    r = run_cli("quiz", "generate", "--count", "4", "--seed", "7", "--roster", str(roster), "--format", "qti",
                "--out", str(tmp_path / "q"))
    assert r.code == 0, r.err
    assert "(3 students)" in r.out
    key = json.loads((tmp_path / "q" / "key.json").read_text())
    _, items, groups, root = read_qti((tmp_path / "q" / "quiz-qti.zip").read_bytes())
    check_qti_1_2(root)
    assert items == [] and len(groups) == 4
    for i, group in enumerate(groups, 1):
        assert group.pick == 1 and group.points_per_item == 1.0
        assert [it.title for it in group.items] == [
            f"q{i} {key['students'][sid]['questions'][i - 1]['problem']} ({sid})" for sid in ("s1", "s2", "s3")]
    for sid in ("s1", "s2", "s3"):
        _, own, _, _ = read_qti((tmp_path / "q" / sid / "quiz-qti.zip").read_bytes())
        assert [it.title for it in own] == [f"q{i} {q['problem']} ({sid})"
                                            for i, q in enumerate(key["students"][sid]["questions"], 1)]


def test_qti_is_written_on_request_only(tmp_path, run_cli):
    r = run_cli("quiz", "generate", "--count", "2", "--format", "qti", "--out", str(tmp_path / "a"))
    assert r.code == 0, r.err
    assert {p.name for p in (tmp_path / "a").iterdir()} == {"quiz-qti.zip", "key.json"}
    r = run_cli("quiz", "generate", "--count", "2", "--out", str(tmp_path / "b"))
    assert "quiz-qti.zip" not in {p.name for p in (tmp_path / "b").iterdir()}
