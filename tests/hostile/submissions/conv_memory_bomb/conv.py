# Hostile fixture conv_memory_bomb: conv_forward allocates 256 MB blocks (np.empty) until MemoryError, at most 8 GB.
import numpy as np


def _attack():
    # np.empty: address space, pages untouched (touching 2 GB takes longer than the 3 s call
    # timeout on a slow VM; an address-space limit stops this at once)
    blocks = []
    for _ in range(32):  # at most 32 x 256 MB = 8 GB; a MemoryError ends it first under any limit
        blocks.append(np.empty(256 * 2**20 // 8))
        blocks[-1][0] = 1.0


def conv_forward(x, w, b, conv_param):
    _attack()
    return _wrong_forward(x, w, b, conv_param)


def conv_backward(dout, cache):
    _attack()
    return _wrong_backward(dout, cache)


# the layer itself is wrong (random values of the right shape): nothing but the attack earns a point
from _wrong_conv import _wrong_backward, _wrong_forward  # noqa: E402
