"""What a child can leave on the machine outside its scratch folder, and its removal.

Where the child has its own pid, IPC and mount namespaces, nothing it makes outlives it: its
processes die with its init, its SysV IPC objects with its IPC namespace, its /tmp and
/dev/shm are tmpfs mounts of its own.  Without them (a container without CAP_SYS_ADMIN, a
runner without user namespaces), two kinds of thing stay after every process has ended:

- SysV shared memory segments, semaphore sets and message queues (``/proc/sysvipc``).  The
  child's system-call filter (``child/syscalls.py``) ends any process that asks for one, so
  these are found only where the filter could not be installed;
- files in the folders every user may write (/tmp, /var/tmp, /dev/shm): the guard refuses
  Python's writes there, but native code (the transfer part's ctypes) is not watched.

The parent finds them by who made them: a segment by its creator's pid (one of the pids seen in
the child's session), anything by its group when the child ran as the sandbox's user with a
group of its own (``session_group``: no other process on the machine has that group).  Where
the child ran as the grader's own user without namespaces, files cannot be told from the
user's others and are left alone (SECURITY.md says so).
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass

SYSV = {"shm": "/proc/sysvipc/shm", "sem": "/proc/sysvipc/sem", "msg": "/proc/sysvipc/msg"}
SHARED_FOLDERS = ("/tmp", "/var/tmp", "/dev/shm")
GROUP_BASE, GROUP_SPAN = 2**31 - 2**24, 2**24  # session groups: far above any real group (and /etc/subgid's)
IPC_RMID = 0


@dataclass(frozen=True)
class IpcObject:
    """One SysV IPC object: its kind ("shm", "sem", "msg"), id, creator pid (segments only) and group."""

    kind: str
    id: int
    creator: int | None
    group: int
    size: int = 0

    def describe(self) -> str:
        what = {"shm": f"a SysV shared memory segment of {self.size} bytes", "sem": "a SysV semaphore set",
                "msg": "a SysV message queue"}[self.kind]
        return f"{what} (id {self.id})"


def session_group(scratch: str) -> int:
    """A group id for one session's child: derived from its scratch folder's inode (no two
    existing folders share one, so no two live sessions share a group), moved past any group
    the machine knows."""
    import grp

    gid = GROUP_BASE + os.stat(scratch).st_ino % GROUP_SPAN
    while True:
        try:
            grp.getgrgid(gid)
        except KeyError:
            return gid
        gid = GROUP_BASE + (gid - GROUP_BASE + 1) % GROUP_SPAN


def sysv_objects() -> list[IpcObject]:
    """Every SysV IPC object of this IPC namespace (empty where /proc/sysvipc is missing)."""
    found = []
    for kind, path in SYSV.items():
        try:
            with open(path) as f:
                header, *rows = [line.split() for line in f]
        except (OSError, ValueError):
            continue
        column = {name: i for i, name in enumerate(header)}
        for row in rows:
            try:
                found.append(IpcObject(kind, int(row[1]), int(row[column["cpid"]]) if "cpid" in column else None,
                                       int(row[column["cgid"]]), int(row[column["size"]]) if "size" in column else 0))
            except (IndexError, KeyError, ValueError):
                continue
    return found


def objects_of(pids, group: int | None) -> list[IpcObject]:
    """The SysV objects made by one of ``pids`` (segments: their creator pid is known) or, with
    ``group``, by a process of that group."""
    return [o for o in sysv_objects() if (o.creator is not None and o.creator in pids)
            or (group is not None and o.group == group)]


def remove_sysv(objects: list[IpcObject]) -> list[str]:
    """IPC_RMID each object (a segment goes once nothing has it attached); notes on failures."""
    if not objects:
        return []
    notes = []
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
    except (ImportError, OSError) as exc:
        return [f"could not remove SysV IPC objects: {exc}"]
    for o in objects:
        if o.kind == "sem":
            done = libc.semctl(o.id, 0, IPC_RMID)
        else:
            done = (libc.shmctl if o.kind == "shm" else libc.msgctl)(o.id, IPC_RMID, None)
        if done != 0:
            notes.append(f"could not remove {o.describe()}: {os.strerror(ctypes.get_errno())}")
    return notes


def files_of(group: int, keep=()) -> list[str]:
    """Entries of the shared temporary folders (and of world-writable folders right inside them)
    that belong to ``group``, but those in ``keep``."""
    found = []
    for top in SHARED_FOLDERS:
        for folder in [top] + _open_folders(top):
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue
            for entry in entries:
                try:
                    if entry.stat(follow_symlinks=False).st_gid == group and entry.path not in keep:
                        found.append(entry.path)
                except OSError:
                    continue
    return found


def _open_folders(top: str) -> list[str]:
    """Folders right inside ``top`` that anyone may write to (/tmp/.X11-unix, ...)."""
    folders = []
    try:
        for entry in os.scandir(top):
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if entry.is_dir(follow_symlinks=False) and st.st_mode & 0o002:
                folders.append(entry.path)
    except OSError:
        pass
    return folders


SCRATCH_PREFIX = "grader-sandbox-"


def process_tag(pid: int | None = None) -> str | None:
    """``<pid namespace inode>.<pid>.<start time>`` of a process (this one by default), or None
    where /proc cannot tell: what a scratch folder's name says of the process that owns it."""
    pid = os.getpid() if pid is None else pid
    try:
        namespace = os.stat(f"/proc/{pid}/ns/pid").st_ino if pid == os.getpid() else None
        with open(f"/proc/{pid}/stat", "rb") as f:
            start = f.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return None
    return f"{namespace}.{pid}.{start}" if namespace is not None else f"{pid}.{start}"


def scratch_prefix() -> str:
    """The prefix of this process's scratch folders: ``grader-sandbox-<process_tag>-``."""
    tag = process_tag()
    return f"{SCRATCH_PREFIX}{tag}-" if tag else SCRATCH_PREFIX


def sweep_stale_scratch(folder: str) -> list[str]:
    """Remove the scratch folders in ``folder`` whose owner process is gone: a grader killed with
    SIGKILL (by native student code, or the OOM killer) never removed them, and they hold a
    submission.  Only folders of this pid namespace whose process (pid and start time) no longer
    runs; returns what was removed."""
    own = process_tag()
    if own is None:
        return []
    namespace = own.split(".")[0]
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        tag = name[len(SCRATCH_PREFIX):].split("-")[0].split(".")
        if not name.startswith(SCRATCH_PREFIX) or len(tag) != 3 or tag[0] != namespace or not tag[1].isdigit():
            continue
        alive = process_tag(int(tag[1]))
        if alive is None or alive.split(".")[-1] != tag[2]:
            remove_tree(os.path.join(folder, name))
            removed.append(name)
    return removed


def remove_tree(path: str) -> None:
    """Remove a file or a whole folder, also one whose folders student code made read-only
    (mode 0500, 0000): rmtree's failures are retried once after making the folder writable.
    Links are removed, never followed (rmtree does not follow them; nor does ``_writable``)."""
    if os.path.isdir(path) and not os.path.islink(path):
        def unlock(function, failed, _exc):
            try:
                _writable(os.path.dirname(failed))
                if os.path.isdir(failed) and not os.path.islink(failed):
                    _writable(failed)
                    shutil.rmtree(failed, ignore_errors=True)
                else:
                    function(failed)
            except OSError:
                pass

        shutil.rmtree(path, **{"onexc" if sys.version_info >= (3, 12) else "onerror": unlock})
    else:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def _writable(folder: str) -> None:
    """chmod 0700 ``folder`` itself, not what a link put in its place would point to."""
    fd = os.open(folder, getattr(os, "O_PATH", os.O_RDONLY) | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        os.chmod(f"/proc/self/fd/{fd}", 0o700)
    finally:
        os.close(fd)
