# Test fixture pool_im2col_width_by_height: max pooling through an im2col helper whose assertion checks
# the width with the window's height, (W - field_height) % stride == 0 (the bug of cs231n's own
# im2col_indices): it refuses a 2x3 window with stride 2 on a width of 9, a case that fits exactly.
"""Max and average pooling layers: forward and backward passes in numpy.

Pooling has no padding:  out[n, c, i, j] = max (or mean) of
x[n, c, i*S : i*S + pool_height, j*S : j*S + pool_width], with S the stride.
Windows may overlap (stride smaller than the window); their gradients add up.

The loops run over output positions; each step handles the whole batch and
all channels at once with numpy.
"""

import numpy as np


def _output_size(x, pool_param):
    """(pool_height, pool_width, stride, H', W') for input x (N, C, H, W)."""
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    _, _, H, W = x.shape
    H_out = 1 + (H - ph) // stride
    W_out = 1 + (W - pw) // stride
    return ph, pw, stride, H_out, W_out


def _columns(x, field_height, field_width, stride):
    """Every window of x as a column: (N, C, field_height * field_width, H' * W')."""
    N, C, H, W = x.shape
    assert (H - field_height) % stride == 0
    assert (W - field_height) % stride == 0
    H_out = (H - field_height) // stride + 1
    W_out = (W - field_width) // stride + 1
    cols = np.empty((N, C, field_height * field_width, H_out * W_out))
    for i in range(H_out):
        for j in range(W_out):
            window = x[:, :, i * stride:i * stride + field_height, j * stride:j * stride + field_width]
            cols[:, :, :, i * W_out + j] = window.reshape(N, C, -1)
    return cols


def max_pool_forward(x, pool_param):
    """Forward pass of max pooling.

    Inputs:
    - x: input data, shape (N, C, H, W)
    - pool_param: dict with 'pool_height', 'pool_width' and 'stride'

    Returns a tuple (out, cache):
    - out: output data, shape (N, C, H', W') where
        H' = 1 + (H - pool_height) // stride
        W' = 1 + (W - pool_width) // stride
    - cache: (x, pool_param), for max_pool_backward
    """
    ph, pw, stride, H_out, W_out = _output_size(x, pool_param)
    N, C, _, _ = x.shape
    out = _columns(x, ph, pw, stride).max(axis=2).reshape(N, C, H_out, W_out)

    cache = (x, pool_param)
    return out, cache


def max_pool_backward(dout, cache):
    """Backward pass of max pooling.

    Each window's upstream derivative goes to the window's maximum.  When
    several elements tie for the maximum, it goes to the first of them in
    row-major order (what np.argmax picks).

    Inputs:
    - dout: upstream derivatives, shape (N, C, H', W')
    - cache: (x, pool_param) as returned by max_pool_forward

    Returns:
    - dx: gradient with respect to x, shape (N, C, H, W)
    """
    x, pool_param = cache
    ph, pw, stride, H_out, W_out = _output_size(x, pool_param)
    N, C, _, _ = x.shape
    dx = np.zeros(x.shape)
    cols = _columns(x, ph, pw, stride)

    for i in range(H_out):
        for j in range(W_out):
            top, left = i * stride, j * stride
            first_max = cols[:, :, :, i * W_out + j].argmax(axis=2)  # (N, C): flat index of the max
            # one-hot mask of the max, (N, C, ph, pw)
            mask = (np.arange(ph * pw) == first_max[:, :, None]).reshape(N, C, ph, pw)
            # += : overlapping windows each add their share
            dx[:, :, top:top + ph, left:left + pw] += mask * dout[:, :, i, j][:, :, None, None]

    return dx


def avg_pool_forward(x, pool_param):
    """Forward pass of average pooling.

    Inputs:
    - x: input data, shape (N, C, H, W)
    - pool_param: dict with 'pool_height', 'pool_width' and 'stride'

    Returns a tuple (out, cache):
    - out: output data, shape (N, C, H', W') (same sizes as max pooling)
    - cache: (x, pool_param), for avg_pool_backward
    """
    ph, pw, stride, H_out, W_out = _output_size(x, pool_param)
    N, C, _, _ = x.shape
    out = np.zeros((N, C, H_out, W_out))

    for i in range(H_out):
        for j in range(W_out):
            window = x[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw]
            out[:, :, i, j] = window.mean(axis=(2, 3))

    cache = (x, pool_param)
    return out, cache


def avg_pool_backward(dout, cache):
    """Backward pass of average pooling.

    Every element of a window contributed 1 / (pool_height * pool_width) of
    the window's output, so it receives that share of the window's dout.

    Inputs:
    - dout: upstream derivatives, shape (N, C, H', W')
    - cache: (x, pool_param) as returned by avg_pool_forward

    Returns:
    - dx: gradient with respect to x, shape (N, C, H, W)
    """
    x, pool_param = cache
    ph, pw, stride, H_out, W_out = _output_size(x, pool_param)
    dx = np.zeros(x.shape)

    for i in range(H_out):
        for j in range(W_out):
            share = dout[:, :, i, j] / (ph * pw)  # (N, C)
            dx[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw] += share[:, :, None, None]

    return dx
