"""The bank's registry walked end to end: every problem type samples,
solves, states, round-trips its own answer through text and names its
mistakes, over many seeds (STYLE.md, point 5)."""

from __future__ import annotations

import json

import pytest

from grader.problems import all_problems, get, names
from grader.problems.base import Statement
from grader.seeding import rng

CONTRACT_NAMES = {
    "conv-output-size", "pool-output-size", "conv-params", "fc-params", "one-by-one-conv", "receptive-field",
    "im2col-shape", "pool-backprop", "network-shapes", "memory-estimate", "transfer-strategy",
}
SEEDS = range(40)


def test_the_bank_holds_every_problem_of_the_contract():
    assert CONTRACT_NAMES <= set(names())


@pytest.mark.parametrize("problem", all_problems(), ids=lambda p: p.name)
def test_every_problem_round_trips(problem):
    assert problem.summary and problem.topic
    for seed in SEEDS:
        params = problem.sample(rng("registry", seed, problem.name))
        # params are JSON values and validate to themselves
        assert json.loads(json.dumps(params)) == params
        assert problem.validate(params) == params
        answer = problem.solve(params)
        assert json.loads(json.dumps(answer)) == answer
        statement = problem.statement(params)
        assert isinstance(statement, Statement) and statement.text.strip()
        # the answer, as JSON and as a person would write it, grades as correct
        assert problem.grade(params, answer).correct, (params, answer)
        shown = problem.answer_format.show(answer)
        assert problem.grade(params, shown).correct, (params, shown, problem.grade(params, shown))
        # every known mistake is wrong, and is named when made
        for mistake in problem.telling_mistakes(params):
            grade = problem.grade(params, mistake.answer)
            assert not grade.correct, (params, mistake)
            assert mistake.key in grade.mistakes, (params, mistake, grade)


@pytest.mark.parametrize("problem", all_problems(), ids=lambda p: p.name)
def test_sampling_is_deterministic(problem):
    for seed in range(5):
        assert problem.sample(rng(seed, problem.name)) == problem.sample(rng(seed, problem.name))


@pytest.mark.parametrize("problem", all_problems(), ids=lambda p: p.name)
def test_blank_and_garbage_responses_score_zero_with_a_note(problem):
    params = problem.sample(rng("garbage", problem.name))
    for response in ("", "   ", None):
        grade = problem.grade(params, response)
        assert grade.score == 0 and grade.status == "blank"
    for response in ("¯\\_(ツ)_/¯", "{[(", "NaN", "1e999", "; ; ;"):
        grade = problem.grade(params, response)
        assert grade.score < 1 and grade.feedback


def test_unknown_problem_names_the_known_ones():
    from grader.errors import UnknownProblemError

    with pytest.raises(UnknownProblemError, match="conv-output-size"):
        get("conv-outptu-size")
