"""Shared fixtures: a CLI runner that goes through grader.cli.main (exit codes
and one-line errors included), and small files."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass

import pytest

from grader.cli import main


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture
def run_cli():
    """Run ``grader ARGS...`` in-process and capture exit code, stdout, stderr."""

    def run(*args: str) -> Run:
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = main(list(args))
        return Run(code, out.getvalue(), err.getvalue())

    return run
