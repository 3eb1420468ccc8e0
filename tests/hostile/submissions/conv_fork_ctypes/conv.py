# Hostile fixture conv_fork_ctypes: conv_forward forks up to 300 sleeping children through libc's fork via ctypes (no os.fork to hook).
import numpy as np


_tries = 0  # bounded: at most 300 fork attempts in one process, ever; the children never fork


def _attack():
    global _tries
    try:
        import ctypes

        libc = ctypes.CDLL(None)
    except Exception:
        return
    while _tries < 300:
        _tries += 1
        try:
            pid = libc.fork()
        except Exception:
            break
        if pid == 0:
            libc.sleep(60)
            libc._exit(0)
        if pid < 0:
            break


def conv_forward(x, w, b, conv_param):
    _attack()
    return _wrong_forward(x, w, b, conv_param)


def conv_backward(dout, cache):
    _attack()
    return _wrong_backward(dout, cache)


# the layer itself is wrong (random values of the right shape): nothing but the attack earns a point
from _wrong_conv import _wrong_backward, _wrong_forward  # noqa: E402
