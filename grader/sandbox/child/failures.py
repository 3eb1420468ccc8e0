"""What went wrong, for a student: an exception (SystemExit and KeyboardInterrupt too) as one
short line that names the submission file and line, and a traceback without the child's own
frames and with paths relative to the submission.  Standard library only: loaded by path by
``main.py``; everything here may meet objects a student made, so every str() is guarded.
"""

from __future__ import annotations

import os
import traceback

MAX_MESSAGE_CHARS = 500
MAX_TRACEBACK_CHARS = 4000


class Failures:
    """Messages about one submission folder (``folder``), whose own files are ``own_files``."""

    def __init__(self, folder: str, own_files, memory_mb: int | None):
        self.folder = folder
        self.prefix = os.path.join(folder, "")
        self.own_files = frozenset(own_files)
        self.memory_mb = memory_mb

    def message(self, exc: BaseException, importing: str | None, module_name: str | None) -> tuple[str, str]:
        kind = "import" if importing else "exception"
        if isinstance(exc, SyntaxError) and self.inside(exc.filename):
            where = self.relative(exc.filename)
            text = f"{type(exc).__name__} in {where} line {exc.lineno}: {cap(safe_text(exc.msg))}"
            return text + merge_conflict(exc), "import"
        if (importing and module_name and isinstance(exc, ModuleNotFoundError) and isinstance(exc.name, str)
                and (module_name + ".").startswith(exc.name + ".") and self.missing(exc.name)):
            return f"{display(module_name)} was not found in the submission", "import"
        location = self.location(exc)
        if isinstance(exc, SystemExit):
            text, kind = f"raised SystemExit({cap(repr(exc.code))}) (sys.exit?)", "exit"
        elif isinstance(exc, KeyboardInterrupt):
            text = "raised KeyboardInterrupt"
        elif isinstance(exc, MemoryError):
            limit = f"memory limit of {self.memory_mb} MB exceeded" if self.memory_mb else "out of memory"
            text, kind = f"{limit}: {exception_line(exc)}", "memory"
        else:
            text = exception_line(exc)
        if location:
            text += f" ({location})"
        if importing:
            text = f"importing {importing} failed: {text}"
        return text, kind

    def location(self, exc: BaseException) -> str | None:
        """'conv.py, line 12' for the innermost frame that lies in the submission."""
        where = None
        for frame in traceback.StackSummary.extract(traceback.walk_tb(exc.__traceback__), lookup_lines=False):
            if self.inside(frame.filename):
                where = f"{self.relative(frame.filename)}, line {frame.lineno}"
        return where

    def format_traceback(self, exc: BaseException) -> str:
        frames = traceback.StackSummary.extract(traceback.walk_tb(exc.__traceback__), lookup_lines=False)
        frames = traceback.StackSummary.from_list([f for f in frames if f.filename not in self.own_files])
        lines = ["Traceback (most recent call last):\n"] if frames else []
        lines += traceback.format_list(frames) + traceback.format_exception_only(type(exc), exc)
        text = "".join(lines).replace(self.prefix, "")
        return text if len(text) <= MAX_TRACEBACK_CHARS else "...\n" + text[-MAX_TRACEBACK_CHARS:]

    def inside(self, filename) -> bool:
        return isinstance(filename, str) and os.path.abspath(filename).startswith(self.prefix)

    def relative(self, filename: str) -> str:
        return os.path.relpath(os.path.abspath(filename), self.folder)

    def missing(self, module_name: str) -> bool:
        path = os.path.join(self.folder, *module_name.split("."))
        return not (os.path.isfile(path + ".py") or os.path.isdir(path))


CONFLICT_MARKERS = ("<<<<<<<", "=======", ">>>>>>>")


def merge_conflict(exc: SyntaxError) -> str:
    """What a syntax error at a git merge-conflict marker means, with how many marker lines the file
    holds: "" for any other syntax error."""
    line = exc.text if isinstance(exc.text, str) else ""
    if not line.lstrip().startswith(CONFLICT_MARKERS):
        return ""
    try:
        with open(exc.filename, encoding="utf-8", errors="replace") as file:
            markers = sum(1 for text in file if text.startswith(CONFLICT_MARKERS))
    except OSError:
        markers = 0
    count = f" ({markers} marker lines in the file)" if markers > 1 else ""
    return (f": the file holds an unresolved git merge conflict{count}: between `<<<<<<<` and `=======` is one "
            "side, between `=======` and `>>>>>>>` the other; keep the side you want and delete the marker lines "
            "(until then the file does not import, and nothing in it can be graded)")


def safe_text(obj) -> str:
    """``str(obj)``, capped; never raises (a student's __str__ may)."""
    try:
        return cap(str(obj))
    except BaseException:  # noqa: BLE001
        return "<unprintable>"


def cap(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE_CHARS else text[:MAX_MESSAGE_CHARS] + "..."


def exception_line(exc: BaseException) -> str:
    text = safe_text(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def display(module_name: str) -> str:
    return module_name.replace(".", "/") + ".py"
