from builtins import range
import numpy as np


def pad_input(x, pad):
    """Zero-pad the two spatial dimensions of x (N, C, H, W) by `pad` on every side.

    Returns an array of shape (N, C, H + 2 * pad, W + 2 * pad).
    """
    return np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")


def output_size(size, window, stride, pad=0):
    """Number of window positions along one dimension: 1 + (size + 2 * pad - window) // stride."""
    return 1 + (size + 2 * pad - window) // stride
