"""The assignment configuration: which parts, how many points, what tolerance,
which limits.  The shipped default (``grader/assignments/default.toml``) is
read first; a file passed with ``--config`` overrides it key by key.  Every
bad value is a one-line InputFileError that names the key; a key the default
does not set, or a value of another type than the default's, is refused with
the closest valid name (a typo must not silently keep the default)."""

from __future__ import annotations

import difflib
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
    require_isolation: bool = False  # [sandbox]: refuse to grade without namespaces
    source: str = "default"
    extra: dict[str, Any] = field(default_factory=dict)
    declared: dict[str, Any] = field(default_factory=dict)  # [parts.NAME]: grader.parts.LayerPart by name

    def layer_parts(self) -> list[str]:
        """The graded layer parts (built-in or declared), in the assignment's order."""
        from grader.parts import registry

        every = registry(self)
        return [p for p in self.parts if p in every]


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


def _closest(name: str, valid) -> str:
    """``": did you mean X?"`` for the valid name closest to ``name``, else the valid names."""
    valid = sorted(valid)
    close = difflib.get_close_matches(name, valid, n=1, cutoff=0.6)
    return f": did you mean {close[0]}?" if close else f" (valid: {', '.join(valid)})"


def _kind_of(value: Any) -> str:
    """The type a key must keep, named for the message: the shipped default's value decides."""
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "a table"


def check_keys(override: dict, default: dict, where: str) -> None:
    """Refuse what the shipped default does not have: an unknown section or key (a typo such as
    ``[tolerance] backwards``), or a value of another type than the default's.  ``[points]``
    takes every kind of test."""
    for section, table in override.items():
        if section not in default:
            raise InputFileError(f"{where}: unknown section [{section}]{_closest(section, default)}")
        if not isinstance(table, dict):
            raise InputFileError(f"{where}: [{section}] must be a table of keys, got {table!r}")
        valid = dict.fromkeys(KINDS, 0.0) if section == "points" else default[section]
        for key, value in table.items():
            if key not in valid:
                raise InputFileError(f"{where}: unknown key [{section}] {key}{_closest(key, valid)}")
            expected = _kind_of(valid[key])
            if _kind_of(value) != expected:
                raise InputFileError(f"{where}: [{section}] {key} must be {expected}, got {value!r}")


def load(path: str | os.PathLike | None = None, student: bool = False) -> Config:
    """The default configuration, overridden by the TOML file at ``path``.  ``student``: the
    assignment of a student install, whose declared parts have no reference here."""
    from grader.parts import BUILTIN, declared_parts

    data = tomllib.loads(_default_text())
    where = "default configuration"
    tables: dict = {}
    if path is not None:
        where = str(path)
        try:
            with open(path, "rb") as handle:
                override = tomllib.load(handle)
        except OSError as exc:
            raise InputFileError(f"cannot read config {path}: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:
            raise InputFileError(f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}): "
                                 "save the config as UTF-8") from None
        except tomllib.TOMLDecodeError as exc:
            raise InputFileError(f"{path}: not valid TOML ({exc})") from None
        tables = override.pop("parts", {})
        check_keys(override, data, where)
        data = _merge(data, override)

    declared = declared_parts({"parts": tables}, Path(path).resolve().parent if path is not None else Path("."),
                              where, tuple(data["tolerance"]), student) if tables else {}
    from grader.layouts import D2L_PARTS

    known = (*PARTS, *(p for p in BUILTIN if p not in PARTS), *D2L_PARTS, *declared)
    parts = data["assignment"].get("parts")
    if not isinstance(parts, list) or not parts or not all(isinstance(p, str) for p in parts):
        raise InputFileError(f"{where}: [assignment] parts must list some of {', '.join(known)}, got {parts!r}")
    for part in parts:
        if part not in known:
            raise InputFileError(f"{where}: [assignment] parts: unknown part {part!r}{_closest(part, known)}")
    unlisted = [p for p in declared if p not in parts]
    if unlisted:
        raise InputFileError(f"{where}: [parts.{unlisted[0]}] is declared but not in [assignment] parts")
    points = {}
    for kind, value in data["points"].items():
        if kind not in KINDS:
            raise InputFileError(f"{where}: [points] {kind} is not a kind of test ({', '.join(KINDS)})")
        points[kind] = _number(data, "points", kind, where)
    tolerance = {k: _number(data, "tolerance", k, where) for k in data["tolerance"]}
    bands = []
    for band in data["speed"].get("bands", []):
        unknown = [key for key in band if key not in ("ratio", "fraction")] if isinstance(band, dict) else []
        if unknown:
            raise InputFileError(f"{where}: unknown key {unknown[0]} in a [speed] band"
                                 f"{_closest(unknown[0], ('ratio', 'fraction'))}")
        if not isinstance(band, dict) or not {"ratio", "fraction"} <= band.keys():
            raise InputFileError(f"{where}: [speed] bands are {{ ratio = R, fraction = F }}, got {band!r}")
        for key, value in band.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise InputFileError(f"{where}: [speed] band {key} must be a number of at least 0, got {value!r}")
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
    isolation = data.get("sandbox", {}).get("require_isolation", False)
    if not isinstance(isolation, bool):
        raise InputFileError(f"{where}: [sandbox] require_isolation must be true or false, got {isolation!r}")
    return Config(
        transfer_task=task,
        require_isolation=isolation,
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
        declared=declared,
    )
