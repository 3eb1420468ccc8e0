"""Learnable parameters of a fully connected layer (``nn.Linear``).

    params = in_features · out_features + out_features   (one bias per unit)

Worked in the course notes: an FC layer on a 256×256×3 image (196,608
features) to 1000 units has 196,608·1000 + 1000 = 196,609,000 parameters.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .answers import Integer, grouped
from .base import Bool, Int, Param, Problem, Statement, mistakes_from, pick

# Flattened volumes that FC layers meet in the classic networks, written
# H×W×C as the course notes do; the statement names the volume when it knows it.
_VOLUMES = {
    5 * 5 * 16: "5×5×16",  # LeNet-5, before C5/F6
    6 * 6 * 256: "6×6×256",  # AlexNet, after pool5
    7 * 7 * 512: "7×7×512",  # VGG-16, after pool5
    28 * 28 * 1: "28×28×1",  # an MNIST digit
    32 * 32 * 3: "32×32×3",  # a CIFAR-10 image
    64 * 64 * 3: "64×64×3",
    256 * 256 * 3: "256×256×3",  # the course notes' example
    7 * 7 * 64: "7×7×64",
    4 * 4 * 128: "4×4×128",
}


class FcParams(Problem):
    name = "fc-params"
    summary = "learnable parameters of a fully connected layer: in·out + out"
    topic = "params"
    params = (
        Param("in_features", Int(min=1), help="input features (a flattened volume H·W·C)"),
        Param("out_features", Int(min=1), help="output units"),
        Param("bias", Bool(), True, "whether each unit has a bias"),
    )
    answer_format = Integer()

    def draw(self, rng: np.random.Generator) -> dict[str, Any]:
        if rng.random() < 0.7:
            volumes = sorted(_VOLUMES)
            in_features = volumes[int(rng.integers(len(volumes)))]
        else:
            in_features = pick(rng, [84, 120, 256, 512, 1024, 2048, 4096])
        out_features = pick(rng, [2, 10, 10, 84, 100, 120, 256, 512, 1000, 4096])
        return self.validate(
            {"in_features": in_features, "out_features": out_features, "bias": bool(rng.random() < 0.8)}
        )

    def solve(self, p: dict[str, Any]) -> int:
        n_in, n_out = p["in_features"], p["out_features"]
        return n_in * n_out + (n_out if p["bias"] else 0)

    def mistakes(self, p: dict[str, Any]) -> list:
        n_in, n_out = p["in_features"], p["out_features"]
        weights = n_in * n_out
        if not p["bias"]:
            counted = ("bias-when-none", "counted a bias, but the layer has bias=False", lambda: weights + n_out)
            return mistakes_from(p, weights, [counted])
        return mistakes_from(
            p,
            self.solve(p),
            [
                ("no-bias", "forgot the bias", lambda: weights),
                ("bias-once", "counted one bias for the whole layer: there is one bias per output unit",
                 lambda: weights + 1),
                ("bias-per-input", "counted one bias per input feature: there is one bias per output unit",
                 lambda: weights + n_in),
            ],
        )

    def statement(self, p: dict[str, Any]) -> Statement:
        n_in, n_out = p["in_features"], p["out_features"]
        source = f"{grouped(n_in)} input features"
        if n_in in _VOLUMES:
            source = f"a {_VOLUMES[n_in]} volume flattened to {grouped(n_in)} features"
        bias = "with a bias per unit" if p["bias"] else "without bias (bias=False)"
        text = (
            f"A fully connected layer nn.Linear({n_in}, {n_out}" + ("" if p["bias"] else ", bias=False")
            + f") maps {source} to {grouped(n_out)} units, {bias}. How many learnable parameters does it have?"
        )
        return Statement((text,), "Answer with an integer.")
