# Hostile fixture conv_killpg: conv_forward sends SIGTERM to its own process group (os.killpg(0, ...)).
import os
import signal

import numpy as np


def _attack():
    try:
        os.killpg(0, signal.SIGTERM)
    except Exception:
        pass


def conv_forward(x, w, b, conv_param):
    _attack()
    return _wrong_forward(x, w, b, conv_param)


def conv_backward(dout, cache):
    _attack()
    return _wrong_backward(dout, cache)


# the layer itself is wrong (random values of the right shape): nothing but the attack earns a point
from _wrong_conv import _wrong_backward, _wrong_forward  # noqa: E402
