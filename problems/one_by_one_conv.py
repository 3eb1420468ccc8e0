"""A 1×1 convolution: parameters, output shape and multiply-adds.

A 1×1 convolution (stride 1, no padding) mixes channels at each position, like
an FC layer applied to every pixel's channel vector:

    params      = C_in · C_out + C_out          (weights, one bias per filter)
    output      = C_out × H × W                 (H and W unchanged)
    mult-adds   = H · W · C_in · C_out          (one per weight per position)
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .answers import Integer, Record, Shape
from .base import Bool, Int, Param, Problem, Statement, mistakes_from, pick


class OneByOneConv(Problem):
    name = "one-by-one-conv"
    summary = "a 1x1 convolution: parameters, output shape (C, H, W) and multiply-adds"
    topic = "1x1"
    params = (
        Param("in_channels", Int(min=1), help="input channels C_in"),
        Param("out_channels", Int(min=1), help="output channels (filters) C_out"),
        Param("height", Int(min=1), help="input height H"),
        Param("width", Int(min=1), help="input width W"),
        Param("bias", Bool(), True, "whether each filter has a bias"),
    )
    answer_format = Record(
        (("params", Integer()), ("output_shape", Shape()), ("mult_adds", Integer()))
    )

    def draw(self, rng: np.random.Generator) -> dict[str, Any]:
        c_in = pick(rng, [16, 32, 64, 128, 192, 256, 480, 512, 832, 1024])
        # Usually a bottleneck (fewer channels out, as in Inception and ResNet),
        # sometimes an expansion.
        if rng.random() < 0.7:
            c_out = pick(rng, [c for c in (8, 16, 32, 48, 64, 96, 128, 256) if c < c_in] or [c_in // 2])
        else:
            c_out = c_in * pick(rng, [2, 4])
        side = pick(rng, [7, 14, 28, 32, 56])
        height, width = (side, side) if rng.random() < 0.8 else (side, pick(rng, [7, 14, 28, 32, 56]))
        return self.validate(
            {"in_channels": c_in, "out_channels": c_out, "height": height, "width": width,
             "bias": bool(rng.random() < 0.75)}
        )

    def solve(self, p: dict[str, Any]) -> dict[str, Any]:
        C_in, C_out, H, W = p["in_channels"], p["out_channels"], p["height"], p["width"]
        return {
            "params": C_in * C_out + (C_out if p["bias"] else 0),
            "output_shape": [C_out, H, W],
            "mult_adds": H * W * C_in * C_out,
        }

    def mistakes(self, p: dict[str, Any]) -> list:
        C_in, C_out, H, W, bias = p["in_channels"], p["out_channels"], p["height"], p["width"], p["bias"]
        right = self.solve(p)
        b = C_out if bias else 0

        def field(name: str, value: Callable[[], Any]) -> Callable[[], dict[str, Any] | None]:
            # A partial answer with only the field the mistake affects; None
            # when the mistake happens to give the right value here.
            return lambda: None if (v := value()) == right[name] else {name: v}

        variants = [
            ("no-input-channels", "forgot the input channels: each 1×1 filter has one weight per input channel",
             field("params", lambda: C_out + b)),
            ("keeps-channels", "a 1×1 convolution changes the number of channels to the number of filters",
             field("output_shape", lambda: [C_in, H, W])),
            ("shrinks", "a 1×1 kernel with stride 1 keeps H and W: (W - 1)/1 + 1 = W",
             field("output_shape", lambda: [C_out, H - 1, W - 1] if min(H, W) > 1 else None)),
            ("flops", "counted FLOPs (a multiply and an add, 2 per multiply-add) instead of multiply-adds",
             field("mult_adds", lambda: 2 * H * W * C_in * C_out)),
            ("no-positions", "multiply-adds: forgot the spatial positions (H·W)",
             field("mult_adds", lambda: C_in * C_out)),
            ("mult-adds-no-input-channels", "multiply-adds: forgot the input channels (C_in per output value)",
             field("mult_adds", lambda: H * W * C_out)),
        ]
        if bias:
            variants += [
                ("no-bias", "forgot the bias", field("params", lambda: C_in * C_out)),
                ("bias-per-position", "counted a bias per output position: the bias is one per filter, shared "
                 "over all positions", field("params", lambda: C_in * C_out + C_out * H * W)),
            ]
        else:
            variants.append(("bias-when-none", "counted a bias, but the layer has bias=False",
                             field("params", lambda: C_in * C_out + C_out)))
        return mistakes_from(p, right, variants)

    def statement(self, p: dict[str, Any]) -> Statement:
        C_in, C_out, H, W = p["in_channels"], p["out_channels"], p["height"], p["width"]
        bias = "with a bias per filter" if p["bias"] else "without bias (bias=False)"
        text = (
            "A 1×1 convolution mixes channels at each position. "
            f"The layer nn.Conv2d({C_in}, {C_out}, kernel_size=1" + ("" if p["bias"] else ", bias=False")
            + f") (stride 1, no padding, {bias}) is applied to an input volume of {C_in} channels, "
            f"{H} high and {W} wide (C×H×W = {C_in}×{H}×{W})."
        )
        ask = (
            "Give (1) its number of learnable parameters, (2) the shape of its output as (C, H, W), and "
            "(3) the number of multiply-adds it performs on this one input."
        )
        return Statement((text, ask), "Give the parameters and the multiply-adds as whole numbers and the "
                         "output shape as (C, H, W), e.g. (32, 28, 28).")
