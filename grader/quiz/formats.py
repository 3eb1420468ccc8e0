"""Quiz renderers: HTML (printable), Markdown, JSON and Moodle XML.

Each takes a :class:`Quiz` and returns text; nothing here decides what a
question is, only how it looks.  HTML and Markdown come from Jinja templates.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from grader.render import render

from . import moodle
from .model import Quiz


def view(quiz: Quiz) -> dict[str, Any]:
    """What the HTML and Markdown templates show: the quiz and its questions."""
    return {
        "title": quiz.title,
        "seed": quiz.seed,
        "student_id": quiz.student_id,
        "max_score": quiz.max_score,
        "questions": quiz.questions,
    }


def to_html(quiz: Quiz) -> str:
    return render("quiz.html.j2", **view(quiz))


def to_markdown(quiz: Quiz) -> str:
    return render("quiz.md.j2", **view(quiz))


def to_json(quiz: Quiz) -> str:
    data = {
        "title": quiz.title,
        "seed": quiz.seed,
        "student_id": quiz.student_id,
        "questions": [q.public_entry() for q in quiz.questions],
    }
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


RENDERERS: dict[str, Callable[[Quiz], str]] = {
    "html": to_html,
    "json": to_json,
    "moodle": moodle.to_moodle_xml,
    "markdown": to_markdown,
}
