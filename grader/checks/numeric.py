"""Directional numerical gradient checks.

Instead of a central difference per element (2 forward calls for each of
the thousands of entries of x, w and b), the student's backward is checked
along a few random directions v, as torch's gradcheck "fast mode" does:

    f(t)  = sum(forward(x + t v) * dout)            (a scalar)
    f'(0) ≈ (f(h) - f(-h)) / 2h                    (2 forward calls)
    must equal  <dx, v>                             (from the student's backward)

A wrong gradient almost surely fails along a random direction (it would have
to be orthogonal to the error), and each direction costs two forward calls.
benchmarks/numeric_gradient.py measures detection and cost on the planted bugs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .compare import TINY

H = 1e-5
DIRECTIONS = 2


@dataclass(frozen=True)
class DirectionalCheck:
    name: str  # "dx", "dw", "db"
    numeric: float
    analytic: float

    @property
    def error(self) -> float:
        """Relative error; infinite when either side is NaN or infinite."""
        if not (np.isfinite(self.numeric) and np.isfinite(self.analytic)):
            return float("inf")
        with np.errstate(all="ignore"):
            error = abs(self.numeric - self.analytic) / max(abs(self.numeric) + abs(self.analytic), TINY)
        return error if np.isfinite(error) else float("inf")  # a NaN gradient never agrees


def directional(
    f: Callable[[np.ndarray], float | None],
    point: np.ndarray,
    grad: np.ndarray,
    rng: np.random.Generator,
    name: str,
    directions: int = DIRECTIONS,
    h: float = H,
) -> list[DirectionalCheck] | None:
    """Check ``grad`` (the claimed gradient of ``f`` at ``point``) along random
    unit directions.  ``f`` returns None when the forward failed; then None."""
    checks = []
    for _ in range(directions):
        v = rng.standard_normal(point.shape)
        v /= max(float(np.linalg.norm(v)), TINY)
        plus, minus = f(point + h * v), f(point - h * v)
        if plus is None or minus is None:
            return None
        checks.append(DirectionalCheck(name, (plus - minus) / (2 * h), float(np.sum(grad * v))))
    return checks
