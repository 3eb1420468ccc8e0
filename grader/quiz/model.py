"""A quiz is plain data: questions drawn from the bank, each with its answer."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from grader.problems import Problem, Statement, get
from grader.render import render

if TYPE_CHECKING:
    from .blanks import Layout


@dataclass(frozen=True)
class Question:
    """One question: a problem type, its parameters and its answer."""

    id: str
    problem: str
    params: dict[str, Any]
    answer: Any
    points: float = 1.0

    @property
    def type(self) -> Problem:
        return get(self.problem)

    @cached_property
    def statement(self) -> Statement:
        return self.type.statement(self.params)

    @cached_property
    def statement_html(self) -> str:
        """The statement as HTML: the printable quiz and Moodle show the same one."""
        return render("statement.html.j2", blocks=self.statement.blocks, prompt=self.statement.prompt)

    @cached_property
    def layout(self) -> "Layout":
        """The answer as blanks shaped like the answer, with the wrong values known
        mistakes give (see :mod:`.blanks`): what the Moodle and the Canvas exports are made of."""
        from .blanks import layout

        return layout(self, mistakes=True)

    @cached_property
    def answer_area(self) -> "Layout":
        """The answer's shape (a grid, a table, fields): the printed answer area.  The full
        layout when an LMS export has made it already; else the shape alone, without the
        known mistakes' values (what makes a layout costly)."""
        from .blanks import layout

        return self.__dict__.get("layout") or layout(self)

    def key_entry(self) -> dict[str, Any]:
        """The question as it appears in key.json."""
        return {
            "id": self.id,
            "problem": self.problem,
            "params": self.params,
            "answer": self.answer,
            "points": self.points,
            "statement": self.statement.text,
        }

    def public_entry(self) -> dict[str, Any]:
        """The question without its answer, as in quiz.json."""
        statement = self.statement
        return {
            "id": self.id,
            "problem": self.problem,
            "params": self.params,
            "points": self.points,
            "statement": statement.text,
            "answer_format": self.type.answer_format.hint,
        }


@dataclass(frozen=True)
class Quiz:
    """The questions one student (or, without a roster, everyone) answers."""

    seed: int
    questions: tuple[Question, ...]
    student_id: str | None = None
    title: str = "CNN quiz"
    student_name: str = ""  # from the roster's name column, printed on the student's copy

    @property
    def max_score(self) -> float:
        return sum(q.points for q in self.questions)

    @property
    def name(self) -> str:
        """The quiz's name in an LMS question bank: the same for every student's variant,
        so that a slot's variants share one category (``$course$/cnn-quiz-seed-1/q1``)."""
        return f"cnn-quiz-seed-{self.seed}"
