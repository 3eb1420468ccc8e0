# Hostile fixture conv_missing_package: broken: conv.py imports a package that does not exist (import nonexistent_pkg_xyz).
import nonexistent_pkg_xyz  # noqa: F401
import numpy as np



def conv_forward(x, w, b, conv_param):
    return _wrong_forward(x, w, b, conv_param)


def conv_backward(dout, cache):
    return _wrong_backward(dout, cache)


# the layer itself is wrong (random values of the right shape): nothing but the attack earns a point
from _wrong_conv import _wrong_backward, _wrong_forward  # noqa: E402
