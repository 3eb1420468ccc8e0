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

The probes are inputs the forward is called on, so the forward can game them
(issue 12): one that hands back the output it computed for a nearby input it
has seen makes f(h) = f(-h), a derivative of 0, which "agrees" with a backward
that returns zeros.  How the check holds against that:

- The backward is called first, so its gradient is fixed before any probe is
  seen: it cannot be fitted to the directions afterwards.
- Fresh directions or step sizes per run do not help on their own: whatever
  the probes, two of them are 2h apart, and "return what I computed for the
  nearest input I have seen" gives both the same value.  Nor does a second step
  size (Richardson): a remembered value makes the difference 0 at every step,
  and 0 is consistent with itself.  What must be checked is the values.
- ``reference`` (the grader's forward at the same probe points), used when the
  student's forward was right on the unperturbed inputs: a right forward's
  difference quotient matches the reference's to rounding (under 1e-8 relative
  on the shipped cases), far inside the tolerance, while a remembered or
  approximated output is off by the whole derivative.  This holds whatever the
  cache does, since every value it returns is compared.  (Comparing the outputs
  themselves would not do: they move by under 1e-6 relative between probes,
  inside the forward test's tolerance.)
- ``stale``: the output at x + hv is exactly the output at x - hv.  A forward
  that computes from its inputs moves when they move (v is dense and random);
  one that ignores that argument, or remembers, does not, and its gradient is
  then not checked against it (so a forward that forgot the bias, with a db of
  zeros, loses db's share: there is nothing to agree with).  This is what
  catches a cache behind a wrong
  forward, where there is nothing to compare with (and in student mode, where
  the reference's outputs exist only for the public inputs).

Not caught: a wrong forward whose outputs near seen inputs are faked to move
exactly as its own (fake) backward says.  Only a process that has not seen
those inputs could tell it from a function, at the cost of a child per part.
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
    reference: float | None = None  # the reference forward's difference quotient at the same probes
    stale: bool = False  # the forward returned exactly the same output at both probes
    right: float | None = None  # the right forward's derivative along the direction, <right gradient, v>

    @property
    def error(self) -> float:
        """Relative error of the numeric derivative against the backward's; infinite when
        either side is NaN or infinite."""
        return _relative(self.numeric, self.analytic)

    @property
    def right_error(self) -> float:
        """Relative error of the backward's derivative against the right forward's (infinite without
        one): the yardstick where the student's own forward is wrong."""
        return float("inf") if self.right is None else _relative(self.right, self.analytic)

    @property
    def reference_error(self) -> float:
        """Relative error of the numeric derivative against the reference's (0 without one)."""
        return 0.0 if self.reference is None else _relative(self.numeric, self.reference)


def _relative(a: float, b: float) -> float:
    if not (np.isfinite(a) and np.isfinite(b)):
        return float("inf")
    with np.errstate(all="ignore"):
        error = abs(a - b) / max(abs(a) + abs(b), TINY)
    return error if np.isfinite(error) else float("inf")  # a NaN gradient never agrees


def _contract(out: np.ndarray, dout: np.ndarray) -> float | None:
    """sum(out * dout), or None when it is NaN or infinite (no derivative to take)."""
    with np.errstate(all="ignore"):
        value = float(np.sum(out * dout))
    return value if np.isfinite(value) else None


def _direction(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """The next random unit direction (what ``directional`` and ``probe_points`` both draw)."""
    v = rng.standard_normal(shape)
    v /= max(float(np.linalg.norm(v)), TINY)
    return v


def probe_points(point: np.ndarray, rng: np.random.Generator, directions: int = DIRECTIONS,
                 h: float = H) -> list[np.ndarray]:
    """The points, in order, at which ``directional(forward, point, ..., rng)`` calls ``forward``
    when every call succeeds: point + h v, point - h v for each direction v.  Draws from ``rng``
    as ``directional`` does (give it a copy to leave the original for ``directional``)."""
    points = []
    for _ in range(directions):
        v = _direction(rng, point.shape)
        points += [point + h * v, point - h * v]
    return points


def directional(
    forward: Callable[[np.ndarray], np.ndarray | None] | None,
    point: np.ndarray,
    grad: np.ndarray,
    rng: np.random.Generator,
    name: str,
    dout: np.ndarray,
    reference: Callable[[np.ndarray], np.ndarray] | None = None,
    directions: int = DIRECTIONS,
    h: float = H,
    right: np.ndarray | None = None,
) -> list[DirectionalCheck] | None:
    """Check ``grad`` (the claimed gradient of sum(forward(.) * dout) at ``point``) along
    random unit directions.  ``forward`` returns the output (shaped like ``dout``), or None
    when it failed; then None.  ``reference``, when given, is the grader's forward, run at
    the same probe points (see the module docstring).  ``right``, when given, is the right
    gradient (the reference's backward for this ``dout``): each check also holds the right
    forward's derivative along its direction, the yardstick where the student's forward is
    wrong; with no ``forward`` (it failed on these inputs) that is the only one."""
    checks = []
    for _ in range(directions):
        v = _direction(rng, point.shape)
        along = None if right is None else float(np.sum(right * v))
        if forward is None:
            if along is None:
                return None
            checks.append(DirectionalCheck(name, along, float(np.sum(grad * v)), right=along))
            continue
        out_plus, out_minus = forward(point + h * v), forward(point - h * v)
        if out_plus is None or out_minus is None:
            return None
        plus, minus = _contract(out_plus, dout), _contract(out_minus, dout)
        if plus is None or minus is None:
            return None
        expected = None
        if reference is not None:
            ref_plus, ref_minus = _contract(reference(point + h * v), dout), _contract(reference(point - h * v), dout)
            expected = None if ref_plus is None or ref_minus is None else (ref_plus - ref_minus) / (2 * h)
        checks.append(DirectionalCheck(name, (plus - minus) / (2 * h), float(np.sum(grad * v)), expected,
                                       bool(np.array_equal(out_plus, out_minus)), along))
    return checks
