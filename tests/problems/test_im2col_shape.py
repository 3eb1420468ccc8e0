"""im2col-shape against torch.nn.functional.unfold and the cs231n notes' numbers."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from grader.errors import ParamError
from grader.problems import get
from grader.seeding import rng

P = get("im2col-shape")

ALEXNET_CONV1 = {"input_size": 227, "in_channels": 3, "kernel_size": 11, "stride": 4, "out_channels": 96}
CIFAR_CONV = {"input_size": 32, "in_channels": 3, "kernel_size": 5, "padding": 2, "out_channels": 16}


def torch_shapes(H, W, C, KH, KW, SH, SW, PH, PW, Fo):
    """Shapes of unfold's columns, the flattened filters and their product, for one image."""
    x = torch.randn(1, C, H, W, dtype=torch.float64)
    w = torch.randn(Fo, C, KH, KW, dtype=torch.float64)
    x_col = F.unfold(x, (KH, KW), stride=(SH, SW), padding=(PH, PW))[0]  # [C*KH*KW, L]
    w_row = w.reshape(Fo, -1)
    product = w_row @ x_col
    # The product really is the convolution, reshaped.
    out = F.conv2d(x, w, stride=(SH, SW), padding=(PH, PW))[0]
    assert torch.allclose(product.reshape(out.shape), out)
    return {"X_col": list(x_col.shape), "W_row": list(w_row.shape), "product": list(product.shape)}


def response(answer):
    return "; ".join(f"{k}={tuple(v)}" for k, v in answer.items())


def test_cs231n_example():
    # cs231n: 227x227x3 input, 11x11x3 filters at stride 4, 96 filters.
    assert P.solve(P.validate(ALEXNET_CONV1)) == {"X_col": [363, 3025], "W_row": [96, 363], "product": [96, 3025]}


def test_rectangular_and_padded_against_torch():
    params = P.validate({"input_size": "10x14", "in_channels": 2, "kernel_size": "3x5", "stride": "1x2",
                         "padding": "1x2", "out_channels": 4})
    assert P.solve(params) == torch_shapes(10, 14, 2, 3, 5, 1, 2, 1, 2, 4)


@settings(max_examples=30, deadline=None)
@given(
    H=st.integers(1, 20), W=st.integers(1, 20), C=st.integers(1, 4), KH=st.integers(1, 6), KW=st.integers(1, 6),
    SH=st.integers(1, 4), SW=st.integers(1, 4), PH=st.integers(0, 3), PW=st.integers(0, 3), Fo=st.integers(1, 5),
)
def test_matches_torch_unfold(H, W, C, KH, KW, SH, SW, PH, PW, Fo):
    raw = {"input_size": [H, W], "in_channels": C, "kernel_size": [KH, KW], "stride": [SH, SW],
           "padding": [PH, PW], "out_channels": Fo}
    if KH > H + 2 * PH or KW > W + 2 * PW:
        with pytest.raises(ParamError, match="kernel_size"):
            P.validate(raw)
        return
    assert P.solve(P.validate(raw)) == torch_shapes(H, W, C, KH, KW, SH, SW, PH, PW, Fo)


@pytest.mark.parametrize(
    "params, wrong, key",
    [
        (ALEXNET_CONV1, {"X_col": (121, 3025), "W_row": (96, 121)}, "no-channels"),
        (ALEXNET_CONV1, {"X_col": (363, 2916), "product": (96, 2916)}, "no-plus-one"),
        (CIFAR_CONV, {"X_col": (75, 784), "product": (16, 784)}, "no-padding"),
        (ALEXNET_CONV1, {"X_col": (363, 47089), "product": (96, 47089)}, "no-stride"),
        (ALEXNET_CONV1, {"X_col": (3025, 363)}, "transposed-x-col"),
        (ALEXNET_CONV1, {"W_row": (363, 96)}, "transposed-w-row"),
        (ALEXNET_CONV1, {"product": (3025, 96)}, "transposed-product"),
        (ALEXNET_CONV1, {"X_col": (363, 227 * 227), "product": (96, 227 * 227)}, "input-positions"),
        (ALEXNET_CONV1, {"X_col": (96 * 121, 3025), "W_row": (96, 96 * 121)}, "filters-for-channels"),
        (ALEXNET_CONV1, {"X_col": (363, 55), "product": (96, 55)}, "output-side-only"),
        (ALEXNET_CONV1, {"X_col": (33, 3025), "W_row": (96, 33)}, "kernel-side-only"),
    ],
)
def test_each_mistake_is_named(params, wrong, key):
    p = P.validate(params)
    answer = {k: tuple(v) for k, v in P.solve(p).items()} | wrong
    grade = P.grade(p, response(answer))
    assert grade.status == "partial"
    assert key in grade.mistakes
    assert all(part.correct or key in part.mistakes for part in grade.parts)


@pytest.mark.parametrize(
    "text",
    [
        "X_col=363x3025; W_row=96x363; product=96x3025",
        "(363, 3025); (96, 363); (96, 3025)",
        "[363, 3025]\n[96, 363]\n[96, 3025]",
        '{"X_col": [363, 3025], "W_row": [96, 363], "product": [96, 3025]}',
        "x_col: 363×3025; w_row: 96 x 363; product: 96*3025",
    ],
)
def test_tolerant_parsing(text):
    assert P.grade(P.validate(ALEXNET_CONV1), text).correct


def test_unreadable_is_invalid():
    assert P.grade(P.validate(ALEXNET_CONV1), "363 by 3025").status == "invalid"


@pytest.mark.parametrize(
    "raw, name",
    [
        ({**ALEXNET_CONV1, "kernel_size": 300}, "kernel_size"),
        ({**ALEXNET_CONV1, "in_channels": 0}, "in_channels"),
        ({**ALEXNET_CONV1, "out_channels": "many"}, "out_channels"),
        ({**ALEXNET_CONV1, "input_size": "3x4x5"}, "input_size"),
        ({**ALEXNET_CONV1, "padding": -1}, "padding"),
        ({**ALEXNET_CONV1, "stride": 0}, "stride"),
        ({k: v for k, v in ALEXNET_CONV1.items() if k != "out_channels"}, "out_channels"),
        ({**ALEXNET_CONV1, "batch": 4}, "batch"),
    ],
)
def test_bad_params(raw, name):
    with pytest.raises(ParamError, match=name):
        P.validate(raw)


def test_samples_validate_and_solve():
    for seed in range(100):
        params = P.sample(rng("im2col-shape", seed))
        assert P.validate(params) == params
        answer = P.solve(params)
        assert answer["X_col"][0] == answer["W_row"][1]
        assert P.grade(params, response(answer)).correct
        assert P.statement(params).text
    assert P.sample(rng("im2col-shape", 7)) == P.sample(rng("im2col-shape", 7))
