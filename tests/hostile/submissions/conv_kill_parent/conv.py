# Hostile fixture conv_kill_parent: conv_forward sends SIGTERM to its parent process (the grader, unless a pid namespace hides it).
import os
import signal

import numpy as np


def _attack():
    try:
        os.kill(os.getppid(), signal.SIGTERM)
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
