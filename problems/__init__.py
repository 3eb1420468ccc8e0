"""The problem bank: one module a problem type, found by name.

Every module in this package that defines a subclass of :class:`Problem`
with a ``name`` is registered when the bank is first used; adding a problem
type means adding one file here and nothing else.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from functools import cache

from grader.errors import UnknownProblemError

from .base import Grade, Mistake, Param, Problem, Statement

__all__ = ["Grade", "Mistake", "Param", "Problem", "Statement", "all_problems", "get", "names"]

_SUPPORT = {"answers", "base", "layers"}


@cache
def _registry() -> dict[str, Problem]:
    found: dict[str, Problem] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name in _SUPPORT or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, Problem) and not inspect.isabstract(obj) and obj.__module__ == module.__name__:
                if obj.name in found:
                    raise RuntimeError(f"two problem types are named {obj.name!r}")
                found[obj.name] = obj()
    return dict(sorted(found.items()))


def all_problems() -> list[Problem]:
    """Every problem type, sorted by name."""
    return list(_registry().values())


def names() -> list[str]:
    return list(_registry())


def get(name: str) -> Problem:
    """The problem type called ``name``; UnknownProblemError lists the others."""
    try:
        return _registry()[name]
    except KeyError:
        raise UnknownProblemError(
            f"unknown problem {name!r}; known problems: {', '.join(_registry())}"
        ) from None
