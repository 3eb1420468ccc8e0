"""network-shapes against torch modules (built on the meta device: shapes and
parameter counts without the arithmetic) and the course's numbers."""

from __future__ import annotations

import json
import re

import pytest
import torch
from torch import nn

from grader.errors import ParamError
from grader.problems import get
from grader.seeding import rng

P = get("network-shapes")


def lenet5():
    return (1, 32, 32), [nn.Conv2d(1, 6, 5), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.MaxPool2d(2),
                         nn.Conv2d(16, 120, 5), nn.Sequential(nn.Flatten(), nn.Linear(120, 84)), nn.Linear(84, 10)]


def alexnet():
    # The one-tower AlexNet of the cs231n notes (227x227 input, no grouping).
    return (3, 227, 227), [
        nn.Conv2d(3, 96, 11, stride=4), nn.MaxPool2d(3, 2), nn.Conv2d(96, 256, 5, padding=2), nn.MaxPool2d(3, 2),
        nn.Conv2d(256, 384, 3, padding=1), nn.Conv2d(384, 384, 3, padding=1), nn.Conv2d(384, 256, 3, padding=1),
        nn.MaxPool2d(3, 2), nn.Sequential(nn.Flatten(), nn.Linear(9216, 4096)), nn.Linear(4096, 4096),
        nn.Linear(4096, 1000),
    ]


def vgg16():
    layers, c = [], 3
    for block in ([64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]):
        for f in block:
            layers.append(nn.Conv2d(c, f, 3, padding=1))
            c = f
        layers.append(nn.MaxPool2d(2, 2))
    layers += [nn.Sequential(nn.Flatten(), nn.LazyLinear(4096)), nn.Linear(4096, 4096), nn.Linear(4096, 1000)]
    return (3, 224, 224), layers


def from_spec(input_shape, spec):
    """torch modules for the layer specs the sampler writes (conv, pool, avgpool, fc), parsed here
    with a regex of their own; LazyLinear finds each FC layer's fan-in."""
    modules = []
    for item in spec.split(","):
        m = re.fullmatch(r"conv(\d+)-(\d+)(?:s(\d+))?(?:p(\d+))?", item)
        if m:
            k, f, s, p = int(m[1]), int(m[2]), int(m[3] or 1), int(m[4] or 0)
            modules.append(nn.LazyConv2d(f, k, stride=s, padding=p))
            continue
        m = re.fullmatch(r"(pool|avgpool)(\d+)(?:s(\d+))?", item)
        if m:
            k = int(m[2])
            s = int(m[3] or k)
            modules.append(nn.MaxPool2d(k, s) if m[1] == "pool" else nn.AvgPool2d(k, s))
            continue
        m = re.fullmatch(r"fc(\d+)", item)
        assert m, item
        modules.append(nn.Sequential(nn.Flatten(), nn.LazyLinear(int(m[1]))))
    return input_shape, modules


def torch_table(build, *args):
    """Each module's output shape (forward hooks) and parameter count, for one
    image, of the network ``build(*args)`` returns: (input shape, modules)."""
    with torch.device("meta"):
        input_shape, modules = build(*args)
        model = nn.Sequential(*modules)
        shapes = []
        for module in modules:
            module.register_forward_hook(lambda mod, inp, out: shapes.append(list(out.shape[1:])))
        model(torch.empty(1, *input_shape))
        counts = [sum(p.numel() for p in module.parameters()) for module in modules]
    return [{"output": s, "params": n} for s, n in zip(shapes, counts)]


def table(answer):
    return [{"output": row["output"], "params": row["params"]} for row in answer["layers"]]


@pytest.mark.parametrize("preset, build", [("lenet5", lenet5), ("alexnet", alexnet), ("vgg16", vgg16)])
def test_presets_match_torch(preset, build):
    answer = P.solve(P.validate({"preset": preset}))
    expected = torch_table(build)
    assert table(answer) == expected
    assert answer["total_params"] == sum(row["params"] for row in expected)


def test_course_numbers():
    alex = P.solve(P.validate({"preset": "alexnet"}))
    assert [row["output"][1] for row in alex["layers"][:8]] == [55, 27, 27, 13, 13, 13, 13, 6]
    assert alex["layers"][0] == {"layer": "conv11-96s4", "output": [96, 55, 55], "params": 34944}
    assert alex["total_params"] == 62_378_344
    assert P.solve(P.validate({"preset": "vgg16"}))["total_params"] == 138_357_544
    assert P.solve(P.validate({"preset": "lenet5"}))["total_params"] == 61_706


def test_samples_match_torch():
    presets = 0
    for seed in range(100):
        params = P.sample(rng("network-shapes", seed))
        assert P.validate(params) == params
        answer = P.solve(params)
        if params["preset"]:
            presets += 1
            continue
        input_shape = tuple(int(d) for d in params["input"].split("x"))
        assert input_shape in ((3, 32, 32), (1, 28, 28))
        assert 3 <= len(answer["layers"]) <= 6
        assert table(answer) == torch_table(from_spec, input_shape, params["layers"])
        assert P.grade(params, P.answer_format.show(answer)).correct
        assert "1. " in P.statement(params).text
    assert presets < 50


# A small network worked by hand: 3x32x32 input.
SMALL = {"layers": "conv5-6p2, pool2s2, conv3-16s2, fc10", "input": "3x32x32"}
SMALL_ROWS = [("6x32x32", 456), ("6x16x16", 0), ("16x7x7", 880), ("10", 7850)]


def text(rows, total):
    return "\n".join(f"{shape}, {params}" for shape, params in rows) + f"\n{total}"


def test_small_network_by_hand():
    answer = P.solve(P.validate(SMALL))
    assert [("x".join(map(str, r["output"])), r["params"]) for r in answer["layers"]] == SMALL_ROWS
    assert answer["total_params"] == 9186


@pytest.mark.parametrize(
    "rows, total, key",
    [
        ([("6x32x32", 450), ("6x16x16", 0), ("16x7x7", 864), ("10", 7840)], 9154, "no-bias"),
        ([("6x28x28", 456), ("6x14x14", 0), ("16x6x6", 880), ("10", 5770)], 7106, "no-padding"),
        ([("6x32x32", 456), ("6x16x16", 0), ("16x14x14", 880), ("10", 31370)], 32706, "no-stride"),
        ([("6x31x31", 456), ("6x14x14", 0), ("16x5x5", 880), ("10", 4010)], 5346, "no-plus-one"),
        ([("6x32x32", 156), ("6x16x16", 0), ("16x7x7", 160), ("10", 7850)], 8166, "no-input-channels"),
        ([("6x32x32", 456), ("6x16x16", 150), ("16x7x7", 880), ("10", 7850)], 9336, "pool-params"),
        ([("6x32x32", 456), ("6x16x16", 0), ("16x7x7", 880), ("10", 170)], 1506, "fc-channels-only"),
        ([("32x32x6", 456), ("16x16x6", 0), ("7x7x16", 880), ("10", 7850)], 9186, "channels-last"),
    ],
)
def test_each_mistake_is_named(rows, total, key):
    grade = P.grade(P.validate(SMALL), text(rows, total))
    assert grade.status == "partial"
    assert key in grade.mistakes


LENET = P.solve(P.validate({"preset": "lenet5"}))


@pytest.mark.parametrize(
    "response",
    [
        "6x28x28, 156\n6x14x14, 0\n16x10x10, 2416\n16x5x5, 0\n120x1x1, 48120\n84, 10164\n10, 850\n61706",
        "conv5-6: 6×28×28, 156\npool2: 6×14×14, 0\nconv5-16: 16×10×10, 2,416\npool2: 16×5×5, 0\n"
        "conv5-120: 120×1×1, 48,120\nfc84: 84, 10,164\nfc10: 10, 850\ntotal: 61,706",
        "(6, 28, 28), 156; (6, 14, 14), 0; (16, 10, 10), 2416; (16, 5, 5), 0; (120, 1, 1), 48120; "
        "(84,), 10164; (10,), 850; 61706",
        "1. output=6x28x28 params=156\n2. output=6x14x14 params=0\n3. output=16x10x10 params=2416\n"
        "4. output=16x5x5 params=0\n5. output=120x1x1 params=48120\n6. output=84 params=10164\n"
        "7. output=10 params=850\ntotal_params = 61 706",
        json.dumps(LENET),
        json.dumps({"layers": [{"output": r["output"], "params": r["params"]} for r in LENET["layers"]],
                    "total_params": 61706}),
    ],
)
def test_tolerant_parsing(response):
    assert P.grade(P.validate({"preset": "lenet5"}), response).correct


def test_show_reads_back_and_a_missing_total_is_partial():
    params = P.validate({"preset": "alexnet"})
    answer = P.solve(params)
    assert P.grade(params, P.answer_format.show(answer)).correct
    no_total = P.answer_format.show({"layers": answer["layers"]})
    grade = P.grade(params, no_total)
    assert grade.status == "partial" and [p.path for p in grade.parts if not p.correct] == ["total_params"]


def test_unreadable_line_is_invalid():
    grade = P.grade(P.validate({"preset": "lenet5"}), "six by twenty-eight\n61706")
    assert grade.status == "invalid"


def test_canonical_params():
    params = P.validate({"layers": "conv3-16p1x2, pool2s2, fc10", "input": "(3, 32, 32)"})
    assert params == {"preset": None, "layers": "conv3-16p1,conv3-16p1,pool2,fc10", "input": "3x32x32"}
    assert P.validate(params) == params
    assert P.validate({"layers": "conv3-16p1,fc10"})["input"] == "3x32x32"


@pytest.mark.parametrize(
    "raw, name",
    [
        ({"preset": "resnet50"}, "preset"),
        ({}, "preset"),
        ({"preset": "vgg16", "layers": "conv3"}, "layers"),
        ({"preset": "vgg16", "input": "3x32x32"}, "input"),
        ({"layers": "conv3-16,bogus"}, "layers"),
        ({"layers": "conv7-16,conv7-16,conv7-16,conv7-16,conv7-16,conv7-16", "input": "3x32x32"}, "layers"),
        ({"layers": "fc10,conv3-8"}, "layers"),
        ({"layers": "conv3-8", "input": "32x32"}, "input"),
        ({"layers": "conv3-8", "depth": 3}, "depth"),
    ],
)
def test_bad_params(raw, name):
    with pytest.raises(ParamError, match=name):
        P.validate(raw)
