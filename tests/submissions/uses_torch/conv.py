# Test fixture uses_torch: conv.py computes the layer with torch.nn.functional.conv2d and autograd (integrity violation).
"""Convolutional layer, forward and backward, with PyTorch (not allowed: numpy only)."""

import numpy as np
import torch
import torch.nn.functional as TF


def conv_forward(x, w, b, conv_param):
    """x (N, C, H, W), w (F, C, HH, WW), b (F,) -> (out (N, F, H', W'), cache)."""
    out = TF.conv2d(torch.from_numpy(np.asarray(x, dtype=np.float64)),
                    torch.from_numpy(np.asarray(w, dtype=np.float64)),
                    torch.from_numpy(np.asarray(b, dtype=np.float64)),
                    stride=conv_param["stride"], padding=conv_param["pad"],
                    dilation=conv_param.get("dilation", 1))
    return out.numpy(), (x, w, b, conv_param)


def conv_backward(dout, cache):
    """dout (N, F, H', W') -> (dx, dw, db), by autograd."""
    x, w, b, conv_param = cache
    xt, wt, bt = (torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in (x, w, b))
    out = TF.conv2d(xt, wt, bt, stride=conv_param["stride"], padding=conv_param["pad"],
                    dilation=conv_param.get("dilation", 1))
    out.backward(torch.from_numpy(np.asarray(dout, dtype=np.float64)))
    return xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()
