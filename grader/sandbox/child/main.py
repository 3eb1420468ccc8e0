"""The child side of the sandbox: the only program in which student code runs.

Started by ``grader.sandbox.process`` as

    python -I -S -B -u .../grader/sandbox/child/main.py CONFIG_JSON

in its own session, with the submission's scratch copy as cwd, a stripped environment, stdin
from /dev/null, stdout and stderr on pipes that the parent reads and caps, one private socket
(fd ``config["fd"]``) for requests and replies, and one pipe (fd ``config["events_fd"]``) on
which the guard reports what it saw.  ``grader`` itself is not on the child's path: the files
of this folder (and ``../wire.py``) are loaded by path and use the standard library only.  One
file per mechanism, each small enough to review on its own (as nsjail keeps ``mnt``, ``pid``,
``user``...):

- ``namespaces.py``: mounts (read-only, private /tmp, /dev/shm, /dev) and pid 1 of the namespace
- ``privileges.py``: capabilities, no_new_privs, the switch to the sandbox's user and group
- ``limits.py``: resource limits
- ``syscalls.py``: the system-call filter (nothing that outlives the child)
- ``guard.py``: the audit hook that refuses and reports (the in-process wall)
- ``watch.py``: replaced library functions, the import allow-list (notices only)
- ``calls.py``, ``failures.py``: one request: import, call, time, reply; messages for students
- ``main.py`` (this file): start-up in that order, then the request loop

Start-up, in order: confine the file system (in a mount namespace), drop privileges, become
the namespace's init (the worker goes on), set the limits, import the ``preload`` modules
(numpy; torch for the transfer part) with only the library folders on sys.path, so that a
student's ``numpy.py`` cannot stand in for numpy, install the system-call filter, put the
submission folder first on sys.path, install the import policy and the guard, say it is ready.
Then answer requests one at a time until the parent closes the socket.

A child of the warm template (``template.py``) is a fork of a process that ran this file's
imports and its preload imports, and enters ``run`` with its namespaces made and its descriptors
in place; from there on it is the same program.

Nothing here trusts student code to leave it alone: the parent treats every reply as untrusted
plain data, enforces time limits by killing the process group, and never unpickles.
"""

from __future__ import annotations

import faulthandler
import importlib
import importlib.util
import json
import os
import socket
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
WIRE = os.path.join(os.path.dirname(HERE), "wire.py")


def load(name: str, path: str | None = None):
    """Import this folder's ``name``.py (or the file ``path``) as ``_grader_child_<name>``: by path,
    since the folder is not on sys.path; registered in sys.modules so that siblings can import it."""
    module_name = f"_grader_child_{name}"
    spec = importlib.util.spec_from_file_location(module_name, path or os.path.join(HERE, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


wire = load("wire", WIRE)
namespaces, privileges, limits, syscalls = load("namespaces"), load("privileges"), load("limits"), load("syscalls")
guard, watch, failures, calls = load("guard"), load("watch"), load("failures"), load("calls")
OWN_FILES = frozenset([WIRE] + [os.path.join(HERE, n) for n in os.listdir(HERE) if n.endswith(".py")])


def main() -> None:
    run(json.loads(sys.argv[1]))


def run(config: dict) -> None:
    """Everything after the start: confine, drop, limit, preload, filter, guard, then serve
    requests until the parent is done; never returns.  ``template.py`` calls it in a child
    forked from the warm template, whose preload modules are already imported."""
    sys.argv = ["submission"]
    channels = (config["fd"], config["events_fd"])
    try:
        confinement, notes = ("not requested", []) if not config.get("confine") else \
            namespaces.confine(config["confine"])
    except namespaces.ConfinementError as exc:
        child = calls.Child(config, socket.socket(fileno=config["fd"]), wire, OWN_FILES)
        child.send({"ready": False, "confinement_failed": True, "notes": [],
                    "error": f"the file system could not be confined: {exc}"})
        os._exit(1)
    needed = [p for p in sys.path + config["library_paths"] if os.path.isdir(p)] + [config["folder"]]
    user, more = privileges.drop_privileges(config.get("user"), needed, config["home"])
    notes += more
    if config.get("init") and os.getpid() == 1:
        namespaces.become_init(channels)  # only the worker returns
    host_root = hasattr(os, "geteuid") and os.geteuid() == 0 and privileges.outside_uid() in (None, 0)
    notes += limits.set_limits(config["limits"], host_root)
    for fd in channels:
        os.set_inheritable(fd, False)
    child = calls.Child(config, socket.socket(fileno=config["fd"]), wire, OWN_FILES)
    faulthandler.enable()  # a crash in native code leaves a traceback on the captured stderr
    sys.path.extend(p for p in config["library_paths"] if p not in sys.path)
    try:
        for name in config["preload"]:
            importlib.import_module(name)
    except BaseException as exc:  # noqa: BLE001
        child.send({"ready": False, "error": f"could not import {name}: {failures.exception_line(exc)}",
                    "notes": notes})
        os._exit(1)
    filtered, more = syscalls.forbid_lasting_syscalls() if config.get("filter_syscalls", True) else (False, [])
    notes += more
    folder = config["folder"]
    sys.path.insert(0, folder)
    sys.meta_path.insert(0, watch.ImportPolicy(folder, config["allowed_modules"], config["blocked_modules"],
                                               OWN_FILES))
    if config.get("rules") is not None:
        child.watch = watch.Watch()
    guard.install_guard(config.get("rules"), config["events_fd"], config["guard_lost_status"], OWN_FILES,
                        namespaces.SYSTEM_FOLDERS)
    child.send({"ready": True, "pid": os.getpid(), "notes": notes, "filesystem": confinement, "user": user,
                "syscalls": filtered})
    requests: dict[bytes, dict] = {}
    while True:
        try:
            body, args = child.recv(), child.recv()  # a request, then its arguments (decoded once per repeat)
            if body is None or args is None:  # the parent is gone or done
                break
            known = requests.get(bytes(body))  # (the same few requests, again and again: decoded once)
            if known is None:
                known = wire.decode(body)
                if len(requests) < 64:
                    requests[bytes(body)] = known
            request = dict(known, args=args)
            reply = child.handle(request)
        except (OSError, wire.WireError, KeyError, TypeError, ValueError, struct.error) as exc:
            reply = {"ok": False, "value": None, "kind": "channel", "traceback": None, "durations": [], "notes": [],
                     "error": f"the sandbox could not read the request ({type(exc).__name__}: "
                              f"{failures.safe_text(exc)})"}
        if not reply.get("answered"):  # (a request of several calls has answered each already)
            child.send(reply)
    os._exit(0)  # not sys.exit: a student's non-daemon thread or atexit hook must not keep us alive


if __name__ == "__main__":
    main()
