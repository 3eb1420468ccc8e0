# Test fixture d2l_uses_conv2d: corr2d hands the work to torch's own conv2d (through a helper), and pool2d
# to nn.MaxPool2d / nn.AvgPool2d: right values, not the student's loops.
import torch
from torch import nn
from torch.nn import functional as F


def _correlate(X, K):
    return F.conv2d(X[None, None], K[None, None])[0, 0]


def corr2d(X, K):
    """Two-dimensional cross-correlation."""
    return _correlate(X, K)


def pool2d(X, pool_size, mode='max'):
    layer = nn.MaxPool2d(pool_size, stride=1) if mode == 'max' else nn.AvgPool2d(pool_size, stride=1)
    return layer(X[None, None])[0, 0]
