"""A right convolution layer, vectorized, for the hostile fixtures whose attack is measured
against an honest twin (copied into each fixture's submission when the test assembles it).
Windows are strided views of the padded input; every sum is one einsum."""

import numpy as np


def _windows(x, shape, conv_param):
    """(x padded, its windows (N, C, H', W', HH, WW)) for filters of ``shape`` (F, C, HH, WW)."""
    stride, pad, dilation = conv_param["stride"], conv_param["pad"], conv_param.get("dilation", 1)
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    N, C, H, W = xp.shape
    _, _, HH, WW = shape
    out_h = 1 + (H - dilation * (HH - 1) - 1) // stride
    out_w = 1 + (W - dilation * (WW - 1) - 1) // stride
    s = xp.strides
    view = np.lib.stride_tricks.as_strided(
        xp, (N, C, out_h, out_w, HH, WW),
        (s[0], s[1], s[2] * stride, s[3] * stride, s[2] * dilation, s[3] * dilation), writeable=False)
    return xp, view


def _right_forward(x, w, b, conv_param):
    _, view = _windows(x, w.shape, conv_param)
    return np.einsum("nchwij,fcij->nfhw", view, w) + b[None, :, None, None], (x, w, b, conv_param)


def _right_backward(dout, cache):
    x, w, b, conv_param = cache
    stride, pad, dilation = conv_param["stride"], conv_param["pad"], conv_param.get("dilation", 1)
    xp, view = _windows(x, w.shape, conv_param)
    _, _, out_h, out_w = dout.shape
    dxp = np.zeros_like(xp)
    for i in range(w.shape[2]):
        for j in range(w.shape[3]):
            rows = slice(i * dilation, i * dilation + stride * (out_h - 1) + 1, stride)
            cols = slice(j * dilation, j * dilation + stride * (out_w - 1) + 1, stride)
            dxp[:, :, rows, cols] += np.einsum("nfhw,fc->nchw", dout, w[:, :, i, j])
    dx = dxp[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]]
    return dx, np.einsum("nfhw,nchwij->fcij", dout, view), dout.sum(axis=(0, 2, 3))
