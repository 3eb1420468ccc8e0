"""Answer formats: how an answer is written, read back and compared.

Every answer is a JSON value (what ``grader problems solve`` prints).  A format
knows three things about it:

- ``parse(raw)``: read what a person typed (or a JSON value) into that value,
  raising :class:`InvalidResponse` when it cannot be read at all.  Reading is
  tolerant: ``" 55 "``, ``"1,040"``, ``"(96, 363)"``, ``"96x363"``,
  ``"[[0,1],[2,3]]"`` and ``"0 1; 2 3"`` all parse, and so does what
  spreadsheets and keyboards add (see :func:`clean`): Excel's ``'37``, a
  zero-width space, full-width digits, ``37 px``, a decimal comma ``0,5``.
- ``leaves(value)``: the value cut into its gradable pieces, each with a path
  and a leaf format.  A record of three fields has three leaves, a 4×4 matrix
  sixteen (one a cell); grading gives each leaf an equal share of the
  question and matches known mistakes per leaf, as Moodle's cloze blanks and
  Canvas's fill-in-the-blanks do.
- ``show(value)``: the value as a person writes it.

Leaf formats add ``same(expected, got)``, the comparison with the format's
tolerance: integers and shapes exactly, matrices element-wise, byte counts
within a relative tolerance and in any unit.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
import math
import re
import unicodedata
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from itertools import chain
from typing import Any, Iterator

from grader.errors import InvalidResponse

Leaf = tuple[str, "LeafFormat", Any]


class AnswerFormat(ABC):
    """Base of all formats."""

    #: How to type an answer of this format, shown under each question.
    hint: str = ""

    @abstractmethod
    def parse(self, raw: Any) -> Any:
        """The answer value read from text or JSON; InvalidResponse if unreadable."""

    @abstractmethod
    def leaves(self, value: Any, path: str = "") -> list[Leaf]:
        """The value's gradable pieces as (path, leaf format, value)."""

    @abstractmethod
    def show(self, value: Any) -> str:
        """The value as a person writes it."""


class LeafFormat(AnswerFormat):
    """A format graded as one piece."""

    def same(self, expected: Any, got: Any) -> bool:
        return self.parse(expected) == self.parse(got)

    def tolerance(self, expected: Any) -> float:
        """How far a number may be from ``expected`` and still be right (0: exactly);
        the LMS exports give their numerical answers this margin."""
        return 0.0

    def leaves(self, value: Any, path: str = "") -> list[Leaf]:
        return [(path, self, value)]


# ---------------------------------------------------------------- helpers


#: Characters that are typed or pasted without being seen: zero-width spaces and joiners,
#: the word joiner, a byte-order mark, soft hyphen.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
#: What keyboards and word processors put for ASCII: minus signs, fraction slashes, quotes.
_LOOKALIKES = str.maketrans({"\u2212": "-", "\u2013": "-", "\u2044": "/", "\u2215": "/", "\u00a0": " ",
                             "\u202f": " ", "\u2009": " ", "\u2019": "'", "\u02bc": "'"})


@lru_cache(maxsize=8192)  # the same few spellings recur across a class
def clean(text: str) -> str:
    """``text`` as a person meant it: full-width and other compatibility forms
    folded to ASCII (NFKC: ``３７`` -> ``37``), invisible characters dropped,
    look-alike minus signs and slashes made ASCII, surrounding blanks stripped,
    and the apostrophe Excel puts before text that looks like a number
    (``'37``) removed."""
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE).translate(_LOOKALIKES).strip()
    if text.startswith("'") and text.count("'") == 1:
        text = text[1:].lstrip()
    return text


def _text(raw: Any) -> str:
    if not isinstance(raw, str):
        raise InvalidResponse(f"expected text, got {type(raw).__name__}")
    return clean(raw)


_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_GROUPED = re.compile(r"^[+-]?[1-9]\d{0,2}([,_ ']\d{3})+(\.\d+)?$")
#: A decimal comma that cannot be a thousands separator: ``0,5``, ``2,25``, ``-0,125``
#: (not ``1,250``, which reads as 1250 as in the course's numbers).
_DECIMAL_COMMA = re.compile(r"^[+-]?(\d+,(\d{1,2}|\d{4,})|0,\d+)$")
#: Units a size may be typed with; the number is what is graded.
_LENGTH_UNIT = re.compile(r"\s*(px|pixels?|units?|elements?|params?|parameters?)\.?$", re.I)


def parse_number(raw: Any) -> float | int:
    """A number from JSON or text: ``55``, ``" 55 "``, ``1,040``, ``1_040``,
    ``196 609 000``, ``2.5e3``, ``1/4``, ``0,5`` (a decimal comma where it
    cannot be a thousands separator), ``37 px`` and whatever :func:`clean`
    folds (``'37``, ``３７``, ``−3``)."""
    kind = type(raw)
    if kind is int or (kind is float and math.isfinite(raw)):  # the usual cases first (a bool is refused below)
        return raw
    if isinstance(raw, bool):
        raise InvalidResponse(f"expected a number, got {raw!r}")
    if isinstance(raw, (int, float)):
        if isinstance(raw, float) and not math.isfinite(raw):
            raise InvalidResponse(f"{raw!r} is not a finite number")
        return raw
    text = _LENGTH_UNIT.sub("", _text(raw))
    if not text:
        raise InvalidResponse("empty answer")
    if _GROUPED.match(text):
        text = re.sub(r"[,_ ']", "", text)
    elif _DECIMAL_COMMA.match(text):
        text = text.replace(",", ".")
    if _NUMBER.match(text):
        value = float(text)
        if not math.isfinite(value):
            raise InvalidResponse(f"{text!r} is not a finite number")
        return int(text) if re.fullmatch(r"[+-]?\d+", text) else value
    frac = re.fullmatch(r"([+-]?\d+)\s*/\s*(\d+)", text)
    if frac and int(frac.group(2)) != 0:
        return float(Fraction(int(frac.group(1)), int(frac.group(2))))
    raise InvalidResponse(f"{text!r} is not a number")


def split_top(text: str, seps: str) -> list[str]:
    """Split ``text`` on any character of ``seps`` that is outside brackets."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(0, depth - 1)
        elif depth == 0 and ch in seps:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _maybe_json(text: str) -> Any:
    """The JSON value written in ``text``, or None when it is not JSON."""
    if not text or text[0] not in "[{(\"":
        return None
    try:
        return json.loads(text)
    except ValueError:
        try:  # Python-style tuples and single quotes: "(96, 363)", "{'a': 1}"
            return json.loads(text.replace("(", "[").replace(")", "]").replace("'", '"'))
        except ValueError:
            return None


def grouped(n: int) -> str:
    """``196609000`` as ``196,609,000``."""
    return f"{n:,}"


# ---------------------------------------------------------------- leaves


@dataclass(frozen=True)
class Integer(LeafFormat):
    """An exact integer (an output size, a parameter count)."""

    hint: str = "an integer, e.g. 55"

    def parse(self, raw: Any) -> int:
        try:
            return whole(raw)
        except InvalidResponse:
            return _square(raw)  # "37x37" for the side of a square map

    def show(self, value: Any) -> str:
        return grouped(int(value))


def whole(raw: Any) -> int:
    """A whole number, as :func:`parse_number` reads it (``55.0`` is 55, ``5.5`` is refused)."""
    value = parse_number(raw)
    if isinstance(value, float):
        if not value.is_integer():
            raise InvalidResponse(f"{raw!r} is not a whole number")
        value = int(value)
    return value


def real(raw: Any) -> float:
    """A number as a float, as :func:`parse_number` reads it; InvalidResponse past float's range."""
    try:
        return float(parse_number(raw))
    except OverflowError:
        raise InvalidResponse(f"{str(raw)[:20]}... is too large a number") from None


def _square(raw: Any) -> int:
    """The side of a square typed as a shape (``37x37``, ``(37, 37)``); InvalidResponse otherwise."""
    if not isinstance(raw, str):
        raise InvalidResponse(f"{raw!r} is not a number")
    try:
        dims = Shape().parse(raw)
    except InvalidResponse:
        raise InvalidResponse(f"{clean(raw)!r} is not a number") from None
    if len(dims) < 2 or len(set(dims)) != 1:
        raise InvalidResponse(f"{clean(raw)!r} is not one number")
    return dims[0]


@dataclass(frozen=True)
class Number(LeafFormat):
    """A real number within a tolerance of the right one: ``max(atol, rtol·|right|)``
    (a matrix cell).  The margin is measured around the right value only, as
    Moodle's and Canvas's numerical answers measure it."""

    atol: float = 1e-6
    rtol: float = 1e-6
    hint: str = "a number, e.g. 0.25"

    def parse(self, raw: Any) -> float:
        # a matrix's cells are finite floats already (x - x == 0 is false for inf and nan)
        return raw if type(raw) is float and raw - raw == 0 else real(raw)

    def tolerance(self, expected: Any) -> float:
        return max(self.atol, self.rtol * abs(self.parse(expected)))

    def same(self, expected: Any, got: Any) -> bool:
        exp = self.parse(expected)
        return abs(self.parse(got) - exp) <= max(self.atol, self.rtol * abs(exp))

    def show(self, value: Any) -> str:
        return _num(self.parse(value))


_BYTE_UNITS = {
    "": (1,), "b": (1,), "byte": (1,), "bytes": (1,),
    "k": (10**3, 2**10), "kb": (10**3, 2**10), "kib": (2**10,),
    "m": (10**6, 2**20), "mb": (10**6, 2**20), "mib": (2**20,),
    "g": (10**9, 2**30), "gb": (10**9, 2**30), "gib": (2**30,),
}


@dataclass(frozen=True)
class Bytes(LeafFormat):
    """A memory size in bytes, within ``rel_tol``; any unit may be typed.

    ``"93 MB"`` is read both as 93·10⁶ and 93·2²⁰ bytes, since courses use
    both: the response is right when either reading is.
    """

    rel_tol: float = 0.01
    hint: str = "bytes, e.g. 602112 or 0.57 MiB"

    def parse(self, raw: Any) -> tuple[float, ...]:
        if isinstance(raw, (list, tuple)) and raw and all(isinstance(v, (int, float)) for v in raw):
            return tuple(float(v) for v in raw)
        if not isinstance(raw, str):
            return (float(parse_number(raw)),)
        raw = re.sub(r"\s*\([^()]*\)\s*$", "", clean(raw))  # what show() adds: "602,112 bytes (588.00 KiB)"
        m = re.fullmatch(r"\s*(.*?)\s*([a-zA-Z]*)\s*", raw)
        number, unit = m.group(1), m.group(2).lower()
        if unit not in _BYTE_UNITS:
            raise InvalidResponse(f"unknown unit {m.group(2)!r} (use B, KB, MB, GB, KiB, MiB or GiB)")
        value = float(parse_number(number))
        return tuple(value * scale for scale in _BYTE_UNITS[unit])

    def tolerance(self, expected: Any) -> float:
        return max(0.5, self.rel_tol * abs(self.parse(expected)[0]))

    def same(self, expected: Any, got: Any) -> bool:
        exp = self.parse(expected)[0]
        margin = max(0.5, self.rel_tol * abs(exp))
        return any(abs(g - exp) <= margin for g in self.parse(got))

    def show(self, value: Any) -> str:
        n = int(self.parse(value)[0])
        if n < 2**10:
            return f"{grouped(n)} bytes"
        for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
            if n >= scale:
                return f"{grouped(n)} bytes ({n / scale:.2f} {unit})"
        return f"{grouped(n)} bytes"  # pragma: no cover - the loop always returns


@dataclass(frozen=True)
class Shape(LeafFormat):
    """A tuple of positive integers: ``(96, 363)``, ``96x363``, ``[96, 363]``."""

    hint: str = "a shape, e.g. (96, 363) or 96x363"

    def parse(self, raw: Any) -> tuple[int, ...]:
        if isinstance(raw, (list, tuple)):
            if raw and set(map(type, raw)) == {int}:  # the answers' own shapes
                return tuple(raw)
            items = list(raw)
        else:
            text = _LENGTH_UNIT.sub("", _text(raw))
            if not text:
                raise InvalidResponse("empty answer")
            text = text.strip("()[]{} ")
            items = [p for p in re.split(r"\s*(?:[x×X*,;]|\s)\s*", text) if p]
        if not items:
            raise InvalidResponse(f"{raw!r} is not a shape")
        dims = []
        for item in items:
            try:
                dims.append(whole(item))
            except InvalidResponse:
                raise InvalidResponse(f"{raw!r} is not a shape: {item!r} is not an integer") from None
        return tuple(dims)

    def show(self, value: Any) -> str:
        dims = tuple(value)
        return "(" + ", ".join(str(d) for d in dims) + ("," if len(dims) == 1 else "") + ")"


@dataclass(frozen=True)
class Matrix(LeafFormat):
    """A 2-D array of numbers compared element-wise within a tolerance.

    Typed as JSON (``[[0,1],[2,3]]``) or as rows separated by ``;`` or new
    lines, with numbers separated by spaces or commas (``0 1; 2 3``).
    """

    atol: float = 1e-6
    rtol: float = 1e-6
    hint: str = "a matrix, e.g. [[0, 1], [2, 3]] or 0 1; 2 3"

    @property
    def cell(self) -> Number:
        """The format of one cell: the matrix's tolerance."""
        return _cell_format(self.atol, self.rtol)

    def leaves(self, value: Any, path: str = "") -> list[Leaf]:
        """One leaf a cell, ``{path}[row,col]`` counted from 1: each cell earns its
        share, as each blank of a Moodle cloze or Canvas fill-in question does."""
        rows = self.parse(value)
        cell = self.cell
        return [(name, cell, v) for name, v in zip(_cell_paths(path, tuple(map(len, rows))), chain.from_iterable(rows))]

    def parse(self, raw: Any) -> tuple[tuple[float, ...], ...]:
        rows: Any = raw
        if isinstance(raw, str):
            text = clean(raw)
            if not text:
                raise InvalidResponse("empty answer")
            rows = _maybe_json(text)
            if rows is None:
                rows = [re.split(r"[\s,]+", r.strip()) for r in re.split(r"[;\n]+|\]\s*,?\s*\[", text.strip("[] \n")) if r.strip()]
        if not isinstance(rows, (list, tuple)) or not rows or not all(isinstance(r, (list, tuple)) and r for r in rows):
            raise InvalidResponse(f"{raw!r} is not a matrix (a list of rows)")
        if len({len(r) for r in rows}) != 1:
            raise InvalidResponse("the rows have different lengths")
        return tuple(tuple([v if type(v) is float and v - v == 0 else real(v) for v in row]) for row in rows)

    def same(self, expected: Any, got: Any) -> bool:
        a, b = self.parse(expected), self.parse(got)
        if len(a) != len(b) or len(a[0]) != len(b[0]):
            return False
        cell = self.cell
        return all(cell.same(x, y) for ra, rb in zip(a, b) for x, y in zip(ra, rb))

    def show(self, value: Any) -> str:
        return "[" + ", ".join("[" + ", ".join(_num(v) for v in row) + "]" for row in self.parse(value)) + "]"


#: A matrix cell's path: ``{matrix}[row,col]`` (see Matrix.leaves).
CELL = re.compile(r"^(?P<matrix>.*)\[(?P<row>\d+),(?P<col>\d+)\]$")


@lru_cache(maxsize=64)
def _cell_format(atol: float, rtol: float) -> Number:
    return Number(atol, rtol)


@lru_cache(maxsize=4096)  # a few matrix shapes, graded and exported over and over
def _cell_paths(path: str, widths: tuple[int, ...]) -> tuple[str, ...]:
    return tuple(f"{path}[{i},{j}]" for i, width in enumerate(widths, 1) for j in range(1, width + 1))


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.10g}"


@dataclass(frozen=True)
class Choice(LeafFormat):
    """One of a fixed set of options, answered by key, letter, number or label."""

    options: tuple[tuple[str, str], ...] = ()
    hint: str = "the letter of one option"

    def parse(self, raw: Any) -> str:
        text = _text(raw)
        if not text:
            raise InvalidResponse("empty answer")
        norm = _norm(text)
        keys = [k for k, _ in self.options]
        for i, (key, label) in enumerate(self.options):
            letter = chr(ord("a") + i)
            if norm in (_norm(key), _norm(label), letter, f"{letter})", f"({letter})", str(i + 1)):
                return key
        shown = re.fullmatch(r"\(?([a-z])\)\s*(.+)", norm, flags=re.S)  # what show() writes: "(c) label"
        if shown:
            letter, label = shown.groups()
            index = ord(letter) - ord("a")
            if index < len(self.options) and _norm(self.options[index][1]) == label:
                return self.options[index][0]
        raise InvalidResponse(f"{text!r} is none of the options ({', '.join(keys)})")

    def show(self, value: Any) -> str:
        for i, (key, label) in enumerate(self.options):
            if key == value:
                return f"({chr(ord('a') + i)}) {label}"
        return str(value)


@lru_cache(maxsize=4096)  # the options' keys and labels are normalised again for every answer read
def _norm(text: str) -> str:
    return re.sub(r"[\s_\-.]+", " ", text.strip().lower()).strip()


# ---------------------------------------------------------------- composites


@dataclass(frozen=True)
class Record(AnswerFormat):
    """Named fields, each with its own format, graded field by field.

    Typed as JSON (``{"params": 1040, ...}``), as ``name=value`` pairs, or as
    the values in field order, separated by ``;`` or new lines.
    """

    fields: tuple[tuple[str, AnswerFormat], ...] = ()

    @property
    def hint(self) -> str:  # type: ignore[override]
        return "; ".join(f"{name}" for name, _ in self.fields) + " (separated by ';')"

    def parse(self, raw: Any) -> dict[str, Any]:
        if isinstance(raw, str):
            text = raw.strip()
            if not text:
                raise InvalidResponse("empty answer")
            obj = _maybe_json(text)
            raw = obj if isinstance(obj, dict) else self._from_text(text)
        if not isinstance(raw, dict):
            raise InvalidResponse(f"expected {len(self.fields)} values: {self.hint}")
        names = dict(self.fields)
        unknown = [k for k in raw if k not in names]
        if unknown:
            raise InvalidResponse(f"unknown field {unknown[0]!r}; expected {', '.join(names)}")
        out = {}
        for name, fmt in self.fields:
            if name in raw and raw[name] not in (None, ""):
                try:
                    out[name] = fmt.parse(raw[name])
                except InvalidResponse as exc:
                    raise InvalidResponse(f"{name}: {exc}") from None
        return out

    def _from_text(self, text: str) -> dict[str, Any]:
        parts = split_top(text, ";\n|")
        names = [n for n, _ in self.fields]
        if len(parts) == 1 < len(names) and len(split_top(text, ",")) == len(names):
            parts = split_top(text, ",")  # "363x3025, 96x363, 96x3025": commas between the values
        labelled = {}
        for part in parts:
            m = re.fullmatch(r"([A-Za-z_][\w ]*?)\s*[=:]\s*(.+)", part, flags=re.S)
            key = m and _field_key(m.group(1), names)
            if key:
                labelled[key] = m.group(2).strip()
        if labelled and len(labelled) == len(parts):
            return labelled
        if len(parts) != len(names):
            raise InvalidResponse(f"expected {len(names)} values ({', '.join(names)}), got {len(parts)}")
        return dict(zip(names, parts))

    def leaves(self, value: Any, path: str = "") -> list[Leaf]:
        out: list[Leaf] = []
        for name, fmt in self.fields:
            if isinstance(value, dict) and name in value and value[name] is not None:
                out.extend(fmt.leaves(value[name], f"{path}.{name}" if path else name))
        return out

    def show(self, value: Any) -> str:
        return "; ".join(f"{name}={fmt.show(value[name])}" for name, fmt in self.fields if name in value)


def _field_key(label: str, names: list[str]) -> str | None:
    norm = _norm(label)
    for name in names:
        if _norm(name) == norm:
            return name
    return None


@dataclass(frozen=True)
class ListOf(AnswerFormat):
    """A list of items of one format, graded item by item."""

    item: AnswerFormat = Integer()

    @property
    def hint(self) -> str:  # type: ignore[override]
        return "one item a line"

    def parse(self, raw: Any) -> list[Any]:
        if isinstance(raw, str):
            text = raw.strip()
            obj = _maybe_json(text)
            raw = obj if isinstance(obj, list) else split_top(text, ";\n")
        if not isinstance(raw, (list, tuple)):
            raise InvalidResponse("expected a list")
        return [self.item.parse(v) for v in raw]

    def leaves(self, value: Any, path: str = "") -> list[Leaf]:
        out: list[Leaf] = []
        for i, item in enumerate(value or []):
            if item is not None:
                out.extend(self.item.leaves(item, f"{path}[{i + 1}]"))
        return out

    def show(self, value: Any) -> str:
        return "\n".join(self.item.show(v) for v in value)


def iter_leaf_formats(fmt: AnswerFormat) -> Iterator[LeafFormat]:
    """Every leaf format inside ``fmt`` (for renderers that need to know them)."""
    if isinstance(fmt, LeafFormat):
        yield fmt
    elif isinstance(fmt, Record):
        for _, sub in fmt.fields:
            yield from iter_leaf_formats(sub)
    elif isinstance(fmt, ListOf):
        yield from iter_leaf_formats(fmt.item)
