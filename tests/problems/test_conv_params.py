"""conv-params against nn.Conv2d's parameter count, the course's numbers and its mistakes."""

import json

import pytest
from hypothesis import given, settings, strategies as st
from torch import nn

from grader.errors import ParamError
from grader.problems import get
from grader.seeding import rng

problem = get("conv-params")


def numel(module):
    return sum(p.numel() for p in module.parameters())


def torch_count(params):
    k = params["kernel_size"]
    kernel = tuple(k) if isinstance(k, list) else k
    conv = nn.Conv2d(params["in_channels"], params["out_channels"], kernel, groups=params["groups"],
                     bias=params["bias"], device="meta")
    return numel(conv)


def test_course_example_280():
    # a 3x3 conv from 3 to 10 channels with bias: 10·3·3·3 + 10
    params = problem.validate({"in_channels": 3, "out_channels": 10, "kernel_size": 3})
    assert problem.solve(params) == 280 == torch_count(params)


@pytest.mark.parametrize("C", [1, 8, 64])
def test_three_3x3_against_one_7x7(C):
    three = problem.validate({"in_channels": C, "out_channels": C, "kernel_size": 3, "bias": False})
    seven = problem.validate({"in_channels": C, "out_channels": C, "kernel_size": 7, "bias": "false"})
    assert 3 * problem.solve(three) == 27 * C * C
    assert problem.solve(seven) == 49 * C * C
    stack = nn.Sequential(*[nn.Conv2d(C, C, 3, bias=False) for _ in range(3)])
    assert numel(stack) == 3 * problem.solve(three)


def test_kernel_size_forms():
    assert problem.validate({"in_channels": 1, "out_channels": 1, "kernel_size": "3x5"})["kernel_size"] == [3, 5]
    assert problem.validate({"in_channels": 1, "out_channels": 1, "kernel_size": "(3, 3)"})["kernel_size"] == 3
    assert problem.validate({"in_channels": 1, "out_channels": 1, "kernel_size": [1, 7]})["kernel_size"] == [1, 7]


@settings(max_examples=50, deadline=None)
@given(
    groups=st.integers(1, 4),
    a=st.integers(1, 4),
    b=st.integers(1, 4),
    kh=st.integers(1, 5),
    kw=st.integers(1, 5),
    bias=st.booleans(),
)
def test_matches_torch(groups, a, b, kh, kw, bias):
    params = problem.validate(
        {"in_channels": groups * a, "out_channels": groups * b, "kernel_size": f"{kh}x{kw}", "bias": bias,
         "groups": groups}
    )
    assert problem.solve(params) == torch_count(params)


# One params set where every mistake gives a different number (the correct answer is 114).
BASE = {"in_channels": 4, "out_channels": 6, "kernel_size": 3, "groups": 2}
W = (4 // 2) * 3 * 3 * 6  # weights: 108
MISTAKES = {
    "no-bias": (BASE, W, "forgot the bias"),
    "no-input-channels": (BASE, 3 * 3 * 6 + 6, "forgot the input channels"),
    "ignored-groups": (BASE, 4 * 3 * 3 * 6 + 6, "groups"),
    "kernel-as-k": (BASE, (4 // 2) * 3 * 6 + 6, "K instead of K·K"),
    "bias-per-input-channel": (BASE, W + 4, "one bias per input channel"),
    "bias-per-weight": (BASE, 2 * W, "one bias per weight"),
    "bias-once": (BASE, W + 1, "once per layer"),
    "bias-when-none": ({**BASE, "bias": False}, W + 6, "bias=False"),
}


@pytest.mark.parametrize("key", sorted(MISTAKES))
def test_mistake_is_named(key):
    raw, wrong, words = MISTAKES[key]
    params = problem.validate(raw)
    assert wrong != problem.solve(params)
    grade = problem.grade(params, f"{wrong:,}")
    assert grade.status == "wrong"
    assert grade.mistakes == (key,)
    assert words in grade.feedback


def test_non_square_kernel_has_no_k_instead_of_kk():
    params = problem.validate({"in_channels": 4, "out_channels": 6, "kernel_size": "1x3"})
    assert "kernel-as-k" not in {m.key for m in problem.mistakes(params)}


def test_samples_validate_and_solve():
    for seed in range(200):
        params = problem.sample(rng("test", seed))
        assert problem.validate(params) == params
        answer = problem.solve(params)
        assert answer >= 1 and json.loads(json.dumps(answer)) == answer
        assert "×" in problem.statement(params).text
    assert problem.sample(rng("same")) == problem.sample(rng("same"))


def test_draws_vary():
    kinds = set()
    for seed in range(100):
        params = problem.draw(rng("draw", seed))
        kinds |= {"grouped"} if params["groups"] > 1 else set()
        kinds |= {"non-square"} if isinstance(params["kernel_size"], list) else set()
        kinds |= {"no-bias"} if not params["bias"] else set()
    assert kinds == {"grouped", "non-square", "no-bias"}


@pytest.mark.parametrize(
    "raw, name",
    [
        ({"in_channels": 3, "out_channels": 10, "kernel_size": 3, "filters": 3}, "filters"),
        ({"in_channels": -3, "out_channels": 10, "kernel_size": 3}, "in_channels"),
        ({"in_channels": 3, "out_channels": 0, "kernel_size": 3}, "out_channels"),
        ({"in_channels": 3, "out_channels": 10, "kernel_size": "3x5x7"}, "kernel_size"),
        ({"in_channels": 3, "out_channels": 10, "kernel_size": "0x3"}, "kernel_size"),
        ({"in_channels": 3, "out_channels": 10, "kernel_size": 3, "bias": "maybe"}, "bias"),
        ({"in_channels": 4, "out_channels": 10, "kernel_size": 3, "groups": 4}, "groups"),
        ({"in_channels": 6, "out_channels": 12, "kernel_size": 3, "groups": 4}, "groups"),
        ({"in_channels": 3, "out_channels": 10}, "kernel_size"),
    ],
)
def test_bad_params(raw, name):
    with pytest.raises(ParamError, match=name):
        problem.validate(raw)


def test_torch_agrees_that_groups_must_divide():
    with pytest.raises(ValueError):
        nn.Conv2d(4, 10, 3, groups=4)
