# Hostile fixture conv_array_lies: conv returns objects whose __array__ gives a different random array on every conversion.
import numpy as np


class _Shifty:
    """Looks like an array (shape, dtype, __array__), but is a new one every time it is looked at."""

    def __init__(self, shape):
        self.shape, self.dtype, self.ndim = tuple(shape), np.dtype(np.float64), len(shape)

    def __array__(self, dtype=None, copy=None):
        return np.random.standard_normal(self.shape).astype(dtype or np.float64)

    def __len__(self):
        return self.shape[0]


def conv_forward(x, w, b, conv_param):
    out, cache = _wrong_forward(x, w, b, conv_param)
    return _Shifty(out.shape), cache


def conv_backward(dout, cache):
    return tuple(_Shifty(np.shape(g)) for g in _wrong_backward(dout, cache))


# the layer itself is wrong (random values of the right shape): nothing but the attack earns a point
from _wrong_conv import _wrong_backward, _wrong_forward  # noqa: E402
