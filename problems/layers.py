"""Layers and networks as the problems talk about them.

The output-size formula of the course notes, for one spatial dimension:

    out = floor((W + 2P - D(F-1) - 1) / S) + 1

and a small layer language shared by receptive-field, network-shapes and
memory-estimate (VGG-paper style names):

    conv3          3x3 convolution, stride 1 (channels unchanged)
    conv3-64       3x3 convolution to 64 channels
    conv11-96s4    11x11, 96 filters, stride 4
    conv5-256p2    padding 2;  conv3-64d2: dilation 2;  conv3-64nb: no bias
    conv3-64g2     2 groups
    pool2s2        2x2 max pooling, stride 2 (stride defaults to the size)
    maxpool3s2     the same, spelled out;  avgpool2: average pooling
    fc4096         fully connected to 4096 units (flattens its input)
    dropout        dropout: no parameters, the shape unchanged
    gap            global average pooling: each channel averaged to one number

Presets give LeNet-5, AlexNet (the single-tower version of the cs231n notes,
227x227 input, no grouping: 62,378,344 parameters) and VGG-16, and the networks
of Dive into Deep Learning's CNN chapters as its PyTorch edition builds them:
d2l-lenet (sigmoids, average pooling, 1x28x28), d2l-alexnet, d2l-vgg11 and
d2l-nin (1x224x224 inputs, 10 classes).  Dropout and global average pooling
are for the networks only: receptive-field keeps to the classic kinds.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

from grader.errors import ParamError


def out_size(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1, *, ceil: bool = False) -> int:
    """floor((W + 2P - D(F-1) - 1)/S) + 1  (ceil instead of floor when asked)."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    if span < 0:
        raise ValueError(f"the kernel (extent {dilation * (kernel - 1) + 1}) is larger than the padded input ({size + 2 * padding})")
    return (math.ceil(span / stride) if ceil else span // stride) + 1


@dataclass(frozen=True)
class Layer:
    """One layer of the layer language (see the module docstring)."""

    kind: str  # "conv", "maxpool", "avgpool", "fc", "dropout", "gap"
    kernel: int = 1
    out: int | None = None  # conv: filters (None: unchanged); fc: units
    stride: int = 1
    padding: int = 0
    dilation: int = 1
    groups: int = 1
    bias: bool = True

    @property
    def spec(self) -> str:
        """The canonical spelling of this layer."""
        if self.kind == "fc":
            return f"fc{self.out}" + ("" if self.bias else "nb")
        if self.kind in ("dropout", "gap"):
            return self.kind
        text = ("pool" if self.kind == "maxpool" else self.kind) + str(self.kernel)
        if self.kind == "conv" and self.out is not None:
            text += f"-{self.out}"
        default_stride = 1 if self.kind == "conv" else self.kernel
        if self.stride != default_stride:
            text += f"s{self.stride}"
        if self.padding:
            text += f"p{self.padding}"
        if self.dilation != 1:
            text += f"d{self.dilation}"
        if self.groups != 1:
            text += f"g{self.groups}"
        if self.kind == "conv" and not self.bias:
            text += "nb"
        return text


_LAYER = re.compile(
    r"(?P<kind>conv|pool|maxpool|avgpool)(?P<k>\d+)(?:-(?P<out>\d+))?"
    r"(?P<opts>(?:[spdg]\d+)*)(?P<nb>nb)?|fc(?P<units>\d+)(?P<fcnb>nb)?|(?P<bare>dropout|gap)"
)

#: The kinds every problem reads, and those only whole networks add.
CLASSIC_KINDS = frozenset({"conv", "maxpool", "avgpool", "fc"})
NETWORK_KINDS = CLASSIC_KINDS | {"dropout", "gap"}


@lru_cache(maxsize=4096)
def parse_layer(text: str) -> Layer:
    """One layer from its spelling; ParamError says what is wrong."""
    spec = text.strip().lower().replace(" ", "")
    m = _LAYER.fullmatch(spec)
    if not m:
        raise ParamError(
            f"cannot read layer {text!r}: write e.g. conv3, conv3-64, conv11-96s4, conv5-256p2, pool2s2, avgpool2, fc4096"
        )
    if m.group("bare"):
        return Layer(m.group("bare"))
    if m.group("units"):
        units = int(m.group("units"))
        if units < 1:
            raise ParamError(f"layer {text!r}: an FC layer needs at least one unit")
        return Layer("fc", out=units, bias=not m.group("fcnb"))
    kind = "maxpool" if m.group("kind") == "pool" else m.group("kind")
    opts = dict((o[0], int(o[1:])) for o in re.findall(r"[spdg]\d+", m.group("opts") or ""))
    kernel = int(m.group("k"))
    layer = Layer(
        kind=kind,
        kernel=kernel,
        out=int(m.group("out")) if m.group("out") else None,
        stride=opts.get("s", 1 if kind == "conv" else kernel),
        padding=opts.get("p", 0),
        dilation=opts.get("d", 1),
        groups=opts.get("g", 1),
        bias=not m.group("nb"),
    )
    if kind != "conv" and (layer.out is not None or layer.groups != 1 or not layer.bias):
        raise ParamError(f"layer {text!r}: pooling has no filters, groups or bias")
    if min(layer.kernel, layer.stride, layer.dilation, layer.groups) < 1 or (layer.out is not None and layer.out < 1):
        raise ParamError(f"layer {text!r}: sizes, strides, dilations and groups must be at least 1")
    if kind != "conv" and layer.padding > layer.kernel // 2:
        raise ParamError(f"layer {text!r}: pooling padding must be at most half the window")
    return layer


MAX_LAYERS = 64


def parse_layers(text: str, kinds: frozenset[str] = CLASSIC_KINDS) -> list[Layer]:
    """A comma-separated layer list; ``conv3x3`` (or ``conv3*3``) repeats a layer.
    Only ``kinds`` are allowed: dropout and gap mean nothing to a receptive field."""
    return list(_parse_layers(text, kinds))


@lru_cache(maxsize=1024)
def _parse_layers(text: str, kinds: frozenset[str]) -> tuple[Layer, ...]:
    layers: list[Layer] = []
    for item in [t for t in re.split(r"[,\s]+", text.strip().lower()) if t]:
        m = re.fullmatch(r"(.+?)[x*](\d+)", item)
        spec, repeat = (m.group(1), int(m.group(2))) if m and not m.group(1).isdigit() else (item, 1)
        if len(layers) + repeat > MAX_LAYERS:
            raise ParamError(f"a layer list holds at most {MAX_LAYERS} layers")
        layer = parse_layer(spec)
        if layer.kind not in kinds:
            raise ParamError(f"layer {spec!r}: {layer.kind} has no place in this problem's layer lists "
                             f"({', '.join(sorted(kinds))})")
        layers.extend([layer] * repeat)
    if not layers:
        raise ParamError("the layer list is empty")
    return tuple(layers)


def spell(layers: list[Layer]) -> str:
    return ",".join(layer.spec for layer in layers)


# ---------------------------------------------------------------- networks


@dataclass(frozen=True)
class LayerResult:
    layer: Layer
    output: tuple[int, int, int] | tuple[int]  # (C, H, W), or (units,) after an FC layer
    params: int


def conv_params(in_channels: int, out_channels: int, kh: int, kw: int, groups: int = 1, bias: bool = True) -> int:
    """(C_in/groups · KH · KW) · C_out weights, plus C_out biases."""
    return (in_channels // groups) * kh * kw * out_channels + (out_channels if bias else 0)


def side(size: int, layer: Layer) -> int:
    """A conv or pool layer's output side on an input side of ``size``."""
    return out_size(size, layer.kernel, layer.stride, layer.padding, layer.dilation)


def next_shape(layer: Layer, shape: tuple[int, ...], size: Callable[[int, Layer], int] = side) -> tuple[int, ...]:
    """The output of ``layer`` on an input of ``shape``, with ``size`` giving a
    conv or pool layer's output side (a mistaken rule models a mistake).
    ValueError when the layer does not fit its input."""
    if layer.kind == "fc":
        return (layer.out,)
    if layer.kind == "dropout":
        return tuple(shape)
    if len(shape) != 3:
        raise ValueError("a spatial layer cannot follow a fully connected one")
    c, h, w = shape
    if layer.kind == "gap":
        return (c, 1, 1)
    oh, ow = size(h, layer), size(w, layer)
    if min(oh, ow) < 1:
        raise ValueError("the layer does not fit its input")
    return (layer.out if layer.kind == "conv" and layer.out is not None else c, oh, ow)


def layer_params(layer: Layer, in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> int:
    """Weights and biases: an FC layer sees its whole flattened input; pooling and dropout have none."""
    if layer.kind == "fc":
        return math.prod(in_shape) * layer.out + (layer.out if layer.bias else 0)
    if layer.kind == "conv":
        return conv_params(in_shape[0], out_shape[0], layer.kernel, layer.kernel, layer.groups, layer.bias)
    return 0


def propagate(input_shape: tuple[int, int, int], layers: list[Layer]) -> list[LayerResult]:
    """Each layer's output volume and parameter count, in order.

    Raises ParamError when a layer does not fit its input (a kernel larger than
    the padded input, channels that groups do not divide, a conv after an FC)."""
    shape: tuple[int, ...] = tuple(input_shape)
    results = []
    for i, layer in enumerate(layers, 1):
        try:
            out = next_shape(layer, shape)
            if layer.kind == "conv" and (shape[0] % layer.groups or out[0] % layer.groups):
                raise ValueError(f"{layer.groups} groups do not divide {shape[0]} input and {out[0]} output channels")
        except ValueError as exc:
            raise ParamError(f"layer {i} ({layer.spec}) does not fit its input: {exc}") from None
        results.append(LayerResult(layer, out, layer_params(layer, shape, out)))  # type: ignore[arg-type]
        shape = out
    return results


PRESETS: dict[str, tuple[tuple[int, int, int], str]] = {
    # LeNet-5 (LeCun et al. 1998) with full C3 connectivity: 61,706 parameters.
    "lenet5": ((1, 32, 32), "conv5-6,pool2s2,conv5-16,pool2s2,conv5-120,fc84,fc10"),
    # AlexNet as in the cs231n notes: 227x227x3 input, one tower, no LRN.
    "alexnet": (
        (3, 227, 227),
        "conv11-96s4,pool3s2,conv5-256p2,pool3s2,conv3-384p1,conv3-384p1,conv3-256p1,pool3s2,fc4096,fc4096,fc1000",
    ),
    # VGG-16 (configuration D): 138,357,544 parameters.
    "vgg16": (
        (3, 224, 224),
        "conv3-64p1,conv3-64p1,pool2s2,conv3-128p1,conv3-128p1,pool2s2,"
        "conv3-256p1,conv3-256p1,conv3-256p1,pool2s2,conv3-512p1,conv3-512p1,conv3-512p1,pool2s2,"
        "conv3-512p1,conv3-512p1,conv3-512p1,pool2s2,fc4096,fc4096,fc1000",
    ),
    # Dive into Deep Learning (PyTorch edition), chapters 7.6 and 8.1-8.3, on
    # Fashion-MNIST: 28x28, resized to 224x224 from AlexNet on.
    # LeNet: sigmoids (not listed), average pooling, padding 2 on the first conv.
    "d2l-lenet": ((1, 28, 28), "conv5-6p2,avgpool2s2,conv5-16,avgpool2s2,fc120,fc84,fc10"),
    # AlexNet: padding 1 on the 11x11 conv (224 -> 54), dropout after the hidden FC layers.
    "d2l-alexnet": (
        (1, 224, 224),
        "conv11-96s4p1,pool3s2,conv5-256p2,pool3s2,conv3-384p1,conv3-384p1,conv3-256p1,pool3s2,"
        "fc4096,dropout,fc4096,dropout,fc10",
    ),
    # VGG-11: conv_arch ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512)).
    "d2l-vgg11": (
        (1, 224, 224),
        "conv3-64p1,pool2s2,conv3-128p1,pool2s2,conv3-256p1,conv3-256p1,pool2s2,"
        "conv3-512p1,conv3-512p1,pool2s2,conv3-512p1,conv3-512p1,pool2s2,fc4096,dropout,fc4096,dropout,fc10",
    ),
    # NiN: four blocks (a KxK conv, then two 1x1 convs), the last down to 10 channels,
    # then global average pooling (the book then flattens the 10x1x1 output).
    "d2l-nin": (
        (1, 224, 224),
        "conv11-96s4,conv1-96,conv1-96,pool3s2,conv5-256p2,conv1-256,conv1-256,pool3s2,"
        "conv3-384p1,conv1-384,conv1-384,pool3s2,dropout,conv3-10p1,conv1-10,conv1-10,gap",
    ),
}

#: How the statements name the presets.
PRESET_TITLES = {
    "lenet5": "LeNet-5", "alexnet": "AlexNet", "vgg16": "VGG-16",
    "d2l-lenet": "LeNet, as Dive into Deep Learning builds it",
    "d2l-alexnet": "AlexNet, as Dive into Deep Learning builds it",
    "d2l-vgg11": "VGG-11, as Dive into Deep Learning builds it",
    "d2l-nin": "NiN, as Dive into Deep Learning builds it",
}


def activation(params: dict) -> str:
    """The nonlinearity between the layers of a network: d2l's LeNet keeps the sigmoid."""
    return "sigmoid" if params.get("preset") == "d2l-lenet" else "ReLU"


def parse_volume(text: str | list | tuple, name: str = "input") -> tuple[int, int, int]:
    """An input volume C x H x W: ``3x32x32``, ``(3, 32, 32)``, ``[3, 32, 32]``."""
    items = list(text) if isinstance(text, (list, tuple)) else [t for t in re.split(r"[x×,\s()\[\]]+", str(text)) if t]
    try:
        dims = tuple(int(v) for v in items)
    except ValueError:
        dims = ()
    if len(dims) != 3 or min(dims) < 1:
        raise ParamError(f"{name} must be a volume C x H x W such as 3x32x32, got {text!r}")
    return dims  # type: ignore[return-value]


def network(params: dict) -> tuple[tuple[int, int, int], list[Layer]]:
    """The input volume and layers named by ``preset`` or by ``input`` and ``layers``."""
    preset = params.get("preset")
    if preset:
        if params.get("layers"):
            raise ParamError("give either preset or layers, not both")
        if preset not in PRESETS:
            raise ParamError(f"unknown preset {preset!r}; presets: {', '.join(PRESETS)}")
        shape, spec = PRESETS[preset]
        return shape, parse_layers(spec, NETWORK_KINDS)
    if not params.get("layers"):
        raise ParamError(f"give preset ({'/'.join(PRESETS)}) or layers (e.g. layers=conv5-6,pool2s2,fc10 input=1x32x32)")
    shape = parse_volume(params.get("input") or "3x32x32")
    return shape, parse_layers(params["layers"], NETWORK_KINDS)
