"""Known wrong variants of the layers: the bugs students actually write.

Each entry of ``VARIANTS`` is a ``WrongVariant(key, part, kind, message, fn)``:
``fn`` has the signature of the correct function it imitates, and
``message`` says in the student's terms what went wrong.  A diagnoser runs
every variant of a (part, kind) on the inputs the student's code saw
(``variant.evaluate(inputs, dout)``) and reports the one whose result the
student's matches.

- forward variants: ``fn(x, w, b, conv_param) -> (out, cache)``;
- backward variants: ``fn(dout, cache) -> (dx, dw, db)`` for conv and
  ``fn(dout, cache) -> dx`` for pooling, where ``cache`` is the cache of the
  correct numpy forward (numpy_fast's or numpy_loops's: only its first
  entries, the forward's inputs, are read).  A backward variant gets wrong
  only the gradients its bug touches; the others are the correct ones.

Every variant differs from the correct result on generic inputs (N, F > 1,
stride, padding and dilation > 1, overlapping pooling windows with ties);
tests/reference proves it, and that no two variants of a (part, kind) agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from . import numpy_fast as fast
from .params import as_float, conv_output_shape, conv_settings, pool_output_shape, pool_settings

PARTS = ("conv", "max_pool", "avg_pool")
KINDS = ("forward", "backward")

# the correct functions, by (part, kind)
CORRECT: dict[tuple[str, str], Callable] = {
    ("conv", "forward"): fast.conv_forward,
    ("conv", "backward"): fast.conv_backward,
    ("max_pool", "forward"): fast.max_pool_forward,
    ("max_pool", "backward"): fast.max_pool_backward,
    ("avg_pool", "forward"): fast.avg_pool_forward,
    ("avg_pool", "backward"): fast.avg_pool_backward,
}


def evaluate(part: str, kind: str, fn: Callable, inputs: tuple, dout: Any = None) -> Any:
    """What ``fn`` (a forward or backward of ``part``) gives on the forward's ``inputs``.

    forward: ``fn(*inputs)[0]``, the output.  backward: ``fn(dout, cache)`` with
    the cache of the correct forward on ``inputs``.  ``inputs`` is
    (x, w, b, conv_param) for conv and (x, pool_param) for pooling.
    """
    if kind == "forward":
        return fn(*inputs)[0]
    if dout is None:
        raise ValueError(f"a {part} backward needs dout")
    _, cache = CORRECT[(part, "forward")](*inputs)
    return fn(dout, cache)


def correct_result(part: str, kind: str, inputs: tuple, dout: Any = None) -> Any:
    """The correct result of (part, kind) on ``inputs``, shaped as the variants' results."""
    return evaluate(part, kind, CORRECT[(part, kind)], inputs, dout)


@dataclass(frozen=True)
class WrongVariant:
    key: str  # e.g. "conv-kernel-flipped"
    part: str  # one of PARTS
    kind: str  # one of KINDS
    message: str  # feedback for the student
    fn: Callable  # same signature as the correct function

    def __post_init__(self) -> None:
        if self.part not in PARTS or self.kind not in KINDS:
            raise ValueError(f"{self.key}: part must be one of {PARTS} and kind one of {KINDS}, "
                             f"got {self.part!r}, {self.kind!r}")

    def evaluate(self, inputs: tuple, dout: Any = None) -> Any:
        """This variant's result on the forward's ``inputs`` (see the module ``evaluate``)."""
        return evaluate(self.part, self.kind, self.fn, inputs, dout)


# ---------------------------------------------------------------- conv, forward


def conv_kernel_flipped(x, w, b, conv_param):
    """True convolution: out[n, f, i, j] = b[f] + sum w[f, c, HH-1-k, WW-1-l] * xpad[...]."""
    return fast.conv_forward(x, as_float(w)[:, :, ::-1, ::-1], b, conv_param)


def conv_no_padding(x, w, b, conv_param):
    """P taken as 0 (so the output is smaller)."""
    return fast.conv_forward(x, w, b, {**conv_param, "pad": 0})


def conv_one_side_padding(x, w, b, conv_param):
    """x copied to the top-left corner of the padded array: all 2P zeros below and to the right."""
    x = as_float(x)
    P = conv_settings(conv_param).pad
    x_pad = np.pad(x, ((0, 0), (0, 0), (0, 2 * P), (0, 2 * P)))
    return fast.conv_forward(x_pad, w, b, {**conv_param, "pad": 0})


def _first_windows(out_wide, x, w, b, conv_param):
    """The top-left (H', W') corner of out_wide: the right output size with the windows too close."""
    _, _, H_out, W_out = conv_output_shape(np.shape(x), np.shape(w), np.shape(b), conv_settings(conv_param))
    return np.ascontiguousarray(out_wide[:, :, :H_out, :W_out])


def conv_no_stride(x, w, b, conv_param):
    """Window (i, j) starting at (i, j) instead of (i*S, j*S); the output size is right."""
    out, cache = fast.conv_forward(x, w, b, {**conv_param, "stride": 1})
    return _first_windows(out, x, w, b, conv_param), cache


def conv_no_dilation(x, w, b, conv_param):
    """Filter taps next to each other instead of D apart; the output size is right."""
    out, cache = fast.conv_forward(x, w, b, {**conv_param, "dilation": 1})
    return _first_windows(out, x, w, b, conv_param), cache


def conv_no_bias(x, w, b, conv_param):
    """out without + b[f]."""
    return fast.conv_forward(x, w, np.zeros_like(as_float(b)), conv_param)


def conv_bias_twice(x, w, b, conv_param):
    """out with b[f] added twice."""
    return fast.conv_forward(x, w, 2 * as_float(b), conv_param)


# --------------------------------------------------------------- conv, backward


def _conv_grads(dout, x, w, b, conv_param):
    """The correct (dx, dw, db) for these inputs."""
    return fast.conv_backward(dout, fast.conv_forward(x, w, b, conv_param)[1])


def conv_db_batch_only(dout, cache):
    """db = dout summed over N only: shape (F, H', W') instead of (F,)."""
    dx, dw, _ = _conv_grads(dout, *cache[:4])
    return dx, dw, as_float(dout).sum(axis=0)


def conv_db_all_axes(dout, cache):
    """db[f] = the sum of all of dout, filters included."""
    dx, dw, db = _conv_grads(dout, *cache[:4])
    return dx, dw, np.full_like(db, as_float(dout).sum())


def conv_dw_last_sample(dout, cache):
    """dw from the last sample only (dw = ... instead of dw += ... in the loop over n)."""
    x, w, b, conv_param = cache[:4]
    dx, _, db = _conv_grads(dout, x, w, b, conv_param)
    _, dw_last, _ = _conv_grads(as_float(dout)[-1:], as_float(x)[-1:], w, b, conv_param)
    return dx, dw_last, db


def conv_dw_first_sample(dout, cache):
    """dw from the first sample only (the loop over n stopped after one sample)."""
    x, w, b, conv_param = cache[:4]
    dx, _, db = _conv_grads(dout, x, w, b, conv_param)
    _, dw_first, _ = _conv_grads(as_float(dout)[:1], as_float(x)[:1], w, b, conv_param)
    return dx, dw_first, db


def conv_dx_not_flipped(dout, cache):
    """dx = dout full-correlated with w itself, not with w rotated by 180 degrees."""
    x, w, b, conv_param = cache[:4]
    _, dw, db = _conv_grads(dout, x, w, b, conv_param)
    dx_wrong, _, _ = _conv_grads(dout, x, as_float(w)[:, :, ::-1, ::-1], b, conv_param)
    return dx_wrong, dw, db


def _scattered_dx(dout, cache, step: bool, accumulate: bool):
    """(dx, dw, db) with dx scattered window by window as a loop would: from (i*S, j*S) when ``step``
    (else from (i, j)), added (``accumulate``) or assigned; dw and db right."""
    x, w, b, conv_param = cache[:4]
    x, w = as_float(x), as_float(w)
    _, dw, db = _conv_grads(dout, x, w, b, conv_param)
    S, P, D = conv_settings(conv_param)
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    dout = as_float(dout)
    dx_pad = np.zeros((N, C, H + 2 * P + D * (HH - 1) + 1, W + 2 * P + D * (WW - 1) + 1))  # room past the edge
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            top, left = (i * S, j * S) if step else (i, j)
            rows, cols = slice(top, top + D * (HH - 1) + 1, D), slice(left, left + D * (WW - 1) + 1, D)
            share = np.tensordot(dout[:, :, i, j], w, axes=(1, 0))
            if accumulate:
                dx_pad[:, :, rows, cols] += share
            else:
                dx_pad[:, :, rows, cols] = share
    return dx_pad[:, :, P:P + H, P:P + W], dw, db


def conv_dx_no_stride(dout, cache):
    """dx scatters window (i, j)'s gradient to dx_pad[i:i + HH, j:j + WW], not from (i*S, j*S)."""
    return _scattered_dx(dout, cache, step=False, accumulate=True)


def _rows_by_height(out, fill):
    """``out`` (N, F, H', W') as im2col code that stores window (i, j) in row i * H' + j of an
    (H' * W')-row matrix builds it: rows collide when H' < W' (the later window wins, rows never
    written keep ``fill``); past the end when H' > W' (IndexError, as in the student's code)."""
    N, F, H_out, W_out = out.shape
    if H_out > W_out:
        raise IndexError("row i * H' + j runs past the last row")
    flat = np.broadcast_to(fill, (N, F, H_out * W_out)).astype(np.float64)
    for i in range(H_out):
        for j in range(W_out):
            flat[:, :, i * H_out + j] = out[:, :, i, j]
    return flat.reshape(N, F, H_out, W_out)


def conv_im2col_rows_by_height(x, w, b, conv_param):
    out, cache = fast.conv_forward(x, w, b, conv_param)
    return _rows_by_height(out, as_float(b)[None, :, None]), cache


def max_pool_im2col_rows_by_height(x, pool_param):
    out, cache = fast.max_pool_forward(x, pool_param)
    return _rows_by_height(out, 0.0), cache


def avg_pool_im2col_rows_by_height(x, pool_param):
    out, cache = fast.avg_pool_forward(x, pool_param)
    return _rows_by_height(out, 0.0), cache


from grader.checks.hints import IM2COL_ROWS  # noqa: E402 - the student install names it too (an IndexError)


def conv_dw_no_stride(dout, cache):
    """dw correlates dout with windows x_pad[i:i + HH, j:j + WW], not from (i*S, j*S)."""
    x, w, b, conv_param = cache[:4]
    x, w = as_float(x), as_float(w)
    dx, _, db = _conv_grads(dout, x, w, b, conv_param)
    S, P, D = conv_settings(conv_param)
    F, _, HH, WW = w.shape
    dout = as_float(dout)
    x_pad = np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)))
    x_pad = np.pad(x_pad, ((0, 0), (0, 0), (0, D * (HH - 1) + 1), (0, D * (WW - 1) + 1)))  # room past the edge
    dw = np.zeros(w.shape)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            window = x_pad[:, :, i:i + D * (HH - 1) + 1:D, j:j + D * (WW - 1) + 1:D]
            dw += np.tensordot(dout[:, :, i, j], window, axes=(0, 0))
    return dx, dw, db


def conv_dx_overwrite(dout, cache):
    """dx_pad[window] = ... instead of += : overlapping windows overwrite each other's share."""
    return _scattered_dx(dout, cache, step=True, accumulate=False)


# ------------------------------------------------------------ pooling, backward


def _slabs(x, pool_param):
    """(PH*PW, N, C, H', W'): element m of every pooling window of x (numpy_fast.pool_windows)."""
    x = as_float(x)
    PH, PW, S = settings = pool_settings(pool_param)
    pool_output_shape(x.shape, settings)
    return fast.pool_windows(x, PH, PW, S)


def _to_image(dslabs, x, pool_param):
    """dslabs (PH*PW, N, C, H', W') added back onto x's shape (numpy_fast.pool_col2im)."""
    return fast.pool_col2im(dslabs, np.shape(x), *pool_settings(pool_param))


def dout_to_whole_window(dout, cache):
    """Every element of each window gets the window's whole dout (max or avg pooling alike)."""
    x, pool_param = cache[:2]
    slabs = _slabs(x, pool_param)
    return _to_image(np.broadcast_to(as_float(dout), slabs.shape), x, pool_param)


def max_pool_all_ties(dout, cache):
    """Every element equal to the window's maximum gets dout (a mask x == max)."""
    x, pool_param = cache[:2]
    slabs = _slabs(x, pool_param)
    mask = slabs == slabs.max(axis=0)
    return _to_image(mask * as_float(dout), x, pool_param)


def max_pool_overlap_overwrite(dout, cache):
    """dx[window] = mask * dout window after window (row by row): later windows erase earlier ones."""
    x, pool_param = cache[:2]
    PH, PW, S = pool_settings(pool_param)
    slabs = _slabs(x, pool_param)
    _, N, C, H_out, W_out = slabs.shape
    onehot = np.arange(PH * PW)[:, None, None, None, None] == np.argmax(slabs, axis=0)
    dwindows = (onehot * as_float(dout)).reshape(PH, PW, N, C, H_out, W_out)
    dx = np.zeros(np.shape(x))
    for i in range(H_out):
        for j in range(W_out):
            dx[:, :, i * S:i * S + PH, j * S:j * S + PW] = dwindows[:, :, :, :, i, j].transpose(2, 3, 0, 1)
    return dx


# ------------------------------------------------------------ pooling: stride-sized windows


def _cut_windows(x, pool_param, size):
    """Each output's window as a bug cuts it: rows i*S to i*S + h, columns j*S to j*S + w, with
    (h, w) = size(pool_height, pool_width, stride) instead of (pool_height, pool_width)."""
    x = as_float(x)
    PH, PW, S = settings = pool_settings(pool_param)
    h, w = size(PH, PW, S)
    N, C, H_out, W_out = pool_output_shape(x.shape, settings)
    for i in range(H_out):
        for j in range(W_out):
            yield i, j, (slice(i * S, i * S + h), slice(j * S, j * S + w))


def _stride_sized(PH, PW, S):
    return S, S


def _height_sized(PH, PW, S):
    return PH, PH


def _pool_forward_cut(size, reduce):
    """A pooling forward over the windows ``size`` cuts (see ``_cut_windows``), reduced with ``reduce``."""
    def forward(x, pool_param):
        out = np.zeros(pool_output_shape(np.shape(x), pool_settings(pool_param)))
        for i, j, (rows, cols) in _cut_windows(x, pool_param, size):
            out[:, :, i, j] = reduce(as_float(x)[:, :, rows, cols], axis=(2, 3))
        return out, None
    return forward


def _pool_unscaled(reduce):
    """Window (i, j) starting at row i, column j (the stride left out of its start), of the right size."""
    def forward(x, pool_param):
        x = as_float(x)
        PH, PW, S = settings = pool_settings(pool_param)
        out = np.zeros(pool_output_shape(x.shape, settings))
        for i in range(out.shape[2]):
            for j in range(out.shape[3]):
                out[:, :, i, j] = reduce(x[:, :, i:i + PH, j:j + PW], axis=(2, 3))
        return out, None
    return forward


max_pool_no_stride = _pool_unscaled(np.max)
avg_pool_no_stride = _pool_unscaled(np.mean)
POOL_NO_STRIDE = ("ignored the stride: window (i, j) starts at row i*stride, column j*stride, not at row i, column j "
                  "(x[:, :, i*stride:i*stride + pool_height, j*stride:j*stride + pool_width])")
max_pool_stride_windows = _pool_forward_cut(_stride_sized, np.max)
avg_pool_stride_windows = _pool_forward_cut(_stride_sized, np.mean)
max_pool_square_windows = _pool_forward_cut(_height_sized, np.max)
avg_pool_square_windows = _pool_forward_cut(_height_sized, np.mean)


def _max_pool_backward_cut(size):
    """dout routed to the first maximum of each window as ``size`` cuts it (see ``_cut_windows``)."""
    def backward(dout, cache):
        return _route_to_cut_maxima(dout, cache, size)
    return backward


def _route_to_cut_maxima(dout, cache, size):
    x, pool_param = cache[:2]
    x, dout = as_float(x), as_float(dout)
    dx = np.zeros(x.shape)
    for i, j, (rows, cols) in _cut_windows(x, pool_param, size):
        window = x[:, :, rows, cols]
        N, C, h, w = window.shape
        flat = window.reshape(N, C, -1).argmax(axis=2)
        r, c = np.unravel_index(flat, (h, w))
        for n in range(N):
            for ch in range(C):
                dx[n, ch, rows.start + r[n, ch], cols.start + c[n, ch]] += dout[n, ch, i, j]
    return dx


max_pool_backward_stride_windows = _max_pool_backward_cut(_stride_sized)
max_pool_backward_square_windows = _max_pool_backward_cut(_height_sized)


def _dx_from_ones(part):
    """dx started from np.ones_like(x) instead of zeros (the += then adds onto ones)."""
    def backward(dout, cache):
        return as_float(fast.max_pool_backward(dout, fast.max_pool_forward(*cache[:2])[1]) if part == "max_pool"
                        else fast.avg_pool_backward(dout, fast.avg_pool_forward(*cache[:2])[1])) + 1.0
    return backward


max_pool_dx_from_ones = _dx_from_ones("max_pool")
avg_pool_dx_from_ones = _dx_from_ones("avg_pool")
DX_FROM_ONES = "dx starts from ones (np.ones_like?): start it from np.zeros_like(x), then add each window's share"


def max_pool_argmax_row_by_height(dout, cache):
    """The window's flat argmax k unravelled as (k // pool_height, k % pool_width): right only for
    square windows (np.unravel_index(k, (pool_height, pool_width)) is (k // pool_width, k % pool_width))."""
    x, pool_param = cache[:2]
    x, dout = as_float(x), as_float(dout)
    PH, PW, S = pool_settings(pool_param)
    slabs = _slabs(x, pool_param)
    k = np.argmax(slabs, axis=0)  # (N, C, H', W')
    dx = np.zeros(x.shape)
    N, C, H_out, W_out = k.shape
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    r, q = i * S + k[n, c, i, j] // PH, j * S + k[n, c, i, j] % PW
                    if r >= x.shape[2]:
                        raise IndexError("the row runs past the input")
                    dx[n, c, r, q] += dout[n, c, i, j]
    return dx


from grader.checks.hints import SQUARE_WINDOWS  # noqa: E402 - the student install names it too (an error)


STRIDE_WINDOWS = ("the windows are stride x stride (x[i*stride:(i+1)*stride]), as if the stride equals the window: "
                  "a window is pool_height x pool_width and starts every stride rows, "
                  "x[:, :, i*stride:i*stride + pool_height, j*stride:j*stride + pool_width]")


VARIANTS: tuple[WrongVariant, ...] = (
    WrongVariant("conv-kernel-flipped", "conv", "forward",
                 "the kernel looks flipped: CNN layers compute cross-correlation, "
                 "out[i, j] = sum w[k, l] * x[i*S + k, j*S + l] with w as it is", conv_kernel_flipped),
    WrongVariant("conv-no-padding", "conv", "forward",
                 "forgot the padding: add pad zeros on every side of x before sliding the filters", conv_no_padding),
    WrongVariant("conv-one-side-padding", "conv", "forward",
                 "padded on one side only: pad zeros go above and below, left and right of x "
                 "(x starts at row pad, column pad of the padded array)", conv_one_side_padding),
    WrongVariant("conv-no-stride", "conv", "forward",
                 "ignored the stride: window (i, j) starts at row i*stride, column j*stride", conv_no_stride),
    WrongVariant("conv-no-dilation", "conv", "forward",
                 "ignored the dilation: the filter's taps are dilation pixels apart", conv_no_dilation),
    WrongVariant("conv-im2col-rows-by-height", "conv", "forward", IM2COL_ROWS, conv_im2col_rows_by_height),
    WrongVariant("conv-no-bias", "conv", "forward", "forgot the bias: add b[f] to every output of filter f",
                 conv_no_bias),
    WrongVariant("conv-bias-twice", "conv", "forward", "added the bias twice", conv_bias_twice),
    WrongVariant("conv-db-batch-only", "conv", "backward",
                 "db is summed over the batch only: db[f] sums dout[:, f, :, :] over N, H' and W' "
                 "(axes 0, 2 and 3)", conv_db_batch_only),
    WrongVariant("conv-db-all-axes", "conv", "backward",
                 "db also sums over the filters: db[f] sums dout[:, f, :, :] only (axes 0, 2 and 3)",
                 conv_db_all_axes),
    WrongVariant("conv-dw-last-sample", "conv", "backward",
                 "dw holds only the last sample's gradient: accumulate over the batch (dw += ..., not dw = ...)",
                 conv_dw_last_sample),
    WrongVariant("conv-dw-first-sample", "conv", "backward",
                 "dw holds only the first sample's gradient: sum it over every sample of the batch",
                 conv_dw_first_sample),
    WrongVariant("conv-dx-not-flipped", "conv", "backward",
                 "dx correlates dout with w as it is: the gradient of a cross-correlation is a full "
                 "convolution, i.e. w flipped by 180 degrees (or scatter dout * w back into each window)",
                 conv_dx_not_flipped),
    WrongVariant("conv-dw-no-stride", "conv", "backward",
                 "dw ignores the stride: window (i, j) of x_pad that dout[:, f, i, j] multiplies starts at row "
                 "i*stride, column j*stride (x_pad[:, :, i*stride:i*stride + HH, j*stride:j*stride + WW])",
                 conv_dw_no_stride),
    WrongVariant("conv-dx-overwrite", "conv", "backward",
                 "overlapping windows overwrite each other's share of dx: add into dx_pad (+=) instead of "
                 "assigning", conv_dx_overwrite),
    WrongVariant("conv-dx-no-stride", "conv", "backward",
                 "dx ignores the stride: the gradient of window (i, j) goes to dx_pad[:, :, i*stride:i*stride + HH, "
                 "j*stride:j*stride + WW], not from row i, column j", conv_dx_no_stride),
    WrongVariant("max-pool-whole-window", "max_pool", "backward",
                 "the gradient went to the whole window: only the window's maximum receives dout",
                 dout_to_whole_window),
    WrongVariant("max-pool-all-ties", "max_pool", "backward",
                 "the gradient went to every element tied for the maximum: only the first one "
                 "(np.argmax of the window) receives dout", max_pool_all_ties),
    WrongVariant("max-pool-overlap-overwrite", "max_pool", "backward",
                 "overlapping windows overwrite each other's gradient: add into dx (+=) instead of assigning",
                 max_pool_overlap_overwrite),
    WrongVariant("max-pool-square-windows", "max_pool", "forward", SQUARE_WINDOWS, max_pool_square_windows),
    WrongVariant("avg-pool-square-windows", "avg_pool", "forward", SQUARE_WINDOWS, avg_pool_square_windows),
    WrongVariant("max-pool-argmax-row-by-height", "max_pool", "backward",
                 "the argmax's row is computed with pool_height: in a pool_height x pool_width window the flat "
                 "index k is row k // pool_width, column k % pool_width (np.unravel_index(k, (pool_height, "
                 "pool_width)))", max_pool_argmax_row_by_height),
    WrongVariant("max-pool-stride-windows", "max_pool", "forward", STRIDE_WINDOWS, max_pool_stride_windows),
    WrongVariant("max-pool-no-stride", "max_pool", "forward", POOL_NO_STRIDE, max_pool_no_stride),
    WrongVariant("max-pool-im2col-rows-by-height", "max_pool", "forward", IM2COL_ROWS,
                 max_pool_im2col_rows_by_height),
    WrongVariant("avg-pool-stride-windows", "avg_pool", "forward", STRIDE_WINDOWS, avg_pool_stride_windows),
    WrongVariant("avg-pool-no-stride", "avg_pool", "forward", POOL_NO_STRIDE, avg_pool_no_stride),
    WrongVariant("avg-pool-im2col-rows-by-height", "avg_pool", "forward", IM2COL_ROWS,
                 avg_pool_im2col_rows_by_height),
    WrongVariant("max-pool-backward-square-windows", "max_pool", "backward",
                 SQUARE_WINDOWS + "; dout goes to the maximum of that window", max_pool_backward_square_windows),
    WrongVariant("max-pool-dx-from-ones", "max_pool", "backward", DX_FROM_ONES, max_pool_dx_from_ones),
    WrongVariant("avg-pool-dx-from-ones", "avg_pool", "backward", DX_FROM_ONES, avg_pool_dx_from_ones),
    WrongVariant("max-pool-backward-stride-windows", "max_pool", "backward",
                 STRIDE_WINDOWS + "; dout goes to the maximum of that window", max_pool_backward_stride_windows),
    WrongVariant("avg-pool-no-divide", "avg_pool", "backward",
                 "forgot to divide by the window size: each element gets dout / (pool_height * pool_width)",
                 dout_to_whole_window),
)


def variants(part: str | None = None, kind: str | None = None) -> list[WrongVariant]:
    """The wrong variants of ``part`` and ``kind`` (all of them when None)."""
    return [v for v in VARIANTS if part in (None, v.part) and kind in (None, v.kind)]


def get(key: str) -> WrongVariant:
    """The variant called ``key``; ValueError lists the others."""
    for variant in VARIANTS:
        if variant.key == key:
            return variant
    raise ValueError(f"unknown wrong variant {key!r}; known: {', '.join(v.key for v in VARIANTS)}")
