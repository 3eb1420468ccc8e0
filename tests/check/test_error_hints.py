"""What an error means on its case (``Hints.error``), read from the messages NumPy itself gives for
the bug: each error below is raised here by doing the buggy operation on the case's shapes, and the
hint must name that bug (and stay silent where the same message has another cause)."""

from __future__ import annotations

import numpy as np
import pytest

from grader.checks.hints import for_part
from grader.checks.layers import error_hint

from numpy_behaviour import raises_on_shapes_that_do_not_broadcast, refuses_arrays_as_numbers

POOL = for_part("max_pool").error
CONV = for_part("conv").error


# the errors NumPy 2.4 raises where earlier versions only warn (a one-value array put into an element, float of it)
REFUSES = pytest.mark.skipif(not refuses_arrays_as_numbers(),
                             reason="this NumPy accepts the code (1.25 to 2.3 warn): NumPy 2.4 refuses it")


def _raised(action) -> str:
    """The error text as the sandbox reports it: "Type: message"."""
    with pytest.raises(Exception) as caught:
        action()
    return f"{type(caught.value).__name__}: {caught.value}"


def _pool_args(shape, ph, pw, stride):
    return np.zeros(shape), {"pool_height": ph, "pool_width": pw, "stride": stride}


def test_an_output_index_past_the_last_window_is_the_loop_over_every_stride_step():
    x, p = _pool_args((2, 2, 7, 7), 3, 3, 2)  # H' = 3, but range(0, 7, 2) has 4 starts
    out = np.zeros((2, 2, 3, 3))

    def loops_over_steps():
        for i in range(0, 7, 2):
            out[:, :, i // 2, 0] = 1

    why = POOL((x, p), _raised(loops_over_steps))
    assert why.startswith("the loops run past the last window") and "4 starts" in why and "3 windows" in why


def test_a_window_cut_short_by_the_edge_is_said_with_both_causes():
    x, p = _pool_args((2, 2, 7, 7), 3, 3, 2)
    text = _raised(lambda: x[:, :, 6:9, 0:3].reshape(2, 2, 9))  # the window at row 6 has one row left
    why = POOL((x, p), text)
    assert why.startswith("either the loops run past the last window") and "i * pool_height" in why
    text = _raised(lambda: np.zeros((2, 2, 3, 1)).__setitem__((slice(None),) * 4, np.zeros((2, 2, 3, 0))))
    assert "could not broadcast input array" in text and POOL((x, p), text).startswith("either the loops run past")


def test_the_width_checked_with_the_window_height_is_named_only_where_it_refuses_a_fitting_case():
    x, p = _pool_args((2, 2, 6, 9), 2, 3, 2)  # (9 - 3) % 2 == 0 fits; (9 - 2) % 2 != 0 is what gets asserted
    why = POOL((x, p), "AssertionError (cs231n/im2col.py, line 9)")
    assert "uses the window's height for the width" in why and "field_width" in why
    x, p = _pool_args((2, 2, 6, 8), 2, 4, 2)  # both fit: an assertion here is about something else
    assert POOL((x, p), "AssertionError (cs231n/layers.py, line 9)") is None


def test_a_crop_by_one_whatever_the_padding_is_named_from_the_reshape_that_fails():
    x = np.zeros((1, 1, 5, 5))
    w = np.zeros((1, 1, 3, 3))
    args = (x, w, np.zeros(1), {"stride": 1, "pad": 0})
    dx_pad = np.zeros((1, 1, 5, 5))
    text = _raised(lambda: dx_pad[:, :, 1:-1, 1:-1].reshape(1, 1, 5, 5))
    assert "a hard-coded 1:-1" in CONV(args, text)
    # with pad = 1 that crop is right: a failing reshape there is something else
    assert CONV((x, w, np.zeros(1), {"stride": 1, "pad": 1}), text) is None


@REFUSES
def test_an_array_put_into_one_element_names_keepdims():
    out = np.zeros((1, 1, 2, 2))
    window = np.ones((2, 2))
    text = _raised(lambda: out.__setitem__((0, 0, 0, 0), np.max(window, keepdims=True)))
    assert "keepdims=True" in error_hint(text)


def test_a_window_whose_height_comes_from_the_kernel_width_is_named():
    x = np.zeros((1, 2, 7, 7))
    w = np.zeros((3, 2, 3, 5))  # HH = 3, WW = 5
    args = (x, w, np.zeros(3), {"stride": 1, "pad": 1})
    window = np.zeros((2, 5, 5))  # x_pad[n, :, i:i + WW, j:j + WW]
    why = CONV(args, _raised(lambda: window * w[0]))
    assert "the window's height uses WW" in why and "i * stride + HH" in why


def test_a_float_index_is_the_python2_division():
    x = np.zeros(5)
    assert "/ always gives a float" in error_hint(_raised(lambda: x[5 / 2]))


def test_a_pooling_output_too_small_is_never_put_down_to_padding():
    from grader.checks.compare import check_array

    expected = np.zeros((2, 3, 3, 3))
    assert "padding" in check_array(np.zeros((2, 3, 2, 2)), expected, "the output")
    assert "padding" not in check_array(np.zeros((2, 3, 2, 2)), expected, "the output", padded=False)


def test_an_output_allocated_square_is_named_from_the_index_past_its_width():
    x, p = _pool_args((2, 2, 5, 9), 3, 3, 2)  # H' = 2, W' = 4; out allocated (N, C, H', H')
    out = np.zeros((2, 2, 2, 2))
    why = POOL((x, p), _raised(lambda: out.__setitem__((0, 0, 0, 2), 1.0)))
    assert why.startswith("the output is allocated H' x H'") and "W' is computed from H" in why


@pytest.mark.skipif(not raises_on_shapes_that_do_not_broadcast(),
                    reason="this NumPy (1.24) answers False, with a warning, where later ones raise")
def test_maxima_that_lost_their_axes_are_named_from_the_broadcast():
    x, p = _pool_args((2, 3, 4, 4), 2, 2, 2)
    window = np.zeros((2, 3, 2, 2))
    text = _raised(lambda: window == window.max(axis=(2, 3)))
    assert "keepdims=True" in POOL((x, p), text)


def test_an_index_past_the_edge_of_x_is_the_position_inside_a_window():
    x, p = _pool_args((2, 2, 6, 8), 2, 4, 2)  # H' = 3, W' = 3: an index 8 into the width 8 is into x, not out
    dx = np.zeros((2, 2, 6, 8))
    k = 7  # the last element of a 2 x 4 window, split with pool_height: row 3, column 1

    def split_by_height():
        dx[0, 0, 4 + k // 2, 6 + k % 2] = 1.0

    why = POOL((x, p), _raised(split_by_height))
    assert why.startswith("an index computed inside a window") and "k // pool_width" in why


def test_xrange_from_the_future_package_is_named_like_python2_xrange():
    # `from past.builtins import xrange` (the `future` package) where it is not installed: the sandbox's
    # stand-in raises with this message when the code calls it
    text = ("ModuleNotFoundError: past.builtins.xrange is not installed in the grader's sandbox (your code imported "
            "it, and the graded functions use it) (cs231n/layers.py, line 534)")
    assert "use range" in error_hint(text)


def test_a_forward_failing_where_windows_leave_gaps_is_not_told_about_gradients():
    from grader.checks.layers import _splitting

    forward = _splitting("max_pool_forward gives wrong values", ("gaps",), 2, 14, "forward")
    backward = _splitting("dx is wrong", ("gaps",), 2, 14, "backward")
    assert "gradient" not in forward and "zeros" not in forward and "i * stride" in forward
    assert "start dx from zeros" in backward


def test_a_window_buffer_of_height_plus_width_elements_is_named():
    x, p = _pool_args((1, 2, 7, 7), 3, 3, 2)  # a 3x3 window has 9 elements, the buffer 3 + 3 = 6
    window = np.arange(9.0).reshape(3, 3)
    buffer = np.zeros(3 + 3)

    def index_by_flat_argmax():
        buffer[np.argmax(window)] = 1  # the maximum is element 8

    for text in (_raised(index_by_flat_argmax), _raised(lambda: buffer.reshape(3, 3)),
                 _raised(lambda: np.zeros((1, 2, 6)).reshape(1, 2, 3, 3))):
        why = POOL((x, p), text)
        assert why and why.startswith("an array of pool_height + pool_width = 6 elements"), text
    # 2x2 windows: 2 + 2 == 2 * 2, the same buffer is right there; and an index error at x's own height is
    # not put down to a buffer
    x2, p2 = _pool_args((1, 2, 7, 7), 2, 2, 2)
    assert not (POOL((x2, p2), _raised(lambda: np.zeros(4).reshape(3, 3))) or "").startswith("an array of")
    x6, _ = _pool_args((1, 2, 6, 6), 3, 3, 2)
    text = _raised(lambda: np.zeros((1, 2, 6, 6))[0, 0, 7, 0])
    assert not (POOL((x6, p), text) or "").startswith("an array of pool_height")


@REFUSES
def test_float_of_a_one_value_array_is_numpy2_in_a_conv_and_either_cause_elsewhere():
    b = np.zeros((1, 1, 1, 3))
    text = _raised(lambda: float(b[..., 0]))  # NumPy 2.4 refuses a (1, 1, 1) array with one value
    x, w = np.zeros((2, 3, 5, 5)), np.zeros((3, 3, 3, 3))
    why = CONV((x, w, np.zeros(3), {"stride": 1, "pad": 1}), text)
    assert "NumPy 2.4 and later refuse it even when the array holds one value" in why and "tie" not in why
    assert "earlier versions only warn, so it may run on your machine" in why
    generic = error_hint(text)  # pooling: a one-value array, or a tie's several maxima
    assert "even when it holds one value" in generic and "np.argmax(window)" in generic
    several = _raised(lambda: np.zeros(2).item())
    assert "several values" in error_hint(several)


def test_an_output_reshaped_square_is_named_on_a_non_square_output():
    x, p = _pool_args((2, 2, 5, 9), 3, 3, 2)  # H' x W' = 2 x 4
    maxima = np.zeros(2 * 2 * 2 * 4)
    why = POOL((x, p), _raised(lambda: maxima.reshape(2, 2, 2, 2)))  # o = H' for both sides
    assert why.startswith("the output's values are shaped 2 x 2 or 4 x 4 where the output is 2 x 4")
    conv_x, w = np.zeros((2, 3, 4, 6)), np.zeros((3, 3, 3, 3))  # pad 1, stride 1: 4 x 6
    values = np.zeros(2 * 3 * 4 * 6)
    why = CONV((conv_x, w, np.zeros(3), {"stride": 1, "pad": 1}), _raised(lambda: values.reshape(2, 3, 6, 6)))
    assert why.startswith("the output's values are shaped 4 x 4 or 6 x 6")
    # a square output: the same reshape error has another cause, and is not put down to squareness
    xs, ps = _pool_args((2, 2, 5, 5), 3, 3, 2)
    assert not (POOL((xs, ps), _raised(lambda: np.zeros(10).reshape(2, 2, 2, 2))) or "").startswith("the output's")
    # the same from a fancy-index assignment: "value array of shape ... could not be broadcast to indexing result"
    dilated = np.zeros((2, 2, 3, 3))
    rows = np.array([0, 2])
    text = _raised(lambda: dilated.__setitem__((slice(None), slice(None), rows[:, None], rows), np.zeros((2, 2, 2, 3))))
    assert "indexing result" in text
    assert POOL(_pool_args((2, 2, 5, 7), 3, 3, 2), text).startswith("the output's values are shaped 2 x 2 or 3 x 3")
