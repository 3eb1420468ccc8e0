"""The d2l layout's truth: *Dive into Deep Learning*'s convolution chapter in numpy float64.

The functions students write (``corr2d``, ``corr2d_multi_in``, ``corr2d_multi_in_out``,
``corr2d_multi_in_out_1x1``, ``pool2d``) all reduce to one multi-channel cross-correlation

    Y[o, i, j] = sum_{c, a, b} K[o, c, a, b] * Xpad[c, i*s_h + a, j*s_w + b]

and its gradients for an upstream ``G`` (shaped like Y)

    dK[o, c, a, b] = sum_{i, j} G[o, i, j] * Xpad[c, i*s_h + a, j*s_w + b]
    dX[c, i*s_h + a, j*s_w + b] += sum_o G[o, i, j] * K[o, c, a, b]     (then the padding cut off)

The 1x1 convolution is computed as d2l teaches it, a matrix product ``K (c_o, c_i) @ X (c_i, h*w)``,
so that grading it checks that equivalence.  Pooling takes the max (padding with -inf, as
``torch.nn.functional.max_pool2d``) or the mean over the full window (zero padding counted,
``avg_pool2d``'s default).  ``stride`` and ``padding`` default to the book's 1 and 0.

``WRONG`` is the catalogue of the d2l bugs students write, each with its message (the same
words as ``reference.wrong`` where the bug is the same).  Everything here runs in the grader's
process, never in a child that runs student code; tests/d2l checks it against torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

FUNCTIONS = ("corr2d", "corr2d_multi_in", "corr2d_multi_in_out", "corr2d_multi_in_out_1x1", "pool2d")


def pair(value) -> tuple[int, int]:
    """``2`` or ``(2, 3)`` as a (height, width) pair."""
    if isinstance(value, (tuple, list)):
        return int(value[0]), int(value[1])
    return int(value), int(value)


def _windows(X: np.ndarray, kh: int, kw: int, stride, padding, fill: float = 0.0) -> np.ndarray:
    """(C, H', W', kh, kw): every window of the padded X (C, H, W)."""
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    padded = np.pad(np.asarray(X, dtype=np.float64), ((0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    return sliding_window_view(padded, (kh, kw), axis=(1, 2))[:, ::sh, ::sw]


def correlate(X: np.ndarray, K: np.ndarray, stride=1, padding=0) -> np.ndarray:
    """Y (O, H', W') from X (C, H, W) and K (O, C, kh, kw): the formula of the module docstring."""
    K = np.asarray(K, dtype=np.float64)
    return np.einsum("cijab,ocab->oij", _windows(X, *K.shape[2:], stride, padding), K)


def correlate_grads(X: np.ndarray, K: np.ndarray, G: np.ndarray, stride=1, padding=0):
    """(dX, dK) of ``sum(G * correlate(X, K))``: the formulas of the module docstring."""
    X, K, G = (np.asarray(a, dtype=np.float64) for a in (X, K, G))
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    kh, kw = K.shape[2:]
    dK = np.einsum("cijab,oij->ocab", _windows(X, kh, kw, stride, padding), G)
    dXpad = np.zeros((X.shape[0], X.shape[1] + 2 * ph, X.shape[2] + 2 * pw))
    H_out, W_out = G.shape[1:]
    for a in range(kh):
        for b in range(kw):
            dXpad[:, a:a + sh * (H_out - 1) + 1:sh, b:b + sw * (W_out - 1) + 1:sw] += np.einsum(
                "oij,oc->cij", G, K[:, :, a, b])
    return dXpad[:, ph:ph + X.shape[1], pw:pw + X.shape[2]], dK


# ---------------------------------------------------------------- the book's functions


def corr2d(X, K, stride=1, padding=0) -> np.ndarray:
    """Y (h - kh + 1, w - kw + 1) from X (h, w) and K (kh, kw)."""
    return correlate(np.asarray(X)[None], np.asarray(K)[None, None], stride, padding)[0]


def corr2d_multi_in(X, K) -> np.ndarray:
    """Y (h', w') from X (c_i, h, w) and K (c_i, kh, kw): the channels' correlations summed."""
    return correlate(X, np.asarray(K)[None])[0]


def corr2d_multi_in_out(X, K) -> np.ndarray:
    """Y (c_o, h', w') from X (c_i, h, w) and K (c_o, c_i, kh, kw)."""
    return correlate(X, K)


def corr2d_multi_in_out_1x1(X, K) -> np.ndarray:
    """Y (c_o, h, w) from X (c_i, h, w) and K (c_o, c_i, 1, 1), as a matrix product."""
    X, K = np.asarray(X, dtype=np.float64), np.asarray(K, dtype=np.float64)
    c_i, h, w = X.shape
    return (K.reshape(K.shape[0], c_i) @ X.reshape(c_i, h * w)).reshape(K.shape[0], h, w)


def pool2d(X, pool_size, mode="max", stride=1, padding=0) -> np.ndarray:
    """Y (h - p_h + 1, w - p_w + 1) from X (h, w): each window's max, or its mean ("avg")."""
    p_h, p_w = pair(pool_size)
    fill = -np.inf if mode == "max" else 0.0
    windows = _windows(np.asarray(X)[None], p_h, p_w, stride, padding, fill)[0]
    return windows.max(axis=(2, 3)) if mode == "max" else windows.mean(axis=(2, 3))


def pool2d_grad(X, pool_size, mode, G, stride=1, padding=0) -> np.ndarray:
    """dX of ``sum(G * pool2d(X, ...))``: G to each window's maximum (inputs without ties), or
    G / (p_h * p_w) to every element of the window."""
    p_h, p_w = pair(pool_size)
    X = np.asarray(X, dtype=np.float64)
    if mode == "max":  # (H', W', p_h, p_w): a one-hot kernel per window, at its maximum
        windows = _windows(X[None], p_h, p_w, stride, padding, -np.inf)[0]
        flat = windows.reshape(*windows.shape[:2], -1)
        onehot = (np.arange(p_h * p_w) == flat.argmax(axis=2)[..., None]).reshape(windows.shape)
        (sh, sw), (ph, pw), G = pair(stride), pair(padding), np.asarray(G, dtype=np.float64)
        dX = np.zeros((X.shape[0] + 2 * ph, X.shape[1] + 2 * pw))
        for i in range(G.shape[0]):
            for j in range(G.shape[1]):
                dX[i * sh:i * sh + p_h, j * sw:j * sw + p_w] += G[i, j] * onehot[i, j]
        return dX[ph:ph + X.shape[0], pw:pw + X.shape[1]]
    ones = np.full((1, 1, p_h, p_w), 1.0 / (p_h * p_w))
    return correlate_grads(X[None], ones, np.asarray(G)[None], stride, padding)[0][0]


def gradients(function: str, args: tuple, G: np.ndarray, options: dict | None = None) -> tuple[np.ndarray, ...]:
    """The gradients of ``sum(G * function(*args))`` with respect to its tensor arguments:
    (dX, dK) for the correlations, (dX,) for pool2d.  ``options``: stride and padding."""
    options = options or {}
    X, rest = np.asarray(args[0], dtype=np.float64), args[1:]
    if function == "pool2d":
        return (pool2d_grad(X, rest[0], rest[1] if len(rest) > 1 else "max", G, **options),)
    K = np.asarray(rest[0], dtype=np.float64)
    G = np.asarray(G, dtype=np.float64)
    if function == "corr2d":
        dX, dK = correlate_grads(X[None], K[None, None], G[None], **options)
        return dX[0], dK[0, 0]
    if function == "corr2d_multi_in":
        dX, dK = correlate_grads(X, K[None], G[None])
        return dX, dK[0]
    return correlate_grads(X, K, G)  # corr2d_multi_in_out and the 1x1 one


def forward(function: str, args: tuple, options: dict | None = None) -> np.ndarray:
    """``function(*args, **options)`` of this module, by name."""
    return globals()[function](*args, **(options or {}))


# ---------------------------------------------------------------- the bugs students write


def _flipped(function: str) -> Callable:
    """True convolution: the kernel's last two axes reversed."""
    def fn(X, K, **options):
        return forward(function, (X, np.asarray(K)[..., ::-1, ::-1]), options)
    return fn


def _short_window(function: str) -> Callable:
    """range(h - kh) instead of range(h - kh + 1): the last row and column of windows missing."""
    def fn(X, K_or_size, *rest, **options):
        return forward(function, (X, K_or_size, *rest), options)[..., :-1, :-1]
    return fn


def _out_channels_summed(X, K):
    """Every output channel's map added into one (c_o summed like c_i)."""
    return correlate(X, K).sum(axis=0)


def _in_channels_stacked(X, K):
    """One map per input channel, stacked instead of summed."""
    return np.stack([corr2d(x, k) for x, k in zip(np.asarray(X), np.asarray(K))])


def _avg_no_divide(X, pool_size, mode="max", **options):
    """The window's sum for "avg"."""
    p_h, p_w = pair(pool_size)
    return pool2d(X, pool_size, mode, **options) * (p_h * p_w if mode == "avg" else 1)


def _ignores(option: str, function: str) -> Callable:
    """``option`` (stride or padding) taken as the book's default (1 or 0) whatever is passed."""
    def fn(*args, **options):
        return forward(function, args, {k: v for k, v in options.items() if k != option})
    return fn


@dataclass(frozen=True)
class Wrong:
    """A known bug: ``fn`` takes the arguments (and options) of ``function`` and gives what the
    buggy code gives; ``message`` says in the student's terms what went wrong."""

    key: str
    function: str
    message: str
    fn: Callable


FLIPPED = ("the kernel looks flipped: CNN layers compute cross-correlation, "
           "Y[i, j] = sum K[a, b] * X[i + a, j + b] with K as it is (flipping it gives a true convolution)")
SHORT = ("the output is one row and one column short: a kernel of height kh fits h - kh + 1 times in an "
         "input of height h, so loop over range(X.shape[0] - h + 1) (and the same for the width)")
WRONG: tuple[Wrong, ...] = (
    *(Wrong(f"{f}-kernel-flipped", f, FLIPPED, _flipped(f))
      for f in ("corr2d", "corr2d_multi_in", "corr2d_multi_in_out")),
    *(Wrong(f"{f}-window-off-by-one", f, SHORT, _short_window(f))
      for f in ("corr2d", "corr2d_multi_in", "corr2d_multi_in_out", "pool2d")),
    Wrong("corr2d_multi_in-channels-stacked", "corr2d_multi_in",
          "the input channels were stacked, not summed: corr2d_multi_in adds the correlations of every "
          "channel, sum(corr2d(x, k) for x, k in zip(X, K))", _in_channels_stacked),
    Wrong("corr2d_multi_in_out-channels-summed", "corr2d_multi_in_out",
          "the output channels were added into one map: each kernel K[o] gives an output channel of its own, "
          "torch.stack([corr2d_multi_in(X, k) for k in K], 0)", _out_channels_summed),
    Wrong("pool2d-avg-no-divide", "pool2d",
          "forgot to divide by the window size: average pooling is the window's mean (its sum / (p_h * p_w))",
          _avg_no_divide),
    *(Wrong(f"{f}-stride-ignored", f, "ignored the stride: window (i, j) starts at row i*stride, column j*stride",
            _ignores("stride", f)) for f in ("corr2d", "pool2d")),
    *(Wrong(f"{f}-padding-ignored", f, "forgot the padding: add padding zeros on every side of X before sliding "
            "the window", _ignores("padding", f)) for f in ("corr2d", "pool2d")),
)


def wrong(function: str) -> list[Wrong]:
    """The known bugs of ``function``."""
    return [w for w in WRONG if w.function == function]
