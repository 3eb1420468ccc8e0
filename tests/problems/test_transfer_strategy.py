"""transfer-strategy against the cs231n table (lecture slides' wording)."""

from __future__ import annotations

import pytest

from grader.errors import ParamError
from grader.problems import get
from grader.seeding import rng

P = get("transfer-strategy")

# The table, written out by hand:
#                 very similar dataset                 very different dataset
# very little     linear classifier on the top layer   you're in trouble: linear classifier from earlier stages
# quite a lot     fine-tune a few layers               fine-tune a larger number of layers
TABLE = {
    ("small", "similar"): "retrain-head",
    ("small", "different"): "head-on-earlier-layers",
    ("large", "similar"): "fine-tune-top-layers",
    ("large", "different"): "fine-tune-all-layers",
}
KEYS = ["retrain-head", "head-on-earlier-layers", "fine-tune-top-layers", "fine-tune-all-layers"]


@pytest.mark.parametrize("cell, best", TABLE.items())
def test_the_table(cell, best):
    params = P.validate({"dataset_size": cell[0], "similarity": cell[1]})
    assert P.solve(params) == best
    assert P.grade(params, best).correct
    assert P.grade(params, "abcd"[KEYS.index(best)]).correct


@pytest.mark.parametrize("cell", TABLE)
@pytest.mark.parametrize("key", KEYS)
def test_every_other_option_is_a_named_mistake(cell, key):
    params = P.validate({"dataset_size": cell[0], "similarity": cell[1]})
    if key == TABLE[cell]:
        return
    grade = P.grade(params, key)
    assert grade.status == "wrong"
    assert grade.mistakes == (key,)
    assert len(grade.parts[0].feedback) > 20


def test_feedback_speaks_to_the_cell():
    small_similar = P.grade(P.validate({"dataset_size": "small", "similarity": "similar"}), "fine-tune-all-layers")
    assert "overfit" in small_similar.feedback
    small_different = P.grade(P.validate({"dataset_size": "small", "similarity": "different"}), "retrain-head")
    assert "too specific" in small_different.feedback


@pytest.mark.parametrize("text", ["b", "B", "(b)", "b)", "2", "head on earlier layers", "Head_on_earlier-layers",
                                  "Train a linear classifier on activations taken from earlier layers of the "
                                  "frozen network"])
def test_tolerant_parsing(text):
    assert P.grade(P.validate({"dataset_size": "small", "similarity": "different"}), text).correct


def test_unreadable_is_invalid():
    assert P.grade(P.validate({"dataset_size": "small", "similarity": "different"}), "e").status == "invalid"


def test_statement_tells_a_story_and_lists_the_options():
    texts = set()
    for cell in TABLE:
        text = P.statement(P.validate({"dataset_size": cell[0], "similarity": cell[1]})).text
        assert all(f"({letter})" in text for letter in "abcd")
        texts.add(text.splitlines()[0])
        assert P.statement(P.validate({"dataset_size": cell[0], "similarity": cell[1]})).text == text
    assert len(texts) == 4


@pytest.mark.parametrize(
    "raw, name",
    [
        ({"dataset_size": "medium", "similarity": "similar"}, "dataset_size"),
        ({"dataset_size": "small", "similarity": "same"}, "similarity"),
        ({"dataset_size": "small"}, "similarity"),
        ({"dataset_size": "small", "similarity": "similar", "model": "resnet"}, "model"),
    ],
)
def test_bad_params(raw, name):
    with pytest.raises(ParamError, match=name):
        P.validate(raw)


def test_samples_cover_the_table():
    cells = set()
    for seed in range(100):
        params = P.sample(rng("transfer-strategy", seed))
        assert P.validate(params) == params
        assert P.solve(params) == TABLE[params["dataset_size"], params["similarity"]]
        cells.add((params["dataset_size"], params["similarity"]))
    assert cells == set(TABLE)
