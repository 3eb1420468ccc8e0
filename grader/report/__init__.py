"""Reporters: a :class:`~grader.results.Report` as text, JSON, Gradescope's
results.json, JUnit XML or one HTML page.

Each ``to_*`` function takes a Report and returns text; :func:`write` picks
one by name and writes it to a file (atomically) or to standard output.

    from grader import report
    report.write(result, "gradescope", "results/results.json")

The ``to_*`` functions are imported on first use, so ``grader check`` loads
only the reporter it writes with (the HTML one brings in jinja2).
"""

from __future__ import annotations

import importlib

from .output import FORMATS, format_report, write

__all__ = ["FORMATS", "format_report", "to_gradescope", "to_html", "to_json", "to_junit", "to_text", "write"]

_REPORTERS = {"to_gradescope": "data", "to_json": "data", "to_html": "html", "to_junit": "junit", "to_text": "text"}


def __getattr__(name: str):
    if name in _REPORTERS:
        return getattr(importlib.import_module(f"{__name__}.{_REPORTERS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
