"""The test cases of the layer parts, chosen to expose the classic bugs.

Each case names what it exposes; its inputs are drawn fresh from
``rng(seed, part, case)`` on every run, so outputs cannot be memorised.
Shapes follow cs231n: x (N, C, H, W), w (F, C, HH, WW), b (F,).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from grader.seeding import rng


@dataclass(frozen=True)
class ConvCase:
    name: str
    x: tuple[int, int, int, int]
    w: tuple[int, int, int, int]
    stride: int = 1
    pad: int = 0
    dilation: int = 1
    kinds: tuple[str, ...] = ("forward", "backward")

    def params(self, with_dilation: bool) -> dict[str, int]:
        p = {"stride": self.stride, "pad": self.pad}
        if with_dilation:
            p["dilation"] = self.dilation
        return p


@dataclass(frozen=True)
class PoolCase:
    name: str
    x: tuple[int, int, int, int]
    pool_height: int
    pool_width: int
    stride: int
    ties: bool = False
    kinds: tuple[str, ...] = ("forward", "backward")

    def params(self) -> dict[str, int]:
        return {"pool_height": self.pool_height, "pool_width": self.pool_width, "stride": self.stride}


CONV_CASES = (
    ConvCase("basic: one image, one filter", (1, 1, 5, 5), (1, 1, 3, 3), kinds=("forward", "backward")),
    ConvCase("channels, filters and a batch", (3, 4, 6, 6), (5, 4, 3, 3), kinds=("forward", "backward")),
    ConvCase("zero padding", (2, 3, 5, 5), (2, 3, 3, 3), pad=1, kinds=("forward", "backward")),
    ConvCase("stride 2 with padding", (2, 3, 7, 7), (3, 3, 3, 3), stride=2, pad=1,
             kinds=("forward", "backward", "numeric-gradient")),
    ConvCase("non-square input and kernel", (2, 2, 6, 9), (3, 2, 3, 5), pad=1, kinds=("forward", "backward")),
    ConvCase("dilation 2", (2, 2, 9, 9), (2, 2, 3, 3), pad=2, dilation=2,
             kinds=("forward", "backward", "numeric-gradient")),
)

POOL_CASES = (
    PoolCase("2x2 windows, stride 2", (2, 3, 4, 4), 2, 2, 2, kinds=("forward", "backward", "numeric-gradient")),
    PoolCase("overlapping 3x3 windows, stride 2", (2, 2, 7, 7), 3, 3, 2,
             kinds=("forward", "backward", "numeric-gradient")),
    PoolCase("non-square windows and input", (2, 2, 6, 8), 2, 4, 2, kinds=("forward", "backward")),
    PoolCase("ties inside windows", (1, 2, 4, 4), 2, 2, 2, ties=True, kinds=("forward", "backward")),
    PoolCase("overlapping windows with ties", (1, 2, 5, 5), 3, 3, 1, ties=True, kinds=("forward", "backward")),
)

# A medium workload for the speed test.
SPEED_CONV = ConvCase("speed", (4, 3, 16, 16), (8, 3, 3, 3), stride=1, pad=1)
SPEED_POOL = PoolCase("speed", (4, 8, 16, 16), 2, 2, 2)


@dataclass
class Inputs:
    """The arrays of one case: the forward's arguments and an upstream gradient."""

    args: tuple[Any, ...]
    dout: np.ndarray | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def conv_inputs(case: ConvCase, seed: int, part: str, with_dilation: bool) -> Inputs:
    g = rng(seed, part, case.name)
    x = g.standard_normal(case.x)
    w = g.standard_normal(case.w)
    b = g.standard_normal(case.w[0])
    return Inputs((x, w, b, case.params(with_dilation)))


def pool_inputs(case: PoolCase, seed: int, part: str) -> Inputs:
    g = rng(seed, part, case.name)
    if case.ties:
        x = g.integers(0, 3, size=case.x).astype(np.float64)  # few values: many ties
    else:
        x = g.standard_normal(case.x)
    return Inputs((x, case.params()))


def upstream(shape: tuple[int, ...], seed: int, part: str, case: str) -> np.ndarray:
    return rng(seed, part, case, "dout").standard_normal(shape)
