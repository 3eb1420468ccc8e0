"""Every backward pass against central differences of its own forward pass (cs231n's check)."""

import numpy as np
import pytest

from grader.reference import numpy_fast, numpy_loops, torch_ref

MODULES = [numpy_loops, numpy_fast, torch_ref]


def numeric_gradient(f, a, h=1e-5):
    """d f / d a by central differences, f a scalar function of the array a (not modified)."""
    a = a.copy()
    grad = np.zeros_like(a)
    for index in np.ndindex(a.shape):
        old = a[index]
        a[index] = old + h
        plus = f(a)
        a[index] = old - h
        minus = f(a)
        a[index] = old
        grad[index] = (plus - minus) / (2 * h)
    return grad


def rel_error(x, y):
    return np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y)))


@pytest.mark.parametrize("conv_param", [{"stride": 1, "pad": 1}, {"stride": 2, "pad": 1, "dilation": 2}])
@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_conv_backward_matches_numeric_gradient(module, conv_param):
    rng = np.random.default_rng(231)
    x, w, b = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)
    out, cache = module.conv_forward(x, w, b, conv_param)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = module.conv_backward(dout, cache)

    def loss(x_, w_, b_):
        return np.sum(module.conv_forward(x_, w_, b_, conv_param)[0] * dout)

    # the loss is linear in each of x, w, b: central differences are exact but for
    # rounding, which a larger step keeps small
    h = 1e-3
    assert rel_error(dx, numeric_gradient(lambda a: loss(a, w, b), x, h)) < 1e-7
    assert rel_error(dw, numeric_gradient(lambda a: loss(x, a, b), w, h)) < 1e-7
    assert rel_error(db, numeric_gradient(lambda a: loss(x, w, a), b, h)) < 1e-7


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("pool_param", [
    {"pool_height": 2, "pool_width": 2, "stride": 2},
    {"pool_height": 3, "pool_width": 2, "stride": 1},  # overlapping windows
])
@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_pool_backward_matches_numeric_gradient(module, pool_param, kind):
    rng = np.random.default_rng(232)
    x = rng.standard_normal((2, 3, 6, 5))  # distinct values: max pooling is differentiable here
    forward, backward = getattr(module, f"{kind}_pool_forward"), getattr(module, f"{kind}_pool_backward")
    out, cache = forward(x, pool_param)
    dout = rng.standard_normal(out.shape)
    dx = backward(dout, cache)
    dx_num = numeric_gradient(lambda a: np.sum(forward(a, pool_param)[0] * dout), x)
    assert rel_error(dx, dx_num) < 1e-7
