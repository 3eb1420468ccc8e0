"""Writing a report: to a file atomically, or to standard output."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import TextIO

from grader.errors import UsageError
from grader.results import Report

FORMATS = ("text", "json", "gradescope", "junit", "html")


def format_report(report: Report, fmt: str = "text", color: bool = False) -> str:
    """``report`` in format ``fmt`` (one of FORMATS); ``color`` only matters for text.
    Only the reporter asked for is imported (the HTML one brings in jinja2)."""
    if fmt == "text":
        from .text import to_text

        return to_text(report, color=color)
    if fmt in ("json", "gradescope"):
        from .data import to_gradescope, to_json

        return (to_json if fmt == "json" else to_gradescope)(report)
    if fmt == "junit":
        from .junit import to_junit

        return to_junit(report)
    if fmt == "html":
        from .html import to_html

        return to_html(report)
    raise UsageError(f"unknown report format {fmt!r}: expected one of {', '.join(FORMATS)}")


def write(report: Report, fmt: str = "text", out: str | os.PathLike | None = None, color: bool | None = None,
          stream: TextIO | None = None) -> None:
    """Write ``report`` in format ``fmt`` to the file ``out``, or to ``stream``
    (standard output) when ``out`` is None.

    The whole report is rendered before anything is written; a file is
    written to a temporary file in its folder (created if missing) and moved
    over ``out`` in one step, so readers see the old file or the new one,
    never half of one.  Text is coloured only on a terminal (``color=None``
    asks ``stream.isatty()``), never in a file.
    """
    if out is None:
        stream = stream if stream is not None else sys.stdout
        if color is None:
            isatty = getattr(stream, "isatty", None)
            color = bool(isatty and isatty())
        text = format_report(report, fmt, color=bool(color))
        _print(text, stream)
        return
    text = format_report(report, fmt, color=False)
    write_atomic(Path(out), text)


def check_destination(path: str | os.PathLike) -> Path:
    """Refuse, before any grading, a report path that cannot be written (its folder cannot
    be made, it is a folder, the folder is not writable): one line, and no work lost."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the folder {str(path.parent)!r} for the report: "
                         f"{exc.strerror or exc}") from exc
    if path.is_dir():
        raise UsageError(f"cannot write the report to {str(path)!r}: it is a folder")
    if not os.access(path.parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UsageError(f"cannot write the report to {str(path)!r}: permission denied")
    return path


def parse_also(values: tuple[str, ...] | list[str]) -> list[tuple[str, Path]]:
    """``--also FORMAT=FILE`` values as (format, path), each checked; one line on a bad one."""
    out = []
    for value in values:
        fmt, sep, where = value.partition("=")
        fmt = fmt.strip().lower()
        if not sep or not where.strip():
            raise UsageError(f"--also takes FORMAT=FILE (e.g. junit=results/junit.xml), got {value!r}")
        if fmt not in FORMATS:
            raise UsageError(f"--also: unknown format {fmt!r} in {value!r}: expected one of {', '.join(FORMATS)}")
        out.append((fmt, check_destination(where.strip())))
    return out


def _print(text: str, stream: TextIO) -> None:
    try:
        stream.write(text)
    except UnicodeEncodeError:  # a terminal that cannot show every character
        encoding = getattr(stream, "encoding", None) or "ascii"
        stream.write(text.encode(encoding, "replace").decode(encoding))
    stream.flush()


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file and os.replace."""
    path = check_destination(path)
    data = text.encode("utf-8")
    try:
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise UsageError(f"cannot write the report to {str(path)!r}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, _mode(path))
        os.replace(temp, path)
    except BaseException as exc:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError):
            raise UsageError(f"cannot write the report to {str(path)!r}: {exc.strerror or exc}") from exc
        raise


def _mode(path: Path) -> int:
    """The mode of the file being replaced, else rw-r--r-- (mkstemp's files are private)."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        return 0o644
