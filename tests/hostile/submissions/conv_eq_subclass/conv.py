# Hostile fixture conv_eq_subclass: conv returns an ndarray subclass whose == and != always say 'equal' (values random).
import numpy as np


class _Agreeable(np.ndarray):
    """Equal to everything."""

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = None


def conv_forward(x, w, b, conv_param):
    out, cache = _wrong_forward(x, w, b, conv_param)
    return out.view(_Agreeable), cache


def conv_backward(dout, cache):
    return tuple(g.view(_Agreeable) for g in _wrong_backward(dout, cache))


# the layer itself is wrong (random values of the right shape): nothing but the attack earns a point
from _wrong_conv import _wrong_backward, _wrong_forward  # noqa: E402
