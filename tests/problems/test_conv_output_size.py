"""conv-output-size against torch's nn.Conv2d and the course's numbers."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings, strategies as st

from grader.errors import ParamError
from grader.problems import get

P = get("conv-output-size")


def torch_width(W, F, S=1, P_=0, D=1):
    conv = torch.nn.Conv2d(1, 1, kernel_size=(1, F), stride=(1, S), padding=(0, P_), dilation=(1, D))
    with torch.no_grad():
        return conv(torch.zeros(1, 1, 1, W)).shape[-1]


@pytest.mark.parametrize(
    "params, answer",
    [
        ({"input_size": 227, "kernel_size": 11, "stride": 4}, 55),  # AlexNet conv1
        ({"input_size": 32, "kernel_size": 5}, 28),  # LeNet C1
        ({"input_size": 224, "kernel_size": 3, "padding": 1}, 224),  # "same" with P = (F-1)/2
        ({"input_size": 7, "kernel_size": 3, "stride": 2}, 3),  # cs231n: 7x7 input, 3x3 filter, stride 2
        ({"input_size": 10, "kernel_size": 3, "dilation": 2}, 6),  # dilation: extent 5
    ],
)
def test_worked_numbers(params, answer):
    assert P.solve(P.validate(params)) == answer


@settings(max_examples=60, deadline=None)
@given(
    W=st.integers(1, 64), F=st.integers(1, 9), S=st.integers(1, 5), P_=st.integers(0, 4), D=st.integers(1, 3)
)
def test_matches_torch(W, F, S, P_, D):
    if D * (F - 1) + 1 > W + 2 * P_:
        with pytest.raises(ParamError, match="larger than the padded input"):
            P.validate({"input_size": W, "kernel_size": F, "stride": S, "padding": P_, "dilation": D})
        return
    params = P.validate({"input_size": W, "kernel_size": F, "stride": S, "padding": P_, "dilation": D})
    assert P.solve(params) == torch_width(W, F, S, P_, D)


@pytest.mark.parametrize(
    "params, response, key",
    [
        ({"input_size": 227, "kernel_size": 11, "stride": 4}, "54", "no-plus-one"),
        ({"input_size": 32, "kernel_size": 5, "padding": 2}, "28", "no-padding"),
        ({"input_size": 32, "kernel_size": 5, "padding": 2, "stride": 1}, "30", "one-side-padding"),
        ({"input_size": 10, "kernel_size": 3, "stride": 2}, "5", "ceil"),
        ({"input_size": 20, "kernel_size": 3, "dilation": 3}, "18", "no-dilation"),
        ({"input_size": 20, "kernel_size": 3, "stride": 2}, "18", "no-stride"),
    ],
)
def test_each_mistake_is_named(params, response, key):
    grade = P.grade(P.validate(params), response)
    assert grade.score == 0 and key in grade.mistakes


def test_sampled_variants_match_torch():
    from grader.seeding import rng

    for seed in range(100):
        params = P.sample(rng(seed))
        assert P.solve(params) == torch_width(params["input_size"], params["kernel_size"], params["stride"],
                                              params["padding"], params["dilation"])


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"input_size": 5}, "needs the parameter 'kernel_size'"),
        ({"input_size": 5, "kernel_size": 3, "stride": 0}, "stride must be at least 1"),
        ({"input_size": "five", "kernel_size": 3}, "input_size must be an integer"),
        ({"input_size": 5, "kernel_size": 3, "padding": -1}, "padding must be at least 0"),
        ({"input_size": 5, "kernel_size": 3, "strides": 2}, "unknown parameter 'strides'"),
    ],
)
def test_bad_params(raw, message):
    with pytest.raises(ParamError, match=message):
        P.validate(raw)
