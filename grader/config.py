"""The assignment configuration: which parts, how many points, what tolerance,
which limits.  The shipped default (``grader/assignments/default.toml``) is
read first; a file passed with ``--config`` overrides it key by key.  Every
bad value is a one-line InputFileError that names the key."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from importlib import resources
from typing import Any

from grader.errors import InputFileError
from grader.results import KINDS, PARTS


@dataclass(frozen=True)
class SpeedBand:
    ratio: float
    fraction: float


@dataclass(frozen=True)
class Config:
    name: str
    parts: tuple[str, ...]
    points: dict[str, float]
    tolerance: dict[str, float]
    call_timeout_s: float
    part_timeout_s: float
    memory_mb: int
    output_bytes: int
    speed_repeats: int
    speed_bands: tuple[SpeedBand, ...]
    forbidden: tuple[str, ...]
    transfer_task: str | None = None  # "file.py:function", already resolved against the config's folder
    source: str = "default"
    extra: dict[str, Any] = field(default_factory=dict)


def _default_text() -> str:
    return resources.files("grader").joinpath("assignments/default.toml").read_text(encoding="utf-8")


def _merge(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _number(data: dict, section: str, key: str, where: str, minimum: float = 0.0) -> float:
    value = data.get(section, {}).get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise InputFileError(f"{where}: [{section}] {key} must be a number of at least {minimum:g}, got {value!r}")
    return float(value)


def load(path: str | os.PathLike | None = None) -> Config:
    """The default configuration, overridden by the TOML file at ``path``."""
    data = tomllib.loads(_default_text())
    where = "default configuration"
    if path is not None:
        where = str(path)
        try:
            with open(path, "rb") as handle:
                override = tomllib.load(handle)
        except OSError as exc:
            raise InputFileError(f"cannot read config {path}: {exc.strerror or exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise InputFileError(f"{path}: not valid TOML ({exc})") from None
        known = set(data)
        unknown = sorted(set(override) - known)
        if unknown:
            raise InputFileError(f"{path}: unknown section [{unknown[0]}]; sections: {', '.join(sorted(known))}")
        data = _merge(data, override)

    parts = data["assignment"].get("parts")
    if not isinstance(parts, list) or not parts or any(p not in PARTS for p in parts):
        raise InputFileError(f"{where}: [assignment] parts must list some of {', '.join(PARTS)}, got {parts!r}")
    points = {}
    for kind, value in data["points"].items():
        if kind not in KINDS:
            raise InputFileError(f"{where}: [points] {kind} is not a kind of test ({', '.join(KINDS)})")
        points[kind] = _number(data, "points", kind, where)
    tolerance = {k: _number(data, "tolerance", k, where) for k in data["tolerance"]}
    bands = []
    for band in data["speed"].get("bands", []):
        if not isinstance(band, dict) or not {"ratio", "fraction"} <= band.keys():
            raise InputFileError(f"{where}: [speed] bands are {{ ratio = R, fraction = F }}, got {band!r}")
        bands.append(SpeedBand(float(band["ratio"]), float(band["fraction"])))
    forbidden = data["forbidden"].get("numpy_parts", [])
    if not isinstance(forbidden, list) or not all(isinstance(m, str) for m in forbidden):
        raise InputFileError(f"{where}: [forbidden] numpy_parts must be a list of module names")
    task = data.get("transfer", {}).get("task") or None
    if task is not None and not isinstance(task, str):
        raise InputFileError(f"{where}: [transfer] task must be a string 'file.py:function', got {task!r}")
    if task and path is not None and ":" in task:
        file, _, function = task.rpartition(":")
        task = f"{(Path(path).resolve().parent / file)}:{function}"
    return Config(
        transfer_task=task,
        name=str(data["assignment"].get("name", "")),
        parts=tuple(parts),
        points=points,
        tolerance=tolerance,
        call_timeout_s=_number(data, "limits", "call_timeout_s", where, 0.1),
        part_timeout_s=_number(data, "limits", "part_timeout_s", where, 1.0),
        memory_mb=int(_number(data, "limits", "memory_mb", where, 64)),
        output_bytes=int(_number(data, "limits", "output_bytes", where, 0)),
        speed_repeats=int(_number(data, "speed", "repeats", where, 1)),
        speed_bands=tuple(sorted(bands, key=lambda b: b.ratio)),
        forbidden=tuple(forbidden),
        source=where,
    )
