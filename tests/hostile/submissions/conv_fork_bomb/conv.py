# Hostile fixture conv_fork_bomb: conv_forward forks (os.fork) up to 300 children that each sleep 60 s.
import os
import time

import numpy as np


_tries = 0  # bounded: at most 300 fork attempts in one process, ever; the children never fork


def _attack():
    global _tries
    while _tries < 300:
        _tries += 1
        try:
            pid = os.fork()
        except Exception:
            break
        if pid == 0:
            try:
                time.sleep(60)
            finally:
                os._exit(0)


def conv_forward(x, w, b, conv_param):
    _attack()
    return _wrong_forward(x, w, b, conv_param)


def conv_backward(dout, cache):
    _attack()
    return _wrong_backward(dout, cache)


# the layer itself is wrong (random values of the right shape): nothing but the attack earns a point
from _wrong_conv import _wrong_backward, _wrong_forward  # noqa: E402
