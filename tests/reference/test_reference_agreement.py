"""numpy_loops, numpy_fast and torch_ref agree, forward and backward, on random layers.

The three are written independently (loops from the formula, im2col/col2im,
torch.nn.functional with autograd), so agreement over many shapes, strides,
paddings, dilations and pooling windows is strong evidence all three are right.
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.reference import numpy_fast, numpy_loops, torch_ref

MODULES = (numpy_loops, numpy_fast, torch_ref)
SETTINGS = settings(max_examples=40, deadline=None, database=None)


def assert_close(actual, expected):
    assert np.shape(actual) == np.shape(expected)
    np.testing.assert_allclose(actual, expected, rtol=1e-10, atol=1e-12)


def fits(draw, extent, pad, most=6):
    """An input size the window (extent) fits in once padded by pad on each side."""
    smallest = max(1, extent - 2 * pad)
    return draw(st.integers(smallest, smallest + most))


@st.composite
def conv_cases(draw):
    N, C, F = (draw(st.integers(1, 3)) for _ in range(3))
    HH, WW = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride, pad, dilation = draw(st.integers(1, 3)), draw(st.integers(0, 2)), draw(st.integers(1, 3))
    H = fits(draw, dilation * (HH - 1) + 1, pad)
    W = fits(draw, dilation * (WW - 1) + 1, pad)
    conv_param = {"stride": stride, "pad": pad}
    if dilation > 1 or draw(st.booleans()):
        conv_param["dilation"] = dilation
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x, w, b = rng.standard_normal((N, C, H, W)), rng.standard_normal((F, C, HH, WW)), rng.standard_normal(F)
    return x, w, b, conv_param, rng


@st.composite
def pool_cases(draw):
    N, C = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    PH, PW, stride = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    H, W = fits(draw, PH, 0), fits(draw, PW, 0)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if draw(st.booleans()):
        x = rng.integers(0, 3, size=(N, C, H, W)).astype(float)  # many ties
    else:
        x = rng.standard_normal((N, C, H, W))
    return x, {"pool_height": PH, "pool_width": PW, "stride": stride}, rng


@SETTINGS
@given(conv_cases())
def test_conv_implementations_agree(case):
    x, w, b, conv_param, rng = case
    results = [m.conv_forward(x, w, b, conv_param) for m in MODULES]
    out = results[0][0]
    dout = rng.standard_normal(out.shape)
    grads = [m.conv_backward(dout, cache) for m, (_, cache) in zip(MODULES, results)]
    for (other_out, _), other_grads in zip(results[1:], grads[1:]):
        assert_close(other_out, out)
        for got, want in zip(other_grads, grads[0]):
            assert_close(got, want)
    assert [g.shape for g in grads[0]] == [x.shape, w.shape, b.shape]


@SETTINGS
@given(pool_cases(), st.sampled_from(["max", "avg"]))
def test_pool_implementations_agree(case, kind):
    x, pool_param, rng = case
    results = [getattr(m, f"{kind}_pool_forward")(x, pool_param) for m in MODULES]
    out = results[0][0]
    dout = rng.standard_normal(out.shape)
    dxs = [getattr(m, f"{kind}_pool_backward")(dout, cache) for m, (_, cache) in zip(MODULES, results)]
    for (other_out, _), other_dx in zip(results[1:], dxs[1:]):
        assert_close(other_out, out)
        assert_close(other_dx, dxs[0])
    assert dxs[0].shape == x.shape
