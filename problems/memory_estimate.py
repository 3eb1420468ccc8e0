"""How much memory training a network takes, as the cs231n notes count it.

With b bytes a number (float32: 4) and a batch of N images:

    activations      N · b · (input elements + every layer's output elements)
                     (ReLUs, and d2l LeNet's sigmoids, work in place and add nothing;
                     a dropout layer's output counts, its mask does not)
    parameters       b · (number of parameters)
    gradients        = parameters  (one gradient a parameter)
    optimizer_state  SGD: 0; SGD with momentum: 1 × parameters (the velocity);
                     Adam: 2 × parameters (first and second moments)
    total            the sum of the four
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np

from .answers import Bytes, Record
from .base import Int, OneOf, Param, Problem, Statement, mistakes_from, pick
from .layers import Layer, activation, network, propagate
from .network_shapes import NETWORK_PARAMS, check_network, describe_network, draw_network

DTYPE_BYTES = {"float16": 2, "bfloat16": 2, "float32": 4, "float64": 8}
#: Optimizer state, in copies of the parameters.
STATE_COPIES = {"sgd": 0, "momentum": 1, "adam": 2}
OPTIMIZER_NAMES = {"sgd": "plain SGD (no momentum)", "momentum": "SGD with momentum", "adam": "Adam"}


def counts(p: dict[str, Any]) -> tuple[int, int, tuple[int, ...]]:
    """(input elements, parameter count, each layer's output elements) for one image."""
    shape, layers = network(p)
    return _counts(shape, tuple(layers))


@lru_cache(maxsize=1024)  # every budget, right or mistaken, counts the same network again
def _counts(shape: tuple[int, int, int], layers: tuple[Layer, ...]) -> tuple[int, int, tuple[int, ...]]:
    results = propagate(shape, list(layers))
    return math.prod(shape), sum(r.params for r in results), tuple(math.prod(r.output) for r in results)


def budget(activations: int, parameters: int, gradients: int, state: int) -> dict[str, int]:
    return {
        "activations": activations,
        "parameters": parameters,
        "gradients": gradients,
        "optimizer_state": state,
        "total": activations + parameters + gradients + state,
    }


class MemoryEstimate(Problem):
    name = "memory-estimate"
    summary = "bytes of activations, parameters, gradients and optimizer state when training a CNN"
    topic = "memory"
    params = NETWORK_PARAMS + (
        Param("batch_size", Int(min=1), help="images in a batch N"),
        Param("dtype", OneOf(tuple(DTYPE_BYTES)), "float32", "the number format of every tensor"),
        Param("optimizer", OneOf(tuple(STATE_COPIES)), "sgd", "sgd (no momentum), momentum or adam"),
    )
    answer_format = Record(
        tuple((name, Bytes()) for name in ("activations", "parameters", "gradients", "optimizer_state", "total"))
    )

    def check_params(self, p: dict[str, Any]) -> None:
        check_network(p)

    def draw(self, rng: np.random.Generator) -> dict[str, Any]:
        raw = draw_network(rng, {"lenet5": 0.1, "alexnet": 0.1, "vgg16": 0.1})
        raw["batch_size"] = pick(rng, [1, 8, 16, 32, 64, 128, 256])
        raw["dtype"] = pick(rng, ["float32"] * 4 + ["float16", "bfloat16", "float64"])
        raw["optimizer"] = pick(rng, ["sgd", "momentum", "adam", "adam"])
        return self.validate(raw)

    def solve(self, p: dict[str, Any]) -> dict[str, int]:
        return self._budget(p)

    def _budget(self, p: dict[str, Any], *, bytes_each: int | None = None, batch: int | None = None,
                with_input: bool = True, state_copies: int | None = None, relu_copies: bool = False,
                per_image_gradients: bool = False) -> dict[str, int]:
        """The budget, or a mistaken one when an argument is changed."""
        b = DTYPE_BYTES[p["dtype"]] if bytes_each is None else bytes_each
        n = p["batch_size"] if batch is None else batch
        copies = STATE_COPIES[p["optimizer"]] if state_copies is None else state_copies
        inputs, params, outputs = counts(p)
        elements = (inputs if with_input else 0) + sum(outputs)
        if relu_copies:  # a ReLU after every conv and FC layer but the last, stored separately
            _, layers = network(p)
            elements += sum(o for o, layer in zip(outputs[:-1], layers[:-1]) if layer.kind in ("conv", "fc"))
        return budget(n * b * elements, b * params, b * params * (n if per_image_gradients else 1),
                      copies * b * params)

    def mistakes(self, p: dict[str, Any]) -> list:
        right = self.solve(p)
        wrong_size = 8 if p["dtype"] == "float32" else 4

        def total_without(field: str) -> dict[str, int] | None:
            return {"total": right["total"] - right[field]} if right[field] else None

        return mistakes_from(
            p,
            right,
            [
                ("no-batch", "forgot the batch size: every image of the batch keeps its own activations",
                 lambda: self._budget(p, batch=1)),
                ("no-input", "forgot the input image: it is stored for the backward pass too",
                 lambda: self._budget(p, with_input=False)),
                ("elements-not-bytes", f"counted numbers, not bytes: each {p['dtype']} takes "
                 f"{DTYPE_BYTES[p['dtype']]} bytes", lambda: self._budget(p, bytes_each=1)),
                ("bits-not-bytes", f"counted bits, not bytes: a {p['dtype']} is {DTYPE_BYTES[p['dtype']]} bytes",
                 lambda: self._budget(p, bytes_each=8 * DTYPE_BYTES[p["dtype"]])),
                ("wrong-dtype-size", f"a {p['dtype']} number takes {DTYPE_BYTES[p['dtype']]} bytes, "
                 f"not {wrong_size}", lambda: self._budget(p, bytes_each=wrong_size)),
                ("adam-one-buffer", "Adam keeps two buffers a parameter (first and second moments), not one",
                 lambda: self._budget(p, state_copies=1) if p["optimizer"] == "adam" else None),
                ("no-optimizer-state", f"{OPTIMIZER_NAMES[p['optimizer']]} keeps state: "
                 f"{STATE_COPIES[p['optimizer']]} buffer(s) the size of the parameters",
                 lambda: self._budget(p, state_copies=0)),
                ("momentum-two-buffers", "SGD with momentum keeps one buffer a parameter (the velocity), not two",
                 lambda: self._budget(p, state_copies=2) if p["optimizer"] == "momentum" else None),
                ("sgd-state", "plain SGD keeps no state: it needs only the parameters and their gradients",
                 lambda: self._budget(p, state_copies=1) if p["optimizer"] == "sgd" else None),
                ("sgd-two-buffers", "plain SGD keeps no state: two buffers a parameter is Adam",
                 lambda: self._budget(p, state_copies=2) if p["optimizer"] == "sgd" else None),
                ("relu-copies",
                 f"counted the {activation(p)} outputs too: in-place {activation(p)}s add nothing",
                 lambda: self._budget(p, relu_copies=True)),
                ("per-image-gradients", "kept a gradient per image: the batch's gradients are summed into one "
                 "a parameter", lambda: self._budget(p, per_image_gradients=True)),
                ("no-gradients-in-total", "the total leaves out the gradients" + (
                    " (or the optimizer state, as large here)" if right["optimizer_state"] == right["gradients"] else ""),
                 lambda: total_without("gradients")),
                ("no-state-in-total", "the total leaves out the optimizer state",
                 lambda: total_without("optimizer_state") if right["optimizer_state"] != right["gradients"] else None),
                ("no-activations-in-total", "the total leaves out the activations",
                 lambda: total_without("activations")),
            ],
        )

    def statement(self, p: dict[str, Any]) -> Statement:
        n = p["batch_size"]
        _, layers = network(p)
        dropout = any(layer.kind == "dropout" for layer in layers)
        act = activation(p)
        return Statement(
            describe_network(p) + (
                "Every convolution and fully connected layer has a bias unless marked otherwise; pooling has "
                f"no parameters. {act[0].upper() + act[1:]}s follow the convolutions and the hidden FC layers "
                "but work in place: they add no memory."
                + (" A dropout layer's output is a new tensor and counts like any layer's (leave its mask out)."
                   if dropout else ""),
                f"It is trained with {OPTIMIZER_NAMES[p['optimizer']]} on batches of {n} image{'s' if n != 1 else ''}, "
                f"every tensor in {p['dtype']} ({DTYPE_BYTES[p['dtype']]} bytes a number).",
                "Count, in bytes: activations = for every image of the batch, the input image and every "
                "layer's output; parameters = all weights and biases; gradients = the gradient of the loss "
                "with respect to the parameters; optimizer state = the buffers the optimizer keeps between "
                "steps (each the size of the parameters); total = the sum of the four.",
            ),
            "Give the activations, parameters, gradients, optimizer state and total, each in bytes as a whole "
            "number (e.g. 602112).",
        )
