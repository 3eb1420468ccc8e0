# Hostile fixture conv_patch_abs: conv.py replaces builtins.abs with a function that returns zeros (every error looks like 0), at import time.
import builtins

import numpy as np


_real_abs = builtins.abs
builtins.abs = lambda value: _real_abs(value) * 0


def conv_forward(x, w, b, conv_param):
    return _wrong_forward(x, w, b, conv_param)


def conv_backward(dout, cache):
    return _wrong_backward(dout, cache)


# the layer itself is wrong (random values of the right shape): nothing but the attack earns a point
from _wrong_conv import _wrong_backward, _wrong_forward  # noqa: E402
