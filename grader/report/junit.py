"""The JUnit XML report, for CI test reporters.

``<testsuites>`` holds one ``<testsuite name="grader: PART">`` per part, with
the scores and seed as ``<properties>``, and one ``<testcase>`` per test;
a failing test carries ``<failure message="first line" type="KIND">``
with the whole feedback.  Built with ElementTree, so every attribute and text
is escaped; student text is cleaned of the characters XML 1.0 forbids.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from grader.results import Report, TestResult

from .common import clean_text, first_line, num, parts, points, sandbox_text, sandboxes

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'


def to_junit(report: Report) -> str:
    """The report as JUnit XML text."""
    counts = report.counts()
    root = ET.Element("testsuites", {
        "name": "grader",
        "tests": str(len(report.tests)),
        "failures": str(counts["failed"]),
        "errors": "0",
        "skipped": str(counts["not run"]),
        "time": f"{float(report.execution_time):.3f}",
    })
    for part in parts(report):
        suite = ET.SubElement(root, "testsuite", {
            "name": f"grader: {part.name}",
            "tests": str(len(part.tests)),
            "failures": str(part.failed),
            "errors": "0",
            "skipped": str(part.not_run),
            "time": "0",
        })
        properties = ET.SubElement(suite, "properties")
        for name, value in (
            ("submission", clean_text(report.submission)),
            ("score", num(part.score, 4)),
            ("max_score", num(part.max_score, 4)),
            ("total_score", num(report.score, 4)),
            ("total_max_score", num(report.max_score, 4)),
            ("seed", str(report.seed)),
            ("layout", clean_text(report.layout)),
            ("device", clean_text(report.device)),
            *[("sandbox", sandbox_text(had)) for names, had in sandboxes(report) if part.name in names],
        ):
            ET.SubElement(properties, "property", {"name": name, "value": value})
        for test in part.tests:
            _testcase(suite, test)
    ET.indent(root)
    return XML_DECLARATION + ET.tostring(root, encoding="unicode") + "\n"


def _testcase(suite: ET.Element, test: TestResult) -> None:
    case = ET.SubElement(suite, "testcase", {
        "classname": f"grader.{test.part}.{test.kind}",
        "name": clean_text(test.name),
        "time": "0",
    })
    feedback = clean_text(test.feedback)
    if not test.ran:  # JUnit's own word for a test that did not run
        skipped = ET.SubElement(case, "skipped", {"message": first_line(feedback) or "not run"})
        skipped.text = f"{feedback}\n(points {points(test)})" if feedback else f"points {points(test)}"
    elif not test.passed:
        failure = ET.SubElement(case, "failure", {
            "message": first_line(feedback) or f"failed ({points(test)} points)",
            "type": test.kind,
        })
        failure.text = f"{feedback}\n(points {points(test)})" if feedback else f"points {points(test)}"
    else:
        out = ET.SubElement(case, "system-out")
        out.text = f"{feedback}\n(points {points(test)})" if feedback else f"points {points(test)}"
