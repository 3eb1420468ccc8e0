"""Which layers of a pretrained CNN to retrain: the four cells of the cs231n table.

                      similar to the pretraining data     very different
    little data       linear classifier on the top-layer  linear classifier on activations
                      features (the rest frozen)          from earlier layers ("you're in trouble")
    a lot of data     fine-tune a few top layers          fine-tune a larger number of layers
                      (smaller learning rate)             (or all of them, from the pretrained weights)

Two forces decide it: with little data, training many weights overfits; the
further the new images are from the pretraining data, the less the top
layers' (most dataset-specific) features fit them.
"""

from __future__ import annotations

from typing import Any

import numpy as np


from .answers import Choice
from .base import OneOf, Param, Problem, Statement, mistakes_from, pick

OPTIONS = (
    ("retrain-head",
     "Keep the pretrained network frozen and train only a new linear classifier (head) on its top-layer features"),
    ("head-on-earlier-layers",
     "Train a linear classifier on activations taken from earlier layers of the frozen network"),
    ("fine-tune-top-layers",
     "Replace the head and fine-tune the top few layers too, with a smaller learning rate for the pretrained ones"),
    ("fine-tune-all-layers",
     "Replace the head and fine-tune a larger number of layers, or the whole network, starting from the "
     "pretrained weights"),
)

BEST = {
    ("small", "similar"): "retrain-head",
    ("small", "different"): "head-on-earlier-layers",
    ("large", "similar"): "fine-tune-top-layers",
    ("large", "different"): "fine-tune-all-layers",
}

#: Why each other option is wrong for a cell: WHY_NOT[cell][option].
WHY_NOT = {
    ("small", "similar"): {
        "head-on-earlier-layers": "the new images resemble the pretraining data, so the top-layer features "
        "already fit them: there is no need to fall back on earlier layers",
        "fine-tune-top-layers": "with so little data, fine-tuning pretrained layers overfits: freeze them and "
        "train only a linear classifier",
        "fine-tune-all-layers": "with so little data, fine-tuning many layers overfits: freeze the network and "
        "train only a linear classifier",
    },
    ("small", "different"): {
        "retrain-head": "with a different domain, the top-layer features are too specific to the original "
        "dataset: take features from earlier, more generic layers",
        "fine-tune-top-layers": "with so little data, fine-tuning overfits: train only a linear classifier, "
        "on earlier layers' features since the domain differs",
        "fine-tune-all-layers": "with so little data, fine-tuning many layers overfits: train only a linear "
        "classifier, on earlier layers' features",
    },
    ("large", "similar"): {
        "retrain-head": "with this much data you can fine-tune some layers without overfitting: a frozen "
        "network with a new head leaves accuracy on the table",
        "head-on-earlier-layers": "the data resembles the pretraining data, so the top-layer features are "
        "useful, and with this much data you can fine-tune them",
        "fine-tune-all-layers": "the data resembles the pretraining data, so the early and middle features "
        "already fit: fine-tuning the top few layers is enough",
    },
    ("large", "different"): {
        "retrain-head": "with a different domain the top-layer features are too specific, and with this much "
        "data you can afford to retrain much more than the head",
        "head-on-earlier-layers": "with this much data you can fine-tune many layers rather than settle for a "
        "linear classifier on frozen features",
        "fine-tune-top-layers": "the domain differs, so the middle features must change too: fine-tune a larger "
        "number of layers (or the whole network, starting from the pretrained weights)",
    },
}

#: A concrete scenario for each cell (a pure function of the parameters).
STORIES = {
    ("small", "similar"): "You have 1,500 labelled photos of 10 dog breeds and a ResNet pretrained on ImageNet, "
    "whose 1.2 million everyday photos include many dogs.",
    ("small", "different"): "You have 2,000 chest X-ray images labelled normal or pneumonia and a ResNet "
    "pretrained on ImageNet's 1.2 million everyday colour photos.",
    ("large", "similar"): "You have 400,000 labelled photos of 500 bird species and a ResNet pretrained on "
    "ImageNet's 1.2 million everyday colour photos, many of them of birds.",
    ("large", "different"): "You have 1 million labelled satellite images of land use (fields, forests, "
    "roads, buildings) and a ResNet pretrained on ImageNet's 1.2 million everyday colour photos.",
}

DESCRIBE = {
    "small": "a small dataset", "large": "a large dataset",
    "similar": "similar to the pretraining data", "different": "very different from the pretraining data",
}


class TransferStrategy(Problem):
    name = "transfer-strategy"
    summary = "which layers of a pretrained network to retrain, from the dataset's size and similarity"
    topic = "transfer"
    params = (
        Param("dataset_size", OneOf(("small", "large")), help="how much labelled data the new task has"),
        Param("similarity", OneOf(("similar", "different")), help="how close it is to the pretraining data"),
    )
    answer_format = Choice(OPTIONS)

    def draw(self, rng: np.random.Generator) -> dict[str, Any]:
        return self.validate({
            "dataset_size": pick(rng, ["small", "large"]),
            "similarity": pick(rng, ["similar", "different"]),
        })

    def solve(self, p: dict[str, Any]) -> str:
        return BEST[p["dataset_size"], p["similarity"]]

    def mistakes(self, p: dict[str, Any]) -> list:
        cell = (p["dataset_size"], p["similarity"])
        return mistakes_from(
            p,
            self.solve(p),
            [(key, why, (lambda key=key: key)) for key, why in WHY_NOT[cell].items()],
        )

    def statement(self, p: dict[str, Any]) -> Statement:
        cell = (p["dataset_size"], p["similarity"])
        return Statement(
            (
                STORIES[cell],
                f"That is {DESCRIBE[p['dataset_size']]}, {DESCRIBE[p['similarity']]}. "
                "Which transfer-learning strategy fits best?",
            ),
            "Choose one option.",
            options=tuple(label for _, label in OPTIONS),
        )
