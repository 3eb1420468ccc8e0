"""A quiz is plain data: questions drawn from the bank, each with its answer."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from grader.problems import Problem, Statement, get
from grader.render import render


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

    @property
    def max_score(self) -> float:
        return sum(q.points for q in self.questions)
