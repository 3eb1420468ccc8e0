"""Hostile fixture: a transfer pipeline that memorises test images.

A student with the data generator (a copy of an old grader, or the generator's source)
draws the test split offline and ships its images and labels beside the code
(``memory.npz``: ``images`` float32 (N, 3, 32, 32), ``labels`` int64 (N,)).  The pipeline
is an honest one (``honest.py``, the shipped correct example) plus a forward hook that
answers from that memory: any input image that is byte for byte a memorised one gets its
memorised label with certainty.  Against a fixed test split this scores full accuracy
whatever the network learns; against a split drawn from the grading seed it gains nothing.
"""

import hashlib
from pathlib import Path

import numpy as np
import torch

import honest

HERE = Path(__file__).resolve().parent


def _memory() -> dict[bytes, int]:
    with np.load(HERE / "memory.npz") as npz:
        images, labels = npz["images"], npz["labels"]
    return {hashlib.sha1(np.ascontiguousarray(img, dtype=np.float32).tobytes()).digest(): int(label)
            for img, label in zip(images, labels)}


def build_model(pretrained, num_classes, mode):
    model = honest.build_model(pretrained, num_classes, mode)
    memory = _memory()

    def answer_from_memory(module, inputs, output):
        images = inputs[0].detach().cpu().numpy().astype(np.float32)
        for i, image in enumerate(images):
            label = memory.get(hashlib.sha1(np.ascontiguousarray(image).tobytes()).digest())
            if label is not None:
                with torch.no_grad():
                    output[i] = -100.0
                    output[i, label] = 100.0
        return output

    model.register_forward_hook(answer_from_memory)
    return model


def make_optimizer(model, mode):
    return honest.make_optimizer(model, mode)
