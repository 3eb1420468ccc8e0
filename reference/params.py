"""Reading ``conv_param`` and ``pool_param``, and the output sizes they give.

Shared by every reference implementation, so that all of them accept and
reject exactly the same inputs.  Along one spatial dimension (course notes,
PyTorch's ``nn.Conv2d``):

    H' = 1 + (H + 2P - D(HH-1) - 1) // S

Pooling is the same formula with P = 0 and D = 1.  Bad settings raise
ValueError naming the bad value.
"""

from __future__ import annotations

import operator
from typing import Any, Mapping, NamedTuple

import numpy as np


class ConvSettings(NamedTuple):
    stride: int
    pad: int
    dilation: int


class PoolSettings(NamedTuple):
    pool_height: int
    pool_width: int
    stride: int


def _int(params: Mapping[str, Any], name: str, minimum: int, default: int | None = None) -> int:
    if name not in params:
        if default is None:
            raise ValueError(f"missing {name!r} (got the keys {sorted(params)})")
        return default
    value = params[name]
    try:
        if isinstance(value, bool):
            raise TypeError
        number = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an integer, got {value!r}") from None
    if number < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {number}")
    return int(number)


def conv_settings(conv_param: Mapping[str, Any]) -> ConvSettings:
    """(stride, pad, dilation) from a cs231n ``conv_param``; dilation defaults to 1."""
    return ConvSettings(
        stride=_int(conv_param, "stride", 1),
        pad=_int(conv_param, "pad", 0),
        dilation=_int(conv_param, "dilation", 1, default=1),
    )


def pool_settings(pool_param: Mapping[str, Any]) -> PoolSettings:
    """(pool_height, pool_width, stride) from a cs231n ``pool_param``."""
    return PoolSettings(
        pool_height=_int(pool_param, "pool_height", 1),
        pool_width=_int(pool_param, "pool_width", 1),
        stride=_int(pool_param, "stride", 1),
    )


def out_size(size: int, kernel: int, stride: int, pad: int = 0, dilation: int = 1) -> int:
    """1 + (size + 2P - D(K-1) - 1) // S; ValueError when the kernel does not fit."""
    extent = dilation * (kernel - 1) + 1
    if extent > size + 2 * pad:
        raise ValueError(
            f"the window (extent D(K-1)+1 = {extent}) is larger than the padded input (W+2P = {size + 2 * pad})"
        )
    return 1 + (size + 2 * pad - extent) // stride


def conv_output_shape(x_shape: tuple[int, ...], w_shape: tuple[int, ...], b_shape: tuple[int, ...],
                      settings: ConvSettings) -> tuple[int, int, int, int]:
    """(N, F, H', W') for x (N, C, H, W), w (F, C, HH, WW), b (F,); checks they agree."""
    if len(x_shape) != 4 or len(w_shape) != 4:
        raise ValueError(f"x and w must have 4 dimensions, got shapes {x_shape} and {w_shape}")
    N, C, H, W = x_shape
    F, C_w, HH, WW = w_shape
    if C_w != C:
        raise ValueError(f"x has {C} channels but w expects {C_w} (x {x_shape}, w {w_shape})")
    if tuple(b_shape) != (F,):
        raise ValueError(f"b must have shape ({F},) to match w {w_shape}, got {b_shape}")
    S, P, D = settings
    return N, F, out_size(H, HH, S, P, D), out_size(W, WW, S, P, D)


def pool_output_shape(x_shape: tuple[int, ...], settings: PoolSettings) -> tuple[int, int, int, int]:
    """(N, C, H', W') for x (N, C, H, W) pooled without padding."""
    if len(x_shape) != 4:
        raise ValueError(f"x must have 4 dimensions, got shape {x_shape}")
    N, C, H, W = x_shape
    PH, PW, S = settings
    return N, C, out_size(H, PH, S), out_size(W, PW, S)


def as_float(a: Any) -> np.ndarray:
    """``a`` as a float64 array (``a`` itself when it already is one; never written to)."""
    return np.asarray(a, dtype=np.float64)


def as_dout(dout: Any, shape: tuple[int, ...]) -> np.ndarray:
    """The upstream derivative as a float64 array; ValueError unless it has the output's shape."""
    dout = as_float(dout)
    if dout.shape != tuple(shape):
        raise ValueError(f"dout must have the forward output's shape {tuple(shape)}, got {dout.shape}")
    return dout
