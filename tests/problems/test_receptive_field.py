"""receptive-field against the input gradient of one unit of a torch stack,
the course's example and its mistakes.

The torch stack has all-ones weights, no bias and no ReLU, so every input pixel
that can affect the unit gets a positive gradient; max pooling is replaced by
average pooling of the same geometry, whose gradient reaches its whole window.
Layers act along the width of a one-row image, which is all a receptive
field's side needs.
"""

import json
import math

import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch import nn

from grader.errors import ParamError
from grader.problems import get
from grader.seeding import rng

problem = get("receptive-field")


def torch_receptive_field(layers):
    """Side of the input region that the centre unit of the last layer depends on.

    ``layers``: (kind, kernel, stride, dilation) tuples, kind "conv" or "pool"."""
    modules = []
    for kind, k, s, d in layers:
        if kind == "conv":
            conv = nn.Conv2d(1, 1, (1, k), stride=(1, s), dilation=(1, d), bias=False)
            nn.init.ones_(conv.weight)
            modules.append(conv)
        else:
            modules.append(nn.AvgPool2d((1, k), stride=(1, s)))
    net = nn.Sequential(*modules)
    # Wide enough that the centre unit's region lies well inside the input.
    n = 2 * math.prod(s for _, _, s, _ in layers) * (sum(d * (k - 1) + 1 for _, k, _, d in layers) + 4)
    x = torch.ones(1, 1, 1, n, requires_grad=True)
    out = net(x)
    out[0, 0, 0, out.shape[-1] // 2].backward()
    hit = torch.nonzero(x.grad[0, 0, 0] > 0).flatten()
    lo, hi = int(hit.min()), int(hit.max())
    assert lo > 0 and hi < n - 1, "the region reached the border: make the input wider"
    return hi - lo + 1


def spell(layers):
    out = []
    for kind, k, s, d in layers:
        out.append(f"{kind}{k}s{s}" + (f"d{d}" if d != 1 else ""))
    return ",".join(out)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("conv3,conv3,conv3", 7),  # the course notes: three 3x3 convs see 7x7
        ("conv3x3", 7),
        ("conv7", 7),
        ("conv3s1,pool2s2", 4),
        ("conv3,pool2s2,conv3", 8),
        ("conv3d2", 5),
        ("conv3d2,conv3d2", 9),
        ("conv11-96s4,pool3s2,conv5-256p2", 11 + 2 * 4 + 4 * 8),  # AlexNet's first layers: 51
    ],
)
def test_known_stacks(text, expected):
    params = problem.validate({"layers": text})
    assert problem.solve(params) == expected


def test_known_stacks_agree_with_torch():
    assert torch_receptive_field([("conv", 3, 1, 1)] * 3) == 7
    assert torch_receptive_field([("conv", 11, 4, 1), ("pool", 3, 2, 1), ("conv", 5, 1, 1)]) == 51


layer = st.one_of(
    st.tuples(st.just("conv"), st.integers(1, 5), st.integers(1, 2), st.integers(1, 2)),
    st.tuples(st.just("pool"), st.integers(2, 3), st.integers(1, 3), st.just(1)),
)


@settings(max_examples=50, deadline=None)
@given(st.lists(layer, min_size=1, max_size=5))
def test_matches_torch(layers):
    params = problem.validate({"layers": spell(layers)})
    assert problem.solve(params) == torch_receptive_field(layers)


def test_layers_are_stored_in_their_canonical_spelling():
    assert problem.validate({"layers": "conv3x3"})["layers"] == "conv3,conv3,conv3"
    assert problem.validate({"layers": " conv3s1, maxpool2s2 "})["layers"] == "conv3,pool2"
    assert problem.validate({"layers": ["conv5", "pool3s2"]})["layers"] == "conv5,pool3s2"
    params = problem.validate({"layers": "conv3d2,pool2"})
    assert problem.validate(params) == params


# key -> (layers, the mistake's value computed here, words of its feedback);
# for conv3,conv3d2,pool2s2,conv5 the answer is 1 + 2 + 4 + 4·2 = 15 + 1 = 16.
LAYERS = "conv3,conv3d2,pool2s2,conv5"
MISTAKES = {
    "sum-kernels": (LAYERS, 3 + 3 + 2 + 5, "summed the kernel sizes"),
    "no-strides": (LAYERS, 1 + 2 + 4 + 1 + 4, "ignored the strides"),
    "no-dilation": (LAYERS, 1 + 2 + 2 + 1 + 4 * 2, "ignored the dilation"),
    "own-stride": (LAYERS, 1 + 2 + 4 + 1 * 2 + 4 * 2, "own stride"),
    "product-kernels": (LAYERS, 3 * 3 * 2 * 5, "multiplied the kernel sizes"),
}


def test_the_example_is_right():
    assert problem.solve(problem.validate({"layers": LAYERS})) == 16
    assert torch_receptive_field([("conv", 3, 1, 1), ("conv", 3, 1, 2), ("pool", 2, 2, 1), ("conv", 5, 1, 1)]) == 16


@pytest.mark.parametrize("key", sorted(MISTAKES))
def test_mistake_is_named(key):
    text, wrong, words = MISTAKES[key]
    params = problem.validate({"layers": text})
    assert wrong != problem.solve(params)
    grade = problem.grade(params, str(wrong))
    assert grade.status == "wrong"
    assert grade.mistakes == (key,)
    assert words in grade.feedback


def test_samples_validate_and_solve():
    for seed in range(200):
        params = problem.sample(rng("test", seed))
        assert problem.validate(params) == params
        assert 2 <= len(params["layers"].split(",")) <= 5
        answer = problem.solve(params)
        assert answer > 1 and json.loads(json.dumps(answer)) == answer
        assert "convolution" in problem.statement(params).text
    assert problem.sample(rng("same")) == problem.sample(rng("same"))


def test_draws_vary():
    stacks = [problem.draw(rng("draw", seed))["layers"] for seed in range(100)]
    assert any("pool" in s for s in stacks)
    assert any("d2" in s for s in stacks)
    assert any("s2" in s.replace("pool2s2", "").replace("pool3s2", "") for s in stacks)


@pytest.mark.parametrize(
    "raw, words",
    [
        ({"layers": "conv3,fc10"}, "layers"),
        ({"layers": "conv3,dense"}, "dense"),
        ({"layers": ""}, "layers"),
        ({"layers": "conv3x1000000"}, "layers"),
        ({"layers": "conv0"}, "conv0"),
        ({"layers": "pool3p2"}, "pool3p2"),
        ({"layers": "conv3", "input": "3x32x32"}, "input"),
        ({}, "layers"),
    ],
)
def test_bad_params(raw, words):
    with pytest.raises(ParamError, match=words):
        problem.validate(raw)
