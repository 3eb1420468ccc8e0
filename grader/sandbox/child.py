"""The child side of the sandbox: the only place where student code runs.

Started by ``grader.sandbox.session`` as

    python -I -S -B -u .../grader/sandbox/child.py CONFIG_JSON

in its own session, with the submission's scratch copy as cwd, a stripped
environment, stdin from /dev/null, stdout and stderr on pipes that the parent
reads and caps, and one private socket (fd ``config["fd"]``) for requests and
responses.  ``grader`` itself is not on the child's path: this file and
``wire.py`` are loaded by path and use the standard library only.

What the child does, in order:

1. sets its resource limits (address space, CPU seconds, file size, no core
   files), marks the socket close-on-exec so student subprocesses never hold it;
2. imports the ``preload`` modules (numpy; torch for the transfer part) with
   only the library folders on sys.path, so a student's ``numpy.py`` cannot
   stand in for numpy;
3. puts the submission folder first on sys.path, installs the import policy,
   and says it is ready;
4. answers requests, one at a time: import a module (the student's by name, a
   trusted one by file path), call one function ``repeat`` times on fresh
   copies of the arguments, time each call alone with ``perf_counter``, and
   send back plain data.  Exceptions (SystemExit and KeyboardInterrupt too)
   become short messages that name the submission file and line.  Values that
   are not plain data stay here and are sent as references (ids) that later
   requests may pass back, so a student's cache object or nn.Module can go from
   one call to the next without ever reaching the parent.

Nothing here is a security boundary by itself: student code runs in this
process and can change anything in it, write to the socket, or lie about
timings.  The parent treats every reply as untrusted plain data, enforces time
limits by killing the process group, and never unpickles.
"""

from __future__ import annotations

import faulthandler
import importlib
import importlib.machinery
import importlib.util
import json
import os
import socket
import struct
import sys
import time
import traceback
import types

_perf_counter = time.perf_counter  # bound now: a student patching time.perf_counter changes nothing here
HERE = os.path.dirname(os.path.abspath(__file__))
OWN_FILES = {os.path.abspath(__file__), os.path.join(HERE, "wire.py")}
IMPORTLIB_DIR = os.path.dirname(importlib.__file__) + os.sep
MAX_MESSAGE_CHARS = 500
MAX_TRACEBACK_CHARS = 4000
MAX_NOTES = 20


def _load_wire():
    spec = importlib.util.spec_from_file_location("_grader_sandbox_wire", os.path.join(HERE, "wire.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


wire = _load_wire()


# ---------------------------------------------------------------- start-up


def outside_uid() -> int | None:
    """In a user namespace (``unshare --user --map-root-user``): the uid outside that this
    process's uid 0 stands for; None in the initial namespace (or where it cannot be told)."""
    try:
        with open("/proc/self/uid_map") as f:
            first = f.readline().split()
    except OSError:
        return None
    if len(first) != 3 or first == ["0", "0", "4294967295"]:
        return None
    return int(first[1])


def set_limits(limits: dict) -> list[str]:
    """Apply the resource limits; return notes about those this OS lacks."""
    notes = []
    try:
        import resource
    except ImportError:
        return ["no resource module: memory, CPU and file-size limits are not enforced"]
    wanted = [("RLIMIT_CORE", 0, 0)]
    if limits.get("memory_mb") is not None:
        wanted.append(("RLIMIT_AS", limits["memory_mb"] << 20, limits["memory_mb"] << 20))
    if limits.get("cpu_s") is not None:
        wanted.append(("RLIMIT_CPU", limits["cpu_s"], limits["cpu_s"] + 1))  # SIGXCPU first, SIGKILL a second later
    if limits.get("file_size_mb") is not None:
        wanted.append(("RLIMIT_FSIZE", limits["file_size_mb"] << 20, limits["file_size_mb"] << 20))
    if limits.get("processes") is not None:  # counts every process and thread of this user id
        wanted.append(("RLIMIT_NPROC", limits["processes"], limits["processes"]))
        if hasattr(os, "geteuid") and os.geteuid() == 0 and outside_uid() in (None, 0):
            notes.append("RLIMIT_NPROC does not bind root: the number of processes is not limited")
    if limits.get("open_files") is not None:
        wanted.append(("RLIMIT_NOFILE", limits["open_files"], limits["open_files"]))
    for name, soft, hard in wanted:
        which = getattr(resource, name, None)
        if which is None:
            notes.append(f"{name} is not available on this OS")
            continue
        try:
            _, old_hard = resource.getrlimit(which)
            if old_hard != resource.RLIM_INFINITY:
                soft, hard = min(soft, old_hard), min(hard, old_hard)
            resource.setrlimit(which, (soft, hard))
        except (OSError, ValueError) as exc:
            notes.append(f"could not set {name}: {exc}")
    return notes


# ---------------------------------------------------------------- confinement (in the namespaces only)

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME, ST_RELATIME = 1024, 2048, 1 << 21, 4096
KEPT_DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
# Top-level folders of the system, left visible (read-only); every other one is covered (``cover``)
# and, by the guard, closed to reads outside the session's visible paths.
SYSTEM_FOLDERS = frozenset({"bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "run", "sbin", "sys",
                            "tmp", "usr", "var", "nix", "gnu", "snap"})
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
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]

        def mount(source, target, fstype, flags, data=None):
            enc = lambda t: None if t is None else os.fsencode(t)  # noqa: E731
            if libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)) != 0:
                err = ctypes.get_errno()
                raise OSError(err, f"mount {target}: {os.strerror(err)}")

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
        for folder in spec.get("hidden", []):  # e.g. the references: an empty, read-only folder in their place
            if os.path.isdir(folder):
                mount("tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV | MS_RDONLY, "size=4k,mode=555")
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


def become_init(fd: int) -> None:
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


def drop_privileges(user: dict | None, needed: list[str], home: str) -> tuple[str, list[str]]:
    """As root: switch to the sandbox's user (``user``: uid, gid, name) when it can read
    every folder in ``needed`` (it gets ``home``), and drop every capability either way; as anyone else,
    nothing to drop.  Returns a line for reports and notes.

    After this, student code cannot remount, mknod, raise hard limits, regain privileges
    by exec (no_new_privs), or (as another user) write the grader's files, signal the
    grader or escape RLIMIT_NPROC."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "the grader's own user (not root: no other user to switch to)", []
    notes, line = [], "root, every capability dropped"
    outside = outside_uid()
    if outside is not None:  # root of a user namespace that maps one uid: no other user to switch to
        user = None
        line = (f"the grader's user (uid {outside}) as root of a user namespace, every capability of "
                "that namespace dropped")
    if user:
        blocked = _unreadable(needed, user["uid"], user["gid"])
        if blocked:
            line = f"root, every capability dropped (not {user['name']}: it cannot read {blocked})"
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
        PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 24, 38, 47, 4
        for cap in range(64):
            if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
                break  # EINVAL past the last capability this kernel knows (EPERM: not allowed to)
        libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
        if user and line.startswith("root,") and "(not" not in line:
            os.chown(home, user["uid"], user["gid"])
            os.setgroups([])
            os.setgid(user["gid"])
            os.setuid(user["uid"])  # from uid 0 to another: the kernel clears every capability
            line = f"uid {user['uid']} ({user['name']}), no capabilities"
        header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
        if libc.capset(header, (ctypes.c_uint32 * 6)()) != 0:
            raise OSError(ctypes.get_errno(), "capset")
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "no_new_privs")
    except OSError as exc:
        if os.geteuid() == 0:
            within = f" of its user namespace (uid {outside} outside)" if outside is not None else ""
            line = f"root{within}, capabilities kept (could not drop them: {exc.strerror or exc})"
        notes.append(f"privilege drop incomplete: {exc}")
    return line, notes


def _unreadable(needed: list[str], uid: int, gid: int) -> str | None:
    """The first of ``needed`` that ``uid`` could not read (or enter), tried with seteuid."""
    modes = [(path, os.R_OK | (os.X_OK if os.path.isdir(path) else 0)) for path in needed if os.path.exists(path)]
    os.setgroups([])
    os.setegid(gid)
    os.seteuid(uid)
    try:
        for path, mode in modes:  # (looked up as root: as uid, a path it cannot reach does not "exist")
            if not os.access(path, mode, effective_ids=True):
                return path
        return None
    finally:
        os.seteuid(0)
        os.setegid(0)


# ---------------------------------------------------------------- the guard: an audit hook

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
PROCESS_EVENTS = frozenset({"os.fork", "os.forkpty", "os.system", "os.exec", "os.posix_spawn", "os.spawn",
                            "subprocess.Popen", "pty.spawn"})
NETWORK_EVENTS = frozenset({"socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg",
                            "socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr",
                            "socket.getnameinfo", "socket.sethostname"})
NATIVE_EVENTS = frozenset({"ctypes.dlopen", "ctypes.dlsym", "ctypes.dlsym/handle", "ctypes.call_function",
                           "ctypes.cdata", "ctypes.PyObj_FromPtr"})
INTROSPECTION_EVENTS = frozenset({"gc.get_objects", "gc.get_referrers", "gc.get_referents"})
# event -> (indexes of the path arguments it changes, index of its dir_fd argument or None)
PATH_EVENTS = {
    "os.mkdir": ((0,), 2), "os.remove": ((0,), 1), "os.rmdir": ((0,), 1), "os.rename": ((0, 1), 2),
    "os.symlink": ((1,), 2), "os.link": ((1,), 3), "os.chmod": ((0,), 2), "os.chown": ((0,), 3),
    "os.truncate": ((0,), None), "os.utime": ((0,), 3), "shutil.rmtree": ((0,), None),
    "os.setxattr": ((0,), None), "os.removexattr": ((0,), None), "os.chflags": ((0,), None),
}
MAX_EVENTS = 40


def install_guard(rules: dict, record) -> None:
    """Watch what the child does from now on with an audit hook (PEP 578), which nothing in
    Python can remove, and refuse what ``rules`` forbid; ``record(code, detail)`` hears of each.

    Refused: imports of ``rules["forbidden"]`` modules and of the grader, reading the
    ``protected`` folders, writing (or creating, renaming, removing) anything outside the
    ``writable`` ones, starting processes, signalling other processes, the network, native
    code through ctypes (each unless the rules allow it), and gc's object walks (which could
    reach this hook's state).  A refusal raises in the student's code, as the OS would.
    Native code that is already loaded can do what it likes: the namespaces and the user
    switch are the wall; this is the part that can say why."""
    forbidden = tuple(rules["forbidden"])
    blocked = tuple(rules["blocked"])
    forbidden_folders = tuple((os.path.join(folder, ""), module) for folder, module in rules["forbidden_folders"])
    protected = tuple(os.path.join(p, "") for p in rules["protected"])
    readable = tuple(os.path.join(p, "") for p in rules["readable"]) + tuple(OWN_FILES)
    writable = tuple(os.path.join(p, "") for p in rules["writable"]) + ("/dev/", "/proc/self/")
    visible = tuple(os.path.join(p, "") for p in rules["visible"])
    allow_processes, allow_network, allow_native = rules["processes"], rules["network"], rules["native_code"]
    me = os.getpid()
    busy = [False]

    def where(path, dir_fd=None) -> str | None:
        if isinstance(path, int) or path is None:
            return None
        path = os.fsdecode(path)
        if not os.path.isabs(path) and isinstance(dir_fd, int):
            path = os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), path)
        return os.path.realpath(path)

    def refuse(code: str, detail: str, error: type = PermissionError):
        record(code, detail)
        raise error(f"not allowed in the grader's sandbox: {detail}")

    def check_write(path) -> None:
        if path is not None and not (path + os.sep).startswith(writable) and path not in ("/dev/null",):
            refuse("write", f"wrote outside its scratch folder ($TMPDIR): {path}")

    def on_import(args) -> None:
        name = args[0] if args and isinstance(args[0], str) else ""
        for module in blocked:
            if name == module or name.startswith(module + "."):
                refuse("grader", f"tried to import the grader ({name})", ModuleNotFoundError)
        for module in forbidden:
            if name == module or name.startswith(module + "."):
                refuse("forbidden-import", f"imported a forbidden library at run time: {name}", ModuleNotFoundError)

    def forbidden_read(path: str, how: str) -> None:
        for folder, module in forbidden_folders:
            if (path + os.sep).startswith(folder):
                refuse("forbidden-import", f"imported a forbidden library at run time: {module} ({how} {path})")

    def on_open(args) -> None:
        path = where(args[0])
        if path is None:
            return
        forbidden_read(path, "reading")
        mode, flags = (args + (None, None))[1:3]
        writing = (isinstance(flags, int) and flags & WRITE_FLAGS) or (isinstance(mode, str) and set(mode) & set("wax+"))
        if writing:
            check_write(path)
        elif (path + os.sep).startswith(protected) and not (path + os.sep).startswith(readable) and path not in OWN_FILES:
            refuse("grader", f"tried to read the grader's files: {path}")
        else:
            check_view(path, "read")

    def check_view(path: str, how: str) -> None:
        top = path.split(os.sep)[1] if path.count(os.sep) >= 1 else ""
        if top and top not in SYSTEM_FOLDERS and not (path + os.sep).startswith(visible) and path not in OWN_FILES:
            refuse("read", f"tried to {how} outside its sandbox (not its submission, Python or its libraries): {path}")

    def on_path(event, args) -> None:
        indexes, fd_index = PATH_EVENTS[event]
        dir_fd = args[fd_index] if fd_index is not None and len(args) > fd_index else None
        for i in indexes:
            if i < len(args):
                check_write(where(args[i], dir_fd))

    def on_kill(event, args) -> None:
        if event == "os.kill" and args and args[0] == me:
            return
        refuse("signal", f"tried to send signal {args[1] if len(args) > 1 else '?'} to process {args[0] if args else '?'}")

    def hook(event: str, args: tuple) -> None:
        if busy[0]:
            return
        busy[0] = True
        try:
            if event == "open":
                on_open(args)
            elif event == "import":
                on_import(args)
            elif event in PATH_EVENTS:
                on_path(event, args)
            elif event in ("os.listdir", "os.scandir") and args and args[0] is not None:
                path = where(args[0])
                if path is not None:
                    forbidden_read(path, "listing")
                    check_view(path, "list")
            elif event in PROCESS_EVENTS and not allow_processes:
                refuse("process", f"tried to start a process ({event})")
            elif event in ("os.kill", "os.killpg"):
                on_kill(event, args)
            elif event in NETWORK_EVENTS and not allow_network:
                refuse("network", f"tried to use the network ({event} {_text(args[1:2] or '')})")
            elif event in NATIVE_EVENTS and not allow_native:
                refuse("native-code", f"tried to run native code through ctypes ({event})")
            elif event in INTROSPECTION_EVENTS:
                refuse("tamper", f"tried to walk the interpreter's objects ({event})")
        finally:
            busy[0] = False

    sys.addaudithook(hook)


# Functions a submission might replace to fool a comparison made in its own process.
WATCHED = {
    "numpy": ("allclose", "isclose", "array_equal", "array_equiv", "asarray", "array", "testing.assert_allclose",
              "testing.assert_array_equal", "testing.assert_array_almost_equal", "testing.assert_almost_equal",
              "testing.assert_equal"),
    "torch": ("allclose", "isclose", "equal", "testing.assert_close", "Tensor.requires_grad", "Tensor.grad",
              "nn.Module.parameters", "nn.Module.named_parameters", "nn.Module.state_dict", "nn.Module.__call__",
              "optim.Optimizer.step", "optim.Optimizer.zero_grad"),
}


class Watch:
    """Notices functions of numpy, torch and builtins that student code replaced.

    Comparisons happen in the parent, so a replacement fools nothing; it is reported
    because trying is the point.  What was loaded at the start is compared by identity;
    what loads later (numpy.testing) must come from its own package."""

    def __init__(self):
        import builtins

        self.builtins = builtins
        self.preloaded = frozenset(sys.modules)
        self.original_builtins = dict(vars(builtins))
        self.original = {}
        for package, names in WATCHED.items():
            for name in names:
                found = _lookup(package, name)
                if found is not _MISSING:
                    self.original[f"{package}.{name}"] = found
        self.seen: set[str] = set()

    def changes(self) -> list[str]:
        found = []
        current = vars(self.builtins)
        for name, value in self.original_builtins.items():
            if name != "_" and current.get(name, _MISSING) is not value:
                found.append(f"builtins.{name}")
        for package, names in WATCHED.items():
            if package not in sys.modules:
                continue
            for name in names:
                dotted = f"{package}.{name}"
                value = _lookup(package, name)
                if value is _MISSING:
                    continue
                if dotted in self.original:
                    if value is not self.original[dotted]:
                        found.append(dotted)
                elif not str(getattr(value, "__module__", None) or "").startswith(package):
                    found.append(dotted)
        fresh = [name for name in found if name not in self.seen]
        self.seen.update(fresh)
        return fresh


_MISSING = object()


def _lookup(package: str, dotted: str):
    obj = sys.modules.get(package, _MISSING)
    for part in dotted.split("."):
        if obj is _MISSING:
            return _MISSING
        try:
            obj = inspect_static(obj, part)
        except AttributeError:
            return _MISSING
    return obj


def inspect_static(obj, name: str):
    """``getattr`` without running descriptors or module ``__getattr__`` (lazy imports)."""
    import inspect

    if isinstance(obj, types.ModuleType):
        try:
            return vars(obj)[name]
        except KeyError:
            raise AttributeError(name) from None
    return inspect.getattr_static(obj, name)


class ImportPolicy:
    """A meta-path finder that refuses some imports made by student code.

    Only imports whose importing frame lies in the submission folder are
    checked, so numpy or torch may import what they like.  ``blocked`` names
    are always refused (the grader itself); with ``allowed`` set, student code
    may import only those top-level names, the standard library and the
    submission's own modules.  Modules already imported (the preloads) are not
    looked up again, so they stay importable.  A deterrent, not a wall: student
    code can remove this finder.
    """

    def __init__(self, folder: str, allowed, blocked):
        self.prefix = os.path.join(folder, "")
        self.folder = folder
        self.allowed = None if allowed is None else frozenset(allowed)
        self.blocked = frozenset(blocked)

    def _importer(self):
        """The file of the code that asked for the import (exec'd strings count as their caller)."""
        frame = sys._getframe(1)
        while frame is not None:
            name = frame.f_code.co_filename
            if not (name.startswith("<") or name.startswith(IMPORTLIB_DIR) or name in OWN_FILES):
                return name
            frame = frame.f_back
        return None

    def _local(self, top: str) -> bool:
        return os.path.isfile(os.path.join(self.folder, top + ".py")) or os.path.isdir(os.path.join(self.folder, top))

    def find_spec(self, fullname, path=None, target=None):
        top = fullname.partition(".")[0]
        importer = self._importer()
        if importer is None or not importer.startswith(self.prefix) or self._local(top):
            return None
        if top in self.blocked:
            raise ModuleNotFoundError(f"student code may not import {top!r}", name=fullname)
        if self.allowed is not None and top not in self.allowed and top not in sys.stdlib_module_names:
            allowed = ", ".join(sorted(self.allowed)) or "nothing"
            raise ModuleNotFoundError(
                f"importing {top!r} is not allowed here (allowed: {allowed}, and the standard library)", name=fullname
            )
        return None


# ---------------------------------------------------------------- the call


class Child:
    def __init__(self, config: dict, channel: socket.socket):
        self.config = config
        self.channel = channel
        self.folder = config["folder"]
        self.prefix = os.path.join(self.folder, "")
        self.memory_mb = config["limits"].get("memory_mb")
        self.max_result_bytes = config["max_result_bytes"]
        self.refs: dict[int, object] = {}
        self.trusted_packages: dict[str, str] = {}
        self.notes: list[str] = []
        self.events: list[list[str]] = []  # [code, detail]: what the guard, the watch and the checks saw
        self.watch: Watch | None = None
        self.reserve = bytearray(1 << 20)  # given back on MemoryError, so that reporting it has room

    # --- requests and replies

    def recv(self):
        header = self._recv_exactly(wire.FRAME_HEADER.size)
        if header is None:
            return None
        (length,) = wire.FRAME_HEADER.unpack(header)
        return self._recv_exactly(length)

    def _recv_exactly(self, n: int):
        buffer = bytearray(n)
        view, got = memoryview(buffer), 0
        while got < n:
            count = self.channel.recv_into(view[got:])
            if not count:
                return None
            got += count
        return buffer

    def send(self, message: dict) -> None:
        try:
            parts = wire.encode_parts(message, fallback=self.as_ref)
            size = wire.size(parts)
            if size > self.max_result_bytes:
                raise wire.WireError(
                    f"the result is too large to send back ({size} bytes; the limit is {self.max_result_bytes})"
                )
        except BaseException as exc:  # noqa: BLE001 - a student value that will not encode, however it fails
            text = str(exc) if isinstance(exc, wire.WireError) else f"{type(exc).__name__}: {_text(exc)}"
            parts = wire.encode_parts({
                "ok": False, "value": None, "kind": "result", "traceback": None,
                "error": f"the result could not be sent back: {text}",
                "durations": message.get("durations", []), "notes": message.get("notes", []),
                "events": message.get("events", []),
            })
        for part in wire.frame(parts):
            self.channel.sendall(part)

    # --- plain data out, references for the rest

    def as_ref(self, obj, encode_item):
        np = sys.modules.get("numpy")
        if np is not None and issubclass(type(obj), np.ndarray):
            base = np.ndarray.view(obj, np.ndarray)  # ndarray's own methods: the subclass cannot lie here
            if wire.plain_dtype(base.dtype):
                self.note(f"returned a {_type_name(obj)} (a numpy.ndarray subclass); "
                          "it was sent as a plain numpy.ndarray")
                self.record("lying-object", f"returned a {_type_name(obj)}, a numpy.ndarray subclass: "
                                            "graded as its plain array data")
                return encode_item(base)
        try:
            has_array = np is not None and hasattr(type(obj), "__array__")
        except BaseException:  # noqa: BLE001
            has_array = False
        if has_array:
            self.record("lying-object", f"returned a {_type_name(obj)}, not a numpy array (it only has "
                                        "__array__): it was not converted")
        ref_id = len(self.refs) + 1
        self.refs[ref_id] = obj
        return {"r": [ref_id, _type_name(obj), _describe(obj)]}

    def resolve_ref(self, payload):
        ref_id, path = payload
        obj = self.refs[ref_id]  # KeyError: a malformed request
        for key in path:
            obj = obj[key]
        return obj

    def note(self, text: str) -> None:
        if len(self.notes) < MAX_NOTES and text not in self.notes:
            self.notes.append(text)

    def record(self, code: str, detail: str) -> None:
        """An event for the integrity tests (the guard calls this from its hook)."""
        event = [code, _cap(detail)]
        if len(self.events) < MAX_EVENTS and event not in self.events:
            self.events.append(event)

    def look_for_replacements(self) -> None:
        if self.watch is None:
            return
        try:  # imports that never raised the "import" audit event (importlib.import_module does not)
            loaded = {name.partition(".")[0] for name in list(sys.modules)} | set(sys.modules)
            for module in self.config["rules"]["forbidden"]:
                if module in loaded and module not in self.watch.preloaded:
                    self.record("forbidden-import", f"imported a forbidden library at run time: {module}")
        except BaseException:  # noqa: BLE001
            pass
        try:
            for name in self.watch.changes():
                self.record("monkeypatch", f"replaced {name}")
        except BaseException:  # noqa: BLE001 - a student object that breaks the lookup: that is tampering too
            self.record("monkeypatch", "changed numpy, torch or builtins so that they cannot be inspected")

    # --- one request

    def handle(self, request: dict) -> dict:
        self.notes, self.events = [], []
        reply = {"ok": False, "value": None, "error": None, "kind": None, "traceback": None,
                 "durations": [], "notes": self.notes, "events": self.events}
        try:
            return self._handle(request, reply)
        finally:
            self.look_for_replacements()

    def _handle(self, request: dict, reply: dict) -> dict:
        trusted, module_name = request["trusted"], request["module"]
        shown = os.path.basename(trusted) if trusted else _display(module_name)
        try:
            module = self.load_trusted(trusted) if trusted else importlib.import_module(module_name)
        except BaseException as exc:  # noqa: BLE001
            self.fail(reply, exc, importing=shown, module_name=module_name)
            return reply
        try:
            function = getattr(module, request["function"], None)
        except BaseException:  # noqa: BLE001 - a module __getattr__ that raises
            function = None
        if function is None or not callable(function):
            what = "defines no" if function is None else "has a non-callable"
            reply.update(kind="import", error=f"{shown} {what} function {request['function']!r}")
            return reply
        try:
            for i in range(request["repeat"]):
                reply["value"] = None
                args, kwargs = wire.decode(request["args"], ref=self.resolve_ref)  # fresh copies every time
                start = _perf_counter()
                value = function(*args, **kwargs)
                reply["durations"].append(_perf_counter() - start)
                reply["value"] = value
                if i == 0 and not trusted:
                    self.look_for_changed_inputs(function, request, args, kwargs)
            reply["ok"] = True
        except BaseException as exc:  # noqa: BLE001 - SystemExit and KeyboardInterrupt are the student's too
            reply["value"] = None
            self.fail(reply, exc)
        finally:
            _flush_streams()
        return reply

    def look_for_changed_inputs(self, function, request: dict, args, kwargs) -> None:
        """Record the array arguments that ``function`` changed in place (the grader hands every
        call fresh copies, so this changes no score; it is a bug in a layer all the same)."""
        try:
            fresh_args, fresh_kwargs = wire.decode(request["args"], ref=self.resolve_ref)
            names = _parameter_names(function)
            for i, (used, fresh) in enumerate(zip(args, fresh_args)):
                if _changed(used, fresh):
                    name = names[i] if i < len(names) else f"argument {i + 1}"
                    self.record("mutated-input", f"{request['function']} changed its input {name} in place")
            for key, fresh in fresh_kwargs.items():
                if _changed(kwargs.get(key), fresh):
                    self.record("mutated-input", f"{request['function']} changed its input {key} in place")
        except BaseException:  # noqa: BLE001 - an argument the student replaced with something odd
            pass

    def load_trusted(self, path: str):
        """Import the file ``path`` as ``<package>.<stem>``; relative imports find its siblings."""
        folder, stem = os.path.dirname(path), os.path.splitext(os.path.basename(path))[0]
        package = self.trusted_packages.get(folder)
        if package is None:
            package = f"_grader_trusted_{len(self.trusted_packages)}"
            spec = importlib.machinery.ModuleSpec(package, None, is_package=True)
            spec.submodule_search_locations = [folder]
            module = types.ModuleType(package)
            module.__spec__, module.__path__, module.__package__ = spec, [folder], package
            sys.modules[package] = module
            self.trusted_packages[folder] = package
        return importlib.import_module(f"{package}.{stem}")

    # --- what went wrong, for a student

    def fail(self, reply: dict, exc: BaseException, importing: str | None = None,
             module_name: str | None = None) -> None:
        if isinstance(exc, MemoryError):
            self.reserve = None
        try:
            reply["error"], reply["kind"] = self.message(exc, importing, module_name)
            reply["traceback"] = self.format_traceback(exc)
        except BaseException as again:  # noqa: BLE001 - a student exception whose __str__ fails, etc.
            reply["error"] = f"{type(exc).__name__} (and describing it failed: {type(again).__name__})"
            reply["kind"] = "exception"
        finally:
            exc.__traceback__ = None
            if self.reserve is None:
                try:
                    self.reserve = bytearray(1 << 20)
                except MemoryError:
                    pass

    def message(self, exc: BaseException, importing: str | None, module_name: str | None) -> tuple[str, str]:
        kind = "import" if importing else "exception"
        if isinstance(exc, SyntaxError) and self.inside(exc.filename):
            where = self.relative(exc.filename)
            return f"{type(exc).__name__} in {where} line {exc.lineno}: {_cap(_text(exc.msg))}", "import"
        if (importing and module_name and isinstance(exc, ModuleNotFoundError) and isinstance(exc.name, str)
                and (module_name + ".").startswith(exc.name + ".") and self.missing(exc.name)):
            return f"{_display(module_name)} was not found in the submission", "import"
        location = self.location(exc)
        if isinstance(exc, SystemExit):
            text, kind = f"raised SystemExit({_cap(repr(exc.code))}) (sys.exit?)", "exit"
        elif isinstance(exc, KeyboardInterrupt):
            text = "raised KeyboardInterrupt"
        elif isinstance(exc, MemoryError):
            limit = f"memory limit of {self.memory_mb} MB exceeded" if self.memory_mb else "out of memory"
            text, kind = f"{limit}: {_exception_line(exc)}", "memory"
        else:
            text = _exception_line(exc)
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
        frames = traceback.StackSummary.from_list([f for f in frames if f.filename not in OWN_FILES])
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


# ---------------------------------------------------------------- helpers


def _text(obj) -> str:
    try:
        return _cap(str(obj))
    except BaseException:  # noqa: BLE001
        return "<unprintable>"


def _cap(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE_CHARS else text[:MAX_MESSAGE_CHARS] + "..."


def _exception_line(exc: BaseException) -> str:
    text = _text(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _type_name(obj) -> str:
    cls = type(obj)
    try:
        name = f"{cls.__module__}.{cls.__qualname__}"
    except BaseException:  # noqa: BLE001
        name = "object"
    name = name.removeprefix("builtins.")
    return _cap(name if isinstance(name, str) else "object")


def _describe(obj) -> str:
    """A short, safe description of a value that is not plain data."""
    name = _type_name(obj)
    try:
        torch = sys.modules.get("torch")
        if torch is not None and isinstance(obj, torch.Tensor):
            return f"a {name} of shape {tuple(obj.shape)} and dtype {obj.dtype}"
        np = sys.modules.get("numpy")
        if np is not None and issubclass(type(obj), np.ndarray):
            return f"a numpy array of dtype {np.ndarray.view(obj, np.ndarray).dtype} (not plain data)"
    except BaseException:  # noqa: BLE001
        pass
    return f"an object of type {name}"


def _parameter_names(function) -> list[str]:
    try:
        import inspect

        return list(inspect.signature(function).parameters)
    except BaseException:  # noqa: BLE001
        return []


def _changed(used, fresh) -> bool:
    """Whether an argument array (or one inside a tuple, list or dict) no longer equals its fresh copy."""
    np = sys.modules.get("numpy")
    if np is not None and type(fresh) is np.ndarray:
        return not (type(used) is np.ndarray and used.shape == fresh.shape and used.dtype == fresh.dtype
                    and used.tobytes() == fresh.tobytes())
    if type(fresh) in (tuple, list):
        return type(used) is not type(fresh) or len(used) != len(fresh) or any(map(_changed, used, fresh))
    if type(fresh) is dict:
        return type(used) is not dict or used.keys() != fresh.keys() or any(_changed(used[k], fresh[k]) for k in fresh)
    if type(fresh) in (int, float, str, bytes, bool, type(None)):  # NaN equals NaN here
        return type(used) is not type(fresh) or (used != fresh and not (used != used and fresh != fresh))
    return False


def _display(module_name: str) -> str:
    return module_name.replace(".", "/") + ".py"


def _flush_streams() -> None:
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001
            pass


# ---------------------------------------------------------------- main


def main() -> None:
    config = json.loads(sys.argv[1])
    sys.argv = ["submission"]
    try:
        confinement, notes = ("not requested", []) if not config.get("confine") else confine(config["confine"])
    except ConfinementError as exc:
        channel = socket.socket(fileno=config["fd"])
        Child(config, channel).send({"ready": False, "confinement_failed": True, "notes": [],
                                     "error": f"the file system could not be confined: {exc}"})
        os._exit(1)
    needed = [p for p in sys.path + config["library_paths"] if os.path.isdir(p)] + [config["folder"]]
    user, more = drop_privileges(config.get("user"), needed, config["home"])
    notes += more
    if config.get("init") and os.getpid() == 1:
        become_init(config["fd"])  # only the worker returns
    notes += set_limits(config["limits"])
    os.set_inheritable(config["fd"], False)
    channel = socket.socket(fileno=config["fd"])
    faulthandler.enable()  # a crash in native code leaves a traceback on the captured stderr
    sys.path.extend(p for p in config["library_paths"] if p not in sys.path)
    child = Child(config, channel)
    try:
        for name in config["preload"]:
            importlib.import_module(name)
    except BaseException as exc:  # noqa: BLE001
        child.send({"ready": False, "error": f"could not import {name}: {_exception_line(exc)}", "notes": notes})
        os._exit(1)
    sys.path.insert(0, child.folder)
    sys.meta_path.insert(0, ImportPolicy(child.folder, config["allowed_modules"], config["blocked_modules"]))
    if config.get("rules") is not None:
        child.watch = Watch()
        install_guard(config["rules"], child.record)
    child.send({"ready": True, "pid": os.getpid(), "notes": notes, "filesystem": confinement, "user": user})
    while True:
        try:
            body, args = child.recv(), child.recv()  # a request, then its arguments (decoded once per repeat)
            if body is None or args is None:  # the parent is gone or done
                break
            request = wire.decode(body)
            request["args"] = args
            reply = child.handle(request)
        except (OSError, wire.WireError, KeyError, TypeError, ValueError, struct.error) as exc:
            reply = {"ok": False, "value": None, "kind": "channel", "traceback": None, "durations": [], "notes": [],
                     "events": [],
                     "error": f"the sandbox could not read the request ({type(exc).__name__}: {_text(exc)})"}
        child.send(reply)
    os._exit(0)  # not sys.exit: a student's non-daemon thread or atexit hook must not keep us alive


if __name__ == "__main__":
    main()
