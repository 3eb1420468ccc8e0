"""Where a layer part's expected results come from: the truth a student's code is held to.

Two sources with one interface (``LayerChecker`` uses nothing else):

- ``ReferenceTruth``, the instructor's install: inputs drawn fresh from the grading
  seed, expected outputs and gradients from the hidden references (numpy, or torch on
  a device), and the known wrong variants evaluated on the same inputs to name a bug;
- ``PublicTruth``, the student's install (``grader export student``): the public cases,
  whose inputs, expected results and wrong variants' results the instructor's install
  computed at export time (``grader.student.public``).  No reference code runs.

Both take the part's declaration (``grader.parts.LayerPart``) and the case, so that a
public truth can find its precomputed data by the names; the reference truth draws the
case's inputs with the declaration and runs its reference and wrong variants.
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from .cases import ConvCase, Inputs, PoolCase, upstream

Case = ConvCase | PoolCase  # or a declared part's DeclaredCase: anything with name and kinds


class NotPrecomputed(LookupError):
    """A public truth was asked about inputs it has no precomputed result for."""


def as_layer(layer):
    """A part's declaration, from itself or a built-in part's name."""
    if isinstance(layer, str):
        from grader.parts import registry

        return registry()[layer]
    return layer


class ReferenceTruth:
    """The hidden references: each part's reference (numpy on the CPU; the built-ins' torch
    reference on a device), inputs drawn fresh from the grading seed, and the part's known
    wrong variants evaluated on the same inputs to name a bug."""

    public = False

    def __init__(self, device: str = "cpu"):
        self.device = device
        self._functions: dict[str, tuple] = {}

    def _reference(self, layer) -> tuple:
        layer = as_layer(layer)
        if layer.name not in self._functions:
            self._functions[layer.name] = layer.functions(self.device if layer.device_kwargs else "cpu")
        return self._functions[layer.name]

    def cases(self, layer, spec) -> tuple:
        return tuple(as_layer(layer).cases(spec))

    def inputs(self, layer, case: Case, seed: int, spec) -> Inputs:
        return as_layer(layer).draw(case, seed, spec)

    def upstream(self, layer, case: Case, seed: int, shape: tuple[int, ...]) -> np.ndarray:
        return upstream(shape, seed, as_layer(layer).name, case.name)

    def forward(self, layer, case: Case, args: tuple) -> tuple[np.ndarray, Any]:
        return self._reference(layer)[0](*args)

    def backward(self, layer, case: Case, dout: np.ndarray, cache: Any) -> tuple[np.ndarray, ...]:
        grads = self._reference(layer)[1](dout, cache)
        return tuple(grads) if isinstance(grads, (tuple, list)) else (grads,)

    def wrong(self, layer, kind: str, case: Case, args: tuple,
              dout: np.ndarray | None = None) -> Iterator[tuple[str, str, Any]]:
        """``(key, message, result)`` of every known wrong variant of (part, kind) on these
        inputs: a forward's output, or a backward's gradients (a tuple).  A variant that
        cannot run on them (a shape it does not handle) is left out."""
        for variant in as_layer(layer).variants(kind):
            try:
                result = variant.result(args, dout)
            except (ValueError, IndexError, ArithmeticError):
                continue
            yield variant.key, variant.message, result
