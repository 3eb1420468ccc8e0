"""The HTML report: one self-contained page (inline CSS and SVG, nothing fetched).

This module turns a Report into plain data for ``templates/report.html.j2``
(numbers formatted, pictures' geometry from :mod:`grader.report.svg`); the
template escapes every piece of text, student feedback included.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape

from grader.render import render
from grader.results import Report, TestResult

from . import svg
from .common import clean_text, num, parts, points, sandboxes, seconds

TEMPLATE = "report.html.j2"


def to_html(report: Report) -> str:
    """The report as one HTML page."""
    return render(TEMPLATE, **context(report))


def context(report: Report) -> dict[str, Any]:
    counted = report.counts()
    index = iter(range(len(report.tests)))
    return {
        "submission": clean_text(report.submission),
        "layout": clean_text(report.layout or "unknown"),
        "seed": int(report.seed),
        "device": clean_text(report.device),
        "execution_time": seconds(report.execution_time) if report.execution_time else "",
        "score": num(report.score),
        "max_score": num(report.max_score),
        "percent": f"{report.percent:.1f}",
        "bar": {"width": f"{min(max(report.percent, 0.0), 100.0):.1f}", "colour": _colour(report.percent)},
        "counts": {"total": len(report.tests), "passed": counted["passed"], "failed": counted["failed"],
                   "not_run": counted["not run"]},
        "parts": [
            {
                "name": part.name,
                "anchor": f"part-{part.name}",
                "score": num(part.score),
                "max_score": num(part.max_score),
                "percent": f"{part.percent:.0f}",
                "colour": _colour(part.percent),
                "passed": part.passed,
                "failed": part.failed,
                "not_run": part.not_run,
                "tests": [_card(test, next(index)) for test in part.tests],
            }
            for part in parts(report)
        ],
        "notes": [clean_text(note) for note in report.notes],
        # what each part's child had first, then what the machine offers
        "protections": _protections({**{f"sandbox of {', '.join(names)}": had for names, had in sandboxes(report)},
                                     **report.protections}),
    }


def _card(test: TestResult, number: int) -> dict[str, Any]:
    return {
        "id": f"test-{number + 1}",
        "name": clean_text(test.name),
        "short_name": clean_text(test.name.removeprefix(f"{test.part} ")),
        "passed": test.passed,
        "status": "PASS" if test.passed else "NOT RUN" if not test.ran else "FAIL",
        "ran": test.ran,
        "points": points(test),
        "unscored": test.max_score == 0,
        "feedback": clean_text(test.feedback),
        "tags": [test.part, test.kind],
        "heatmap": None if test.passed else _heatmap(test.details.get("heatmap")),
        "speed": svg.speed_chart(test.details.get("speed")) if test.kind == "speed" else None,
    }


def _heatmap(data: Any) -> dict[str, Any] | None:
    """``svg.heatmap(data)`` with its cells also as markup (``cells``): up to 576 rects a map, which the
    template would otherwise write one attribute lookup and escape at a time (a third of a report's
    rendering, for a submission whose every output is wrong).  Written as the template writes a
    rect: its numbers as ``str`` does, its fill escaped."""
    picture = svg.heatmap(data)
    if picture is not None:
        picture["cells"] = Markup("".join(
            f'<rect class="cell" x="{r["x"]}" y="{r["y"]}" width="{r["size"]}" height="{r["size"]}" '
            f'fill="{escape(r["fill"])}"/>' for r in picture["rects"]))
    return picture


def _colour(percent: float) -> str:
    if percent >= 90:
        return "#2e8540"
    if percent >= 60:
        return "#d08a00"
    return "#c62828"


def _protections(protections: dict[str, Any]) -> list[dict[str, Any]]:
    """The sandbox's protections as rows of {name, text, entries}: a value or a list of values."""
    rows = []
    for key, value in protections.items():
        name = clean_text(key).replace("_", " ")
        if isinstance(value, dict):
            entries = [f"{clean_text(k)}: {_plain(v)}" for k, v in value.items()]
            rows.append({"name": name, "text": "", "entries": entries})
        elif isinstance(value, (list, tuple)):
            rows.append({"name": name, "text": "" if value else "none", "entries": [_plain(v) for v in value]})
        else:
            rows.append({"name": name, "text": _plain(value), "entries": []})
    return rows


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return clean_text(value)
