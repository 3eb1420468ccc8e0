"""The d2l presets against the networks as Dive into Deep Learning's PyTorch
edition builds them (chapters 7.6 and 8.1-8.3: lazy layers, nested blocks, the
activations, dropout and flatten modules in place), run on a zeros tensor on
the CPU: every layer's output shape and parameter count, the activations
memory-estimate counts, and a right and a wrong answer graded."""

from __future__ import annotations

from functools import cache

import pytest
import torch
from torch import nn

from grader.errors import ParamError
from grader.problems import get
from grader.problems.layers import parse_layer

NS = get("network-shapes")
ME = get("memory-estimate")


# ---------------------------------------------------------------- the book's networks


def d2l_lenet():
    return nn.Sequential(
        nn.LazyConv2d(6, kernel_size=5, padding=2), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.LazyConv2d(16, kernel_size=5), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.LazyLinear(120), nn.Sigmoid(),
        nn.LazyLinear(84), nn.Sigmoid(),
        nn.LazyLinear(10))


def d2l_alexnet():
    return nn.Sequential(
        nn.LazyConv2d(96, kernel_size=11, stride=4, padding=1),
        nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
        nn.LazyConv2d(256, kernel_size=5, padding=2), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.LazyConv2d(384, kernel_size=3, padding=1), nn.ReLU(),
        nn.LazyConv2d(384, kernel_size=3, padding=1), nn.ReLU(),
        nn.LazyConv2d(256, kernel_size=3, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2), nn.Flatten(),
        nn.LazyLinear(4096), nn.ReLU(), nn.Dropout(p=0.5),
        nn.LazyLinear(4096), nn.ReLU(), nn.Dropout(p=0.5),
        nn.LazyLinear(10))


def vgg_block(num_convs, out_channels):
    layers = []
    for _ in range(num_convs):
        layers.append(nn.LazyConv2d(out_channels, kernel_size=3, padding=1))
        layers.append(nn.ReLU())
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


def d2l_vgg11():
    arch = ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))
    return nn.Sequential(
        *[vgg_block(n, c) for n, c in arch], nn.Flatten(),
        nn.LazyLinear(4096), nn.ReLU(), nn.Dropout(0.5),
        nn.LazyLinear(4096), nn.ReLU(), nn.Dropout(0.5),
        nn.LazyLinear(10))


def nin_block(out_channels, kernel_size, strides, padding):
    return nn.Sequential(
        nn.LazyConv2d(out_channels, kernel_size, strides, padding), nn.ReLU(),
        nn.LazyConv2d(out_channels, kernel_size=1), nn.ReLU(),
        nn.LazyConv2d(out_channels, kernel_size=1), nn.ReLU())


def d2l_nin():
    return nn.Sequential(
        nin_block(96, kernel_size=11, strides=4, padding=0),
        nn.MaxPool2d(3, stride=2),
        nin_block(256, kernel_size=5, strides=1, padding=2),
        nn.MaxPool2d(3, stride=2),
        nin_block(384, kernel_size=3, strides=1, padding=1),
        nn.MaxPool2d(3, stride=2),
        nn.Dropout(0.5),
        nin_block(10, kernel_size=3, strides=1, padding=1),
        nn.AdaptiveAvgPool2d((1, 1)),
        nn.Flatten())


BOOK = {"d2l-lenet": (d2l_lenet, (1, 28, 28)), "d2l-alexnet": (d2l_alexnet, (1, 224, 224)),
        "d2l-vgg11": (d2l_vgg11, (1, 224, 224)), "d2l-nin": (d2l_nin, (1, 224, 224))}
#: Not rows of the problem's table: activations (in place by its convention) and Flatten (a view).
UNLISTED = (nn.ReLU, nn.Sigmoid, nn.Flatten)


@cache
def book(preset):
    """The book's network run once on zeros: (input elements, each listed layer's
    {output, params, weights}, each unlisted activation's output elements, total
    parameters).  Plain data only: the model (VGG-11's is half a gigabyte) is dropped."""
    build, shape = BOOK[preset]
    torch.manual_seed(0)
    model = build()
    leaves = [m for m in model.modules() if not list(m.children())]
    outputs = {}
    for m in leaves:
        m.register_forward_hook(lambda mod, inp, out: outputs.__setitem__(mod, list(out.shape[1:])))
    with torch.no_grad():
        model(torch.zeros(1, *shape))
    rows = [{"output": outputs[m], "params": sum(p.numel() for p in m.parameters()),
             "weights": m.weight.numel() if getattr(m, "weight", None) is not None else 0, "layer": hyper(m)}
            for m in leaves if not isinstance(m, UNLISTED)]
    activations = [torch.Size(outputs[m]).numel() for m in leaves if isinstance(m, (nn.ReLU, nn.Sigmoid))]
    return torch.Size(shape).numel(), rows, activations, sum(p.numel() for p in model.parameters())


PRESETS = list(BOOK)


def hyper(module):
    """A torch module's kind, kernel, stride, padding and outputs, as the layer language names them."""
    def one(v):
        return v[0] if isinstance(v, tuple) else v
    if isinstance(module, nn.Conv2d):
        return ("conv", one(module.kernel_size), one(module.stride), one(module.padding), module.out_channels)
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        kind = "maxpool" if isinstance(module, nn.MaxPool2d) else "avgpool"
        return (kind, one(module.kernel_size), one(module.stride), one(module.padding), None)
    if isinstance(module, nn.Linear):
        return ("fc", 1, 1, 0, module.out_features)
    if isinstance(module, nn.Dropout):
        return ("dropout", 1, 1, 0, None)
    assert isinstance(module, nn.AdaptiveAvgPool2d) and module.output_size in (1, (1, 1)), module
    return ("gap", 1, 1, 0, None)


def spelled(spec):
    layer = parse_layer(spec)
    return (layer.kind, layer.kernel, layer.stride, layer.padding, layer.out)


# ---------------------------------------------------------------- network-shapes


@pytest.mark.parametrize("preset", PRESETS)
def test_shapes_and_parameters_match_the_book(preset):
    _, rows, _, total = book(preset)
    answer = NS.solve(NS.validate({"preset": preset}))
    assert [spelled(row["layer"]) for row in answer["layers"]] == [row["layer"] for row in rows]
    assert [row["output"] for row in answer["layers"]] == [row["output"] for row in rows]
    assert [row["params"] for row in answer["layers"]] == [row["params"] for row in rows]
    assert answer["total_params"] == total


def test_the_books_numbers():
    # The chapters' layer_summary outputs: 28 -> 14 -> 10 -> 5 for LeNet, 224 -> 54 -> 26 -> 12 -> 5
    # for AlexNet and NiN, 224 halved five times to 7 for VGG-11.
    sides = {p: [r["output"][1] for r in NS.solve(NS.validate({"preset": p}))["layers"] if len(r["output"]) == 3]
             for p in PRESETS}
    assert sides["d2l-lenet"] == [28, 14, 10, 5]
    assert sides["d2l-alexnet"] == [54, 26, 26, 12, 12, 12, 12, 5]
    assert sides["d2l-vgg11"][-1] == 7
    assert sides["d2l-nin"] == [54, 54, 54, 26, 26, 26, 26, 12, 12, 12, 12, 5, 5, 5, 5, 5, 1]
    totals = {p: book(p)[3] for p in PRESETS}
    assert totals == {"d2l-lenet": 61_706, "d2l-alexnet": 46_764_746, "d2l-vgg11": 128_806_154,
                      "d2l-nin": 1_992_166}


@pytest.mark.parametrize("preset", PRESETS)
def test_statement_and_grading(preset):
    params = NS.validate({"preset": preset})
    assert params == {"preset": preset, "layers": None, "input": None}
    text = NS.statement(params).text
    assert "Dive into Deep Learning" in text
    assert ("sigmoids are not listed" if preset == "d2l-lenet" else "ReLUs are not listed") in text
    _, rows, _, total = book(preset)
    right = "\n".join(f"{'x'.join(map(str, r['output']))}, {r['params']}" for r in rows) + f"\n{total}"
    assert NS.grade(params, right).correct
    # Forgetting every bias: the book's weights only.
    wrong = "\n".join(f"{'x'.join(map(str, r['output']))}, {r['weights']}" for r in rows)
    grade = NS.grade(params, wrong + f"\n{sum(r['weights'] for r in rows)}")
    assert grade.status == "partial" and "no-bias" in grade.mistakes


# ---------------------------------------------------------------- memory-estimate


@pytest.mark.parametrize("preset", PRESETS)
def test_memory_estimate_counts_the_books_layers(preset):
    inputs, rows, _, total = book(preset)
    params = ME.validate({"preset": preset, "batch_size": 16, "dtype": "float32", "optimizer": "adam"})
    elements = inputs + sum(torch.Size(r["output"]).numel() for r in rows)
    assert ME.solve(params) == {"activations": 16 * 4 * elements, "parameters": 4 * total, "gradients": 4 * total,
                                "optimizer_state": 2 * 4 * total, "total": 16 * 4 * elements + 4 * 4 * total}


@pytest.mark.parametrize("preset", PRESETS)
def test_memory_estimate_statement_and_grading(preset):
    inputs, rows, activations, total = book(preset)
    params = ME.validate({"preset": preset, "batch_size": 2, "dtype": "float32", "optimizer": "momentum"})
    text = ME.statement(params).text
    act = "Sigmoid" if preset == "d2l-lenet" else "ReLU"
    assert f"{act}s follow the convolutions" in text
    assert ("dropout layer's output" in text) == (preset in ("d2l-alexnet", "d2l-vgg11", "d2l-nin"))

    def response(elements):
        fields = [2 * 4 * elements, 4 * total, 4 * total, 4 * total]
        return "; ".join(str(v) for v in fields + [sum(fields)])

    listed = inputs + sum(torch.Size(r["output"]).numel() for r in rows)
    assert ME.grade(params, response(listed)).correct
    # Counting the book's activation modules' outputs too (nn.ReLU() and nn.Sigmoid() are not in place there).
    grade = ME.grade(params, response(listed + sum(activations)))
    assert grade.status == "partial" and "relu-copies" in grade.mistakes
    assert f"counted the {act if act == 'ReLU' else 'sigmoid'} outputs" in grade.feedback


# ---------------------------------------------------------------- the layer language


def test_dropout_and_gap_in_a_layer_list():
    params = NS.validate({"layers": "conv3-8p1, dropout, conv1-4, gap", "input": "3x6x6"})
    assert params["layers"] == "conv3-8p1,dropout,conv1-4,gap"
    answer = NS.solve(params)
    # By hand: 3*9*8+8 = 224, 8*4+4 = 36.
    assert [(r["output"], r["params"]) for r in answer["layers"]] == [
        ([8, 6, 6], 224), ([8, 6, 6], 0), ([4, 6, 6], 36), ([4, 1, 1], 0)]
    assert NS.solve(NS.validate({"layers": "fc16,dropout,fc2", "input": "1x2x2"}))["total_params"] == 80 + 34


@pytest.mark.parametrize("layers", ["conv3,gap", "conv3,dropout"])
def test_receptive_field_keeps_to_convs_and_pools(layers):
    with pytest.raises(ParamError, match="no place"):
        get("receptive-field").validate({"layers": layers})


def test_gap_after_an_fc_layer_is_refused():
    with pytest.raises(ParamError, match="layers"):
        NS.validate({"layers": "fc10,gap", "input": "1x4x4"})
