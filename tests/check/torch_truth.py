"""Torch's answers on the layer parts' cases, for the tests that judge the fixtures of
tests/submissions without the grader: a fixture loaded as a module, and conv2d / max_pool2d /
avg_pool2d with autograd on a case's inputs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch

from grader.checks.cases import conv_inputs, pool_inputs

F = torch.nn.functional
FIXTURES = Path(__file__).resolve().parents[1] / "submissions"


def load_fixture(name: str, part: str, tag: str = ""):
    """The fixture's conv.py or pool.py, imported as a module of its own."""
    file = FIXTURES / name / ("conv.py" if part == "conv" else "pool.py")
    spec = importlib.util.spec_from_file_location(f"fixture_{name}{tag}", file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def torch_case(part: str, case, seed: int, dout_seed: int | None = None):
    """``(args, tensors, out, dout)``: the case's inputs drawn from ``seed``, torch's output on them,
    and an upstream gradient (from ``dout_seed``, default ``seed``) already sent back through it, so
    that each tensor's ``.grad`` is the right gradient."""
    if part == "conv":
        args = conv_inputs(case, seed, part, True).args
        x, w, b, p = args
        tensors = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
        out = F.conv2d(*tensors, stride=p["stride"], padding=p["pad"], dilation=p["dilation"])
    else:
        args = pool_inputs(case, seed, part).args
        x, p = args
        tensors = [torch.tensor(x, requires_grad=True)]
        pool = F.max_pool2d if part == "max_pool" else F.avg_pool2d
        out = pool(tensors[0], (p["pool_height"], p["pool_width"]), p["stride"])
    dout = np.random.default_rng(seed if dout_seed is None else dout_seed).standard_normal(tuple(out.shape))
    out.backward(torch.tensor(dout))
    return args, tensors, out, dout
