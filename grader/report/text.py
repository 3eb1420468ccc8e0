"""The terminal report: a header, each part's tests with PASS/FAIL marks and
points, failures' feedback indented under them, notes, and the total.

Colour (ANSI) only when the caller asks for it; student text is cleaned of
control characters, so it cannot repaint the terminal either way.
"""

from __future__ import annotations

import textwrap

from grader.results import Report, TestResult

from .common import clean_text, counts_line, finite, num, parts, points, sandbox_lines, seconds, seed_line

WIDTH = 100
INDENT = " " * 8
NAME_WIDTH = 56

GREEN, RED, YELLOW, BOLD, DIM, RESET = "\x1b[32m", "\x1b[31m", "\x1b[33m", "\x1b[1m", "\x1b[2m", "\x1b[0m"


def to_text(report: Report, color: bool = False) -> str:
    """The report as plain text for a terminal (ANSI colours when ``color``)."""

    def paint(text: str, *codes: str) -> str:
        return "".join(codes) + text + RESET if color else text

    lines = [
        f"Submission {clean_text(report.submission)}, layout {clean_text(report.layout or 'unknown')}, "
        f"{seed_line(report)}, device {clean_text(report.device)}",
    ]
    lines += [line for sandbox in sandbox_lines(report) for line in _wrap(sandbox, "    ", first="")]
    if not report.tests:
        lines += ["", "No tests were run."]
    width = min(NAME_WIDTH, max((len(clean_text(t.name)) for t in report.tests), default=0))
    for part in parts(report):
        lines += ["", paint(f"{part.name}  {num(part.score)} / {num(part.max_score)}", BOLD)]
        for test in part.tests:
            mark = (paint("PASS", GREEN, BOLD) if test.passed else paint("SKIP", YELLOW, BOLD) if not test.ran
                    else paint("FAIL", RED, BOLD))
            lines.append(f"  {mark}  {clean_text(test.name).ljust(width)}  {points(test)}")
            lines += [paint(line, DIM) if test.passed else line for line in _feedback_lines(test)]
    if report.notes:
        lines += ["", "Notes:"] + [line for note in report.notes for line in _wrap(note, "    ", first="  - ")]
    lines += [
        "",
        f"{len(report.tests)} test{'s' if len(report.tests) != 1 else ''}: {counts_line(report)}",
        paint(f"Score: {num(report.score)} / {num(report.max_score)} ({report.percent:.1f}%)", BOLD),
    ]
    return "\n".join(lines) + "\n"


def _feedback_lines(test: TestResult) -> list[str]:
    """Failures show their feedback; speed tests show their ratio line (and the times) either way, and
    a passed test its feedback when that is a note worth reading (``details["note"]``)."""
    if test.passed and test.kind != "speed" and not test.details.get("note"):
        return []
    lines = _wrap(test.feedback) if test.feedback else []
    speed = test.details.get("speed") if isinstance(test.details.get("speed"), dict) else {}
    times = [(label, finite(speed.get(key))) for label, key in
             (("yours", "student_s"), ("vectorized reference", "vectorized_s"), ("loop reference", "loops_s"))]
    times = [f"{label} {seconds(value)}" for label, value in times if value is not None]
    if times:
        lines.append(INDENT + "times: " + ", ".join(times))
    return lines


def _wrap(text: str, indent: str = INDENT, first: str | None = None) -> list[str]:
    """``text`` wrapped to WIDTH, each of its own lines on its own, indented
    (the very first line by ``first`` when given)."""
    out: list[str] = []
    for line in clean_text(text).split("\n"):
        if not line.strip():
            continue
        lead = indent if first is None or out else first
        out += textwrap.wrap(line, WIDTH, initial_indent=lead, subsequent_indent=indent,
                             break_long_words=False, break_on_hyphens=False)
    return out
