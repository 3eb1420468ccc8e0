"""Where a layer part's expected results come from: the truth a student's code is held to.

Two sources with one interface (``LayerChecker`` uses nothing else):

- ``ReferenceTruth``, the instructor's install: inputs drawn fresh from the grading
  seed, expected outputs and gradients from the hidden references (numpy, or torch on
  a device), and the known wrong variants evaluated on the same inputs to name a bug;
- ``PublicTruth``, the student's install (``grader export student``): the public cases,
  whose inputs, expected results and wrong variants' results the instructor's install
  computed at export time (``grader.student.public``).  No reference code runs.

Both take the case (``ConvCase`` / ``PoolCase``) so that a public truth can find its
precomputed data by the case's name; the reference truth only uses it to seed the draw.
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from .cases import ConvCase, Inputs, PoolCase, conv_inputs, pool_inputs, upstream

Case = ConvCase | PoolCase


class NotPrecomputed(LookupError):
    """A public truth was asked about inputs it has no precomputed result for."""


class ReferenceTruth:
    """The hidden references: numpy's vectorized layers on the CPU, torch's on a device."""

    public = False

    def __init__(self, device: str = "cpu"):
        self.device = device
        if device == "cpu":
            from grader.reference import numpy_fast

            self.module, self.kwargs = numpy_fast, {}
        else:
            from grader.reference import torch_ref

            self.module, self.kwargs = torch_ref, {"device": device}

    def inputs(self, part: str, case: Case, seed: int, with_dilation: bool) -> Inputs:
        if part == "conv":
            return conv_inputs(case, seed, part, with_dilation)
        return pool_inputs(case, seed, part)

    def upstream(self, part: str, case: Case, seed: int, shape: tuple[int, ...]) -> np.ndarray:
        return upstream(shape, seed, part, case.name)

    def forward(self, part: str, case: Case, args: tuple) -> tuple[np.ndarray, Any]:
        return getattr(self.module, f"{part}_forward")(*args, **self.kwargs)

    def backward(self, part: str, case: Case, dout: np.ndarray, cache: Any) -> tuple[np.ndarray, ...]:
        grads = getattr(self.module, f"{part}_backward")(dout, cache)
        return tuple(grads) if part == "conv" else (grads,)

    def wrong(self, part: str, kind: str, case: Case, args: tuple,
              dout: np.ndarray | None = None) -> Iterator[tuple[str, str, Any]]:
        """``(key, message, result)`` of every known wrong variant of (part, kind) on these
        inputs: a forward's output, or a backward's gradients (a tuple for conv).  A
        variant that cannot run on them (a shape it does not handle) is left out."""
        from grader.reference import wrong

        for variant in wrong.variants(part, kind):
            try:
                result = variant.evaluate(args, dout)
            except (ValueError, IndexError, ArithmeticError):
                continue
            yield variant.key, variant.message, result
