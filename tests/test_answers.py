"""Answer formats read what people type."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from grader.errors import InvalidResponse
from grader.problems.answers import Bytes, Choice, Integer, ListOf, Matrix, Number, Record, Shape


@pytest.mark.parametrize("text, value", [("55", 55), (" 55 ", 55), ("55.0", 55), ("1,040", 1040), ("196,609,000", 196609000),
                                         ("1_040", 1040), ("2.5e3", 2500), ("-3", -3), ("196 609 000", 196609000)])
def test_integers(text, value):
    assert Integer().parse(text) == value


@pytest.mark.parametrize("text", ["", "abc", "5.5", "1,04", "1e999", "nan", "--3", "true"])
def test_not_integers(text):
    with pytest.raises(InvalidResponse):
        Integer().parse(text)


@pytest.mark.parametrize("text", ["(96, 363)", "96x363", "96 x 363", "96×363", "[96, 363]", "96,363", "96 363", "96*363", "(96,363)"])
def test_shapes(text):
    assert Shape().parse(text) == (96, 363)


def test_one_dimensional_shape_shows_a_trailing_comma():
    assert Shape().show([7]) == "(7,)" and Shape().parse("(7,)") == (7,)


@pytest.mark.parametrize("text", ["[[0,1],[2,3]]", "0 1; 2 3", "0,1\n2,3", "[[0, 1], [2, 3]]", "((0, 1), (2, 3))", "[0 1] [2 3]"])
def test_matrices(text):
    assert Matrix().parse(text) == ((0, 1), (2, 3))


def test_matrix_cells_may_be_fractions_and_compare_with_tolerance():
    assert Matrix().same([[0.25, 0.5]], "1/4 1/2")
    assert not Matrix().same([[0.25, 0.5]], "0.25 0.6")
    assert not Matrix().same([[0.25, 0.5]], "0.25")  # wrong shape is wrong, not unreadable
    with pytest.raises(InvalidResponse, match="different lengths"):
        Matrix().parse("1 2; 3")


@pytest.mark.parametrize("text", ["602112", "602,112 B", "588 KiB", "0.574 MiB", "0.602 MB", "602 kB"])
def test_bytes_in_any_unit(text):
    assert Bytes().same(602112, text)


def test_bytes_tolerance_and_bad_units():
    assert not Bytes().same(602112, "0.5 MB")
    with pytest.raises(InvalidResponse, match="unknown unit"):
        Bytes().parse("12 parsecs")


def test_choices_by_key_letter_number_or_label():
    c = Choice((("a-key", "First option"), ("b-key", "Second option")))
    for text in ("b-key", "B", "b)", "(b)", "2", "second option", " Second   Option "):
        assert c.parse(text) == "b-key"
    with pytest.raises(InvalidResponse):
        c.parse("third")


def test_records_read_json_labels_or_order():
    r = Record((("params", Integer()), ("output_shape", Shape())))
    expected = {"params": 1040, "output_shape": (32, 56, 56)}
    assert r.parse('{"params": 1040, "output_shape": [32, 56, 56]}') == expected
    assert r.parse("params=1,040; output_shape=(32, 56, 56)") == expected
    assert r.parse("output shape: 32x56x56\nparams: 1040") == expected
    assert r.parse("1040; (32, 56, 56)") == expected
    with pytest.raises(InvalidResponse, match="expected 2 values"):
        r.parse("1040")


def test_lists():
    assert ListOf(Shape()).parse("(1, 2); 3x4") == [(1, 2), (3, 4)]


@settings(max_examples=100, deadline=None)
@given(st.integers(-10**12, 10**12))
def test_integer_show_parse_round_trip(n):
    assert Integer().parse(Integer().show(n)) == n


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.integers(-50, 50).map(lambda v: v / 4), min_size=3, max_size=3), min_size=1, max_size=4))
def test_matrix_show_parse_round_trip(rows):
    assert Matrix().same(rows, Matrix().show(rows))


@settings(max_examples=100, deadline=None)
@given(st.floats(-1e6, 1e6))
def test_number_round_trip(v):
    assert Number().same(v, Number().show(v))
