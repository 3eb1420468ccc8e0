"""The child process as the parent sees it: start it, talk to it, kill it.

``ChildProcess`` owns one ``python child/main.py`` process and its four channels:
the private socket for requests and replies, the stdout and stderr pipes whose
bytes are kept up to a cap, and the guard's pipe, on which the child's audit
hook writes one line per event as it happens.  ``exchange`` sends one request
and waits for one reply while draining the pipes, so a student who prints a lot
never blocks and never mixes with the reply; it gives up at a deadline.  ``kill``
ends the child's whole session (process group plus a /proc scan) before
reaping the child, so that its process id cannot have been reused yet.

No policy lives here (what a limit means, what to tell a student); that is
``session.py``'s.
"""

from __future__ import annotations

import functools
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import wire

CHILD_SCRIPT = Path(__file__).with_name("child") / "main.py"
POLL_S = 0.05  # how often a wait looks whether the child is still alive
DEATH_GRACE_S = 0.5  # after the child died, how long to wait for its last bytes
EVENT_LINES = 200  # distinct lines of the guard kept per call (a loop of refusals repeats itself)
MAX_EVENT_LINE = 4096  # PIPE_BUF: the guard writes nothing longer
GUARD_LOST_STATUS = 117  # the child's exit status when the guard's pipe was closed or replaced under it
MAX_IOV = 512  # buffers per sendmsg (the kernel takes up to IOV_MAX, 1024)


@dataclass
class Capture:
    """The first ``limit`` bytes written to one stream, and how many more there were."""

    limit: int
    kept: bytearray = field(default_factory=bytearray)
    dropped: int = 0

    def add(self, data: bytes) -> None:
        room = self.limit - len(self.kept)
        if room > 0:
            self.kept += data[:room]
        self.dropped += max(0, len(data) - max(room, 0))

    def text(self) -> str:
        out = self.kept.decode("utf-8", errors="replace")
        if self.dropped:
            out += f"\n[... {self.dropped} more bytes not shown]"
        return out


class Lines:
    """The guard's pipe, as the distinct complete lines written since the last ``take``: at most
    ``limit`` of them, but a line that starts with one of ``always`` (a violation's code) is kept
    past it (up to 4 x ``limit``), so that a flood of notices cannot push a violation out.  A
    line longer than the guard ever writes is someone else's: counted as garbled."""

    def __init__(self, limit: int, always=()):
        self.limit, self.always = limit, tuple(always)
        self.tail = b""  # the start of a line not finished yet (kept across calls)
        self.lines: dict[bytes, None] = {}
        self.garbled = 0

    def add(self, data: bytes) -> None:
        *complete, self.tail = (self.tail + data).split(b"\n")
        for line in complete:
            if line not in self.lines and (len(self.lines) < self.limit or (
                    line.startswith(self.always) and len(self.lines) < 4 * self.limit)):
                self.lines[line] = None
        if len(self.tail) > MAX_EVENT_LINE:
            self.garbled += 1
            self.tail = b""

    def take(self) -> tuple[list[bytes], int]:
        """(the lines, how many garbled ones) since the last take."""
        taken = (list(self.lines), self.garbled)
        self.lines, self.garbled = {}, 0
        return taken


class Inbox:
    """One reply being received: the frame header first, then exactly the body it announces."""

    def __init__(self):
        self.buffer = bytearray(wire.FRAME_HEADER.size)
        self.got = 0

    def expect(self, length: int) -> None:
        header, self.buffer = self.buffer, bytearray(len(self.buffer) + length)  # calloc: no copy, no zeroing pass
        self.buffer[: len(header)] = header

    def free(self) -> memoryview:
        return memoryview(self.buffer)[self.got:]


@dataclass
class Exchange:
    """What one request got back: a reply body, or why not."""

    body: memoryview | None
    stdout: Capture
    stderr: Capture
    failure: str | None = None  # None, "timeout", "exited", "too_large", "garbage"
    wall_s: float = 0.0
    reply_length: int | None = None


UNSHARE_ARGS = ("--pid", "--fork", "--kill-child", "--mount-proc", "--ipc", "--net")
USERNS_ARGS = ("--user", "--map-root-user")


def user_namespace() -> bool:
    """Whether the namespaces come inside a user namespace (``unshare --user --map-root-user``):
    always when the grader is not root (unprivileged namespaces, where the kernel allows them),
    and as root only when ``GRADER_SANDBOX_USERNS=1`` asks for it (the tests do, to run that path)."""
    if os.environ.get("GRADER_SANDBOX_USERNS") == "1":
        return True
    return hasattr(os, "geteuid") and os.geteuid() != 0


def namespace_labels() -> dict[str, str]:
    """What the namespaces give, as reports name it: {"network", "processes"}."""
    within = " in a user namespace" if user_namespace() else ""
    return {"network": f"isolated (net namespace{within})", "processes": f"pid namespace{within}, IPC namespace"}


def namespace_support() -> tuple[str | None, str]:
    """``(unshare's path, "")`` where ``unshare --pid --fork --kill-child --mount-proc --ipc --net``
    works here (inside a user namespace when ``user_namespace()``), else ``(None, why not)``.
    Probed once per process and setting (a few ms)."""
    return _namespace_support(user_namespace())


@functools.lru_cache(maxsize=None)
def _namespace_support(userns: bool) -> tuple[str | None, str]:
    if not sys.platform.startswith("linux"):
        return None, f"no Linux namespaces on {sys.platform}"
    unshare = shutil.which("unshare", path="/usr/bin:/bin:/usr/sbin:/sbin:/usr/local/bin")
    if unshare is None:
        return None, "no unshare command"
    prefix = USERNS_ARGS if userns else ()
    try:
        done = subprocess.run([unshare, *prefix, *UNSHARE_ARGS, "true"], capture_output=True, timeout=10,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"unshare failed: {exc}"
    if done.returncode != 0:
        error = done.stderr.decode(errors="replace").strip()[:200]
        if userns:
            return None, ("unshare --user --pid --net is not permitted here (unprivileged user namespaces are off: "
                          "user.max_user_namespaces, kernel.unprivileged_userns_clone or AppArmor's "
                          f"apparmor_restrict_unprivileged_userns): {error}")
        return None, f"unshare --pid --net is not permitted here (needs root or CAP_SYS_ADMIN): {error}"
    return unshare, ""


def namespace_kinds(hardening) -> list[str]:
    """The namespaces a set of protections ("network", "processes", "filesystem") asks for, among
    "user", "pid", "ipc", "mount", "net" (a pid namespace comes with a mount namespace, for its /proc)."""
    kinds = ["user"] if hardening and user_namespace() else []
    if "processes" in hardening:  # everything the child starts, and every IPC object it makes, dies with it
        kinds += ["pid", "mount", "ipc"]
    elif "filesystem" in hardening:
        kinds += ["mount"]
    if "network" in hardening:
        kinds += ["net"]
    return kinds


UNSHARE_OPTIONS = {"user": USERNS_ARGS, "pid": ("--pid", "--fork", "--kill-child", "--mount-proc"), "mount": (),
                   "ipc": ("--ipc",), "net": ("--net",)}


def unshare_args(hardening) -> list[str]:
    """unshare's options for a set of protections ("network", "processes", "filesystem")."""
    kinds = namespace_kinds(hardening)
    args = [option for kind in kinds for option in UNSHARE_OPTIONS[kind]]
    return args + ["--mount"] if "mount" in kinds and "pid" not in kinds else args


def child_command(config: dict, unshare: str | None = None, hardening=("network", "processes", "filesystem")) -> list[str]:
    """The child's command line: isolated mode (-I: no PYTHON* variables, no user site, no
    script folder on sys.path), no site (-S: no .pth files, so no editable installs),
    no bytecode files (-B), unbuffered output (-u).  With ``unshare`` (its path) the child
    is pid 1 of new pid, mount, IPC and network namespaces (``UNSHARE_ARGS``): everything it
    starts and every SysV IPC object it makes die with it, and it has no network but a
    loopback that is down."""
    python = [sys.executable, "-I", "-S", "-B", "-u", str(CHILD_SCRIPT), json.dumps(config)]
    return [unshare, *unshare_args(hardening), *python] if unshare and hardening else python


class ChildProcess:
    """``template``: a ``warm.Template`` to fork the child from (where it cannot, ``warm_failure``
    says why and the child starts cold); ``warm`` tells which it was."""

    def __init__(self, folder: Path, env: dict, config: dict, unshare: str | None = None,
                 hardening=("network", "processes", "filesystem"), serious=(), template=None):
        parent_end, child_end = socket.socketpair()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        events_r, events_w = os.pipe()
        self.warm, self.warm_failure = False, None
        try:
            config = dict(config, fd=child_end.fileno(), events_fd=events_w, guard_lost_status=GUARD_LOST_STATUS)
            if template is not None:
                from .warm import WarmUnavailable

                try:
                    kinds = namespace_kinds(hardening) if unshare and hardening else []
                    self.proc = template.spawn(kinds, env, folder, config, (child_end.fileno(), out_w, err_w, events_w))
                    self.warm = True
                except WarmUnavailable as exc:
                    self.warm_failure = str(exc)
            if not self.warm:
                self.proc = subprocess.Popen(
                    child_command(config, unshare, hardening),
                    stdin=subprocess.DEVNULL, stdout=out_w, stderr=err_w, pass_fds=(child_end.fileno(), events_w),
                    cwd=folder, env=env, start_new_session=True, close_fds=True,
                )
        except BaseException:
            for fd in (out_r, err_r, events_r):
                os.close(fd)
            parent_end.close()
            raise
        finally:
            child_end.close()
            for fd in (out_w, err_w, events_w):
                os.close(fd)
        self.pid = self.proc.pid
        self.channel = parent_end
        self.channel.setblocking(False)
        self.pipes = {out_r: "stdout", err_r: "stderr", events_r: "events"}
        # one selector for the child's life (not one per call: epoll_create and four registrations each time)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.channel, selectors.EVENT_READ)
        for fd in self.pipes:
            os.set_blocking(fd, False)
            self.selector.register(fd, selectors.EVENT_READ)
        self.reaped = False
        self.namespaced = bool(unshare) and "processes" in hardening  # pid and IPC namespaces
        self.events = Lines(EVENT_LINES, (code.encode() + b"\t" for code in serious))  # serious: never crowded out
        self.private_tmp = False  # its /tmp and /dev/shm are its own (set once it says how it is confined)
        self.members: set[int] = {self.pid}  # every process seen in the child's session

    # --- talking

    def exchange(self, frames: list, deadline: float, max_reply: int, max_output: int,
                 more: bool = False) -> Exchange:
        """Send ``frames`` (buffers; none to only listen) and wait for one reply until ``deadline``.
        ``more``: more replies may follow this one (a request of several calls), so bytes after it
        are the next reply, not garbage."""
        ex = Exchange(None, Capture(max_output), Capture(max_output))
        started = time.monotonic()
        pending = [view for view in (memoryview(b).cast("B") for b in frames) if view.nbytes]
        inbox = Inbox()
        died_at = None
        selector = self.selector
        if pending and not self._send(pending):  # most requests fit the socket's buffer: sent at once
            ex.failure = "exited"
        elif pending:
            selector.modify(self.channel, selectors.EVENT_READ | selectors.EVENT_WRITE)
        try:
            while ex.body is None and ex.failure is None:
                now = time.monotonic()
                if now >= deadline:
                    ex.failure = "timeout"
                    break
                for key, mask in selector.select(min(deadline - now, POLL_S)):
                    if key.fileobj is not self.channel:
                        self._read_pipe(key.fd, ex, selector)
                        continue
                    if mask & selectors.EVENT_WRITE and pending:
                        if not self._send(pending):
                            ex.failure = "exited"
                            break
                        if not pending:
                            selector.modify(self.channel, selectors.EVENT_READ)
                    if mask & selectors.EVENT_READ:
                        if not self._read_channel(inbox, ex, max_reply, more):
                            break
                if ex.body is None and ex.failure is None and self.exited():
                    died_at = died_at or time.monotonic()
                    if time.monotonic() - died_at > DEATH_GRACE_S:  # someone else holds the socket open
                        ex.failure = "exited"
        finally:
            if pending:
                selector.modify(self.channel, selectors.EVENT_READ)
        self.drain(ex)
        ex.wall_s = time.monotonic() - started
        return ex

    def _send(self, pending: list) -> bool:
        """Send as much of ``pending`` (memoryviews, consumed in place) as the socket takes now, in
        one gathering system call per round (one wake-up of the child, not one per buffer); False
        when the child's end is gone."""
        while pending:
            try:
                sent = self.channel.sendmsg(pending[:MAX_IOV], (), socket.MSG_NOSIGNAL)
            except (BlockingIOError, InterruptedError):
                return True
            except OSError:
                return False
            while sent and pending:
                if sent >= pending[0].nbytes:
                    sent -= pending.pop(0).nbytes
                else:
                    pending[0] = pending[0][sent:]
                    sent = 0
        return True

    def _read_channel(self, inbox: Inbox, ex: Exchange, max_reply: int, more: bool = False) -> bool:
        """Read what the socket holds of the reply now: the header, then (without waiting for the
        next wake-up: the child sends both at once) as much of the body as has come."""
        while True:
            try:
                count = self.channel.recv_into(inbox.free())
            except (BlockingIOError, InterruptedError):
                return True
            except OSError:
                count = 0
            if not count:
                ex.failure = "exited"
                return False
            inbox.got += count
            if ex.reply_length is None and inbox.got == wire.FRAME_HEADER.size:
                (ex.reply_length,) = wire.FRAME_HEADER.unpack_from(inbox.buffer)
                if ex.reply_length > max_reply:
                    ex.failure = "too_large"
                    return False
                inbox.expect(ex.reply_length)
            if ex.reply_length is not None and inbox.got == len(inbox.buffer):
                ex.body = memoryview(inbox.buffer)[wire.FRAME_HEADER.size:]
                if not more and self._pending_bytes():
                    ex.failure = "garbage"  # more than one reply: something else writes to the socket
                    return False
                return True

    def _pending_bytes(self) -> bool:
        try:
            return bool(self.channel.recv(1, socket.MSG_PEEK))
        except (BlockingIOError, InterruptedError, OSError):
            return False

    def _read_pipe(self, fd: int, ex: Exchange, selector=None) -> bool:
        try:
            data = os.read(fd, 1 << 16)
        except (BlockingIOError, InterruptedError):
            return False
        if not data:  # every writer has closed it: no more to wait for on it
            if selector is not None and fd in selector.get_map():
                selector.unregister(fd)
            return False
        (self.events if self.pipes[fd] == "events" else getattr(ex, self.pipes[fd])).add(data)
        return True

    def drain(self, ex: Exchange) -> None:
        """Read what the pipes hold right now (never waits: a grandchild may keep them open)."""
        for fd in self.pipes:
            for _ in range(1024):  # at most 64 MiB, then leave the rest
                if not self._read_pipe(fd, ex):
                    break

    # --- life and death

    def exited(self) -> bool:
        """Whether the child has ended, without reaping it (its pid stays ours)."""
        if self.reaped:
            return True
        try:
            return os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        except ChildProcessError:
            return True

    def kill(self, grace_s: float = 0.0) -> int:
        """End the child, everything in its session, and reap it; return its exit status.  ``grace_s``:
        how long a child already on its way out (its worker died) may take to end by itself first,
        so that the status is its own (a namespace's init reports its worker's), not our SIGKILL."""
        deadline = time.monotonic() + grace_s
        while not self.exited() and time.monotonic() < deadline:
            time.sleep(0.002)
        if not self.reaped:
            if self.warm and self.namespaced:  # the child is pid 1 of its own pid namespace (see below)
                kill_init(self.pid)
            else:
                self.members |= kill_session(self.pid, collect=not self.namespaced)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:  # unkillable (D state): leave it to init
                pass
            self.reaped = True
        status = self.proc.returncode
        if self.namespaced and status is not None and status > 128:
            return -(status - 128)  # the namespace's init reports a worker killed by signal N as 128 + N
        return status

    def close(self) -> None:
        self.kill()
        self.selector.close()
        self.channel.close()
        for fd in list(self.pipes):
            os.close(fd)
        self.pipes.clear()


def kill_init(pid: int) -> None:
    """SIGKILL ``pid``, the init (pid 1) of a pid namespace of its own, which is this process's child
    (a warm clone).  Nothing it started can be outside that namespace, and the kernel kills every
    process in it when its init dies and lets the init be reaped only once they are all gone: no
    group kill and no /proc scan are needed (as ``kill_session`` does for a child without one)."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def kill_session(sid: int, collect: bool = False) -> set[int]:
    """SIGKILL the process group ``sid`` and every process whose session is ``sid``; with
    ``collect``, return every pid found in that session, those the group kill ends too (the IPC
    objects they may have left are theirs, see ``cleanup``).

    The group catches what the child started; the /proc scan catches those that
    moved to a group of their own.  A process that called setsid() escapes
    both unless the child runs in a pid namespace (``unshare``): then the group
    holds unshare and the child, pid 1 of the namespace, and the kernel kills
    every process of the namespace when its pid 1 dies.
    """
    seen = set(session_members(sid)) if collect else set()  # (before the kill: a killed one is a zombie)
    for attempt in range(6):
        try:
            os.killpg(sid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        found = session_members(sid)
        seen.update(found)
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if not found:
            return seen
        time.sleep(0.001 * 2**attempt)  # a killed process is a zombie within a millisecond or so (1 ... 32 ms)
    return seen


def session_members(sid: int) -> list[int]:
    """Live (non-zombie) processes whose session id is ``sid``, from /proc (empty without /proc)."""
    members = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return members
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # fields: state ppid pgrp session ...
        if len(fields) > 3 and fields[0] != b"Z" and int(fields[3]) == sid:
            members.append(int(entry))
    return members
