"""Quizzes: generate variants from the problem bank, export them, grade responses."""

from .generate import generate, make_quiz, plan, read_roster
from .grade import grade_responses, load_key, write_grades
from .model import Question, Quiz

__all__ = ["Question", "Quiz", "generate", "grade_responses", "load_key", "make_quiz", "plan", "read_roster", "write_grades"]
