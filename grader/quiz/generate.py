"""``grader quiz generate``: draw quizzes from the bank and write them out.

Every student answers the same sequence of problem types (drawn from the quiz
seed alone), each with parameters of their own drawn from
``rng(seed, student_id, question id, problem name)``: the same seed and roster
give the same quizzes on any machine.
"""

from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path
from typing import Iterable, Sequence

from grader.errors import InputFileError, UsageError
from grader.problems import Problem, all_problems
from grader.seeding import rng

from . import formats
from .model import Question, Quiz

FORMATS = {"html": "quiz.html", "json": "quiz.json", "moodle": "quiz.xml", "markdown": "quiz.md"}


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
) -> Quiz:
    """One quiz; with ``student_id``, that student's own variant."""
    types = list(types) if types is not None else plan(count, seed, topic_names)
    questions = []
    for i, problem in enumerate(types, 1):
        qid = f"q{i}"
        params = problem.sample(rng(seed, student_id or "", qid, problem.name))
        questions.append(Question(qid, problem.name, params, problem.solve(params)))
    title = f"CNN quiz (seed {seed})"
    return Quiz(seed, tuple(questions), student_id, title)


_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$")


def read_roster(path: str | os.PathLike) -> list[str]:
    """Student ids from a CSV file with a ``student_id`` column."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or "student_id" not in [f.strip() for f in reader.fieldnames]:
                raise InputFileError(f"{path}: the roster needs a 'student_id' column (found: {', '.join(reader.fieldnames or []) or 'nothing'})")
            column = next(f for f in reader.fieldnames if f.strip() == "student_id")
            ids = []
            for line, row in enumerate(reader, 2):
                sid = (row.get(column) or "").strip()
                if not sid:
                    continue
                if not _SAFE_ID.match(sid):
                    raise InputFileError(
                        f"{path}:{line}: student_id {sid!r} can't name a folder (use letters, digits, '.', '_', '-', '@', '+')"
                    )
                ids.append(sid)
    except OSError as exc:
        raise InputFileError(f"cannot read roster {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputFileError(f"{path}: not a readable CSV file ({exc})") from None
    dupes = sorted({s for s in ids if ids.count(s) > 1})
    if dupes:
        raise InputFileError(f"{path}: student_id {dupes[0]!r} appears more than once")
    if not ids:
        raise InputFileError(f"{path}: the roster lists no students")
    return ids


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and a rename."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_quiz(quiz: Quiz, folder: Path, kinds: Iterable[str]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in kinds:
        path = folder / FORMATS[kind]
        write_atomic(path, formats.RENDERERS[kind](quiz))
        written.append(path)
    return written


def generate(
    out: str | os.PathLike,
    count: int = 10,
    seed: int = 0,
    topic_names: Sequence[str] | None = None,
    roster: str | os.PathLike | None = None,
    kinds: Sequence[str] | None = None,
) -> list[Path]:
    """Write the quiz (or one per student) and key.json under ``out``."""
    kinds = list(dict.fromkeys(kinds or FORMATS))
    bad = [k for k in kinds if k not in FORMATS]
    if bad:
        raise UsageError(f"unknown format {bad[0]!r}; formats: {', '.join(FORMATS)}")
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--out {folder} exists and is not a folder")
    types = plan(count, seed, topic_names)
    written: list[Path] = []
    if roster is None:
        quiz = make_quiz(count, seed, types=types)
        written += write_quiz(quiz, folder, kinds)
        key = {"seed": seed, "questions": [q.key_entry() for q in quiz.questions]}
    else:
        students = {}
        for sid in read_roster(roster):
            quiz = make_quiz(count, seed, student_id=sid, types=types)
            written += write_quiz(quiz, folder / sid, kinds)
            students[sid] = {"questions": [q.key_entry() for q in quiz.questions]}
        key = {"seed": seed, "students": students}
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / "key.json", json.dumps(key, indent=1, ensure_ascii=False) + "\n")
    written.append(folder / "key.json")
    return written
