"""Mounts and namespaces: what the child does inside ``unshare --pid --mount --net --ipc``.

``confine`` makes the file system read-only outside the scratch folder, gives the child a
private /tmp, /dev/shm and a minimal /dev, covers every top-level folder that is not the
system's, and hides the grader's references; ``become_init`` keeps pid 1 of the pid namespace
out of student code's way.  Both run before any student code, as root of the namespace.
Standard library only: this file is loaded by path by ``main.py`` (see there).
"""

from __future__ import annotations

import os

"".encode().decode("unicode_escape")  # the codec ``confine`` reads mountinfo with: loaded once, in the warm template
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME, ST_RELATIME = 1024, 2048, 1 << 21, 4096
AT_FDCWD, AT_RECURSIVE, MOUNT_ATTR_RDONLY = -100, 0x8000, 0x1
MOUNT_SETATTR = {"x86_64": 442, "aarch64": 442, "riscv64": 442}  # mount_setattr(2): one number on all three
KEPT_DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
# Top-level folders of the system, left visible (read-only); every other one is covered (``cover``)
# and, by the guard, closed to reads outside the session's visible paths.  (/tmp is the system's
# here, since it gets a private tmpfs of its own; the guard treats it as shared: see guard.py.)
SYSTEM_FOLDERS = frozenset({"bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "run", "sbin", "sys",
                            "tmp", "usr", "var", "nix", "gnu", "snap"})
# What a hidden folder holds: an empty folder alone would import as a namespace package without
# a file being opened, where the guard would not see it (importlib.import_module raises no "import"
# event); importing this one opens a file inside the hidden folder, which the guard refuses.
HIDDEN_PACKAGE = 'raise ImportError("hidden by the grader\'s sandbox")\n'
READ_ONLY = ("read-only outside scratch (mount namespace; the submission's copy too; private tmpfs $TMPDIR, /tmp, "
             "/dev/shm and a minimal /dev)")


def confine(spec: dict) -> tuple[str, list[str]]:
    """Make every mount read-only but the scratch folder, give the child its own /tmp,
    /dev/shm and a minimal /dev, then drop every capability so none of this can be undone.

    Runs only in a mount namespace other than the parent's (``unshare --mount``):
    the mounts can never reach the host's.
    Returns a line for reports ("read-only ..." or "not available: <why>") and notes.
    """
    notes = []
    try:
        if not spec["host_mnt_ns"] or os.readlink("/proc/self/ns/mnt") == spec["host_mnt_ns"]:
            return "not available: not in a private mount namespace", notes
        mount = mounter()
        scratch = spec["scratch"]
        mount(None, "/", None, MS_REC | MS_PRIVATE)
        scratch_fd = os.open(scratch, os.O_RDONLY | os.O_DIRECTORY)
        devices = {}
        dev_fd = os.open("/dev", os.O_RDONLY | os.O_DIRECTORY)  # the host's nodes, for binding in a user namespace
        for name in os.listdir("/dev"):
            if name in KEPT_DEVICES or name.startswith("nvidia"):  # nvidia*: CUDA needs them
                st = os.stat(os.path.join("/dev", name), follow_symlinks=False)
                if (st.st_mode & 0o170000) == 0o020000:  # character devices only
                    devices[name] = st
        if not read_only_tree(notes):  # (a kernel before 5.12, or one that refused: a remount per mount)
            with open("/proc/self/mountinfo") as f:
                points = [line.split()[4] for line in f]
            for point in sorted({p.encode().decode("unicode_escape") for p in points}, key=len):
                if point == "/proc" or point.startswith("/proc/"):
                    continue
                try:
                    mount(None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | kept_flags(point))
                except OSError as exc:
                    if point == "/":
                        raise
                    notes.append(f"could not make {point} read-only: {exc.strerror or exc}")
        def tmpfs(mode: str) -> str:  # nr_inodes: files and folders, which a tmpfs's size= does not count
            return f"size={int(spec['tmpfs_mb'])}m,nr_inodes={int(spec['tmpfs_files'])},mode={mode}"

        if os.path.isdir("/dev"):
            mount("tmpfs", "/dev", "tmpfs", MS_NOSUID, "size=1m,mode=755")
            for name, st in devices.items():
                node = os.path.join("/dev", name)
                try:
                    os.mknod(node, 0o020000 | (st.st_mode & 0o777), st.st_rdev)
                    os.chmod(node, st.st_mode & 0o777)  # mknod obeys the umask
                except PermissionError:  # a user namespace may not make devices: bind the host's node
                    open(node, "wb").close()
                    mount(f"/proc/self/fd/{dev_fd}/{name}", node, None, MS_BIND)
            for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                                 ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
                os.symlink(target, os.path.join("/dev", name))
            os.mkdir("/dev/shm")
            mount(None, "/dev", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID)
            mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, tmpfs("1777"))
        os.close(dev_fd)
        visible = spec["visible"]
        notes += cover(mount, visible)
        if os.path.isdir("/tmp") and not any(p == "/tmp" or p.startswith("/tmp/") for p in visible if p != scratch):
            mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, tmpfs("1777"))
            os.makedirs(scratch, exist_ok=True)
        else:
            notes.append("no private /tmp: the grader's own files live under /tmp")
        for folder in spec.get("hidden", []):  # e.g. the references: a read-only folder in their place,
            if os.path.isdir(folder):         # empty but for an __init__.py that refuses to be imported
                mount("tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV, "size=4k,mode=755")
                with open(os.path.join(folder, "__init__.py"), "w") as f:
                    f.write(HIDDEN_PACKAGE)
                mount(None, folder, None, MS_REMOUNT | MS_NOSUID | MS_NODEV | MS_RDONLY)
                notes.append(f"hidden: {folder}")
        mount(f"/proc/self/fd/{scratch_fd}", scratch, None, MS_BIND)
        mount(None, scratch, None, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | kept_flags(scratch))
        os.close(scratch_fd)
        home, folder = spec["home"], spec["cwd"]
        mount("tmpfs", home, "tmpfs", MS_NOSUID | MS_NODEV, tmpfs("700"))
        mount(folder, folder, None, MS_BIND | MS_REC)  # the submission's copy: read-only too
        mount(None, folder, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | kept_flags(folder))
        os.chdir(folder)  # the old cwd lies on the read-only view
    except Exception as exc:  # noqa: BLE001  half done: the parent starts an unconfined child instead
        raise ConfinementError(f"{type(exc).__name__}: {exc}") from None
    return READ_ONLY, notes


def read_only_tree(notes: list[str]) -> bool:
    """Make every mount of this namespace read-only but /proc, as the remounts of ``confine`` do,
    in two system calls instead of one remount per mount (about 20, 1 ms of a child's start):
    ``mount_setattr(2)`` (Linux 5.12) with ``AT_RECURSIVE`` on "/", then the /proc mount itself (not
    what is mounted under it) writable again.
    It changes that one flag and no other (nosuid, nodev, noexec and the atime flags stay as they
    were: nothing to keep by hand, locked or not).  False, having changed nothing, where the kernel
    has no such call or refuses it (then ``confine`` remounts each mount, as before)."""
    number = MOUNT_SETATTR.get(os.uname().machine)
    if number is None:
        return False
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long

    def set_attr(path: str, flags: int, attr_set: int, attr_clr: int) -> int:
        attr = (ctypes.c_uint64 * 4)(attr_set, attr_clr, 0, 0)  # struct mount_attr: set, clr, propagation, userns_fd
        done = libc.syscall(ctypes.c_long(number), ctypes.c_int(AT_FDCWD), os.fsencode(path), ctypes.c_uint(flags),
                            ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)))
        return 0 if done == 0 else ctypes.get_errno()

    if set_attr("/", AT_RECURSIVE, MOUNT_ATTR_RDONLY, 0):  # all or nothing: the kernel checks every mount first
        return False
    if os.path.ismount("/proc"):  # its own, fresh: not locked; only that mount (a host's read-only /proc/sys
        error = set_attr("/proc", 0, 0, MOUNT_ATTR_RDONLY)  # bind, as containers have, stays read-only)
        if error:
            notes.append(f"/proc stays read-only: {os.strerror(error)}")
    return True


def mounter():
    """mount(2) as ``mount(source, target, fstype, flags, data=None)``, raising OSError."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]

    def mount(source, target, fstype, flags, data=None):
        enc = lambda t: None if t is None else os.fsencode(t)  # noqa: E731
        if libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"mount {target}: {os.strerror(err)}")

    return mount


def kept_flags(point: str) -> int:
    """The flags a read-only remount of ``point`` must keep: nosuid, nodev, noexec and the
    atime ones, which a user namespace may not change on mounts it inherited ("locked")."""
    flag = os.statvfs(point).f_flag
    kept = flag & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME)
    return kept | (MS_RELATIME if flag & ST_RELATIME else 0)


def cover(mount, visible: list[str]) -> list[str]:
    """Cover every top-level folder that is not the system's (``/home``, ``/root``, ``/work``,
    ``/srv``, ``/opt``, ...) with an empty read-only tmpfs, and bind back, read-only, only the
    ``visible`` paths under it (Python, its libraries, the grader's code, the scratch folder).

    Student code then cannot find another checkout of the grader, another course's files or
    anyone's home; and a Python under a 0700 ``/root`` becomes reachable for the sandbox's
    user, since the folders on the way to it are the tmpfs's own (mode 755)."""
    notes = []
    for entry in sorted(os.listdir("/")):
        top = os.path.join("/", entry)
        if entry in SYSTEM_FOLDERS or os.path.islink(top) or not os.path.isdir(top):
            continue
        inside = sorted({p for p in visible if p.startswith(top + os.sep) or p == top}, key=len)
        if top in inside:
            continue
        fd = os.open(top, getattr(os, "O_PATH", os.O_RDONLY) | os.O_DIRECTORY)  # (O_PATH: one it cannot read, too)
        try:
            mount("tmpfs", top, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=755")
            shown: list[str] = []
            for path in inside:
                if any(path.startswith(s + os.sep) for s in shown):
                    continue  # inside one already shown
                source = f"/proc/self/fd/{fd}/{os.path.relpath(path, top)}"
                if not os.path.exists(source):
                    continue
                if os.path.isdir(source):
                    os.makedirs(path, exist_ok=True)
                else:
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    open(path, "wb").close()
                mount(source, path, None, MS_BIND | MS_REC)
                mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | kept_flags(path))
                shown.append(path)
            mount(None, top, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
        finally:
            os.close(fd)
        notes.append(f"{top} covered" + (f" (shown in it: {', '.join(shown)})" if shown else ""))
    return notes


def become_init(fds) -> None:
    """Fork; the worker returns and runs everything, this process stays pid 1 of the namespace.

    Pid 1 of a pid namespace ignores every signal it has no handler for that comes from
    inside the namespace (its own segfault re-raised by faulthandler, a student's
    ``os.kill(os.getpid(), SIGKILL)``, SIGXCPU), so student code must not run as pid 1.
    This init reaps orphans and, when the worker ends, exits with its status (a signal
    N as 128 + N, which the parent decodes); its exit ends every process of the namespace.
    """
    worker = os.fork()
    if worker == 0:
        return
    for fd in fds:  # the channels are the worker's: the parent must see them close when it ends
        os.close(fd)
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            os._exit(1)
        if pid == worker:
            os._exit(128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status))


class ConfinementError(Exception):
    """Setting up the mounts failed half-way; this child must not run student code."""

