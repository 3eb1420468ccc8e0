"""The warm template: one process that has imported what the children preload (numpy; numpy and
torch for the transfer part) and is forked, on request, into a sandbox child per part.

Started by ``grader.sandbox.warm`` as

    python -I -S [-B] [-X pycache_prefix=P] -u .../child/template.py CONFIG_JSON grader-sandbox-template

with the children's stripped environment (BLAS/OpenMP at the session's thread count, set
before numpy is imported: threads do not survive a fork), "/" as cwd, stdin, stdout and stderr
on /dev/null, and one descriptor: a SOCK_SEQPACKET socket to the grader.  It imports
``main.py`` (which loads every sibling) and the preload modules, makes itself non-dumpable,
says whether it is single-threaded, then answers one request at a time:

    request: 4-byte length, a header (JSON: namespaces, env, cwd), the child's config (JSON),
             and, as SCM_RIGHTS, the child's four descriptors (socket, stdout, stderr, events)
    reply:   {"pid": N} or {"error": "..."}

Each request is answered with ``clone(CLONE_PARENT | the namespaces)``: the new process is the
grader's child (it reaps it, sees its exit status, kills its session), never the template's.
The clone, in ``become``: a session of its own, dumpable again (as an exec'd child is), the user
namespace's maps, a private mount propagation and its own /proc, its four descriptors at 0-4
and every other one closed (the template's socket included), the signal mask cleared, the
environment and cwd of the request, numpy's global random state reseeded; then ``main.run``,
the same start-up as a cold child's from there on (mounts, privileges, init, limits, system-call
filter, guard).  Nothing of a request outlives it here: the template never parses the child's
config, and zeroes the buffer it arrived in.  Standard library only (loaded by path).
"""

from __future__ import annotations

import ctypes
import fcntl
import importlib
import importlib.util
import json
import os
import signal
import socket
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CLONE_PARENT = 0x00008000
NAMESPACES = {"mount": 0x00020000, "ipc": 0x08000000, "user": 0x10000000, "pid": 0x20000000, "net": 0x40000000}
SYS_CLONE = {"x86_64": 56, "aarch64": 220, "riscv64": 220}  # clone(flags, 0, ...): a fork with flags
PR_SET_DUMPABLE = 4
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 2, 4, 8, 16384, 1 << 18
MAX_REQUEST = 1 << 20
CHILD_FDS = 4  # the child's socket, stdout, stderr, events: at 3, 1, 2, 4 in the clone


def _load_main():
    spec = importlib.util.spec_from_file_location("_grader_child_main", os.path.join(HERE, "main.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules["_grader_child_main"] = module
    spec.loader.exec_module(module)  # loads every sibling, as a cold child does
    return module


def serve(sock: socket.socket, main) -> None:
    """Answer requests until the grader closes its end (or goes away)."""
    buffer = bytearray(MAX_REQUEST)
    libc = ctypes.PyDLL(None, use_errno=True)  # (PyDLL: the GIL stays held across clone, as in os.fork)
    libc.syscall.restype = ctypes.c_long
    number = SYS_CLONE.get(os.uname().machine)
    while True:
        try:
            size, ancillary, flags, _ = sock.recvmsg_into([buffer], socket.CMSG_SPACE(CHILD_FDS * 4))
        except InterruptedError:
            continue
        except OSError:
            break
        if size == 0:
            break
        fds = []
        for level, kind, data in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds += list(memoryview(data[: len(data) - len(data) % 4]).cast("i"))
        try:
            if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC) or len(fds) != CHILD_FDS or number is None:
                raise OSError(f"refused: {'no clone system call known on ' + os.uname().machine if number is None else 'a malformed request'}")
            length = int.from_bytes(buffer[:4], "big")
            header = json.loads(bytes(buffer[4: 4 + length]))
            pid = spawn(libc, number, header, memoryview(buffer)[4 + length: size], fds, main)
            reply = {"pid": pid}
        except Exception as exc:  # noqa: BLE001 - the grader starts this child cold instead
            reply = {"error": f"{type(exc).__name__}: {exc}"[:500]}
        finally:
            for fd in fds:
                os.close(fd)
            buffer[:size] = bytes(size)  # nothing of this request stays in the template
        try:
            sock.send(json.dumps(reply).encode())
        except OSError:
            break
    os._exit(0)


def spawn(libc, number: int, header: dict, config: memoryview, fds: list[int], main) -> int:
    """Clone this process into the grader's child in the namespaces ``header`` names; return its pid."""
    flags = CLONE_PARENT | signal.SIGCHLD
    for name in header["namespaces"]:
        flags |= NAMESPACES[name]
    outside = (os.geteuid(), os.getegid())
    api = ctypes.pythonapi
    api.PyOS_BeforeFork()
    pid = libc.syscall(ctypes.c_long(number), ctypes.c_ulong(flags), ctypes.c_ulong(0), ctypes.c_ulong(0),
                       ctypes.c_ulong(0), ctypes.c_ulong(0))
    if pid == 0:
        api.PyOS_AfterFork_Child()
        try:
            become(header, bytes(config), fds, outside, main)
        except BaseException as exc:  # noqa: BLE001 - never back into the template's loop
            try:
                os.write(2, f"the warm child could not start: {type(exc).__name__}: {exc}\n".encode())
            finally:
                os._exit(1)
        os._exit(1)
    error = ctypes.get_errno()
    api.PyOS_AfterFork_Parent()
    if pid < 0:
        raise OSError(error, f"clone({', '.join(header['namespaces']) or 'no namespaces'}): {os.strerror(error)}")
    return pid


def become(header: dict, config_bytes: bytes, fds: list[int], outside: tuple[int, int], main) -> None:
    """In the clone: turn this copy of the template into the child a cold start would have made."""
    os.setsid()  # its pid is its session's id: the grader kills the whole session by it
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # as after an exec (the template is not), so it may map its ids
    namespaces = header["namespaces"]
    if "user" in namespaces:  # what ``unshare --map-root-user`` writes: root inside, the grader's ids outside
        for name, text in (("setgroups", "deny"), ("uid_map", f"0 {outside[0]} 1"), ("gid_map", f"0 {outside[1]} 1")):
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)
    if "mount" in namespaces:
        mount = main.namespaces.mounter()
        mount(None, "/", None, MS_REC | MS_PRIVATE)  # (unshare's default propagation)
        if "pid" in namespaces:  # ``unshare --mount-proc``: a /proc of this pid namespace
            mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    null = os.open(os.devnull, os.O_RDWR)
    moved = [fcntl.fcntl(fd, fcntl.F_DUPFD, 64) for fd in (*fds, null)]  # out of the way of 0-4 first
    for fd, target in zip(moved, (3, 1, 2, 4, 0)):
        os.dup2(fd, target)
    os.closerange(5, os.sysconf("SC_OPEN_MAX"))  # the template's socket and every copy made here
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    sys.dont_write_bytecode, sys.pycache_prefix = True, None  # as a cold child's -B: none for student modules
    os.environ.clear()
    os.environ.update(header["env"])
    os.chdir(header["cwd"])
    legacy = sys.modules.get("numpy.random")  # (numpy imports it on first use: only if the preload did)
    if legacy is not None:  # a cold child draws its own global state from the OS
        legacy.seed()
    config = json.loads(config_bytes)
    config["fd"], config["events_fd"] = 3, 4
    main.run(config)


def start() -> None:
    settings = json.loads(sys.argv[1])
    sock = socket.socket(fileno=settings["fd"])
    try:
        main = _load_main()
        sys.path.extend(p for p in settings["library_paths"] if p not in sys.path)
        for name in settings["preload"]:
            importlib.import_module(name)
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # no ptrace, no /proc/PID/mem
        threads = len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else 1
        ready = {"ready": True, "threads": threads}
    except BaseException as exc:  # noqa: BLE001
        sock.send(json.dumps({"ready": False, "error": f"{type(exc).__name__}: {exc}"[:500]}).encode())
        os._exit(1)
    sock.send(json.dumps(ready).encode())
    serve(sock, main)


if __name__ == "__main__":
    start()
