# Hostile fixture conv_wrong_signature: broken: conv_forward(x, w) and conv_backward(dout) take too few arguments (TypeError on every call).
import numpy as np


def conv_forward(x, w):
    return np.zeros((x.shape[0], w.shape[0], x.shape[2], x.shape[3])), (x, w)


def conv_backward(dout):
    return dout, dout, dout


# the layer itself is wrong (random values of the right shape): nothing but the attack earns a point
from _wrong_conv import _wrong_backward, _wrong_forward  # noqa: E402
