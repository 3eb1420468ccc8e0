"""Quiz renderers: HTML (printable), Markdown, JSON, Moodle XML and Canvas QTI.

Each takes a :class:`Quiz` and returns text (a zip's bytes for QTI); nothing
here decides what a question is, only how it looks.  HTML and Markdown come
from Jinja templates.  ``BANKS`` make the LMS formats' class bank from every
student's quiz.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from grader.render import render

from . import moodle, qti
from .model import Quiz


def view(quiz: Quiz) -> dict[str, Any]:
    """What the HTML and Markdown templates show: the quiz and its questions."""
    return {
        "title": quiz.title,
        "seed": quiz.seed,
        "student_id": quiz.student_id,
        "student_name": quiz.student_name,
        "max_score": quiz.max_score,
        "questions": quiz.questions,
    }


def to_html(quiz: Quiz, cache: dict | None = None) -> str:
    """The printable quiz, each answer area shaped like the answer (no answer in it)."""
    return render("quiz.html.j2", areas={q.id: q.answer_area for q in quiz.questions}, **view(quiz))


def to_markdown(quiz: Quiz, cache: dict | None = None) -> str:
    return render("quiz.md.j2", **view(quiz))


def to_json(quiz: Quiz, cache: dict | None = None) -> str:
    data = {
        "title": quiz.title,
        "seed": quiz.seed,
        "student_id": quiz.student_id,
        "student_name": quiz.student_name,
        "questions": [q.public_entry() for q in quiz.questions],
    }
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


#: Each format's renderer: ``(quiz, cache)``, the cache shared with the bank of the same run
#: so that the LMS formats convert each question once.
RENDERERS: dict[str, Callable[[Quiz, dict | None], str | bytes]] = {
    "html": to_html,
    "json": to_json,
    "moodle": moodle.to_moodle_xml,
    "markdown": to_markdown,
    "qti": qti.to_qti_zip,
}

#: The LMS formats' class bank, built a student at a time (``add(quiz, cache)``, then ``text()``).
BANKS: dict[str, Callable[[], Any]] = {
    "moodle": moodle.Bank,
    "qti": qti.Bank,
}
