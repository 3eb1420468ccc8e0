"""The public cases of a student install, and the truth they give.

``grader export student`` (``grader.student.build``) writes them into the wheel as
``grader/public/``:

- ``manifest.json``: what the instructor's install computed, as plain data::

      {"format": 1, "seed": S, "assignment": NAME, "grader_version": V,
       "layers": {PART: {CASE: {"kinds": [...], "ties": B, "dilation": D, "divides": B,
                               "args": [{"array": KEY} or {"value": PLAIN}, ...], "dout": KEY,
                               "out": KEY, "grads": [KEY, ...],
                               "wrong": {"forward": [[VARIANT, MESSAGE, KEY], ...],
                                         "backward": [[VARIANT, MESSAGE, [KEY, ...]], ...]}}}},
       "transfer": {"num_classes": K, "epochs": E, "batch_size": B, "training_seed": T,
                    "train_x": KEY, "train_y": KEY, "test_x": KEY, "test_y": KEY,
                    "reference_logits": {MODE: KEY}} or null}

- ``arrays.npz``: every array, by key (read with ``allow_pickle=False``);
- ``assignment.toml``: the assignment's configuration, graded by default.

In student mode ``grader check`` uses ``PublicTruth`` where the instructor's install
uses the references: the same cases (by name), their inputs and upstream gradients
as shipped, the expected outputs and gradients, and the known wrong variants'
results, so that a bug is named just as the autograder names it.  Nothing here is
an answer to the assignment: only results on these few fixed inputs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from grader.checks.cases import Inputs
from grader.checks.truth import Case, NotPrecomputed
from grader.errors import InputFileError

FORMAT = 2  # 2: every layer part's cases as data (declared parts too), their args in order
FOLDER = "public"  # inside the installed grader package
MANIFEST, ARRAYS, ASSIGNMENT = "manifest.json", "arrays.npz", "assignment.toml"
#: The line every student-mode report carries.
NOTE = ("student mode: these are the public checks on fixed public cases; the autograder runs hidden cases "
        "on fresh inputs, and times your code against the reference")


@dataclass
class PublicData:
    """The public cases as loaded: the manifest and every array."""

    folder: Path
    manifest: dict[str, Any]
    arrays: dict[str, np.ndarray]

    @property
    def seed(self) -> int:
        return int(self.manifest["seed"])

    @property
    def assignment(self) -> Path | None:
        """The assignment's configuration as the instructor exported it (None: the default)."""
        path = self.folder / ASSIGNMENT
        return path if path.is_file() else None

    @property
    def transfer(self) -> dict[str, Any] | None:
        return self.manifest.get("transfer")

    def parts(self) -> list[str]:
        """The parts these cases cover (layers, and transfer when it has a practice split)."""
        return list(self.manifest.get("layers", {})) + (["transfer"] if self.transfer else [])


def installed_folder() -> Path:
    import grader

    return Path(grader.__file__).resolve().parent / FOLDER


def installed() -> PublicData | None:
    """The public cases of this install when it is a student install, else None."""
    folder = installed_folder()
    return load(folder) if (folder / MANIFEST).is_file() else None


def load(folder: str | Path) -> PublicData:
    """Read the public cases from ``folder``; one clear error when they are missing or broken."""
    folder = Path(folder)
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        with np.load(folder / ARRAYS, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{folder}: not a folder of public cases written by `grader export student` "
                             f"({type(exc).__name__}: {exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InputFileError(f"{folder}: public cases of format {manifest.get('format') if isinstance(manifest, dict) else '?'}, "
                             f"this grader reads format {FORMAT}: export the student install again")
    return PublicData(folder, manifest, arrays)


@dataclass(frozen=True)
class PublicCase:
    """A public case as the manifest describes it: what ``LayerChecker`` and the hints read."""

    name: str
    kinds: tuple[str, ...] = ("forward", "backward")
    ties: bool = False
    dilation: int = 1
    divides: bool = True


class PublicTruth:
    """The truth of student mode: results the instructor's install computed at export time.

    It answers only for the public cases' own inputs; anything else (another seed, a
    perturbed input) raises ``NotPrecomputed``."""

    public = True
    device = "cpu"

    def __init__(self, data: PublicData):
        self.data = data

    def _case(self, layer, case: Case) -> dict[str, Any]:
        entry = self.data.manifest.get("layers", {}).get(layer.name, {}).get(case.name)
        if entry is None:
            raise NotPrecomputed(f"no public case {case.name!r} for {layer.name}")
        return entry

    def _array(self, key: str) -> np.ndarray:
        return self.data.arrays[key].copy()

    def cases(self, layer, spec) -> tuple[PublicCase, ...]:
        """The part's public cases this layout is graded on (as ``cases_for`` chooses them)."""
        found = []
        for name, entry in self.data.manifest.get("layers", {}).get(layer.name, {}).items():
            if entry["dilation"] != 1 and not getattr(spec, "dilation", True):
                continue
            if not entry["divides"] and getattr(spec, "exact_fit", False):
                continue
            found.append(PublicCase(name, tuple(entry["kinds"]), entry["ties"], entry["dilation"], entry["divides"]))
        return tuple(found)

    def inputs(self, layer, case: Case, seed: int, spec) -> Inputs:
        args = []
        for arg in self._case(layer, case)["args"]:
            value = self._array(arg["array"]) if "array" in arg else arg["value"]
            if isinstance(value, dict):
                value = dict(value)
                if not layer.declared and not getattr(spec, "dilation", True):
                    value.pop("dilation", None)  # a layout without dilation never sees the key
            args.append(value)
        return Inputs(tuple(args))

    def upstream(self, layer, case: Case, seed: int, shape: tuple[int, ...]) -> np.ndarray:
        dout = self._array(self._case(layer, case)["dout"])
        if dout.shape != tuple(shape):
            raise NotPrecomputed(f"no upstream gradient of shape {tuple(shape)} for {layer.name} {case.name!r}")
        return dout

    def forward(self, layer, case: Case, args: tuple) -> tuple[np.ndarray, Any]:
        entry = self._case(layer, case)
        keys = [a["array"] for a in entry["args"] if "array" in a]
        arrays = [a for a in args if isinstance(a, np.ndarray)]
        if len(arrays) != len(keys) or not all(np.array_equal(a, self.data.arrays[k]) for a, k in zip(arrays, keys)):
            raise NotPrecomputed(f"{layer.name} {case.name!r}: only the public inputs have a precomputed output")
        return self._array(entry["out"]), (layer.name, case.name)

    def backward(self, layer, case: Case, dout: np.ndarray, cache: Any) -> tuple[np.ndarray, ...]:
        entry = self._case(layer, case)
        if cache != (layer.name, case.name) or not np.array_equal(dout, self.data.arrays[entry["dout"]]):
            raise NotPrecomputed(f"{layer.name} {case.name!r}: only the public upstream gradient has precomputed "
                                 "gradients")
        return tuple(self._array(k) for k in entry["grads"])

    def wrong(self, layer, kind: str, case: Case, args: tuple,
              dout: np.ndarray | None = None) -> Iterator[tuple[str, str, Any]]:
        for key, message, ref in self._case(layer, case)["wrong"].get(kind, []):
            yield key, message, (self._array(ref) if isinstance(ref, str) else tuple(self._array(r) for r in ref))
