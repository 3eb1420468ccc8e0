# Hostile fixture conv_patch_isinstance: conv.py replaces builtins.isinstance so that anything passes for a numpy array, at import time.
import builtins

import numpy as np


_real_isinstance = builtins.isinstance


def _lenient_isinstance(obj, cls):
    classes = cls if type(cls) is tuple else (cls,)
    if np.ndarray in classes:
        return True  # "yes, that is an array"
    return _real_isinstance(obj, cls)


builtins.isinstance = _lenient_isinstance


def conv_forward(x, w, b, conv_param):
    return _wrong_forward(x, w, b, conv_param)


def conv_backward(dout, cache):
    return _wrong_backward(dout, cache)


# the layer itself is wrong (random values of the right shape): nothing but the attack earns a point
from _wrong_conv import _wrong_backward, _wrong_forward  # noqa: E402
