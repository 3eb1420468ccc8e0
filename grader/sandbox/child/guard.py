"""The guard: an audit hook (PEP 578) that refuses what student code may not do, and tells
the parent at once, over a pipe of its own.  Built so that student code, in the same process,
cannot argue with it:

1. **It never runs student code.**  It reads an argument only when its type is exactly str,
   bytes, int, tuple or None (never ``isinstance``, ``==``, ``str()``, ``__fspath__`` or
   ``__index__`` of a student's object), and calls only C functions (``os.lstat``,
   ``os.readlink``, ``os.write``, str's methods), never Python code whose ``__code__`` or
   globals could be replaced.  CPython's own events carry plain values (paths are decoded by
   then); anything else is an event forged with ``sys.audit``, refused as tampering.
2. **Its state cannot be changed.**  All it uses is bound, by value, to the hook's default
   arguments when it is made: immutable values and C functions; nothing is looked up in a
   module's globals or in builtins.  A frame of the hook that student code gets hold of (a
   refusal's traceback, a signal handler running during it) shows these values, and writing to
   it changes that frame only; nothing Python can reach refers to the hook itself (gc's walks,
   ``sys.settrace``/``setprofile``, which could move a running frame, and ``sys.addaudithook``
   are refused).
3. **What it sees reaches the parent before it refuses**: one line, ``code<TAB>detail<LF>``, of
   at most PIPE_BUF bytes (atomic), on a pipe only the parent reads.  Student code can add lines
   (accusing itself) but not take one back; if the pipe's descriptor was closed or replaced
   (its inode is checked before each write), the hook ends the process with the status the
   parent gave it, reported as tampering.  The rest of the child reports its findings through
   the same line (``sys.audit("grader.event", code, detail)``).
4. **It fails closed.**  It catches no exception but to end the process: whatever goes wrong in
   it (a malformed event, a signal handler that raises), the audited operation does not happen.

What it cannot see: native code (numpy's, torch's, ``ctypes`` where a part allows it), and a
second thread that swaps a descriptor between its check and the call (``dir_fd``-relative
calls); the namespaces and the user switch are the wall there.  Standard library only: loaded
by path by ``main.py``.
"""

from __future__ import annotations

import os
import sys

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
PROCESS_EVENTS = frozenset({"os.fork", "os.forkpty", "os.system", "os.exec", "os.posix_spawn", "os.spawn",
                            "subprocess.Popen", "pty.spawn"})
NETWORK_EVENTS = frozenset({"socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg",
                            "socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr",
                            "socket.getnameinfo", "socket.sethostname"})
NATIVE_EVENTS = frozenset({"ctypes.dlopen", "ctypes.dlsym", "ctypes.dlsym/handle", "ctypes.call_function",
                           "ctypes.cdata", "ctypes.cdata/buffer", "ctypes.PyObj_FromPtr", "ctypes.string_at",
                           "ctypes.wstring_at"})
# ways to reach or redirect the guard's own frames and objects: never needed to compute a layer
TAMPER_EVENTS = frozenset({"gc.get_objects", "gc.get_referrers", "gc.get_referents", "sys.settrace",
                           "sys.setprofile", "sys.addaudithook", "sys.monitoring.register_callback"})
# (event, ((index of a path it changes, index of that path's dir_fd or -1), ...)): a tuple, not a dict,
# since a dict the hook reads could be changed (and a key with a student's __eq__ slipped in)
PATH_EVENTS = (
    ("os.mkdir", ((0, 2),)), ("os.remove", ((0, 1),)), ("os.rmdir", ((0, 1),)), ("os.rename", ((0, 2), (1, 3))),
    ("os.chmod", ((0, 2),)), ("os.chown", ((0, 3),)), ("os.truncate", ((0, -1),)), ("os.utime", ((0, 3),)),
    ("shutil.rmtree", ((0, 1),)), ("os.setxattr", ((0, -1),)), ("os.removexattr", ((0, -1),)),
    ("os.chflags", ((0, -1),)),
)
PATH_EVENT_NAMES = frozenset(name for name, _ in PATH_EVENTS)
LINK_EVENTS = frozenset({"os.symlink", "os.link"})  # refused: a link could be swapped under the guard's check
# imports refused to everyone: shared memory made without an "open" event, that outlives the child
LASTING_MODULES = ("_posixshmem", "multiprocessing.shared_memory")
# where every session's files may lie side by side: closed to reads but for the session's own
SHARED_FOLDERS = ("/tmp/", "/var/tmp/", "/dev/shm/", "/run/shm/", "/dev/mqueue/", "/run/user/")
SINKS = frozenset({"/dev/null", "/dev/zero", "/dev/full"})  # writable besides $TMPDIR
# the links under /proc that are plain paths; every other one (fd/N, cwd, root, exe, map_files/...)
# points at whatever a descriptor is now, which another thread can change after the check
PLAIN_PROC_LINKS = frozenset({"/proc/self", "/proc/thread-self", "/proc/mounts", "/proc/net"})
RELAYED = "grader.event"  # (code, detail): the rest of the child's findings, written as the guard's
WATCHED = (frozenset({"open", "import", "os.listdir", "os.scandir", "os.kill", "os.killpg", RELAYED})
           | PROCESS_EVENTS | NETWORK_EVENTS | NATIVE_EVENTS | TAMPER_EVENTS | PATH_EVENT_NAMES | LINK_EVENTS)
MAX_DETAIL = 500
MAX_LINKS = 40


def install_guard(rules: dict | None, events_fd: int, lost_status: int, own_files, system_folders) -> None:
    """Watch everything the process does from now on (``make_hook``); nothing can remove it."""
    sys.addaudithook(make_hook(rules, events_fd, lost_status, own_files, system_folders))


def make_hook(rules: dict | None, events_fd: int, lost_status: int, own_files, system_folders):
    """The hook that refuses what ``rules`` forbid (the Session's: forbidden modules, protected,
    readable, writable and visible folders, and whether processes, network and ctypes are
    allowed; None: refuse nothing, only relay the child's findings), writing each event to
    ``events_fd``; it ends the process with ``lost_status`` when that is no longer the pipe it
    was.  ``own_files`` (the child's sources) stay readable; ``system_folders`` are the top-level
    folders every session may read (but /tmp and SHARED_FOLDERS).  A refusal raises where the
    student's code made the call, as the OS would."""
    st = os.fstat(events_fd)
    encoding, errors = sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()
    if rules is None:
        policy = None
    else:
        folder = lambda p: p.rstrip("/") + "/"  # noqa: E731 - "/a/b" -> "/a/b/": a prefix that matches only inside
        policy = (
            tuple(rules["forbidden"]), tuple(rules["blocked"]),
            tuple((folder(f), m) for f, m in rules["forbidden_folders"]),
            tuple(folder(p) for p in rules["protected"]), tuple(folder(p) for p in rules["readable"]),
            tuple(folder(p) for p in rules["writable"]), tuple(folder(p) for p in rules["visible"]),
            frozenset(own_files), frozenset(system_folders) - {"tmp"},
            bool(rules["processes"]), bool(rules["network"]), bool(rules["native_code"]),
            os.getpid(), str(os.getpid()),
        )
    channel = (events_fd, st.st_dev, st.st_ino, lost_status)
    native = (type, len, str, bytes, int, tuple, str.encode, bytes.decode, tuple.__getitem__, os.lstat,
              os.readlink, os.getcwd, os.access, os.fstat, os.write, os._exit, OSError, PermissionError,
              ModuleNotFoundError, encoding, errors)
    return _hook(WATCHED, policy, channel, native)


def _hook(watched, policy, channel, native):
    """The hook itself (a function of its default arguments only; see the module docstring)."""

    def hook(event, args, watched=watched, policy=policy, channel=channel, native=native,
             paths=PATH_EVENTS, path_names=PATH_EVENT_NAMES, links=LINK_EVENTS, processes=PROCESS_EVENTS,
             network=NETWORK_EVENTS, native_events=NATIVE_EVENTS, tamper=TAMPER_EVENTS, lasting=LASTING_MODULES,
             shared=SHARED_FOLDERS, sinks=SINKS, plain_links=PLAIN_PROC_LINKS, write_flags=WRITE_FLAGS,
             relayed=RELAYED, max_detail=MAX_DETAIL, max_links=MAX_LINKS):
        if event not in watched:
            return
        (type_, len_, str_, bytes_, int_, tuple_, encode, decode, item, lstat, readlink, getcwd, access, fstat,
         write, exit_, OSError_, PermissionError_, ModuleNotFoundError_, fs_encoding, fs_errors) = native
        n = len_(args)
        first = args[0] if n else None
        code = detail = None
        error = PermissionError_
        refuse = True
        checks = ()  # (path or fd, its dir_fd (None: the cwd, -2: unknown), "read"/"list"/"write", fd allowed)
        if event == relayed:
            if n == 2 and type_(first) is str_ and type_(args[1]) is str_ and 0 < len_(first) <= 40:
                code, detail, refuse = first, args[1], False
            else:
                code, detail = "tamper", "raised a malformed grader.event audit event"
        elif policy is None:
            return
        else:
            (forbidden, blocked, forbidden_folders, protected, readable, writable, visible, own_files, system,
             allow_processes, allow_network, allow_native, me, me_text) = policy
            if event == "open":
                mode = args[1] if n > 1 else None
                flags = args[2] if n > 2 else 0
                if (mode is not None and type_(mode) is not str_) or type_(flags) is not int_ or n > 3:
                    code, detail = "tamper", "raised a malformed 'open' audit event"
                else:
                    writing = flags & write_flags or (mode is not None and ("w" in mode or "a" in mode
                                                                            or "x" in mode or "+" in mode))
                    checks = ((first, None if mode is not None else -2, "write" if writing else "read", False),)
            elif event == "import":
                if type_(first) is not str_:
                    code, detail = "tamper", "raised a malformed 'import' audit event"
                else:
                    error = ModuleNotFoundError_
                    for module in blocked:
                        if first == module or first.startswith(module + "."):
                            code, detail = "grader", f"tried to import the grader ({first})"
                    for module in forbidden:
                        # let through, and said: the child's finder gives it a stand-in with nothing of the
                        # library in it (calls._Forbidden, whose use is reported); the real package cannot
                        # load past this hook, since its files are hidden and reading them counts as importing it
                        if code is None and (first == module or first.startswith(module + ".")):
                            code, detail, refuse = "stand-in", (f"imported {first}, a forbidden library: the "
                                                                "sandbox's stand-in took its place"), False
                    for module in lasting:
                        if code is None and (first == module or first.startswith(module + ".")):
                            code, detail = "refused", (f"tried to import {first}: shared memory would outlive "
                                                       "the sandbox")
            elif event in path_names:
                found = []
                for name, places in paths:
                    if name == event:
                        for i, f in places:
                            found.append((args[i] if i < n else None, args[f] if 0 <= f < n else None, "write",
                                          True))
                checks = found
            elif event == "os.listdir" or event == "os.scandir":
                checks = ((first, None, "list", False),)
            elif event in links:
                code, detail = "refused", f"tried to make a link ({event}): links are not allowed in the sandbox"
            elif event in processes:
                if not allow_processes:
                    code, detail = "process", f"tried to start a process ({event})"
            elif event == "os.kill" or event == "os.killpg":
                if not (event == "os.kill" and type_(first) is int_ and first == me):
                    target = f"{first}" if type_(first) is int_ else "?"
                    sig = f"{args[1]}" if n > 1 and type_(args[1]) is int_ else "?"
                    code, detail = "signal", f"tried to send signal {sig} to process {target}"
            elif event in network:
                if not allow_network:
                    # (host, port, ...) or (socket, address, ...)
                    address = first if type_(first) is str_ else args[1] if n > 1 else None
                    if type_(address) is tuple_ and len_(address) >= 2 and type_(address[0]) is str_:
                        address = address[0] + (f":{address[1]}" if type_(address[1]) is int_ else "")
                    shown = f" {address[:100]}" if type_(address) is str_ else ""
                    code, detail = "network", f"tried to use the network ({event}{shown})"
            elif event in native_events:
                if not allow_native:
                    code, detail = "native-code", f"tried to run native code through ctypes ({event})"
            elif event in tamper:
                code, detail = "tamper", f"tried to reach the interpreter's machinery ({event})"
            for raw, dir_fd, intent, fd_allowed in checks:
                # 1. a plain path, as text (a descriptor: what it is open on, for the calls that change it)
                if type_(raw) is bytes_:
                    raw = decode(raw, fs_encoding, fs_errors)
                elif type_(raw) is int_:
                    if not fd_allowed or raw < 0:
                        continue  # open(fd), listdir(fd): a file already open, checked when it was opened
                    raw = readlink(f"/proc/self/fd/{raw}")
                    if not raw.startswith("/"):
                        continue  # a pipe or a socket
                elif raw is None:
                    continue
                if type_(raw) is not str_ or "\0" in raw:
                    code, detail = "tamper", f"handed the guard an object it does not read as a path ({event})"
                    break
                # 2. absolute
                if not raw.startswith("/"):
                    if dir_fd is not None and type_(dir_fd) is not int_:
                        code, detail = "tamper", f"handed the guard an object it does not read as a folder ({event})"
                        break
                    if dir_fd == -2:
                        code, detail = "refused", (f"opened {raw[:200]} with os.open and a relative path (its folder "
                                                   "is not known to the guard): use an absolute path")
                        break
                    raw = (readlink(f"/proc/self/fd/{dir_fd}") if dir_fd is not None and dir_fd >= 0
                           else getcwd()) + "/" + raw
                # 3. every link resolved, as the kernel will (os.path.realpath, in C calls only)
                pending = raw.split("/")
                pending.reverse()
                path, hops, through = "", 0, None
                while pending:
                    name = pending.pop()
                    if name == "" or name == ".":
                        continue
                    if name == "..":
                        path = path[:path.rfind("/")] if path else ""
                        continue
                    here = path + "/" + name
                    if access(here, 0, follow_symlinks=False) and (item(lstat(here), 0) & 0o170000) == 0o120000:
                        hops += 1
                        if here.startswith("/proc/") and here not in plain_links:
                            through = here
                        target = readlink(here)
                        if target.startswith("/"):
                            path = ""
                        more = target.split("/")
                        more.reverse()
                        pending += more
                        if hops > max_links:
                            break
                        continue
                    path = here
                path = path or "/"
                if hops > max_links:
                    code, detail = "refused", f"used a path with more than {max_links} links: {raw[:200]}"
                    break
                if through is not None:
                    code, detail = "refused", (f"opened {raw[:200]} through {through}, a link to whatever a "
                                               "descriptor is open on now, which the guard cannot check")
                    break
                # 4. what the path may be used for
                inside = path + "/"
                how = "listing" if intent == "list" else "reading" if intent == "read" else "writing"
                for prefix, module in forbidden_folders:
                    if inside.startswith(prefix):  # (an ImportError: what `try: import x` expects)
                        code, detail = "forbidden-import", (f"imported a forbidden library at run time: {module} "
                                                            f"({how} {path})")
                        error = ModuleNotFoundError_
                if code is not None:
                    break
                if intent == "write":
                    if not inside.startswith(writable) and path not in sinks:
                        code, detail = "write", f"wrote outside its scratch folder ($TMPDIR): {path}"
                        break
                    continue
                if (intent == "read" and inside.startswith(protected) and not inside.startswith(readable)
                        and path not in own_files):
                    code, detail = "grader", f"tried to read the grader's files: {path}"
                    break
                top = path[1:].partition("/")[0]
                if inside.startswith(visible) or path in own_files:
                    continue
                if top == "proc":
                    owner = path[6:].partition("/")[0]
                    if owner.isdigit() and owner != me_text:
                        code, detail = "read", f"tried to read another process's /proc entries: {path}"
                        break
                if (top and top not in system) or inside.startswith(shared):
                    verb = "list" if intent == "list" else "read"
                    code, detail = "read", (f"tried to {verb} outside its sandbox (not its submission, Python or "
                                            f"its libraries): {path}")
                    break
        if code is None:
            return
        # the event, on its way to the parent before anything else happens
        fd, dev, ino, lost_status = channel
        detail = detail.replace("\t", " ").replace("\n", " ")
        if len_(detail) > max_detail:
            detail = detail[:max_detail] + "..."
        line = encode(f"{code}\t{detail}\n", "utf-8", "backslashreplace")
        try:
            now = fstat(fd)
        except OSError_:
            exit_(lost_status)
        if item(now, 1) != ino or item(now, 2) != dev:
            exit_(lost_status)
        write(fd, line)
        if refuse:
            raise error(f"not allowed in the grader's sandbox: {detail}")

    return hook
