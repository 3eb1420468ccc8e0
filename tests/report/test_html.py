"""The HTML report: one self-contained, escaped page."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pytest

from grader.report import to_html
from grader.results import Report, TestResult

from report_samples import XSS, heatmap_details

VOID = {"meta", "link", "br", "hr", "img", "input", "col", "area", "base", "source", "wbr"}


class Checker(HTMLParser):
    """Parses a page, checking that every element is closed in order; collects text and tags."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def check(page: str) -> Checker:
    checker = Checker()
    checker.feed(page)
    checker.close()
    assert not checker.errors, checker.errors[:5]
    assert not checker.stack, f"unclosed: {checker.stack}"
    return checker


@pytest.fixture
def page(report) -> str:
    return to_html(report)


def test_page_is_well_formed(page):
    checker = check(page)
    assert page.startswith("<!DOCTYPE html>")
    assert [t for t, _ in checker.tags].count("html") == 1


def test_title_names_the_submission(page):
    assert re.search(r"<title>[^<]*examples/buggy_submission[^<]*</title>", page)


def test_every_test_name_and_the_score_appear(page, report):
    text = " ".join(check(page).text)
    for test in report.tests:
        assert test.name in text
    assert "5.17" in text and "/ 10" in text and "51.7%" in text
    assert "0.67/1.00" in text


def test_contents_list_parts_with_scores(page):
    checker = check(page)
    anchors = [a.get("href") for t, a in checker.tags if t == "a"]
    for part in ("conv", "max_pool", "avg_pool"):
        assert f"#part-{part}" in anchors
        assert any(t == "section" and a.get("id") == f"part-{part}" for t, a in checker.tags)
    assert "3.17 / 5" in " ".join(checker.text)


def test_cards_have_badges_and_tags(page, report):
    checker = check(page)
    cards = [a for t, a in checker.tags if t == "article"]
    assert len(cards) == len(report.tests)
    assert sum("fail" in a["class"].split() for a in cards) == sum(not t.passed for t in report.tests)
    text = check(page).text
    assert text.count("PASS") >= sum(t.passed for t in report.tests)
    assert "numeric-gradient" in text and "integrity" in text


def test_nothing_is_fetched(page):
    lowered = page.lower()
    assert "http://" not in lowered and "https://" not in lowered
    assert "<script" not in lowered
    assert "<link" not in lowered and "<img" not in lowered and "@import" not in lowered and "url(" not in lowered


def test_student_feedback_is_escaped(page):
    assert XSS not in page
    assert html.escape(XSS, quote=False) in page or "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert " ".join(check(page).text).count(XSS) >= 2  # the feedback and the note, as text


def test_student_test_names_are_escaped_everywhere():
    evil = 'conv forward: "><script>alert(1)</script>'
    test = TestResult(evil, "conv", "forward", 1.0, 0.0, "x", {"heatmap": heatmap_details(2, 2)})
    page = to_html(Report(f"sub{XSS}", 1, [test], notes=[XSS], protections={XSS: [XSS], "k": {XSS: XSS}}))
    assert "<script" not in page.lower()
    check(page)


def test_failing_tests_with_heatmap_get_one_rect_per_cell(page):
    checker = check(page)
    cells = [a for t, a in checker.tags if t == "rect" and a.get("class") == "cell"]
    assert len(cells) == 6 * 5 + 4 * 4  # the two failing tests with heat maps
    assert all(re.fullmatch(r"rgb\(\d+,\d+,\d+\)", a["fill"]) for a in cells)
    first = cells[: 6 * 5]  # the 6 x 5 map: a grid of square cells, row by row, white (0) to red (1)
    size = int(first[0]["width"])
    assert all(a["width"] == a["height"] == str(size) for a in first)
    assert [(int(a["x"]), int(a["y"])) for a in first] == [(c * size, r * size) for r in range(6) for c in range(5)]
    assert (first[0]["fill"], first[-1]["fill"]) == ("rgb(255,255,255)", "rgb(200,0,0)")
    assert "where your output differs from the reference" in page
    assert "max |difference| = 0.418" in page


def test_passing_tests_draw_no_heatmap():
    test = TestResult("conv forward: a", "conv", "forward", 1.0, 1.0, "ok", {"heatmap": heatmap_details(2, 2)})
    assert 'class="cell"' not in to_html(Report("s", 1, [test]))


def test_speed_tests_get_a_bar_chart(page):
    checker = check(page)
    speed = page[page.index('<figure class="speed">'):]
    speed = speed[: speed.index("</figure>")]
    assert speed.count("<rect") == 3  # yours, vectorized, loops
    for label in ("your code", "vectorized reference", "loop reference", "12.3 ms", "9.5 ms", "556 ms"):
        assert label in speed
    assert page.count('<figure class="speed">') == 2  # the zero-point test with ratios only too
    assert "(not scored)" in " ".join(checker.text)


def test_empty_report_renders():
    page = to_html(Report("s", 1))
    check(page)
    assert "No tests were run." in page
