# Test fixture pool_keepdims_into_element: max_pool_forward puts np.max(window, keepdims=True), a (1, 1)
# array, into one element of out (NumPy 2.4 refuses it on every case), and max_pool_backward assigns (=)
# each window's share where overlapping windows must add it: wrong wherever windows overlap.
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
    out = np.zeros((N, C, H_out, W_out))

    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    window = x[n, c, i * stride:i * stride + ph, j * stride:j * stride + pw]
                    out[n, c, i, j] = np.max(window, keepdims=True)

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

    for i in range(H_out):
        for j in range(W_out):
            top, left = i * stride, j * stride
            window = x[:, :, top:top + ph, left:left + pw].reshape(N, C, ph * pw)
            first_max = window.argmax(axis=2)  # (N, C): flat index of the max in each window
            # one-hot mask of the max, (N, C, ph, pw)
            mask = (np.arange(ph * pw) == first_max[:, :, None]).reshape(N, C, ph, pw)
            # += : overlapping windows each add their share
            dx[:, :, top:top + ph, left:left + pw] = mask * dout[:, :, i, j][:, :, None, None]

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
