"""Runs inside a d2l part's sandbox child, next to the student's code, with torch preloaded.

Trusted, but not private: student code in the same process can see and change everything
here, so nothing here knows an answer.  It turns the parent's numpy arrays into the float32
tensors d2l works with, reads tensors back as arrays, runs autograd, and stands in for the
``d2l`` package, which the grader's sandbox does not have (``install_d2l``).  The parent
(``grader.checks.d2l``) calls the student's functions itself (``Session.call``) with the
tensors made here, and compares everything with its reference.
"""

from __future__ import annotations

import importlib
import sys
import time
import types

import torch
from torch import nn


# ---------------------------------------------------------------- the d2l package


class _Inert:
    """A d2l helper the sandbox does without (plotting, data loading): using it does nothing."""

    def __init__(self, name: str):
        self._name = name

    def __call__(self, *args, **kwargs):
        return _Inert(f"{self._name}(...)")

    def __getattr__(self, attribute: str):
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        return _Inert(f"{self._name}.{attribute}")

    def __getitem__(self, key):
        return _Inert(f"{self._name}[...]")

    def __setitem__(self, key, value):
        pass

    def __iter__(self):
        return iter(())

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False

    def __repr__(self):
        return f"<{self._name}: a stand-in of the grader's d2l, which does nothing>"


class Timer:
    """d2l's Timer: start, stop, avg, sum, cumsum."""

    def __init__(self):
        self.times = []
        self.start()

    def start(self):
        self.tik = time.perf_counter()

    def stop(self):
        self.times.append(time.perf_counter() - self.tik)
        return self.times[-1]

    def avg(self):
        return sum(self.times) / len(self.times)

    def sum(self):
        return sum(self.times)

    def cumsum(self):
        out, total = [], 0.0
        for t in self.times:
            total += t
            out.append(total)
        return out


def try_gpu(i: int = 0):
    return torch.device("cpu")  # the grader's d2l parts run on the CPU


# d2l.torch's own names (older editions: thin wrappers of tensor methods), before torch's
HELPERS = {
    "Timer": Timer, "try_gpu": try_gpu, "try_all_gpus": lambda: [torch.device("cpu")],
    "cpu": lambda: torch.device("cpu"), "gpu": lambda i=0: torch.device("cpu"), "num_gpus": lambda: 0,
    "nn": nn, "F": nn.functional,
    "numpy": lambda x, *a, **k: x.detach().numpy(*a, **k), "size": lambda x, *a, **k: x.numel(*a, **k),
    "reshape": lambda x, *a, **k: x.reshape(*a, **k), "to": lambda x, *a, **k: x.to(*a, **k),
    "reduce_sum": lambda x, *a, **k: x.sum(*a, **k), "reduce_mean": lambda x, *a, **k: x.mean(*a, **k),
    "argmax": lambda x, *a, **k: x.argmax(*a, **k), "astype": lambda x, *a, **k: x.type(*a, **k),
    "transpose": lambda x, *a, **k: x.t(*a, **k),
}


class D2L(types.ModuleType):
    """``d2l`` and ``d2l.torch``: the student's own definitions (``owners``: name -> the
    submission's module that defines it), d2l's small helpers, then torch's names; any other
    name (d2l.plt, d2l.load_data_fashion_mnist) is an ``_Inert`` that does nothing."""

    def __init__(self, name: str, owners: dict):
        super().__init__(name)
        self.__path__ = []
        self._owners = dict(owners)

    def __getattr__(self, name: str):
        if name.startswith("__") or name == "_owners":
            raise AttributeError(name)
        module = self._owners.get(name)
        if module is not None:
            return getattr(importlib.import_module(module), name)
        if name in HELPERS:
            return HELPERS[name]
        if hasattr(torch, name):
            return getattr(torch, name)
        return _Inert(f"d2l.{name}")


def install_d2l(owners: dict) -> None:
    """Make ``import d2l``, ``from d2l import torch as d2l`` and ``import d2l.torch`` give a
    ``D2L`` module.  Called before any student code runs in the child."""
    package = D2L("d2l", owners)
    package.torch = D2L("d2l.torch", owners)
    sys.modules["d2l"], sys.modules["d2l.torch"] = package, package.torch


# ---------------------------------------------------------------- tensors in and out


def seed(number: int) -> None:
    torch.manual_seed(number)


def tensor(array, requires_grad: bool = False):
    """The float32 tensor of a numpy array (a leaf that records gradients when asked)."""
    return torch.tensor(array, dtype=torch.float32).requires_grad_(requires_grad)


def read(value) -> dict:
    """A student's result as plain data: a tensor's values, shape, dtype and whether autograd
    can go back through it; anything else by its type name."""
    if not isinstance(value, torch.Tensor):
        return {"type": type(value).__name__}
    data = value.detach().cpu()
    data = data.real if data.is_complex() else data
    return {"array": data.to(torch.float64).numpy().copy(), "dtype": str(value.dtype).removeprefix("torch."),
            "shape": list(value.shape), "graph": bool(value.requires_grad)}


def gradients(output, inputs: list, upstream) -> list:
    """d sum(upstream * output) / d input for each input (None where it does not reach it)."""
    grad = torch.tensor(upstream, dtype=output.dtype)
    found = torch.autograd.grad(output, list(inputs), grad_outputs=grad, allow_unused=True)
    return [None if g is None else g.detach().to(torch.float64).numpy().copy() for g in found]


def attribute(obj, name: str):
    """``obj.name`` (a module's weight), to pass back to ``gradients``."""
    return getattr(obj, name)


def call(function, *args):
    """``function(*args)``: a student's module (``model(X)``) called from the parent."""
    return function(*args)


# ---------------------------------------------------------------- the Conv2D module


def parameters(model) -> dict:
    """What a Conv2D holds: its weight and bias (values, shapes, flags) and whether they are
    registered as its parameters."""
    registered = {id(p) for p in model.parameters()}
    facts = {}
    for name in ("weight", "bias"):
        value = getattr(model, name, None)
        if not isinstance(value, torch.Tensor):
            facts[name] = {"type": type(value).__name__}
            continue
        facts[name] = {**read(value), "parameter": isinstance(value, nn.Parameter),
                       "requires_grad": bool(value.requires_grad), "registered": id(value) in registered}
    return facts


def learn_edge(model, X, Y, lr: float, epochs: int) -> dict:
    """d2l's exercise: learn the kernel that made Y from X, by the book's loop (squared error,
    the weight updated by lr * its gradient, the bias left at zero, as the book ignores it)."""
    X, Y = tensor(X), tensor(Y)
    with torch.no_grad():
        model.bias.zero_()
    losses = []
    for _ in range(epochs):
        Y_hat = model(X)
        loss = (Y_hat - Y) ** 2
        model.zero_grad()
        loss.sum().backward()
        model.weight.data[:] -= lr * model.weight.grad
        losses.append(float(loss.sum()))
    return {"weight": model.weight.detach().to(torch.float64).numpy().copy(), "losses": losses}
