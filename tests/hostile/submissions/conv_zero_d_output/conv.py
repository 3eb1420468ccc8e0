# Hostile fixture conv_zero_d_output: broken: conv_forward returns a 0-d array as out, conv_backward three 0-d arrays.
import numpy as np


def conv_forward(x, w, b, conv_param):
    return np.array(0.0), (x, w, b, conv_param)


def conv_backward(dout, cache):
    return np.array(0.0), np.array(0.0), np.array(0.0)


# the layer itself is wrong (random values of the right shape): nothing but the attack earns a point
from _wrong_conv import _wrong_backward, _wrong_forward  # noqa: E402
