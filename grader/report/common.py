"""Small pieces every reporter shares: number formats, cleaning student text,
turning ``details`` into JSON-safe data, and per-part summaries.

Nothing here knows a format; each reporter takes what it needs.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from numbers import Number
from typing import Any

import numpy as np

from grader.results import Report, TestResult

# C0 controls (but tab and newline), DEL and C1 controls: escape sequences that
# would repaint a terminal, and characters XML 1.0 does not allow.
_CONTROLS = r"\x00-\x08\x0b-\x1f\x7f-\x9f"
# Lone surrogates (from bytes decoded with surrogateescape) and the two non-characters XML forbids.
_UNENCODABLES = r"\ud800-\udfff\ufffe\uffff"
_CONTROL, _UNENCODABLE = re.compile(f"[{_CONTROLS}]"), re.compile(f"[{_UNENCODABLES}]")
# Anything ``clean_text`` changes: a carriage return (itself a C0 control), a control, an unencodable.
_UNCLEAN = re.compile(f"[{_CONTROLS}{_UNENCODABLES}]")

MAX_ARRAY_ITEMS = 4096  # larger arrays in details become a summary of their shape
MAX_DEPTH = 16


def clean_text(value: Any) -> str:
    """``value`` as text any output can carry: carriage returns become newlines,
    control characters a visible ``\\xNN`` and lone surrogates U+FFFD."""
    text = value if type(value) is str else str(value)
    if _UNCLEAN.search(text) is None:  # (nearly every text: one scan instead of four)
        return text
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return _UNENCODABLE.sub("\ufffd", text)


def num(value: float, digits: int = 2) -> str:
    """A score without trailing zeros: 17.5, 20, 0.67 (0.6667 with ``digits=4``)."""
    text = f"{float(value):.{digits}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def points(test: TestResult) -> str:
    """A test's points as ``0.67/1.00``."""
    return f"{test.score:.2f}/{test.max_score:.2f}"


def percent(score: float, max_score: float) -> float:
    """score as a percentage of max_score (100 when there is nothing to score), like Report.percent."""
    return 100.0 if max_score == 0 else 100.0 * score / max_score


def rounded(value: float, digits: int = 4) -> float:
    return round(float(value), digits)


def first_line(text: str, limit: int = 200) -> str:
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return line if len(line) <= limit else line[: limit - 3] + "..."


def seed_line(report: Report) -> str:
    return f"seed {report.seed}: rerun with --seed {report.seed}"


def sandboxes(report: Report) -> list[tuple[list[str], dict[str, str]]]:
    """What the sandbox's children had, as each part's session reported it (the ``protections``
    its integrity tests carry, not what the machine offers): [(parts, protections)], parts
    whose children had the same protections together."""
    groups: dict[tuple, list[str]] = {}
    for test in report.tests:
        had = test.details.get("protections") if test.kind == "integrity" else None
        if isinstance(had, dict) and had:
            key = tuple((clean_text(k), clean_text(v)) for k, v in had.items())
            groups.setdefault(key, [])
            if test.part not in groups[key]:
                groups[key].append(test.part)
    return [(names, dict(key)) for key, names in groups.items()]


def sandbox_text(had: dict[str, str]) -> str:
    """``network: isolated (...); processes: pid namespace; ...``, keys with the same value together."""
    keys: dict[str, list[str]] = {}
    for key, value in had.items():
        keys.setdefault(value, []).append(key)
    return "; ".join(f"{', '.join(names)}: {value}" for value, names in keys.items())


def sandbox_lines(report: Report) -> list[str]:
    """One line per entry of ``sandboxes``: ``sandbox of conv, max_pool: network: isolated (...); ...``."""
    return [f"sandbox of {', '.join(names)}: {sandbox_text(had)}" for names, had in sandboxes(report)]


def seconds(value: float) -> str:
    """A duration for people: 45 µs, 12.3 ms, 1.23 s."""
    value = float(value)
    if value >= 1:
        return f"{value:.3g} s"
    if value >= 1e-3:
        return f"{value * 1e3:.3g} ms"
    return f"{value * 1e6:.3g} µs"


def finite(value: Any) -> float | None:
    """``value`` as a finite float, or None (bools, strings, NaN and infinities are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, Number):  # numpy's numbers are Numbers, np.bool_ is not
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class PartSummary:
    name: str
    tests: list[TestResult]
    score: float
    max_score: float

    @property
    def percent(self) -> float:
        return percent(self.score, self.max_score)

    @property
    def failed(self) -> int:
        return sum(t.status == "failed" for t in self.tests)

    @property
    def not_run(self) -> int:
        return sum(t.status == "not run" for t in self.tests)

    @property
    def passed(self) -> int:
        return sum(t.passed for t in self.tests)


def counts_line(report: Report) -> str:
    """``N passed, M failed, K not run`` (the last only when some did not run)."""
    counts = report.counts()
    line = f"{counts['passed']} passed, {counts['failed']} failed"
    return line + (f", {counts['not run']} not run" if counts["not run"] else "")


def parts(report: Report) -> list[PartSummary]:
    """The report's parts in course order (unknown parts, if any, at the end), with their tests and scores."""
    names = report.parts() + [p for p in dict.fromkeys(t.part for t in report.tests) if p not in report.parts()]
    summaries = []
    for name in names:
        score, max_score = report.part_score(name)
        summaries.append(PartSummary(name, [t for t in report.tests if t.part == name], score, max_score))
    return summaries


_DROP = object()


def json_safe(value: Any) -> Any:
    """``value`` as JSON data: numpy scalars and arrays become numbers and lists,
    tuples and sets lists, non-finite floats None, strings clean text; values
    that have no JSON form are dropped from their container (None at the top)."""
    safe = _safe(value, 0)
    return None if safe is _DROP else safe


def _safe(value: Any, depth: int) -> Any:
    if depth > MAX_DEPTH:
        return _DROP
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf" or value.size > MAX_ARRAY_ITEMS:
            return {"shape": [int(n) for n in value.shape], "dtype": str(value.dtype)}
        return _safe(value.tolist(), depth + 1)
    if isinstance(value, np.generic):
        return _DROP
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, (str, int, float, bool)) or isinstance(key, float) and not math.isfinite(key):
                continue
            safe = _safe(item, depth + 1)
            if safe is not _DROP:
                out[clean_text(key)] = safe
        return out
    if isinstance(value, (list, tuple, set, frozenset)):
        items = value
        if isinstance(value, (set, frozenset)):
            try:
                items = sorted(value)
            except TypeError:
                items = list(value)
        return [s for s in (_safe(item, depth + 1) for item in items) if s is not _DROP]
    return _DROP
