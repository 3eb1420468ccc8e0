"""fc-params against nn.Linear's parameter count, the course's number and its mistakes."""

import json

import pytest
from hypothesis import given, settings, strategies as st
from torch import nn

from grader.errors import ParamError
from grader.problems import get
from grader.seeding import rng

problem = get("fc-params")


def numel(module):
    return sum(p.numel() for p in module.parameters())


def test_course_example_on_a_256x256x3_image():
    params = problem.validate({"in_features": 256 * 256 * 3, "out_features": 1000})
    assert params["in_features"] == 196608
    assert problem.solve(params) == 196_609_000
    assert problem.grade(params, "196,609,000").correct
    assert "256×256×3" in problem.statement(params).text


def test_vgg_fc6_statement_names_the_volume():
    params = problem.validate({"in_features": 7 * 7 * 512, "out_features": 4096})
    assert problem.solve(params) == numel(nn.Linear(25088, 4096, device="meta")) == 102_764_544
    assert "7×7×512 volume flattened to 25,088 features" in problem.statement(params).text


@settings(max_examples=50, deadline=None)
@given(n_in=st.integers(1, 300), n_out=st.integers(1, 300), bias=st.booleans())
def test_matches_torch(n_in, n_out, bias):
    params = problem.validate({"in_features": n_in, "out_features": n_out, "bias": str(bias).lower()})
    assert problem.solve(params) == numel(nn.Linear(n_in, n_out, bias=bias, device="meta"))


BASE = {"in_features": 400, "out_features": 120}  # LeNet-5's F5: 48,120
MISTAKES = {
    "no-bias": (BASE, 400 * 120, "forgot the bias"),
    "bias-once": (BASE, 400 * 120 + 1, "one bias for the whole layer"),
    "bias-per-input": (BASE, 400 * 120 + 400, "one bias per input feature"),
    "bias-when-none": ({**BASE, "bias": False}, 400 * 120 + 120, "bias=False"),
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


def test_samples_validate_and_solve():
    for seed in range(200):
        params = problem.sample(rng("test", seed))
        assert problem.validate(params) == params
        answer = problem.solve(params)
        assert answer >= 1 and json.loads(json.dumps(answer)) == answer
        assert problem.statement(params).text
    assert problem.sample(rng("same")) == problem.sample(rng("same"))


def test_draws_vary():
    draws = [problem.draw(rng("draw", seed)) for seed in range(100)]
    assert any(not p["bias"] for p in draws)
    assert any("volume" in problem.statement(p).text for p in draws)


@pytest.mark.parametrize(
    "raw, name",
    [
        ({"in_features": 10, "out_features": 10, "in_channels": 3}, "in_channels"),
        ({"in_features": 0, "out_features": 10}, "in_features"),
        ({"in_features": 10, "out_features": -5}, "out_features"),
        ({"in_features": "ten", "out_features": 10}, "in_features"),
        ({"in_features": 10, "out_features": 10, "bias": "perhaps"}, "bias"),
        ({"out_features": 10}, "in_features"),
    ],
)
def test_bad_params(raw, name):
    with pytest.raises(ParamError, match=name):
        problem.validate(raw)
