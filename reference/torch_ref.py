"""Convolution and pooling through torch.nn.functional, gradients by autograd.

The same functions as numpy_loops and numpy_fast, with one more keyword,
``device`` ("cpu", "cuda" or "auto", see ``resolve_device``).  They take and
return numpy arrays; the work is done in float64 tensors on the device:

    conv:  F.conv2d(x, w, b, stride=S, padding=P, dilation=D)   (cross-correlation)
    max:   F.max_pool2d(x, (PH, PW), stride=S)
    avg:   F.avg_pool2d(x, (PH, PW), stride=S)

Convolution and average pooling keep their autograd graph in the cache
(a GraphCache) and the backward pass runs ``torch.autograd.grad`` on it,
retaining it, so a cache can be used more than once.

Max-pool ties: torch does not promise which of several equal maxima
``max_pool2d`` routes the gradient to, while the course's rule is
numpy.argmax's (the first maximum of the window read row by row).  So the
backward pass does not differentiate ``max_pool2d``: it unfolds the windows
and differentiates ``max(dim=...)`` over each one, which torch documents to
pick, and to send the gradient to, the first maximal element only (the same
rule); autograd takes dout back through the unfold, where overlapping windows
add up.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F_

from .params import as_dout, as_float, conv_output_shape, conv_settings, pool_output_shape, pool_settings

DEVICE_NAMES = ("cpu", "cuda", "auto")


def resolve_device(name="cpu") -> torch.device:
    """"cpu", "cuda" or "auto" (cuda when available, else cpu) as a torch.device.

    A torch.device is returned as is.  "cuda" on a machine without a usable
    CUDA device, and any other name, raise ValueError.
    """
    if isinstance(name, torch.device):
        return name
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                "device 'cuda' was asked for but torch sees no CUDA device on this machine "
                f"(torch {torch.__version__}); use --device cpu or --device auto"
            )
        return torch.device("cuda")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    raise ValueError(f"unknown device {name!r}; expected one of {', '.join(DEVICE_NAMES)}")


class GraphCache(NamedTuple):
    """What an autograd backward needs: the leaf tensors and the graph's output."""

    inputs: tuple  # leaf tensors: (x, w, b) for conv, (x,) for avg pooling
    out: torch.Tensor  # (N, F or C, H', W')


class MaxPoolCache(NamedTuple):
    """What max_pool_backward needs: the input tensor and the pooling settings."""

    x: torch.Tensor  # (N, C, H, W)
    pool_param: dict


def _tensor(a, device: torch.device, grad: bool = False) -> torch.Tensor:
    """A float64 copy of ``a`` on ``device`` (the caller's array is never shared)."""
    return torch.tensor(as_float(a), dtype=torch.float64, device=device, requires_grad=grad)


def _numpy(t: torch.Tensor) -> np.ndarray:
    """A float64 numpy copy of ``t`` (never shares memory with the cache)."""
    return t.detach().to("cpu", copy=True).numpy()


def _autograd(dout, cache: GraphCache) -> tuple[np.ndarray, ...]:
    """The gradients of sum(out * dout) with respect to the cache's inputs."""
    dout_t = _tensor(as_dout(dout, cache.out.shape), cache.out.device)
    grads = torch.autograd.grad(cache.out, cache.inputs, dout_t, retain_graph=True)
    return tuple(_numpy(g) for g in grads)


def conv_forward(x, w, b, conv_param, device="cpu"):
    """Forward pass of a convolutional layer via F.conv2d.

    Inputs:
    - x: (N, C, H, W);  w: (F, C, HH, WW);  b: (F,)
    - conv_param: dict with 'stride', 'pad' and optionally 'dilation' (default 1)
    - device: "cpu", "cuda", "auto" or a torch.device

    Returns (out, cache): out (N, F, H', W') numpy, cache a GraphCache.
    """
    dev = resolve_device(device)
    x_t, w_t, b_t = (_tensor(a, dev, grad=True) for a in (x, w, b))
    S, P, D = settings = conv_settings(conv_param)
    conv_output_shape(tuple(x_t.shape), tuple(w_t.shape), tuple(b_t.shape), settings)  # same checks as numpy
    out_t = F_.conv2d(x_t, w_t, b_t, stride=S, padding=P, dilation=D)
    return _numpy(out_t), GraphCache((x_t, w_t, b_t), out_t)


def conv_backward(dout, cache):
    """Backward pass of a convolutional layer by autograd.

    Inputs:
    - dout: (N, F, H', W')
    - cache: the GraphCache from conv_forward

    Returns (dx, dw, db): (N, C, H, W), (F, C, HH, WW), (F,) numpy arrays.
    """
    dx, dw, db = _autograd(dout, cache)
    return dx, dw, db


def max_pool_forward(x, pool_param, device="cpu"):
    """Forward pass of max pooling via F.max_pool2d.

    Inputs:
    - x: (N, C, H, W)
    - pool_param: dict with 'pool_height', 'pool_width', 'stride'
    - device: "cpu", "cuda", "auto" or a torch.device

    Returns (out, cache): out (N, C, H', W') numpy, cache a MaxPoolCache.
    """
    x_t = _tensor(x, resolve_device(device))
    PH, PW, S = settings = pool_settings(pool_param)
    pool_output_shape(tuple(x_t.shape), settings)
    out_t = F_.max_pool2d(x_t, (PH, PW), stride=S)
    return _numpy(out_t), MaxPoolCache(x_t, pool_param)


def max_pool_backward(dout, cache):
    """Backward pass of max pooling: dout to each window's first arg-max; overlaps add.

    Inputs:
    - dout: (N, C, H', W')
    - cache: the MaxPoolCache from max_pool_forward

    Returns dx: (N, C, H, W) numpy.
    """
    PH, PW, S = settings = pool_settings(cache.pool_param)
    N, C, H, W = cache.x.shape
    x_t = cache.x.detach().requires_grad_(True)
    dout_t = _tensor(as_dout(dout, pool_output_shape((N, C, H, W), settings)), x_t.device)
    # every window as a column, read row by row: (N*C, PH*PW, H'*W')
    cols = F_.unfold(x_t.reshape(N * C, 1, H, W), (PH, PW), stride=S)
    # max over dim 1 returns, and differentiates into, the first maximal index (torch's
    # documented rule, numpy.argmax's too); unfold's backward adds overlapping windows
    out_t = cols.max(dim=1).values  # (N*C, H'*W'), equal to max_pool2d's output
    (dx_t,) = torch.autograd.grad(out_t, x_t, dout_t.reshape(N * C, -1))
    return _numpy(dx_t)


def avg_pool_forward(x, pool_param, device="cpu"):
    """Forward pass of average pooling via F.avg_pool2d.

    Inputs:
    - x: (N, C, H, W)
    - pool_param: dict with 'pool_height', 'pool_width', 'stride'
    - device: "cpu", "cuda", "auto" or a torch.device

    Returns (out, cache): out (N, C, H', W') numpy, cache a GraphCache.
    """
    x_t = _tensor(x, resolve_device(device), grad=True)
    PH, PW, S = settings = pool_settings(pool_param)
    pool_output_shape(tuple(x_t.shape), settings)
    out_t = F_.avg_pool2d(x_t, (PH, PW), stride=S)
    return _numpy(out_t), GraphCache((x_t,), out_t)


def avg_pool_backward(dout, cache):
    """Backward pass of average pooling by autograd through F.avg_pool2d.

    Inputs:
    - dout: (N, C, H', W')
    - cache: the GraphCache from avg_pool_forward

    Returns dx: (N, C, H, W) numpy.
    """
    (dx,) = _autograd(dout, cache)
    return dx
