"""What people type for a number or a shape (issue 14): the spellings spreadsheets,
keyboards and habits produce are read as the number meant; what is not one number
stays unreadable."""

from __future__ import annotations

import pytest

from grader.errors import InvalidResponse
from grader.problems.answers import Bytes, Integer, Matrix, Number, Shape, clean, parse_number


@pytest.mark.parametrize("typed", [
    "37", "37x37", "(37,37)", "37 × 37", "37 X 37", "[37, 37]", "37 px", "37px", "37 pixels", "'37", "\u200b37",
    "37\u200b", "\ufeff37", "\u206037", "３７", "３７ｘ３７", "37.0", "37,0", "+37", "(37, 37) px",
])
def test_a_side_of_37(typed):
    assert Integer().parse(typed) == 37


@pytest.mark.parametrize("typed", ["37x36", "(37, 38)", "37 parsecs", "3 7 x", "'", "x37", "37/2"])
def test_not_one_whole_number(typed):
    with pytest.raises(InvalidResponse):
        Integer().parse(typed)


@pytest.mark.parametrize("typed, value", [
    ("0,5", 0.5), ("0,125", 0.125), ("-0,25", -0.25), ("12,5", 12.5), ("2,25", 2.25), ("1,2345", 1.2345),
    ("1,250", 1250), ("196,609,000", 196609000), ("196\u202f609\u2009000", 196609000), ("1/4", 0.25), ("-1/4", -0.25),
    ("1 / 4", 0.25), ("\u00bd", 0.5), ("1\u20444", 0.25), ("\u22123", -3), ("\u20133", -3), ("'0.25", 0.25),
    ("２.５", 2.5), ("2.5e3", 2500),
])
def test_numbers(typed, value):
    assert parse_number(typed) == pytest.approx(value)


def test_a_decimal_comma_that_could_be_grouping_is_grouping():
    # "1,250" is 1250 as the course writes parameter counts; "0,250" can only be a quarter
    assert Integer().parse("1,250") == 1250 and Number().parse("0,250") == 0.25


@pytest.mark.parametrize("typed", ["363x3025", "(363, 3025)", "'(363, 3025)", "363 × 3025", "３６３ｘ３０２５",
                                   "[363,3025]", "363*3025", "\u200b363x3025", "363 x 3025 px"])
def test_shapes(typed):
    assert Shape().parse(typed) == (363, 3025)


def test_matrix_cells_and_bytes_read_the_same_spellings():
    assert Matrix().parse("'0.25 1/4; ０.５ \u22121") == ((0.25, 0.25), (0.5, -1.0))
    assert Bytes().same(602112, "'602,112") and Bytes().same(602112, "６０２１１２ B")


def test_clean_keeps_what_it_should():
    assert clean("  it's 3  ") == "it's 3"  # an apostrophe inside text is not Excel's
    assert clean("'37") == "37" and clean("''37") == "''37"
