"""A test that did not run is reported as not run, in every format, and never as passed.

The untouched starter kit is the example: its forwards fail (NotImplementedError), so its
backwards, numeric gradients and speed tests never run; only its integrity tests pass."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from grader import report as reporters
from grader.grading import grade_submission
from grader.results import TestResult
from grader.starter import make_starter


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    kit = tmp_path_factory.mktemp("kit")
    make_starter(kit, force=True)
    return grade_submission(kit, parts="conv,max_pool", seed=1, device="cpu")


def test_the_starter_kit_passes_nothing_but_its_integrity_tests(report):
    assert [t.name for t in report.tests if t.passed] == [t.name for t in report.tests if t.kind == "integrity"]
    not_run = [t for t in report.tests if t.status == "not run"]
    assert not_run and all(not t.passed and t.score == 0 for t in not_run)
    # (its forwards never return a cache, so nothing says its backwards would take the documented one)
    assert {t.kind for t in not_run} >= {"backward", "numeric-gradient", "speed"}


def test_every_format_says_not_run(report, tmp_path):
    counts = report.counts()
    line = f"{counts['passed']} passed, {counts['failed']} failed, {counts['not run']} not run"
    out = {}
    for fmt in ("text", "junit", "gradescope", "html"):
        reporters.write(report, fmt, str(tmp_path / fmt))
        out[fmt] = (tmp_path / fmt).read_text(encoding="utf-8")
    assert line in out["text"] and "SKIP" in out["text"]
    assert line in out["html"] and "NOT RUN" in out["html"]
    root = ET.fromstring(out["junit"])
    skipped = [c.get("name") for c in root.iter("testcase") if c.find("skipped") is not None]
    assert len(skipped) == counts["not run"] and root.get("skipped") == str(counts["not run"])
    assert not [c for c in root.iter("testcase") if c.find("skipped") is not None and c.find("failure") is not None]
    results = json.loads(out["gradescope"])
    by_name = {t["name"]: t for t in results["tests"]}
    for name in skipped:
        assert by_name[name]["status"] != "passed" and by_name[name]["output"].startswith("not run")
    assert line in results["output"]


def test_a_zero_point_test_that_did_not_run_is_not_passed():
    # before: "not timed" speed tests with no points counted as passed
    test = TestResult("conv speed", "conv", "speed", 0.0, 0.0, "not timed: make the forward and backward tests pass first",
                      {"passed": True})
    assert test.status == "not run" and not test.passed
