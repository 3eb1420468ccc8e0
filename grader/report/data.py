"""The machine-readable reports: Gradescope's ``results.json`` and our JSON.

``to_gradescope`` holds exactly the fields of Gradescope's autograder results
schema; ``to_json`` is the same shape with the run's context (seed, layout,
device, percent, protections, notes) and each test's part, kind and details
added.  Both are strict JSON (no NaN), scores rounded to 4 decimals.
"""

from __future__ import annotations

import json
from typing import Any

from grader.results import Report, TestResult

from .common import clean_text, counts_line, json_safe, num, parts, rounded, sandbox_lines, sandboxes, seed_line


def gradescope_dict(report: Report) -> dict[str, Any]:
    """The report as Gradescope's results.json data."""
    return {
        "score": rounded(report.score),
        "max_score": rounded(report.max_score),
        "execution_time": rounded(report.execution_time, 3),
        "output": summary(report),
        "output_format": "text",
        "stdout_visibility": "hidden",
        "tests": [_gradescope_test(t) for t in report.tests],
    }


def _gradescope_test(test: TestResult) -> dict[str, Any]:
    return {
        "name": clean_text(test.name),
        "score": rounded(test.score),
        "max_score": rounded(test.max_score),
        "status": "passed" if test.passed else "failed",  # Gradescope knows only these two
        "output": clean_text(test.feedback if test.ran or test.feedback.startswith("not run")
                             else f"not run: {test.feedback}"),
        "tags": [test.part, test.kind],
        "visibility": "visible",
    }


def json_dict(report: Report) -> dict[str, Any]:
    """Gradescope's shape plus the run's context and each test's part, kind and details."""
    return _with_context(report, gradescope_dict(report))


def _with_context(report: Report, data: dict[str, Any]) -> dict[str, Any]:
    """Gradescope's ``data`` (left as it is) with the run's context and each test's part, kind and
    details added, in a dict of its own."""
    tests = [{**entry, "part": test.part, "kind": test.kind, "ran": test.ran,
              "details": json_safe(test.details) or {}} for entry, test in zip(data["tests"], report.tests)]
    return {
        **data,
        "tests": tests,
        "submission": clean_text(report.submission),
        "seed": int(report.seed),
        "layout": clean_text(report.layout),
        "device": clean_text(report.device),
        "percent": rounded(report.percent),
        "protections": json_safe(report.protections) or {},
        "sandboxes": [{"parts": names, "protections": had} for names, had in sandboxes(report)],
        "notes": [clean_text(n) for n in report.notes],
    }


def summary(report: Report) -> str:
    """The few lines Gradescope shows above the tests."""
    lines = [f"Score: {num(report.score)} / {num(report.max_score)} ({report.percent:.1f}%); "
             f"{len(report.tests)} tests: {counts_line(report)}."]
    lines += [f"{p.name}: {num(p.score)} / {num(p.max_score)}" for p in parts(report)]
    lines.append(f"{seed_line(report)} (layout {clean_text(report.layout or 'unknown')}, "
                 f"device {clean_text(report.device)})")
    lines += sandbox_lines(report)
    if report.notes:
        lines += ["Notes:"] + [f"- {clean_text(n)}" for n in report.notes]
    return "\n".join(lines)


def _dumps(data: dict[str, Any]) -> str:
    """``json.dumps(data, indent=2, allow_nan=False)`` and a newline, written by ``_indented``: the
    standard library's writer is its pure-Python one whenever there is an indent (a batch writes
    two of these per submission).  Anything ``_indented`` does not write exactly as it would (a
    type other than dict, list, tuple, str, int, float, bool and None, a key that is not a str, a
    float that is not finite) is left to ``json.dumps``, errors and all."""
    out: list[str] = []
    try:
        _indented(data, "\n", out)
    except _Unusual:
        return json.dumps(data, indent=2, allow_nan=False) + "\n"
    out.append("\n")
    return "".join(out)


class _Unusual(Exception):
    """A value ``_indented`` leaves to ``json.dumps``."""


_INFINITY = float("inf")


def _indented(value: Any, newline: str, out: list[str]) -> None:
    """Append ``value`` as ``json.dumps(..., indent=2)`` writes it, ``newline`` being the line break
    and indent of its own level."""
    kind = type(value)
    if kind is str:
        out.append(_string(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif kind is int:
        out.append(int.__repr__(value))
    elif kind is float:
        if value != value or value == _INFINITY or value == -_INFINITY:
            raise _Unusual
        out.append(float.__repr__(value))
    elif kind is list or kind is tuple or kind is dict:
        braces = "{}" if kind is dict else "[]"
        if not value:
            out.append(braces)
            return
        inner = newline + "  "
        items = ((_key(k), v) for k, v in value.items()) if kind is dict else (("", v) for v in value)
        out.append(braces[0])
        separator = inner
        for label, item in items:
            out.append(separator + label)
            _indented(item, inner, out)
            separator = "," + inner
        out.append(newline + braces[1])
    else:
        raise _Unusual


def _key(key: Any) -> str:
    if type(key) is not str:
        raise _Unusual
    return _string(key) + ": "


_string = json.encoder.encode_basestring_ascii  # what json.dumps writes a str with (ensure_ascii)


def to_gradescope(report: Report) -> str:
    """Gradescope's results.json, as text."""
    return _dumps(gradescope_dict(report))


def to_json(report: Report) -> str:
    """The JSON report (Gradescope's shape with extras), as text."""
    return _dumps(json_dict(report))


def to_json_and_gradescope(report: Report) -> tuple[str, str]:
    """``(to_json(report), to_gradescope(report))`` from one pass over the report (a batch
    writes both for every submission)."""
    gradescope = gradescope_dict(report)
    return _dumps(_with_context(report, gradescope)), _dumps(gradescope)
