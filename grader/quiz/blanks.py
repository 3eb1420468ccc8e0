"""A question's answer as blanks to fill in, laid out as the answer is shaped.

Every channel a quiz goes through grades the same pieces: ``quiz grade`` gives
each leaf of the answer (a number, a shape, a matrix cell) an equal share of the
question, a Moodle cloze question gives each blank its weight, Canvas's
fill-in-multiple-blanks gives each blank ``points / blanks``.  So the exports
and the printed answer areas are all made from one :class:`Layout`: the blanks
in the order of the answer's leaves, how they sit (one box, labelled fields, a
grid for a matrix, a table for a per-layer answer), and for each blank the
wrong values known mistakes give, one entry a value with the feedback of every
mistake that gives it (Moodle shows the first answer that matches a response,
so two answers with one value would hide the second one's feedback).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

from markupsafe import escape

from grader.problems.answers import CELL, AnswerFormat, Bytes, Choice, LeafFormat, ListOf, Matrix, Record

from .model import Question



class Wrong(NamedTuple):  # named tuples: a class's quizzes make tens of thousands
    """A wrong value of one blank and what the mistakes that give it did."""

    value: Any
    notes: tuple[str, ...]  # every such mistake's feedback
    feedback: str  # the notes joined with " or "


class Blank(NamedTuple):
    path: str  # the leaf's path in the answer: "params", "[2,3]", "layers[1].output"
    label: str  # what a person reads beside it
    leaf: LeafFormat
    value: Any  # the right value
    wrong: tuple[Wrong, ...] = ()


class Row(NamedTuple):
    """A row of a grid or a table: its label and one cell a column (None: no blank there)."""

    label: str
    cells: tuple[Blank | None, ...]


@dataclass(frozen=True)
class Layout:
    """``kind``: ``single`` (one blank), ``choice`` (one of a few options), ``fields``
    (labelled blanks), ``grid`` (a matrix: ``rows`` of blanks) or ``table`` (``columns``
    and labelled ``rows``, e.g. a layer's output and parameters)."""

    kind: str
    blanks: tuple[Blank, ...]
    rows: tuple[Row, ...] = ()
    columns: tuple[str, ...] = ()
    title: str = ""  # what the grid is (a matrix's name), when the statement names it

    @property
    def choices(self) -> tuple[tuple[str, str], ...]:
        """The options of a ``choice`` layout, as (key, label)."""
        leaf = self.blanks[0].leaf
        return leaf.options if isinstance(leaf, Choice) else ()


def label(name: str) -> str:
    """A field name as people read it: ``output_shape`` -> ``output shape`` (``X_col`` stays)."""
    return name.replace("_", " ") if name.islower() else name


def layout(question: Question, mistakes: bool = False) -> Layout:
    """The blanks of ``question``, laid out; with ``mistakes``, each blank with the wrong
    values known mistakes give (what the LMS exports need, the printed page does not)."""
    fmt = question.type.answer_format
    leaves = fmt.leaves(question.answer)
    wrong = _wrong_values(question, leaves) if mistakes else {}
    blanks = tuple([Blank(path, _blank_label(path), leaf, value, wrong.get(path, ())) for path, leaf, value in leaves])
    if isinstance(fmt, Matrix):
        return _grid(blanks)
    if isinstance(fmt, Record):
        table = _table(fmt, question.answer, blanks)
        if table is not None:
            return table
        return Layout("fields", blanks)
    if len(blanks) == 1 and isinstance(blanks[0].leaf, Choice):
        return Layout("choice", blanks)
    return Layout("single", blanks)


def _blank_label(path: str) -> str:
    cell = CELL.match(path)
    if cell:
        return f"row {cell['row']}, column {cell['col']}"
    return label(path.rsplit(".", 1)[-1]) if path else "answer"


def _wrong_values(question: Question, leaves: list) -> dict[str, tuple[Wrong, ...]]:
    """Each blank's wrong values, one entry a value (in the order the mistakes give them),
    with the feedback of every mistake that gives it; a mistake that gets a blank right
    (within its tolerance) tells nothing there."""
    fmt = question.type.answer_format
    right = {path: (leaf, value) for path, leaf, value in leaves}
    found: dict[str, dict[Any, tuple[Any, list[str]]]] = {}
    for mistake in question.type.telling_mistakes(question.params):
        for path, _, value in fmt.leaves(mistake.answer):
            if path not in right:
                continue
            leaf, good = right[path]
            if value == good or leaf.same(good, value):  # most cells of a mistake's matrix are right
                continue
            key = value if type(value) in (int, float) else _canonical(leaf, value)  # 2 and 2.0 are one key
            slot = found.setdefault(path, {}).setdefault(key, (value, []))
            if mistake.feedback not in slot[1]:
                slot[1].append(mistake.feedback)
    return {path: tuple([Wrong(value, tuple(notes), " or ".join(notes)) for value, notes in by_value.values()])
            for path, by_value in found.items()}


def _canonical(leaf: LeafFormat, value: Any) -> Any:
    """Equal for values a response cannot tell apart: ``2`` and ``2.0``, ``[96, 363]`` and ``(96, 363)``."""
    try:
        return leaf.parse(value)
    except ValueError:  # InvalidResponse included: a value no response could give
        return repr(value)


def _grid(blanks: tuple[Blank, ...]) -> Layout:
    rows: dict[int, list[Blank]] = {}
    for blank in blanks:
        rows.setdefault(int(CELL.match(blank.path)["row"]), []).append(blank)
    return Layout("grid", blanks, tuple(Row(str(i), tuple(cells)) for i, cells in sorted(rows.items())))


def _table(fmt: Record, answer: Any, blanks: tuple[Blank, ...]) -> Layout | None:
    """A record with a list of records in it (each layer's output and parameters, then
    the total) as a table: one row an item, labelled by its ungraded text (the layer),
    then a row for each other field, its blank under the column its name ends with."""
    listed = [(name, sub) for name, sub in fmt.fields if isinstance(sub, ListOf) and isinstance(sub.item, Record)]
    if len(listed) != 1 or not isinstance(answer, dict):
        return None
    name, sub = listed[0]
    columns = [field for field, leaf in sub.item.fields if _graded(leaf)]
    by_path = {b.path: b for b in blanks}
    rows = []
    for i, item in enumerate(answer.get(name) or [], 1):
        texts = [str(item[f]) for f, leaf in sub.item.fields if not _graded(leaf) and f in item]
        cells = tuple(by_path.get(f"{name}[{i}].{column}") for column in columns)
        rows.append(Row(" ".join(texts) or str(i), cells))
    for field, _ in fmt.fields:
        if field == name or field not in by_path:
            continue
        at = next((k for k, column in enumerate(columns) if field.endswith(column)), len(columns) - 1)
        rows.append(Row(label(field), tuple(by_path[field] if k == at else None for k in range(len(columns)))))
    return Layout("table", blanks, tuple(rows), tuple(label(c) for c in columns))


def _graded(fmt: AnswerFormat) -> bool:
    """Whether a field has blanks (a layer's name, carried for people to read, has none)."""
    return isinstance(fmt, (LeafFormat, Record, ListOf))


def number(leaf: LeafFormat, value: Any) -> float:
    """A number blank's value as one number (a byte count's first reading)."""
    parsed = leaf.parse(value)
    return parsed[0] if isinstance(leaf, Bytes) else parsed


def blanks_html(lay: Layout, cell: Callable[[Blank], str]) -> str:
    """The blanks of a several-part question as HTML shaped like the answer, ``cell(blank)``
    in each place (a Moodle cloze code, a Canvas ``[b1]``): a grid for a matrix, a table
    for a per-layer answer, a labelled line a part otherwise."""
    def td(blank: Blank | None) -> str:
        return f"<td>{cell(blank) if blank else ''}</td>"

    if lay.kind == "grid":
        body = "".join("<tr>" + "".join(td(b) for b in row.cells) + "</tr>" for row in lay.rows)
        return f'<table border="1" class="answer-grid">{body}</table>'
    if lay.kind == "table":
        head = "<tr><th></th>" + "".join(f"<th>{escape(c)}</th>" for c in lay.columns) + "</tr>"
        body = "".join(f"<tr><th>{escape(row.label)}</th>" + "".join(td(b) for b in row.cells) + "</tr>"
                       for row in lay.rows)
        return f'<table border="1" class="answer-table">{head}{body}</table>'
    return "".join(f"<p>{escape(b.label)}: {cell(b)}</p>" for b in lay.blanks)


def converted(quiz: Any, cache: dict | None, kind: str, convert: Callable[[Question], Any]) -> list:
    """``convert`` applied to each of the quiz's questions, once a run: a run that writes each
    student's file and the class bank passes one ``cache`` to both."""
    if cache is None:
        return [convert(q) for q in quiz.questions]
    key = (kind, quiz.student_id, quiz.seed)
    if key not in cache:
        cache[key] = [convert(q) for q in quiz.questions]
    return cache[key]
