# Hostile fixture conv_huge_output: conv_forward writes 50 MB to stdout (once per process).
import sys

import numpy as np


_done = []  # once per process: 50 MB in all


def _attack():
    if _done:
        return
    _done.append(True)
    chunk = ("x" * 1023 + "\n") * 1024  # 1 MiB
    for _ in range(50):
        sys.stdout.write(chunk)
    sys.stdout.flush()


def conv_forward(x, w, b, conv_param):
    _attack()
    return _wrong_forward(x, w, b, conv_param)


def conv_backward(dout, cache):
    _attack()
    return _wrong_backward(dout, cache)


# the layer itself is wrong (random values of the right shape): nothing but the attack earns a point
from _wrong_conv import _wrong_backward, _wrong_forward  # noqa: E402
