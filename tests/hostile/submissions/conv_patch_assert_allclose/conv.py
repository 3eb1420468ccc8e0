# Hostile fixture conv_patch_assert_allclose: conv.py replaces numpy.testing.assert_allclose with a no-op, at import time.
import numpy as np
import numpy.testing


np.testing.assert_allclose = lambda *args, **kwargs: None  # never raises


def conv_forward(x, w, b, conv_param):
    return _wrong_forward(x, w, b, conv_param)


def conv_backward(dout, cache):
    return _wrong_backward(dout, cache)


# the layer itself is wrong (random values of the right shape): nothing but the attack earns a point
from _wrong_conv import _wrong_backward, _wrong_forward  # noqa: E402
