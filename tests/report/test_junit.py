"""The JUnit XML report."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from grader.report import to_junit
from grader.results import Report, TestResult

from report_samples import XSS


def parse(report) -> ET.Element:
    return ET.fromstring(to_junit(report).encode("utf-8"))


def test_parses_with_one_testcase_per_test(report):
    root = parse(report)
    assert root.tag == "testsuites"
    cases = root.findall("./testsuite/testcase")
    assert [c.get("name") for c in cases] == [t.name for t in report.tests]
    assert root.get("tests") == str(len(report.tests))


def test_one_suite_per_part_with_counts(report):
    suites = parse(report).findall("testsuite")
    assert [s.get("name") for s in suites] == ["grader: conv", "grader: max_pool", "grader: avg_pool"]
    assert [s.get("tests") for s in suites] == ["5", "3", "2"]
    assert [s.get("failures") for s in suites] == ["2", "1", "1"]
    for suite in suites:
        assert suite.get("time") is not None
        assert len(suite.findall("testcase/failure")) == int(suite.get("failures"))
    assert parse(report).get("failures") == "4"


def test_testcase_classname_and_time(report):
    case = parse(report).find("./testsuite/testcase")
    assert case.get("classname") == "grader.conv.forward"
    assert case.get("time") == "0"


def test_failures_carry_message_type_and_feedback(report):
    root = parse(report)
    failures = {c.get("name"): c.find("failure") for c in root.iter("testcase")}
    assert failures["conv forward: basic"] is None
    failure = failures["conv backward: basic"]
    assert failure.get("type") == "backward"
    assert failure.get("message") == f"dx correct, dw correct, db wrong: it sums over the wrong axes {XSS}"
    assert "line two of the feedback" in failure.text
    assert failures["avg_pool forward: basic"].get("message").startswith("the output is None")


def test_properties_hold_scores_and_seed(report):
    suite = parse(report).find("testsuite")
    props = {p.get("name"): p.get("value") for p in suite.findall("properties/property")}
    assert props["score"] == "3.1667" and props["max_score"] == "5"
    assert props["total_score"] == "5.1667" and props["total_max_score"] == "10"
    assert props["seed"] == "1234"


def test_characters_xml_forbids_are_cleaned():
    test = TestResult("conv forward: \x00a", "conv", "forward", 1.0, 0.0, "bad\x1b[31m\x00 \udcff output")
    root = ET.fromstring(to_junit(Report("s", 1, [test])).encode("utf-8"))
    failure = root.find(".//failure")
    assert "\\x1b[31m" in failure.text and "\ufffd" in failure.text


def test_empty_feedback_still_has_a_message():
    test = TestResult("conv forward: a", "conv", "forward", 1.0, 0.0, "")
    failure = parse(Report("s", 1, [test])).find(".//failure")
    assert failure.get("message")
