"""Reporters: a :class:`~grader.results.Report` as text, JSON, Gradescope's
results.json, JUnit XML or one HTML page.

Each ``to_*`` function takes a Report and returns text; :func:`write` picks
one by name and writes it to a file (atomically) or to standard output.

    from grader import report
    report.write(result, "gradescope", "results/results.json")
"""

from __future__ import annotations

from .data import to_gradescope, to_json
from .html import to_html
from .junit import to_junit
from .output import FORMATS, format_report, write
from .text import to_text

__all__ = ["FORMATS", "format_report", "to_gradescope", "to_html", "to_json", "to_junit", "to_text", "write"]
