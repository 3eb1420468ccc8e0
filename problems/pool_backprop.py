"""The gradient of a pooling layer with respect to its input.

For each pooling window (k x k, moved by the stride, no padding) the upstream
gradient dL/dy[i, j] of that window's output is passed back:

    max pooling:      all of it to the window's maximum (the first one in
                      row-major order when several tie, as numpy.argmax picks)
    average pooling:  dL/dy[i, j] / (k·k) to every element of the window

Where windows overlap (stride < k) an input element collects (+=) the
gradients of every window it belongs to.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from typing import Any, Callable, Sequence

import numpy as np

from grader.errors import ParamError

from .answers import Matrix
from .base import Int, MatrixBlock, NumberMatrix, OneOf, Param, Problem, Statement, mistakes_from
from .layers import out_size

Grid = list[list[Any]]
#: Which elements of a window get its gradient: their indices in the window (row-major).
Route = Callable[[list[Any]], Sequence[int]]
Window = tuple[tuple[int, int], tuple[tuple[int, int], ...]]


def _same_as_kernel(p: dict[str, Any]) -> int:
    """kernel_size"""
    return p["kernel_size"]


def _windows(p: dict[str, Any]) -> tuple[Window, ...]:
    """Every window as ((i, j) of its output, ((r, c), ...) of its input elements in row-major order)."""
    return _window_cells(len(p["input"]), len(p["input"][0]), p["kernel_size"], p["stride"])


@lru_cache(maxsize=256)  # a handful of (input shape, kernel, stride) layouts, each asked for many times
def _window_cells(H: int, W: int, k: int, s: int) -> tuple[Window, ...]:
    return tuple(
        ((i, j), tuple((i * s + a, j * s + b) for a in range(k) for b in range(k)))
        for i in range(out_size(H, k, s))
        for j in range(out_size(W, k, s))
    )


def _backprop(p: dict[str, Any], route: Route, *, divisor: int = 1,
              accumulate: bool = True, times_upstream: bool = True) -> Grid:
    """dL/dx when each window's upstream gradient g goes to the elements ``route(values)``
    picks, each getting g / divisor (average pooling: all k·k of them, divisor k·k).

    Shares are exact, so that 1/9 + 1/9 + ... adds up without rounding: whole-number
    gradients are summed as integers and divided once at the end; others are multiplied
    by the exact fraction 1/divisor as they come."""
    x, up = p["input"], p["upstream"]
    whole = not times_upstream or all(type(g) is int for row in up for g in row)
    share = 1 if whole or divisor == 1 else Fraction(1, divisor)
    dx: list[list[Any]] = [[0] * len(x[0]) for _ in x]
    for (i, j), cells in _windows(p):
        g = up[i][j] if times_upstream else 1
        part = g if share == 1 else g * share
        for index in route([x[r][c] for r, c in cells]):
            r, c = cells[index]
            dx[r][c] = dx[r][c] + part if accumulate else part
    if whole and divisor != 1:
        dx = [[_quotient(v, divisor) for v in row] for row in dx]
    return [[_plain(v) for v in row] for row in dx]


def _quotient(n: int, d: int) -> int | Fraction:
    """n / d, exactly: an int when d divides n."""
    return n // d if n % d == 0 else Fraction(n, d)


def _plain(v: Any) -> int | float:
    """A JSON number: whole numbers as int."""
    if type(v) is int:
        return v
    return int(v) if float(v).is_integer() else float(v)


# Each router says which elements of a window get its gradient.

def _to_first_max(values: list[Any]) -> list[int]:
    return [values.index(max(values))]


def _to_last_max(values: list[Any]) -> list[int]:
    return [len(values) - 1 - values[::-1].index(max(values))]


def _to_every_max(values: list[Any]) -> list[int]:
    top = max(values)
    return [n for n, v in enumerate(values) if v == top]


def _to_first_min(values: list[Any]) -> list[int]:
    return [values.index(min(values))]


def _to_every_element(values: list[Any]) -> range:
    return range(len(values))


def _has_ties(p: dict[str, Any]) -> bool:
    """Whether some window's maximum occurs more than once."""
    return any(len(_to_every_max([p["input"][r][c] for r, c in cells])) > 1 for _, cells in _windows(p))


class PoolBackprop(Problem):
    name = "pool-backprop"
    summary = "backpropagate an upstream gradient through max or average pooling"
    topic = "pooling"
    params = (
        Param("input", NumberMatrix(), help="the input matrix x, e.g. [[1,3],[2,4]] or '1 3; 2 4'"),
        Param("kind", OneOf(("max", "avg")), "max", "max or avg pooling"),
        Param("kernel_size", Int(min=1), help="window size k (k x k)"),
        Param("stride", Int(min=1), _same_as_kernel, "stride S"),
        Param("upstream", NumberMatrix(), help="dL/dy, a matrix of the pooled output's shape"),
    )
    # Averages such as 1/9 are asked to two decimals (what Moodle's and Canvas's numerical
    # answers take); a typed fraction is read too.
    answer_format = Matrix(atol=0.005, rtol=0.001)

    def check_params(self, p: dict[str, Any]) -> None:
        H, W, k, s = len(p["input"]), len(p["input"][0]), p["kernel_size"], p["stride"]
        if k > min(H, W):
            raise ParamError(f"kernel_size {k} is larger than the {H}x{W} input")
        oh, ow = out_size(H, k, s), out_size(W, k, s)
        uh, uw = len(p["upstream"]), len(p["upstream"][0])
        if (uh, uw) != (oh, ow):
            raise ParamError(
                f"upstream must have the pooled output's shape {oh}x{ow} "
                f"(a {H}x{W} input, {k}x{k} windows, stride {s}), got {uh}x{uw}"
            )

    # -- variants

    def draw(self, rng: np.random.Generator) -> dict[str, Any]:
        kind = "max" if rng.random() < 0.65 else "avg"
        # (input side, kernel, stride): tiling windows, and overlapping ones.
        side, k, s = [(4, 2, 2), (6, 2, 2), (4, 3, 1), (5, 3, 2), (5, 3, 1), (6, 3, 3)][int(rng.integers(6))]
        x = rng.integers(0, 10, size=(side, side))
        if kind == "max" and rng.random() < 0.5:
            # A deliberate tie: copy a window's maximum onto another element of it.
            r0, c0 = int(rng.integers(0, side - k + 1)) // s * s, int(rng.integers(0, side - k + 1)) // s * s
            window = x[r0:r0 + k, c0:c0 + k]
            a, b = np.unravel_index(int(np.argmax(window)), window.shape)
            others = [(r, c) for r in range(k) for c in range(k) if (r, c) != (a, b)]
            r, c = others[int(rng.integers(len(others)))]
            window[r, c] = window[a, b]
        o = out_size(side, k, s)
        if kind == "avg":
            # Multiples of k·k keep the shares whole for 3x3 windows; quarters are fine for 2x2.
            scale = 1 if k == 2 else k * k
            up = rng.integers(1, 5, size=(o, o)) * scale
        else:
            up = rng.integers(1, 10, size=(o, o))
        if rng.random() < 0.25:
            up = up * rng.choice([-1, 1], size=up.shape)
        return self.validate(
            {"input": x.tolist(), "kind": kind, "kernel_size": k, "stride": s, "upstream": up.tolist()}
        )

    # -- the truth

    def solve(self, p: dict[str, Any]) -> Grid:
        if p["kind"] == "max":
            return _backprop(p, _to_first_max)
        return _backprop(p, _to_every_element, divisor=p["kernel_size"] ** 2)

    def mistakes(self, p: dict[str, Any]) -> list:
        k = p["kernel_size"]
        windows = len(_windows(p))
        right = self.solve(p)
        if p["kind"] == "max":
            variants = [
                ("max-to-window", "sent the gradient to every element of the window: max pooling routes it "
                 "only to the maximum", lambda: _backprop(p, _to_every_element)),
                ("max-to-ties", "sent the gradient to every tied maximum: only one element (the first, "
                 "in row-major order) was picked in the forward pass", lambda: _backprop(p, _to_every_max)),
                ("last-tie", "broke the tie at the last maximum: the forward pass picks the first one "
                 "in row-major order (as numpy.argmax does)", lambda: _backprop(p, _to_last_max)),
                ("argmin", "routed the gradient to the smallest element: it goes to the maximum",
                 lambda: _backprop(p, _to_first_min)),
                ("max-as-avg", "treated max pooling like average pooling",
                 lambda: _backprop(p, _to_every_element, divisor=k * k)),
                ("overwrite", "overlapping windows overwrite each other's gradient: add them (+=)",
                 lambda: _backprop(p, _to_first_max, accumulate=False)),
                ("mask-only", "forgot to multiply by the upstream gradient: the maximum gets dL/dy, not 1",
                 lambda: _backprop(p, _to_first_max, times_upstream=False)),
            ]
        else:
            variants = [
                ("avg-no-divide", "forgot to divide: average pooling gives each element dL/dy / (k·k)",
                 lambda: _backprop(p, _to_every_element)),
                ("divide-by-k", f"divided by k = {k}: the window has k·k = {k * k} elements",
                 lambda: _backprop(p, _to_every_element, divisor=k)),
                ("divide-by-windows", f"divided by the number of windows ({windows}): divide by the window's "
                 f"k·k = {k * k} elements", lambda: _backprop(p, _to_every_element, divisor=windows)),
                ("avg-as-max", "treated average pooling like max pooling: every element of the window shares "
                 "the gradient", lambda: _backprop(p, _to_first_max)),
                ("overwrite", "overlapping windows overwrite each other's gradient: add them (+=)",
                 lambda: _backprop(p, _to_every_element, divisor=k * k, accumulate=False)),
                ("mask-only", "forgot to multiply by the upstream gradient: each element gets dL/dy / (k·k)",
                 lambda: _backprop(p, _to_every_element, divisor=k * k, times_upstream=False)),
            ]
        return mistakes_from(p, right, variants)

    # -- what people read

    def statement(self, p: dict[str, Any]) -> Statement:
        H, W, k, s = len(p["input"]), len(p["input"][0]), p["kernel_size"], p["stride"]
        oh, ow = out_size(H, k, s), out_size(W, k, s)
        kind = "max" if p["kind"] == "max" else "average"
        overlap = " The windows overlap." if s < k else ""
        text = (
            f"A {k}×{k} {kind} pooling layer with stride {s} and no padding turns the {H}×{W} input x below "
            f"into a {oh}×{ow} output y.{overlap} In the backward pass it receives the upstream gradient "
            f"dL/dy below."
        )
        if p["kind"] == "max" and _has_ties(p):
            text += " Where a window's maximum is tied, the forward pass picked the first one in row-major order."
        return Statement(
            (text, MatrixBlock("x", p["input"]), MatrixBlock("dL/dy", p["upstream"])),
            f"Give dL/dx, a {H}×{W} matrix: each element a decimal number, to two places where it is "
            "not whole (e.g. 0.25 or 0.11).",
        )
