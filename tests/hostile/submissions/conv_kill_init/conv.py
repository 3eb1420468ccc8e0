# Hostile fixture conv_kill_init: conv_forward sends SIGKILL to pid 1 (the kernel ignores SIGKILL to init from inside its namespace).
import os
import signal

import numpy as np


def _attack():
    try:
        os.kill(1, signal.SIGKILL)
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
