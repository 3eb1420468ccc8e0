"""``grader quiz grade``: score a class's responses against key.json.

Responses come as a CSV with a ``student_id`` column and one column per
question id (``q1``, ``q2``...).  A question with several parts takes them in
one cell (``params=1040; output_shape=(32, 56, 56); mult_adds=...`` or the
values in order, separated by ``;``) or in columns of their own
(``q3.params``, ``q3.output_shape``...).  Every response row gives exactly one
output row, whatever it holds; nothing in a response can stop the grading.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.errors import GraderError, InputFileError
from grader.problems import get
from grader.problems.base import Grade

from .generate import write_atomic
from .model import Question


def _question(entry: Any, where: str) -> Question:
    if not isinstance(entry, dict) or not {"id", "problem", "params"} <= entry.keys():
        raise InputFileError(f"{where}: each question needs 'id', 'problem' and 'params'")
    try:
        problem = get(str(entry["problem"]))
        params = problem.validate(entry["params"])
    except GraderError as exc:
        raise InputFileError(f"{where} ({entry.get('id')}): {exc}") from None
    return Question(str(entry["id"]), problem.name, params, entry.get("answer"), float(entry.get("points", 1)))


@dataclass
class Key:
    """The questions of a quiz, shared or per student."""

    seed: Any
    shared: list[Question] | None = None
    students: dict[str, list[Question]] = field(default_factory=dict)

    def questions_for(self, student_id: str) -> list[Question] | None:
        if self.shared is not None:
            return self.shared
        return self.students.get(student_id)

    def question_ids(self) -> list[str]:
        if self.shared is not None:
            return [q.id for q in self.shared]
        ids: dict[str, None] = {}
        for questions in self.students.values():
            ids.update((q.id, None) for q in questions)
        return list(ids)


def load_key(path: str | os.PathLike) -> Key:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputFileError(f"cannot read key {path}: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{path}: not a JSON file ({exc})") from None
    if not isinstance(data, dict) or ("questions" not in data and "students" not in data):
        raise InputFileError(f"{path}: a key needs 'questions' or 'students' (write one with 'grader quiz generate')")
    if "questions" in data:
        if not isinstance(data["questions"], list):
            raise InputFileError(f"{path}: 'questions' must be a list")
        return Key(data.get("seed"), shared=[_question(q, str(path)) for q in data["questions"]])
    if not isinstance(data["students"], dict):
        raise InputFileError(f"{path}: 'students' must map student ids to their questions")
    students = {}
    for sid, entry in data["students"].items():
        questions = entry.get("questions") if isinstance(entry, dict) else None
        if not isinstance(questions, list):
            raise InputFileError(f"{path}: student {sid!r} has no 'questions' list")
        students[str(sid)] = [_question(q, f"{path}, student {sid}") for q in questions]
    return Key(data.get("seed"), students=students)


@dataclass
class StudentResult:
    student_id: str
    grades: dict[str, Grade]
    points: dict[str, float]
    max_score: float
    note: str = ""

    @property
    def score(self) -> float:
        return sum(self.points.values())


@dataclass
class ClassResult:
    question_ids: list[str]
    rows: list[StudentResult]

    def mean_per_question(self) -> dict[str, float]:
        """Mean fraction of the points earned on each question."""
        out = {}
        for qid in self.question_ids:
            fractions = [r.grades[qid].score for r in self.rows if qid in r.grades]
            out[qid] = sum(fractions) / len(fractions) if fractions else 0.0
        return out

    def common_mistakes(self, top: int = 5) -> list[tuple[str, int]]:
        """The misconceptions named most often, with how many students made them."""
        counts: Counter[str] = Counter()
        for row in self.rows:
            seen = set()
            for grade in row.grades.values():
                for part in grade.parts:
                    if part.feedback:
                        seen.add(part.feedback)
            counts.update(seen)
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]  # ties in a stable order

    def summary(self) -> str:
        lines = [f"graded {len(self.rows)} student(s)"]
        if self.rows:
            scores = [r.score for r in self.rows]
            lines.append(f"mean score {sum(scores) / len(scores):.2f} / {max(r.max_score for r in self.rows):g}")
        means = self.mean_per_question()
        if means:
            lines.append("mean per question: " + ", ".join(f"{q} {m:.0%}" for q, m in means.items()))
        mistakes = self.common_mistakes()
        if mistakes:
            lines.append("most common mistakes:")
            lines += [f"  {n} student(s): {text}" for text, n in mistakes]
        unreadable = sum(g.status == "invalid" for r in self.rows for g in r.grades.values())
        if unreadable:
            lines.append(f"{unreadable} answer(s) could not be read (scored 0, see the feedback column)")
        notes = [r for r in self.rows if r.note]
        for r in notes:
            lines.append(f"note: {r.student_id or '(no id)'}: {r.note}")
        return "\n".join(lines)


def read_responses(path: str | os.PathLike) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The header and (line number, row) pairs of a responses CSV."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise InputFileError(f"cannot read responses {path}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    csv.field_size_limit(max(csv.field_size_limit(), 1 << 30))  # a pasted essay is one long cell, not an error
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        rows = list(reader)
    except csv.Error as exc:
        raise InputFileError(f"{path}: not a readable CSV file ({exc})") from None
    if not rows:
        raise InputFileError(f"{path}: the file is empty")
    header = [h.strip() for h in rows[0]]
    if "student_id" not in header:
        raise InputFileError(f"{path}: the first row must name the columns, with a 'student_id' column")
    out = []
    for line, cells in enumerate(rows[1:], 2):
        if not any(c.strip() for c in cells):
            continue
        cells = cells + [""] * (len(header) - len(cells))
        row: dict[str, str] = {}
        for name, value in zip(header, cells):
            if name and name not in row:
                row[name] = value
        out.append((line, row))
    return header, out


def response_for(row: dict[str, str], qid: str) -> Any:
    """The response to ``qid``: its cell, or its parts from ``qid.part`` columns."""
    parts = {k[len(qid) + 1:]: v for k, v in row.items() if k.startswith(qid + ".") and v.strip()}
    if parts:
        return parts
    return row.get(qid, "")


def grade_student(key: Key, student_id: str, row: dict[str, str], note: str = "") -> StudentResult:
    questions = key.questions_for(student_id)
    if questions is None:
        return StudentResult(student_id, {}, {q: 0.0 for q in key.question_ids()}, 0.0,
                             note or "no quiz variant for this student in the key: scored 0")
    grades, points = {}, {}
    for q in questions:
        grade = q.type.grade(q.params, response_for(row, q.id))
        grades[q.id] = grade
        points[q.id] = round(grade.score * q.points, 4)
    return StudentResult(student_id, grades, points, sum(q.points for q in questions), note)


def grade_responses(key_path: str | os.PathLike, responses_path: str | os.PathLike) -> ClassResult:
    key = load_key(key_path)
    _, rows = read_responses(responses_path)
    results, seen = [], Counter()
    for line, row in rows:
        sid = row.get("student_id", "").strip()
        seen[sid] += 1
        note = ""
        if not sid:
            note = f"line {line} has no student_id"
        elif seen[sid] > 1:
            note = f"student_id appears {seen[sid]} times (line {line} graded as its own row)"
        results.append(grade_student(key, sid, row, note))
    return ClassResult(key.question_ids(), results)


def write_grades(result: ClassResult, out: str | os.PathLike) -> Path:
    """The gradebook CSV: student_id, score, max_score, then for each question
    its points and feedback, then a note column."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    header = ["student_id", "score", "max_score"]
    for qid in result.question_ids:
        header += [f"{qid}_points", f"{qid}_feedback"]
    writer.writerow(header + ["note"])
    for r in result.rows:
        cells: list[Any] = [r.student_id, f"{r.score:g}", f"{r.max_score:g}"]
        for qid in result.question_ids:
            grade = r.grades.get(qid)
            cells += [f"{r.points.get(qid, 0.0):g}", grade.feedback if grade else ""]
        writer.writerow(cells + [r.note])
    path = Path(out)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, buffer.getvalue())
    return path
