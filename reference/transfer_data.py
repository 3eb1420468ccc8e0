"""The two procedurally generated image tasks of the transfer part.

- the **source** task (pretraining): ten classes of coloured shapes,
  ``SOURCE_SHAPES``, on a flat background with clutter and pixel noise;
- the **target** task (the students'): four *new* shapes, ``TARGET_SHAPES``,
  built from the same strokes (bars, discs, corners), drawn in another style:
  a two-colour gradient background and a slightly different scale.

Every image is 32x32 RGB.  A shape is a boolean mask over the pixel centres in
the shape's own frame::

    (u, v) = R(theta) ((x, y) - (cx, cy)) / s        s: radius in pixels

with position (cx, cy), scale s, a small rotation theta, and colours drawn per
image.  Images come back as float32 (N, 3, 32, 32) in [0, 1], quantized to
multiples of 1/255 as if read from 8-bit files; labels as int64 (N,), each
class equally often.

Everything is a pure function of the seed: one ``numpy.random.default_rng``
per call, seeded with (seed, task), and only the IEEE-exact operations (+, -,
*, /, comparisons; no sin, cos or exp, whose last bit can vary between
machines), so the arrays are identical on any machine (given numpy's
``Generator`` streams, stable since numpy 1.17; ``tests/transfer/test_data.py``
pins a hash).  The rotation uses the rational parametrisation t = tan(theta / 2)::

    cos(theta) = (1 - t^2) / (1 + t^2),    sin(theta) = 2 t / (1 + t^2)

The graded splits are drawn from the grading seed (``graded_splits``): fresh
images for every grading, so that no pipeline can know a test image in
advance.  This generator is part of the hidden truth: it lives with the
references, is hidden from every child that runs student code, and is not in
what students install (their practice split travels as data instead).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grader.transfer.sizes import (BATCH_SIZE, EPOCHS, SIZE, SOURCE_CLASSES,  # noqa: F401 - re-exported
                                   TARGET_CLASSES, TARGET_TEST, TARGET_TRAIN)

SOURCE_SHAPES = ("disc", "square", "triangle", "cross", "ring",
                 "horizontal_bar", "vertical_bar", "diamond", "plus", "two_dots")
TARGET_SHAPES = ("frame", "crescent", "corner", "tee")
assert (len(SOURCE_SHAPES), len(TARGET_SHAPES)) == (SOURCE_CLASSES, TARGET_CLASSES)

_SOURCE_TAG, _TARGET_TAG = 1, 2
_CENTRES = np.arange(SIZE, dtype=np.float64) + 0.5  # pixel centres along one axis


def _mask(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Boolean (32, 32) mask of ``shape`` in its own frame; (u, v) in radii, v pointing down."""
    au, av = np.abs(u), np.abs(v)
    r2 = u * u + v * v
    if shape == "disc":
        return r2 <= 1.0
    if shape == "ring":
        return (r2 <= 1.0) & (r2 >= 0.36)
    if shape == "square":
        return (au <= 0.8) & (av <= 0.8)
    if shape == "diamond":
        return au + av <= 1.1
    if shape == "triangle":  # apex up at v = -1, base at v = 0.8
        return (v <= 0.8) & (au * 1.8 <= v + 1.0)
    if shape == "plus":
        return ((au <= 0.3) & (av <= 1.0)) | ((av <= 0.3) & (au <= 1.0))
    if shape == "cross":  # the plus turned by 45 degrees: |u + v| and |u - v| scale by sqrt(2)
        a, b = np.abs(u + v), np.abs(u - v)
        return ((a <= 0.42) & (b <= 1.4)) | ((b <= 0.42) & (a <= 1.4))
    if shape == "horizontal_bar":
        return (av <= 0.3) & (au <= 1.1)
    if shape == "vertical_bar":
        return (au <= 0.3) & (av <= 1.1)
    if shape == "two_dots":
        return ((u - 0.6) ** 2 + v * v <= 0.16) | ((u + 0.6) ** 2 + v * v <= 0.16)
    if shape == "frame":  # a hollow square
        m = np.maximum(au, av)
        return (m <= 0.9) & (m >= 0.5)
    if shape == "crescent":  # a disc with a bite taken out of its right side
        return (r2 <= 1.0) & ((u - 0.5) ** 2 + v * v >= 0.56)
    if shape == "corner":  # an L: a vertical and a horizontal stroke meeting at the bottom left
        return (((u >= -0.9) & (u <= -0.35)) & (av <= 0.9)) | (((v >= 0.35) & (v <= 0.9)) & (au <= 0.9))
    if shape == "tee":  # a T: a horizontal stroke on top of a vertical one
        return (((v >= -0.9) & (v <= -0.35)) & (au <= 0.9)) | ((au <= 0.28) & (av <= 0.9))
    raise ValueError(f"unknown shape {shape!r}")


@dataclass(frozen=True)
class Style:
    """How a task draws its images (all ranges inclusive-exclusive, in pixels or [0, 1])."""

    scale: tuple[float, float]  # shape radius s
    max_tilt: float  # |tan(theta / 2)|: 0.13 is about 15 degrees
    gradient: bool  # background: two colours blended along a random direction, or one flat colour
    clutter: tuple[int, int]  # how many thin distractor strokes
    noise: float  # uniform pixel noise in [-noise, noise]
    contrast: float  # least max-channel difference between shape and background colours


SOURCE_STYLE = Style(scale=(5.0, 10.0), max_tilt=0.13, gradient=False, clutter=(1, 4), noise=0.12, contrast=0.3)
TARGET_STYLE = Style(scale=(6.0, 11.0), max_tilt=0.13, gradient=True, clutter=(1, 4), noise=0.12, contrast=0.3)


def _colour_apart(rng: np.random.Generator, other: np.ndarray, contrast: float) -> np.ndarray:
    """A random RGB colour whose largest channel difference from ``other`` is at least ``contrast``."""
    while True:
        colour = rng.random(3)
        if np.max(np.abs(colour - other)) >= contrast:
            return colour


def _segment(x: np.ndarray, y: np.ndarray, p0: np.ndarray, p1: np.ndarray, half_width: float) -> np.ndarray:
    """Mask of the pixels within ``half_width`` of the segment p0-p1 (squared distances, no sqrt)."""
    dx, dy = p1[0] - p0[0], p1[1] - p0[1]
    t = ((x - p0[0]) * dx + (y - p0[1]) * dy) / (dx * dx + dy * dy)
    t = np.clip(t, 0.0, 1.0)
    ex, ey = x - (p0[0] + t * dx), y - (p0[1] + t * dy)
    return ex * ex + ey * ey <= half_width * half_width


def _draw(shape: str, style: Style, rng: np.random.Generator) -> np.ndarray:
    """One image, float64 (3, 32, 32) in [0, 1] before quantization."""
    y, x = np.meshgrid(_CENTRES, _CENTRES, indexing="ij")
    bg = rng.random(3)
    image = np.empty((3, SIZE, SIZE))
    if style.gradient:
        bg2 = rng.random(3)
        a, b = rng.random(2) * 2.0 - 1.0  # blend weight w = 0.5 + (a x' + b y') / 2, x', y' in [-0.5, 0.5]
        w = np.clip(0.5 + (a * (x / SIZE - 0.5) + b * (y / SIZE - 0.5)), 0.0, 1.0)
        for c in range(3):
            image[c] = bg[c] * (1.0 - w) + bg2[c] * w
        bg = (bg + bg2) / 2.0  # the shape's colour must stand out from the middle of the gradient
    else:
        image[:] = bg[:, None, None]

    for _ in range(rng.integers(style.clutter[0], style.clutter[1])):
        p0 = rng.random(2) * SIZE
        p1 = p0 + (rng.random(2) * 2.0 - 1.0) * 8.0
        hit = _segment(x, y, p0, p1, 0.6)
        colour = rng.random(3)
        image[:, hit] = colour[:, None]

    s = style.scale[0] + rng.random() * (style.scale[1] - style.scale[0])
    margin = 0.8 * s
    cx, cy = margin + rng.random(2) * (SIZE - 2.0 * margin)
    t = (rng.random() * 2.0 - 1.0) * style.max_tilt
    cos, sin = (1.0 - t * t) / (1.0 + t * t), 2.0 * t / (1.0 + t * t)
    dx, dy = (x - cx) / s, (y - cy) / s
    u, v = cos * dx + sin * dy, cos * dy - sin * dx
    hit = _mask(shape, u, v)
    colour = _colour_apart(rng, bg, style.contrast)
    image[:, hit] = colour[:, None]

    image += (rng.random((3, SIZE, SIZE)) * 2.0 - 1.0) * style.noise
    return np.clip(image, 0.0, 1.0)


def _render(n: int, seed: int, tag: int, shapes: tuple[str, ...], style: Style) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    rng = np.random.default_rng([int(seed), tag])
    labels = rng.permutation(np.arange(n, dtype=np.int64) % len(shapes))
    images = np.empty((n, 3, SIZE, SIZE), dtype=np.uint8)
    for i, label in enumerate(labels):
        images[i] = np.floor(_draw(shapes[label], style, rng) * 255.0 + 0.5)
    return images.astype(np.float32) / np.float32(255.0), labels


def make_source(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` source images and labels: x float32 (n, 3, 32, 32) in [0, 1], y int64 (n,) in [0, 10)."""
    return _render(n, seed, _SOURCE_TAG, SOURCE_SHAPES, SOURCE_STYLE)


def make_target(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` target images and labels: x float32 (n, 3, 32, 32) in [0, 1], y int64 (n,) in [0, 4)."""
    return _render(n, seed, _TARGET_TAG, TARGET_SHAPES, TARGET_STYLE)


def graded_splits(seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The target task as graded by a run with grading seed ``seed``: 300 training and
    200 test images, both drawn from seeds derived from it (SHA-256, so the two splits'
    seeds say nothing of each other or of the grading seed)."""
    from grader.seeding import derive_seed

    return {"train": make_target(TARGET_TRAIN, derive_seed(seed, "transfer", "train")),
            "test": make_target(TARGET_TEST, derive_seed(seed, "transfer", "test"))}


#: The seed of the practice split that a student install ships (``target_splits(PRACTICE_SEED)``).
PRACTICE_SEED = 1_000_003


def target_splits(seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """A fixed split of the target task: ``{"train": (x, y), "test": (x, y)}``, 300 and 200
    images, for practice (the student install's), tests and instructors' own tasks.

    The two splits come from different seeds (2 seed and 2 seed + 1), so they
    share no image.  Grading uses ``graded_splits`` instead.
    """
    return {"train": make_target(TARGET_TRAIN, 2 * seed), "test": make_target(TARGET_TEST, 2 * seed + 1)}
