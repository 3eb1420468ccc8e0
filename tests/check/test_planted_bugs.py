"""Every planted bug loses points exactly in the part and kind of test where
it lives, and the feedback names it; every other part stays whole.

The fixtures are in tests/submissions/, one bug each (native layout)."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.grading import grade_submission

from numpy_behaviour import refuses_arrays_as_numbers

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parent / "submissions"
CONFIG = HERE / "fast.toml"

CONV, POOLS = "conv", "max_pool,avg_pool"

# name: (parts graded, {(part, kind) that must lose points}, substring of that feedback, parts that stay whole)
CASES = {
    "conv_flipped": (CONV, {("conv", "forward")}, "flipped", ()),
    "conv_no_padding": (CONV, {("conv", "forward")}, "forgot the padding", ()),
    "conv_one_side_padding": (CONV, {("conv", "forward")}, "one side", ()),
    "conv_no_stride": (CONV, {("conv", "forward")}, "stride", ()),
    "conv_no_dilation": (CONV, {("conv", "forward")}, "dilation", ()),
    "conv_no_bias": (CONV, {("conv", "forward")}, "forgot the bias", ()),
    "conv_bias_twice": (CONV, {("conv", "forward")}, "bias twice", ()),
    "conv_db_wrong_axes": (CONV, {("conv", "backward")}, "db", ()),
    "conv_dw_last_sample": (CONV, {("conv", "backward")}, "dw holds only the last sample", ()),
    "conv_dx_not_flipped": (CONV, {("conv", "backward")}, "dx", ()),
    "conv_backward_wrong_but_forward_right": (CONV, {("conv", "backward"), ("conv", "numeric-gradient")},
                                              "the bug is in conv_backward", ()),
    "conv_forward_wrong_backward_consistent": (CONV, {("conv", "forward"), ("conv", "backward")}, "relative error", ()),
    "maxpool_whole_window": (POOLS, {("max_pool", "backward")}, "whole window", ("avg_pool",)),
    "maxpool_all_ties": (POOLS, {("max_pool", "backward")}, "tied", ("avg_pool",)),
    "maxpool_overlap_overwrite": (POOLS, {("max_pool", "backward")}, "overwrite", ("avg_pool",)),
    "avgpool_no_divide": (POOLS, {("avg_pool", "backward")}, "divide", ("max_pool",)),
    "crash_in_call": (POOLS, {("avg_pool", "forward")}, "ZeroDivisionError", ("max_pool",)),
    "missing_function": (POOLS, {("avg_pool", "backward")}, "avg_pool_backward", ("max_pool",)),
    "returns_list": (POOLS, {("max_pool", "forward")}, "list", ("avg_pool",)),
    "sys_exit": (POOLS, {("max_pool", "backward")}, "exit", ("avg_pool",)),
    "returns_none": (CONV, {("conv", "forward")}, "None", ()),
    "nan_output": (CONV, {("conv", "forward")}, "NaN", ()),
    "swapped_hw": (CONV, {("conv", "forward")}, "height and width swapped", ()),
    "wrong_dtype": (CONV, {("conv", "forward")}, "float64", ()),
    "uses_torch": (CONV, {("conv", "integrity")}, "torch", ()),
    "syntax_error": ("conv,max_pool,avg_pool", {("conv", "forward")}, "SyntaxError", ("max_pool", "avg_pool")),
    "infinite_loop": ("conv,max_pool,avg_pool", {("conv", "backward")}, "timed out", ("max_pool", "avg_pool")),
    # the bugs real solutions make most (issue 13): named for what they are, not "padding ignored?"
    "conv_unpad_negative_slice": (CONV, {("conv", "backward")}, "is empty when pad is 0", ()),
    "conv_unpad_hardcoded_one": (CONV, {("conv", "backward")}, "hard-coded 1:-1", ()),
    "conv_python2_division": (CONV, {("conv", "forward")}, "compute output sizes with //", ()),
    "pool_square_output_only": (POOLS, {("max_pool", "forward"), ("avg_pool", "forward")},
                                "right only on square outputs", ()),
    "pool_stride_is_window": (POOLS, {("max_pool", "forward"), ("avg_pool", "forward")},
                              "assumes the stride equals the window", ()),
    "conv_pad_hardcoded_one": (CONV, {("conv", "forward")}, "padding is taken as 1", ()),
    "conv_square_kernel_only": (CONV, {("conv", "forward")}, "the kernel's height is used for a width", ()),
    "pool_stride_windows": (POOLS, {("max_pool", "forward"), ("avg_pool", "forward")},
                            "the windows are stride x stride", ()),
    "pool_reshape_blocks": (POOLS, {("max_pool", "forward")}, "only works when the stride equals the window",
                            ("avg_pool",)),
    "pool_square_windows": (POOLS, {("max_pool", "forward"), ("avg_pool", "forward")},
                            "the width is taken from pool_height", ()),
    "maxpool_argmax_row_by_height": (POOLS, {("max_pool", "backward")}, "is row k // pool_width", ("avg_pool",)),
    "pool_python2_xrange": (POOLS, {("max_pool", "forward")}, "xrange is Python 2's range", ("avg_pool",)),
    "conv_dx_no_stride": (CONV, {("conv", "backward")}, "dx ignores the stride", ()),
    "conv_backward_unfinished": (CONV, {("conv", "backward")},
                                 "is all zeros: nothing reaches it (is a loop body still `pass`", ()),
    "conv_im2col_rows_by_height": (CONV, {("conv", "forward")}, "is stored in row i * H' + j", ()),
    "conv_dw_no_stride": (CONV, {("conv", "backward")}, "dw ignores the stride", ()),
    "conv_dx_overwrite": (CONV, {("conv", "backward")}, "overwrite each other's share of dx", ()),
    "pool_window_start_unscaled": (POOLS, {("max_pool", "forward")}, "ignored the stride", ("avg_pool",)),
    "maxpool_backward_square_windows": (POOLS, {("max_pool", "backward")}, "the windows are pool_height x pool_height",
                                        ("avg_pool",)),
    "pool_dx_from_ones": (POOLS, {("max_pool", "backward"), ("avg_pool", "backward")}, "dx starts from ones", ()),
    "maxpool_backward_slice_height_wide": (POOLS, {("max_pool", "backward")}, "the width is taken from pool_height",
                                           ("avg_pool",)),
    # read from what any right answer satisfies, or from the cases a symptom shows on (study 3's unnamed parts)
    "conv_dw_columns_no_stride": (CONV, {("conv", "backward")}, "dw is wrong on every case with stride > 1", ()),
    "conv_dw_square_output": (CONV, {("conv", "backward")}, "on every case whose output is not square", ()),
    "pool_forward_counter_wraps": (POOLS, {("max_pool", "forward")}, "holds what belongs at out[", ("avg_pool",)),
    "pool_forward_steps_by_stride": (POOLS, {("max_pool", "forward")}, "steps by the stride (line 44",
                                     ("avg_pool",)),
    "maxpool_backward_argmax_separately": (POOLS, {("max_pool", "backward")}, "not the maximum of any window",
                                           ("avg_pool",)),
    "maxpool_backward_ones_assign": (POOLS, {("max_pool", "backward")}, "dx starts from ones", ("avg_pool",)),
    "maxpool_backward_starts_by_window": (POOLS, {("max_pool", "backward")}, "on every case whose windows overlap",
                                          ("avg_pool",)),
    "conv_channels_hardcoded_three": (CONV, {("conv", "forward")}, "a hard-coded 3 (0:3, RGB) where C belongs", ()),
    "maxpool_backward_hardcoded_2x2": (POOLS, {("max_pool", "backward")}, "stride x stride", ("avg_pool",)),
    "maxpool_backward_writes_into_cache": (POOLS, {("max_pool", "backward")}, "changed its input cache in place",
                                           ("avg_pool",)),
    # study 6's unnamed parts
    "pool_loops_every_stride_step": (POOLS, {("max_pool", "forward"), ("max_pool", "backward")},
                                     "the loops run past the last window", ("avg_pool",)),
    "pool_im2col_width_by_height": (POOLS, {("max_pool", "forward"), ("max_pool", "backward")},
                                    "a check uses the window's height for the width", ("avg_pool",)),
    "pool_keepdims_into_element": (POOLS, {("max_pool", "forward")}, "drop keepdims=True", ("avg_pool",)),
    "conv_unpad_starts_at_one": (CONV, {("conv", "backward")}, "the crop starts at 1 whatever the padding", ()),
    # named from the source (its syntax tree, never run): the line that places or reads at the wrong index
    "pool_output_index_from_start": (POOLS, {("max_pool", "forward")},
                                     "row = (top - ph) // stride + 1 (line 45), computed from the window's start top",
                                     ("avg_pool",)),
    "pool_loops_over_window_size": (POOLS, {("max_pool", "forward")},
                                    "i runs over range(ph) (line 42), the window's size", ("avg_pool",)),
    "maxpool_backward_window_buffer_sum": (POOLS, {("max_pool", "backward")},
                                           "an array of pool_height + pool_width = 6 elements", ("avg_pool",)),
    "maxpool_backward_adds_forward_mask": (POOLS, {("max_pool", "backward")},
                                           "dx is added into (+=, line 78) as it must be", ("avg_pool",)),
    "conv_dx_last_image_only": (CONV, {("conv", "backward")}, "dx is zero for every image but the last", ()),
    "pool_windows_counted_as_tiles": (POOLS, {("max_pool", "forward")},
                                      "From the code: lines 42, 43: x.shape[2] // ph and x.shape[3] // pw count the "
                                      "windows as if they tiled the input", ("avg_pool",)),
}


# forward bugs in the values only: the student's backward is still right
VALUE_BUGS = ("conv_flipped", "conv_no_padding", "conv_one_side_padding", "conv_no_stride", "conv_no_dilation",
              "conv_no_bias", "conv_bias_twice")


def lost(report) -> dict[tuple[str, str], list[str]]:
    out: dict[tuple[str, str], list[str]] = {}
    for t in report.tests:
        if t.kind != "speed" and (t.score < t.max_score - 1e-9 or not t.passed):
            out.setdefault((t.part, t.kind), []).append(t.feedback)
    return out


# planted bugs that NumPy 2.4 refuses and earlier versions run (1.25 to 2.3 with a DeprecationWarning): an array
# with axes taken as a number
REFUSED_BY_NUMPY_2_4 = {"pool_keepdims_into_element"}
ACCEPTS_ARRAYS_AS_NUMBERS = not refuses_arrays_as_numbers()


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.skipif(
    ACCEPTS_ARRAYS_AS_NUMBERS and n in REFUSED_BY_NUMPY_2_4,
    reason=f"this NumPy runs {n}'s code (NumPy 2.4 refuses it): the bug it plants does not show"))
    for n in sorted(CASES)])
def test_planted_bug_is_found_where_it_lives(name):
    parts, where, phrase, whole = CASES[name]
    report = grade_submission(FIXTURES / name, parts=parts, seed=11, device="cpu", config_path=CONFIG)
    losses = lost(report)
    for key in where:
        assert key in losses, (name, key, losses)
    assert any(phrase.lower() in fb.lower() for key in where for fb in losses[key]), (name, phrase, losses)
    for part in whole:
        assert not any(p == part for p, _ in losses), (name, part, losses)
        score, max_score = report.part_score(part)
        assert score == pytest.approx(max_score) and max_score > 0
    # a forward bug never costs backward points on its own, and vice versa
    if name in VALUE_BUGS:
        assert ("conv", "backward") not in losses, losses
    if where <= {("conv", "backward"), ("max_pool", "backward"), ("avg_pool", "backward")}:
        assert not any(k == "forward" for _, k in losses), losses


def test_forbidden_library_zeroes_the_part():
    report = grade_submission(FIXTURES / "uses_torch", parts=CONV, seed=1, device="cpu", config_path=CONFIG)
    assert report.part_score("conv")[0] == 0
    integrity = [t for t in report.tests if t.kind == "integrity"]
    assert integrity and not integrity[0].passed and "conv.py, line" in integrity[0].feedback


def test_noise_on_stdout_changes_nothing():
    report = grade_submission(FIXTURES / "prints_noise", parts="conv,max_pool,avg_pool", seed=5, device="cpu",
                              config_path=CONFIG)
    assert report.score == pytest.approx(report.max_score)


def test_mutating_the_inputs_does_not_change_the_reference():
    report = grade_submission(FIXTURES / "mutates_input", parts=CONV, seed=5, device="cpu", config_path=CONFIG)
    forward = [t for t in report.tests if t.kind == "forward"]
    assert forward and all(t.passed for t in forward)


def test_an_unused_import_of_a_missing_package_costs_nothing():
    # import_error: a correct conv.py that imports a package that exists nowhere and never uses it.
    # Real solutions do this (IPython, matplotlib left at the top of the file): a stand-in lets the
    # file import, and it would raise, naming the package, only where the code used it.
    report = grade_submission(FIXTURES / "import_error", parts="conv,max_pool", seed=11, device="cpu",
                              config_path=CONFIG)
    assert report.percent == pytest.approx(100.0), [(t.name, t.feedback) for t in report.tests if not t.passed]
