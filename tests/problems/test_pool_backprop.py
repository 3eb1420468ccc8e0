"""pool-backprop against torch autograd and hand-worked gradients (ties included)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from grader.errors import ParamError
from grader.problems import get
from grader.seeding import rng

P = get("pool-backprop")


def torch_grad(x, kind, k, s, upstream):
    """dL/dx by autograd, L = sum(upstream * pool(x))."""
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    pool = F.max_pool2d if kind == "max" else F.avg_pool2d
    y = pool(xt[None, None], kernel_size=k, stride=s)[0, 0]
    y.backward(torch.tensor(upstream, dtype=torch.float64))
    return xt.grad.numpy()


def has_ties(x, k, s):
    x = np.asarray(x)
    oh, ow = (x.shape[0] - k) // s + 1, (x.shape[1] - k) // s + 1
    return any(
        np.sum(x[i * s:i * s + k, j * s:j * s + k] == x[i * s:i * s + k, j * s:j * s + k].max()) > 1
        for i in range(oh) for j in range(ow)
    )


def solve(**raw):
    return np.array(P.solve(P.validate(raw)), dtype=float)


# Hand-worked cases.
TIES = {"input": [[4, 4, 1], [4, 2, 4], [0, 4, 4]], "kind": "max", "kernel_size": 2, "stride": 1,
        "upstream": [[1, 2], [3, 4]]}
SHARED_MAX = {"input": [[1, 2, 1], [3, 9, 3], [1, 2, 1]], "kind": "max", "kernel_size": 2, "stride": 1,
              "upstream": [[1, 2], [3, 5]]}
AVG_TILED = {"input": [[1, 2, 3, 4]] * 4, "kind": "avg", "kernel_size": 2, "upstream": [[4, 8], [12, 16]]}
AVG_OVERLAP = {"input": [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]], "kind": "avg",
               "kernel_size": 3, "stride": 1, "upstream": [[9, 18], [27, 36]]}


def test_hand_worked_max_with_ties():
    # Windows (row-major): [4,4,4,2] -> first 4 at (0,0); [4,1,2,4] -> (0,1);
    # [4,2,0,4] -> (1,0); [2,4,4,4] -> (1,2).
    assert solve(**TIES).tolist() == [[1, 2, 0], [3, 0, 4], [0, 0, 0]]


def test_hand_worked_all_equal():
    assert solve(input=[[7, 7], [7, 7]], kernel_size=2, upstream=[[5]]).tolist() == [[5, 0], [0, 0]]


def test_hand_worked_overlapping_windows_accumulate():
    # 9 is the maximum of all four windows: it collects 1+2+3+5.
    assert solve(**SHARED_MAX).tolist() == [[0, 0, 0], [0, 11, 0], [0, 0, 0]]


def test_hand_worked_average():
    assert solve(**AVG_TILED).tolist() == [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]
    # Shares 1, 2, 3, 4 from the four overlapping 3x3 windows, summed.
    assert solve(**AVG_OVERLAP).tolist() == [[1, 3, 3, 2], [4, 10, 10, 6], [4, 10, 10, 6], [3, 7, 7, 4]]


def test_cs231n_style_example():
    # A 4x4 input, 2x2 max pooling, stride 2: each window's maximum takes the gradient.
    x = [[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]]
    assert solve(input=x, kernel_size=2, upstream=[[1, 2], [3, 4]]).tolist() == [
        [0, 0, 0, 0], [0, 1, 0, 2], [3, 0, 0, 0], [0, 0, 0, 4]]


@st.composite
def pools(draw, kind):
    k = draw(st.integers(1, 4))
    s = draw(st.integers(1, 4))
    h, w = draw(st.integers(k, 7)), draw(st.integers(k, 7))
    if kind == "max":  # distinct values: no ties
        values = draw(st.permutations(range(h * w)))
        x = np.array(values).reshape(h, w).tolist()
    else:
        x = draw(st.lists(st.lists(st.integers(-9, 9), min_size=w, max_size=w), min_size=h, max_size=h))
    oh, ow = (h - k) // s + 1, (w - k) // s + 1
    up = draw(st.lists(st.lists(st.integers(-9, 9), min_size=ow, max_size=ow), min_size=oh, max_size=oh))
    return x, k, s, up


@settings(max_examples=30, deadline=None)
@given(pools("max"))
def test_max_matches_torch_autograd(case):
    x, k, s, up = case
    assert np.allclose(solve(input=x, kind="max", kernel_size=k, stride=s, upstream=up),
                       torch_grad(x, "max", k, s, up))


@settings(max_examples=30, deadline=None)
@given(pools("avg"))
def test_avg_matches_torch_autograd(case):
    x, k, s, up = case
    assert np.allclose(solve(input=x, kind="avg", kernel_size=k, stride=s, upstream=up),
                       torch_grad(x, "avg", k, s, up))


@pytest.mark.parametrize(
    "case, response, key",
    [
        (TIES, "1 3 2; 4 10 6; 3 7 4", "max-to-window"),
        (TIES, "1 3 0; 4 0 6; 0 7 4", "max-to-ties"),
        (TIES, "0 0 0; 1 0 2; 0 3 4", "last-tie"),
        (TIES, "0 0 2; 0 5 0; 3 0 0", "argmin"),
        (TIES, "0.25 0.75 0.5; 1 2.5 1.5; 0.75 1.75 1", "max-as-avg"),
        (TIES, "1 1 0; 1 0 1; 0 0 0", "mask-only"),
        (SHARED_MAX, "0 0 0; 0 5 0; 0 0 0", "overwrite"),
        (AVG_TILED, "4 4 8 8; 4 4 8 8; 12 12 16 16; 12 12 16 16", "avg-no-divide"),
        (AVG_TILED, "2 2 4 4; 2 2 4 4; 6 6 8 8; 6 6 8 8", "divide-by-k"),
        (AVG_OVERLAP, "2.25 6.75 6.75 4.5; 9 22.5 22.5 13.5; 9 22.5 22.5 13.5; 6.75 15.75 15.75 9",
         "divide-by-windows"),
        (AVG_OVERLAP, "1 2 2 2; 3 4 4 4; 3 4 4 4; 3 4 4 4", "overwrite"),
        (AVG_OVERLAP, "1/9 2/9 2/9 1/9; 2/9 4/9 4/9 2/9; 2/9 4/9 4/9 2/9; 1/9 2/9 2/9 1/9", "mask-only"),
        (AVG_OVERLAP, "0 0 0 0; 0 0 0 0; 0 0 9 18; 0 0 27 36", "avg-as-max"),
    ],
)
def test_each_mistake_is_named(case, response, key):
    grade = P.grade(P.validate(case), response)
    assert grade.status in ("wrong", "partial")
    assert grade.mistakes == (key,)
    # each cell is an equal share of the question (as each blank of a Moodle cloze is):
    # the score is the fraction of cells that agree with the hand-worked / autograd answer
    typed = np.array([[float(Fraction(v)) for v in row.split()] for row in response.split(";")])
    right = torch_grad(case["input"], case["kind"], case["kernel_size"], case.get("stride", case["kernel_size"]),
                       case["upstream"]) if case is not TIES else solve(**TIES)
    assert grade.score == pytest.approx(np.isclose(typed, right, atol=0.005).mean())
    assert grade.score < 1


def test_an_all_zero_matrix_earns_its_zero_cells_and_names_no_mistake():
    # 0 is the right value of most cells of a max-pooling gradient: those cells are
    # right, and the zeros match many mistakes' matrices cell by cell, none of them whole
    grade = P.grade(P.validate(TIES), "0 0 0; 0 0 0; 0 0 0")
    assert grade.score == pytest.approx(5 / 9)  # [[1,2,0],[3,0,4],[0,0,0]] has five zeros
    assert grade.mistakes == () and "4 of 9 cells wrong" in grade.feedback


@pytest.mark.parametrize(
    "text",
    ["[[1,2,0],[3,0,4],[0,0,0]]", "1 2 0; 3 0 4; 0 0 0", "1, 2, 0\n3, 0, 4\n0, 0, 0", "[1 2 0] [3 0 4] [0 0 0]"],
)
def test_tolerant_parsing(text):
    assert P.grade(P.validate(TIES), text).correct


def test_fractions_and_rounded_decimals_are_accepted():
    case = {**AVG_OVERLAP, "upstream": [[1, 2], [3, 4]]}
    exact = "1/9 3/9 3/9 2/9; 4/9 10/9 10/9 6/9; 4/9 10/9 10/9 6/9; 3/9 7/9 7/9 4/9"
    rounded = "0.11 0.33 0.33 0.22; 0.44 1.11 1.11 0.67; 0.44 1.11 1.11 0.67; 0.33 0.78 0.78 0.44"
    assert P.grade(P.validate(case), exact).correct
    assert P.grade(P.validate(case), rounded).correct
    assert not P.grade(P.validate(case), rounded.replace("0.11", "0.1", 1)).correct


def test_wrong_shape_response_is_wrong_not_an_error():
    # a 2x2 typed for a 3x3 answer: no cell is where the right one is, and the feedback says why
    grade = P.grade(P.validate(TIES), "1 2; 3 4")
    assert (grade.status, grade.score) == ("wrong", 0.0)
    assert "the answer is 2×2, the matrix is 3×3" in grade.feedback


def test_matrix_params_as_text_and_default_stride():
    params = P.validate({"input": "1 3; 2 4", "kernel_size": "2", "upstream": "5"})
    assert params == {"input": [[1, 3], [2, 4]], "kind": "max", "kernel_size": 2, "stride": 2, "upstream": [[5]]}
    assert P.solve(params) == [[0, 0], [0, 5]]


@pytest.mark.parametrize(
    "raw, name",
    [
        ({**TIES, "upstream": [[1, 2, 3], [4, 5, 6]]}, "upstream"),
        ({**TIES, "kernel_size": 4}, "kernel_size"),
        ({**TIES, "kind": "min"}, "kind"),
        ({**TIES, "input": "1 2; 3"}, "input"),
        ({**TIES, "input": "one two"}, "input"),
        ({**TIES, "stride": 0}, "stride"),
        ({k: v for k, v in TIES.items() if k != "upstream"}, "upstream"),
    ],
)
def test_bad_params(raw, name):
    with pytest.raises(ParamError, match=name):
        P.validate(raw)


def test_samples_validate_solve_and_match_torch():
    kinds, ties = set(), 0
    for seed in range(100):
        params = P.sample(rng("pool-backprop", seed))
        assert P.validate(params) == params
        answer = P.solve(params)
        x = params["input"]
        assert np.shape(answer) == np.shape(x)
        assert P.grade(params, P.answer_format.show(answer)).correct
        kinds.add(params["kind"])
        k, s = params["kernel_size"], params["stride"]
        if params["kind"] == "max" and has_ties(x, k, s):
            ties += 1
        else:
            assert np.allclose(answer, torch_grad(x, params["kind"], k, s, params["upstream"]))
        text = P.statement(params).text
        assert "dL/dy" in text
    assert kinds == {"max", "avg"} and ties > 0
