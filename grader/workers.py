"""The batch's worker processes, and what keeps a student from reaching past them.

    with WorkerPool(2, grade, warm, receive=install) as pool:
        pool.prestart()                     # optional: the workers warm up while this process works
        pool.share(references)              # optional: install(references) in every worker, before its jobs
        for job, reply in pool.run(jobs):   # reply is grade(*job), or a WorkerDied
            ...

A worker is a forked process that grades one job at a time and sends back its
result over a private socket; it never runs student code itself (that happens in
sandbox children it starts).  Without namespaces a child can still signal or
trace processes of its own user, so:

- **A dead worker costs only the job it held.**  The pool knows which job each
  worker holds; when one dies (killed, out of memory) the others go on, a new
  worker takes its place, and its job is tried again at the end, alone (it may
  have been a neighbour that killed it); if it dies then, that job alone is
  reported, as :class:`WorkerDied`.  Each worker keeps its temporary files (the
  sandboxes' scratch folders) in a folder of its own, removed when it ends,
  however it ends.
- **Orphans come back to the batch and are ended.**  The batch's process becomes
  a *child subreaper* (Linux ``PR_SET_CHILD_SUBREAPER``): a process that a
  sandbox child detached (double fork, ``setsid``) is re-parented to it, not to
  init, once its parents are gone.  Every such adopted process is SIGKILLed
  while the batch runs and before it writes its last file, so nothing a student
  started outlives the batch to rewrite its outputs.
- **No one traces the grader.**  The batch and its workers are made
  non-dumpable (``PR_SET_DUMPABLE`` 0): a process of the same user without
  ``CAP_SYS_PTRACE`` can no longer ptrace them nor open their ``/proc/PID/mem``
  or ``fd`` entries.

Each guard is Linux-only and best effort elsewhere (``ProcessGuard.notes`` says
what was not available).
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any, Callable, Iterator

PR_GET_DUMPABLE, PR_SET_DUMPABLE = 3, 4
PR_SET_CHILD_SUBREAPER, PR_GET_CHILD_SUBREAPER = 36, 37
POLL_S = 0.5  # how often adopted orphans are looked for while workers are busy


@dataclass(frozen=True)
class Shared:
    """What ``WorkerPool.share`` sends every worker: its ``receive`` gets ``value`` before any later job."""

    value: Any


@dataclass(frozen=True)
class WorkerDied:
    """The reply for a job whose worker died again when it ran alone."""

    how: str  # "killed by signal 9", "exited with status 3"


def _prctl(option: int, value: int = 0) -> int | None:
    """``prctl(option, value)``, or None where there is no prctl (not Linux) or it failed."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    if option == PR_GET_CHILD_SUBREAPER:
        out = ctypes.c_int(0)
        return int(out.value) if libc.prctl(option, ctypes.byref(out), 0, 0, 0) == 0 else None
    result = libc.prctl(option, ctypes.c_ulong(value), 0, 0, 0)
    return None if result < 0 else int(result)


def non_dumpable() -> bool:
    """Make this process non-dumpable (no ptrace, no /proc/PID/mem or fd for its user); True if it is."""
    return _prctl(PR_SET_DUMPABLE, 0) is not None and _prctl(PR_GET_DUMPABLE) == 0


@dataclass
class ProcessGuard:
    """This process as the batch needs it while it runs: a subreaper, non-dumpable; restored on exit.

    ``ours`` holds the children it started itself (workers, and whatever it had
    before): every other child is an adopted orphan of a sandbox and is ended by
    :meth:`sweep`."""

    ours: set[tuple[int, int]] = field(default_factory=set)  # (pid, start time) of children we started
    notes: list[str] = field(default_factory=list)
    _subreaper: int | None = None
    _dumpable: int | None = None

    def __enter__(self) -> "ProcessGuard":
        self._subreaper = _prctl(PR_GET_CHILD_SUBREAPER)
        if self._subreaper is None or _prctl(PR_SET_CHILD_SUBREAPER, 1) is None:
            self._subreaper = None
            self.notes.append("processes that a submission detached are not collected (no child subreaper here)")
        self._dumpable = _prctl(PR_GET_DUMPABLE)
        if self._dumpable is None or not non_dumpable():
            self._dumpable = None
            self.notes.append("the grader stays traceable by its own user (no PR_SET_DUMPABLE here)")
        self.ours = {child for child in children(os.getpid())}
        return self

    def __exit__(self, *exc: Any) -> None:
        self.sweep(until_gone=True)
        if self._subreaper is not None:
            _prctl(PR_SET_CHILD_SUBREAPER, self._subreaper)
        if self._dumpable is not None:
            _prctl(PR_SET_DUMPABLE, self._dumpable)

    def adopt(self, pid: int) -> None:
        """Count ``pid`` (a worker just started) as ours."""
        start = start_time(pid)
        if start is not None:
            self.ours.add((pid, start))

    @property
    def active(self) -> bool:
        return self._subreaper is not None

    def sweep(self, until_gone: bool = False) -> int:
        """SIGKILL and reap every child of this process that it did not start; return how many.
        With ``until_gone``, repeat until none is left (an adopted process's own children are
        adopted in turn as it dies)."""
        if not self.active:
            return 0
        ended = 0
        for _ in range(200 if until_gone else 1):
            # (between jobs, this process's own list of children; the last sweep reads every process's entry:
            # the list can skip one that another leaves while it is read, and nothing sweeps after the last)
            mine = children(os.getpid()) if until_gone else own_children()
            strangers = [pid for pid, start in mine if (pid, start) not in self.ours]
            for pid in strangers:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            for pid in strangers:
                _reap(pid)
            ended += len(strangers)
            if not strangers:
                break
        return ended


def _reap(pid: int) -> None:
    for _ in range(100):
        try:
            if os.waitpid(pid, os.WNOHANG)[0] != 0:
                return
        except ChildProcessError:
            return
        time.sleep(0.01)


def _stat(pid: int | str) -> list[bytes] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (with the pid, it names one process)."""
    fields = _stat(pid)
    return int(fields[19]) if fields and len(fields) > 19 else None


def own_children() -> list[tuple[int, int]]:
    """``children(os.getpid())`` from this process's own lists of children (``/proc/PID/task/TID/
    children``, Linux 3.5 with CONFIG_PROC_CHILDREN): a few files, where ``children`` reads every
    process's (a batch sweeps after every submission).  A child that ends or is adopted while the
    list is read may be left out of it, and is found at the next sweep; without such files, ``children``."""
    me = os.getpid()
    tasks = f"/proc/{me}/task"
    try:
        threads = os.listdir(tasks)
    except OSError:
        return children(me)
    pids: set[int] = set()
    for thread in threads:
        try:
            with open(f"{tasks}/{thread}/children", "rb") as f:
                pids.update(int(p) for p in f.read().split())
        except FileNotFoundError:
            if thread == str(me):  # (the main thread's is always there where the kernel has them)
                return children(me)
        except (OSError, ValueError):
            continue  # a thread that has just ended
    return _of(me, sorted(pids))


def children(parent: int) -> list[tuple[int, int]]:
    """(pid, start time) of every process whose parent is ``parent``, zombies included, from /proc."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    return _of(parent, [int(entry) for entry in entries if entry.isdigit()])


def _of(parent: int, pids) -> list[tuple[int, int]]:
    """(pid, start time) of those of ``pids`` whose parent is ``parent`` (as /proc says now)."""
    found = []
    for pid in pids:
        fields = _stat(pid)
        if fields and len(fields) > 19 and int(fields[1]) == parent:
            found.append((pid, int(fields[19])))
    return found


# ---------------------------------------------------------------- the workers


def _serve(conn: Connection, work: Callable[..., Any], warm: Callable[[], None] | None,
           receive: Callable[[Any], None] | None, inherited: list[Connection], scratch: str) -> None:
    """A worker's life: warm up, then grade each job sent until None comes (or the parent goes);
    a ``Shared`` sent between jobs goes to ``receive``.  Its temporary files (the sandboxes'
    scratch folders) go in ``scratch``, which the parent removes when the worker ends, however it ends."""
    tempfile.tempdir = scratch
    # Ctrl-C is the parent's to handle (a Python handler, not SIG_IGN: that one would be inherited
    # through exec by the sandbox children)
    signal.signal(signal.SIGINT, lambda signum, frame: None)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the parent's SIGTERM handler is not the worker's
    non_dumpable()  # (inherited from the parent too; set again in case the parent could not)
    for other in inherited:  # the parent's ends of the other workers' sockets, copied by fork
        other.close()
    if warm is not None:
        warm()
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        if isinstance(job, Shared):
            if receive is not None:
                receive(job.value)
            continue
        conn.send(work(*job))


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    conn: Connection
    scratch: str
    job: tuple | None = None


class WorkerPool:
    """``size`` worker processes running ``work(*job)``; see the module docstring."""

    def __init__(self, size: int, work: Callable[..., Any], warm: Callable[[], None] | None = None,
                 guard: ProcessGuard | None = None, receive: Callable[[Any], None] | None = None):
        self.size, self.work, self.warm, self.guard, self.receive = size, work, warm, guard, receive
        self.context = multiprocessing.get_context("fork")
        self.workers: list[_Worker] = []
        self.deaths = 0  # workers that died holding a job
        self.shared: list[Shared] = []  # sent to every worker, and first thing to each one started later

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _start(self) -> _Worker:
        ours, theirs = self.context.Pipe(duplex=True)  # a socketpair: not reopenable through /proc
        inherited = [w.conn for w in self.workers] + [ours]
        scratch = tempfile.mkdtemp(prefix="grader-batch-worker-")
        os.chmod(scratch, 0o711)  # a sandbox's user (nobody) passes through to its own folder, lists nothing
        process = self.context.Process(target=_serve, args=(theirs, self.work, self.warm, self.receive, inherited,
                                                             scratch))
        process.start()
        theirs.close()
        if self.guard is not None:
            self.guard.adopt(process.pid)
        worker = _Worker(process, ours, scratch)
        self.workers.append(worker)
        for shared in self.shared:
            self._tell(worker, shared)
        return worker

    def prestart(self, count: int | None = None) -> None:
        """Start ``count`` workers (all ``size`` by default) now, so that they warm up while this
        process does something else (``share`` then reaches them before their first job)."""
        for _ in range(min(self.size, self.size if count is None else count) - len(self.workers)):
            self._start()

    def share(self, value: Any) -> None:
        """Have every worker, started or still to start, call ``receive(value)`` before its next job."""
        shared = Shared(value)
        for worker in list(self.workers):
            self._tell(worker, shared)  # (a value that cannot be sent raises here, before it is kept)
        self.shared.append(shared)

    def _tell(self, worker: _Worker, shared: Shared) -> None:
        try:
            worker.conn.send(shared)
        except OSError:  # it died idle: retired, as ``_give`` does
            self._retire(worker)

    def _retire(self, worker: _Worker) -> None:
        if worker in self.workers:  # (a worker that died as it was told what is shared is retired there)
            self.workers.remove(worker)
        worker.conn.close()
        worker.process.join(timeout=5)
        if worker.process.exitcode is None:
            worker.process.kill()
            worker.process.join(timeout=5)
        shutil.rmtree(worker.scratch, ignore_errors=True)  # what a killed worker could not clean up

    def run(self, jobs: list[tuple]) -> Iterator[tuple[tuple, Any]]:
        """Yield ``(job, reply)`` for every job, in the order they finish.

        Jobs run side by side first.  A job whose worker dies is set aside, and tried again
        at the end alone in a fresh worker (the others stopped, orphans ended): a worker that
        dies then was ended by that job's own code, and only that job is a :class:`WorkerDied`.
        A submission that kills its neighbours' workers costs them nothing but a second try."""
        suspects: list[tuple[tuple, str]] = []
        yield from self._drive(list(reversed(jobs)), suspects, self.size)
        for job, _ in suspects:
            self._stop_idle()
            if self.guard is not None:
                self.guard.sweep(until_gone=True)
            again: list[tuple[tuple, str]] = []
            yield from self._drive([job], again, 1)
            for _, how in again:
                yield job, WorkerDied(how)

    def _drive(self, pending: list[tuple], died: list[tuple[tuple, str]], size: int) -> Iterator[tuple[tuple, Any]]:
        """Run ``pending`` (popped from the end) on up to ``size`` workers; a job whose worker
        dies goes to ``died`` with how the worker ended."""
        while pending or any(w.job is not None for w in self.workers):
            self._hand_out(pending, size)
            busy = [w for w in self.workers if w.job is not None]
            ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout=POLL_S)
            if self.guard is not None:
                self.guard.sweep()
            for worker in busy:
                if worker.conn not in ready and worker.process.sentinel not in ready:
                    continue
                job = worker.job
                try:
                    reply = worker.conn.recv() if worker.conn.poll() else None
                except (EOFError, OSError):
                    reply = None
                if reply is not None:
                    worker.job = None
                    yield job, reply
                    continue
                self._retire(worker)  # it died holding the job
                self.deaths += 1
                died.append((job, _how(worker.process.exitcode)))

    def _hand_out(self, pending: list[tuple], size: int) -> None:
        """Give the pending jobs to the idle workers, then to new ones up to ``size``.  ``pending``
        is checked before each: two workers idle with one job left give it to the first only."""
        for worker in [w for w in self.workers if w.job is None]:
            if pending:
                self._give(worker, pending)
        while pending and len(self.workers) < size:
            self._give(self._start(), pending)

    def _give(self, worker: _Worker, pending: list[tuple]) -> None:
        """Send ``worker`` the next pending job; a worker that died idle is retired instead."""
        try:
            worker.conn.send(pending[-1])
        except OSError:
            self._retire(worker)
            return
        worker.job = pending.pop()

    def _stop_idle(self) -> None:
        for worker in [w for w in self.workers if w.job is None]:
            with contextlib.suppress(OSError):
                worker.conn.send(None)
            self._retire(worker)

    def close(self) -> None:
        """Ask every worker to stop (they finish nothing more), then end the ones that do not."""
        for worker in self.workers:
            try:
                worker.conn.send(None)
            except OSError:
                pass
        deadline = time.monotonic() + (5 if all(w.job is None for w in self.workers) else 0.5)
        for worker in list(self.workers):
            worker.process.join(timeout=max(0.0, deadline - time.monotonic()))
            if worker.process.exitcode is None:
                worker.process.terminate()
            self._retire(worker)


def _how(exitcode: int | None) -> str:
    if exitcode is None:
        return "did not answer"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"killed by {name}"
    return f"exited with status {exitcode}"
