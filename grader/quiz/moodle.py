"""Moodle XML export (Moodle's documented "Moodle XML format").

Each question becomes the Moodle type that fits its answer:

- an integer                -> ``numerical`` (tolerance 0)
- a shape                   -> ``shortanswer`` (every usual spelling accepted)
- one of a set of options   -> ``multichoice`` (single answer)
- a matrix or several parts -> ``cloze`` (embedded NUMERICAL / SHORTANSWER /
  MULTICHOICE sub-questions, one per cell or part)

Known mistakes become extra answers worth 0% whose feedback names the
mistake, so Moodle tells a student "forgot the +1" as our own grader does.
A catch-all ``*`` answer gives the general "not right" feedback.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from markupsafe import escape

from grader.problems.answers import Bytes, Choice, Integer, LeafFormat, Matrix, Number, Shape
from grader.render import render

from .model import Question, Quiz


@dataclass
class MoodleAnswer:
    text: str
    fraction: float
    feedback: str = ""
    tolerance: float | None = None


@dataclass
class MoodleQuestion:
    type: str
    name: str
    html: str
    points: float
    answers: list[MoodleAnswer] = field(default_factory=list)


def shape_spellings(shape: Any) -> list[str]:
    return list(_spellings(tuple(int(d) for d in shape)))


@lru_cache(maxsize=4096)  # the same shapes recur across students and questions
def _spellings(shape: tuple[int, ...]) -> tuple[str, ...]:
    dims = [str(d) for d in shape]
    return tuple(dict.fromkeys([
        "(" + ", ".join(dims) + ")", "(" + ",".join(dims) + ")", "x".join(dims), " x ".join(dims),
        "×".join(dims), "[" + ", ".join(dims) + "]", "[" + ",".join(dims) + "]", ", ".join(dims), ",".join(dims),
    ]))


def _tolerance(leaf: LeafFormat, value: Any) -> float:
    if isinstance(leaf, Bytes):
        return round(abs(float(value)) * leaf.rel_tol, 3)
    if isinstance(leaf, (Matrix, Number)):
        return leaf.atol
    return 0


def _mistakes_by_path(question: Question, leaves: list) -> dict[str, list[tuple[Any, str]]]:
    """Each part's wrong values, with the feedback of the mistakes that give them.
    A mistake that gets a part right (``leaves``: the right answer's) tells nothing there."""
    fmt = question.type.answer_format
    right = {path: value for path, _, value in leaves}
    grouped: dict[str, dict[Any, tuple[Any, list[str]]]] = {}
    for m in question.type.telling_mistakes(question.params):
        for path, _, value in fmt.leaves(m.answer):
            if path in right and value == right[path]:
                continue
            slot = grouped.setdefault(path, {}).setdefault(_json_key(value), (value, []))
            slot[1].append(m.feedback)
    return {path: [(v, " or ".join(fbs)) for v, fbs in by_value.values()] for path, by_value in grouped.items()}


def _json_key(value: Any) -> Any:
    """Equal for values that write the same JSON (an int stands for itself: it writes as ``str(int)``)."""
    return value if type(value) is int else json.dumps(value)


def convert(question: Question) -> MoodleQuestion:
    fmt = question.type.answer_format
    leaves = fmt.leaves(question.answer)
    wrong = _mistakes_by_path(question, leaves)
    name = f"{question.id} {question.problem}"
    html = question.statement_html
    if len(leaves) == 1 and isinstance(leaves[0][1], (Integer, Bytes, Shape, Choice)):
        path, leaf, value = leaves[0]
        mistakes = [(v, fb) for v, fb in wrong.get(path, []) if not leaf.same(value, v)]
        if isinstance(leaf, Choice):
            answers = [
                MoodleAnswer(label, 100 if key == value else 0,
                             "Correct." if key == value else next((fb for v, fb in mistakes if v == key), "Not the best strategy here."))
                for key, label in leaf.options
            ]
            return MoodleQuestion("multichoice", name, html, question.points, answers)
        if isinstance(leaf, Shape):
            answers = [MoodleAnswer(s, 100, "Correct.") for s in shape_spellings(value)]
            for v, fb in mistakes:
                answers += [MoodleAnswer(s, 0, fb) for s in shape_spellings(v)[:3]]
            answers.append(MoodleAnswer("*", 0, "Not right: write the shape as (rows, columns)."))
            return MoodleQuestion("shortanswer", name, html, question.points, _dedupe(answers))
        tol = _tolerance(leaf, value)
        answers = [MoodleAnswer(str(int(value)), 100, "Correct.", tol)]
        answers += [MoodleAnswer(str(int(v)), 0, fb, 0) for v, fb in mistakes]
        answers.append(MoodleAnswer("*", 0, "Not right.", 0))
        return MoodleQuestion("numerical", name, html, question.points, _dedupe(answers))
    return MoodleQuestion("cloze", name, html + cloze_part(question, leaves, wrong), question.points)


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
    text = html.escape(text, quote=False)
    for ch in "\\}#~/\"":
        text = text.replace(ch, "\\" + ch)
    return text


def cloze_code(leaf: LeafFormat, value: Any, mistakes: list[tuple[Any, str]]) -> str:
    """One embedded sub-question, e.g. ``{1:NUMERICAL:=55:0#Correct~%0%54:0#forgot the +1}``."""
    mistakes = [(v, fb) for v, fb in mistakes if not leaf.same(value, v)]
    if isinstance(leaf, Choice):
        opts = [
            ("=" if key == value else "") + cloze_escape(label) + "#"
            + cloze_escape("Correct." if key == value else next((fb for v, fb in mistakes if v == key), "Not this one."))
            for key, label in leaf.options
        ]
        return "{1:MULTICHOICE:" + "~".join(opts) + "}"
    if isinstance(leaf, Shape):
        opts = [f"={cloze_escape(s)}#Correct." for s in shape_spellings(value)]
        for v, fb in mistakes:
            opts += [f"%0%{cloze_escape(s)}#{cloze_escape(fb)}" for s in shape_spellings(v)[:3]]
        return "{1:SHORTANSWER:" + "~".join(dict.fromkeys(opts)) + "}"
    tol = _tolerance(leaf, value)
    opts = [f"={_plain(value)}:{tol:g}#Correct."]
    opts += [f"%0%{_plain(v)}:0#{cloze_escape(fb)}" for v, fb in mistakes]
    return "{1:NUMERICAL:" + "~".join(dict.fromkeys(opts)) + "}"


def _plain(value: Any) -> str:
    """A number as Moodle reads it: no grouping, up to 10 significant digits."""
    v = float(value)
    return str(int(v)) if v.is_integer() else f"{v:.10g}"


def cloze_part(question: Question, leaves: list, wrong: dict[str, list[tuple[Any, str]]]) -> str:
    """The answer blanks of a cloze question, as HTML."""
    rows = []
    for path, leaf, value in leaves:
        if isinstance(leaf, Matrix):
            known = _parsed(wrong.get(path, []))  # each mistake's matrix read once, not once a cell
            cell = Number(leaf.atol, leaf.rtol)
            cells = [[_cell_code(cell, v, _cell_mistakes(known, i, j, v)) for j, v in enumerate(row)]
                     for i, row in enumerate(leaf.parse(value))]
            table = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in cells)
            rows.append(f"<p>{escape(path or 'Answer')}:</p><table border=\"1\">{table}</table>")
        else:
            rows.append(f"<p>{escape(path)}: {cloze_code(leaf, value, wrong.get(path, []))}</p>")
    return "".join(rows)


def _cell_mistakes(known: list[tuple[tuple[tuple[float, ...], ...], str]], i: int, j: int,
                   right: float) -> tuple[tuple[float, str], ...]:
    """Cell (i, j) of each mistake's matrix that has one; a mistake that gets the cell right tells nothing there."""
    return tuple((m[i][j], fb) for m, fb in known if i < len(m) and j < len(m[i]) and m[i][j] != right)


@lru_cache(maxsize=4096)  # the same few numbers and mistakes recur cell after cell, student after student
def _cell_code(cell: Number, value: float, mistakes: tuple[tuple[float, str], ...]) -> str:
    return cloze_code(cell, value, list(mistakes))


def _parsed(mistakes: list[tuple[Any, str]]) -> list[tuple[tuple[tuple[float, ...], ...], str]]:
    out = []
    for matrix, fb in mistakes:
        try:
            out.append((Matrix().parse(matrix), fb))
        except ValueError:  # InvalidResponse included: a mistake that is no matrix has no cells
            continue
    return out


def to_moodle_xml(quiz: Quiz) -> str:
    category = f"$course$/grader/seed-{quiz.seed}" + (f"/{quiz.student_id}" if quiz.student_id else "")
    questions = [convert(q) for q in quiz.questions]
    return render("quiz.xml.j2", category=category, questions=questions)

