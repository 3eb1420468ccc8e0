"""What the child notices and steers besides the guard: replaced library functions (``Watch``)
and imports outside an allow-list (``ImportPolicy``).

Neither is a wall: both are plain Python objects that student code in the same process can
reach and change (through stack frames, say), and both only ever add notices.  The guard
(``guard.py``) is what refuses; comparisons happen in the parent, so a replaced function fools
nothing there.  Standard library only: loaded by path by ``main.py``.
"""

from __future__ import annotations

import operator
import os
import sys
import types

IMPORTLIB_DIR = os.path.dirname(sys.modules["importlib"].__file__) + os.sep


# Functions a submission might replace to fool a comparison made in its own process.
WATCHED = {
    "numpy": ("allclose", "isclose", "array_equal", "array_equiv", "asarray", "array", "testing.assert_allclose",
              "testing.assert_array_equal", "testing.assert_array_almost_equal", "testing.assert_almost_equal",
              "testing.assert_equal"),
    "torch": ("allclose", "isclose", "equal", "testing.assert_close", "Tensor.requires_grad", "Tensor.grad",
              "nn.Module.parameters", "nn.Module.named_parameters", "nn.Module.state_dict", "nn.Module.__call__",
              "optim.Optimizer.step", "optim.Optimizer.zero_grad"),
}


class Watch:
    """Notices functions of numpy, torch and builtins that student code replaced.

    Comparisons happen in the parent, so a replacement fools nothing; it is reported
    because trying is the point.  What was loaded at the start is compared by identity;
    what loads later (numpy.testing) must come from its own package."""

    def __init__(self):
        import builtins

        self.builtins = builtins
        self.preloaded = frozenset(sys.modules)
        self.original_builtins = dict(vars(builtins))
        # for the quick look in ``changes``: the same names, in the same order, bound to the same objects
        self._builtin_names = tuple(self.original_builtins)
        self._builtin_values = tuple(self.original_builtins.values())
        self.original = {}
        for package, names in WATCHED.items():
            for name in names:
                found = _lookup(package, name)
                if found is not _MISSING:
                    self.original[f"{package}.{name}"] = found
        self.seen: set[str] = set()

    def changes(self) -> list[str]:
        found = []
        current = vars(self.builtins)
        # builtins exactly as they were (looked at in C: a call's usual case), else name those replaced
        if not (len(current) == len(self._builtin_names) and all(map(operator.is_, current, self._builtin_names))
                and all(map(operator.is_, current.values(), self._builtin_values))):
            for name, value in self.original_builtins.items():
                if name != "_" and current.get(name, _MISSING) is not value:
                    found.append(f"builtins.{name}")
        for package, names in WATCHED.items():
            if package not in sys.modules:
                continue
            for name in names:
                dotted = f"{package}.{name}"
                value = _lookup(package, name)
                if value is _MISSING:
                    continue
                if dotted in self.original:
                    if value is not self.original[dotted]:
                        found.append(dotted)
                elif not str(getattr(value, "__module__", None) or "").startswith(package):
                    found.append(dotted)
        fresh = [name for name in found if name not in self.seen]
        self.seen.update(fresh)
        return fresh


_MISSING = object()


def _lookup(package: str, dotted: str):
    obj = sys.modules.get(package, _MISSING)
    for part in dotted.split("."):
        if obj is _MISSING:
            return _MISSING
        if isinstance(obj, types.ModuleType):  # (``inspect_static``'s first case, inline: every call looks)
            obj = vars(obj).get(part, _MISSING)
            continue
        try:
            obj = inspect_static(obj, part)
        except AttributeError:
            return _MISSING
    return obj


def inspect_static(obj, name: str):
    """``getattr`` without running descriptors or module ``__getattr__`` (lazy imports)."""
    import inspect

    if isinstance(obj, types.ModuleType):
        try:
            return vars(obj)[name]
        except KeyError:
            raise AttributeError(name) from None
    return inspect.getattr_static(obj, name)


class ImportPolicy:
    """A meta-path finder that refuses some imports made by student code.

    Only imports whose importing frame lies in the submission folder are
    checked, so numpy or torch may import what they like.  ``blocked`` names
    are always refused (the grader itself); with ``allowed`` set, student code
    may import only those top-level names, the standard library and the
    submission's own modules.  Modules already imported (the preloads) are not
    looked up again, so they stay importable.  A deterrent, not a wall: student
    code can remove this finder.
    """

    def __init__(self, folder: str, allowed, blocked, own_files):
        self.own_files = frozenset(own_files)
        self.prefix = os.path.join(folder, "")
        self.folder = folder
        self.allowed = None if allowed is None else frozenset(allowed)
        self.blocked = frozenset(blocked)

    def _importer(self):
        """The file of the code that asked for the import (exec'd strings count as their caller)."""
        frame = sys._getframe(1)
        while frame is not None:
            name = frame.f_code.co_filename
            if not (name.startswith("<") or name.startswith(IMPORTLIB_DIR) or name in self.own_files):
                return name
            frame = frame.f_back
        return None

    def _local(self, top: str) -> bool:
        return os.path.isfile(os.path.join(self.folder, top + ".py")) or os.path.isdir(os.path.join(self.folder, top))

    def find_spec(self, fullname, path=None, target=None):
        top = fullname.partition(".")[0]
        importer = self._importer()
        if importer is None or not importer.startswith(self.prefix) or self._local(top):
            return None
        if top in self.blocked:
            raise ModuleNotFoundError(f"student code may not import {top!r}", name=fullname)
        if self.allowed is not None and top not in self.allowed and top not in sys.stdlib_module_names:
            allowed = ", ".join(sorted(self.allowed)) or "nothing"
            raise ModuleNotFoundError(
                f"importing {top!r} is not allowed here (allowed: {allowed}, and the standard library)", name=fullname
            )
        return None

