"""What a problem is: typed parameters, a pure solver, a seeded sampler, a
statement, an answer format and the classic mistakes it recognises.

A problem moves through named stages (as PrairieLearn's questions do):

    params = problem.validate(raw)        # typed, checked, defaults filled in
    params = problem.sample(rng)          # or: a fresh variant from a Generator
    answer = problem.solve(params)        # pure; a JSON value
    text   = problem.statement(params)    # words (and matrices) for people
    grade  = problem.grade(params, text)  # parse, compare, name the mistake

A response that cannot be read is *invalid* (zero, with a note on how to
write it), one that can be read but is not right is *wrong*; a wrong leaf that
equals a known mistake's answer gets that mistake's feedback.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, Callable, ClassVar, Iterable, Mapping, Sequence, TypeVar

import numpy as np

from grader.errors import InvalidResponse, ParamError

from .answers import CELL, AnswerFormat, Matrix as MatrixAnswer, parse_number

REQUIRED = object()

#: ``json.dumps(value, sort_keys=True)``, the same text for equal parameters or answers
#: (one encoder for the many calls of sampling).
_canonical = json.JSONEncoder(sort_keys=True).encode


# ---------------------------------------------------------------- parameter kinds


class Kind(ABC):
    """How one parameter is written on the command line and in JSON."""

    @abstractmethod
    def coerce(self, raw: Any, name: str) -> Any:
        """The JSON value of the parameter, or ParamError naming ``name``."""


@dataclass(frozen=True)
class Int(Kind):
    min: int | None = None
    max: int | None = None

    def coerce(self, raw: Any, name: str) -> int:
        try:
            value = parse_number(raw)
        except InvalidResponse:
            raise ParamError(f"{name} must be an integer, got {raw!r}") from None
        if isinstance(value, float):
            if not value.is_integer():
                raise ParamError(f"{name} must be an integer, got {raw!r}")
            value = int(value)
        if self.min is not None and value < self.min:
            raise ParamError(f"{name} must be at least {self.min}, got {value}")
        if self.max is not None and value > self.max:
            raise ParamError(f"{name} must be at most {self.max}, got {value}")
        return value


@dataclass(frozen=True)
class Pair(Kind):
    """An int or a (height, width) pair: ``3``, ``3x5``, ``(3, 5)``, ``[3, 5]``."""

    min: int = 1

    def coerce(self, raw: Any, name: str) -> int | list[int]:
        if isinstance(raw, str):
            text = raw.strip().strip("()[] ")
            items = [p for p in re.split(r"\s*[xX×,]\s*", text) if p]
        elif isinstance(raw, (list, tuple)):
            items = list(raw)
        else:
            items = [raw]
        if len(items) not in (1, 2):
            raise ParamError(f"{name} must be an integer or a pair like 3x5, got {raw!r}")
        values = [Int(min=self.min).coerce(v, name) for v in items]
        if len(values) == 1 or values[0] == values[1]:
            return values[0]
        return values


def pair(value: int | Sequence[int]) -> tuple[int, int]:
    """``3`` -> ``(3, 3)``; ``[3, 5]`` -> ``(3, 5)``."""
    if isinstance(value, (list, tuple)):
        return int(value[0]), int(value[1])
    return int(value), int(value)


@dataclass(frozen=True)
class Bool(Kind):
    def coerce(self, raw: Any, name: str) -> bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("true", "1", "yes", "y", "on"):
            return True
        if text in ("false", "0", "no", "n", "off"):
            return False
        raise ParamError(f"{name} must be true or false, got {raw!r}")


@dataclass(frozen=True)
class OneOf(Kind):
    options: tuple[str, ...]

    def coerce(self, raw: Any, name: str) -> str:
        text = str(raw).strip().lower()
        if text not in self.options:
            raise ParamError(f"{name} must be one of {', '.join(self.options)}, got {raw!r}")
        return text


@dataclass(frozen=True)
class NumberMatrix(Kind):
    """A 2-D matrix of numbers: ``[[1,3],[2,4]]`` or ``1 3; 2 4``."""

    max_side: int = 12

    def coerce(self, raw: Any, name: str) -> list[list[float | int]]:
        try:
            rows = MatrixAnswer().parse(raw if isinstance(raw, str) else json.loads(json.dumps(raw)))
        except (InvalidResponse, TypeError, ValueError) as exc:
            raise ParamError(f"{name} must be a matrix like [[1,3],[2,4]]: {exc}") from None
        if len(rows) > self.max_side or len(rows[0]) > self.max_side:
            raise ParamError(f"{name} is larger than {self.max_side}x{self.max_side}")
        return [[int(v) if float(v).is_integer() else v for v in row] for row in rows]


@dataclass(frozen=True)
class Text(Kind):
    """Free text, checked by the problem itself (layer lists, presets)."""

    def coerce(self, raw: Any, name: str) -> str:
        if isinstance(raw, (list, tuple)):
            return ",".join(str(v).strip() for v in raw)
        text = str(raw).strip()
        if not text:
            raise ParamError(f"{name} must not be empty")
        return text


@dataclass(frozen=True)
class Param:
    """One named, typed parameter.  ``default`` may be a value, REQUIRED, or a
    function of the other (already coerced) parameters."""

    name: str
    kind: Kind
    default: Any = REQUIRED
    help: str = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def describe_default(self) -> str:
        if self.required:
            return "required"
        if callable(self.default):
            return f"default: {self.default.__doc__ or 'derived'}"
        return f"default: {json.dumps(self.default)}"


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class Mistake:
    """A classic wrong answer: ``answer`` is what the mistake produces (the
    whole answer, or for records only the fields it affects)."""

    key: str
    feedback: str
    answer: Any


@dataclass(frozen=True)
class MatrixBlock:
    """A matrix shown as a table in a statement."""

    label: str
    rows: list[list[float | int]]


@dataclass(frozen=True)
class Statement:
    """What a person reads: paragraphs of plain text and matrices, then what to
    answer.  Renderers (HTML, Markdown, Moodle, Canvas) lay it out.

    ``prompt`` says what the answer is (a whole number, decimals, a shape), in
    words every channel can keep: how to *type* it in one cell of a CSV is the
    answer format's hint, shown where answers are typed.  ``options`` are the
    choices of a multiple-choice question: the LMS exports make them the
    question's answers, so they are not repeated in its text."""

    blocks: tuple[str | MatrixBlock, ...]
    prompt: str
    options: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """The statement as plain text (matrices as JSON rows, options lettered)."""
        parts = []
        for block in self.blocks:
            if isinstance(block, MatrixBlock):
                parts.append(f"{block.label} = {json.dumps(block.rows)}")
            else:
                parts.append(block)
        parts += [f"({chr(ord('a') + i)}) {option}" for i, option in enumerate(self.options)]
        return "\n".join(parts + [self.prompt])


@dataclass(frozen=True)
class PartGrade:
    """The verdict on one leaf of an answer."""

    path: str
    correct: bool
    expected: str
    given: str | None
    mistakes: tuple[str, ...] = ()
    feedback: str = ""
    notes: tuple[str, ...] = ()  # each named mistake's feedback, in the order of ``mistakes``


@dataclass(frozen=True)
class Grade:
    """The verdict on a response.  ``status`` is one of ``correct``,
    ``partial``, ``wrong``, ``invalid`` (could not be read) and ``blank``."""

    score: float
    status: str
    feedback: str
    mistakes: tuple[str, ...] = ()
    parts: tuple[PartGrade, ...] = field(default_factory=tuple)

    @property
    def correct(self) -> bool:
        return self.status == "correct"


# ---------------------------------------------------------------- the problem


class Problem(ABC):
    """One problem type of the bank.  Subclasses set the class attributes and
    define ``sample``, ``solve``, ``statement`` and (usually) ``mistakes``."""

    name: ClassVar[str]
    summary: ClassVar[str]
    topic: ClassVar[str]
    params: ClassVar[tuple[Param, ...]]
    answer_format: ClassVar[AnswerFormat]

    # -- stage 1: parameters

    def validate(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Coerce and check ``raw`` (strings from the CLI or JSON values),
        fill in defaults, and return the parameters as JSON values."""
        known = {p.name: p for p in self.params}
        for key in raw:
            if key not in known:
                raise ParamError(
                    f"unknown parameter {key!r} for {self.name}; its parameters are: {', '.join(known)}"
                )
        given: dict[str, Any] = {}
        for p in self.params:
            if key_present(raw, p.name):
                given[p.name] = p.kind.coerce(raw[p.name], p.name)
            elif p.required:
                raise ParamError(f"{self.name} needs the parameter {p.name!r} ({p.help or 'no default'})")
        out: dict[str, Any] = {}
        for p in self.params:  # in the declared order, whatever order they came in
            if p.name in given:
                out[p.name] = given[p.name]
            else:
                out[p.name] = p.default(given) if callable(p.default) else p.default
        self.check_params(out)
        return out

    def check_params(self, params: dict[str, Any]) -> None:
        """Cross-parameter checks; raise ParamError with the reason."""

    # -- stage 2: variants

    @abstractmethod
    def draw(self, rng: np.random.Generator) -> dict[str, Any]:
        """One sensible, well-posed variant drawn from ``rng`` (validated params)."""

    def sample(self, rng: np.random.Generator, tries: int = 6) -> dict[str, Any]:
        """A variant drawn from ``rng``.  Of up to ``tries`` draws, the first
        whose known mistakes all give different wrong answers (at least two
        of them, so the question can tell something) is kept, else the one
        with the fewest collisions; the feedback can then name one mistake,
        not several, and the mix of ``draw`` is otherwise kept."""
        best, best_rank = None, None
        for _ in range(tries):
            params = self.draw(rng)
            wrong = [_canonical(m.answer) for m in self.telling_mistakes(params)]
            collisions, distinct = len(wrong) - len(set(wrong)), len(set(wrong))
            rank = (collisions, -min(distinct, 2))
            if best_rank is None or rank < best_rank:
                best, best_rank = params, rank
            if rank == (0, -2):
                break
        return best  # type: ignore[return-value]

    # -- stage 3: the truth

    @abstractmethod
    def solve(self, params: dict[str, Any]) -> Any:
        """The answer, a JSON value.  Pure: no I/O, no randomness."""

    def mistakes(self, params: dict[str, Any]) -> list[Mistake]:
        """The classic wrong answers for these parameters."""
        return []

    def telling_mistakes(self, params: dict[str, Any]) -> list[Mistake]:
        """The mistakes whose answer differs from the right one in some part:
        the ones a response can reveal.  (Cached by parameters: sampling,
        grading and every export ask for them again.)"""
        return list(_telling(self, _canonical(params)))

    # -- stage 4: what people read

    @abstractmethod
    def statement(self, params: dict[str, Any]) -> Statement:
        """The question in words."""

    # -- stage 5: grading

    def grade(self, params: dict[str, Any], response: Any) -> Grade:
        """Grade ``response`` (text or a JSON value) against ``solve(params)``."""
        fmt = self.answer_format
        if response is None or (isinstance(response, str) and not response.strip()):
            return Grade(0.0, "blank", "no answer given")
        try:
            got = fmt.parse(response)
        except InvalidResponse as exc:
            return Grade(0.0, "invalid", f"could not read the answer ({exc}); write {fmt.hint}")
        expected = self.solve(params)
        right_leaves = fmt.leaves(expected)
        known = [(m, {path: v for path, _, v in fmt.leaves(m.answer)}) for m in self.telling_mistakes(params)]
        given = {path: v for path, _, v in fmt.leaves(got)}
        misshapen = _misshapen(right_leaves, given)
        parts = []
        for path, leaf, exp in right_leaves:
            val = given.get(path)
            ok = val is not None and leaf.same(exp, val)
            names: list[str] = []
            notes: list[str] = []
            if not ok and val is not None:
                for m, leaves in known:
                    wrong = leaves.get(path)
                    if wrong is not None and not leaf.same(exp, wrong) and leaf.same(wrong, val):
                        if m.key not in names:
                            names.append(m.key)
                            notes.append(m.feedback)
            parts.append(
                PartGrade(
                    path=path,
                    correct=ok,
                    expected=leaf.show(exp),
                    given=None if val is None else leaf.show(val),
                    mistakes=tuple(names),
                    feedback=" or ".join(notes),
                    notes=tuple(notes),
                )
            )
        parts = _explained_matrices(parts, right_leaves, known, given)
        right = sum(p.correct for p in parts)
        score = right / len(parts) if parts else 0.0
        status = "correct" if right == len(parts) else ("partial" if right else "wrong")
        mistakes = tuple(dict.fromkeys(k for p in parts for k in p.mistakes))
        return Grade(score, status, _feedback(parts, status, misshapen), mistakes, tuple(parts))


@lru_cache(maxsize=8192)
def _telling(problem: Problem, key: str) -> tuple[Mistake, ...]:
    params = json.loads(key)
    fmt = problem.answer_format
    right = {path: (leaf, v) for path, leaf, v in fmt.leaves(problem.solve(params))}
    out = []
    for m in problem.mistakes(params):
        if any(path in right and v != right[path][1] and not right[path][0].same(right[path][1], v)
               for path, _, v in fmt.leaves(m.answer)):
            out.append(m)
    return tuple(out)


def key_present(raw: Mapping[str, Any], name: str) -> bool:
    return name in raw and raw[name] is not None and raw[name] != ""


#: Wrong cells of one matrix quoted in its feedback; the rest are counted.
CELLS_SHOWN = 3


def _size(cells: Iterable[str]) -> str:
    """``3×4`` for the cell paths of a 3-row, 4-column matrix."""
    found = [CELL.match(c) for c in cells]
    return f"{max(int(m['row']) for m in found)}×{max(int(m['col']) for m in found)}"


def _misshapen(right: list, given: dict[str, Any]) -> dict[str, str]:
    """Matrices given in another shape than the right one's, each with its message.
    Their cells are taken out of ``given`` (a 2×2 typed for a 3×3 answer has no cell
    that can be said to be where the right one is): every cell counts as missing."""
    want: dict[str, set[str]] = {}
    for path, _, _ in right:
        if (cell := CELL.match(path)):
            want.setdefault(cell["matrix"], set()).add(path)
    out = {}
    for name, paths in want.items():
        got = {p for p in given if (c := CELL.match(p)) and c["matrix"] == name}
        if got and got != paths:
            out[name] = f"the answer is {_size(got)}, the matrix is {_size(paths)}"
            for p in got:
                del given[p]
    return out


def _explained_matrices(parts: list[PartGrade], right: list, known: list, given: dict[str, Any]) -> list[PartGrade]:
    """Name a mistake in a matrix's cells only when the whole matrix given is that
    mistake's matrix: an all-zero answer matches, cell by cell, the zeros of many
    mistakes' matrices and is none of them."""
    groups: dict[str, list[int]] = {}
    for i, (path, _, _) in enumerate(right):
        if (cell := CELL.match(path)):
            groups.setdefault(cell["matrix"], []).append(i)
    out = list(parts)
    for indices in groups.values():
        whole = {m.key for m, leaves in known
                 if all(right[i][0] in given and right[i][1].same(leaves.get(right[i][0], right[i][2]), given[right[i][0]])
                        for i in indices)}
        for i in indices:
            p = parts[i]
            if set(p.mistakes) - whole:
                kept = [(k, n) for k, n in zip(p.mistakes, p.notes) if k in whole]
                out[i] = replace(p, mistakes=tuple(k for k, _ in kept), notes=tuple(n for _, n in kept),
                                 feedback=" or ".join(n for _, n in kept))
    return out


def _feedback(parts: list[PartGrade], status: str, misshapen: dict[str, str] | None = None) -> str:
    """One line a wrong part; the wrong cells of a matrix in one line of their own:
    how many, the mistakes they show, and the first few with the right value."""
    misshapen = misshapen or {}
    if status == "correct":
        return "correct"
    entries: dict[str, list[PartGrade]] = {}  # a part's path, or a matrix's name -> its cells, in order
    for p in parts:
        cell = CELL.match(p.path)
        if cell:
            entries.setdefault("\0" + cell["matrix"], []).append(p)
        elif not p.correct:
            entries[p.path] = [p]
    lines = [(misshapen.get(key[1:]) or _matrix_line(key[1:], cells)) if key.startswith("\0") else _part_line(cells[0])
             for key, cells in entries.items()]
    return "; ".join(line for line in lines if line)


def _part_line(p: PartGrade) -> str:
    where = f"{p.path}: " if p.path else ""
    if p.given is None:
        return f"{where}missing (expected {p.expected})"
    why = f": {p.feedback}" if p.feedback else ""
    return f"{where}{p.given} is wrong{why} (expected {p.expected})"


def _matrix_line(name: str, cells: list[PartGrade]) -> str:
    wrong = [c for c in cells if not c.correct]
    if not wrong:
        return ""
    missing = sum(c.given is None for c in wrong)
    notes = list(dict.fromkeys(n for c in wrong for n in c.notes))
    head = f"{name + ': ' if name else ''}{len(wrong)} of {len(cells)} cells wrong"
    if missing:
        head += f" ({missing} missing)"
    if notes:
        head += ": " + " or ".join(notes)
    shown = [f"({m['row']},{m['col']}) {c.given} for {c.expected}"
             for c in wrong if c.given is not None and (m := CELL.match(c.path))][:CELLS_SHOWN]
    if shown:
        more = len(wrong) - missing - len(shown)
        head += " [" + ", ".join(shown) + (f", {more} more" if more > 0 else "") + "]"
    return head


T = TypeVar("T")


def pick(rng: np.random.Generator, options: Sequence[T]) -> T:
    """One of ``options`` at random: the same draw as ``rng.choice(options)`` (numpy picks
    the index with ``rng.integers(len(options))`` too), without making an array of the list."""
    return options[int(rng.integers(len(options)))]


def mistakes_from(
    params: dict[str, Any], correct: Any, variants: Sequence[tuple[str, str, Callable[[], Any]]]
) -> list[Mistake]:
    """Build Mistake objects from ``(key, feedback, thunk)`` triples, skipping
    variants that fail (a formula that breaks for these params) or that give
    the correct answer (nothing to tell apart)."""
    out = []
    for key, feedback, thunk in variants:
        try:
            wrong = thunk()
        except (ArithmeticError, ValueError):
            continue
        if wrong is not None and wrong != correct:
            out.append(Mistake(key, feedback, wrong))
    return out
