"""``grader export student``: the student install and starter kit, made by the instructor's install.

    export_student("release/")                        # the default assignment
    export_student("release/", config_path="a.toml")  # an assignment of the instructor's

writes ``release/cnn_grader_student-<version>-py3-none-any.whl`` and
``release/starter/`` (the starter kit, whose README says how to install the wheel).

The wheel is the grader *without* what would answer the assignment:

- no ``grader.reference`` (the loop, vectorized and torch references, the wrong-variant
  catalogue, the transfer part's data generator and reference solution), no
  ``grader.problems`` (the quiz problem bank and its solver), no ``grader.quiz``, no
  ``grader.batch`` and no ``grader.export`` (instructors' commands), and not this file;
- with ``grader/public/`` (``grader.student.public``): the public cases' inputs,
  expected outputs and gradients and the wrong variants' results on them, computed
  here, and the transfer part's practice split with the reference pipeline's logits on
  it (a split drawn from a public seed, never a graded one);
- with the assignment's configuration (``grader/public/assignment.toml``), graded by
  default, so that ``grader check`` grades what the instructor assigned.

The wheel is written directly (PEP 427: a zip with ``*.dist-info``), byte for byte the
same from the same sources, without a build backend or network.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import json
import os
import stat
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from grader import __version__
from grader import config as config_module
from grader.checks.truth import ReferenceTruth
from grader.errors import UsageError
from grader.student import public

DISTRIBUTION = "cnn_grader_student"  # the wheel's name (PEP 427 escapes "-" as "_")
PUBLIC_SEED = 7_301  # the public cases' seed: printed in every student-mode report
NUMPY_PARTS = ("conv", "max_pool", "avg_pool")
REQUIRES = ("numpy>=1.24", "torch>=2.0,<3", "click>=8.1", "jinja2>=3.1")
# What stays on the instructor's side, relative to the grader package (folders and files).
LEFT_OUT = ("reference", "problems", "quiz", "public", "batch.py", "export.py", "student/build.py")
# The templates a student install renders: the report and the starter kit.
TEMPLATES = ("__init__.py", "report.html.j2", "starter_README.md.j2", "starter_conv.py.j2", "starter_pool.py.j2",
             "starter_transfer.py.j2")
SKIPPED = ("__pycache__",)
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


# ---------------------------------------------------------------- the public cases


def _plain(value: Any) -> Any:
    """A non-array argument as JSON keeps it (tuples as lists, numpy scalars as numbers)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value.item() if isinstance(value, np.generic) else value


def layer_cases(parts, seed: int = PUBLIC_SEED, cfg: config_module.Config | None = None
                ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The layer parts' public cases, declared parts' too: ``({part: {case: entry}}, arrays)``
    (see ``public``'s docstring), computed by the references on the CPU."""
    from grader.parts import registry

    truth = ReferenceTruth("cpu")
    layers: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {}

    def keep(key: str, value) -> str:
        arrays[key] = np.ascontiguousarray(np.asarray(value, dtype=np.float64))
        return key

    every = registry(cfg)
    for part in (p for p in parts if p in every):
        layer = every[part]
        layers[part] = {}
        # every case, dilated ones and those with rows left over among them: student mode
        # chooses per layout, as grading does (PublicTruth.cases)
        for index, case in enumerate(truth.cases(layer, None)):
            tag = f"{part}.{index}"
            inputs = truth.inputs(layer, case, seed, None)
            out, cache = truth.forward(layer, case, inputs.args)
            dout = truth.upstream(layer, case, seed, np.shape(out))
            grads = truth.backward(layer, case, dout, cache)
            wrong: dict[str, list] = {"forward": [], "backward": []}
            for n, (key, message, result) in enumerate(truth.wrong(layer, "forward", case, inputs.args)):
                wrong["forward"].append([key, message, keep(f"{tag}.wf{n}", result)])
            for n, (key, message, result) in enumerate(truth.wrong(layer, "backward", case, inputs.args, dout)):
                wrong["backward"].append([key, message, [keep(f"{tag}.wb{n}.{i}", g) for i, g in enumerate(result)]])
            layers[part][case.name] = {
                "kinds": list(case.kinds),
                "ties": bool(getattr(case, "ties", False)),
                "dilation": int(getattr(case, "dilation", 1)),
                "divides": bool(getattr(case, "divides", True)),
                "args": [{"array": keep(f"{tag}.arg{i}", a)} if isinstance(a, np.ndarray) else {"value": _plain(a)}
                         for i, a in enumerate(inputs.args)],
                "dout": keep(f"{tag}.dout", dout),
                "out": keep(f"{tag}.out", out),
                "grads": [keep(f"{tag}.grad{i}", g) for i, g in enumerate(grads)],
                "wrong": wrong,
            }
    return layers, arrays


_PRACTICE: dict[tuple, tuple[dict[str, Any], dict[str, np.ndarray]]] = {}  # this process's, by (seed, limits)


def transfer_practice(cfg: config_module.Config, seed: int = PUBLIC_SEED) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The transfer part's practice split (a public seed's, never a graded one) and the reference
    pipeline's logits on it, trained here in a sandbox child as grading trains it (once a process)."""
    from grader.sessions import limits_for

    key = (seed, limits_for(cfg))
    if key not in _PRACTICE:
        _PRACTICE[key] = _transfer_practice(cfg, seed)
    return _PRACTICE[key]


def _transfer_practice(cfg: config_module.Config, seed: int) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    from grader.checks.transfer import MODES, Task, reference_runs, training_seed, transfer_limits
    from grader.sessions import limits_for
    from grader.reference import transfer_data as data

    splits = data.target_splits(data.PRACTICE_SEED)
    (train_x, train_y), (test_x, test_y) = splits["train"], splits["test"]
    task = Task(data.TARGET_CLASSES, train_x, train_y, test_x, test_y, None, data.EPOCHS, data.BATCH_SIZE)
    train_seed = training_seed(seed)
    runs = reference_runs(task, train_seed, "cpu", transfer_limits(limits_for(cfg), "cpu"))
    failed = {m: r for m, r in runs.items() if r.after is None}
    if failed:
        mode, run = next(iter(failed.items()))
        raise UsageError(f"the reference transfer pipeline failed ({mode}, {run.stage}: {run.error}): "
                         "cannot compute the practice split's reference results")

    def as_bytes(images: np.ndarray) -> np.ndarray:  # the 8-bit values they were quantized from
        return np.rint(images * 255.0).astype(np.uint8)

    arrays = {"transfer.train_x": as_bytes(train_x), "transfer.train_y": train_y.astype(np.int64),
              "transfer.test_x": as_bytes(test_x), "transfer.test_y": test_y.astype(np.int64)}
    logits = {}
    for mode in MODES:
        arrays[f"transfer.logits.{mode}"] = np.asarray(runs[mode].after["logits"], dtype=np.float32)
        logits[mode] = f"transfer.logits.{mode}"
    info = {"num_classes": task.num_classes, "epochs": task.epochs, "batch_size": task.batch_size,
            "training_seed": train_seed, "train_x": "transfer.train_x", "train_y": "transfer.train_y",
            "test_x": "transfer.test_x", "test_y": "transfer.test_y", "reference_logits": logits}
    return info, arrays


def write_public(folder: str | os.PathLike, config_path: str | os.PathLike | None = None,
                 seed: int = PUBLIC_SEED) -> Path:
    """Compute the public cases of the assignment and write them into ``folder``
    (``manifest.json`` and ``arrays.npz``); returns the folder.  An assignment with a
    transfer task of its own has no practice split: its transfer part is graded by
    the autograder only, and the student install says so."""
    cfg = config_module.load(config_path)
    layers, arrays = layer_cases(cfg.parts, seed, cfg)
    transfer = None
    notes = []
    if "transfer" in cfg.parts:
        if cfg.transfer_task:
            notes.append("this assignment's transfer task is the instructor's own: its transfer part is graded "
                         "by the autograder only")
        else:
            transfer, more = transfer_practice(cfg, seed)
            arrays.update(more)
    manifest = {"format": public.FORMAT, "seed": seed, "assignment": cfg.name, "grader_version": __version__,
                "layers": layers, "transfer": transfer, "notes": notes}
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / public.MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    (folder / public.ARRAYS).write_bytes(buffer.getvalue())
    return folder


# ---------------------------------------------------------------- the wheel


def _package_files() -> Iterator[tuple[str, Path]]:
    """(path inside the wheel, file) of the grader as it runs here, less what ``LEFT_OUT`` names;
    the templates from wherever this install keeps them."""
    import grader

    package = Path(grader.__file__).resolve().parent
    left_out = tuple(package / item for item in LEFT_OUT)
    for dirpath, dirnames, filenames in os.walk(package):
        folder = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED and folder / d not in left_out
                             and not (folder == package and d == "templates"))
        for name in sorted(filenames):
            file = folder / name
            if file in left_out or name.endswith((".pyc", ".pyo")):
                continue
            yield f"grader/{file.relative_to(package).as_posix()}", file
    spec = importlib.util.find_spec("grader.templates")
    templates = Path(next(iter(spec.submodule_search_locations))).resolve()
    for name in TEMPLATES:
        yield f"grader/templates/{name}", templates / name


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")
    return f"sha256={digest}"


def write_wheel(out_dir: Path, files: list[tuple[str, bytes]], version: str = __version__) -> Path:
    """Write ``files`` ((path, content), ``grader/...``) as a pure-Python wheel with the
    ``grader`` console script; return its path."""
    info = f"{DISTRIBUTION}-{version}.dist-info"
    metadata = "\n".join([
        "Metadata-Version: 2.1", f"Name: {DISTRIBUTION.replace('_', '-')}", f"Version: {version}",
        "Summary: grader, student install: the public checks of a CNN assignment (no reference solutions)",
        "Requires-Python: >=3.11", *(f"Requires-Dist: {r}" for r in REQUIRES), "", ""])
    wheel = "Wheel-Version: 1.0\nGenerator: grader export student\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    entry_points = "[console_scripts]\ngrader = grader.cli:main\n"
    everything = sorted(files) + [(f"{info}/METADATA", metadata.encode()), (f"{info}/WHEEL", wheel.encode()),
                                  (f"{info}/entry_points.txt", entry_points.encode())]
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in everything)
    everything.append((f"{info}/RECORD", (record + f"{info}/RECORD,,\n").encode()))
    path = Path(out_dir) / f"{DISTRIBUTION}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in everything:
            entry = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = (stat.S_IFREG | 0o644) << 16
            archive.writestr(entry, data)
    return path


def build_wheel(out_dir: str | os.PathLike, config_path: str | os.PathLike | None = None) -> Path:
    """The student wheel of the assignment (``config_path``, or the default) in ``out_dir``."""
    from grader.export import config_text

    _, text = config_text(config_path)  # a bad file fails here, with the key named
    files = [(name, file.read_bytes()) for name, file in _package_files()]
    with tempfile.TemporaryDirectory(prefix="grader-public-") as scratch:
        folder = write_public(scratch, config_path)
        (folder / public.ASSIGNMENT).write_text(text, encoding="utf-8")
        for name in (public.MANIFEST, public.ARRAYS, public.ASSIGNMENT):
            files.append((f"grader/{public.FOLDER}/{name}", (folder / name).read_bytes()))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return write_wheel(out, files)


def export_student(out_dir: str | os.PathLike, config_path: str | os.PathLike | None = None) -> list[Path]:
    """Write the student wheel and the starter kit (``starter/``) into ``out_dir``; return what was written."""
    from grader.starter import make_starter

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} exists and is not a folder")
    if (out / "starter").is_dir() and any((out / "starter").iterdir()):
        raise UsageError(f"{out / 'starter'} is not empty: export into a new folder")
    if public.installed() is not None:
        raise UsageError("this is a student install: export from the instructor's install")
    wheel = build_wheel(out, config_path)
    kit = make_starter(out / "starter", config_path=config_path, wheel=f"../{wheel.name}")
    return [wheel, *kit]
