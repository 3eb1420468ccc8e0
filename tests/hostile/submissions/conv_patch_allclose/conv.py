# Hostile fixture conv_patch_allclose: conv.py replaces numpy.allclose with a function that always says True, at import time.
import numpy as np


np.allclose = lambda *args, **kwargs: True  # every comparison "passes"


def conv_forward(x, w, b, conv_param):
    return _wrong_forward(x, w, b, conv_param)


def conv_backward(dout, cache):
    return _wrong_backward(dout, cache)


# the layer itself is wrong (random values of the right shape): nothing but the attack earns a point
from _wrong_conv import _wrong_backward, _wrong_forward  # noqa: E402
