"""The batch's output folder, written by the batch's own process only.

    out = OutFolder("graded/")
    kept = Kept()
    kept.put(out, "results.json", data, folder="alice")   # written now, remembered
    ...
    changed = kept.restore(out)                            # at the end: what something else changed

Every file goes through a descriptor of the folder opened once, a temporary file and a rename,
never through a link: a student's process that renamed a folder or planted a link where one of
ours belongs cannot redirect a write.  ``Kept`` remembers what was written (compressed) so that
the batch can check every file at the end and put back what changed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from grader.errors import UsageError


class OutFolder:
    """The output folder, opened once.  Only this process writes into it, through that descriptor:
    a folder a student's process renamed or replaced by a link is not followed, and every file goes
    through a temporary file and a rename.  Created ``0700``: only the grader's user can look in."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise UsageError(f"--out {path} is a file: give a folder for the results")
        try:
            self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as exc:
            raise UsageError(f"cannot create the output folder {path}: {exc.strerror or exc}") from None
        if not os.access(self.path, os.W_OK | os.X_OK):
            os.close(self.fd)
            raise UsageError(f"cannot write to the output folder {path}: permission denied")

    def close(self) -> None:
        os.close(self.fd)

    def _folder(self, name: str | None, create: bool) -> int | None:
        """A descriptor of ``DIR/name`` (``DIR`` for None), never through a link; None if absent."""
        if name is None:
            return os.dup(self.fd)
        for _ in range(3):  # (a link removed, then the folder made, then opened)
            try:
                return os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=self.fd)
            except FileNotFoundError:
                if not create:
                    return None
                with contextlib.suppress(FileExistsError):
                    os.mkdir(name, 0o700, dir_fd=self.fd)
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.ENOTDIR) or not create:
                    return None
                os.unlink(name, dir_fd=self.fd)  # a link or a file where our folder belongs
        raise UsageError(f"cannot create {self.path / name}")

    def read(self, name: str, folder: str | None = None) -> bytes | None:
        """The bytes of ``DIR/[folder/]name``, or None if it is not a regular file there."""
        dir_fd = self._folder(folder, create=False)
        if dir_fd is None:
            return None
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
        except OSError:
            return None
        finally:
            os.close(dir_fd)
        with os.fdopen(fd, "rb") as handle:
            return handle.read() if stat.S_ISREG(os.fstat(handle.fileno()).st_mode) else None

    def write(self, name: str, data: bytes, folder: str | None = None) -> Path:
        """Write ``DIR/[folder/]name`` atomically; one clear UsageError when it cannot be written."""
        where = self.path / folder / name if folder else self.path / name
        try:
            dir_fd = self._folder(folder, create=True)
        except OSError as exc:
            raise UsageError(f"cannot create {where.parent}: {exc.strerror or exc}") from None
        temp = f".{name}.{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=dir_fd)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(temp, dir_fd=dir_fd)
            hint = ": a folder of that name is in the way" if exc.errno in (errno.EISDIR, errno.ENOTEMPTY) else ""
            raise UsageError(f"cannot write {where}: {exc.strerror or exc}{hint}") from None
        finally:
            os.close(dir_fd)
        return where


@dataclass
class Kept:
    """Every file the batch wrote or took over, compressed, to check (and restore) at the end."""

    files: dict[tuple[str | None, str], bytes] = field(default_factory=dict)

    def put(self, out: OutFolder, name: str, data: bytes, folder: str | None = None) -> Path:
        self.files[(folder, name)] = zlib.compress(data, 1)
        return out.write(name, data, folder)

    def keep(self, name: str, data: bytes, folder: str | None = None) -> None:
        self.files[(folder, name)] = zlib.compress(data, 1)

    def restore(self, out: OutFolder) -> list[str]:
        """Rewrite every file that is not what was written; return their paths."""
        changed = []
        for (folder, name), packed in self.files.items():
            data = zlib.decompress(packed)
            if out.read(name, folder) != data:
                out.write(name, data, folder)
                changed.append(f"{folder}/{name}" if folder else name)
        return changed
