"""pool-output-size against nn.MaxPool2d, the classic windows and its mistakes."""

import json
import math

import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch import nn

from grader.errors import ParamError
from grader.problems import get
from grader.seeding import rng

problem = get("pool-output-size")


def torch_width(W, F, S=None, P=0):
    pool = nn.MaxPool2d(F, stride=S, padding=P)
    return pool(torch.zeros(1, 1, W, W)).shape[-1]


@pytest.mark.parametrize(
    "raw, expected",
    [
        ({"input_size": 224, "kernel_size": 2}, 112),  # VGG
        ({"input_size": 55, "kernel_size": 3, "stride": 2}, 27),  # AlexNet pool1
        ({"input_size": 112, "kernel_size": 3, "stride": 2, "padding": 1}, 56),  # ResNet stem
        ({"input_size": 28, "kernel_size": 2, "stride": 2}, 14),  # LeNet on 28x28
        ({"input_size": 33, "kernel_size": 2}, 16),  # a window that does not fit is dropped
    ],
)
def test_classic_windows(raw, expected):
    params = problem.validate(raw)
    assert problem.solve(params) == expected
    assert torch_width(params["input_size"], params["kernel_size"], params["stride"], params["padding"]) == expected


def test_stride_defaults_to_the_window():
    assert problem.validate({"input_size": 32, "kernel_size": 3})["stride"] == 3
    assert problem.validate({"input_size": 32, "kernel_size": 3, "stride": "1"})["stride"] == 1
    assert "kernel_size" in next(p for p in problem.params if p.name == "stride").describe_default()


@settings(max_examples=50, deadline=None)
@given(
    F=st.integers(1, 5),
    S=st.one_of(st.none(), st.integers(1, 4)),
    data=st.data(),
)
def test_matches_torch(F, S, data):
    P = data.draw(st.integers(0, F // 2))
    W = data.draw(st.integers(max(1, F - 2 * P), 40))
    raw = {"input_size": W, "kernel_size": F, "padding": P}
    if S is not None:
        raw["stride"] = S
    assert problem.solve(problem.validate(raw)) == torch_width(W, F, S, P)


# key -> (params, the mistake's formula computed here, words of its feedback)
MISTAKES = {
    "no-plus-one": ({"input_size": 32, "kernel_size": 2, "stride": 2}, (32 - 2) // 2, "forgot the +1"),
    "no-padding": ({"input_size": 10, "kernel_size": 3, "stride": 1, "padding": 1}, (10 - 3) // 1 + 1,
                   "forgot the padding"),
    "one-side-padding": ({"input_size": 10, "kernel_size": 5, "stride": 1, "padding": 2}, (10 + 2 - 5) // 1 + 1,
                         "one side"),
    "ceil": ({"input_size": 33, "kernel_size": 2, "stride": 2}, math.ceil((33 - 2) / 2) + 1, "ceil"),
    "stride-one": ({"input_size": 32, "kernel_size": 2}, 32 - 2 + 1, "defaults to the window size"),
}


@pytest.mark.parametrize("key", sorted(MISTAKES))
def test_mistake_is_named(key):
    raw, wrong, words = MISTAKES[key]
    params = problem.validate(raw)
    assert wrong != problem.solve(params)
    grade = problem.grade(params, str(wrong))
    assert grade.status == "wrong"
    assert grade.mistakes == (key,)
    assert words in grade.feedback


def test_right_answer_and_unreadable_answer():
    params = problem.validate({"input_size": 224, "kernel_size": 2})
    assert problem.grade(params, " 112 ").correct
    assert problem.grade(params, "a hundred").status == "invalid"


def test_samples_validate_and_solve():
    for seed in range(200):
        params = problem.sample(rng("test", seed))
        assert problem.validate(params) == params
        assert params["padding"] <= params["kernel_size"] // 2
        answer = problem.solve(params)
        assert answer >= 1 and json.loads(json.dumps(answer)) == answer
        assert "×" in problem.statement(params).text
    assert problem.sample(rng("same")) == problem.sample(rng("same"))


@pytest.mark.parametrize(
    "raw, name",
    [
        ({"input_size": 32, "kernel_size": 2, "size": 3}, "size"),
        ({"input_size": -1, "kernel_size": 2}, "input_size"),
        ({"input_size": 32, "kernel_size": 0}, "kernel_size"),
        ({"input_size": 32, "kernel_size": 2, "stride": 0}, "stride"),
        ({"input_size": 32, "kernel_size": 3, "padding": 2}, "padding"),
        ({"input_size": 32, "kernel_size": 2, "padding": -1}, "padding"),
        ({"input_size": 2, "kernel_size": 5, "padding": 1}, "kernel_size"),
        ({"kernel_size": 2}, "input_size"),
    ],
)
def test_bad_params(raw, name):
    with pytest.raises(ParamError, match=name):
        problem.validate(raw)
