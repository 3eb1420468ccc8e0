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

import hashlib

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


# The references' results, by the content of their inputs: a batch worker grades every submission
# of a class on the same seed, so the same cases, upstream gradients and numeric-gradient probes, and
# the reference (and each wrong variant) gives the same answer each time.  Per process, bounded; the
# results never leave the parent (student code never sees them), and each caller gets a copy.
# Built-in parts only: their references and wrong variants are the grader's own fixed code (a declared
# part's reference is a file an instructor may change between two gradings in one process).
_RESULTS: dict[tuple, Any] = {}
_MAX_RESULTS = 4096


def _digest(value: Any, h) -> None:
    if isinstance(value, np.ndarray):
        h.update(f"{value.dtype.str}{value.shape}".encode())
        plain = type(value) is np.ndarray and not value.dtype.hasobject and value.flags.c_contiguous
        h.update(value if plain else np.ascontiguousarray(value).view(np.uint8).data)  # (plain: its own buffer)
    elif isinstance(value, (tuple, list)):
        h.update(b"(%d" % len(value))
        for item in value:
            _digest(item, h)
    elif isinstance(value, dict):
        h.update(b"{")
        for key in sorted(value, key=repr):
            h.update(repr(key).encode())
            _digest(value[key], h)
    else:
        h.update(repr((type(value).__name__, value)).encode())


def _key(*parts: Any) -> tuple | None:
    h = hashlib.blake2b(digest_size=16)
    try:
        _digest(parts, h)
    except (TypeError, ValueError):  # something that has no stable content: not cached
        return None
    return (h.hexdigest(),)


def _cached(layer, *parts: Any) -> tuple | None:
    return None if layer.declared else _key(layer.name, *parts)


def _copied(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, tuple):
        return tuple(_copied(v) for v in value)
    if isinstance(value, list):
        return [_copied(v) for v in value]
    if type(value) is dict:  # (a case's parameters: each caller gets its own)
        return {k: _copied(v) for k, v in value.items()}
    return value


def _fields(inputs: Inputs) -> tuple:
    """An ``Inputs`` as a tuple ``_remembered`` copies whole (the caller sets ``dout`` on its own)."""
    return inputs.args, inputs.dout, dict(inputs.extra)


def _frozen(value: Any) -> Any:
    """``value`` with every array in it made read-only (in place), for callers that only read it."""
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
    elif isinstance(value, (tuple, list)):
        for item in value:
            _frozen(item)
    return value


def _remembered(key: tuple | None, compute, read_only: bool = False) -> Any:
    """``compute()``, once per ``key``; each caller gets a copy of its own, or with ``read_only`` the
    remembered value itself, its arrays read-only (a wrong variant's results are only compared with:
    a failing submission's diagnosis asks for them on every case)."""
    if key is None:
        return _frozen(compute()) if read_only else compute()
    if key not in _RESULTS:
        if len(_RESULTS) >= _MAX_RESULTS:
            _RESULTS.pop(next(iter(_RESULTS)))
        _RESULTS[key] = _frozen(compute()) if read_only else compute()
    return _RESULTS[key] if read_only else _copied(_RESULTS[key])


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
        layer = as_layer(layer)
        if layer.declared:
            return layer.draw(case, seed, spec)
        # drawn once per (part, case, seed, layout) in a process: every submission of a batch has the same
        key = ("inputs", layer.name, case, seed, spec)
        return Inputs(*_remembered(key, lambda: _fields(layer.draw(case, seed, spec))))

    def upstream(self, layer, case: Case, seed: int, shape: tuple[int, ...]) -> np.ndarray:
        name = as_layer(layer).name
        key = ("upstream", name, case.name, seed, tuple(shape))
        return _remembered(key, lambda: upstream(shape, seed, name, case.name))

    def forward(self, layer, case: Case, args: tuple) -> tuple[np.ndarray, Any]:
        layer = as_layer(layer)
        return _remembered(_cached(layer, "forward", self.device, args), lambda: self._reference(layer)[0](*args))

    def backward(self, layer, case: Case, dout: np.ndarray, cache: Any) -> tuple[np.ndarray, ...]:
        layer = as_layer(layer)

        def compute():
            grads = self._reference(layer)[1](dout, cache)
            return tuple(grads) if isinstance(grads, (tuple, list)) else (grads,)
        return _remembered(_cached(layer, "backward", self.device, dout, cache), compute)

    def wrong(self, layer, kind: str, case: Case, args: tuple,
              dout: np.ndarray | None = None) -> Iterator[tuple[str, str, Any]]:
        """``(key, message, result)`` of every known wrong variant of (part, kind) on these
        inputs: a forward's output, or a backward's gradients (a tuple), read-only.  A variant
        that cannot run on them (a shape it does not handle) is left out."""
        layer = as_layer(layer)

        def compute():
            found = []
            for variant in layer.variants(kind):
                try:
                    found.append((variant.key, variant.message, variant.result(args, dout)))
                except (ValueError, IndexError, ArithmeticError):
                    continue
            return found
        yield from _remembered(_cached(layer, "wrong", kind, args, dout), compute, read_only=True)
