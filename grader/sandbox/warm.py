"""Warm children: sandbox children forked from a template that has imported numpy (or torch)
once, instead of a fresh Python per part that imports it again (see SECURITY.md, "Warm children").

    template = Template(("numpy",), threads=1)       # python child/template.py: imports, then waits
    Session(folder, limits, template=template)       # its child: a clone of the template, confined
    template.close()

The template (``child/template.py``) holds nothing of the grader's: it is a fresh
``python -I -S`` with the children's environment that imported the preload modules and the
child's own files; it never sees a submission, a reference or a result, only each child's
config (paths and limits), which it does not parse and zeroes once the clone is made.  Each
clone is made with ``CLONE_PARENT``: it is this process's child, as a cold child is, so that
``ChildProcess`` waits for it, reads its exit status and kills its session the same way.

Where the template cannot start, is not single-threaded after its imports, or refuses a clone
(no such namespaces here, an unknown architecture, the template gone), ``spawn`` raises
``WarmUnavailable`` and the session starts cold, saying why in its start notes.

Two owners: a ``grader check`` of several parts starts a template of its own for its numpy
children and closes it at the end (``sessions.Prestarted``); a batch worker calls ``enable()``
and every session of that process then forks from a template per (preload, threads), started
on first use and kept for the worker's life (``shared``).  ``GRADER_SANDBOX_WARM=0`` turns every
warm start off (cold children, as before); ``=1`` turns ``shared`` on in any process (the tests).
"""

from __future__ import annotations

import atexit
import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
import weakref
from array import array
from pathlib import Path

TEMPLATE_SCRIPT = Path(__file__).with_name("child") / "template.py"
SIGN = "grader-sandbox-template"  # on its command line (so on every clone's): a sandbox process, for ``ps``
REPLY_TIMEOUT_S = 10.0
# What a template imports besides a preload, once for all its children, where each child would
# otherwise import it on first use: the first optimizer a process makes imports torch._dynamo (torch 2.x
# wraps Optimizer's methods with torch._disable_dynamo), about a second in every transfer child's
# make_optimizer.  (A cold child, and the class's reference child, import it as before, when used: a
# template pays it once per batch worker, and each submission after that saves it.)
TEMPLATE_ALSO = {("numpy", "torch", "torch.optim"): ("torch._dynamo",)}
_shared: dict[tuple, Template] = {}
_shared_lock = threading.Lock()
_enabled = False
_every: weakref.WeakSet = weakref.WeakSet()  # every Template of this process, for ``_after_fork``


class WarmUnavailable(Exception):
    """No warm child this time (the message says why); the session starts cold."""


def switched_off() -> bool:
    return os.environ.get("GRADER_SANDBOX_WARM") == "0"


def enable() -> None:
    """Let every session of this process fork from a shared template (a batch worker)."""
    global _enabled
    _enabled = True


def shared(preload, threads: int) -> Template | None:
    """This process's template for ``preload`` and ``threads`` when shared templates are on
    (``enable``, or GRADER_SANDBOX_WARM=1), started on first use and again if it ended; else None."""
    if switched_off() or not (_enabled or os.environ.get("GRADER_SANDBOX_WARM") == "1"):
        return None
    key = (tuple(preload), threads, os.getpid())  # (a forked process never uses its parent's)
    with _shared_lock:
        template = _shared.get(key)
        if template is None or not template.usable:
            if template is not None:
                template.close()
            template = _shared[key] = Template(preload, threads)
            if len(_shared) == 1 or not any(k[2] == key[2] for k in _shared if k != key):
                _register_exit()
        return template


def _register_exit() -> None:
    import multiprocessing.util

    atexit.register(close_shared)
    # a batch worker (multiprocessing) leaves through os._exit, past atexit: its finalizers still run
    multiprocessing.util.Finalize(None, close_shared, exitpriority=0)


def close_shared() -> None:
    with _shared_lock:
        for key in [k for k in _shared if k[2] == os.getpid()]:
            _shared.pop(key).close()


def _after_fork() -> None:
    """In a process forked from this one (a batch worker): close the copies of the templates'
    sockets, which are the parent's to use, so that a template sees its end when the parent closes it."""
    for template in list(_every):
        template._socket.close()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


class Adopted:
    """A clone of the template as ``ChildProcess`` needs it: the part of ``subprocess.Popen`` it
    uses (pid, returncode, poll, wait), for a child this process did not start with Popen."""

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                self.returncode = -9  # reaped elsewhere: it is gone, how is unknown
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        if self.returncode is None:
            _until_ended(self.pid, timeout)  # (a pidfd wakes us as it ends; the loop below reaps it)
        delay = 0.0005
        while self.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(f"warm child {self.pid}", timeout)
            time.sleep(delay)
            delay = min(delay * 2, 0.02)
        return self.returncode


def bytecode_flags() -> list[str]:
    """The template's bytecode settings, as this process has them (``-I`` hides PYTHONDONTWRITEBYTECODE
    and PYTHONPYCACHEPREFIX from it): it compiles the child's files once and reuses them, as the
    grader's own modules are, instead of compiling them at every start; -B where this process does not
    write bytecode.  Its clones write none (``template.become``): they import student code."""
    flags = ["-B"] if sys.dont_write_bytecode else []
    return flags + (["-X", f"pycache_prefix={sys.pycache_prefix}"] if sys.pycache_prefix else [])


def _until_ended(pid: int, timeout: float | None) -> None:
    """Wait until the child ``pid`` has ended (or ``timeout``), without reaping it: on its pidfd where
    the kernel has them (Linux 5.3), so that the wait ends as the child does, not at the next poll."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        return
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        poller.poll(None if timeout is None else max(0, int(timeout * 1000)))
    finally:
        os.close(fd)


class Template:
    """One template process (see the module docstring).  Thread-safe: one request at a time."""

    def __init__(self, preload, threads: int, start_timeout_s: float = 60.0):
        from .session import child_env, library_paths, preload_imports  # (session imports this module)

        self.preload, self.threads = tuple(preload), threads
        self.owner = os.getpid()
        self.why_not: str | None = None  # set once it cannot be used
        self._lock = threading.Lock()
        _every.add(self)
        self._socket, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        settings = {"fd": theirs.fileno(), "library_paths": library_paths(self.preload),
                    "preload": preload_imports(self.preload) + [m for m in TEMPLATE_ALSO.get(self.preload, ())
                                                                if m not in self.preload]}
        env = dict(child_env(Path("/nonexistent"), threads), HOME="/nonexistent", TMPDIR="/tmp")
        started = time.monotonic()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-S", *bytecode_flags(), "-u", str(TEMPLATE_SCRIPT), json.dumps(settings),
                 SIGN],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),), cwd="/", env=env, start_new_session=True, close_fds=True)
        except OSError as exc:
            self.proc = None
            self.why_not = f"the warm template could not start: {exc}"
            self._socket.close()
            return
        finally:
            theirs.close()
        ready = self._reply(start_timeout_s)
        if not isinstance(ready, dict) or ready.get("ready") is not True:
            self.why_not = f"the warm template did not start: {ready.get('error') if isinstance(ready, dict) else ready}"
        elif ready.get("threads") != 1:  # a fork keeps one thread of them, and a user namespace needs one
            self.why_not = f"the warm template runs {ready.get('threads')} threads after its imports, not 1"
        self.startup_s = time.monotonic() - started
        if self.why_not:
            self.close()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def usable(self) -> bool:
        return self.why_not is None and self.owner == os.getpid() and self.proc.poll() is None

    def spawn(self, namespaces: list[str], env: dict, cwd: Path, config: dict, fds) -> Adopted:
        """A clone of the template, this process's child, in ``namespaces`` (``process.namespace_kinds``),
        with ``env``, ``cwd`` and ``fds`` (its socket, stdout, stderr and events pipes) for ``config``."""
        header = json.dumps({"namespaces": list(namespaces), "env": env, "cwd": str(cwd)}).encode()
        message = len(header).to_bytes(4, "big") + header + json.dumps(config).encode()
        with self._lock:
            if not self.usable:
                raise WarmUnavailable(self.why_not or "the warm template has ended")
            try:
                self._socket.sendmsg([message], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array("i", fds))])
            except OSError as exc:
                self.why_not = f"the warm template stopped answering ({exc})"
                raise WarmUnavailable(self.why_not) from None
            reply = self._reply(REPLY_TIMEOUT_S)
        if not isinstance(reply, dict):
            self.why_not = f"the warm template stopped answering ({reply})"
            raise WarmUnavailable(self.why_not)
        if type(reply.get("pid")) is not int or reply["pid"] <= 0:
            raise WarmUnavailable(f"the warm template could not fork this child: {reply.get('error')}")
        return Adopted(reply["pid"])

    def _reply(self, timeout_s: float):
        self._socket.settimeout(timeout_s)
        try:
            data = self._socket.recv(1 << 16)
        except (OSError, socket.timeout) as exc:
            return f"no reply: {exc}"
        if not data:
            return "it has ended"
        try:
            return json.loads(data)
        except ValueError:
            return "a garbled reply"

    def close(self) -> None:
        """End the template (its clones live on: they are this process's children, not its)."""
        if self.why_not is None:
            self.why_not = "the warm template was closed"
        if self.owner != os.getpid() or self.proc is None:
            return
        self._socket.close()  # it leaves when it reads the end of its socket
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
