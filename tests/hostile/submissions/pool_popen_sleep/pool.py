# Hostile fixture pool_popen_sleep: max_pool_forward starts `sleep 1000` in a new session (subprocess.Popen) and leaves it.
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


def max_pool_forward(x, pool_param):
    _attack()
    return _wrong_forward(x, pool_param)


def max_pool_backward(dout, cache):
    _attack()
    return _wrong_backward(dout, cache)


# the layer itself is wrong (random values of the right shape): nothing but the attack earns a point
from _wrong_pool import _wrong_backward, _wrong_forward, avg_pool_backward, avg_pool_forward  # noqa: E402
