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
    data = gradescope_dict(report)
    for entry, test in zip(data["tests"], report.tests):
        entry.update(part=test.part, kind=test.kind, ran=test.ran, details=json_safe(test.details) or {})
    data.update(
        submission=clean_text(report.submission),
        seed=int(report.seed),
        layout=clean_text(report.layout),
        device=clean_text(report.device),
        percent=rounded(report.percent),
        protections=json_safe(report.protections) or {},
        sandboxes=[{"parts": names, "protections": had} for names, had in sandboxes(report)],
        notes=[clean_text(n) for n in report.notes],
    )
    return data


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
    return json.dumps(data, indent=2, allow_nan=False) + "\n"


def to_gradescope(report: Report) -> str:
    """Gradescope's results.json, as text."""
    return _dumps(gradescope_dict(report))


def to_json(report: Report) -> str:
    """The JSON report (Gradescope's shape with extras), as text."""
    return _dumps(json_dict(report))
