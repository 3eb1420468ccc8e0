"""Layer parts as declarations: everything the engine needs to grade a forward/backward pair.

A ``LayerPart`` says what a graded layer is: the backward's gradients and the forward
argument each belongs to, the reference (a forward and a backward, and the file they live
in, for the speed test's child), the cases and how to draw their inputs from a seed, the
wrong variants with the message each earns, and optional hints that read a wrong shape.
``grader.checks.layers.LayerChecker`` reads nothing else, so a layer an instructor
declares in the assignment's TOML (``[parts.NAME]``, see ``declare``) gets every test a
built-in one has: forward, backward, numeric gradient, speed, integrity, heat maps,
diagnosis, every report format, batch, exports and the student wheel's public cases.

The built-in parts (conv, max_pool, avg_pool) are declarations of the same kind
(``BUILTIN``); what is theirs alone is data: their cases, their hints, a loop reference
for the speed test's second line.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from grader.checks.cases import (SPEED_CONV, SPEED_POOL, Inputs, cases_for, conv_inputs, pool_inputs)
from grader.errors import InputFileError
from grader.seeding import rng

KINDS = ("forward", "backward", "numeric-gradient")


@dataclass(frozen=True)
class Reference:
    """Where a part's reference lives: ``path`` (a .py file, trusted: the instructor's or the
    grader's) and the names of its forward and backward.  Loaded on first use, in the parent;
    the speed test runs the same file in a child of its own."""

    path: Path
    forward: str
    backward: str
    module: str = ""  # the grader's own references are imported as the modules they are

    def functions(self) -> tuple[Callable, Callable]:
        module = importlib.import_module(self.module) if self.module else load_file(self.path)
        try:
            return getattr(module, self.forward), getattr(module, self.backward)
        except AttributeError as exc:
            raise InputFileError(f"{self.path}: {exc}") from None


_LOADED: dict[Path, Any] = {}


def load_file(path: Path) -> Any:
    """The module in ``path`` (once a process); a broken file is one clear InputFileError."""
    path = Path(path).resolve()
    if path not in _LOADED:
        name = f"_grader_declared_{len(_LOADED)}_{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None or not path.is_file():
            raise InputFileError(f"cannot load {path}: no such Python file")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:  # noqa: BLE001 - the instructor's file: say what broke, in one line
            sys.modules.pop(name, None)
            raise InputFileError(f"{path}: loading it failed: {type(exc).__name__}: {exc}") from None
        _LOADED[path] = module
    return _LOADED[path]


def resolve(text: str, folder: Path, where: str) -> tuple[Path, str]:
    """``"file.py:function"`` -> (the file, relative to ``folder``, and the function's name)."""
    file, sep, function = str(text).rpartition(":")
    if not sep or not file.endswith(".py") or not function.isidentifier():
        raise InputFileError(f"{where}: expected 'file.py:function', got {text!r}")
    return (folder / file).resolve(), function


@dataclass(frozen=True)
class Variant:
    """A known wrong variant: ``result(args, dout)`` is what the bug gives on the forward's
    ``args`` (its output for a forward variant, its gradients as a tuple for a backward one)."""

    key: str
    kind: str
    message: str
    result: Callable[[tuple, Any], Any]


@dataclass(frozen=True)
class Hints:
    """What a part knows about its own wrong shapes, all optional:

    - ``output(args, got, expected_shape) -> why | None``: a forward output of the wrong shape;
    - ``gradient(name, got, expected_shape, args) -> why | None``: a gradient of the wrong shape;
    - ``accept(case, args, dout, got, tol) -> bool``: a gradient other than the reference's that
      is right too (max pooling at ties);
    - ``error(args, text) -> why | None``: what an exception the student's code raised on this
      case means (a broadcast error only a non-square kernel provokes);
    - ``features(case, args) -> ((key, holds), ...)``: what sets this case apart (no padding, a
      non-square output, overlapping windows ...), keys of ``grader.checks.hints.FEATURES``: a
      symptom seen on exactly the cases with a feature is said with that feature's likely cause;
    - ``values(name, got, args, dout) -> why | None``: a gradient of the right shape with wrong
      values, read against what any right gradient must satisfy (max pooling: gradient only at
      window maxima, none outside the windows);
    - ``cache(args) -> cache``: the cache the layout documents its forward returns (cs231n's
      ``(x, w, b, conv_param)``), built from the forward's arguments alone: where the student's
      forward failed, the backward is still tested with it rather than left not run;
    - ``cache_items(args) -> {name: value}``: what else a forward's own cache is commonly made of
      (the padded x): where it always returns such a cache, it is rebuilt where it failed."""

    output: Callable | None = None
    gradient: Callable | None = None
    accept: Callable | None = None
    error: Callable | None = None  # (args, error text) -> why | None: an exception read against this case
    accepted: str = ""  # the note a test carries when ``accept`` took a gradient
    features: Callable | None = None
    values: Callable | None = None
    cache: Callable | None = None  # (args) -> the cache the layout documents its forward returns
    cache_text: str = ""  # how the layout writes that cache, "(x, w, b, conv_param)"
    # (args) -> {name: value}: what a forward's own cache may hold, built from its arguments (x, w, b,
    # conv_param, the padded x): a cache made of these alone is rebuilt where that forward failed
    cache_items: Callable | None = None


@dataclass(frozen=True)
class DeclaredCase:
    """A case of a declared part: its name, the kinds of test it runs, its argument specs."""

    name: str
    args: tuple[Any, ...]
    kinds: tuple[str, ...] = ("forward", "backward")
    ties: bool = False
    divides: bool = True
    dilation: int = 1


@dataclass(frozen=True)
class LayerPart:
    name: str
    gradients: tuple[str, ...]  # the backward's results, in order
    wrt: tuple[int, ...]  # the forward argument each gradient is the derivative of
    reference: Callable[[str], Reference]  # device -> the reference ("cpu": numpy)
    cases: Callable[[Any], tuple]  # layout's PartSpec -> the cases
    draw: Callable[[Any, int, Any], Inputs]  # (case, seed, spec) -> the case's inputs
    speed_case: Callable[[str], Any]  # label -> the timed case, renamed
    variants: Callable[[str], list[Variant]] = lambda kind: []
    hints: Hints = Hints()
    loops: Reference | None = None  # a loop reference the speed test also compares with (built-ins)
    tolerance: dict[str, float] = field(default_factory=dict)  # overrides the assignment's, per kind
    files: tuple[str, ...] = ()  # declared parts: where the student's functions may be (first found)
    forward: str = ""
    backward: str = ""
    declared: bool = False
    device_kwargs: bool = False  # the references take device= (the built-ins' torch path)
    secrets: tuple[str, ...] = ()  # the instructor's files this part reads: no student child may read them

    def functions(self, device: str = "cpu") -> tuple[Callable, Callable]:
        ref = self.reference(device)
        forward, backward = ref.functions()
        if device != "cpu" and self.device_kwargs:
            return (lambda *a: forward(*a, device=device)), backward
        return forward, backward


# ---------------------------------------------------------------- the built-in parts


def _reference_file(name: str) -> Path:
    """The grader's reference ``name`` (found without importing it: a student install has none)."""
    spec = importlib.util.find_spec("grader.reference")
    folder = Path(spec.origin).resolve().parent if spec is not None and spec.origin else Path("reference")
    return folder / f"{name}.py"


def _builtin_reference(part: str) -> Callable[[str], Reference]:
    def reference(device: str) -> Reference:
        name = "numpy_fast" if device == "cpu" else "torch_ref"
        return Reference(_reference_file(name), f"{part}_forward", f"{part}_backward", f"grader.reference.{name}")
    return reference


def _builtin_variants(part: str) -> Callable[[str], list[Variant]]:
    def variants(kind: str) -> list[Variant]:
        from grader.reference import wrong

        def result(variant):
            def run(args, dout):
                value = variant.evaluate(args, dout)
                return tuple(value) if kind == "backward" and isinstance(value, (tuple, list)) else (
                    (value,) if kind == "backward" else value)
            return run
        return [Variant(v.key, v.kind, v.message, result(v)) for v in wrong.variants(part, kind)]
    return variants


def _conv_draw(case, seed: int, spec) -> Inputs:
    return conv_inputs(case, seed, "conv", getattr(spec, "dilation", True))


def _pool_draw(part: str):
    return lambda case, seed, spec: pool_inputs(case, seed, part)


def _builtin(part: str) -> LayerPart:
    from grader.checks import hints

    conv = part == "conv"
    return LayerPart(
        name=part,
        gradients=("dx", "dw", "db") if conv else ("dx",),
        wrt=(0, 1, 2) if conv else (0,),
        reference=_builtin_reference(part),
        cases=lambda spec: cases_for(part, getattr(spec, "dilation", True), getattr(spec, "exact_fit", False)),
        draw=_conv_draw if conv else _pool_draw(part),
        speed_case=lambda label: replace(SPEED_CONV if conv else SPEED_POOL, name=label),
        variants=_builtin_variants(part),
        hints=hints.for_part(part),
        loops=Reference(_reference_file("numpy_loops"), f"{part}_forward", f"{part}_backward",
                        "grader.reference.numpy_loops"),
        device_kwargs=True,
    )


BUILTIN = {name: _builtin(name) for name in ("conv", "max_pool", "avg_pool")}


def registry(cfg=None) -> dict[str, LayerPart]:
    """Every layer part an assignment can grade: the built-ins and those ``cfg`` declares."""
    return {**BUILTIN, **(dict(cfg.declared) if cfg is not None else {})}


# ---------------------------------------------------------------- declared parts


ARRAY_KEYS = ("shape", "values", "scale", "offset", "low", "high", "dtype")
DISTRIBUTIONS = ("normal", "uniform", "integers")
PART_KEYS = ("files", "forward", "backward", "reference", "reference_forward", "reference_backward", "args",
             "gradients", "wrt", "tolerance", "case", "cases", "wrong", "speed_case")


def _draw_arg(spec: Any, g: np.random.Generator) -> Any:
    """A case's argument: a table with ``shape`` is a random array drawn from ``g``; anything
    else is passed as it is (a fresh copy of a table: the student's code may change it)."""
    if isinstance(spec, dict) and "shape" in spec:
        shape = tuple(int(n) for n in spec["shape"])
        kind = spec.get("values", "normal")
        if kind == "integers":
            values = g.integers(int(spec.get("low", 0)), int(spec.get("high", 3)), size=shape).astype(np.float64)
        elif kind == "uniform":
            values = g.uniform(float(spec.get("low", 0.0)), float(spec.get("high", 1.0)), size=shape)
        else:
            values = g.standard_normal(shape)
        return values * float(spec.get("scale", 1.0)) + float(spec.get("offset", 0.0))
    if isinstance(spec, dict):
        return {k: _draw_arg(v, g) for k, v in spec.items()}
    return list(spec) if isinstance(spec, list) else spec


def _check_arg(spec: Any, where: str) -> None:
    if isinstance(spec, dict) and "shape" in spec:
        unknown = [k for k in spec if k not in ARRAY_KEYS]
        if unknown:
            raise InputFileError(f"{where}: unknown key {unknown[0]!r} in an array (keys: {', '.join(ARRAY_KEYS)})")
        shape = spec["shape"]
        if not isinstance(shape, list) or not shape or not all(
                isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape):
            raise InputFileError(f"{where}: shape must be a list of positive integers, got {shape!r}")
        if spec.get("values", "normal") not in DISTRIBUTIONS:
            raise InputFileError(f"{where}: values must be one of {', '.join(DISTRIBUTIONS)}, "
                                 f"got {spec.get('values')!r}")


def _list_of_names(value: Any, where: str, allow_empty: bool = False) -> tuple[str, ...]:
    if not isinstance(value, list) or (not value and not allow_empty) or not all(
            isinstance(v, str) and v for v in value):
        raise InputFileError(f"{where} must be a list of names, got {value!r}")
    return tuple(value)


def declare(name: str, table: dict, folder: Path, where: str, tolerance_kinds, student: bool = False) -> LayerPart:
    """The ``LayerPart`` that ``[parts.NAME]`` of an assignment file declares (``folder``: the
    file's folder, which relative paths start from).  Every mistake is one InputFileError that
    names the key.  The keys::

        files = ["layers.py", "cs231n/layers.py"]  # where the student's functions are
        forward = "spatial_batchnorm_forward"       # forward(*args) -> (out, cache)
        backward = "spatial_batchnorm_backward"     # backward(dout, cache) -> gradients
        reference = "reference.py"                  # the instructor's file, never shipped to students
        reference_forward = "..."                   # its names, when not the student's
        args = ["x", "gamma", "beta", "bn_param"]   # the forward's arguments, by name
        gradients = ["dx", "dgamma", "dbeta"]        # the backward's results, in order
        wrt = ["x", "gamma", "beta"]                # the argument each gradient belongs to
        tolerance = { forward = 1e-6 }              # per kind, over the assignment's
        speed_case = "a name"                       # the case to time (default: the last one)
        [[parts.NAME.case]]                         # cases: name, kinds and one spec per argument
        name = "..."; kinds = ["forward", "backward", "numeric-gradient"]
        x = { shape = [4, 3, 5, 6], values = "normal", scale = 1.0, offset = 0.0 }
        bn_param = { mode = "train", eps = 1e-5 }   # a table without shape: passed as it is
        [[parts.NAME.wrong]]                        # known bugs: same signature as the reference's
        kind = "backward"; function = "reference.py:dgamma_wrong_axes"; message = "..."

    ``cases = "file.py:function"`` instead of ``[[case]]`` names a generator: ``function()``
    returns a list of ``{"name": ..., "kinds": [...], "args": [spec, ...]}`` of the same specs.

    ``student``: the assignment as a student install holds it, without the instructor's files:
    only where the functions are and what they return; the cases, results and wrong variants
    come from the public cases (``grader.student.public``).
    """
    at = f"{where}: [parts.{name}]"
    if not isinstance(table, dict):
        raise InputFileError(f"{at} must be a table")
    if not name.isidentifier():
        raise InputFileError(f"{at}: a part's name is a Python identifier (letters, digits, _)")
    unknown = [k for k in table if k not in PART_KEYS]
    if unknown:
        from grader.config import _closest

        raise InputFileError(f"{at}: unknown key {unknown[0]}{_closest(unknown[0], PART_KEYS)}")
    for key in ("files", "forward", "backward", "reference", "args", "gradients", "wrt"):
        if key not in table:
            raise InputFileError(f"{at}: {key} is missing")
    files = _list_of_names(table["files"], f"{at} files")
    if any(not f.endswith(".py") or f.startswith("/") or ".." in Path(f).parts for f in files):
        raise InputFileError(f"{at} files: each is a .py file inside the submission, got {list(files)}")
    forward, backward = table["forward"], table["backward"]
    for key, value in (("forward", forward), ("backward", backward)):
        if not isinstance(value, str) or not value.isidentifier():
            raise InputFileError(f"{at} {key} must be a function's name, got {value!r}")
    ref_path = (folder / str(table["reference"])).resolve()
    if not str(table["reference"]).endswith(".py") or not (student or ref_path.is_file()):
        raise InputFileError(f"{at} reference: no Python file {ref_path}")
    reference = Reference(ref_path, str(table.get("reference_forward", forward)),
                          str(table.get("reference_backward", backward)))
    args = _list_of_names(table["args"], f"{at} args")
    gradients = _list_of_names(table["gradients"], f"{at} gradients")
    wrt_names = _list_of_names(table["wrt"], f"{at} wrt")
    if len(wrt_names) != len(gradients) or any(a not in args for a in wrt_names):
        raise InputFileError(f"{at} wrt: one argument of args per gradient ({len(gradients)}), got {list(wrt_names)}")
    wrt = tuple(args.index(a) for a in wrt_names)
    tolerance = table.get("tolerance", {})
    if not isinstance(tolerance, dict) or any(k not in tolerance_kinds or isinstance(v, bool)
                                              or not isinstance(v, (int, float)) or v < 0
                                              for k, v in tolerance.items()):
        raise InputFileError(f"{at} tolerance: a table of kind = number ({', '.join(tolerance_kinds)}), "
                             f"got {tolerance!r}")
    if student:
        def no_reference(device: str) -> Reference:
            raise InputFileError(f"{name}: a student install has no reference; its public cases stand in for it")
        return LayerPart(name=name, gradients=gradients, wrt=wrt, reference=no_reference, cases=lambda spec: (),
                         draw=lambda case, seed, spec=None: Inputs(()), speed_case=lambda label: None,
                         tolerance={k: float(v) for k, v in tolerance.items()}, files=files, forward=forward,
                         backward=backward, declared=True)
    cases = _declared_cases(table, args, folder, at)
    names = [c.name for c in cases]
    speed_name = table.get("speed_case", names[-1])
    if speed_name not in names:
        raise InputFileError(f"{at} speed_case: no case called {speed_name!r} (cases: {', '.join(names)})")
    speed = next(c for c in cases if c.name == speed_name)
    variants, variant_files = _declared_variants(table.get("wrong", []), reference, folder, at)
    secrets = {str(ref_path), *variant_files}
    if "cases" in table:
        secrets.add(str(resolve(table["cases"], folder, at)[0]))

    def draw(case: DeclaredCase, seed: int, spec=None) -> Inputs:
        g = rng(seed, name, case.name)
        return Inputs(tuple(_draw_arg(a, g) for a in case.args))

    return LayerPart(
        name=name, gradients=gradients, wrt=wrt, reference=lambda device: reference,
        cases=lambda spec: cases, draw=draw, speed_case=lambda label: replace(speed, name=label),
        variants=variants, tolerance={k: float(v) for k, v in tolerance.items()},
        files=files, forward=forward, backward=backward, declared=True, secrets=tuple(sorted(secrets)))


def _declared_cases(table: dict, args: tuple[str, ...], folder: Path, at: str) -> tuple[DeclaredCase, ...]:
    if ("case" in table) == ("cases" in table):
        raise InputFileError(f"{at}: give the cases as [[parts.NAME.case]] tables or as cases = 'file.py:function'")
    if "cases" in table:
        path, function = resolve(table["cases"], folder, f"{at} cases")
        try:
            raw = getattr(load_file(path), function)()
        except InputFileError:
            raise
        except Exception as exc:  # noqa: BLE001 - the instructor's generator: one line
            raise InputFileError(f"{at} cases: {table['cases']} failed: {type(exc).__name__}: {exc}") from None
        entries = [dict(e) if isinstance(e, dict) else e for e in raw] if isinstance(raw, (list, tuple)) else raw
        if not isinstance(entries, list) or not all(isinstance(e, dict) and isinstance(e.get("args"), (list, tuple))
                                                    for e in entries):
            raise InputFileError(f"{at} cases: {table['cases']} must return a list of "
                                 "{'name': ..., 'kinds': [...], 'args': [...]}")
        entries = [{"name": e.get("name"), "kinds": e.get("kinds", ["forward", "backward"]),
                    **dict(zip(args, e["args"]))} for e in entries]
    else:
        entries = table["case"]
    if not isinstance(entries, list) or not entries:
        raise InputFileError(f"{at}: no cases")
    cases, seen = [], set()
    for i, entry in enumerate(entries):
        where = f"{at} case {i + 1}"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
            raise InputFileError(f"{where}: every case has a name")
        if entry["name"] in seen:
            raise InputFileError(f"{where}: two cases are called {entry['name']!r}")
        seen.add(entry["name"])
        kinds = _list_of_names(entry.get("kinds", ["forward", "backward"]), f"{where} kinds")
        if any(k not in KINDS for k in kinds) or "forward" not in kinds:
            raise InputFileError(f"{where} kinds: forward and any of {', '.join(KINDS[1:])}, got {list(kinds)}")
        missing = [a for a in args if a not in entry]
        extra = [k for k in entry if k not in (*args, "name", "kinds", "ties")]
        if missing or extra:
            raise InputFileError(f"{where} ({entry['name']}): " + (f"no value for {missing[0]}" if missing else
                                 f"{extra[0]} is not one of the args ({', '.join(args)})"))
        for a in args:
            _check_arg(entry[a], f"{where} {a}")
        cases.append(DeclaredCase(entry["name"], tuple(entry[a] for a in args), kinds, bool(entry.get("ties"))))
    return tuple(cases)


def _declared_variants(entries: Any, reference: Reference, folder: Path, at: str
                       ) -> tuple[Callable[[str], list[Variant]], list[str]]:
    if not isinstance(entries, list):
        raise InputFileError(f"{at} wrong: a list of [[parts.NAME.wrong]] tables")
    declared = []
    for i, entry in enumerate(entries):
        where = f"{at} wrong {i + 1}"
        if not isinstance(entry, dict) or {"kind", "function", "message"} - entry.keys():
            raise InputFileError(f"{where}: kind, function and message are required")
        if entry["kind"] not in ("forward", "backward") or not isinstance(entry["message"], str):
            raise InputFileError(f"{where}: kind is forward or backward and message a sentence")
        path, function = resolve(entry["function"], folder, f"{where} function")
        if not path.is_file():
            raise InputFileError(f"{where} function: no Python file {path}")
        key = str(entry.get("key", f"{Path(path).stem}.{function}"))
        declared.append((key, entry["kind"], entry["message"], path, function))

    def variants(kind: str) -> list[Variant]:
        found = []
        for key, variant_kind, message, path, function in declared:
            if variant_kind != kind:
                continue
            fn = getattr(load_file(path), function)

            def result(args, dout, fn=fn, variant_kind=variant_kind):
                if variant_kind == "forward":
                    return fn(*args)[0]
                forward, _ = reference.functions()
                grads = fn(dout, forward(*args)[1])
                return tuple(grads) if isinstance(grads, (tuple, list)) else (grads,)
            found.append(Variant(key, kind, message, result))
        return found
    return variants, [str(d[3]) for d in declared]


def declared_parts(data: dict, folder: Path, where: str, tolerance_kinds, student: bool = False
                   ) -> dict[str, LayerPart]:
    """Every ``[parts.NAME]`` of an assignment file, declared (``declare``)."""
    tables = data.get("parts", {})
    if not isinstance(tables, dict):
        raise InputFileError(f"{where}: [parts] holds one table per declared part, [parts.NAME]")
    clash = [n for n in tables if n in BUILTIN or n == "transfer"]
    if clash:
        raise InputFileError(f"{where}: [parts.{clash[0]}]: {clash[0]} is a built-in part; give yours another name")
    return {n: declare(n, t, folder, where, tolerance_kinds, student) for n, t in tables.items()}


def student_spec(part: LayerPart, root: Path):
    """Where a declared part's functions are in the submission ``root`` (the first of its files
    that is there), as a layout's ``PartSpec``; None when none is."""
    from grader.layouts import PartSpec

    for file in part.files:
        if (root / file).is_file():
            module = file[:-3].replace("/", ".")
            return PartSpec(part.name, module, file, part.forward, part.backward, dilation=False)
    return None

