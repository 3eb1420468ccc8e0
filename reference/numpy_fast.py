"""Convolution and pooling, vectorized: im2col forward, col2im backward.

im2col lays every receptive field out as one column:

    windows(xpad)[n, c, i, j, k, l] = xpad[n, c, i*S + k*D, j*S + l*D]      (a view, no copy)
    X_col  (C*HH*WW, N*H'*W')  = windows moved to (c, k, l | n, i, j) order
    W_row  (F, C*HH*WW)        = w reshaped
    out    = W_row @ X_col + b                                              (F, N*H'*W')

and the backward pass is the same product read the other way round, with
dout_F (F, N*H'*W') = dout moved to (f | n, i, j) order:

    dW_row = dout_F @ X_col.T,   dX_col = W_row.T @ dout_F,   db = dout_F summed over its columns
    dx     = col2im(dX_col): every window's gradient added back where it came from

col2im loops over the HH*WW kernel offsets only: for one offset (k, l) the
windows touch distinct pixels xpad[:, :, k*D::S, l*D::S], so a strided slice
``+=`` is exact, and overlapping windows accumulate across offsets.  Pooling
uses the same two helpers, with each window's elements laid out first
(``pool_windows``), so that reducing over a window is a reduction over axis 0.  Everything is float64; inputs are never written to.

Caches: conv (x, w, b, conv_param, X_col); max pool (x, pool_param, slabs,
out); avg pool (x, pool_param).  Their first entries are the forward's
inputs, as in numpy_loops.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .params import as_dout, as_float, conv_output_shape, conv_settings, pool_output_shape, pool_settings


def windows(x_pad, kernel_height, kernel_width, stride=1, dilation=1):
    """Every receptive field of x_pad, as a read-only view (no copy).

    Inputs:
    - x_pad: (N, C, Hp, Wp), already padded
    - kernel_height, kernel_width: HH, WW;  stride: S;  dilation: D

    Returns (N, C, H', W', HH, WW) with [n, c, i, j, k, l] = x_pad[n, c, i*S + k*D, j*S + l*D],
    H' = 1 + (Hp - D(HH-1) - 1) // S.
    """
    extent = (dilation * (kernel_height - 1) + 1, dilation * (kernel_width - 1) + 1)
    view = sliding_window_view(x_pad, extent, axis=(2, 3))  # (N, C, Hp-eh+1, Wp-ew+1, eh, ew)
    return view[:, :, ::stride, ::stride, ::dilation, ::dilation]


def col2im(dwindows, padded_shape, stride=1, dilation=1):
    """The adjoint of ``windows``: add every window's gradient back onto the input.

    Inputs:
    - dwindows: (N, C, H', W', HH, WW) gradient of each window's elements
    - padded_shape: (N, C, Hp, Wp), the shape ``windows`` was taken from

    Returns dx_pad (N, C, Hp, Wp): dx_pad[n, c, i*S + k*D, j*S + l*D] += dwindows[n, c, i, j, k, l].
    """
    _, _, H_out, W_out, HH, WW = dwindows.shape
    dx_pad = np.zeros(padded_shape)
    for k in range(HH):
        for l in range(WW):
            top, left = k * dilation, l * dilation
            # for a fixed offset (k, l) the windows' pixels are all distinct: a plain += is exact
            dx_pad[:, :, top:top + stride * (H_out - 1) + 1:stride, left:left + stride * (W_out - 1) + 1:stride] += (
                dwindows[:, :, :, :, k, l]
            )
    return dx_pad


def _pad(x: np.ndarray, pad: int) -> np.ndarray:
    """x (N, C, H, W) -> (N, C, H + 2P, W + 2P), zeros on every side."""
    return np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x


def conv_forward(x, w, b, conv_param):
    """Forward pass of a convolutional layer (cross-correlation, no kernel flip).

    Inputs:
    - x: (N, C, H, W) input
    - w: (F, C, HH, WW) filters
    - b: (F,) biases
    - conv_param: dict with 'stride', 'pad' and optionally 'dilation' (default 1)

    Returns (out, cache):
    - out: (N, F, H', W'), H' = 1 + (H + 2P - D(HH-1) - 1) // S, likewise W'
    - cache: (x, w, b, conv_param, X_col), X_col (C*HH*WW, N*H'*W')
    """
    x, w, b = as_float(x), as_float(w), as_float(b)
    S, P, D = settings = conv_settings(conv_param)
    N, F, H_out, W_out = conv_output_shape(x.shape, w.shape, b.shape, settings)
    _, C, HH, WW = w.shape
    fields = windows(_pad(x, P), HH, WW, S, D)  # (N, C, H', W', HH, WW)
    X_col = fields.transpose(1, 4, 5, 0, 2, 3).reshape(C * HH * WW, N * H_out * W_out)
    out_F = w.reshape(F, -1) @ X_col  # W_row @ X_col: (F, N*H'*W')
    out = np.ascontiguousarray(out_F.reshape(F, N, H_out, W_out).transpose(1, 0, 2, 3))
    out += b[:, None, None]  # out is our own new array
    return out, (x, w, b, conv_param, X_col)


def conv_backward(dout, cache):
    """Backward pass of a convolutional layer.

    Inputs:
    - dout: (N, F, H', W') upstream derivatives
    - cache: (x, w, b, conv_param, X_col) as returned by conv_forward

    Returns (dx, dw, db): (N, C, H, W), (F, C, HH, WW), (F,).
    """
    x, w, b, conv_param, X_col = cache
    S, P, D = settings = conv_settings(conv_param)
    dout = as_dout(dout, conv_output_shape(x.shape, w.shape, b.shape, settings))
    N, F, H_out, W_out = dout.shape
    _, C, HH, WW = w.shape
    _, _, H, W = x.shape
    dout_F = dout.transpose(1, 0, 2, 3).reshape(F, -1)  # (F, N*H'*W')
    db = dout_F.sum(axis=1)  # db[f] = sum_{n,i,j} dout[n, f, i, j]
    dw = (dout_F @ X_col.T).reshape(w.shape)  # dW_row = dout_F @ X_col.T
    dX_col = w.reshape(F, -1).T @ dout_F  # (C*HH*WW, N*H'*W')
    dfields = dX_col.reshape(C, HH, WW, N, H_out, W_out).transpose(3, 0, 4, 5, 1, 2)  # (N, C, H', W', HH, WW)
    dx_pad = col2im(dfields, (N, C, H + 2 * P, W + 2 * P), S, D)
    return dx_pad[:, :, P:P + H, P:P + W], dw, db


def pool_windows(x, pool_height, pool_width, stride):
    """The pooling windows of x, element by element (a copy).

    Inputs:
    - x: (N, C, H, W);  pool_height, pool_width: PH, PW;  stride: S

    Returns (PH*PW, N, C, H', W'): slab m holds element m of every window, the
    window read row by row (m = k*PW + l is x[n, c, i*S + k, j*S + l]).
    """
    fields = windows(x, pool_height, pool_width, stride)  # (N, C, H', W', PH, PW)
    return fields.transpose(4, 5, 0, 1, 2, 3).reshape(pool_height * pool_width, *fields.shape[:4])


def pool_col2im(dslabs, x_shape, pool_height, pool_width, stride):
    """The adjoint of ``pool_windows``: dslabs (PH*PW, N, C, H', W') -> dx (N, C, H, W), overlaps added."""
    dfields = dslabs.reshape(pool_height, pool_width, *dslabs.shape[1:]).transpose(2, 3, 4, 5, 0, 1)
    return col2im(dfields, x_shape, stride)


def max_pool_forward(x, pool_param):
    """Forward pass of max pooling (no padding).

    Inputs:
    - x: (N, C, H, W)
    - pool_param: dict with 'pool_height', 'pool_width', 'stride'

    Returns (out, cache):
    - out: (N, C, H', W'), H' = 1 + (H - pool_height) // stride, likewise W'
    - cache: (x, pool_param, slabs, out), slabs = pool_windows(x) (PH*PW, N, C, H', W')
    """
    x = as_float(x)
    PH, PW, S = settings = pool_settings(pool_param)
    pool_output_shape(x.shape, settings)  # checks the window fits
    slabs = pool_windows(x, PH, PW, S)
    out = slabs.max(axis=0)
    return out, (x, pool_param, slabs, out.copy())


def max_pool_backward(dout, cache):
    """Backward pass of max pooling: each window's dout goes to its arg-max; overlaps add.

    The arg-max is the first maximum of the window read row by row, as
    numpy.argmax picks it when several elements tie.

    Inputs:
    - dout: (N, C, H', W')
    - cache: (x, pool_param, slabs, out) as returned by max_pool_forward

    Returns dx: (N, C, H, W)
    """
    x, pool_param, slabs, out = cache
    PH, PW, S = settings = pool_settings(pool_param)
    dout = as_dout(dout, pool_output_shape(x.shape, settings))
    dslabs = np.empty(slabs.shape)
    taken = np.zeros(out.shape, dtype=bool)  # windows whose maximum was already met
    for m in range(PH * PW):  # window elements in row-major order
        first = (slabs[m] == out) & ~taken
        taken |= first
        dslabs[m] = first * dout
    return pool_col2im(dslabs, x.shape, PH, PW, S)


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
    pool_output_shape(x.shape, settings)  # checks the window fits
    return pool_windows(x, PH, PW, S).mean(axis=0), (x, pool_param)


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
    share = np.broadcast_to(dout / (PH * PW), (PH * PW, *dout.shape))
    return pool_col2im(share, x.shape, PH, PW, S)
