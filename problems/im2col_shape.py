"""Shapes of the im2col matrices of a convolution, per image (cs231n notes).

im2col stretches every receptive field of the input into a column and every
filter into a row, so that the convolution becomes one matrix product:

    X_col   = [C·KH·KW, OH·OW]     one column per output position
    W_row   = [F, C·KH·KW]         one row per filter
    product = W_row @ X_col = [F, OH·OW]     reshaped to F x OH x OW

with OH = floor((H + 2P - KH)/S) + 1 (and OW likewise).  The notes' example:
a 227x227x3 input, 11x11 filters at stride 4 and 96 filters give X_col
(363, 3025), W_row (96, 363) and a (96, 3025) product.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from grader.errors import ParamError

from .answers import Record, Shape
from .base import Int, Pair, Param, Problem, Statement, mistakes_from, pair, pick
from .layers import out_size


def _im2col(H: int, W: int, C: int, KH: int, KW: int, SH: int, SW: int, PH: int, PW: int, F: int,
            *, plus_one: bool = True) -> dict[str, list[int]]:
    """X_col, W_row and product shapes for one image (optionally without the +1)."""
    if plus_one:
        OH, OW = out_size(H, KH, SH, PH), out_size(W, KW, SW, PW)
    else:
        OH, OW = (H + 2 * PH - KH) // SH, (W + 2 * PW - KW) // SW
        if min(OH, OW) < 1:
            raise ValueError("no output positions")
    rows, cols = C * KH * KW, OH * OW
    return {"X_col": [rows, cols], "W_row": [F, rows], "product": [F, cols]}


def _dims(value: int | list[int]) -> str:
    h, w = pair(value)
    return f"{h}×{w}"


class Im2colShape(Problem):
    name = "im2col-shape"
    summary = "shapes of X_col, W_row and their product when a convolution is done with im2col"
    topic = "im2col"
    params = (
        Param("input_size", Pair(), help="input height and width: 227 or 32x48"),
        Param("in_channels", Int(min=1), help="input channels C"),
        Param("kernel_size", Pair(), help="filter height and width: 11 or 3x5"),
        Param("stride", Pair(), 1, "stride S (or SHxSW)"),
        Param("padding", Pair(min=0), 0, "zero padding P on each side (or PHxPW)"),
        Param("out_channels", Int(min=1), help="number of filters F"),
    )
    answer_format = Record((("X_col", Shape()), ("W_row", Shape()), ("product", Shape())))

    def check_params(self, p: dict[str, Any]) -> None:
        for axis, i in (("height", 0), ("width", 1)):
            size, kernel, padding = pair(p["input_size"])[i], pair(p["kernel_size"])[i], pair(p["padding"])[i]
            if kernel > size + 2 * padding:
                raise ParamError(
                    f"kernel_size {_dims(p['kernel_size'])} does not fit the padded input: its {axis} {kernel} "
                    f"is larger than input_size + 2·padding = {size + 2 * padding}"
                )

    def _shapes(self, p: dict[str, Any], **changes: Any) -> dict[str, list[int]]:
        q = {**p, **{k: v for k, v in changes.items() if k != "plus_one"}}
        (H, W), (KH, KW) = pair(q["input_size"]), pair(q["kernel_size"])
        (SH, SW), (PH, PW) = pair(q["stride"]), pair(q["padding"])
        return _im2col(H, W, q["in_channels"], KH, KW, SH, SW, PH, PW, q["out_channels"],
                       plus_one=changes.get("plus_one", True))

    # -- variants

    def draw(self, rng: np.random.Generator) -> dict[str, Any]:
        if rng.random() < 0.1:  # the notes' own example (AlexNet's first layer) or a VGG layer
            raw = [
                {"input_size": 227, "in_channels": 3, "kernel_size": 11, "stride": 4, "padding": 0, "out_channels": 96},
                {"input_size": 224, "in_channels": 3, "kernel_size": 3, "stride": 1, "padding": 1, "out_channels": 64},
                {"input_size": 32, "in_channels": 3, "kernel_size": 5, "stride": 1, "padding": 2, "out_channels": 16},
            ][int(rng.integers(3))]
            return self.validate(raw)
        kernel = pick(rng, [1, 3, 3, 3, 5, 5, 7, 11])
        stride = pick(rng, [s for s in (1, 1, 2, 2, 4) if s <= max(kernel, 2)])
        padding = pick(rng, [0, (kernel - 1) // 2, (kernel - 1) // 2]) if kernel > 1 else 0
        in_channels = pick(rng, [1, 3, 3, 8, 16, 32, 64])
        out_channels = pick(rng, [4, 6, 8, 16, 32, 64, 96, 128])
        # Pick the output size first so that the windows tile the input exactly.
        oh = int(rng.integers(3, 33))
        ow = oh if rng.random() < 0.75 else int(rng.integers(3, 33))
        size = [(o - 1) * stride + kernel - 2 * padding for o in (oh, ow)]
        return self.validate(
            {"input_size": size, "in_channels": in_channels, "kernel_size": kernel, "stride": stride,
             "padding": padding, "out_channels": out_channels}
        )

    # -- the truth

    def solve(self, p: dict[str, Any]) -> dict[str, list[int]]:
        return self._shapes(p)

    def mistakes(self, p: dict[str, Any]) -> list:
        right = self.solve(p)
        rows, cols = right["X_col"]
        F, C = p["out_channels"], p["in_channels"]
        (H, W), (KH, KW) = pair(p["input_size"]), pair(p["kernel_size"])
        (SH, SW), (PH, PW) = pair(p["stride"]), pair(p["padding"])
        OH, OW = out_size(H, KH, SH, PH), out_size(W, KW, SW, PW)
        return mistakes_from(
            p,
            right,
            [
                ("no-channels", "forgot the channels: each column holds a C·KH·KW receptive field, all channels",
                 lambda: self._shapes(p, in_channels=1)),
                ("no-plus-one", "forgot the +1 in the output size (W+2P-F)/S+1",
                 lambda: self._shapes(p, plus_one=False)),
                ("no-padding", "forgot the padding: the padded input is W+2P wide",
                 lambda: self._shapes(p, padding=0)),
                ("no-stride", "ignored the stride: the windows move S pixels at a time",
                 lambda: self._shapes(p, stride=1)),
                ("transposed-x-col", "transposed X_col: one COLUMN per receptive field, so it is [C·KH·KW, OH·OW]",
                 lambda: {"X_col": [cols, rows]}),
                ("transposed-w-row", "transposed W_row: one ROW per filter, so it is [F, C·KH·KW]",
                 lambda: {"W_row": [rows, F]}),
                ("transposed-product", "the product W_row·X_col is [F, OH·OW]: filters by positions",
                 lambda: {"product": [cols, F]}),
                ("input-positions", "one column per OUTPUT position (OH·OW), not per input pixel",
                 lambda: {"X_col": [rows, H * W], "product": [F, H * W]}),
                ("filters-for-channels", "used the number of filters F instead of the input channels C",
                 lambda: self._shapes(p, in_channels=F)),
                ("output-side-only", "there is one column per output position: OH·OW of them, not OH",
                 lambda: {"X_col": [rows, OH], "product": [F, OH]} if OH == OW else None),
                ("kernel-side-only", "a column holds the whole C·KH·KW window, not C·K",
                 lambda: {"X_col": [C * KH, cols], "W_row": [F, C * KH]}),
            ],
        )

    # -- what people read

    def statement(self, p: dict[str, Any]) -> Statement:
        (H, W), (KH, KW) = pair(p["input_size"]), pair(p["kernel_size"])
        (SH, SW), (PH, PW) = pair(p["stride"]), pair(p["padding"])
        stride = f"{SH}" if SH == SW else f"{SH} (rows) and {SW} (columns)"
        padding = (
            "no zero padding" if PH == PW == 0
            else f"zero padding {PH}" if PH == PW
            else f"zero padding {PH} (top and bottom) and {PW} (left and right)"
        )
        text = (
            f"A convolutional layer with {p['out_channels']} filters of size {KH}×{KW}, stride {stride} and "
            f"{padding} is applied to one input image of {H}×{W}×{p['in_channels']} "
            f"(height × width × channels). It is computed with im2col: every receptive field of the input "
            f"is stretched into a column of X_col, every filter into a row of W_row, and the convolution "
            f"is the matrix product W_row · X_col."
        )
        return Statement(
            (text,),
            "Give the shapes of X_col, W_row and the product as (rows, columns), for one image, "
            "e.g. (363, 3025).",
        )
