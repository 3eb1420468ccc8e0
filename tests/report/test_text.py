"""The terminal report."""

from __future__ import annotations

import re

from grader.report import to_text
from grader.results import Report, TestResult

from report_samples import sample_report

ANSI = re.compile(r"\x1b\[")


def test_header_names_submission_layout_seed_and_device(report):
    header = to_text(report).splitlines()[0]
    for piece in ("examples/buggy_submission", "native", "seed 1234: rerun with --seed 1234", "cpu"):
        assert piece in header


def test_every_test_appears_with_mark_and_points(report):
    text = to_text(report)
    for test in report.tests:
        line = next(line for line in text.splitlines() if test.name in line)
        assert ("PASS" if test.passed else "FAIL") in line
        assert f"{test.score:.2f}/{test.max_score:.2f}" in line
    assert "0.67/1.00" in text


def test_parts_have_headings_with_their_scores(report):
    lines = to_text(report).splitlines()
    assert "conv  3.17 / 5" in lines
    assert "max_pool  1 / 2" in lines
    assert "avg_pool  1 / 3" in lines


def test_total_line():
    tests = [TestResult(f"conv forward: {i}", "conv", "forward", 1.0, 1.0 if i < 35 else 0.0, "x") for i in range(40)]
    text = to_text(Report("s", 1, tests))
    assert text.rstrip().splitlines()[-1] == "Score: 35 / 40 (87.5%)"
    assert to_text(sample_report()).rstrip().endswith("Score: 5.17 / 10 (51.7%)")


def test_failures_show_feedback_indented_and_wrapped(report):
    lines = to_text(report).splitlines()
    at = next(i for i, line in enumerate(lines) if "conv forward: stride 2, pad 1" in line)
    feedback = []
    for line in lines[at + 1:]:
        if not line.startswith("        "):
            break
        feedback.append(line)
    assert len(feedback) >= 2  # the long feedback is wrapped
    assert all(len(line) <= 100 for line in feedback)
    assert "one side only" in " ".join(feedback)


def test_feedback_keeps_its_own_lines(report):
    text = to_text(report)
    assert "\n        line two of the feedback\n" in text


def test_passing_tests_hide_feedback_but_speed_tests_show_ratio(report):
    text = to_text(report)
    assert "correct (relative error 2.1e-09)" not in text
    assert "1.3x slower than the vectorized reference" in text
    assert "times: yours 12.3 ms, vectorized reference 9.5 ms, loop reference 556 ms" in text
    assert "2.0x slower than the vectorized reference" in text  # zero-point speed test, ratios only


def test_notes_are_listed(report):
    text = to_text(report)
    assert "Notes:" in text
    assert "  - the avg_pool part printed 3 lines to stdout: ignored" in text


def test_no_colour_unless_asked(report):
    assert not ANSI.search(to_text(report))
    coloured = to_text(report, color=True)
    assert "\x1b[32m" in coloured and "\x1b[31m" in coloured and "\x1b[1m" in coloured
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == to_text(report)


def test_student_control_characters_cannot_reach_the_terminal():
    test = TestResult("conv forward: a", "conv", "forward", 1.0, 0.0, "bad \x1b[2J\x1b]0;pwned\x07 output\rover")
    text = to_text(Report("s", 1, [test]))
    assert "\x1b" not in text and "\x07" not in text and "\r" not in text
    assert "\\x1b[2J" in text


def test_empty_report():
    text = to_text(Report("s", 7))
    assert "No tests were run." in text
    assert "Score: 0 / 0 (100.0%)" in text
