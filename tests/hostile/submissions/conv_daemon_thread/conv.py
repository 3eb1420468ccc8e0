# Hostile fixture conv_daemon_thread: conv_forward starts a daemon thread that spins forever after the call returns (expect plain failure).
import threading

import numpy as np


_threads = []  # once per process


def _spin():
    while True:
        pass


def _attack():
    if not _threads:
        _threads.append(threading.Thread(target=_spin, daemon=True))
        _threads[0].start()


def conv_forward(x, w, b, conv_param):
    _attack()
    return _wrong_forward(x, w, b, conv_param)


def conv_backward(dout, cache):
    _attack()
    return _wrong_backward(dout, cache)


# the layer itself is wrong (random values of the right shape): nothing but the attack earns a point
from _wrong_conv import _wrong_backward, _wrong_forward  # noqa: E402
