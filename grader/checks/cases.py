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

    @property
    def out(self) -> tuple[int, int]:
        """(H', W') = ((H + 2P - D(HH - 1) - 1) // S + 1, the same for W)."""
        return tuple((n + 2 * self.pad - self.dilation * (k - 1) - 1) // self.stride + 1
                     for n, k in zip(self.x[2:], self.w[2:]))

    @property
    def divides(self) -> bool:
        """Whether the stride fits the padded input exactly (cs231n's assertion: no row or column left over)."""
        return all((n + 2 * self.pad - self.dilation * (k - 1) - 1) % self.stride == 0
                   for n, k in zip(self.x[2:], self.w[2:]))


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

    @property
    def out(self) -> tuple[int, int]:
        """(H', W') = ((H - PH) // S + 1, (W - PW) // S + 1)."""
        return ((self.x[2] - self.pool_height) // self.stride + 1, (self.x[3] - self.pool_width) // self.stride + 1)

    @property
    def divides(self) -> bool:
        return (self.x[2] - self.pool_height) % self.stride == 0 and (self.x[3] - self.pool_width) % self.stride == 0


# Together the cases of each part cover the contract: square and non-square inputs *and*
# outputs, odd sizes, a stride other than the window, pad 0, 1 and 2, batches and channels
# above 1 (tests/check/test_cases.py proves it).  Cases whose stride leaves a row or column
# over (``divides`` False) are given only to layouts that allow it: cs231n's solutions may
# assert that it fits exactly.
CONV_CASES = (
    ConvCase("basic: one image, one filter", (1, 1, 5, 5), (1, 1, 3, 3), kinds=("forward", "backward")),
    ConvCase("channels, filters and a batch", (3, 4, 6, 6), (5, 4, 3, 3), kinds=("forward", "backward")),
    ConvCase("zero padding", (2, 3, 5, 5), (2, 3, 3, 3), pad=1, kinds=("forward", "backward")),
    ConvCase("stride 2 with padding", (2, 3, 7, 7), (3, 3, 3, 3), stride=2, pad=1,
             kinds=("forward", "backward", "numeric-gradient")),
    ConvCase("non-square input and kernel", (2, 2, 6, 9), (3, 2, 3, 5), pad=1, kinds=("forward", "backward")),
    # a non-square output from a square input: tells a width taken from H' from one taken from H
    ConvCase("square input, wide kernel", (2, 2, 6, 6), (2, 2, 3, 5), pad=1, kinds=("forward", "backward")),
    ConvCase("padding 2, odd non-square output, stride 2", (2, 3, 7, 5), (2, 3, 3, 3), stride=2, pad=2,
             kinds=("forward", "backward", "numeric-gradient")),
    ConvCase("stride 3, rows and columns left over", (2, 2, 8, 9), (3, 2, 3, 2), stride=3, pad=0,
             kinds=("forward", "backward")),
    # stride 3 where it fits exactly (cs231n's layout gets it): a full-convolution backward's dilated dout
    # has (H' - 1) * stride + 1 rows, which H' * stride - 1 first misses at stride 3
    ConvCase("stride 3, windows side by side", (2, 2, 6, 9), (2, 2, 3, 3), stride=3, pad=0,
             kinds=("forward", "backward")),
    ConvCase("dilation 2", (2, 2, 9, 9), (2, 2, 3, 3), pad=2, dilation=2,
             kinds=("forward", "backward", "numeric-gradient")),
)

POOL_CASES = (
    PoolCase("2x2 windows, stride 2", (2, 3, 4, 4), 2, 2, 2, kinds=("forward", "backward", "numeric-gradient")),
    PoolCase("overlapping 3x3 windows, stride 2", (2, 2, 7, 7), 3, 3, 2,
             kinds=("forward", "backward", "numeric-gradient")),
    PoolCase("non-square windows and input", (2, 2, 6, 8), 2, 4, 2, kinds=("forward", "backward")),
    PoolCase("non-square output, odd sizes", (2, 3, 5, 9), 3, 3, 2, kinds=("forward", "backward", "numeric-gradient")),
    PoolCase("wide output, stride 1", (1, 2, 3, 6), 2, 2, 1, kinds=("forward", "backward")),
    PoolCase("stride 2, a row left over", (2, 2, 7, 6), 2, 2, 2, kinds=("forward", "backward")),
    PoolCase("ties inside windows", (1, 2, 4, 4), 2, 2, 2, ties=True, kinds=("forward", "backward")),
    PoolCase("overlapping windows with ties", (1, 2, 5, 5), 3, 3, 1, ties=True, kinds=("forward", "backward")),
    PoolCase("ties, non-square output", (2, 2, 4, 6), 2, 2, 2, ties=True, kinds=("forward", "backward")),
    # a window neither square nor the stride's size: tells a height used for the width from stride-sized windows
    PoolCase("tall windows, stride 1", (1, 2, 5, 7), 3, 2, 1, kinds=("forward", "backward")),
    # the stride equal to a window other than 2x2: tells "stride = window" code from code written for 2x2, stride 2
    PoolCase("3x3 windows, stride 3", (1, 2, 9, 9), 3, 3, 3, kinds=("forward", "backward")),
    # the stride larger than the window: rows and columns between windows get no gradient at all
    PoolCase("gaps between windows, stride 3", (2, 2, 5, 8), 2, 2, 3, kinds=("forward", "backward")),
    # a non-square window whose windows never overlap: tells a height used for the width from "+= over
    # overlapping windows" (every other non-square window here overlaps)
    PoolCase("2x3 windows apart, stride 3", (1, 2, 5, 9), 2, 3, 3, kinds=("forward", "backward")),
    # overlapping windows where H // stride = H' and W // stride = W': code that assumes the stride equals
    # the window gets the sizes right here, so a wrong dx can only be overlapping shares assigned (=)
    PoolCase("overlapping 3x3 windows, stride 2, 5x7", (1, 2, 5, 7), 3, 3, 2, kinds=("forward", "backward")),
    # W - pool_width fits the stride, W - pool_height does not: cs231n's own im2col_indices asserts the
    # latter (field_height for the width), and refuses this valid case
    PoolCase("2x3 windows, stride 2", (2, 2, 6, 9), 2, 3, 2, kinds=("forward", "backward")),
)

def cases_for(part: str, with_dilation: bool = True, exact_fit: bool = False) -> tuple[ConvCase | PoolCase, ...]:
    """The cases a layer part is graded on: a layout without dilation skips the dilated ones,
    and one that may assume an exact fit (cs231n's) those whose stride leaves rows over."""
    cases = CONV_CASES if part == "conv" else POOL_CASES
    return tuple(c for c in cases if (with_dilation or getattr(c, "dilation", 1) == 1) and (c.divides or not exact_fit))


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
