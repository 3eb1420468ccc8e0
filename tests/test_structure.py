"""The layering the code is meant to have, checked on its syntax trees: the checks never
import the grading that drives them (no import circle between ``grading`` and
``checks.transfer``), starting children (``sessions``) and scoring (``scoring``) are modules
of their own, and every part's grader returns the same outcome shape."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

GRADER = Path(__file__).resolve().parents[1] / "grader"


def _imports(file: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}
    return names


def test_the_checks_sessions_and_scoring_never_import_grading():
    files = [*sorted((GRADER / "checks").glob("*.py")), GRADER / "sessions.py", GRADER / "scoring.py"]
    for file in files:
        assert not {n for n in _imports(file) if n == "grader.grading" or n.startswith("grader.grading.")}, file.name


def test_scoring_starts_no_child():
    assert not {n for n in _imports(GRADER / "scoring.py") if n.startswith(("grader.sessions", "grader.sandbox.process"))}


def test_every_part_grader_returns_a_part_outcome():
    from grader.checks.transfer import grade_transfer
    from grader.grading import grade_layers

    for function in (grade_layers, grade_transfer):
        assert inspect.signature(function).return_annotation == "PartOutcome", function.__name__
