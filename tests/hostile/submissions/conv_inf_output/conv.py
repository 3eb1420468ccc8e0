# Hostile fixture conv_inf_output: broken: conv_forward and conv_backward return arrays full of +inf.
import numpy as np


def conv_forward(x, w, b, conv_param):
    out, cache = _wrong_forward(x, w, b, conv_param)
    return np.full(out.shape, np.inf), cache


def conv_backward(dout, cache):
    return tuple(np.full(np.shape(g), np.inf) for g in _wrong_backward(dout, cache))


# the layer itself is wrong (random values of the right shape): nothing but the attack earns a point
from _wrong_conv import _wrong_backward, _wrong_forward  # noqa: E402
