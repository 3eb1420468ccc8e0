"""A class roster for ``grader batch --roster``: who the students are, and whose each submission is.

The roster is a CSV file with a header row (comma, semicolon or tab; UTF-8, a
byte-order mark is fine).  ``student_id`` is required; ``name``, ``email``,
``username``, ``section``, ``canvas_id``, ``sis_login_id`` and ``submission``
are used when present; other columns are ignored (an LMS export carries many).

A submission is matched to one student by, in this order:

1. the student's ``submission`` cell, when the roster names it;
2. its whole name: the student id, username, email, Canvas id or SIS login id
   (``s001/``, ``s001.zip``);
3. a part of its name between underscores or spaces, the way LMS downloads name
   them: a Canvas id or SIS login (Canvas: ``lovelaceada_12345_67890_conv.zip``),
   a student id or username, or the full name before the first underscore
   (Moodle: ``Ada Lovelace_1234567_assignsubmission_file_``).

A submission that fits several students, or a student several submissions at
the same step, is left unmatched and reported, never guessed.
"""

from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass, field

from grader.errors import InputFileError

COLUMNS = ("student_id", "name", "email", "username", "section", "canvas_id", "sis_login_id", "submission")
KEYS = ("student_id", "username", "email", "canvas_id", "sis_login_id")  # what may name a submission


@dataclass(frozen=True)
class Student:
    student_id: str
    name: str = ""
    email: str = ""
    username: str = ""
    section: str = ""
    canvas_id: str = ""
    sis_login_id: str = ""
    submission: str = ""

    def keys(self) -> set[str]:
        """The identifiers that may name this student's submission, case-folded."""
        return {getattr(self, k).casefold() for k in KEYS if getattr(self, k)}


@dataclass
class Roster:
    students: list[Student]
    columns: tuple[str, ...]  # which of COLUMNS the file has


@dataclass
class Matching:
    """Which submission is whose; what could not be matched, and why."""

    by_submission: dict[str, Student] = field(default_factory=dict)
    unmatched: list[str] = field(default_factory=list)  # submissions with no student
    absent: list[Student] = field(default_factory=list)  # students with no submission
    notes: list[str] = field(default_factory=list)  # ambiguities, one line each


def read_roster(path: str | os.PathLike) -> Roster:
    """The students of the roster at ``path``; one clear InputFileError for anything wrong with it."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            text = handle.read()
    except OSError as exc:
        raise InputFileError(f"cannot read roster {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise InputFileError(f"roster {path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset "
                             f"{exc.start}): export it as CSV UTF-8") from None
    first = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first.count) if first else ","
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise InputFileError(f"roster {path} is empty: it needs a header row with a student_id column")
    header = [cell.strip().lower().replace(" ", "_") for cell in rows[0]]
    if "student_id" not in header:
        raise InputFileError(f"roster {path} needs a student_id column (found: {', '.join(header)})")
    where = {name: header.index(name) for name in COLUMNS if name in header}
    students, seen = [], {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        cells = {name: (row[i].strip() if i < len(row) else "") for name, i in where.items()}
        if not cells["student_id"]:
            raise InputFileError(f"roster {path}, line {line}: no student_id")
        if cells["student_id"] in seen:
            raise InputFileError(f"roster {path}, line {line}: student_id {cells['student_id']!r} is also on "
                                 f"line {seen[cells['student_id']]}")
        seen[cells["student_id"]] = line
        students.append(Student(**cells))
    if not students:
        raise InputFileError(f"roster {path} lists no students")
    return Roster(students, tuple(where))


def _parts(name: str) -> set[str]:
    """The pieces of a submission's name an LMS puts identifiers in, case-folded."""
    folded = name.casefold()
    return {p for p in re.split(r"[_\s]+", folded) if p} | {" ".join(folded.split("_", 1)[0].split())}


def match(roster: Roster, submissions: list[str]) -> Matching:
    """Match each submission name to at most one student (see the module docstring)."""
    result = Matching()
    taken: set[str] = set()  # student ids already matched
    left = list(submissions)
    steps = (
        lambda sub, s: s.submission == sub,
        lambda sub, s: sub.casefold() in s.keys(),
        lambda sub, s: bool(_parts(sub) & (s.keys() | ({" ".join(s.name.casefold().split())} if s.name else set()))),
    )
    for fits in steps:
        found: dict[str, list[Student]] = {}
        for sub in left:
            found[sub] = [s for s in roster.students if s.student_id not in taken and fits(sub, s)]
        claims: dict[str, list[str]] = {}
        for sub, students in found.items():
            if len(students) == 1:
                claims.setdefault(students[0].student_id, []).append(sub)
            elif len(students) > 1:
                result.notes.append(f"submission {sub!r} fits several students "
                                    f"({', '.join(s.student_id for s in students[:4])}): not matched")
                left.remove(sub)
                result.unmatched.append(sub)
        for student_id, subs in claims.items():
            if len(subs) > 1:
                result.notes.append(f"student {student_id} fits several submissions ({', '.join(map(repr, subs))}): "
                                    "none matched")
                for sub in subs:
                    left.remove(sub)
                    result.unmatched.append(sub)
                taken.add(student_id)
                continue
            student = next(s for s in roster.students if s.student_id == student_id)
            result.by_submission[subs[0]] = student
            taken.add(student_id)
            left.remove(subs[0])
    result.unmatched += left
    result.unmatched.sort(key=submissions.index)
    matched = {s.student_id for s in result.by_submission.values()}
    result.absent = [s for s in roster.students if s.student_id not in matched]
    return result
