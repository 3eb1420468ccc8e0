"""Output size of a convolution along one spatial dimension.

    out = floor((W + 2P - D(F-1) - 1) / S) + 1

as in the course notes and PyTorch's ``nn.Conv2d`` documentation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from grader.errors import ParamError

from .answers import Integer
from .base import Int, Param, Problem, Statement, mistakes_from, pick
from .layers import out_size


class ConvOutputSize(Problem):
    name = "conv-output-size"
    summary = "output width of a convolution: floor((W+2P-D(F-1)-1)/S)+1"
    topic = "output-size"
    params = (
        Param("input_size", Int(min=1), help="input width W"),
        Param("kernel_size", Int(min=1), help="kernel width F"),
        Param("stride", Int(min=1), 1, "stride S"),
        Param("padding", Int(min=0), 0, "zero padding P on each side"),
        Param("dilation", Int(min=1), 1, "dilation D"),
    )
    answer_format = Integer()

    def check_params(self, p: dict[str, Any]) -> None:
        extent = p["dilation"] * (p["kernel_size"] - 1) + 1
        if extent > p["input_size"] + 2 * p["padding"]:
            raise ParamError(
                f"the kernel's extent D(F-1)+1 = {extent} is larger than the padded input W+2P = "
                f"{p['input_size'] + 2 * p['padding']}"
            )

    def draw(self, rng: np.random.Generator) -> dict[str, Any]:
        kernel = pick(rng, [1, 3, 3, 5, 5, 7, 11])
        dilation = pick(rng, [1, 1, 1, 2, 3]) if kernel > 1 else 1
        extent = dilation * (kernel - 1) + 1
        stride = pick(rng, [1, 1, 2, 2, 3, 4])
        style = pick(rng, ["valid", "same", "some"])
        padding = {"valid": 0, "same": (extent - 1) // 2, "some": int(rng.integers(1, max(2, extent // 2 + 1)))}[style]
        # Most variants divide cleanly; one in four leaves a remainder, so
        # that floor versus ceil matters.
        out = int(rng.integers(4, 60))
        size = (out - 1) * stride + extent - 2 * padding
        if stride > 1 and rng.random() < 0.25:
            size += int(rng.integers(1, stride))
        if size < max(1, extent - 2 * padding):
            size = extent + int(rng.integers(0, 8)) * stride
        return self.validate(
            {"input_size": size, "kernel_size": kernel, "stride": stride, "padding": padding, "dilation": dilation}
        )

    def solve(self, p: dict[str, Any]) -> int:
        return out_size(p["input_size"], p["kernel_size"], p["stride"], p["padding"], p["dilation"])

    def mistakes(self, p: dict[str, Any]) -> list:
        W, F, S, P, D = p["input_size"], p["kernel_size"], p["stride"], p["padding"], p["dilation"]
        return mistakes_from(
            p,
            self.solve(p),
            [
                ("no-plus-one", "forgot the +1", lambda: (W + 2 * P - D * (F - 1) - 1) // S),
                ("no-padding", "forgot the padding", lambda: out_size(W, F, S, 0, D)),
                ("one-side-padding", "padded one side only: the padding P is added on both sides (2P)",
                 lambda: (W + P - D * (F - 1) - 1) // S + 1),
                ("ceil", "used ceil instead of floor: a window that does not fit is dropped",
                 lambda: out_size(W, F, S, P, D, ceil=True)),
                ("no-dilation", "ignored the dilation: the kernel spans D(F-1)+1 pixels",
                 lambda: out_size(W, F, S, P, 1)),
                ("no-stride", "ignored the stride: divide by S", lambda: out_size(W, F, 1, P, D)),
                ("dilation-times-f", "used D·F for the kernel's extent instead of D(F-1)+1",
                 lambda: (W + 2 * P - D * F) // S + 1),
            ],
        )

    def statement(self, p: dict[str, Any]) -> Statement:
        extra = []
        if p["dilation"] != 1:
            extra.append(f"dilation {p['dilation']}")
        text = (
            f"A convolutional layer with a {p['kernel_size']}×{p['kernel_size']} kernel, stride {p['stride']}, "
            f"zero padding {p['padding']}" + (", " + ", ".join(extra) if extra else "")
            + f" is applied to an input {p['input_size']} pixels wide. How wide is its output?"
        )
        return Statement((text,), "Answer with an integer.")
