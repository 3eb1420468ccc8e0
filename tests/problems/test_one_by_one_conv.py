"""one-by-one-conv against nn.Conv2d (parameters, output shape), multiply-adds
counted one by one in a naive convolution checked against torch's, and its mistakes."""

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch import nn

from grader.errors import ParamError
from grader.problems import get
from grader.seeding import rng

problem = get("one-by-one-conv")


def torch_answer(C_in, C_out, H, W, bias):
    conv = nn.Conv2d(C_in, C_out, kernel_size=1, bias=bias)
    out = conv(torch.zeros(1, C_in, H, W))
    return {"params": sum(p.numel() for p in conv.parameters()), "output_shape": list(out.shape[1:])}


def counted_mult_adds(C_in, C_out, H, W):
    """A naive 1x1 convolution that counts its multiply-adds (and checks its output with torch)."""
    x = np.arange(C_in * H * W, dtype=np.float64).reshape(C_in, H, W) % 7
    w = np.arange(C_out * C_in, dtype=np.float64).reshape(C_out, C_in) % 5
    out = np.zeros((C_out, H, W))
    count = 0
    for co in range(C_out):
        for i in range(H):
            for j in range(W):
                for ci in range(C_in):
                    out[co, i, j] += w[co, ci] * x[ci, i, j]
                    count += 1
    conv = nn.Conv2d(C_in, C_out, 1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(w).reshape(C_out, C_in, 1, 1))
        expected = conv(torch.from_numpy(x)[None].float())[0].double().numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-5)
    return count


def test_inception_style_bottleneck():
    # 256 -> 64 channels on 28x28, with bias
    params = problem.validate({"in_channels": 256, "out_channels": 64, "height": 28, "width": 28})
    answer = problem.solve(params)
    assert answer == {"params": 256 * 64 + 64, "output_shape": [64, 28, 28], "mult_adds": 28 * 28 * 256 * 64}
    assert torch_answer(256, 64, 28, 28, True) == {"params": answer["params"], "output_shape": answer["output_shape"]}
    assert problem.grade(params, "16448; 64x28x28; 12,845,056").correct
    assert problem.grade(params, {"params": 16448, "output_shape": "(64, 28, 28)", "mult_adds": 12845056}).correct
    assert "mixes channels at each position" in problem.statement(params).text


@settings(max_examples=50, deadline=None)
@given(
    C_in=st.integers(1, 4), C_out=st.integers(1, 4), H=st.integers(1, 5), W=st.integers(1, 5), bias=st.booleans()
)
def test_matches_torch_and_counting(C_in, C_out, H, W, bias):
    params = problem.validate({"in_channels": C_in, "out_channels": C_out, "height": H, "width": W, "bias": bias})
    answer = problem.solve(params)
    assert torch_answer(C_in, C_out, H, W, bias) == {"params": answer["params"], "output_shape": answer["output_shape"]}
    assert answer["mult_adds"] == counted_mult_adds(C_in, C_out, H, W)


C_IN, C_OUT, H, W = 16, 32, 7, 5
BASE = {"in_channels": C_IN, "out_channels": C_OUT, "height": H, "width": W}
# key -> (params, field, the mistake's value computed here, words of its feedback)
MISTAKES = {
    "no-bias": (BASE, "params", C_IN * C_OUT, "forgot the bias"),
    "no-input-channels": (BASE, "params", C_OUT + C_OUT, "forgot the input channels"),
    "bias-per-position": (BASE, "params", C_IN * C_OUT + C_OUT * H * W, "per output position"),
    "bias-when-none": ({**BASE, "bias": False}, "params", C_IN * C_OUT + C_OUT, "bias=False"),
    "keeps-channels": (BASE, "output_shape", [C_IN, H, W], "changes the number of channels"),
    "shrinks": (BASE, "output_shape", [C_OUT, H - 1, W - 1], "keeps H and W"),
    "flops": (BASE, "mult_adds", 2 * H * W * C_IN * C_OUT, "FLOPs"),
    "no-positions": (BASE, "mult_adds", C_IN * C_OUT, "spatial positions"),
    "mult-adds-no-input-channels": (BASE, "mult_adds", H * W * C_OUT, "forgot the input channels"),
}


@pytest.mark.parametrize("key", sorted(MISTAKES))
def test_mistake_is_named(key):
    raw, field, wrong, words = MISTAKES[key]
    params = problem.validate(raw)
    response = {**problem.solve(params), field: wrong}
    grade = problem.grade(params, response)
    assert grade.status == "partial"
    assert grade.mistakes == (key,)
    assert words in grade.feedback
    assert [p.path for p in grade.parts if not p.correct] == [field]


def test_a_mistake_that_gives_the_right_value_is_not_listed():
    params = problem.validate({"in_channels": 8, "out_channels": 8, "height": 4, "width": 4})
    assert "keeps-channels" not in {m.key for m in problem.mistakes(params)}


def test_samples_validate_and_solve():
    for seed in range(200):
        params = problem.sample(rng("test", seed))
        assert problem.validate(params) == params
        answer = problem.solve(params)
        assert json.loads(json.dumps(answer)) == answer
        assert problem.answer_format.parse(problem.answer_format.show(answer)) == problem.answer_format.parse(answer)
        assert "1×1" in problem.statement(params).text
    assert problem.sample(rng("same")) == problem.sample(rng("same"))


@pytest.mark.parametrize(
    "raw, name",
    [
        ({**BASE, "kernel_size": 1}, "kernel_size"),
        ({**BASE, "in_channels": 0}, "in_channels"),
        ({**BASE, "out_channels": -2}, "out_channels"),
        ({**BASE, "height": 0}, "height"),
        ({**BASE, "width": "wide"}, "width"),
        ({**BASE, "bias": "sometimes"}, "bias"),
        ({"in_channels": 3, "out_channels": 3, "height": 4}, "width"),
    ],
)
def test_bad_params(raw, name):
    with pytest.raises(ParamError, match=name):
        problem.validate(raw)
