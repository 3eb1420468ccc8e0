"""Moodle XML export (Moodle's documented "Moodle XML format"), graded as ``quiz grade`` grades.

Each question becomes the Moodle type that fits its answer (see :mod:`.blanks`):

- one integer or number      -> ``numerical`` (the answer's tolerance)
- one shape                  -> ``shortanswer`` (every usual spelling accepted)
- one of a set of options    -> ``multichoice`` (single answer; the options are
  the answers, not repeated in the text)
- a matrix or several parts  -> ``cloze``: one NUMERICAL / SHORTANSWER blank a
  leaf, in a grid for a matrix and a table for a per-layer answer

Known mistakes are extra answers worth 0% whose feedback names them, one answer
a wrong value with the feedback of every mistake that gives it; ``*`` catches
the rest.  Every answer's fraction is 100% or 0%, both in Moodle's fixed list
(``question_bank::fraction_options_full()``).

Weights.  Moodle's importer ignores ``<defaultgrade>`` for a cloze question and
makes its mark the sum of its blanks' weights, which are whole numbers
(``{2:NUMERICAL:...}``; ``qtype_multianswer_extract_question``), and it grades
a cloze question as the weighted share of its blanks that are right.  With
every blank weighing the same, that share is ``quiz grade``'s: each leaf an
equal part of the question.  A quiz file puts all its questions on one scale,
the smallest whole number ``scale`` for which every cloze question's blanks get
equal whole weights summing to ``scale × points``: each question imports worth
``scale × points``, so every question keeps its weight relative to the others
(a 4×4 matrix is not worth 16 beside 1).  The class bank holds every student's
variant of each slot, whose blank counts differ (a 4×4, 5×5 or 6×6 matrix; 7 to 23
blanks for a network), so one scale for all would be the least common multiple of
them all, in the millions.  The bank is meant for "random question from category"
slots, where Moodle gives the slot its own mark (1 by default, our points) and
divides the drawn question's score by the question's own mark: there each
question keeps its own scale (a cloze blank weighs 1).
"""

from __future__ import annotations

import html as htmllib
import math
import re
from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import lru_cache
from typing import Any, Sequence

from markupsafe import Markup

from grader.problems.answers import Choice, LeafFormat, Shape
from grader.render import render

from .blanks import Blank, Layout, blanks_html, converted, number
from .model import Question, Quiz

#: Stand for a blank's weight in a cloze question's text, and for a question's mark, until the
#: file's scale is known: each question is rendered once, for its student's file and the bank.
WEIGHT = "\ue000"
MARK = "\ue001"


@dataclass
class MoodleAnswer:
    text: str
    fraction: float  # percent
    feedback: str = ""
    tolerance: float | None = None


@dataclass
class MoodleQuestion:
    type: str
    name: str
    html: str  # cloze: with WEIGHT where each blank's weight goes
    points: float
    answers: list[MoodleAnswer] = field(default_factory=list)
    blanks: int = 0  # a cloze question's blanks
    slot: str = ""  # the question id, whose category it goes in
    weight: int = 1  # a cloze blank's weight, once the scale is set
    mark: float = 1.0  # what the question imports worth
    xml: str = ""  # the question's element, with WEIGHT and MARK for the scale's numbers

    def element(self) -> str:
        """The question's XML with this file's mark and weights."""
        return self.xml.replace(MARK, f"{self.mark:.7f}").replace(WEIGHT, str(self.weight))


def shape_spellings(shape: Any) -> list[str]:
    return list(_spellings(tuple(int(d) for d in shape)))


@lru_cache(maxsize=4096)  # the same shapes recur across students and questions
def _spellings(shape: tuple[int, ...]) -> tuple[str, ...]:
    dims = [str(d) for d in shape]
    return tuple(dict.fromkeys([
        "(" + ", ".join(dims) + ")", "(" + ",".join(dims) + ")", "x".join(dims), " x ".join(dims),
        "×".join(dims), "[" + ", ".join(dims) + "]", "[" + ",".join(dims) + "]", ", ".join(dims), ",".join(dims),
    ]))


def plain(value: Any) -> str:
    """A number as Moodle reads it: no grouping (Moodle reads "1,040" as a decimal comma
    in some languages), up to 10 significant digits."""
    v = float(value)
    return str(int(v)) if v.is_integer() else f"{v:.10g}"


def convert(question: Question, student_id: str | None = None) -> MoodleQuestion:
    """One question as Moodle sees it (its mark and a cloze question's weights are set by :func:`scaled`)."""
    q = _convert(question, student_id)
    q.xml = render("quiz_question.xml.j2", q=q, mark=MARK)
    return q


def _convert(question: Question, student_id: str | None) -> MoodleQuestion:
    lay = question.layout
    name = f"{question.id} {question.problem}" + (f" ({student_id})" if student_id else "")
    text = question.statement_html
    common = {"name": name, "points": question.points, "slot": question.id, "mark": question.points}
    if lay.kind == "choice":
        return MoodleQuestion("multichoice", html=text, answers=_choice_answers(lay.blanks[0]), **common)
    if lay.kind == "single" and isinstance(lay.blanks[0].leaf, Shape):
        return MoodleQuestion("shortanswer", html=text, answers=_shape_answers(lay.blanks[0]), **common)
    if lay.kind == "single":
        return MoodleQuestion("numerical", html=text, answers=_numerical_answers(lay.blanks[0]), **common)
    return MoodleQuestion("cloze", html=text + cloze_part(lay), blanks=len(lay.blanks), **common)


def _choice_answers(blank: Blank) -> list[MoodleAnswer]:
    why = {w.value: w.feedback for w in blank.wrong}
    return [MoodleAnswer(label, 100 if key == blank.value else 0,
                         "Correct." if key == blank.value else why.get(key, "Not the best strategy here."))
            for key, label in blank.leaf.options]


def _shape_answers(blank: Blank) -> list[MoodleAnswer]:
    answers = [MoodleAnswer(s, 100, "Correct.") for s in shape_spellings(blank.value)]
    for w in blank.wrong:
        answers += [MoodleAnswer(s, 0, w.feedback) for s in shape_spellings(w.value)[:3]]
    answers.append(MoodleAnswer("*", 0, "Not right: write the shape as (rows, columns)."))
    return _dedupe(answers)


def _numerical_answers(blank: Blank) -> list[MoodleAnswer]:
    tol = blank.leaf.tolerance(blank.value)
    answers = [MoodleAnswer(plain(number(blank.leaf, blank.value)), 100, "Correct.", tol)]
    answers += [MoodleAnswer(plain(number(blank.leaf, w.value)), 0, w.feedback, 0) for w in blank.wrong]
    answers.append(MoodleAnswer("*", 0, "Not right.", 0))
    return _dedupe(answers)


def _dedupe(answers: list[MoodleAnswer]) -> list[MoodleAnswer]:
    seen, out = set(), []
    for a in answers:
        if a.text not in seen:
            seen.add(a.text)
            out.append(a)
    return out


_CLOZE_SPECIAL = re.compile(r'[&<>\\}#~/"]')  # what html.escape and cloze_escape change


@lru_cache(maxsize=4096)  # feedback and labels repeat in every cell and every student's quiz
def cloze_escape(text: str) -> str:
    """Escape the characters that end or split a cloze sub-question."""
    if not _CLOZE_SPECIAL.search(text):  # most labels and every shape's spellings
        return text
    text = htmllib.escape(text, quote=False)
    for ch in "\\}#~/\"":
        text = text.replace(ch, "\\" + ch)
    return text


def cloze_code(blank: Blank) -> str:
    """One blank, e.g. ``{W:NUMERICAL:=55:0#Correct.~%0%54:0#forgot the +1}`` (W: its weight)."""
    value = tuple(blank.value) if type(blank.value) is list else blank.value  # hashable, for the cache
    return _code(blank.leaf, value, tuple([(tuple(w.value) if type(w.value) is list else w.value, w.feedback)
                                           for w in blank.wrong]))


@lru_cache(maxsize=16384)  # the same cells recur with the same mistakes, student after student
def _code(leaf: LeafFormat, value: Any, wrong: tuple[tuple[Any, str], ...]) -> str:
    if isinstance(leaf, Choice):
        why = dict(wrong)
        opts = [("=" if key == value else "") + cloze_escape(label) + "#"
                + cloze_escape("Correct." if key == value else why.get(key, "Not this one."))
                for key, label in leaf.options]
        return "{" + WEIGHT + ":MULTICHOICE:" + "~".join(opts) + "}"
    if isinstance(leaf, Shape):
        opts = [f"={cloze_escape(s)}#Correct." for s in shape_spellings(value)]
        for v, fb in wrong:
            opts += [f"%0%{cloze_escape(s)}#{cloze_escape(fb)}" for s in shape_spellings(v)[:3]]
        return "{" + WEIGHT + ":SHORTANSWER:" + "~".join(dict.fromkeys(opts)) + "}"
    tol = leaf.tolerance(value)
    opts = [f"={plain(number(leaf, value))}:{plain(tol)}#Correct."]
    opts += [f"%0%{plain(number(leaf, v))}:0#{cloze_escape(fb)}" for v, fb in wrong]
    return "{" + WEIGHT + ":NUMERICAL:" + "~".join(dict.fromkeys(opts)) + "}"


def cloze_part(lay: Layout) -> str:
    """The blanks of a cloze question as HTML, shaped like the answer."""
    return blanks_html(lay, cloze_code)


# ---------------------------------------------------------------- weights


def _points(value: float) -> Fraction:
    return Fraction(value).limit_denominator(10**6)


def _unit(q: MoodleQuestion) -> int:
    """The smallest scale at which ``q``'s blanks get equal whole weights: scale × points / blanks whole."""
    if not q.blanks:
        return 1
    p = _points(q.points)
    return q.blanks * p.denominator // math.gcd(p.numerator, q.blanks * p.denominator)


def scaled(questions: Sequence[MoodleQuestion], scale: int) -> list[MoodleQuestion]:
    """The questions worth ``scale × points`` each, cloze blanks weighing ``scale × points / blanks``."""
    out = []
    for q in questions:
        mark = _points(q.points) * scale
        weight = mark / q.blanks if q.blanks else 1
        assert weight == int(weight), (q.name, scale)
        out.append(replace(q, weight=int(weight), mark=float(mark)))
    return out


def common_scale(questions: Sequence[MoodleQuestion]) -> int:
    """The smallest scale at which every cloze question's blanks get equal whole weights."""
    return math.lcm(1, *(_unit(q) for q in questions))


#: The largest mark Moodle stores: ``question.defaultmark`` is a DECIMAL(12,7).
MAX_MARK = 99999.9999999


def to_moodle_xml(quiz: Quiz, cache: dict | None = None) -> str:
    """One quiz: every question on one scale (see the module docstring), each in its slot's
    category.  Should that scale make a mark larger than Moodle stores (a long quiz of many
    blank counts: 16, 25, 13, 23...), each question keeps its own scale, as in the bank, and
    the file says so: give each question its points as its mark in the Moodle quiz."""
    questions = converted(quiz, cache, "moodle", lambda q: convert(q, quiz.student_id))
    scale = common_scale(questions)
    if scale * max((q.points for q in questions), default=1) <= MAX_MARK:
        return render_file(quiz, _by_slot(scaled(questions, scale)))
    note = (f"One scale for these questions would be {scale:,}, past the largest mark Moodle stores: each "
            f"question is on a scale of its own; in the quiz, give each question its points as its mark.")
    return render_file(quiz, _by_slot([scaled([q], _unit(q))[0] for q in questions]), note=note)


class Bank:
    """The class bank, built a student at a time: for each question slot one category holding
    every student's variant, ready for one "random question from category" slot each; each
    question on its own scale.  Only each question's XML is kept, not the questions."""

    def __init__(self) -> None:
        self.quiz: Quiz | None = None
        self.slots: dict[str, list[str]] = {}

    def add(self, quiz: Quiz, cache: dict | None = None) -> None:
        self.quiz = self.quiz or quiz
        for mq in converted(quiz, cache, "moodle", lambda q: convert(q, quiz.student_id)):
            self.slots.setdefault(mq.slot, []).append(scaled([mq], _unit(mq))[0].element())

    def text(self) -> str:
        assert self.quiz is not None, "a bank of no quiz"
        return render_file(self.quiz, list(self.slots.items()), bank=True)


def category(quiz: Quiz, slot: str) -> str:
    return f"$course$/{quiz.name}/{slot}"


def render_file(quiz: Quiz, slots: Sequence[tuple[str, list[str]]], bank: bool = False, note: str = "") -> str:
    """The XML: for each slot, a category element, then its questions' XML."""
    groups = [{"category": category(quiz, slot), "questions": [Markup(x) for x in xml],  # escaped by convert()
               "info": f"Question {slot} of {quiz.title}: "
                       + ("every student's variant, for one 'random question from this category' slot."
                          if bank else "its question.")}
              for slot, xml in slots]
    return render("quiz.xml.j2", groups=groups, note=note)


def _by_slot(questions: Sequence[MoodleQuestion]) -> list[tuple[str, list[str]]]:
    return [(q.slot, [q.element()]) for q in questions]
