# Test fixture conv_dx_last_image_only: conv_backward builds each image's padded gradient in its own array
# but copies it into dx after the loop over the images: only the last image's dx is written.
"""Convolutional layer: forward and backward passes in numpy.

The layer computes a cross-correlation (the filters are not flipped), as every
CNN library does:

    out[n, f, i, j] = b[f] + sum_{c, k, l} w[f, c, k, l] * xpad[n, c, i*S + k*D, j*S + l*D]

where xpad is x with `pad` zeros on every side, S the stride and D the dilation.

The loops run over output positions; each step handles the whole batch, all
filters and all channels at once with numpy.
"""

import numpy as np


def _settings(conv_param):
    """(stride, pad, dilation) from conv_param; dilation defaults to 1."""
    return conv_param["stride"], conv_param["pad"], conv_param.get("dilation", 1)


def conv_forward(x, w, b, conv_param):
    """Forward pass of a convolutional layer.

    Inputs:
    - x: input data, shape (N, C, H, W)
    - w: filter weights, shape (F, C, HH, WW)
    - b: biases, shape (F,)
    - conv_param: dict with
      - 'stride': step between neighbouring windows, in pixels
      - 'pad': number of zeros added on every side of x (top, bottom, left, right)
      - 'dilation' (optional, default 1): distance between the filter's taps

    Returns a tuple (out, cache):
    - out: output data, shape (N, F, H', W') where
        H' = 1 + (H + 2 * pad - dilation * (HH - 1) - 1) // stride
        W' = 1 + (W + 2 * pad - dilation * (WW - 1) - 1) // stride
    - cache: (x, w, b, conv_param), for conv_backward
    """
    stride, pad, dilation = _settings(conv_param)
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape

    # extent of a (dilated) filter on the input
    span_h = dilation * (HH - 1) + 1
    span_w = dilation * (WW - 1) + 1
    H_out = 1 + (H + 2 * pad - span_h) // stride
    W_out = 1 + (W + 2 * pad - span_w) // stride

    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")
    out = np.zeros((N, F, H_out, W_out))

    for i in range(H_out):
        for j in range(W_out):
            top, left = i * stride, j * stride
            # window: (N, C, HH, WW), the input pixels this output position sees
            window = x_pad[:, :, top:top + span_h:dilation, left:left + span_w:dilation]
            # contract over (C, HH, WW): (N, C, HH, WW) x (F, C, HH, WW) -> (N, F)
            out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3]))

    out += b.reshape(1, F, 1, 1)
    cache = (x, w, b, conv_param)
    return out, cache


def conv_backward(dout, cache):
    """Backward pass of a convolutional layer.

    Inputs:
    - dout: upstream derivatives, shape (N, F, H', W')
    - cache: (x, w, b, conv_param) as returned by conv_forward

    Returns a tuple (dx, dw, db):
    - dx: gradient with respect to x, shape (N, C, H, W)
    - dw: gradient with respect to w, shape (F, C, HH, WW)
    - db: gradient with respect to b, shape (F,)
    """
    x, w, b, conv_param = cache
    stride, pad, dilation = _settings(conv_param)
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    _, _, H_out, W_out = dout.shape

    span_h = dilation * (HH - 1) + 1
    span_w = dilation * (WW - 1) + 1

    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")
    dx_pad = np.zeros(x_pad.shape)
    dw = np.zeros(w.shape)

    for n in range(N):
        dx_pad_n = np.zeros(x_pad.shape[1:])  # this image's padded gradient
        for i in range(H_out):
            for j in range(W_out):
                top, left = i * stride, j * stride
                rows = slice(top, top + span_h, dilation)
                cols = slice(left, left + span_w, dilation)
                g = dout[n, :, i, j]  # (F,): upstream derivative of each filter here
                # out[n, f, i, j] = b[f] + sum(w[f] * window), so
                #   d out / d w[f] = window   and   d out / d window = w[f]
                dw += g.reshape(F, 1, 1, 1) * x_pad[n, :, rows, cols]
                dx_pad_n[:, rows, cols] += np.tensordot(g, w, axes=(0, 0))  # (C, HH, WW)

    # every output of filter f has b[f] added once
    db = dout.sum(axis=(0, 2, 3))
    # the padding is not part of x: drop its gradient
    dx = np.zeros(x.shape)
    dx[n] = dx_pad_n[:, pad:pad + H, pad:pad + W]
    return dx, dw, db
