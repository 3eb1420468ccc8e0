"""The d2l fixtures' verdicts come from torch, not from the grader: each fixture is run here
(with a minimal ``d2l`` of our own for the book's ``d2l.corr2d``) and compared with
torch's conv2d, max/avg_pool2d and autograd.  The book's code agrees everywhere; each
planted bug disagrees in the function it is planted in."""

from __future__ import annotations

import importlib.util
import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional
FIXTURES = Path(__file__).resolve().parents[1] / "submissions"

# fixture: the functions torch says are wrong (the rest must agree)
VERDICTS = {
    "d2l_book": set(), "d2l_notebook": set(),
    "d2l_flipped": {"corr2d", "corr2d_multi_in", "corr2d_multi_in_out", "Conv2D"},
    "d2l_avgpool_no_divide": {"pool2d"},
    "d2l_window_off_by_one": {"corr2d", "corr2d_multi_in", "corr2d_multi_in_out", "Conv2D"},
    "d2l_channels_summed": {"corr2d_multi_in_out"},
    "d2l_stride_ignored": {"pool2d"}, "d2l_padding_ignored": {"corr2d"},
}


class _FirstBinding(dict):
    """Module-level names as exec binds them, keeping each name's first value (the book rebinds
    ``pool2d`` to an nn.MaxPool2d after defining it)."""

    def __init__(self, namespace: dict):
        super().__init__()
        self.namespace, self.first = namespace, {}

    def __setitem__(self, key, value):
        self.first.setdefault(key, value)
        self.namespace[key] = value
        super().__setitem__(key, value)


def _load(name: str) -> dict:
    """The fixture's definitions, by name (a notebook's code cells that define something), the
    files that define corr2d first (the others call d2l.corr2d at their top level)."""
    folder, names = FIXTURES / name, {}
    shim = types.ModuleType("d2l")
    shim.torch = shim
    sys.modules["d2l"] = sys.modules["d2l.torch"] = shim
    try:
        sources = [p.read_text() for p in sorted(folder.glob("*.py"))]
        for notebook in folder.glob("*.ipynb"):  # one kernel: its defining cells, in one namespace
            cells = ["".join(cell["source"]) for cell in json.loads(notebook.read_text())["cells"]]
            sources.append("\n\n".join(["import torch\nfrom torch import nn\nfrom d2l import torch as d2l"]
                                       + [c for c in cells if c.startswith(("def ", "class "))]))
        for index, source in enumerate(sorted(sources, key=lambda s: "def corr2d(" not in s)):
            namespace: dict = {"__name__": f"fixture_{name}_{index}"}
            binding = _FirstBinding(namespace)
            exec(compile(source, f"{name}_{index}", "exec"), namespace, binding)  # noqa: S102 - our own fixtures
            for key, value in binding.first.items():
                if isinstance(value, (types.FunctionType, type)):
                    names.setdefault(key, value)
            shim.corr2d = names.get("corr2d")
    finally:
        del sys.modules["d2l"], sys.modules["d2l.torch"]
    return names


def _agrees(got, expected, inputs, upstream) -> bool:
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
        return False
    if not torch.allclose(got.double(), expected.double(), atol=1e-5):
        return False
    want = torch.autograd.grad(expected, inputs, upstream.double(), allow_unused=True)
    have = torch.autograd.grad(got, inputs, upstream.to(got.dtype), allow_unused=True)
    return all(h is not None and torch.allclose(h.double(), w.double(), atol=1e-5) for h, w in zip(have, want))


def _wrong_functions(defs: dict) -> set[str]:
    g = torch.Generator().manual_seed(0)
    wrong = set()

    def leaf(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64).float().requires_grad_()

    X, K = leaf(5, 6), leaf(2, 3)
    expected = F.conv2d(X[None, None], K[None, None])[0, 0]
    if not _agrees(defs["corr2d"](X, K), expected, (X, K), torch.randn(expected.shape, generator=g)):
        wrong.add("corr2d")
    X, K = leaf(3, 5, 6), leaf(3, 2, 3)
    expected = F.conv2d(X[None], K[None])[0, 0]
    if not _agrees(defs["corr2d_multi_in"](X, K), expected, (X, K), torch.randn(expected.shape, generator=g)):
        wrong.add("corr2d_multi_in")
    K = leaf(2, 3, 2, 3)
    expected = F.conv2d(X[None], K)[0]
    if not _agrees(defs["corr2d_multi_in_out"](X, K), expected, (X, K), torch.randn(expected.shape, generator=g)):
        wrong.add("corr2d_multi_in_out")
    K = leaf(2, 3, 1, 1)
    expected = F.conv2d(X[None], K)[0]
    if not _agrees(defs["corr2d_multi_in_out_1x1"](X, K), expected, (X, K), torch.randn(expected.shape, generator=g)):
        wrong.add("corr2d_multi_in_out_1x1")
    X = leaf(7, 6)
    params = defs["pool2d"].__code__.co_varnames[:defs["pool2d"].__code__.co_argcount]
    for mode, pool in (("max", F.max_pool2d), ("avg", F.avg_pool2d)):
        stride = 2 if "stride" in params else 1
        expected = pool(X[None, None], (2, 3), stride=stride)[0, 0]
        got = defs["pool2d"](X, (2, 3), mode, stride) if "stride" in params else defs["pool2d"](X, (2, 3), mode)
        if not _agrees(got, expected, (X,), torch.randn(expected.shape, generator=g)):
            wrong.add("pool2d")
    if "padding" in defs["corr2d"].__code__.co_varnames:
        X, K = leaf(5, 4), leaf(3, 2)
        expected = F.conv2d(X[None, None], K[None, None], padding=1)[0, 0]
        if not _agrees(defs["corr2d"](X, K, padding=1), expected, (X, K), torch.randn(expected.shape, generator=g)):
            wrong.add("corr2d")
    model = defs["Conv2D"]((2, 3))
    X = leaf(5, 6)
    expected = F.conv2d(X[None, None], model.weight[None, None], model.bias)[0, 0]
    if not _agrees(model(X), expected, (X, model.weight, model.bias), torch.randn(expected.shape, generator=g)):
        wrong.add("Conv2D")
    return wrong


@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_torch_says_which_functions_are_wrong(name):
    assert _wrong_functions(_load(name)) == VERDICTS[name]
