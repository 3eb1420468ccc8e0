"""Convolution and pooling with plain loops: the readable reference.

One loop iteration per output number, as in the course notes.  Slow, but
each line can be checked against the formulas:

    conv:  out[n, f, i, j] = b[f] + sum_{c,k,l} w[f, c, k, l] * xpad[n, c, i*S + k*D, j*S + l*D]
    max:   out[n, c, i, j] = max_{k,l} x[n, c, i*S + k, j*S + l]
    avg:   out[n, c, i, j] = mean_{k,l} x[n, c, i*S + k, j*S + l]

where xpad is x with P zeros on every side.  Everything is computed in
float64; inputs are never written to.  The caches are cs231n's:
(x, w, b, conv_param) and (x, pool_param).
"""

from __future__ import annotations

import numpy as np

from .params import as_dout, as_float, conv_output_shape, conv_settings, pool_output_shape, pool_settings


def _pad(x: np.ndarray, pad: int) -> np.ndarray:
    """x (N, C, H, W) -> (N, C, H + 2P, W + 2P), zeros on every side."""
    return np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))


def conv_forward(x, w, b, conv_param):
    """Forward pass of a convolutional layer (cross-correlation, no kernel flip).

    Inputs:
    - x: (N, C, H, W) input
    - w: (F, C, HH, WW) filters
    - b: (F,) biases
    - conv_param: dict with 'stride', 'pad' and optionally 'dilation' (default 1)

    Returns (out, cache):
    - out: (N, F, H', W'), H' = 1 + (H + 2P - D(HH-1) - 1) // S, likewise W'
    - cache: (x, w, b, conv_param)
    """
    x, w, b = as_float(x), as_float(w), as_float(b)
    S, P, D = settings = conv_settings(conv_param)
    N, F, H_out, W_out = conv_output_shape(x.shape, w.shape, b.shape, settings)
    _, _, HH, WW = w.shape
    x_pad = _pad(x, P)
    out = np.zeros((N, F, H_out, W_out))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    # the window's rows i*S, i*S + D, ..., i*S + D(HH-1); columns likewise
                    window = x_pad[n, :, i * S:i * S + D * (HH - 1) + 1:D, j * S:j * S + D * (WW - 1) + 1:D]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    return out, (x, w, b, conv_param)


def conv_backward(dout, cache):
    """Backward pass of a convolutional layer.

    Inputs:
    - dout: (N, F, H', W') upstream derivatives
    - cache: (x, w, b, conv_param) as returned by conv_forward

    Returns (dx, dw, db): (N, C, H, W), (F, C, HH, WW), (F,).
    """
    x, w, b, conv_param = cache
    S, P, D = settings = conv_settings(conv_param)
    dout = as_dout(dout, conv_output_shape(x.shape, w.shape, b.shape, settings))
    N, F, H_out, W_out = dout.shape
    _, _, HH, WW = w.shape
    _, _, H, W = x.shape
    x_pad = _pad(x, P)
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    rows = slice(i * S, i * S + D * (HH - 1) + 1, D)
                    cols = slice(j * S, j * S + D * (WW - 1) + 1, D)
                    # out[n,f,i,j] = b[f] + sum(w[f] * window), so
                    # d/dw[f] = window and d/dwindow = w[f], times the upstream dout
                    dw[f] += dout[n, f, i, j] * x_pad[n, :, rows, cols]
                    dx_pad[n, :, rows, cols] += dout[n, f, i, j] * w[f]
    db = dout.sum(axis=(0, 2, 3))  # db[f] = sum_{n,i,j} dout[n, f, i, j]
    dx = dx_pad[:, :, P:P + H, P:P + W]  # the padding's gradient is dropped
    return dx, dw, db


def max_pool_forward(x, pool_param):
    """Forward pass of max pooling (no padding).

    Inputs:
    - x: (N, C, H, W)
    - pool_param: dict with 'pool_height', 'pool_width', 'stride'

    Returns (out, cache):
    - out: (N, C, H', W'), H' = 1 + (H - pool_height) // stride, likewise W'
    - cache: (x, pool_param)
    """
    x = as_float(x)
    PH, PW, S = settings = pool_settings(pool_param)
    N, C, H_out, W_out = pool_output_shape(x.shape, settings)
    out = np.zeros((N, C, H_out, W_out))
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    out[n, c, i, j] = np.max(x[n, c, i * S:i * S + PH, j * S:j * S + PW])
    return out, (x, pool_param)


def max_pool_backward(dout, cache):
    """Backward pass of max pooling.

    Each window's upstream derivative goes to its arg-max: the first maximum of
    the window read row by row (numpy.argmax's rule when several elements tie).
    Overlapping windows add up.

    Inputs:
    - dout: (N, C, H', W')
    - cache: (x, pool_param) as returned by max_pool_forward

    Returns dx: (N, C, H, W)
    """
    x, pool_param = cache
    PH, PW, S = settings = pool_settings(pool_param)
    dout = as_dout(dout, pool_output_shape(x.shape, settings))
    N, C, H_out, W_out = dout.shape
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    window = x[n, c, i * S:i * S + PH, j * S:j * S + PW]
                    k, l = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, i * S + k, j * S + l] += dout[n, c, i, j]
    return dx


def avg_pool_forward(x, pool_param):
    """Forward pass of average pooling (no padding).

    Inputs:
    - x: (N, C, H, W)
    - pool_param: dict with 'pool_height', 'pool_width', 'stride'

    Returns (out, cache):
    - out: (N, C, H', W'), H' = 1 + (H - pool_height) // stride, likewise W'
    - cache: (x, pool_param)
    """
    x = as_float(x)
    PH, PW, S = settings = pool_settings(pool_param)
    N, C, H_out, W_out = pool_output_shape(x.shape, settings)
    out = np.zeros((N, C, H_out, W_out))
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    out[n, c, i, j] = np.mean(x[n, c, i * S:i * S + PH, j * S:j * S + PW])
    return out, (x, pool_param)


def avg_pool_backward(dout, cache):
    """Backward pass of average pooling: each window's dout / (PH * PW) to all of it.

    Inputs:
    - dout: (N, C, H', W')
    - cache: (x, pool_param) as returned by avg_pool_forward

    Returns dx: (N, C, H, W)
    """
    x, pool_param = cache
    PH, PW, S = settings = pool_settings(pool_param)
    dout = as_dout(dout, pool_output_shape(x.shape, settings))
    N, C, H_out, W_out = dout.shape
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    dx[n, c, i * S:i * S + PH, j * S:j * S + PW] += dout[n, c, i, j] / (PH * PW)
    return dx
