"""How Moodle and Canvas read and grade what the exports write, written down from
their sources for the tests to check the exports against (not a copy of them):

Moodle (moodle/moodle):
- question/format/xml/format.php: ``import_question`` dispatches on ``type``;
  ``import_headers`` reads ``defaultgrade`` for every type but ``cloze``, whose
  ``import_multianswer`` never reads it; ``import_category`` reads
  ``<category><text>``; answers' ``fraction`` attribute is a percentage.
- question/type/multianswer/questiontype.php: ``ANSWER_REGEX`` = ``{`` weight
  (digits only, empty = 1) ``:`` type ``:`` alternatives ``}``; an alternative is
  ``=`` or ``%n%``, the answer (up to an unescaped ``~ # }``), ``#feedback``;
  ``qtype_multianswer_extract_question`` sums the weights into the question's
  ``defaultmark``; ``qtype_multianswer_validate_question`` wants a 100% answer in
  each blank and numbers (or ``*``) in NUMERICAL blanks.
- question/type/multianswer/question.php: ``grade_response`` = sum of each blank's
  fraction × weight over the sum of weights.
- question/engine/bank.php: ``fraction_options_full()``: the fractions an answer may have.
- question/type/numerical: an answer matches when the response is within its
  tolerance; the first matching answer (in order) gives the fraction.

Canvas (instructure/canvas-lms):
- gems/plugins/qti_exporter/lib/qti/assessment_item_converter.rb: ``question_type``
  and ``points_possible`` from the item's metadata fields (default 1 point).
- numeric_interaction.rb: each ``or(varequal, and(vargte, varlte))`` condition is
  a correct answer with margin ``varlte - exact``; numerical_question.rb: any answer
  within its margin is full credit.
- fill_in_the_blank.rb (``process_canvas``): each blank's choices are correct
  answers; fill_in_multiple_blanks_question.rb: a blank is right when the response,
  trimmed and lower-cased, equals one of them; base.rb: score = points × right / blanks.
- assessment_test_converter.rb: a section that selects ``n`` items is a question
  group; ``points_per_item`` is its items' points.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass, field
from fractions import Fraction

# ---------------------------------------------------------------- Moodle

#: question_bank::fraction_options_full(), in percent: p/q for q <= 6, p/10, 1/q for q <= 10,
#: 1/20, and their negatives (-100% included).
MOODLE_FRACTIONS = {
    round(float(sign * 100 * f), 5)
    for sign in (1, -1)
    for f in ({Fraction(p, q) for q in range(1, 7) for p in range(q + 1)} | {Fraction(p, 10) for p in range(11)}
              | {Fraction(1, q) for q in range(1, 11)} | {Fraction(1, 20)})
}

_TYPES = ("NUMERICAL|NM|MULTICHOICE|MC|MULTICHOICE_V|MCV|MULTICHOICE_H|MCH|SHORTANSWER|SA|MW|SHORTANSWER_C|SAC|MWC|"
          "MULTICHOICE_S|MCS|MULTICHOICE_VS|MCVS|MULTICHOICE_HS|MCHS|MULTIRESPONSE|MR|MULTIRESPONSE_H|MRH|"
          "MULTIRESPONSE_S|MRS|MULTIRESPONSE_HS|MRHS")
_FRACTION = r"=|%(-?[0-9]+(?:[.,][0-9]*)?)%"
_ANSWER = r".+?(?<!\\)(?<!&)(?<!&amp;)(?=[~#}]|$)"
_FEEDBACK = r".*?(?<!\\)(?=[~}]|$)"
_ALT = rf"({_FRACTION})?({_ANSWER})(#({_FEEDBACK}))?"
_ALT_GROUPS = rf"(?:{_FRACTION})?(?:{_ANSWER})(?:#(?:{_FEEDBACK}))?"
CLOZE = re.compile(rf"\{{([0-9]*):({_TYPES}):({_ALT_GROUPS}(?:~{_ALT_GROUPS})*)\}}", re.S)
_ALTERNATIVE = re.compile(rf"~?{_ALT}", re.S)
_NUMBER = r"-?(?:[0-9]+[.,]?[0-9]*|[.,][0-9]+)(?:[eE][-+]?[0-9]+)?"
_NUMERICAL = re.compile(rf"^({_NUMBER})(?::({_NUMBER}))?$")


@dataclass
class MoodleAnswer:
    text: str
    fraction: float  # 0..1
    feedback: str
    tolerance: float = 0.0


@dataclass
class Blank:
    weight: int
    type: str
    answers: list[MoodleAnswer]


@dataclass
class MoodleQuestion:
    type: str
    name: str
    category: str
    text: str
    mark: float  # what it imports worth: defaultgrade, or a cloze's sum of blank weights
    answers: list[MoodleAnswer] = field(default_factory=list)
    blanks: list[Blank] = field(default_factory=list)


def _unescape(text: str) -> str:
    return text.replace("\\}", "}").replace("\\#", "#").replace("\\~", "~").replace("\\/", "/").replace('\\"', '"')


def parse_cloze(text: str) -> list[Blank]:
    blanks = []
    for m in CLOZE.finditer(text):
        weight = int(m.group(1)) if m.group(1) != "" else 1
        kind = m.group(2)
        answers = []
        for alt in _ALTERNATIVE.finditer(m.group(3)):
            fraction = 1.0 if alt.group(1) == "=" else (float(alt.group(2).replace(",", ".")) / 100 if alt.group(2) else 0.0)
            answer, feedback = alt.group(3), _unescape(alt.group(5) or "")
            if kind in ("NUMERICAL", "NM"):
                num = _NUMERICAL.match(answer)
                assert num or answer == "*", f"a NUMERICAL blank's answer must be a number or '*': {answer!r}"
                value, tol = (answer, 0.0) if not num else (num.group(1), float(num.group(2) or 0))
                answers.append(MoodleAnswer(value, fraction, feedback, tol))
            else:
                answers.append(MoodleAnswer(_unescape(answer), fraction, feedback))
        blanks.append(Blank(weight, kind, answers))
    return blanks


def read_moodle(xml_text: str) -> list[MoodleQuestion]:
    """The questions of a Moodle XML file as the importer reads them."""
    root = ET.fromstring(xml_text.encode("utf-8"))
    assert root.tag == "quiz"
    current, out = None, []
    for q in root.findall("question"):
        kind = q.get("type")
        if kind == "category":
            current = q.find("category/text").text
            continue
        text = q.find("questiontext/text").text or ""
        if kind == "cloze":
            blanks = parse_cloze(text)
            out.append(MoodleQuestion(kind, q.find("name/text").text, current, text, sum(b.weight for b in blanks),
                                      blanks=blanks))
            continue
        answers = [MoodleAnswer(a.find("text").text or "", float(a.get("fraction")) / 100,
                                a.find("feedback/text").text or "",
                                float(a.find("tolerance").text) if a.find("tolerance") is not None else 0.0)
                   for a in q.findall("answer")]
        out.append(MoodleQuestion(kind, q.find("name/text").text, current, text, float(q.find("defaultgrade").text),
                                  answers=answers))
    return out


def _moodle_number(text: str) -> float | None:
    """A response as Moodle's numerical answer processor reads a plain number ("1,000" groups)."""
    text = text.strip().replace(",", "")
    try:
        return float(text)
    except ValueError:
        return None


def _wildcard(answer: str, response: str) -> bool:
    pattern = "^" + ".*".join(re.escape(part) for part in answer.split("*")) + "$"
    return re.match(pattern, response.strip(), re.I | re.S) is not None


def blank_fraction(kind: str, answers: list[MoodleAnswer], response: str) -> tuple[float, str]:
    """The fraction and feedback of the first answer that matches ``response``."""
    for a in answers:
        if kind in ("NUMERICAL", "NM", "numerical"):
            if a.text == "*":
                return a.fraction, a.feedback
            value = _moodle_number(response)
            if value is not None and abs(value - float(a.text)) <= a.tolerance + 1e-12:
                return a.fraction, a.feedback
        elif kind in ("MULTICHOICE", "MC", "multichoice"):
            if a.text == response:
                return a.fraction, a.feedback
        elif _wildcard(a.text, response):
            return a.fraction, a.feedback
    return 0.0, ""


def moodle_fraction(q: MoodleQuestion, responses: list[str]) -> float:
    """question.php grade_response: the weighted share of the blanks right."""
    if q.type != "cloze":
        return blank_fraction(q.type, q.answers, responses[0])[0]
    assert len(responses) == len(q.blanks)
    total = sum(b.weight for b in q.blanks)
    return sum(b.weight * blank_fraction(b.type, b.answers, r)[0] for b, r in zip(q.blanks, responses)) / total


# ---------------------------------------------------------------- Canvas

QTI = "{http://www.imsglobal.org/xsd/ims_qtiasiv1p2}"
CP = "{http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1}"


@dataclass
class CanvasItem:
    ident: str
    title: str
    type: str
    points: float
    text: str
    exact: list[tuple[float, float]] = field(default_factory=list)  # numerical: (exact, margin)
    texts: list[str] = field(default_factory=list)  # short answer
    choices: dict[str, str] = field(default_factory=dict)  # ident -> label
    correct: str = ""
    blanks: dict[str, list[str]] = field(default_factory=dict)  # blank -> accepted texts
    feedback: dict[str, str] = field(default_factory=dict)  # itemfeedback ident -> text
    element: ET.Element | None = None


@dataclass
class CanvasGroup:
    title: str
    pick: int
    points_per_item: float
    items: list[CanvasItem]


def read_qti(data: bytes) -> tuple[ET.Element, list[CanvasItem], list[CanvasGroup], ET.Element]:
    """The zip's manifest, the assessment's items (outside groups), its groups, and its root."""
    zf = zipfile.ZipFile(io.BytesIO(data))
    manifest = ET.fromstring(zf.read("imsmanifest.xml"))
    resources = manifest.findall(f"{CP}resources/{CP}resource")
    assert len(resources) == 1 and resources[0].get("type") == "imsqti_xmlv1p2"
    href = resources[0].get("href")
    assert [f.get("href") for f in resources[0].findall(f"{CP}file")] == [href]
    root = ET.fromstring(zf.read(href))
    assert root.tag == f"{QTI}questestinterop"
    root_section = root.find(f"{QTI}assessment/{QTI}section")
    items = [_item(i) for i in root_section.findall(f"{QTI}item")]
    groups = []
    for section in root_section.findall(f"{QTI}section"):
        selection = section.find(f"{QTI}selection_ordering/{QTI}selection")
        groups.append(CanvasGroup(section.get("title"), int(selection.find(f"{QTI}selection_number").text),
                                  float(selection.find(f"{QTI}selection_extension/{QTI}points_per_item").text),
                                  [_item(i) for i in section.findall(f"{QTI}item")]))
    return manifest, items, groups, root


def _item(el: ET.Element) -> CanvasItem:
    meta = {f.find(f"{QTI}fieldlabel").text: f.find(f"{QTI}fieldentry").text
            for f in el.findall(f"{QTI}itemmetadata/{QTI}qtimetadata/{QTI}qtimetadatafield")}
    text = el.find(f"{QTI}presentation/{QTI}material/{QTI}mattext").text
    item = CanvasItem(el.get("ident"), el.get("title"), meta["question_type"], float(meta.get("points_possible", 1)),
                      text, element=el)
    for fb in el.findall(f"{QTI}itemfeedback"):
        item.feedback[fb.get("ident")] = fb.find(f"{QTI}flow_mat/{QTI}material/{QTI}mattext").text
    conditions = el.findall(f"{QTI}resprocessing/{QTI}respcondition")
    if item.type == "numerical_question":
        for cond in conditions:
            alt = cond.find(f"{QTI}conditionvar/{QTI}or")
            if alt is None:
                continue
            exact = float(alt.find(f"{QTI}varequal").text)
            upper = alt.find(f"{QTI}and/{QTI}varlte")
            item.exact.append((exact, float(upper.text) - exact if upper is not None else 0.0))
    elif item.type == "short_answer_question":
        for cond in conditions:
            if cond.find(f"{QTI}setvar") is not None:
                item.texts += [v.text for v in cond.findall(f"{QTI}conditionvar/{QTI}varequal")]
    elif item.type == "multiple_choice_question":
        lid = el.find(f"{QTI}presentation/{QTI}response_lid")
        item.choices = {l.get("ident"): l.find(f"{QTI}material/{QTI}mattext").text
                        for l in lid.findall(f"{QTI}render_choice/{QTI}response_label")}
        for cond in conditions:
            setvar = cond.find(f"{QTI}setvar")
            if setvar is not None and float(setvar.text) > 0:
                item.correct = cond.find(f"{QTI}conditionvar/{QTI}varequal").text
    elif item.type == "fill_in_multiple_blanks_question":
        for lid in el.findall(f"{QTI}presentation/{QTI}response_lid"):
            name = lid.get("ident").removeprefix("response_")
            item.blanks[name] = [l.find(f"{QTI}material/{QTI}mattext").text
                                 for l in lid.findall(f"{QTI}render_choice/{QTI}response_label")]
    return item


def canvas_score(item: CanvasItem, responses: list[str]) -> float:
    """The points Canvas gives ``responses`` (one a blank; one for other types)."""
    if item.type == "numerical_question":
        value = float(responses[0])
        return item.points if any(abs(value - e) <= m + 1e-12 for e, m in item.exact) else 0.0
    if item.type == "short_answer_question":
        return item.points if responses[0].strip().lower() in {t.strip().lower() for t in item.texts} else 0.0
    if item.type == "multiple_choice_question":
        return item.points if responses[0] == item.correct else 0.0
    assert len(responses) == len(item.blanks)
    right = sum(r.strip().lower() in {t.strip().lower() for t in accepted}
                for r, accepted in zip(responses, item.blanks.values()))
    return item.points * right / len(item.blanks)
