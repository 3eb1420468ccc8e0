"""Canvas QTI export: a zip of ``imsmanifest.xml`` and one QTI 1.2 assessment.

Canvas's "QTI .zip file" import turns QTI 1.2 into QTI 2.1 (instructure's
QTIMigrationTool) and reads each item's ``<qtimetadatafield>``s ``question_type``
and ``points_possible`` (``gems/plugins/qti_exporter/lib/qti/
assessment_item_converter.rb``); the items here are shaped as Canvas's own QTI
export writes them (``lib/cc/qti/qti_items.rb``), which the importer reads back:

- one integer or number     -> ``numerical_question``: the answer with the
  answer's tolerance as its margin
- one shape                 -> ``short_answer_question``: every usual spelling
- one of a set of options   -> ``multiple_choice_question``: each wrong option
  with the feedback of the mistake that picks it
- a matrix or several parts -> ``fill_in_multiple_blanks_question``: a blank a
  leaf (``[b1]`` ...) in a grid or a table, each accepting the value's usual
  spellings

Canvas counts every answer of a numerical or fill-in question as right
(``Quizzes::QuizQuestion::NumericalQuestion``: any matching answer is full
credit), so known mistakes cannot be 0% answers as in Moodle: each question's
"incorrect" feedback lists them, with the wrong value where there is one.

Weights: an item is worth its ``points``; Canvas gives a fill-in question
``points × (blanks right / blanks)`` (``Quizzes::QuizQuestion::Base#score_question``),
the share ``quiz grade`` gives.  The class bank (with a roster) is one quiz with
a question group per slot, holding every student's variant, picking one, each
worth the slot's points (``selection_number``, ``points_per_item``).
Canvas compares a fill-in blank as text, so a blank accepts the value's usual
spellings (a whole number with and without grouping, a decimal to 2-4 places,
a shape's spellings) rather than a tolerance.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup, escape

from grader.problems.answers import Bytes, Choice, Integer, Number, Shape, grouped
from grader.render import render

from .blanks import Blank, Layout, blanks_html, converted, number
from .model import Question, Quiz
from .moodle import plain, shape_spellings

#: The zip's entries are dated 1980-01-01 so that the same quiz gives the same bytes.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
#: A resource Canvas's importer reads as QTI 1.2 (``CC::CCHelper::QTI_ASSESSMENT_TYPE``).
RESOURCE_TYPE = "imsqti_xmlv1p2"


@dataclass
class Option:
    ident: str
    text: str
    correct: bool
    feedback: str = ""


@dataclass
class FillBlank:
    ident: str  # the name in the text: [b1]
    answers: list[tuple[str, str]]  # (answer ident, accepted text)


@dataclass
class Item:
    ident: str
    title: str
    type: str  # Canvas's question_type
    points: float
    html: str
    exact: str = ""  # numerical
    margin: str = ""
    texts: list[str] = field(default_factory=list)  # short answer
    choices: list[Option] = field(default_factory=list)
    blanks: list[FillBlank] = field(default_factory=list)
    incorrect: str = ""  # the "incorrect" feedback, HTML

    @property
    def share(self) -> str:
        """A fill-in blank's share of SCORE (0-100), as Canvas's export writes it."""
        return f"{100 / len(self.blanks):.2f}"


def ident(*parts: object) -> str:
    """A QTI identifier (an XML NMTOKEN without the ':' and '.' the migration tool rewrites)."""
    return "g" + hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8")).hexdigest()[:20]


def convert(question: Question, quiz: Quiz) -> str:
    """One question as a QTI item's XML (escaped, ready to put in an assessment)."""
    return render("quiz_qti_item.xml.j2", item=item_of(question, quiz))


def item_of(question: Question, quiz: Quiz) -> Item:
    lay = question.layout
    title = f"{question.id} {question.problem}" + (f" ({quiz.student_id})" if quiz.student_id else "")
    base = ident(quiz.seed, quiz.student_id or "", question.id)
    item = Item(base, title, "", question.points, question.statement_html)
    blank = lay.blanks[0]
    if lay.kind == "choice":
        why = {w.value: w.feedback for w in blank.wrong}
        item.type = "multiple_choice_question"
        item.choices = [Option(str(1000 + i), label, key == blank.value,
                                "" if key == blank.value else why.get(key, "Not the best strategy here."))
                        for i, (key, label) in enumerate(blank.leaf.options)]
    elif lay.kind == "single" and isinstance(blank.leaf, Shape):
        item.type = "short_answer_question"
        item.texts = shape_spellings(blank.value)
        item.incorrect = _mistakes_html(lay, with_values=True)
    elif lay.kind == "single":
        item.type = "numerical_question"
        item.exact = plain(number(blank.leaf, blank.value))
        tol = blank.leaf.tolerance(blank.value)
        item.margin = plain(tol) if tol else ""
        item.incorrect = _mistakes_html(lay, with_values=True)
    else:
        item.type = "fill_in_multiple_blanks_question"
        names = {b.path: f"b{i}" for i, b in enumerate(lay.blanks, 1)}
        item.html = question.statement_html + fill_part(lay, names)
        item.blanks = [FillBlank(names[b.path], [(str(2000 + 100 * i + j), text) for j, text in enumerate(spellings(b))])
                       for i, b in enumerate(lay.blanks, 1)]
        item.incorrect = _mistakes_html(lay, with_values=False)
    return item


def spellings(blank: Blank) -> list[str]:
    """The texts a fill-in blank accepts (Canvas compares them trimmed, case-folded)."""
    leaf, value = blank.leaf, blank.value
    if isinstance(leaf, Shape):
        return shape_spellings(value)
    if isinstance(leaf, Choice):
        return [label for key, label in leaf.options if key == value]
    x = number(leaf, value)
    if isinstance(leaf, (Integer, Bytes)) or float(x).is_integer():
        n = int(round(x))
        texts = [str(n), grouped(n)]
        if isinstance(leaf, Number):
            texts += [f"{n}.0", f"{n}.00"]
        return list(dict.fromkeys(texts))
    tol = leaf.tolerance(value)
    texts = [plain(x)]
    for places in (2, 3, 4):
        text = f"{x:.{places}f}"
        if abs(float(text) - x) <= tol:
            texts.append(text)
    texts += [t.replace("0.", ".", 1) for t in texts if t.startswith("0.")]
    texts += [t.replace("-0.", "-.", 1) for t in texts if t.startswith("-0.")]
    return list(dict.fromkeys(texts))


def fill_part(lay: Layout, names: dict[str, str]) -> str:
    """The blanks of a fill-in question as HTML, shaped like the answer: ``[b1]`` in each place."""
    return blanks_html(lay, lambda b: f"[{names[b.path]}]")


def _mistakes_html(lay: Layout, with_values: bool) -> str:
    """The known mistakes, for Canvas's "incorrect" feedback: with the value each gives
    (one blank), or each mistake once (several blanks)."""
    if with_values:
        blank = lay.blanks[0]
        lines = [f"{_show(blank, w.value)}: {w.feedback}" for w in blank.wrong]
    else:
        lines = list(dict.fromkeys(note for b in lay.blanks for w in b.wrong for note in w.notes))
    if not lines:
        return "Not right."
    items = "".join(f"<li>{escape(line)}</li>" for line in lines)
    return str(Markup("<p>Not right. Known mistakes that give a wrong answer here:</p><ul>{}</ul>").format(Markup(items)))


def _show(blank: Blank, value: Any) -> str:
    return blank.leaf.show(value) if not isinstance(blank.leaf, Bytes) else plain(number(blank.leaf, value))


# ---------------------------------------------------------------- the package


def _assessment(quiz: Quiz, title: str, sections: list[dict[str, Any]], items: list[str]) -> str:
    return render("quiz_qti.xml.j2", ident=ident(quiz.seed, title), title=title, sections=sections,
                  items=[Markup(i) for i in items])  # each item rendered (escaped) by convert()


def _package(quiz: Quiz, title: str, assessment: str) -> bytes:
    name = ident(quiz.seed, title)
    manifest = render("quiz_qti_manifest.xml.j2", ident=name + "_manifest", resource=name, type=RESOURCE_TYPE,
                      href=f"{name}/{name}.xml", title=title)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, text in (("imsmanifest.xml", manifest), (f"{name}/{name}.xml", assessment)):
            info = zipfile.ZipInfo(path, ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, text.encode("utf-8"))
    return buffer.getvalue()


def to_qti_zip(quiz: Quiz, cache: dict | None = None) -> bytes:
    """One quiz: its questions in order, each worth its points."""
    title = quiz.title + (f" ({quiz.student_id})" if quiz.student_id else "")
    return _package(quiz, title, _assessment(quiz, title, [], converted(quiz, cache, "qti", lambda q: convert(q, quiz))))


class Bank:
    """The class bank, built a student at a time: a question group a slot holding every
    student's variant; each group draws one question, worth the slot's points.  Only each
    item's XML is kept, not the questions."""

    def __init__(self) -> None:
        self.quiz: Quiz | None = None
        self.sections: dict[str, dict[str, Any]] = {}

    def add(self, quiz: Quiz, cache: dict | None = None) -> None:
        self.quiz = self.quiz or quiz
        for q, item in zip(quiz.questions, converted(quiz, cache, "qti", lambda q: convert(q, quiz))):
            section = self.sections.setdefault(q.id, {"ident": ident(quiz.seed, "slot", q.id), "title": f"{q.id} {q.problem}",
                                                      "points": q.points, "items": []})
            section["items"].append(Markup(item))

    def text(self) -> bytes:
        assert self.quiz is not None, "a bank of no quiz"
        title = f"{self.quiz.title}, every student's variant"
        return _package(self.quiz, title, _assessment(self.quiz, title, list(self.sections.values()), []))
