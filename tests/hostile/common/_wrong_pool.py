"""The wrong pooling layer of every hostile fixture: random values of the right shape, fresh on every call,
so that nothing but a successful attack could earn a point (copied into each fixture's
submission when the test assembles it)."""

import numpy as np


def _out_shape(x, pool_param):
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = np.shape(x)
    return (N, C, 1 + (H - ph) // stride, 1 + (W - pw) // stride)


def _wrong_forward(x, pool_param):
    return np.random.standard_normal(_out_shape(x, pool_param)), (x, pool_param)


def _wrong_backward(dout, cache):
    return np.random.standard_normal(np.shape(cache[0]))


# average pooling is not under test in this fixture: wrong too
def avg_pool_forward(x, pool_param):
    return _wrong_forward(x, pool_param)


def avg_pool_backward(dout, cache):
    return _wrong_backward(dout, cache)
