"""Output size of a pooling layer along one spatial dimension.

    out = floor((W + 2P - F) / S) + 1

with PyTorch's ``nn.MaxPool2d`` defaults: the stride S defaults to the window
size F, and the padding P may be at most F // 2.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from grader.errors import ParamError

from .answers import Integer
from .base import Int, Param, Problem, Statement, mistakes_from
from .layers import out_size


def _window(p: dict[str, Any]) -> int:
    """kernel_size (the window size, as in PyTorch)"""
    return p["kernel_size"]


class PoolOutputSize(Problem):
    name = "pool-output-size"
    summary = "output width of a pooling layer: floor((W+2P-F)/S)+1, stride defaulting to F"
    topic = "output-size"
    params = (
        Param("input_size", Int(min=1), help="input width W"),
        Param("kernel_size", Int(min=1), help="window width F"),
        Param("stride", Int(min=1), _window, "stride S"),
        Param("padding", Int(min=0), 0, "padding P on each side, at most kernel_size // 2"),
    )
    answer_format = Integer()

    # (kernel_size, stride, padding): 2/2 (VGG), 3/2 overlapping (AlexNet),
    # 3/2 padded (ResNet's stem), and a few less common ones.
    _WINDOWS = ((2, 2, 0),) * 5 + ((3, 2, 0),) * 3 + ((3, 2, 1),) * 2 + ((3, 3, 0), (2, 2, 1), (3, 1, 1), (4, 4, 0))

    def check_params(self, p: dict[str, Any]) -> None:
        F, P = p["kernel_size"], p["padding"]
        if P > F // 2:
            raise ParamError(f"padding must be at most half the window (kernel_size // 2 = {F // 2}), got {P}")
        if F > p["input_size"] + 2 * P:
            raise ParamError(
                f"kernel_size {F} is larger than the padded input W+2P = {p['input_size'] + 2 * P}"
            )

    def draw(self, rng: np.random.Generator) -> dict[str, Any]:
        kernel, stride, padding = self._WINDOWS[int(rng.integers(len(self._WINDOWS)))]
        # Most variants divide cleanly; one in four leaves a remainder, so
        # that floor versus ceil matters.
        out = int(rng.integers(2, 60))
        size = (out - 1) * stride + kernel - 2 * padding
        if stride > 1 and rng.random() < 0.25:
            size += int(rng.integers(1, stride))
        return self.validate({"input_size": size, "kernel_size": kernel, "stride": stride, "padding": padding})

    def solve(self, p: dict[str, Any]) -> int:
        return out_size(p["input_size"], p["kernel_size"], p["stride"], p["padding"])

    def mistakes(self, p: dict[str, Any]) -> list:
        W, F, S, P = p["input_size"], p["kernel_size"], p["stride"], p["padding"]

        def one_side() -> int | None:
            span = W + P - F
            return span // S + 1 if span >= 0 else None

        return mistakes_from(
            p,
            self.solve(p),
            [
                ("no-plus-one", "forgot the +1", lambda: (W + 2 * P - F) // S),
                ("no-padding", "forgot the padding", lambda: out_size(W, F, S, 0)),
                ("one-side-padding", "padded one side only: the padding P is added on both sides (2P)", one_side),
                ("ceil", "used ceil instead of floor (PyTorch's ceil_mode=True): by default a window that does "
                 "not fit is dropped", lambda: out_size(W, F, S, P, ceil=True)),
                ("stride-one", "assumed stride 1: pooling's stride defaults to the window size",
                 lambda: out_size(W, F, 1, P)),
            ],
        )

    def statement(self, p: dict[str, Any]) -> Statement:
        F, S, P, W = p["kernel_size"], p["stride"], p["padding"], p["input_size"]
        call = [f"kernel_size={F}"]
        if S != F:
            call.append(f"stride={S}")
        if P:
            call.append(f"padding={P}")
        window = f"a {F}×{F} window with " + ("PyTorch's default stride" if S == F else f"stride {S}")
        if P:
            window += f" and padding {P} on each side"
        text = (
            f"A max-pooling layer nn.MaxPool2d({', '.join(call)}), that is {window}, "
            f"is applied to a {W}×{W} feature map. How wide is its output?"
        )
        return Statement((text,), "Answer with an integer.")
