"""``grader quiz generate``: draw quizzes from the bank and write them out.

Every student answers the same sequence of problem types (drawn from the quiz
seed alone), each with parameters of their own drawn from
``rng(seed, student_id, question id, problem name)``: the same seed and roster
give the same quizzes on any machine.

With a roster, each student's files go in ``DIR/<student_id>/``, and the LMS
formats also get a class bank in ``DIR`` (``quiz.xml``, ``quiz-qti.zip``): for each
question slot, every student's variant, the way Moodle's "random question from
category" and Canvas's question groups draw one (an LMS cannot hand each
student a question of their own).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Iterable, Sequence

from grader.errors import InputFileError, UsageError
from grader.problems import Problem, all_problems
from grader.roster import read_roster as read_class_roster
from grader.seeding import rng

from . import formats
from .model import Question, Quiz

FORMATS = {"html": "quiz.html", "json": "quiz.json", "moodle": "quiz.xml", "markdown": "quiz.md", "qti": "quiz-qti.zip"}
#: Written when no format is named (the contract's four; Canvas's zip on request).
DEFAULT_FORMATS = ("html", "json", "moodle", "markdown")


def topics() -> dict[str, list[str]]:
    """Topic name -> the problem types under it."""
    out: dict[str, list[str]] = {}
    for problem in all_problems():
        out.setdefault(problem.topic, []).append(problem.name)
    return out


def select(topic_names: Sequence[str] | None) -> list[Problem]:
    """The problem types named by topics or problem names (all when None)."""
    problems = all_problems()
    if not topic_names:
        return problems
    wanted = {t.strip() for t in topic_names if t.strip()}
    known = {p.topic for p in problems} | {p.name for p in problems}
    unknown = sorted(wanted - known)
    if unknown:
        raise UsageError(
            f"unknown topic {unknown[0]!r}; topics: {', '.join(sorted(topics()))} (or any problem name)"
        )
    return [p for p in problems if p.topic in wanted or p.name in wanted]


def plan(count: int, seed: int, topic_names: Sequence[str] | None = None) -> list[Problem]:
    """The problem type of each question: every selected type once, in an
    order drawn from the seed, then again, until ``count`` questions."""
    if count < 1:
        raise UsageError(f"--count must be at least 1, got {count}")
    pool = select(topic_names)
    order = rng(seed, "plan")
    sequence: list[Problem] = []
    while len(sequence) < count:
        sequence.extend(pool[i] for i in order.permutation(len(pool)))
    return sequence[:count]


def make_quiz(
    count: int,
    seed: int,
    topic_names: Sequence[str] | None = None,
    student_id: str | None = None,
    types: Sequence[Problem] | None = None,
    student_name: str = "",
) -> Quiz:
    """One quiz; with ``student_id``, that student's own variant."""
    types = list(types) if types is not None else plan(count, seed, topic_names)
    questions = []
    for i, problem in enumerate(types, 1):
        qid = f"q{i}"
        params = problem.sample(rng(seed, student_id or "", qid, problem.name))
        questions.append(Question(qid, problem.name, params, problem.solve(params)))
    title = f"CNN quiz (seed {seed})"
    return Quiz(seed, tuple(questions), student_id, title, student_name)


_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$")


def read_roster(path: str | os.PathLike) -> list[tuple[str, str]]:
    """(student id, name) for each student of a roster CSV (a ``student_id`` column, a
    ``name`` column when there is one; comma, semicolon or tab), in the roster's order.
    Each id names the student's folder, so it must be one a file system takes."""
    roster = read_class_roster(path)
    for student in roster.students:
        if not _SAFE_ID.match(student.student_id):
            raise InputFileError(f"roster {path}: student_id {student.student_id!r} can't name a folder "
                                 "(use letters, digits, '.', '_', '-', '@', '+')")
    return [(s.student_id, s.name) for s in roster.students]


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and a rename."""
    tmp = path.with_name(f".{path.name}.tmp")
    if isinstance(data, bytes):
        tmp.write_bytes(data)
    else:
        tmp.write_text(data, encoding="utf-8")
    os.replace(tmp, path)


def write_quiz(quiz: Quiz, folder: Path, kinds: Iterable[str], cache: dict | None = None) -> list[Path]:
    """The quiz in each format under ``folder``.  The LMS formats are made first: the page's
    answer areas then reuse the layouts they computed."""
    folder.mkdir(parents=True, exist_ok=True)
    kinds = list(kinds)
    for kind in sorted(kinds, key=lambda k: k not in formats.BANKS):
        write_atomic(folder / FORMATS[kind], formats.RENDERERS[kind](quiz, cache))
    return [folder / FORMATS[kind] for kind in kinds]


def generate(
    out: str | os.PathLike,
    count: int = 10,
    seed: int = 0,
    topic_names: Sequence[str] | None = None,
    roster: str | os.PathLike | None = None,
    kinds: Sequence[str] | None = None,
) -> list[Path]:
    """Write the quiz (or one per student, and the LMS formats' class bank) and key.json under ``out``."""
    kinds = list(dict.fromkeys(kinds or DEFAULT_FORMATS))
    bad = [k for k in kinds if k not in FORMATS]
    if bad:
        raise UsageError(f"unknown format {bad[0]!r}; formats: {', '.join(FORMATS)}")
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--out {folder} exists and is not a folder")
    types = plan(count, seed, topic_names)
    written: list[Path] = []
    try:
        if roster is None:
            quiz = make_quiz(count, seed, types=types)
            written += write_quiz(quiz, folder, kinds)
            key = {"seed": seed, "questions": [q.key_entry() for q in quiz.questions]}
        else:
            students = {}
            banks = {kind: formats.BANKS[kind]() for kind in kinds if kind in formats.BANKS}
            for sid, name in read_roster(roster):
                quiz = make_quiz(count, seed, student_id=sid, types=types, student_name=name)
                cache: dict = {}  # the student's questions converted once, for their files and the banks
                written += write_quiz(quiz, folder / sid, kinds, cache)
                for bank in banks.values():
                    bank.add(quiz, cache)
                students[sid] = {"questions": [q.key_entry() for q in quiz.questions]}
            for kind, bank in banks.items():
                write_atomic(folder / FORMATS[kind], bank.text())
                written.append(folder / FORMATS[kind])
            key = {"seed": seed, "students": students}
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(folder / "key.json", json.dumps(key, indent=1, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise UsageError(f"cannot write the quiz under {folder}: {exc.strerror or exc}") from None
    written.append(folder / "key.json")
    return written
