"""Learnable parameters of a convolutional layer (``nn.Conv2d``).

    params = (C_in / groups · KH · KW) · C_out  +  C_out   (the bias, one per filter)

Worked in the course notes: a 3×3 convolution from 3 to 10 channels with bias
has 10·3·3·3 + 10 = 280 parameters; three 3×3 convolutions C→C without bias
have 27C², one 7×7 has 49C².
"""

from __future__ import annotations

from typing import Any

import numpy as np

from grader.errors import ParamError

from .answers import Integer
from .base import Bool, Int, Pair, Param, Problem, Statement, mistakes_from, pair, pick
from .layers import conv_params


class ConvParams(Problem):
    name = "conv-params"
    summary = "learnable parameters of a conv layer: (C_in/groups·KH·KW)·C_out + C_out"
    topic = "params"
    params = (
        Param("in_channels", Int(min=1), help="input channels C_in"),
        Param("out_channels", Int(min=1), help="output channels (filters) C_out"),
        Param("kernel_size", Pair(), help="kernel size K, or KHxKW such as 3x5"),
        Param("bias", Bool(), True, "whether each filter has a bias"),
        Param("groups", Int(min=1), 1, "groups; must divide in_channels and out_channels"),
    )
    answer_format = Integer()

    _CHANNELS = (1, 3, 3, 8, 16, 32, 48, 64, 96, 128, 192, 256, 384, 512)

    def check_params(self, p: dict[str, Any]) -> None:
        g = p["groups"]
        for side in ("in_channels", "out_channels"):
            if p[side] % g:
                raise ParamError(f"groups ({g}) must divide {side} ({p[side]})")

    def draw(self, rng: np.random.Generator) -> dict[str, Any]:
        c_in = pick(rng, self._CHANNELS)
        c_out = pick(rng, self._CHANNELS[2:])
        kernel: int | list[int] = pick(rng, [1, 3, 3, 3, 5, 7, 11])
        if rng.random() < 0.2:  # non-square, as in Inception's factorised convolutions
            kernel = [list(k) for k in ((1, 3), (3, 1), (1, 7), (7, 1), (3, 5))][int(rng.integers(5))]
        groups = 1
        if rng.random() < 0.25:
            if rng.random() < 0.4:  # depthwise
                c_in = c_out = pick(rng, [16, 32, 64, 128, 256])
                groups = c_in
            else:
                groups = pick(rng, [2, 4, 8])
                c_in = max(c_in - c_in % (groups * 4), groups * 4)
                c_out = max(c_out - c_out % (groups * 4), groups * 4)
        return self.validate(
            {
                "in_channels": c_in,
                "out_channels": c_out,
                "kernel_size": kernel,
                "bias": bool(rng.random() < 0.75),
                "groups": groups,
            }
        )

    def solve(self, p: dict[str, Any]) -> int:
        kh, kw = pair(p["kernel_size"])
        return conv_params(p["in_channels"], p["out_channels"], kh, kw, p["groups"], p["bias"])

    def mistakes(self, p: dict[str, Any]) -> list:
        C_in, C_out, g, bias = p["in_channels"], p["out_channels"], p["groups"], p["bias"]
        kh, kw = pair(p["kernel_size"])
        weights = (C_in // g) * kh * kw * C_out
        b = C_out if bias else 0

        def kernel_as_k() -> int | None:
            return (C_in // g) * kh * C_out + b if kh == kw else None

        variants = [
            ("no-input-channels", "forgot the input channels: each filter spans all C_in/groups input channels",
             lambda: kh * kw * C_out + b),
            ("ignored-groups", "ignored the groups: each filter sees only C_in/groups input channels",
             lambda: conv_params(C_in, C_out, kh, kw, 1, bias)),
            ("kernel-as-k", "counted the kernel as K instead of K·K weights", kernel_as_k),
        ]
        if bias:
            variants += [
                ("no-bias", "forgot the bias", lambda: weights),
                ("bias-per-input-channel", "one bias per input channel: there is one bias per filter (output channel)",
                 lambda: weights + C_in),
                ("bias-per-weight", "one bias per weight: there is one bias per filter", lambda: 2 * weights),
                ("bias-once", "counted the bias once per layer: there is one bias per filter", lambda: weights + 1),
            ]
        else:
            variants.append(("bias-when-none", "counted a bias, but the layer has bias=False",
                             lambda: weights + C_out))
        return mistakes_from(p, self.solve(p), variants)

    def statement(self, p: dict[str, Any]) -> Statement:
        kh, kw = pair(p["kernel_size"])
        size = f"{kh}×{kw}" + (" (height × width)" if kh != kw else "")
        call = [f"in_channels={p['in_channels']}", f"out_channels={p['out_channels']}",
                f"kernel_size={kh if kh == kw else (kh, kw)}"]
        details = []
        if p["groups"] != 1:
            call.append(f"groups={p['groups']}")
            kind = "depthwise, " if p["groups"] == p["in_channels"] == p["out_channels"] else ""
            details.append(f"in {p['groups']} groups ({kind}each group of filters sees only its own input channels)")
        if not p["bias"]:
            call.append("bias=False")
        details.append("with a bias per filter" if p["bias"] else "without bias")
        text = (
            f"A convolutional layer nn.Conv2d({', '.join(call)}) maps {p['in_channels']} input channels to "
            f"{p['out_channels']} output channels with {size} kernels, " + ", ".join(details)
            + ". How many learnable parameters does it have?"
        )
        return Statement((text,), "Answer with an integer.")
