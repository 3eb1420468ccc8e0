"""Receptive field of one unit of the last layer of a stack, on the input.

Going up the stack with r the receptive field and j the jump (the distance on
the input between neighbouring units of the current layer):

    r = 1, j = 1
    for each layer (kernel k, stride s, dilation d):
        r += (k - 1) · d · j
        j *= s

Worked in the course notes: three 3×3 convolutions, stride 1, see 7×7.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from grader.errors import ParamError

from .answers import Integer
from .base import Param, Problem, Statement, Text, mistakes_from, pick
from .layers import Layer, parse_layers, spell

MAX_LAYERS = 64


def receptive_field(
    layers: list[Layer], *, dilation: bool = True, strides: bool = True, own_stride: bool = False
) -> int:
    """The recurrence above; the switches give the classic mistakes (ignore
    the dilation, ignore the strides, multiply in each layer's own stride)."""
    r, j = 1, 1
    for layer in layers:
        d = layer.dilation if dilation else 1
        if own_stride and strides:
            j *= layer.stride
        r += (layer.kernel - 1) * d * j
        if strides and not own_stride:
            j *= layer.stride
    return r


def describe(layer: Layer) -> str:
    """``conv3-64s2`` as "3×3 convolution, 64 filters, stride 2"."""
    k = f"{layer.kernel}×{layer.kernel}"
    if layer.kind == "conv":
        parts = [f"{k} convolution"]
        if layer.out is not None:
            parts.append(f"{layer.out} filters")
    else:
        parts = [f"{k} {'max' if layer.kind == 'maxpool' else 'average'} pooling"]
    parts.append(f"stride {layer.stride}")
    if layer.padding:
        parts.append(f"padding {layer.padding}")
    if layer.dilation != 1:
        parts.append(f"dilation {layer.dilation}")
    return ", ".join(parts)


class ReceptiveField(Problem):
    name = "receptive-field"
    summary = "receptive field of a unit after a stack of convs and pools: r += (k-1)·d·j, j *= s"
    topic = "receptive-field"
    params = (
        Param("layers", Text(), help="comma-separated conv and pool layers, e.g. conv3,conv3,pool2s2 or conv3x3"),
    )
    answer_format = Integer()

    def check_params(self, p: dict[str, Any]) -> None:
        # Refuse huge repeats (conv3x1000000) before they are expanded.
        for count in re.findall(r"[x*](\d+)", p["layers"]):
            if int(count) > MAX_LAYERS:
                raise ParamError(f"layers: at most {MAX_LAYERS} layers, got a repeat of {count}")
        layers = parse_layers(p["layers"])
        fc = [layer.spec for layer in layers if layer.kind == "fc"]
        if fc:
            raise ParamError(f"layers: a receptive field is spatial; remove the fully connected layer {fc[0]}")
        if len(layers) > MAX_LAYERS:
            raise ParamError(f"layers: at most {MAX_LAYERS} layers, got {len(layers)}")
        p["layers"] = spell(layers)

    def draw(self, rng: np.random.Generator) -> dict[str, Any]:
        n = int(rng.integers(2, 6))
        specs = []
        for i in range(n):
            u = rng.random()
            if u < 0.55:
                k = pick(rng, [3, 3, 3, 5, 7])
                spec = f"conv{k}"
                v = rng.random()
                if v < 0.15 and k == 3:
                    spec += "d2"
                elif v < 0.3 and i < n - 1:
                    spec += "s2"
            elif u < 0.9 and i > 0:
                spec = pick(rng, ["pool2s2", "pool2s2", "pool3s2"])
            else:
                spec = "conv3"
            specs.append(spec)
        return self.validate({"layers": ",".join(specs)})

    def solve(self, p: dict[str, Any]) -> int:
        return receptive_field(parse_layers(p["layers"]))

    def mistakes(self, p: dict[str, Any]) -> list:
        layers = parse_layers(p["layers"])
        return mistakes_from(
            p,
            self.solve(p),
            [
                ("sum-kernels", "summed the kernel sizes: each layer adds k-1, not k (1 + Σ(k-1) for stride 1)",
                 lambda: sum(layer.kernel for layer in layers)),
                ("no-strides", "ignored the strides: after a stride-s layer each step covers s times more input",
                 lambda: receptive_field(layers, strides=False)),
                ("no-dilation", "ignored the dilation: a dilated kernel spans d(k-1)+1 pixels",
                 lambda: receptive_field(layers, dilation=False)),
                ("own-stride", "multiplied in each layer's own stride: a layer's step is the product of the "
                 "strides of the layers before it", lambda: receptive_field(layers, own_stride=True)),
                ("product-kernels", "multiplied the kernel sizes: receptive fields grow by adding, not multiplying",
                 lambda: math.prod(layer.kernel for layer in layers)),
            ],
        )

    def statement(self, p: dict[str, Any]) -> Statement:
        layers = parse_layers(p["layers"])
        steps = [f"{layer.spec} ({describe(layer)})" for layer in layers]
        text = "A network applies these layers to an image, in order, and nothing else: " + ", then ".join(steps) + "."
        ask = (
            "How wide, in input pixels, is the receptive field of one unit of the last layer's output, "
            "that is, the region of the input image that can affect it?"
        )
        return Statement((text, ask), "Answer with an integer (the side of the square region).")
