"""Fixtures of the reporters' tests: a hand-built report (see report_samples)."""

from __future__ import annotations

import pytest

from grader.results import Report

from report_samples import sample_report


@pytest.fixture
def report() -> Report:
    return sample_report()
