# Hostile fixture conv_mutate_inputs: conv computes a wrong out, then zeroes x, w and b (and dout) in place (conv of zeros is zeros).
import numpy as np


def conv_forward(x, w, b, conv_param):
    result = _wrong_forward(x, w, b, conv_param)
    x[...] = 0
    w[...] = 0
    b[...] = 0
    return result


def conv_backward(dout, cache):
    grads = _wrong_backward(dout, cache)
    dout[...] = 0
    return grads


# the layer itself is wrong (random values of the right shape): nothing but the attack earns a point
from _wrong_conv import _wrong_backward, _wrong_forward  # noqa: E402
