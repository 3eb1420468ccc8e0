"""Quizzes: generate variants from the problem bank, export them (printable, Moodle, Canvas), grade responses."""

from .generate import generate, make_quiz, plan, read_roster
from .grade import grade_responses, load_key, review_path, write_grades, write_review
from .model import Question, Quiz

__all__ = ["Question", "Quiz", "generate", "grade_responses", "load_key", "make_quiz", "plan", "read_roster",
           "review_path", "write_grades", "write_review"]
