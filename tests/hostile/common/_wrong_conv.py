"""The wrong convolution layer of every hostile fixture: random values of the right shape, fresh on every call,
so that nothing but a successful attack could earn a point (copied into each fixture's
submission when the test assembles it)."""

import numpy as np


def _out_shape(x, w, conv_param):
    stride, pad, dilation = conv_param["stride"], conv_param["pad"], conv_param.get("dilation", 1)
    N, _, H, W = np.shape(x)
    F, _, HH, WW = np.shape(w)
    return (N, F, 1 + (H + 2 * pad - dilation * (HH - 1) - 1) // stride,
            1 + (W + 2 * pad - dilation * (WW - 1) - 1) // stride)


def _wrong_forward(x, w, b, conv_param):
    return np.random.standard_normal(_out_shape(x, w, conv_param)), (x, w, b, conv_param)


def _wrong_backward(dout, cache):
    x, w, b, _ = cache
    return tuple(np.random.standard_normal(np.shape(a)) for a in (x, w, b))
