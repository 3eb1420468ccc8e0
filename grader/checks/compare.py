"""Comparing a student's array with the reference's.

Shapes, dtypes and NaN are checked before values, each with a message that
says which; values are compared with cs231n's relative error

    rel_error(a, b) = max |a - b| / max(|a| + |b|, 1e-12)

over the whole array (a single scale for the array, so tiny entries do not
blow the metric up).  A small map of where the values differ feeds the HTML
report's heat map.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

TINY = 1e-12
HEATMAP_SIDE = 24


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    """max |a-b| / max(|a|+|b|, tiny), the cs231n metric, over the whole arrays."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.size == 0:
        return 0.0
    with np.errstate(over="ignore", invalid="ignore"):  # huge values (inf made finite) overflow: as bad as it gets
        error = float(np.abs(a - b).max()) / max(float((np.abs(a) + np.abs(b)).max()), TINY)  # (methods rather
        # than np.max, whose Python wrapper is a third of the time on a small array: a failing submission's
        # diagnosis makes hundreds of these)
    return error if math.isfinite(error) else math.inf


def shape_hint(got: tuple[int, ...], expected: tuple[int, ...], padded: bool = True) -> str:
    """A guess at why ``got`` is not ``expected`` (``padded``: whether the layer pads its input at all)."""
    if len(got) == len(expected) == 4:
        if got[:2] == expected[:2] and got[2:] == expected[2:][::-1]:
            return ": height and width swapped?"
        if got[:2] == expected[:2] and expected[2] != expected[3] and got[2] == got[3] in expected[2:]:
            if got[2] == expected[2]:
                return (": the width is computed as the height (H' x H'): W' comes from W, as H' from H "
                        "(W' = (W - window width) // stride + 1); such code is right only on square outputs")
            return (": the height is computed as the width (W' x W'): H' comes from H, as W' from W "
                    "(H' = (H - window height) // stride + 1); such code is right only on square outputs")
        if got[2:] == expected[2:] and got[:2] == expected[:2][::-1]:
            return ": batch and channel axes swapped?"
        if got[:2] == expected[:2] and all(g > e for g, e in zip(got[2:], expected[2:])):
            return ": output too large: stride or dilation ignored?"
        if got[:2] == expected[:2] and all(g < e for g, e in zip(got[2:], expected[2:])):
            return ": output too small: padding ignored?" if padded else ": output too small"
    if len(got) == len(expected) - 1 and got == expected[1:]:
        return ": the batch axis is missing"
    if len(got) == 1 and len(expected) == 1:
        return ""
    return ""


def check_array(value: Any, expected: np.ndarray, what: str, padded: bool = True) -> str | None:
    """None when ``value`` is an ndarray of the expected shape, real dtype and
    finite values; else a message that says what is wrong with it (``padded``: as in ``shape_hint``)."""
    if value is None:
        return f"{what} is None: did you forget to return it?"
    if isinstance(value, (list, tuple)):
        return f"{what} is a {type(value).__name__}, expected a numpy array (np.array(...))"
    if not isinstance(value, np.ndarray):
        return f"{what} is a {type(value).__name__}, expected a numpy array"
    if value.ndim == 0 and expected.ndim > 0:
        return f"{what} is a 0-d array (a scalar), expected shape {tuple(expected.shape)}"
    if value.shape != expected.shape:
        return f"{what} has shape {tuple(value.shape)}, expected {tuple(expected.shape)}{shape_hint(value.shape, expected.shape, padded)}"
    if value.dtype.kind not in "fiu":
        return f"{what} has dtype {value.dtype}, expected float64"
    if value.dtype != np.float64:
        return f"{what} has dtype {value.dtype}, expected float64: keep the input's precision (no astype(np.float32))"
    finite = np.isfinite(value)
    if not finite.all():
        bad = int((~finite).sum())
        return f"{what} has {bad} NaN or infinite value{'s' if bad > 1 else ''} (of {value.size})"
    return None


def heatmap(got: np.ndarray, expected: np.ndarray) -> dict[str, Any] | None:
    """|got - expected| of the first sample and channel (the first 2-D slice),
    cut to at most HEATMAP_SIDE x HEATMAP_SIDE, scaled to 0..1, for a picture."""
    if got.shape != expected.shape or got.ndim < 2 or got.size == 0 or got.dtype.kind not in "biuf":
        return None  # complex, text or object arrays fail on their dtype: no picture
    diff = np.abs(np.asarray(got, dtype=np.float64) - expected)
    if not np.isfinite(diff).all():
        return None
    index = np.unravel_index(int(np.argmax(diff)), diff.shape)
    plane = diff[index[:-2]] if diff.ndim > 2 else diff
    plane = plane[:HEATMAP_SIDE, :HEATMAP_SIDE]
    top = float(plane.max())
    if top <= 0:
        return None
    return {
        "where": [int(i) for i in index[:-2]],
        "max": top,
        "cells": [[round(float(v) / top, 3) for v in row] for row in plane],
    }
