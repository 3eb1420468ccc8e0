"""What ``grader batch`` writes about the class: its rows, ``gradebook.csv``, the
LMS gradebooks (Canvas, Moodle) and the class page.

Every row counts against the assignment's maximum (the parts the assignment
and ``--parts`` grade): a part a submission's layout lacks is 0 of its points,
and a submission that could not be graded is 0 of the whole, so rows, the
class mean and the histogram compare like with like.

Every text cell of a CSV goes through :func:`grader.csvcells.neutralise`: a
folder name or a roster name is the student's choice, and a spreadsheet runs a
cell that starts with ``=``, ``+``, ``-`` or ``@``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any, Iterable

from grader.csvcells import neutralise_row
from grader.results import PARTS
from grader.roster import Roster, Student

OUTPUTS = ("gradebook.csv", "index.html", "seed.txt", "gradebook-canvas.csv", "gradebook-moodle.csv")
INTERRUPTED = "not graded (interrupted)"
ABSENT = "no submission"


@dataclass
class Row:
    """One gradebook row: a submission (or, with a roster, a student who sent none)."""

    submission: str  # its name as people read it (a name that is not UTF-8 shows its bytes as \\xNN)
    score: float = 0.0
    max_score: float = 0.0
    parts: dict[str, float] = field(default_factory=dict)
    status: str = "graded"
    seconds: float = 0.0
    folder: str = ""  # DIR/<folder>/ holds its report ("" when it has none)
    student: Student | None = None
    report: dict[str, Any] | None = field(default=None, repr=False)  # its report.json, for the class page

    @property
    def graded(self) -> bool:
        return self.status.startswith("graded")

    @property
    def counted(self) -> bool:
        """Whether the row is a submission's result (graded, or 0 for an error): the class statistics' rows."""
        return self.status not in (INTERRUPTED, ABSENT)


def row_for(submission: str, report: dict[str, Any] | None, maximum: dict[str, float], status: str) -> Row:
    """The row of a submission against the assignment's ``maximum`` (points per part), from its
    report.json data (None: it could not be graded, 0 of the maximum)."""
    parts = dict.fromkeys(maximum, 0.0)
    if report is not None:
        for test in report.get("tests", []):
            if test.get("part") in parts:
                parts[test["part"]] += float(test.get("score", 0.0))
    parts = {p: round(v, 2) for p, v in parts.items()}
    return Row(submission, round(sum(parts.values()), 2), round(sum(maximum.values()), 2), parts, status,
               report=report)


def _csv(rows: Iterable[list]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in rows:
        writer.writerow(neutralise_row(row))
    return buffer.getvalue()


def _number(value: float) -> str:
    return f"{value:g}"


def ordered_parts(parts: Iterable[str]) -> list[str]:
    """The built-in parts in their usual order, then the declared ones in the assignment's."""
    parts = list(parts)
    return [p for p in PARTS if p in parts] + [p for p in dict.fromkeys(parts) if p not in PARTS]


def gradebook_csv(rows: list[Row], parts: Iterable[str], roster: bool = False) -> str:
    """``gradebook.csv``: ``submission, score, max_score``, one column per part, ``status``; with a
    roster, ``student_id`` and ``name`` after them."""
    columns = ordered_parts(parts)
    head = ["submission", "score", "max_score", *columns, "status"] + (["student_id", "name"] if roster else [])
    lines = [head]
    for row in rows:
        line = [row.submission, _number(row.score), _number(row.max_score),
                *[_number(row.parts[p]) if p in row.parts else "" for p in columns], row.status]
        if roster:
            line += [row.student.student_id, row.student.name] if row.student else ["", ""]
        lines.append(line)
    return _csv(lines)


def _scores(rows: list[Row]) -> dict[str, float]:
    """The score to send to the LMS per student id: graded rows only (an error, or no submission,
    is left for the instructor to decide, never sent as a 0)."""
    return {row.student.student_id: row.score for row in rows if row.student and row.graded}


def canvas_csv(rows: list[Row], roster: Roster, column: str, maximum: float) -> str:
    """Canvas's gradebook import: ``Student, ID, SIS User ID, SIS Login ID, Section`` and one
    assignment column, then a ``Points Possible`` row.  Canvas finds each student by ID (the
    Canvas id), else SIS User ID (our student_id), else SIS Login ID, else the name; an empty
    grade cell changes nothing.  A column named ``Title (123)`` updates assignment 123; any
    other name creates a new assignment of that name."""
    scores = _scores(rows)
    lines: list[list] = [["Student", "ID", "SIS User ID", "SIS Login ID", "Section", column],
                         ["Points Possible", "", "", "", "", _number(maximum)]]
    for s in roster.students:
        score = scores.get(s.student_id)
        lines.append([s.name or s.student_id, s.canvas_id, s.student_id, s.sis_login_id, s.section,
                      "" if score is None else _number(score)])
    return _csv(lines)


def moodle_csv(rows: list[Row], roster: Roster, column: str) -> str:
    """Moodle's "Import grades from CSV": an identifier column to map from (``ID number``, and
    ``Email address`` / ``Username`` when the roster has them) and one grade column to map to the
    grade item.  Moodle stops the whole import at a row whose user it cannot find, and takes an
    empty cell as "no grade" (clearing one): so only students with a grade are written."""
    scores = _scores(rows)
    extra = [(title, name) for title, name in (("Email address", "email"), ("Username", "username"),
                                                ("Full name", "name")) if name in roster.columns]
    lines: list[list] = [["ID number", *[title for title, _ in extra], column]]
    for s in roster.students:
        if s.student_id in scores:
            lines.append([s.student_id, *[getattr(s, name) for _, name in extra], _number(scores[s.student_id])])
    return _csv(lines)


# ---------------------------------------------------------------- the class page


def class_summary(rows: list[Row]) -> dict[str, Any]:
    """Plain data for the class page: the score distribution (every submission against the same
    maximum; an error counts as 0), pass rates per test, and the diagnosed mistakes by how many
    submissions made them."""
    counted = [r for r in rows if r.counted]
    scores = [r.score / r.max_score for r in counted if r.max_score > 0]
    bins = [0] * 10
    for s in scores:
        bins[min(int(s * 10), 9)] += 1
    passes: dict[str, list[int]] = {}
    mistakes: dict[str, set[str]] = {}
    for row in counted:
        for test in (row.report or {}).get("tests", []):
            tally = passes.setdefault(str(test.get("name")), [0, 0])
            tally[0] += test.get("status") == "passed"
            tally[1] += 1
            diagnosis = (test.get("details") or {}).get("diagnosis")
            if diagnosis:
                mistakes.setdefault(str(diagnosis), set()).add(row.folder or row.submission)
    return {
        "count": sum(bool(r.submission) for r in rows),
        "graded": sum(r.graded for r in rows),
        "counted": len(scores),
        "errors": [r for r in rows if r.counted and not r.graded],
        "mean": sum(scores) / len(scores) if scores else 0.0,
        "bins": [{"label": f"{i * 10}–{i * 10 + 10}", "count": n} for i, n in enumerate(bins)],
        "tests": [{"name": name, "passed": p, "total": t, "rate": p / t if t else 0.0}
                  for name, (p, t) in passes.items()],
        "mistakes": sorted(((k, len(v)) for k, v in mistakes.items()), key=lambda kv: -kv[1]),
    }


def class_page(rows: list[Row], parts: Iterable[str], seed: int, maximum: float, roster: bool = False) -> str:
    """``index.html``: the distribution, every row (linked to its report), the common mistakes."""
    from grader.reference import wrong
    from grader.render import render
    from grader.report.common import clean_text

    summary = class_summary(rows)
    messages = {v.key: v.message for v in wrong.VARIANTS}
    peak = max((b["count"] for b in summary["bins"]), default=0) or 1
    shown = [{"submission": clean_text(r.submission) or "—", "folder": r.folder, "score": r.score,
              "max_score": r.max_score, "parts": r.parts, "status": clean_text(r.status), "graded": r.graded,
              "student_id": clean_text(r.student.student_id) if r.student else "",
              "name": clean_text(r.student.name) if r.student else ""} for r in rows]
    return render("batch_index.html.j2", rows=shown, summary=summary, peak=peak, seed=seed, maximum=maximum,
                  parts=ordered_parts(parts), messages=messages, roster=roster)
