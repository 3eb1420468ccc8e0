"""``grader quiz grade``: score a class's responses against key.json.

Responses come as a CSV (comma, semicolon, tab or ``|``: the delimiter is
sniffed from the header row) with a ``student_id`` column and one column per
question id (``q1``, ``q2``... in any case).  A question with several parts
takes them in one cell (``params=1040; output_shape=(32, 56, 56); mult_adds=...``
or the values in order, separated by ``;``) or in columns of their own
(``q3.params``, ``q3.output_shape``...).  Every response row gives exactly one
output row, whatever it holds; nothing in a response can stop the grading.

Each leaf of an answer (a number, a shape, a matrix cell) earns an equal share
of the question, as each blank of the Moodle and Canvas exports does.  An
answer that cannot be read is *invalid*, kept apart from a *wrong* one: it
scores 0 like a wrong answer and goes on a review list (``write_review``) for a
person to look at, as PrairieLearn keeps invalid submissions apart.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.csvcells import csv_text
from grader.errors import GraderError, InputFileError, UsageError
from grader.problems import get
from grader.problems.base import Grade

from .generate import write_atomic
from .model import Question

#: Columns a responses file may carry besides the answers (an LMS or roster export's), read without a warning.
KNOWN_EXTRA = {"name", "email", "username", "section", "timestamp", "submitted", "attempt", "canvas_id", "sis_login_id"}
#: Delimiters a responses file may use (a spreadsheet in a comma-decimal locale writes ';').
DELIMITERS = ",;\t|"


def _question(entry: Any, where: str) -> Question:
    if not isinstance(entry, dict) or not {"id", "problem", "params"} <= entry.keys():
        raise InputFileError(f"{where}: each question needs 'id', 'problem' and 'params'")
    try:
        problem = get(str(entry["problem"]))
        params = problem.validate(entry["params"])
    except GraderError as exc:
        raise InputFileError(f"{where} ({entry.get('id')}): {exc}") from None
    try:
        points = float(entry.get("points", 1))
    except (TypeError, ValueError):
        raise InputFileError(f"{where} ({entry.get('id')}): points must be a number, got {entry.get('points')!r}") from None
    return Question(str(entry["id"]), problem.name, params, entry.get("answer"), points)


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

    def parts(self) -> dict[str, set[str]]:
        """Each question id with the names of its answer's fields (for ``q3.params`` columns)."""
        out: dict[str, set[str]] = {}
        for questions in ([self.shared] if self.shared is not None else self.students.values()):
            for q in questions:
                names = out.setdefault(q.id, set())
                names.update(name for name, _ in getattr(q.type.answer_format, "fields", ()))
        return out


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
    line: int = 0  # the response's row in its file (the header is row 1)
    problems: dict[str, str] = field(default_factory=dict)  # question id -> problem name
    responses: dict[str, Any] = field(default_factory=dict)  # question id -> what was typed

    @property
    def score(self) -> float:
        return sum(self.points.values())


@dataclass(frozen=True)
class Unreadable:
    """An answer that could not be read: for a person to look at, not a wrong answer."""

    student_id: str
    line: int
    question: str
    response: str
    why: str


@dataclass
class ClassResult:
    question_ids: list[str]
    rows: list[StudentResult]
    warnings: list[str] = field(default_factory=list)  # about the file: unknown columns, duplicate ids

    def mean_per_question(self) -> dict[str, float]:
        """Mean fraction of the points earned on each question."""
        out = {}
        for qid in self.question_ids:
            fractions = [r.grades[qid].score for r in self.rows if qid in r.grades]
            out[qid] = sum(fractions) / len(fractions) if fractions else 0.0
        return out

    def common_mistakes(self, top: int = 5) -> list[tuple[str, int]]:
        """The misconceptions named most often, with how many students made them: each
        mistake once (by its problem and key), under the wording most of them got (a
        mistake's wording may carry the student's numbers: "divided by k = 2")."""
        students: Counter[tuple[str, str]] = Counter()
        wording: dict[tuple[str, str], Counter[str]] = {}
        for row in self.rows:
            seen = set()
            for qid, grade in row.grades.items():
                for part in grade.parts:
                    for key, note in zip(part.mistakes, part.notes):
                        mistake = (row.problems.get(qid, ""), key)
                        seen.add(mistake)
                        wording.setdefault(mistake, Counter())[note] += 1
            students.update(seen)
        named = [(min(wording[m].items(), key=lambda kv: (-kv[1], kv[0]))[0], n) for m, n in students.items()]
        return sorted(named, key=lambda kv: (-kv[1], kv[0]))[:top]  # ties in a stable order

    def unreadable(self) -> list[Unreadable]:
        """Every answer that could not be read, in the file's order."""
        out = []
        for row in self.rows:
            for qid, grade in row.grades.items():
                if grade.status == "invalid":
                    raw = row.responses.get(qid, "")
                    typed = raw if isinstance(raw, str) else "; ".join(f"{k}={v}" for k, v in raw.items())
                    out.append(Unreadable(row.student_id, row.line, qid, typed, grade.feedback))
        return out

    def summary(self, review: str | os.PathLike | None = None) -> str:
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
        unreadable = self.unreadable()
        if unreadable:
            where = f"; to review: {review}" if review else ""
            lines.append(f"{len(unreadable)} answer(s) could not be read (scored 0, kept apart from wrong answers{where})")
        lines += [f"warning: {w}" for w in self.warnings]
        for r in self.rows:
            if r.note:
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
    rows = _rows(text, path)
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


def _rows(text: str, path: str | os.PathLike) -> list[list[str]]:
    """The CSV's rows, split on the delimiter its header row uses: the one ``csv.Sniffer``
    sees in it, if that gives a ``student_id`` column, else the first that does (a comma
    when none does, for the error to name)."""
    first = re.split(r"\r\n|\r|\n", text.lstrip("\ufeff"), maxsplit=1)[0]
    try:
        sniffed = csv.Sniffer().sniff(first, delimiters=DELIMITERS).delimiter
    except csv.Error:
        sniffed = ","
    order = [sniffed] + [d for d in DELIMITERS if d != sniffed]
    try:
        with_id = [d for d in order if "student_id" in [h.strip() for h in next(csv.reader([first], delimiter=d), [])]]
        delimiter = "," if "," in with_id else (with_id[0] if with_id else ",")
        return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise InputFileError(f"{path}: not a readable CSV file ({exc})") from None


def _columns(header: list[str], key: Key) -> tuple[dict[str, str], list[str]]:
    """Each answer column's question id or ``qid.part`` (matched without regard to case
    and spaces), and the columns that are neither nor a known extra (to warn about)."""
    parts = key.parts()
    by_folded = {q.casefold(): q for q in parts}
    names, unknown = {}, []
    for name in header:
        if not name or name == "student_id":
            continue
        folded = "".join(name.split()).casefold()
        qid, _, part = folded.partition(".")
        if qid in by_folded and not part:
            names[name] = by_folded[qid]
        elif qid in by_folded and part in {p.casefold() for p in parts[by_folded[qid]]}:
            real = next(p for p in parts[by_folded[qid]] if p.casefold() == part)
            names[name] = f"{by_folded[qid]}.{real}"
        elif folded not in KNOWN_EXTRA:
            unknown.append(name)
    return names, list(dict.fromkeys(unknown))


def response_for(row: dict[str, str], qid: str) -> Any:
    """The response to ``qid``: its cell, or its parts from ``qid.part`` columns."""
    parts = {k[len(qid) + 1:]: v for k, v in row.items() if k.startswith(qid + ".") and v.strip()}
    if parts:
        return parts
    return row.get(qid, "")


def grade_student(key: Key, student_id: str, row: dict[str, str], note: str = "", line: int = 0) -> StudentResult:
    questions = key.questions_for(student_id)
    if questions is None:
        return StudentResult(student_id, {}, {q: 0.0 for q in key.question_ids()}, 0.0,
                             note or "no quiz variant for this student in the key: scored 0", line)
    grades, points, responses = {}, {}, {}
    for q in questions:
        response = response_for(row, q.id)
        grade = q.type.grade(q.params, response)
        grades[q.id] = grade
        points[q.id] = round(grade.score * q.points, 4)
        responses[q.id] = response
    return StudentResult(student_id, grades, points, sum(q.points for q in questions), note, line,
                         {q.id: q.problem for q in questions}, responses)


def grade_responses(key_path: str | os.PathLike, responses_path: str | os.PathLike) -> ClassResult:
    key = load_key(key_path)
    header, rows = read_responses(responses_path)
    names, unknown = _columns(header, key)
    warnings = []
    if unknown:
        warnings.append(f"column(s) not graded, no question has that id: {', '.join(map(repr, unknown))} "
                        f"(questions: {', '.join(key.question_ids())})")
    lines: dict[str, list[int]] = {}
    for line, row in rows:
        lines.setdefault(row.get("student_id", "").strip(), []).append(line)
    results = []
    for line, row in rows:
        sid = row.get("student_id", "").strip()
        answers: dict[str, str] = {}
        for column, value in row.items():
            if column in names:  # an answer column: what the warning names is not graded
                answers.setdefault(names[column], value)
        note = ""
        if not sid:
            note = f"line {line} has no student_id"
        elif len(lines[sid]) > 1:
            others = ", ".join(str(n) for n in lines[sid] if n != line)
            note = f"duplicate student_id: also on line(s) {others}; this row (line {line}) is graded on its own"
        results.append(grade_student(key, sid, answers, note, line))
    duplicates = {sid: ls for sid, ls in lines.items() if sid and len(ls) > 1}
    for sid, ls in duplicates.items():
        warnings.append(f"duplicate student_id {sid!r} on lines {', '.join(map(str, ls))}: each row graded")
    return ClassResult(key.question_ids(), results, warnings)


def _write_csv(path: str | os.PathLike, rows: list[list[Any]]) -> Path:
    """``rows`` as a CSV at ``path``, every text cell neutralised (grader.csvcells)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, csv_text(rows))
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def write_grades(result: ClassResult, out: str | os.PathLike) -> Path:
    """The gradebook CSV: student_id, score, max_score, then for each question
    its points and feedback, then a note column."""
    header = ["student_id", "score", "max_score"]
    for qid in result.question_ids:
        header += [f"{qid}_points", f"{qid}_feedback"]
    rows: list[list[Any]] = [header + ["note"]]
    for r in result.rows:
        cells: list[Any] = [r.student_id, f"{r.score:g}", f"{r.max_score:g}"]
        for qid in result.question_ids:
            grade = r.grades.get(qid)
            cells += [f"{r.points.get(qid, 0.0):g}", grade.feedback if grade else ""]
        rows.append(cells + [r.note])
    return _write_csv(out, rows)


def review_path(out: str | os.PathLike) -> Path:
    """Where the review list goes beside the grades: ``grades.csv`` -> ``grades-review.csv``."""
    out = Path(out)
    return out.with_name(f"{out.stem}-review{out.suffix or '.csv'}")


def write_review(result: ClassResult, path: str | os.PathLike) -> Path | None:
    """The answers that could not be read, one a row (student_id, the response's row in its
    file, question, what was typed, why): None, and no file, when every answer could be read."""
    unreadable = result.unreadable()
    if not unreadable:
        return None
    rows: list[list[Any]] = [["student_id", "row", "question", "response", "why"]]
    rows += [[u.student_id, u.line, u.question, u.response, u.why] for u in unreadable]
    return _write_csv(path, rows)
