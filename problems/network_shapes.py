"""Each layer's output volume and parameter count in a whole network.

The network is a preset (LeNet-5, AlexNet as in the cs231n notes, VGG-16, and
d2l's LeNet, AlexNet, VGG-11 and NiN) or a layer list in the layer language of
``layers.py`` with an input volume.
Per layer (C x H x W volumes, as PyTorch writes them):

    conv K x K, F filters:  output F x OH x OW,  (C·K·K + 1)·F parameters
    pool K x K:             output C x OH x OW,  no parameters
    fc N:                   output N,            (fan-in + 1)·N parameters
    dropout:                output unchanged,    no parameters
    global average pool:    output C x 1 x 1,    no parameters

with OH = floor((H + 2P - K)/S) + 1.  The helpers below (the network
parameters, their checks, descriptions and random networks) also serve
memory-estimate.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np

from grader.errors import InvalidResponse, ParamError

from .answers import AnswerFormat, Integer, ListOf, Record, Shape, parse_number
from .base import OneOf, Param, Problem, Statement, Text, mistakes_from, pick
from .layers import (PRESET_TITLES, PRESETS, Layer, LayerResult, activation, layer_params, network, next_shape,
                     propagate, side, spell)

# ---------------------------------------------------------------- the network, shared with memory-estimate

NETWORK_PARAMS = (
    Param("preset", OneOf(tuple(PRESETS)), None, f"a named network: {', '.join(PRESETS)}"),
    Param("layers", Text(), None, "instead of a preset, a layer list such as conv5-6,pool2s2,conv5-16,pool2s2,fc10"),
    Param("input", Text(), None, "the input volume CxHxW of the layer list (default 3x32x32)"),
)


def check_network(p: dict[str, Any]) -> None:
    """Check the network parameters and store them canonically: a layer list
    in its canonical spelling and its input as ``CxHxW``."""
    if p.get("preset") and p.get("input"):
        raise ParamError(f"input goes with layers; the preset {p['preset']} has its own input volume")
    try:
        shape, layers = network(p)
        propagate(shape, layers)  # ParamError when a layer does not fit its input
    except ParamError as exc:
        if str(exc).startswith(("preset", "layers", "input", "give")):
            raise
        raise ParamError(f"layers: {exc}") from None
    if not p.get("preset"):
        p["layers"] = spell(layers)
        p["input"] = "x".join(str(d) for d in shape)


def describe_layer(layer: Layer) -> str:
    """A layer in words: ``11×11 convolution, 96 filters, stride 4, padding 0``."""
    k = f"{layer.kernel}×{layer.kernel}"
    if layer.kind == "dropout":
        return "dropout (the shape unchanged)"
    if layer.kind == "gap":
        return "global average pooling: each channel's whole map averaged to one number"
    if layer.kind == "fc":
        text = f"fully connected, {layer.out} units"
    elif layer.kind == "conv":
        filters = f"{layer.out} filters" if layer.out is not None else "as many filters as input channels"
        text = f"{k} convolution, {filters}, stride {layer.stride}, padding {layer.padding}"
        if layer.dilation != 1:
            text += f", dilation {layer.dilation}"
        if layer.groups != 1:
            text += f", {layer.groups} groups"
    else:
        text = f"{k} {'max' if layer.kind == 'maxpool' else 'average'} pooling, stride {layer.stride}"
        if layer.padding:
            text += f", padding {layer.padding}"
    if layer.kind in ("conv", "fc") and not layer.bias:
        text += ", no bias"
    return text


def volume(shape: tuple[int, ...]) -> str:
    return "×".join(str(d) for d in shape)


def describe_network(p: dict[str, Any]) -> tuple[str, ...]:
    """Statement blocks: the input, then one block a layer."""
    shape, layers = network(p)
    name = PRESET_TITLES.get(p.get("preset") or "")
    intro = (f"The network{f' ({name})' if name else ''} takes an input volume of {volume(shape)} "
             f"(channels × height × width). Its layers, in order ({activation(p)}s are not listed):")
    return (intro,) + tuple(f"{i}. {layer.spec}: {describe_layer(layer)}" for i, layer in enumerate(layers, 1))


def draw_network(rng: np.random.Generator, preset_odds: dict[str, float] | None = None) -> dict[str, Any]:
    """Raw network parameters: now and then a preset, otherwise a small random
    network (a 3x32x32 or 1x28x28 input, 3 to 6 layers, sizes that divide)."""
    odds = preset_odds if preset_odds is not None else {"lenet5": 0.06, "alexnet": 0.03}
    roll = rng.random()
    for name, chance in odds.items():
        if roll < chance:
            return {"preset": name}
        roll -= chance
    c, side = (3, 32) if rng.random() < 0.6 else (1, 28)
    h = side
    n = int(rng.integers(3, 7))
    n_fc = pick(rng, [0, 1, 1, 2]) if n > 3 else pick(rng, [0, 1])
    specs: list[str] = []
    last = ""
    for i in range(n - n_fc):
        options = []
        if i > 0 and last != "pool" and h % 2 == 0 and h >= 4:
            options += ["pool"] * 2
        options += ["same3", "same5", "same3"] if h >= 4 else []
        options += ["valid3"] if h >= 6 else []
        options += ["valid5"] if h >= 9 and (h - 4) % 2 == 0 else []
        options += ["stride2"] if h % 2 == 0 and h >= 8 else []
        options += ["one"] if i > 0 else []
        choice = options[int(rng.integers(len(options)))] if options else "one"
        f = pick(rng, [4, 6, 8, 8, 16, 16, 32])
        if choice == "pool":
            specs.append("pool2s2" if rng.random() < 0.8 else "avgpool2")
            h //= 2
        elif choice == "same3":
            specs.append(f"conv3-{f}p1")
        elif choice == "same5":
            specs.append(f"conv5-{f}p2")
        elif choice == "valid3":
            specs.append(f"conv3-{f}")
            h -= 2
        elif choice == "valid5":
            specs.append(f"conv5-{f}")
            h -= 4
        elif choice == "stride2":
            specs.append(f"conv3-{f}s2p1")
            h //= 2
        else:
            specs.append(f"conv1-{f}")
        last = "pool" if choice == "pool" else "conv"
    units = [pick(rng, [32, 64, 84, 100, 120, 128])] * (n_fc - 1) + [10]
    specs += [f"fc{u}" for u in units[:n_fc]]
    return {"layers": ",".join(specs), "input": f"{c}x{side}x{side}"}


def walk(shape: tuple[int, int, int], layers: list[Layer], *,
         size: Callable[[int, Layer], int] | None = None,
         params: Callable[[Layer, tuple[int, ...], tuple[int, ...]], int] | None = None) -> list[LayerResult]:
    """Each layer's output and parameter count under a (possibly mistaken)
    output-size rule ``size(in_size, layer)`` and parameter rule
    ``params(layer, in_shape, out_shape)``.  The mistakes are modelled with it."""
    results, current = [], tuple(shape)
    for layer in layers:
        nxt = next_shape(layer, current, size or side)
        count = (params or layer_params)(layer, current, nxt)
        results.append(LayerResult(layer, nxt, count))  # type: ignore[arg-type]
        current = nxt
    return results


# ---------------------------------------------------------------- the answer format


@dataclass(frozen=True)
class LayerName(AnswerFormat):
    """A layer's spelling, carried in the answer for people to read; never graded."""

    hint: str = "the layer, e.g. conv11-96s4"

    def parse(self, raw: Any) -> str:
        return str(raw).strip()

    def leaves(self, value: Any, path: str = "") -> list:
        return []

    def show(self, value: Any) -> str:
        return str(value)


LAYER_ROW = Record((("layer", LayerName()), ("output", Shape()), ("params", Integer())))

_ENUMERATION = re.compile(r"^\d+\s*[.)]\s+")
_LABEL = re.compile(r"^(?P<label>[A-Za-z][\w\-]*)\s*(?:[:=]\s*|\s+(?=[\d(\[]))")
_WORDS = re.compile(r"\b(?:output|shape|volume|params|parameters|param)\b\s*[:=]?", re.I)
_SHAPE = re.compile(r"^\d+(?:\s*[x×X*]\s*\d+)*")


@dataclass(frozen=True)
class LayerTable(Record):
    """``{"layers": [{"layer", "output", "params"}, ...], "total_params": N}``,
    typed as JSON or one layer a line (``96x55x55, 34944``, optionally after
    the layer's name) with the total on the last line."""

    fields: tuple[tuple[str, AnswerFormat], ...] = (("layers", ListOf(LAYER_ROW)), ("total_params", Integer()))

    @property
    def hint(self) -> str:  # type: ignore[override]
        return ("one layer a line, its output volume CxHxW then its parameter count (e.g. 96x55x55, 34944); "
                "the total on the last line")

    def parse(self, raw: Any) -> dict[str, Any]:
        if isinstance(raw, str):
            text = raw.strip()
            if not text:
                raise InvalidResponse("empty answer")
            try:
                obj = json.loads(text)
            except ValueError:
                obj = None
            raw = obj if isinstance(obj, (dict, list)) else self._from_lines(text)
        if isinstance(raw, list):
            raw = {"layers": raw}
        return super().parse(raw)

    def _from_lines(self, text: str) -> dict[str, Any]:
        lines = [ln.strip() for ln in re.split(r"[\n;]+", text) if ln.strip()]
        rows, total = [], None
        for n, line in enumerate(lines, 1):
            body = _ENUMERATION.sub("", line)
            m = _LABEL.match(body)
            label = None
            if m:
                label, body = m.group("label"), body[m.end():]
            body = _WORDS.sub(" ", body).strip(" ,\t")
            if (label or "").lower().startswith("total") or (n == len(lines) and _is_number(body)):
                total = body
                continue
            shape, rest = _split_shape(body)
            if shape is None or not rest:
                raise InvalidResponse(
                    f"line {n} ({line!r}): write the output volume and the parameter count, e.g. 96x55x55, 34944"
                )
            rows.append({"output": shape, "params": rest})
        out: dict[str, Any] = {"layers": rows}
        if total is not None:
            out["total_params"] = total
        return out

    def show(self, value: Any) -> str:
        lines = [
            (f"{row['layer']}: " if row.get("layer") else "")
            + "x".join(str(d) for d in row["output"]) + f", {Integer().show(row['params'])}"
            for row in value.get("layers", [])
        ]
        if value.get("total_params") is not None:
            lines.append(f"total: {Integer().show(value['total_params'])}")
        return "\n".join(lines)


def _is_number(text: str) -> bool:
    try:
        parse_number(text)
    except InvalidResponse:
        return False
    return True


def _split_shape(body: str) -> tuple[str | None, str]:
    """``"96x55x55, 34,944"`` -> ``("96x55x55", "34,944")``; brackets allowed."""
    if body and body[0] in "([":
        close = body.find(")" if body[0] == "(" else "]")
        if close < 0:
            return None, ""
        return body[: close + 1], body[close + 1:].strip(" ,:;\t")
    m = _SHAPE.match(body)
    if not m:
        return None, ""
    return m.group(0), body[m.end():].strip(" ,:;\t")


# ---------------------------------------------------------------- the problem


def answer_of(results: list[LayerResult]) -> dict[str, Any]:
    return {
        "layers": [{"layer": r.layer.spec, "output": list(r.output), "params": r.params} for r in results],
        "total_params": sum(r.params for r in results),
    }


class NetworkShapes(Problem):
    name = "network-shapes"
    summary = "each layer's output volume and parameter count in a CNN, and the total"
    topic = "network"
    params = NETWORK_PARAMS
    answer_format = LayerTable()

    def check_params(self, p: dict[str, Any]) -> None:
        check_network(p)

    def draw(self, rng: np.random.Generator) -> dict[str, Any]:
        return self.validate(draw_network(rng))

    def solve(self, p: dict[str, Any]) -> dict[str, Any]:
        shape, layers = network(p)
        return answer_of(propagate(shape, layers))

    def mistakes(self, p: dict[str, Any]) -> list:
        shape, layers = network(p)

        def variant(**kw: Any) -> Callable[[], Any]:
            # walk raises ValueError where the mistaken network does not fit: mistakes_from skips it.
            return lambda: answer_of(walk(shape, kw.get("layers", layers), size=kw.get("size"), params=kw.get("params")))

        def no_input_channels(layer: Layer, i: tuple[int, ...], o: tuple[int, ...]) -> int:
            if layer.kind == "conv":
                return layer.kernel * layer.kernel * o[0] + (o[0] if layer.bias else 0)
            return layer_params(layer, i, o)

        def pool_params(layer: Layer, i: tuple[int, ...], o: tuple[int, ...]) -> int:
            if layer.kind in ("maxpool", "avgpool"):
                return (i[0] * layer.kernel * layer.kernel + 1) * i[0]
            return layer_params(layer, i, o)

        def fc_channels_only(layer: Layer, i: tuple[int, ...], o: tuple[int, ...]) -> int:
            if layer.kind == "fc" and len(i) == 3:
                return (i[0] + (1 if layer.bias else 0)) * layer.out
            return layer_params(layer, i, o)

        def channels_last() -> Any:
            right = self.solve(p)
            for row in right["layers"]:
                if len(row["output"]) == 3:
                    c, h, w = row["output"]
                    row["output"] = [h, w, c]
            return right

        return mistakes_from(
            p,
            self.solve(p),
            [
                ("no-bias", "forgot the bias: each filter and each FC unit has one",
                 variant(layers=[replace(l, bias=False) for l in layers])),
                ("no-padding", "forgot the padding: the padded input is W+2P wide",
                 variant(layers=[replace(l, padding=0) for l in layers])),
                ("no-stride", "ignored the stride: the output shrinks by the stride",
                 variant(layers=[replace(l, stride=1) if l.kind == "conv" else l for l in layers])),
                ("no-plus-one", "forgot the +1 in (W+2P-F)/S+1",
                 variant(size=lambda n, l: (n + 2 * l.padding - l.dilation * (l.kernel - 1) - 1) // l.stride)),
                ("no-input-channels", "forgot the input channels: a filter is C_in×K×K, so a conv layer has "
                 "(C_in·K·K+1)·C_out parameters", variant(params=no_input_channels)),
                ("pool-params", "pooling has no parameters: it takes a max or an average",
                 variant(params=pool_params)),
                ("fc-channels-only", "the first FC layer sees the whole flattened C×H×W volume, "
                 "not just its C channels", variant(params=fc_channels_only)),
                ("channels-last", "write each volume as C×H×W (channels first, as PyTorch does)", channels_last),
            ],
        )

    def statement(self, p: dict[str, Any]) -> Statement:
        return Statement(
            describe_network(p) + (
                "Every convolution and fully connected layer has a bias unless marked otherwise; pooling "
                "layers have no parameters. A fully connected layer flattens its input.",
                "For each layer give its output volume C×H×W (a fully connected layer's output is just its "
                "number of units) and its number of learnable parameters (weights and biases), then the "
                "total number of parameters.",
            ),
            "Give each layer's output volume (e.g. 96x55x55) and parameter count (a whole number), then "
            "the total.",
        )
