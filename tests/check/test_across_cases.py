"""Diagnoses that do not come from a planted variant: a symptom read across the cases (it shows on
exactly the cases with some feature), an output whose values are right but misplaced, and a max-pool
gradient read against what every valid subgradient satisfies.  Each is checked against an
independent computation (torch's max_pool2d and autograd), and a right answer never draws one."""

from __future__ import annotations

import numpy as np
import pytest

from grader.checks.cases import POOL_CASES, pool_inputs
from grader.checks.hints import FEATURES, for_part, max_pool_features
from grader.checks.layers import _split, misplaced
from grader.checks.ties import is_valid_max_pool_gradient

torch = pytest.importorskip("torch")


def _torch_pool(x: np.ndarray, p: dict, dout: np.ndarray | None = None):
    t = torch.tensor(x, requires_grad=True)
    out = torch.nn.functional.max_pool2d(t, (p["pool_height"], p["pool_width"]), p["stride"])
    if dout is None:
        return out.detach().numpy()
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), t.grad.numpy()


def test_split_finds_the_one_feature_that_tells_the_cases_apart():
    order = ["pad0", "stride_over_1", "square_out_not"]
    row = lambda pad0, stride, square: {"pad0": pad0, "stride_over_1": stride, "square_out_not": square}  # noqa: E731
    a, b, c, d, e = row(1, 0, 0), row(0, 1, 0), row(0, 0, 1), row(0, 0, 0), row(0, 1, 1)
    assert _split(order, [b], [a, c, d]) == ("stride_over_1",)
    assert _split(order, [b, e], [a, c, d]) == ("stride_over_1",)
    # two features that split the cases alike are both said
    assert _split(order, [e], [a, d]) == ("stride_over_1", "square_out_not")
    # nothing is said without a case on each side, or when no feature (nor pair) splits them
    assert _split(order, [a, b], []) is None and _split(order, [], [a, b]) is None
    assert _split(order, [a, b, c], [d]) is None
    assert _split(order, [b], [e]) is None
    # two bugs: no one feature, but a pair that covers every failing case and no passing one
    assert _split(order, [a, c], [b, d]) == ("pad0", "square_out_not", "or")
    assert all(key in FEATURES for key in order)


def test_every_feature_the_parts_name_has_words():
    for part in ("conv", "max_pool", "avg_pool"):
        hints = for_part(part)
        case = POOL_CASES[0] if part != "conv" else None
        args = (np.zeros((2, 3, 7, 5)), np.zeros((2, 3, 3, 3)), np.zeros(2), {"stride": 2, "pad": 2}) \
            if part == "conv" else pool_inputs(case, 1, part).args
        assert {key for key, _ in hints.features(case, args)} <= set(FEATURES)


@pytest.mark.parametrize("case", [c for c in POOL_CASES if c.out[0] != c.out[1] and not c.ties], ids=lambda c: c.name)
def test_misplaced_names_a_permuted_output_and_only_that(case):
    x, p = pool_inputs(case, 3, "max_pool").args
    right = _torch_pool(x, p)
    assert misplaced(right.copy(), right) is None
    # the maxima laid out with a row length of H' instead of W' (the counter-wraps bug), rest left 0
    H, W = right.shape[2:]
    wrong = np.zeros_like(right)
    flat = right.reshape(*right.shape[:2], -1)
    for k in range(H * W):
        r, c = divmod(k, H)
        if r < H and c < W:
            wrong[:, :, r, c] = flat[:, :, k]
    said = misplaced(wrong, right)
    assert said and "holds what belongs at out[" in said
    # a value that is no window's maximum is not a placement bug
    wrong[0, 0, 0, 0] = right.max() + 1.0
    assert misplaced(wrong, right) is None


@pytest.mark.parametrize("case", [c for c in POOL_CASES if c.ties], ids=lambda c: c.name)
@pytest.mark.parametrize("route", ["first", "last", "split"])
def test_valid_subgradients_draw_no_values_hint(case, route):
    x, p = pool_inputs(case, 7, "max_pool").args
    out = _torch_pool(x, p)
    dout = np.random.default_rng(2).standard_normal(out.shape)
    ph, pw, S = p["pool_height"], p["pool_width"], p["stride"]
    dx = np.zeros_like(x)
    for n, c, i, j in np.ndindex(*out.shape):
        window = x[n, c, i * S:i * S + ph, j * S:j * S + pw]
        at = np.argwhere(window == window.max())
        chosen = {"first": at[:1], "last": at[-1:], "split": at}[route]
        for r, s in chosen:
            dx[n, c, i * S + r, j * S + s] += dout[n, c, i, j] / len(chosen)
    assert is_valid_max_pool_gradient(x, p, dout, dx, 1e-9)  # torch's rule, checked independently
    assert for_part("max_pool").values("dx", dx, (x, p), dout) is None


def test_gradient_at_a_non_maximum_is_named():
    # the row and column of the maximum from two separate argmaxes, as real solutions do: wrong at some
    # ties (torch's rule says so), and then named; right elsewhere, and then nothing is said
    verdicts = set()
    for case in [c for c in POOL_CASES if c.ties]:
        for seed in range(6):
            x, p = pool_inputs(case, seed, "max_pool").args
            out = _torch_pool(x, p)
            dx = np.zeros_like(x)
            S, ph, pw = p["stride"], p["pool_height"], p["pool_width"]
            for n, c, i, j in np.ndindex(*out.shape):
                window = x[n, c, i * S:i * S + ph, j * S:j * S + pw]
                dx[n, c, i * S + window.max(axis=1).argmax(), j * S + window.max(axis=0).argmax()] += 1.0
            valid = is_valid_max_pool_gradient(x, p, np.ones(out.shape), dx, 1e-9)
            said = for_part("max_pool").values("dx", dx, (x, p), np.ones(out.shape))
            assert (said is None) if valid else ("not the maximum of any window" in said), (case.name, seed)
            verdicts.add(valid)
    assert verdicts == {True, False}


def test_gradient_outside_every_window_is_named_for_both_pools():
    case = next(c for c in POOL_CASES if c.stride > c.pool_height)
    x, p = pool_inputs(case, 5, "max_pool").args
    out, right = _torch_pool(x, p, np.ones(_torch_pool(x, p).shape))
    dout = np.ones(out.shape)
    ones = right + (right == 0) * 1.0 * (np.abs(x) >= 0)  # every element torch gives no gradient keeps 1
    for part in ("max_pool", "avg_pool"):
        said = for_part(part).values("dx", ones, (x, p), dout)
        assert said and "no pooling window covers" in said, part
    assert {k for k, v in max_pool_features(case, (x, p)) if v} >= {"gaps", "stride_ne_window"}


def test_size_hints_read_the_shapes_torch_gives():
    from grader.checks.hints import output_size_hint, unpadding_hint

    # the cache's x (unpadded) taken as padded: dx comes out 2 * pad smaller than x
    x = torch.zeros((2, 3, 5, 5), dtype=torch.float64)
    said = unpadding_hint(np.zeros((2, 3, 3, 3)), tuple(x.shape), 1)
    assert said and "2 * pad smaller" in said
    # a 6x6 input, 3x5 kernel, pad 1: a width from HH gives 6x6; torch says the right output is 6x4
    w = torch.zeros((2, 3, 3, 5), dtype=torch.float64)
    right = tuple(torch.nn.functional.conv2d(torch.zeros((2, 3, 6, 6), dtype=torch.float64), w, padding=1).shape)
    args = (np.zeros((2, 3, 6, 6)), np.zeros((2, 3, 3, 5)), np.zeros(2), {"stride": 1, "pad": 1})
    assert right[2:] == (6, 4) and "kernel's height" in output_size_hint("conv", args, np.zeros(right[:2] + (6, 6)),
                                                                         right)


def test_a_hard_coded_three_channels_is_read_from_the_broadcast_error():
    hints = for_part("conv")
    x, w = np.zeros((3, 4, 6, 6)), np.zeros((5, 4, 3, 3))
    args = (x, w, np.zeros(5), {"stride": 1, "pad": 0})
    try:  # what numpy says for a 3-channel window against a 4-channel filter
        np.zeros((3, 3, 3)) * np.zeros((4, 3, 3))
    except ValueError as exc:
        text = f"ValueError: {exc}"
    assert "C = 4" in hints.error(args, text)
    # with 3 channels there is nothing to say about it
    assert hints.error((np.zeros((3, 3, 6, 6)), np.zeros((5, 3, 3, 3)), np.zeros(5), {"stride": 1, "pad": 0}),
                       text) is None


def test_a_backward_s_own_error_on_the_documented_cache_is_reported():
    from grader.checks.layers import _CACHE_MISMATCH, error_hint

    # errors that say the backward wanted a cache of its own making: the test is then "not run"
    for text in ("ValueError: not enough values to unpack (expected 5, got 4)",
                 "IndexError: tuple index out of range", "AttributeError: 'tuple' object has no attribute 'x_pad'",
                 "TypeError: tuple indices must be integers or slices, not str", "KeyError: 'x_pad'"):
        assert _CACHE_MISMATCH.search(text), text
    # the backward's own bugs are reported with their hints, not hidden as "not run"
    for text in ("AttributeError: module 'numpy.lib' has no attribute 'pad'",
                 "AttributeError: 'numpy.ndarray' object has no attribute 'itemset'",
                 "ValueError: could not broadcast input array from shape (1,5,5) into shape (1,0,0)"):
        assert not _CACHE_MISMATCH.search(text), text
    try:
        np.zeros(3).itemset(0, 1.0)
    except AttributeError as exc:  # this NumPy's own words
        assert "gone from NumPy 2" in error_hint(f"AttributeError: {exc}")
    # NumPy 2.0 to 2.3's words for the same thing (2.4 says no such attribute)
    assert "gone from NumPy 2" in error_hint("AttributeError: `itemset` was removed from the ndarray class in NumPy "
                                             "2.0. Use `arr[index] = value` instead.")


def test_a_backward_that_uses_a_name_gone_from_numpy_2_has_its_own_bug():
    from grader.checks.layers import _CACHE_MISMATCH, _CODE_BUG

    # what NumPy 2.0 and later say of a removed name, and NumPy 2.0 to 2.3 of ndarray.itemset: no cache can cause
    # them, so the backward's failure is its own, scored and named, never "not run" waiting for a cache
    for text in ("AttributeError: `np.NaN` was removed in the NumPy 2.0 release. Use `np.nan` instead.",
                 "AttributeError: `np.float_` was removed in the NumPy 2.0 release. Use `np.float64` instead.",
                 "AttributeError: `itemset` was removed from the ndarray class in NumPy 2.0. Use `arr[index] = value` "
                 "instead.",
                 "AttributeError: module 'numpy' has no attribute 'product'",
                 "AttributeError: 'numpy.ndarray' object has no attribute 'itemset'"):
        assert _CODE_BUG.search(text) and not _CACHE_MISMATCH.search(text), text
    for text in ("ValueError: not enough values to unpack (expected 5, got 4)", "KeyError: 'x_pad'",
                 "AttributeError: 'tuple' object has no attribute 'x_pad'"):
        assert not _CODE_BUG.search(text), text


def test_misplaced_says_nothing_about_non_finite_or_empty_outputs():
    right = np.arange(24, dtype=np.float64).reshape(1, 2, 3, 4) + 1.0
    wrong = right[:, :, ::-1, :].copy()
    assert misplaced(wrong, right)  # rows in reverse order: every value is there, misplaced
    wrong[0, 0, 0, 0] = np.nan
    assert misplaced(wrong, right) is None
    wrong[0, 0, 0, 0] = np.inf
    assert misplaced(wrong, right) is None
    assert misplaced(np.zeros((1, 1, 0, 0)), np.zeros((1, 1, 0, 0))) is None


def test_a_number_taken_from_several_maxima_is_explained():
    from grader.checks.layers import error_hint

    window = np.array([[2.0, 0.0], [2.0, 1.0]])  # a tie: two maxima
    rows, _ = np.where(window == window.max())
    try:
        rows.item()
    except ValueError as exc:  # numpy's own words
        assert "np.argmax(window)" in error_hint(f"ValueError: {exc}")


def test_an_output_the_size_of_one_window_is_named():
    from grader.checks.hints import output_size_hint

    x = np.zeros((2, 2, 6, 8))
    p = {"pool_height": 2, "pool_width": 4, "stride": 2}
    right = tuple(torch.nn.functional.max_pool2d(torch.tensor(x), (2, 4), 2).shape)  # (2, 2, 3, 3)
    said = output_size_hint("max_pool", (x, p), np.zeros((2, 2, 2, 4)), right)
    assert said and "the size of one window" in said


def test_a_backward_failing_where_its_forward_fails_is_told_the_bug_may_be_shared():
    # pool_square_output_only takes the output's width to be its height in both passes: each is wrong on
    # exactly the non-square outputs (torch says both are wrong there: tests/check/test_fixtures_against_torch)
    from pathlib import Path

    from grader.grading import grade_submission

    here = Path(__file__).resolve().parent
    report = grade_submission(here.parent / "submissions" / "pool_square_output_only", parts="max_pool", seed=11,
                              device="cpu", config_path=here / "fast.toml")
    backward = [t for t in report.tests if t.kind == "backward"]
    assert any(t.passed for t in backward) and any(not t.passed for t in backward)
    assert all("fails on exactly the cases" in t.feedback for t in backward if not t.passed)
    # a backward wrong where its forward is right is not told so (conv_unpad_starts_at_one: the forward is right)
    report = grade_submission(here.parent / "submissions" / "conv_unpad_starts_at_one", parts="conv", seed=11,
                              device="cpu", config_path=here / "fast.toml")
    assert any(not t.passed for t in report.tests if t.kind == "backward")
    assert not any("fails on exactly the cases" in t.feedback for t in report.tests)
