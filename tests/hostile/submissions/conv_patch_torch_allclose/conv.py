# Hostile fixture conv_patch_torch_allclose: conv.py imports torch inside try/except to replace torch.allclose (the import alone is forbidden).
import numpy as np


try:
    import torch

    torch.allclose = lambda *args, **kwargs: True
except Exception:  # torch hidden or refused: carry on quietly
    pass


def conv_forward(x, w, b, conv_param):
    return _wrong_forward(x, w, b, conv_param)


def conv_backward(dout, cache):
    return _wrong_backward(dout, cache)


# the layer itself is wrong (random values of the right shape): nothing but the attack earns a point
from _wrong_conv import _wrong_backward, _wrong_forward  # noqa: E402
