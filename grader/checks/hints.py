"""What the built-in layer parts know about their own wrong shapes and right alternatives.

These are the ``Hints`` of the built-in parts' declarations (``grader.parts``): a wrong
output size read against the size formulas real solutions get wrong, a conv dx cropped
wrongly out of the padded gradient (the commonest dx bug in real solutions), and max
pooling's other valid subgradients at ties.  A declared part may name hints of its own.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from .ties import is_valid_max_pool_gradient

TIES_ACCEPTED = ("routes the gradient at tied maxima differently from the reference: accepted, since at a tie "
                 "any valid subgradient is right (each window's dout goes only to its maxima and sums to dout)")


def output_size_hint(part: str, args: tuple, got: Any, expected: tuple[int, ...]) -> str | None:
    """Why a forward's output has the wrong height and width, from the size formulas real
    solutions get wrong (each compared with the shape it would give on this case)."""
    if not isinstance(got, np.ndarray) or got.ndim != 4 or got.shape[:2] != tuple(expected[:2]):
        return None
    H, W = args[0].shape[2:]
    if part == "conv":
        HH, WW = args[1].shape[2:]
        p = args[3]
        S, P, D = p["stride"], p["pad"], p.get("dilation", 1)
        size = lambda n, k, pad=P: (n + 2 * pad - D * (k - 1) - 1) // S + 1  # noqa: E731
        guesses = [((size(H, HH), size(W, HH)), "the width is computed with the kernel's height HH: "
                    "W' = (W + 2 * pad - WW) // stride + 1 uses the kernel's width (right only for square kernels)"),
                   ((size(H, HH, 1), size(W, WW, 1)), "the padding is taken as 1 whatever conv_param['pad'] says"),
                   ((size(H, HH, 0), size(W, WW, 0)), "the padding is left out of the output size: "
                    "H' = (H + 2 * pad - HH) // stride + 1")]
    else:
        ph, pw, S = args[1]["pool_height"], args[1]["pool_width"], args[1]["stride"]
        guesses = [((H // ph, W // pw), "the output size assumes the stride equals the window (H // pool_height): "
                    "H' = (H - pool_height) // stride + 1, W' = (W - pool_width) // stride + 1"),
                   ((len(range(0, H, S)), len(range(0, W, S))), "one output per stride step of the whole input: "
                    "the last windows run past the edge; H' = (H - pool_height) // stride + 1"),
                   (((H - ph) // S + 1, (W - ph) // S + 1), "the width is computed with the window's height: "
                    "W' = (W - pool_width) // stride + 1 (right only for square windows)"),
                   ((ph, pw), "the output is allocated pool_height x pool_width, the size of one window: H' and W' "
                    "count the windows, H' = (H - pool_height) // stride + 1, W' = (W - pool_width) // stride + 1")]
    found = [why for shape, why in guesses if tuple(got.shape[2:]) == shape != tuple(expected[2:])]
    if len(found) > 1:  # on this case two mistakes give the same size: say both, not the wrong one alone
        return "either " + "; or ".join(found)
    return found[0] if found else None


def unpadding_hint(got: Any, x_shape: tuple[int, ...], pad: int) -> str | None:
    """Why a conv backward's dx has the wrong height and width, from how it was cropped out
    of the padded gradient (the commonest dx bug in real solutions)."""
    if not isinstance(got, np.ndarray) or got.ndim != 4 or got.shape[:2] != tuple(x_shape[:2]):
        return None
    (h, w), (H, W) = got.shape[2:], x_shape[2:]
    if pad == 0 and 0 in (h, w):
        return ("dx is empty on a case without padding: dx_pad[:, :, pad:-pad, pad:-pad] is empty when pad is 0 "
                "(-0 is 0); crop with dx_pad[:, :, pad:pad + H, pad:pad + W]")
    if pad > 0 and (h, w) == (H + 2 * pad, W + 2 * pad):
        return "dx still holds the padding: crop it to x's size, dx_pad[:, :, pad:pad + H, pad:pad + W]"
    if pad > 0 and (h, w) == (H - 2 * pad, W - 2 * pad):
        return ("dx is 2 * pad smaller than x in each direction: the x in the cache is the unpadded input, used as "
                "if it were padded (pad it again in the backward, x_pad = np.pad(x, ...), accumulate into dx_pad, and "
                "crop dx_pad[:, :, pad:pad + H, pad:pad + W])")
    if pad == 0 and (h, w) == (H - 1, W - 1):
        return ("dx is one row and one column short on a case without padding: the crop starts at 1 whatever the "
                "padding (dx_pad[:, :, 1:H + 1, 1:W + 1]); crop with dx_pad[:, :, pad:pad + H, pad:pad + W]")
    if pad != 1 and (h, w) == (H + 2 * pad - 2, W + 2 * pad - 2):
        return (f"dx loses one row and column on each side whatever the padding (a hard-coded 1:-1?), here pad is "
                f"{pad}: crop with dx_pad[:, :, pad:pad + H, pad:pad + W]")
    return None


def _conv_output(args: tuple, got: Any, expected: tuple[int, ...]) -> str | None:
    return output_size_hint("conv", args, got, expected)


def _pool_output(args: tuple, got: Any, expected: tuple[int, ...]) -> str | None:
    return output_size_hint("max_pool", args, got, expected)


def _conv_gradient(name: str, got: Any, expected: tuple[int, ...], args: tuple) -> tuple[str, str] | None:
    if name != "dx":
        return None
    why = unpadding_hint(got, expected, args[3]["pad"])
    return ("conv-dx-unpadding", why) if why else None


def _max_pool_accept(case, args: tuple, dout: np.ndarray, got: Any, tol: float) -> bool:
    """Max pooling on a case with ties: whether ``got`` is a valid subgradient other than the
    reference's (the last maximum, a split, ...): see ``ties``."""
    if not getattr(case, "ties", False):
        return False
    x, pool_param = args
    return is_valid_max_pool_gradient(x, pool_param, dout, np.asarray(got, dtype=np.float64), tol)


_BROADCAST = re.compile(r"could not be broadcast together with shapes ((?:\([\d, ]*\) ?)+)")
_RESHAPE = re.compile(r"cannot reshape array of size (\d+) into shape \(([\d, ]+)\)")
_BROADCAST_INTO = re.compile(r"could not broadcast input array from shape \([\d, ]*\) into shape \([\d, ]*\)|"
                             r"value array of shape \([\d, ]*\) could not be broadcast to indexing result of "
                             r"shape \([\d, ]*\)")
_SIX_D = re.compile(r"cannot reshape array of size \d+ into shape \((\d+, ?){5}\d+\)")


def _shapes(text: str) -> list[tuple[int, ...]]:
    """The shapes a broadcast error names: "operands could not be broadcast together with shapes (..)
    (..)" or "could not broadcast input array from shape (..) into shape (..)"."""
    found = _BROADCAST.search(text) or _BROADCAST_INTO.search(text)
    if not found:
        return []
    return [tuple(int(n) for n in group.split(",") if n.strip())
            for group in re.findall(r"\(([\d, ]*)\)", found.group(0))]


SQUARE_WINDOWS = ("the windows are pool_height x pool_height: the width is taken from pool_height somewhere "
                  "(right only for square windows); a window is x[:, :, i*stride:i*stride + pool_height, "
                  "j*stride:j*stride + pool_width]")
IM2COL_ROWS = ("window (i, j) is stored in row i * H' + j: with a non-square output rows collide or run past the end "
               "(right only for square outputs); use row i * W' + j, and i, j = divmod(row, W') back")
_SCALAR = re.compile(r"only 0-dimensional arrays can be converted|only length-1 arrays can be converted|"
                     r"can only convert an array of size 1")
_OUT_OF_BOUNDS = re.compile(r"index (\d+) is out of bounds for axis (\d+) with size (\d+)")


def _out_of_bounds(text: str) -> tuple[int, int, int] | None:
    """(index, axis, size) of NumPy's index error in ``text``, or None."""
    found = _OUT_OF_BOUNDS.search(text)
    return tuple(int(g) for g in found.groups()) if found else None


def _reshaped(text: str) -> tuple[int, list[int]] | None:
    """(size, shape) of NumPy's "cannot reshape array of size ... into shape (...)" in ``text``, or None."""
    found = _RESHAPE.search(text)
    return (int(found.group(1)), [int(n) for n in found.group(2).split(",") if n.strip()]) if found else None


def _rows_past_end(out_shape: tuple[int, ...], text: str) -> str | None:
    """An index error at row H' * W' of an im2col matrix, on a taller-than-wide output: the
    window (i, j) went to row i * H' + j."""
    found = _out_of_bounds(text)
    H_out, W_out = out_shape[2:]
    if found and H_out > W_out and found[2] == H_out * W_out:
        return IM2COL_ROWS
    return None


_EMPTY_WINDOW = re.compile(r"zero-size array to reduction operation|argmax of an empty sequence")


def _past_last_window(text: str, sizes: tuple[int, int], out: tuple[int, int], stride: int,
                      pool: bool, cut: bool = False, batch: tuple[int, ...] = (),
                      window_sizes: tuple[int, int] | None = None) -> str | None:
    """An index error at index H' of the output's height (W' of its width), or an empty or ``cut``
    window (one the edge cut short), where stepping through the input by the stride gives more window
    starts than there are windows: the loops go over every stride step of the input, and the last
    windows hang over its edge."""
    found = _out_of_bounds(text)
    found = found if found and found[1] <= 3 else None
    if found:
        index, axis, size = found
        # axes 2 and 3 of out (N, C, H', W'), or 0 and 1 of one image's (H', W') where N and C differ
        k = axis - 2 if axis >= 2 else (axis if size not in batch else -1)
        if k >= 0 and index == size == out[1 - k] < out[k]:  # an output allocated H' x H' (or W' x W')
            names = ("H'", "W'", "H", "W") if k == 1 else ("W'", "H'", "W", "H")
            return (f"the output is allocated {names[0]} x {names[0]} ({size} x {size} here, where it is {out[0]} x "
                    f"{out[1]}): {names[1]} is computed from {names[2]}, or set to {names[0]}; {names[1]} = ({names[3]} "
                    f"- {'pool_width' if k == 1 else 'pool_height'}) // stride + 1 (right only for square outputs)"
                    if pool else
                    f"the output is allocated {names[0]} x {names[0]} ({size} x {size} here, where it is {out[0]} x "
                    f"{out[1]}): {names[1]} is computed from {names[2]}, or set to {names[0]} (right only for square "
                    "outputs)")
        if k < 0 or not index == size == out[k]:
            return None
    elif pool and (cut or _EMPTY_WINDOW.search(text)):
        k = 0 if len(range(0, sizes[0], stride)) > out[0] else 1
    elif pool and any(len(t) >= 2 and 0 in t[-2:] for t in _shapes(text)):
        k = 1 if any(len(t) >= 2 and t[-1] == 0 for t in _shapes(text)) else 0
    else:
        return None
    steps = len(range(0, sizes[k], stride))
    if steps <= out[k] and not cut:
        return None
    what, n, n_out, i = ("rows", "H", "H'", "i") if k == 0 else ("columns", "W", "W'", "j")
    window = ("pool_height" if k == 0 else "pool_width") if pool else ("HH" if k == 0 else "WW")
    padded = "" if pool else " + 2 * pad"
    if not found:  # a window cut short: too many starts, or starts too far apart
        return (f"either the loops run past the last window (stepping through the input's {what} by the stride "
                f"gives {steps} starts here, but only {out[k]} windows fit: {n_out} = ({n} - {window}) // stride + 1), "
                f"or the windows start at {i} * {window} instead of {i} * stride: a window runs past the edge of x; "
                f"loop {i} over range({n_out}) and start window {i} at {i} * stride")
    past = (f"the loops run past the last window: stepping through the input's {what} by the stride gives "
            f"{steps} starts here, but only {out[k]} windows fit ({n_out} = ({n}{padded} - {window}) // stride + 1); "
            f"the last starts hang over the edge; loop {i} over range({n_out}) and start window {i} at {i} * stride")
    others = []  # other mistakes that end at the same index on this case
    if out[1 - k] > out[k]:  # a loop over the larger W' (H') used for the rows (columns)
        others.append(f"H' and W' are swapped in a loop bound or an index (the output is {out[0]} x {out[1]} here: "
                      "right only for square outputs)")
    if window_sizes and (sizes[k] - window_sizes[1 - k]) // stride + 1 > out[k]:  # W' from pool_height
        names = ("pool_height", "pool_width") if pool else ("HH", "WW")
        others.append(f"{n_out} is computed with {names[1 - k]} where {names[k]} belongs (right only for square "
                      f"{'windows' if pool else 'kernels'})")
    # in a conv, stepping through the padded input is rarer than the others (with stride 1 it always overruns)
    found_all = [past, *others] if pool else [*others, past]
    return "either " + "; or ".join(found_all) if others else past


def _square_output(text: str, out: tuple[int, ...]) -> str | None:
    """A reshape (or broadcast) of the output's values to H' x H' or W' x W' on a case whose output
    is not square: the code takes one side for both."""
    H_out, W_out = out[-2:]
    if H_out == W_out:
        return None
    reshaped = _reshaped(text)
    squares = {(H_out, H_out), (W_out, W_out)}
    if reshaped:
        size, shape = reshaped
        square = len(shape) >= 2 and tuple(shape[-2:]) in squares and size == int(np.prod(shape[:-2])) * H_out * W_out
    else:
        tails = {t[-2:] for t in _shapes(text) if len(t) >= 2}
        square = (H_out, W_out) in tails and bool(tails & squares)
    if not square:
        return None
    return (f"the output's values are shaped {H_out} x {H_out} or {W_out} x {W_out} where the output is {H_out} x "
            f"{W_out} (H' x W'): one side is used for both, right only for square outputs; reshape to (..., H', W')")


def _crop_by_one(text: str, x: tuple[int, ...], pad: int) -> str | None:
    """A reshape or broadcast that fails between an (H + 2 * pad - 2) x (W + 2 * pad - 2) crop and x's
    H x W, where pad is not 1: the padded gradient was cropped with a hard-coded 1:-1."""
    if pad == 1:
        return None
    H, W = x[2:]
    crop = (H + 2 * pad - 2, W + 2 * pad - 2)
    reshaped = _reshaped(text)
    if reshaped:
        size, shape = reshaped
        cut = len(shape) >= 2 and tuple(shape[-2:]) == (H, W) and size == int(np.prod(shape[:-2])) * crop[0] * crop[1]
    else:
        tails = {t[-2:] for t in _shapes(text) if len(t) >= 2}
        cut = crop in tails and (H, W) in tails
    if not cut:
        return None
    return (f"a crop of one row and column on each side whatever the padding ({crop[0]} x {crop[1]} where x is {H} x "
            f"{W}: a hard-coded 1:-1?), here pad is {pad}: crop with dx_pad[:, :, pad:pad + H, pad:pad + W]")


def _conv_error(args: tuple, text: str) -> str | None:
    """A broadcast error between a window and a filter that agree on the channels and the height
    but not the width, on a non-square kernel: the width was taken from the kernel's height."""
    HH, WW = np.shape(args[1])[2:]
    p = args[3]
    S, P, D = p["stride"], p["pad"], p.get("dilation", 1)
    shape = tuple(np.shape(args[0])[:1]) + (np.shape(args[1])[0],) + tuple(
        (n + 2 * P - D * (k - 1) - 1) // S + 1 for n, k in zip(np.shape(args[0])[2:], (HH, WW)))
    if _SCALAR.search(text):  # in a conv, the one-value array is almost always the bias
        return ("float() or int() of an array with axes: NumPy 2.4 and later refuse it even when the array holds one "
                "value (earlier versions only warn, so it may run on your machine; here a bias kept as shape "
                "(1, 1, 1) or (F, 1)): add b[f], a number, or take .item() of a one-value array")
    rows = _rows_past_end(shape, text) or _past_last_window(
        text, tuple(n + 2 * P for n in np.shape(args[0])[2:]), shape[2:], S, pool=False, batch=shape[:2],
        window_sizes=(HH, WW)) or _crop_by_one(text, tuple(np.shape(args[0])), P) or _square_output(text, shape)
    kernel = tuple(np.shape(args[1])[1:])
    tails = [s[-3:] for s in _shapes(text) if len(s) >= 3]  # (C, height, width) of each operand
    if not rows and kernel[0] != 3 and kernel in tails and (3,) + kernel[1:] in tails:
        return (f"a window has 3 channels where x has C = {kernel[0]}: a hard-coded 3 (0:3, RGB) where C belongs; "
                "take every channel, x_pad[n, :, ...]")
    if rows or HH == WW:
        return rows
    if kernel in tails and (kernel[0], WW, HH) in tails:
        return (f"a window is {WW} high and {HH} wide where the kernel is HH = {HH} high and WW = {WW} wide: the "
                "kernel's height and width are swapped in a slice (right only for square kernels); rows span HH, "
                "columns WW: x_pad[..., i * stride:i * stride + HH, j * stride:j * stride + WW]")
    if kernel in tails and (kernel[0], WW, WW) in tails:  # the window's rows from WW as well
        return (f"a window is {WW} high where the kernel is HH = {HH} high (and WW = {WW} wide): the window's height "
                "uses WW (right only for square kernels); rows span HH, columns WW: "
                "x_pad[..., i * stride:i * stride + HH, j * stride:j * stride + WW]")
    low = [t for t in tails if t != kernel and t[0] == kernel[0] and t[1] < HH and t[2] == WW]
    if kernel in tails and low:
        return (f"a window is {low[0][1]} high where the kernel is HH = {HH} high: it starts too low, cut short by "
                "the bottom edge of the padded input: window (i, j) starts at row i * stride for i < H' (from a "
                "flat window index r: i, j = divmod(r, W'), not r // H')")
    cut = [t for t in tails if t != kernel and t[:2] == kernel[:2] and t[2] < WW and t[2] != HH]
    if kernel in tails and cut:
        return (f"a window is {cut[0][2]} wide where the kernel is WW = {WW} wide: the last windows are cut short "
                "by the edge of the padded input, so there are too many of them: compute W' = (W + 2 * pad - WW) "
                "// stride + 1 with the kernel's width (not HH), and loop over the W' output positions, not over "
                "every stride step of the input")
    windows = [t for t in tails if t != kernel and t[:2] == kernel[:2] and t[2] == HH]  # the width from HH
    if kernel in tails and windows:
        return (f"a window is {windows[0][2]} wide where the kernel is WW = {WW} wide "
                f"(its height HH is {HH}): the kernel's height is used for a width somewhere (right only for "
                "square kernels); compute W' = (W + 2 * pad - WW) // stride + 1 and cut windows "
                "x_pad[..., j * stride:j * stride + WW]")
    return None


def _cut_window(text: str, ph: int, pw: int, tails: set[tuple[int, ...]]) -> bool:
    """Whether an error is about a window the edge of x cut short: a reshape of it to pool_height *
    pool_width values, or a broadcast of it against a whole window."""
    reshaped = _reshaped(text)
    if reshaped:
        size, shape = reshaped
        return shape[-1] == ph * pw and size < int(np.prod(shape))
    return (ph, pw) in tails and any(t != (ph, pw) and t[0] <= ph and t[1] <= pw for t in tails)


def _window_buffer(text: str, ph: int, pw: int, sizes: tuple[int, ...]) -> bool:
    """An array of pool_height + pool_width elements (per window) used as a window's: reshaped to the
    window, or indexed by a flat position in it (an index error at that size, not one of x's ``sizes``)."""
    if ph * pw == ph + pw:  # 2 x 2: the two agree
        return False
    reshaped, found = _reshaped(text), _out_of_bounds(text)
    if reshaped:
        size, shape = reshaped
        return shape[-2:] == [ph, pw] and size == int(np.prod(shape[:-2])) * (ph + pw)
    return bool(found and found[2] == ph + pw and found[0] < ph * pw and found[2] not in sizes)


def _pool_error(args: tuple, text: str) -> str | None:
    x, p = args
    if _window_buffer(text, p["pool_height"], p["pool_width"], tuple(np.shape(x)[2:])):
        return (f"an array of pool_height + pool_width = {p['pool_height'] + p['pool_width']} elements stands for a "
                f"window of pool_height * pool_width = {p['pool_height'] * p['pool_width']} (right only for 2x2 "
                "windows): allocate np.zeros(pool_height * pool_width), or np.zeros((pool_height, pool_width))")
    shape = tuple(np.shape(x)[:2]) + tuple((n - k) // p["stride"] + 1 for n, k in zip(
        np.shape(x)[2:], (p["pool_height"], p["pool_width"])))
    ph, pw, S = p["pool_height"], p["pool_width"], p["stride"]
    rows = _rows_past_end(shape, text) or _past_last_window(text, tuple(np.shape(x)[2:]), shape[2:], S, pool=True,
                                                           batch=shape[:2], window_sizes=(ph, pw)) or _square_output(
        text, shape)
    if rows:
        return rows
    H, W = np.shape(x)[2:]
    found = _out_of_bounds(text)
    if found and found[1] <= 3:
        index, axis, size = found
        into_x = (axis >= 2 and size == (H, W)[axis - 2]) or (axis < 2 and size in (H, W) and size not in shape[:2])
        if into_x and size not in shape[2:]:  # past the edge of x (or dx), not of the output
            return ("an index computed inside a window runs past the edge of x: the maximum's position in a "
                    "pool_height x pool_width window is row k // pool_width, column k % pool_width of its flat index "
                    "k (not k // pool_height, not k // stride), at x[..., i * stride + row, j * stride + column]")
    if text.startswith("AssertionError") and (W - ph) % S and not (W - pw) % S:
        return (f"an assertion refuses this case, which fits exactly: W - pool_width = {W} - {pw} is a multiple "
                f"of the stride {S}, but W - pool_height = {W} - {ph} is not: a check uses the window's height "
                "for the width, as cs231n's own im2col_indices does (`assert (W + 2 * padding - field_height) % "
                "stride == 0`, a bug in the course's im2col.py): check the width with field_width, or pool "
                "without im2col")
    shapes = _shapes(text)
    N, C = np.shape(x)[:2]
    if (N, C) in shapes and any(len(t) == 4 and t[:2] == (N, C) for t in shapes):
        return ("the windows' maxima, shape (N, C), are compared with (or broadcast against) windows of shape (N, C, "
                "height, width): NumPy lines (N, C) up with the windows' last two axes; keep the reduced axes, "
                "window.max(axis=(2, 3), keepdims=True), or index the maxima [:, :, None, None]")
    tails = {s[-2:] for s in shapes if len(s) >= 2}
    if ph != pw and (ph, pw) in tails and (ph, ph) in tails:  # a slice cut pool_height wide beside a right window
        return SQUARE_WINDOWS
    if _cut_window(text, ph, pw, tails):
        past = _past_last_window(text, tuple(np.shape(x)[2:]), shape[2:], S, pool=True, cut=True)
        if past:
            return past
    if _SIX_D.search(text):
        return ("x.reshape(N, C, H // pool_height, pool_height, W // pool_width, pool_width) only works when the "
                "stride equals the window and the windows tile x exactly: windows may overlap (stride < window) or "
                "leave rows over; loop over the H' x W' windows, x[:, :, i * stride:i * stride + pool_height, "
                "j * stride:j * stride + pool_width]")
    return None


# The "overlap" cause for a backward whose source already adds into dx (its line filled in).
OVERLAP_ADDS = ("overlapping windows share elements, and dx is added into (+=, line {line}) as it must be: check that "
                "what is added belongs to this window alone (not a mask or an argmax kept for the whole input, "
                "where overlapping windows overwrite each other's part), and that a window starts at i * stride, "
                "not i * pool_height")

# What sets a case apart, and what a bug seen on exactly such cases most likely is: key -> (the
# cases, "on every case ..."; the likely cause[; the likely cause in a forward, where it differs]).
# ``LayerChecker.across`` reads a symptom (fails, raises, a wrong gradient) against the cases'
# features and says the feature that splits them.
FEATURES = {
    "pad0": ("without padding (pad = 0)",
             "look for code that breaks only when pad is 0: x_pad[..., pad:-pad, pad:-pad] and "
             "dx_pad[..., pad:-pad, pad:-pad] are empty when pad is 0 (-0 is 0), and a variable set only under "
             "`if pad > 0:` is missing; use pad:pad + H and pad:pad + W, or np.pad (which takes pad 0)"),
    "padded": ("with padding (pad > 0)",
               "the padding is handled wrongly: x is padded by pad zeros on every side of the height and width "
               "only, np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) (np.pad(x, pad) pads the batch and "
               "channel axes too), and dx is cropped back with dx_pad[:, :, pad:pad + H, pad:pad + W]",
               "the padding is handled wrongly: x is padded by pad zeros on every side of the height and width "
               "only, np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) (np.pad(x, pad) pads the batch and "
               "channel axes too), and the output size counts it: H' = (H + 2 * pad - HH) // stride + 1"),
    "pad_not_1": ("whose padding is not 1",
                  "the padding is taken as 1 whatever conv_param['pad'] says: look for a hard-coded 1 "
                  "(np.pad(x, 1), 1:-1, H + 2) where pad belongs"),
    "pad_over_1": ("with pad > 1", "something assumes pad = 1: look for a hard-coded 1 (1:-1, H + 2) where pad "
                   "belongs"),
    "stride_over_1": ("with stride > 1",
                      "the stride is missing or misplaced somewhere: the window of output (i, j) starts at row "
                      "i * stride, column j * stride (check every slice and index, the columns as well as the rows; "
                      "the stride multiplies the output index i, never the offset inside the window: dw[f, c, m, n] "
                      "sums dout[:, f, i, j] * x_pad[:, c, i * stride + m, j * stride + n])"),
    "stride_ne_window": ("whose stride differs from the window",
                         "the code assumes the stride equals the window: windows start every stride rows, "
                         "x[:, :, i * stride:i * stride + pool_height, j * stride:j * stride + pool_width], and "
                         "are pool_height x pool_width whatever the stride"),
    "overlap": ("whose windows overlap (stride < window)",
                "overlapping windows share elements: each window's share must be added (+=), not assigned, and a "
                "window starts at i * stride, not i * pool_height",
                # a forward only reads the windows: no share to add
                "a window starts at i * stride, not i * pool_height, and there are H' = (H - pool_height) // stride "
                "+ 1 of them down (not H // pool_height, nor one per stride step of the input)"),
    "gaps": ("whose windows leave gaps (stride > window)",
             "elements no window covers get no gradient (start dx from zeros), and a window starts at i * stride",
             # a forward: no gradient to start from zeros
             "a window starts at i * stride, not i * pool_height (the rows and columns between windows belong to "
             "none), and there are H' = (H - pool_height) // stride + 1 of them down"),
    "square_out_not": ("whose output is not square (H' != W')",
                       "look for a loop bound, size or index that uses H' where W' belongs, or the reverse "
                       "(right only for square outputs)"),
    "square_in_not": ("whose input is not square (H != W)",
                      "look for a size or index that uses H where W belongs, or the reverse"),
    "square_kernel_not": ("whose kernel is not square (HH != WW)",
                          "look for HH where WW belongs, or the reverse (right only for square kernels)"),
    "square_window_not": ("whose window is not square (pool_height != pool_width)",
                          "look for pool_height where pool_width belongs, or the reverse (in a pool_height x "
                          "pool_width window, flat index k is row k // pool_width, column k % pool_width)"),
    "same_size": ("whose output is the input's size (H' = H, W' = W)",
                  "a size is taken from the input where the output's belongs (H where H' belongs), which is "
                  "right only when they are equal"),
    "size_changes": ("whose output is not the input's size",
                     "a size is taken from the input where the output's belongs (H where H' belongs), or the "
                     "reverse"),
    "batch": ("with more than one image (N > 1)",
              "images are mixed or dropped: a loop over the batch is missing, or a result is assigned (=) where "
              "it must be summed over the images (+=), e.g. dw keeping only the last image"),
    "channels": ("with more than one channel (C > 1)",
                 "channels are mixed or dropped: check the channel axis of every slice, sum and reshape"),
    "filters": ("with more than one filter (F > 1)",
                "filters are mixed or dropped: check the filter axis of every slice, sum and reshape"),
    "ties": ("with tied maxima in a window",
             "at a tie the gradient must go to maxima only and sum to the window's dout: taking a maximum's row "
             "and column from two separate argmaxes can point at an element that is not a maximum; take one "
             "flat index, k = np.argmax(window), and its row and column with np.unravel_index(k, window.shape)"),
    "not_2x2_stride_2": ("whose windows are not 2x2 with stride 2",
                         "the code is right only for 2x2 windows with stride 2: look for a hard-coded 2 (::2, // 2, "
                         "a reshape or repeat by 2) where pool_height, pool_width or the stride belongs"),
    "leftover": ("whose stride leaves rows or columns over",
                 "the last rows or columns belong to no window: loop over the H' x W' outputs, not over the input"),
}


def _sizes(x: tuple[int, ...], out: tuple[int, ...]) -> list[tuple[str, bool]]:
    N, C, H, W = x
    return [("square_out_not", out[0] != out[1]), ("square_in_not", H != W),
            ("same_size", tuple(out) == (H, W)), ("size_changes", tuple(out) != (H, W)),
            ("batch", N > 1), ("channels", C > 1)]


def conv_features(case, args: tuple) -> list[tuple[str, bool]]:
    x, w = np.shape(args[0]), np.shape(args[1])
    p = args[3]
    S, P, D = p["stride"], p["pad"], p.get("dilation", 1)
    out = tuple((n + 2 * P - D * (k - 1) - 1) // S + 1 for n, k in zip(x[2:], w[2:]))
    return [("pad0", P == 0), ("padded", P > 0), ("pad_not_1", P != 1), ("pad_over_1", P > 1), ("stride_over_1", S > 1),
            ("square_kernel_not", w[2] != w[3]), ("filters", w[0] > 1), *_sizes(x, out)]


def pool_features(case, args: tuple) -> list[tuple[str, bool]]:
    x = np.shape(args[0])
    p = args[1]
    ph, pw, S = p["pool_height"], p["pool_width"], p["stride"]
    out = ((x[2] - ph) // S + 1, (x[3] - pw) // S + 1)
    return [("stride_over_1", S > 1), ("stride_ne_window", (S, S) != (ph, pw)), ("overlap", S < max(ph, pw)),
            ("gaps", S > min(ph, pw)), ("square_window_not", ph != pw), ("not_2x2_stride_2", (ph, pw, S) != (2, 2, 2)),
            ("leftover", (x[2] - ph) % S != 0 or (x[3] - pw) % S != 0), *_sizes(x, out)]


def max_pool_features(case, args: tuple) -> list[tuple[str, bool]]:
    return [*pool_features(case, args), ("ties", bool(getattr(case, "ties", False)))]


def _windows(x: np.ndarray, p: dict) -> tuple[np.ndarray, np.ndarray]:
    """(covered, at_max): which elements of x some pooling window covers, and which are the maximum
    (any of the tied maxima) of some window that covers them."""
    ph, pw, S = p["pool_height"], p["pool_width"], p["stride"]
    H, W = x.shape[2:]
    covered = np.zeros(x.shape, dtype=bool)
    at_max = np.zeros(x.shape, dtype=bool)
    for i in range((H - ph) // S + 1):
        for j in range((W - pw) // S + 1):
            rows, cols = slice(i * S, i * S + ph), slice(j * S, j * S + pw)
            window = x[:, :, rows, cols]
            covered[:, :, rows, cols] = True
            at_max[:, :, rows, cols] |= window == window.max(axis=(2, 3), keepdims=True)
    return covered, at_max


def _where(mask: np.ndarray) -> str:
    return "x[" + ", ".join(str(int(i)) for i in np.argwhere(mask)[0]) + "]"


def _outside_windows(got: np.ndarray, covered: np.ndarray, scale: float) -> str | None:
    stray = ~covered & (np.abs(got) > 1e-9 * scale)
    if not stray.any():
        return None
    ones = bool(np.allclose(got[~covered], 1.0))
    return (f"dx is not 0 at {_where(stray)}, which no pooling window covers (the stride leaves it out)"
            + (": dx starts from ones (np.ones_like(x)); start from np.zeros_like(x)" if ones else
               ": only elements inside a window get gradient; start from dx = np.zeros_like(x)"))


def _max_pool_values(name: str, got: Any, args: tuple, dout: np.ndarray) -> str | None:
    """A max-pool dx with wrong values, read against what any valid subgradient satisfies: gradient
    only inside the windows and only at a window's maximum."""
    x, p = args
    if name != "dx" or not isinstance(got, np.ndarray) or got.shape != np.shape(x):
        return None
    got = np.asarray(got, dtype=np.float64)
    covered, at_max = _windows(np.asarray(x), p)
    scale = max(float(np.abs(dout).max()), 1.0)
    outside = _outside_windows(got, covered, scale)
    if outside:
        return outside
    stray = covered & ~at_max & (np.abs(got) > 1e-9 * scale)
    if not stray.any():
        return None
    if np.allclose(got[covered & ~at_max], 1.0):
        return ("every element that is no window's maximum has gradient 1: dx starts from ones (np.ones_like(x)); "
                "start from np.zeros_like(x)")
    where = _where(stray)
    return (f"dx sends gradient to {where}, which is not the maximum of any window that covers it: the position "
            "of a window's maximum is computed wrongly (its row and column from two separate argmaxes, the flat "
            "index split with pool_height instead of pool_width, or an offset missing the window's start "
            "i * stride)")


def _avg_pool_values(name: str, got: Any, args: tuple, dout: np.ndarray) -> str | None:
    x, p = args
    if name != "dx" or not isinstance(got, np.ndarray) or got.shape != np.shape(x):
        return None
    covered, _ = _windows(np.asarray(x), p)
    return _outside_windows(np.asarray(got, dtype=np.float64), covered, max(float(np.abs(dout).max()), 1.0))


def _conv_cache_items(args: tuple) -> dict[str, Any]:
    x, w, b, p = args
    pad = p["pad"]
    return {"x": x, "w": w, "b": b, "conv_param": p,
            "x_pad": np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")}


def _pool_cache_items(args: tuple) -> dict[str, Any]:
    return {"x": args[0], "pool_param": args[1]}


def for_part(part: str):
    from grader.parts import Hints

    # cs231n's docstrings (and the native layout's) document the cache as the forward's arguments
    documented = {"cache": tuple, "cache_text": "(x, w, b, conv_param)" if part == "conv" else "(x, pool_param)",
                  "cache_items": _conv_cache_items if part == "conv" else _pool_cache_items}
    if part == "conv":
        return Hints(output=_conv_output, gradient=_conv_gradient, error=_conv_error, features=conv_features,
                     **documented)
    if part == "max_pool":
        return Hints(output=_pool_output, accept=_max_pool_accept, accepted=TIES_ACCEPTED, error=_pool_error,
                     features=max_pool_features, values=_max_pool_values, **documented)
    return Hints(output=_pool_output, error=_pool_error, features=pool_features, values=_avg_pool_values,
                 **documented)
