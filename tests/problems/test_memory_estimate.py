"""memory-estimate against memory measured in torch: the distinct storages a
forward pass creates (in-place ReLUs and Flatten views share theirs), the
gradients after backward, and a real optimizer's state after one step."""

from __future__ import annotations

import re

import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch import nn

from grader.errors import ParamError
from grader.problems import get
from grader.seeding import rng

P = get("memory-estimate")
DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32, "float64": torch.float64}


def build(input_shape, spec):
    """torch modules for a layer list (conv, pool, avgpool, fc, as the presets and the sampler
    write them), with an in-place ReLU after every convolution and every FC layer but the last."""
    items = spec.split(",")
    modules = []
    for n, item in enumerate(items):
        m = re.fullmatch(r"conv(\d+)-(\d+)(?:s(\d+))?(?:p(\d+))?", item)
        if m:
            modules += [nn.LazyConv2d(int(m[2]), int(m[1]), stride=int(m[3] or 1), padding=int(m[4] or 0)),
                        nn.ReLU(inplace=True)]
            continue
        m = re.fullmatch(r"(pool|avgpool)(\d+)(?:s(\d+))?", item)
        if m:
            k = int(m[2])
            modules.append(nn.MaxPool2d(k, int(m[3] or k)) if m[1] == "pool" else nn.AvgPool2d(k, int(m[3] or k)))
            continue
        m = re.fullmatch(r"fc(\d+)", item)
        assert m, item
        modules += [nn.Flatten(), nn.LazyLinear(int(m[1]))]
        if n < len(items) - 1:
            modules.append(nn.ReLU(inplace=True))
    model = nn.Sequential(*modules)
    with torch.no_grad():
        model(torch.zeros(1, *input_shape))  # materialise the lazy layers
    return model


def measure(input_shape, spec, batch, dtype, optimizer):
    """Bytes of activations, parameters, gradients and optimizer state, measured."""
    torch.manual_seed(0)
    model = build(input_shape, spec).to(DTYPES[dtype])
    storages = {}

    def keep(tensor):
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()

    x = torch.randn(batch, *input_shape, dtype=DTYPES[dtype])
    keep(x)
    for module in model:
        module.register_forward_hook(lambda mod, inp, out: keep(out))
    model(x).float().sum().backward()
    opt = {
        "sgd": lambda ps: torch.optim.SGD(ps, lr=0.01),
        "momentum": lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.9),
        "adam": lambda ps: torch.optim.Adam(ps, lr=0.01),
    }[optimizer](model.parameters())
    opt.step()
    state = sum(t.nbytes for s in opt.state.values() for k, t in s.items() if k != "step" and torch.is_tensor(t))
    out = {
        "activations": sum(storages.values()),
        "parameters": sum(p.nbytes for p in model.parameters()),
        "gradients": sum(p.grad.nbytes for p in model.parameters()),
        "optimizer_state": state,
    }
    out["total"] = sum(out.values())
    return out


LENET = ((1, 32, 32), "conv5-6,pool2,conv5-16,pool2,conv5-120,fc84,fc10")


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_lenet_matches_torch(dtype, optimizer):
    params = P.validate({"preset": "lenet5", "batch_size": 4, "dtype": dtype, "optimizer": optimizer})
    assert P.solve(params) == measure(*LENET, 4, dtype, optimizer)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), batch=st.integers(1, 4), dtype=st.sampled_from(["float32", "float64", "bfloat16"]),
       optimizer=st.sampled_from(["sgd", "momentum", "adam"]))
def test_random_networks_match_torch(seed, batch, dtype, optimizer):
    # (float16 is left to the LeNet test: its convolutions are slow on a CPU.)
    from grader.problems.network_shapes import draw_network

    net = draw_network(rng("memory-test", seed), {})
    params = P.validate({**net, "batch_size": batch, "dtype": dtype, "optimizer": optimizer})
    input_shape = tuple(int(d) for d in params["input"].split("x"))
    assert P.solve(params) == measure(input_shape, params["layers"], batch, dtype, optimizer)


def test_big_presets_by_counting_on_the_meta_device():
    # AlexNet and VGG-16 are too big to train here: count outputs and parameters instead.
    from grader.problems.layers import PRESETS

    for preset in ("alexnet", "vgg16"):
        shape, spec = PRESETS[preset]
        with torch.device("meta"):
            model = build(shape, spec)
            elements = [torch.Size(shape).numel()]
            for module in model:
                if not isinstance(module, (nn.ReLU, nn.Flatten)):
                    module.register_forward_hook(lambda mod, inp, out: elements.append(out[0].numel()))
            model(torch.empty(1, *shape))
            n_params = sum(p.numel() for p in model.parameters())
        answer = P.solve(P.validate({"preset": preset, "batch_size": 32, "dtype": "float16", "optimizer": "adam"}))
        assert answer["activations"] == 32 * 2 * sum(elements)
        assert answer["parameters"] == answer["gradients"] == 2 * n_params
        assert answer["optimizer_state"] == 2 * 2 * n_params


def test_vgg16_by_hand():
    # cs231n's per-layer list for VGG-16 sums to about 15.2M numbers an image
    # (input 150K, 2 x 3.2M, 800K, 2 x 1.6M, 400K, 3 x 800K, 200K, 3 x 400K, 100K, 3 x 100K, 25K, ...),
    # and 138M parameters.
    answer = P.solve(P.validate({"preset": "vgg16", "batch_size": 1}))
    assert answer["activations"] == 4 * 15_237_608
    assert answer["parameters"] == 4 * 138_357_544
    assert answer["optimizer_state"] == 0
    assert answer["total"] == 4 * (15_237_608 + 2 * 138_357_544)


# LeNet-5 by hand: 1,024 input numbers and 4,704+1,176+1,600+400+120+84+10 = 8,094
# output numbers an image; 61,706 parameters.  Batch 8, float32, Adam:
ELEMS, INPUT, PARAMS = 8094, 1024, 61706
RIGHT = {"activations": 8 * 4 * (ELEMS + INPUT), "parameters": 4 * PARAMS, "gradients": 4 * PARAMS,
         "optimizer_state": 2 * 4 * PARAMS}
RIGHT["total"] = sum(RIGHT.values())


def lenet(optimizer="adam", dtype="float32"):
    return P.validate({"preset": "lenet5", "batch_size": 8, "dtype": dtype, "optimizer": optimizer})


def response(**wrong):
    return "; ".join(f"{k}={v}" for k, v in (RIGHT | wrong).items())


def with_total(**fields):
    out = RIGHT | fields
    return out | {"total": sum(v for k, v in out.items() if k != "total")}


@pytest.mark.parametrize(
    "params, fields, key",
    [
        (lenet(), with_total(activations=4 * (ELEMS + INPUT)), "no-batch"),
        (lenet(), with_total(activations=8 * 4 * ELEMS), "no-input"),
        (lenet(), {k: v // 4 for k, v in RIGHT.items()}, "elements-not-bytes"),
        (lenet(), {k: v * 8 for k, v in RIGHT.items()}, "bits-not-bytes"),
        (lenet(), {k: v * 2 for k, v in RIGHT.items()}, "wrong-dtype-size"),  # 8 bytes, not 4
        (lenet(), with_total(optimizer_state=4 * PARAMS), "adam-one-buffer"),
        (lenet(), with_total(optimizer_state=0), "no-optimizer-state"),
        (lenet(), with_total(activations=8 * 4 * (ELEMS + INPUT + 4704 + 1600 + 120 + 84)), "relu-copies"),
        (lenet(), with_total(gradients=8 * 4 * PARAMS), "per-image-gradients"),
        (lenet(), {"total": RIGHT["total"] - RIGHT["gradients"]}, "no-gradients-in-total"),
        (lenet(), {"total": RIGHT["total"] - RIGHT["optimizer_state"]}, "no-state-in-total"),
        (lenet(), {"total": RIGHT["total"] - RIGHT["activations"]}, "no-activations-in-total"),
    ],
)
def test_each_mistake_is_named(params, fields, key):
    grade = P.grade(params, response(**fields))
    assert grade.status in ("partial", "wrong")
    assert key in grade.mistakes


@pytest.mark.parametrize(
    "optimizer, state, key",
    [
        ("momentum", 2 * 4 * PARAMS, "momentum-two-buffers"),
        ("momentum", 0, "no-optimizer-state"),
        ("sgd", 4 * PARAMS, "sgd-state"),
        ("sgd", 2 * 4 * PARAMS, "sgd-two-buffers"),
    ],
)
def test_optimizer_state_mistakes(optimizer, state, key):
    right_state = {"sgd": 0, "momentum": 4 * PARAMS}[optimizer]
    fields = RIGHT | {"optimizer_state": state}
    fields["total"] = RIGHT["total"] - RIGHT["optimizer_state"] + state
    grade = P.grade(lenet(optimizer), "; ".join(f"{k}={v}" for k, v in fields.items()))
    assert key in grade.mistakes
    assert P.solve(lenet(optimizer))["optimizer_state"] == right_state


def test_half_precision_assumed_four_bytes():
    params = lenet("sgd", "bfloat16")
    right = P.solve(params)
    grade = P.grade(params, "; ".join(f"{k}={2 * v}" for k, v in right.items()))
    assert "wrong-dtype-size" in grade.mistakes


@pytest.mark.parametrize(
    "text",
    [
        "291776; 246824; 246824; 493648; 1279072",
        "activations=291,776 B; parameters=246.824 KB; gradients=241.04 KiB; optimizer_state=0.4936 MB; "
        "total=1.28 MB",
        "activations: 0.2783 MiB\nparameters: 0.247 MB\ngradients: 0.2354 MiB\noptimizer_state: 0.494 MB\n"
        "total: 1.22 MiB",
        '{"activations": 291776, "parameters": 246824, "gradients": 246824, "optimizer_state": 493648, '
        '"total": 1279072}',
    ],
)
def test_tolerant_parsing(text):
    grade = P.grade(lenet(), text)
    assert grade.correct, grade.feedback


def test_units_are_read_both_ways():
    # "93 MB" is 93·10⁶ or 93·2²⁰ bytes; either reading can be right.
    fmt = P.answer_format
    assert [path for path, _, _ in fmt.leaves(fmt.parse("93 MB; 1 GB; 1 GiB; 0; 2 kB"))] == [
        "activations", "parameters", "gradients", "optimizer_state", "total"]
    assert fmt.parse("93 MB; 1; 1; 0; 1")["activations"] == (93e6, 93 * 2**20)


def test_canonical_params_and_defaults():
    params = P.validate({"layers": "conv3-8p1, pool2s2, fc10", "batch_size": "64"})
    assert params == {"preset": None, "layers": "conv3-8p1,pool2,fc10", "input": "3x32x32", "batch_size": 64,
                      "dtype": "float32", "optimizer": "sgd"}


@pytest.mark.parametrize(
    "raw, name",
    [
        ({"preset": "lenet5", "batch_size": 0}, "batch_size"),
        ({"preset": "lenet5"}, "batch_size"),
        ({"preset": "lenet5", "batch_size": 2, "dtype": "int8"}, "dtype"),
        ({"preset": "lenet5", "batch_size": 2, "optimizer": "rmsprop"}, "optimizer"),
        ({"preset": "lenet6", "batch_size": 2}, "preset"),
        ({"layers": "conv3-8,nonsense", "batch_size": 2}, "layers"),
        ({"batch_size": 2}, "preset"),
    ],
)
def test_bad_params(raw, name):
    with pytest.raises(ParamError, match=name):
        P.validate(raw)


def test_samples_validate_and_solve():
    seen = set()
    for seed in range(100):
        params = P.sample(rng("memory-estimate", seed))
        assert P.validate(params) == params
        answer = P.solve(params)
        assert answer["total"] == sum(v for k, v in answer.items() if k != "total")
        assert answer["gradients"] == answer["parameters"]
        assert P.grade(params, "; ".join(str(v) for v in answer.values())).correct
        assert "in place" in P.statement(params).text
        seen.add(params["optimizer"])
    assert seen == {"sgd", "momentum", "adam"}
