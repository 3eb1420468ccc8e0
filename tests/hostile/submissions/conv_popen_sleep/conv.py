# Hostile fixture conv_popen_sleep: conv_forward starts `sleep 1000` in a new session (subprocess.Popen, start_new_session) and leaves it.
import subprocess

import numpy as np


_children = []  # once per process


def _attack():
    if _children:
        return
    try:
        _children.append(subprocess.Popen(["sleep", "1000"], start_new_session=True, stdin=subprocess.DEVNULL,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    except Exception:
        _children.append(None)


def conv_forward(x, w, b, conv_param):
    _attack()
    return _wrong_forward(x, w, b, conv_param)


def conv_backward(dout, cache):
    _attack()
    return _wrong_backward(dout, cache)


# the layer itself is wrong (random values of the right shape): nothing but the attack earns a point
from _wrong_conv import _wrong_backward, _wrong_forward  # noqa: E402
