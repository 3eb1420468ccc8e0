# Hostile fixture conv_enormous_output: broken: conv_forward returns a (10000, 10000) float64 array (800 MB; memory or result-size limit).
import numpy as np


def conv_forward(x, w, b, conv_param):
    return np.zeros((10000, 10000)), (x, w, b, conv_param)


def conv_backward(dout, cache):
    return np.zeros((10000, 10000)), np.zeros((10000, 10000)), np.zeros((10000, 10000))


# the layer itself is wrong (random values of the right shape): nothing but the attack earns a point
from _wrong_conv import _wrong_backward, _wrong_forward  # noqa: E402
