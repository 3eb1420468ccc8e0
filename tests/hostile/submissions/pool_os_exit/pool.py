# Hostile fixture pool_os_exit: max_pool_forward and max_pool_backward call os._exit(0).
import os

import numpy as np


def _attack():
    os._exit(0)


def max_pool_forward(x, pool_param):
    _attack()
    return _wrong_forward(x, pool_param)


def max_pool_backward(dout, cache):
    _attack()
    return _wrong_backward(dout, cache)


# the layer itself is wrong (random values of the right shape): nothing but the attack earns a point
from _wrong_pool import _wrong_backward, _wrong_forward, avg_pool_backward, avg_pool_forward  # noqa: E402
