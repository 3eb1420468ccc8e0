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
                    "W' = (W - pool_width) // stride + 1 (right only for square windows)")]
    for shape, why in guesses:
        if tuple(got.shape[2:]) == shape != tuple(expected[2:]):
            return why
    return None


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
_SIX_D = re.compile(r"cannot reshape array of size \d+ into shape \((\d+, ?){5}\d+\)")


def _shapes(text: str) -> list[tuple[int, ...]]:
    found = _BROADCAST.search(text)
    if not found:
        return []
    return [tuple(int(n) for n in group.split(",") if n.strip())
            for group in re.findall(r"\(([\d, ]*)\)", found.group(1))]


SQUARE_WINDOWS = ("the windows are pool_height x pool_height: the width is taken from pool_height somewhere "
                  "(right only for square windows); a window is x[:, :, i*stride:i*stride + pool_height, "
                  "j*stride:j*stride + pool_width]")
IM2COL_ROWS = ("window (i, j) is stored in row i * H' + j: with a non-square output rows collide or run past the end "
               "(right only for square outputs); use row i * W' + j, and i, j = divmod(row, W') back")
_ROW_PAST_END = re.compile(r"index (\d+) is out of bounds for axis \d+ with size (\d+)")


def _rows_past_end(out_shape: tuple[int, ...], text: str) -> str | None:
    """An index error at row H' * W' of an im2col matrix, on a taller-than-wide output: the
    window (i, j) went to row i * H' + j."""
    found = _ROW_PAST_END.search(text)
    H_out, W_out = out_shape[2:]
    if found and H_out > W_out and int(found.group(2)) == H_out * W_out:
        return IM2COL_ROWS
    return None


def _conv_error(args: tuple, text: str) -> str | None:
    """A broadcast error between a window and a filter that agree on the channels and the height
    but not the width, on a non-square kernel: the width was taken from the kernel's height."""
    HH, WW = np.shape(args[1])[2:]
    p = args[3]
    S, P, D = p["stride"], p["pad"], p.get("dilation", 1)
    shape = tuple(np.shape(args[0])[:1]) + (np.shape(args[1])[0],) + tuple(
        (n + 2 * P - D * (k - 1) - 1) // S + 1 for n, k in zip(np.shape(args[0])[2:], (HH, WW)))
    rows = _rows_past_end(shape, text)
    if rows or HH == WW:
        return rows
    kernel = tuple(np.shape(args[1])[1:])
    tails = [s[-3:] for s in _shapes(text) if len(s) >= 3]  # (C, height, width) of each operand
    if kernel in tails and (kernel[0], WW, HH) in tails:
        return (f"a window is {WW} high and {HH} wide where the kernel is HH = {HH} high and WW = {WW} wide: the "
                "kernel's height and width are swapped in a slice (right only for square kernels); rows span HH, "
                "columns WW: x_pad[..., i * stride:i * stride + HH, j * stride:j * stride + WW]")
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


def _pool_error(args: tuple, text: str) -> str | None:
    x, p = args
    shape = tuple(np.shape(x)[:2]) + tuple((n - k) // p["stride"] + 1 for n, k in zip(
        np.shape(x)[2:], (p["pool_height"], p["pool_width"])))
    rows = _rows_past_end(shape, text)
    if rows:
        return rows
    ph, pw = p["pool_height"], p["pool_width"]
    tails = {s[-2:] for s in _shapes(text) if len(s) >= 2}
    if ph != pw and (ph, pw) in tails and (ph, ph) in tails:  # a slice cut pool_height wide beside a right window
        return SQUARE_WINDOWS
    if _SIX_D.search(text):
        return ("x.reshape(N, C, H // pool_height, pool_height, W // pool_width, pool_width) only works when the "
                "stride equals the window and the windows tile x exactly: windows may overlap (stride < window) or "
                "leave rows over; loop over the H' x W' windows, x[:, :, i * stride:i * stride + pool_height, "
                "j * stride:j * stride + pool_width]")
    return None


def for_part(part: str):
    from grader.parts import Hints

    if part == "conv":
        return Hints(output=_conv_output, gradient=_conv_gradient, error=_conv_error)
    if part == "max_pool":
        return Hints(output=_pool_output, accept=_max_pool_accept, accepted=TIES_ACCEPTED, error=_pool_error)
    return Hints(output=_pool_output, error=_pool_error)
