"""Sessions: one limited child process per submission part, and what its calls return.

    limits = Limits(call_timeout_s=5, memory_mb=1024)
    with Session("submissions/alice", limits) as s:
        r = s.call("conv", "conv_forward", (x, w, b, {"stride": 1, "pad": 1}))
        if r.ok:
            out, cache = r.value                # plain data; `cache` may hold Refs
            back = s.call("conv", "conv_backward", (dout, cache))
        else:
            feedback = r.error                  # "ZeroDivisionError: division by zero (conv.py, line 12)"

Every failure of student code comes back as a ``CallResult`` with ``ok`` false;
the parent raises only on its own misuse (a closed session, arguments that are
not plain data, a Ref from another session) or when the sandbox cannot start
at all (``SandboxError``).  After a timeout, a crash or an exit the session is
dead: later calls return at once with kind ``"dead"``; ``restart()`` starts a
fresh child from a fresh copy of the submission.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import shutil
import signal
import sys
import tempfile
import time
import weakref
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ..errors import GraderError, InputFileError
from . import cleanup, wire
from .process import (DEATH_GRACE_S, GUARD_LOST_STATUS, Capture, ChildProcess, Exchange, namespace_labels, namespace_support,
                      user_namespace)

HARDENING = ("network", "processes", "filesystem")
# What a Session applies unless told otherwise: everything the OS allows.  Under "processes"
# (a pid namespace) the child's pids are not the host's; under "filesystem" everything but the
# scratch copy, a private /tmp and /dev/shm is read-only.
DEFAULT_HARDENING = HARDENING
TMPFS_MB = 256  # size of the child's private /tmp and /dev/shm (memory; files are capped by file_size_mb too)
TMPFS_FILES = 16384  # files and folders each of those may hold (empty files cost kernel memory, not size)
REPLY_SLACK_BYTES = 1 << 16  # room for the reply's envelope around a result of max_result_bytes
MAX_EVENT_DETAIL = 600  # characters of an event's detail kept (the guard writes at most 500 and "...")
# the child's system-call filter (child/syscalls.py); the tests switch it off to exercise the
# cleanup that stands in for it where seccomp is missing (grader.sandbox.cleanup)
SYSCALL_FILTER = True
BLOCKED_MODULES = ("grader",)  # never importable from student code (a deterrent; see ImportPolicy)
SKIPPED_NAMES = {"__pycache__", ".git"}
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# Said, not held against anyone: a forbidden library imported and given a stand-in (using it is a
# "forbidden-import" violation).  Shown with the "allowed libraries" test.
INFORMATION = {"stand-in": "imported a forbidden library, given a stand-in"}
FAILURE_KINDS = ("exception", "import", "memory", "exit", "timeout", "crash", "cpu", "result", "channel", "dead")
# What a session notices student code doing (``Session.events``).  Violations are attempts to
# get answers from elsewhere or to disable the guard: grading zeroes the part.  Notices fail the
# integrity test only: what broken code does too (an exit, a hang, a flood of output), and attempts
# that cannot change a score however they turn out (a replaced np.allclose, a printed "All tests
# passed", a write the guard refused), since a stray print or a monkeypatch must not change scores.
VIOLATIONS = {
    "forbidden-import": "used a forbidden library",
    "grader": "reached for the grader itself",
    "network": "used the network",
    "native-code": "ran native code through ctypes",
    "read": "read files outside its sandbox",
    "process": "started processes",
    "signal": "signalled another process",
    "tamper": "tampered with the sandbox",  # its guard (gc walks, trace functions, forged events, its channel)
}
NOTICES = {
    "write": "wrote outside its scratch folder",
    "monkeypatch": "replaced library functions",
    "fake-results": "printed fake results",
    "exit": "exited during a call",
    "interrupt": "raised KeyboardInterrupt",
    "timeout": "ran out of time",
    "memory": "ran out of memory",
    "cpu": "ran out of CPU time",
    "crash": "crashed",
    "output": "flooded its output",
    "result": "returned something too large",
    "lying-object": "returned an object that is not a plain array",
    "mutated-input": "changed its inputs in place",
    "refused": "did something the sandbox refuses",  # links, shared memory, what the guard cannot check
    "leftover": "left something on the machine",  # IPC objects or files that outlive the child (removed)
}
SANDBOX_USER = "nobody"  # who student code runs as when the grader runs as root (GRADER_SANDBOX_USER)
FAKE_RESULTS = re.compile(
    r'"tests"\s*:\s*\[|"max_score"\s*:|"score"\s*:\s*[\d.]+\s*[,}]|\ball (?:the )?(?:tests|checks) (?:have )?passed'
    r"|\bpassed all (?:the )?tests|<testsuites?\b|<testcase\b|\bscore:?\s*\d+(?:\.\d+)?\s*/\s*\d+",
    re.IGNORECASE,
)


TAMPERED = "the sandbox's reply channel was tampered with (did the submission write to it?)"


class SandboxError(GraderError):
    """The sandbox itself cannot run (Python, numpy or a preload cannot start in the child)."""


@dataclass(frozen=True)
class Limits:
    """What one session's child may use.  ``None`` switches a resource limit off.

    - call_timeout_s: wall-clock seconds for one call (import, every repeat, the reply)
    - total_timeout_s: wall-clock seconds of all calls of one child together
      (time the parent spends between calls is not counted)
    - memory_mb: address space of the child (RLIMIT_AS); torch needs ~700 MB to import,
      and CUDA needs it off
    - cpu_s: CPU seconds of the child over its life, start-up included (RLIMIT_CPU)
    - max_output_bytes: stdout and stderr kept per call and stream, for feedback
    - max_result_bytes: the largest reply a call may send back
    - file_size_mb: the largest file the child may write (RLIMIT_FSIZE)
    - threads: BLAS/OpenMP threads (OMP_NUM_THREADS and friends)
    - start_timeout_s: seconds for the child to start and import its preloads
      (not charged to the student)
    - processes: processes and threads of the sandbox's user at once (RLIMIT_NPROC; it binds
      only when the child runs as another user than root)
    - open_files: file descriptors the child may hold (RLIMIT_NOFILE)
    """

    call_timeout_s: float = 10.0
    total_timeout_s: float = 600.0
    memory_mb: int | None = 2048
    cpu_s: int | None = 600
    max_output_bytes: int = 10_000
    max_result_bytes: int = 64 << 20
    file_size_mb: int | None = 64
    threads: int = 1
    start_timeout_s: float = 60.0
    processes: int | None = 256
    open_files: int | None = 1024

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            optional = f.name in ("memory_mb", "cpu_s", "file_size_mb", "processes", "open_files")
            if value is None and optional:
                continue
            kinds = (int, float) if f.name.endswith("_s") and f.name != "cpu_s" else (int,)
            if isinstance(value, bool) or not isinstance(value, kinds) or not value > 0:
                what = ("number" if float in kinds else "int") + (" or None" if optional else "")
                raise ValueError(f"Limits.{f.name} must be a positive {what}, got {value!r}")


@dataclass(frozen=True)
class Rules:
    """What student code may do besides computing, enforced in the child by an audit hook
    (``child.install_guard``) and reported as ``Session.events``.

    - forbidden_modules: modules it may not import ("torch", "scipy.signal"); the grader
      itself never
    - processes, network, native_code: whether it may start processes, use sockets, or
      load and call native code through ctypes
    - readable: folders under ``protected`` it may still read (a trusted harness's own)

    The hook cannot be removed from Python; native code already loaded (numpy, torch)
    is not watched: the OS-level protections are the wall, this says what was tried.
    """

    forbidden_modules: tuple[str, ...] = ()
    processes: bool = False
    network: bool = False
    native_code: bool = False
    readable: tuple[str, ...] = ()


OPEN_RULES = None  # Session(rules=OPEN_RULES): no guard at all (tests of the OS-level walls)


@dataclass(frozen=True)
class Event:
    """Something a session noticed: ``code`` (a key of VIOLATIONS or NOTICES) and a detail
    for the student ("imported a forbidden library at run time: torch")."""

    code: str
    detail: str

    @property
    def violation(self) -> bool:
        return self.code in VIOLATIONS


@dataclass(frozen=True)
class Ref:
    """An object that stayed in the child (not plain data): a student's cache object, a
    torch tensor, an nn.Module.  Pass it (or ``ref[key]``, an item of it) back as an
    argument of a later call in the same session; it is valid until the child ends."""

    id: int
    type_name: str  # "torch.Tensor", "conv.Cache"
    description: str  # "a torch.Tensor of shape (2, 3) and dtype torch.float32"
    path: tuple = ()
    owner: object = field(default=None, repr=False, compare=False)

    def __getitem__(self, key) -> Ref:
        if type(key) not in (int, str):
            raise TypeError(f"a Ref can be indexed by an int or a str, not {type(key).__name__}")
        return Ref(self.id, self.type_name, self.description, self.path + (key,), self.owner)


@dataclass(frozen=True)
class CallResult:
    """What one call did.

    - ok: the function returned (every repeat); ``value`` is its last return, as
      plain data (numpy arrays, numbers, str, bytes, None, lists, tuples, dicts)
      with a ``Ref`` wherever it was not plain data
    - error: a short message for the student when not ok, and ``kind``, one of
      FAILURE_KINDS: exception (the function raised), import (syntax error,
      missing file or function, error at import time), memory (MemoryError),
      exit (SystemExit raised, or the process exited), timeout, crash (killed
      by a signal), cpu (CPU limit), result (too large or not sendable),
      channel (the reply channel was tampered with), dead (not run: the
      session had already ended)
    - stdout, stderr: what the child wrote during the call, capped
    - durations: seconds of each repeat of the function alone (child's perf_counter);
      ``duration_s`` is the best of them.  Student code can fake these: for
      speed tests compare against ``wall_s`` too
    - wall_s: seconds from sending the request to the end of the reply (parent's clock)
    - traceback: the student-facing traceback (submission-relative paths), if any
    - notes: remarks worth passing on (conversions, truncation, mixing trusted code)
    - events: what the call did that the integrity tests report (``Event``s)
    """

    ok: bool
    value: Any = None
    error: str | None = None
    kind: str | None = None
    stdout: str = ""
    stderr: str = ""
    durations: tuple[float, ...] = ()
    wall_s: float = 0.0
    traceback: str | None = None
    notes: tuple[str, ...] = ()
    events: tuple[Event, ...] = ()

    @property
    def duration_s(self) -> float | None:
        return min(self.durations) if self.durations else None


class Session:
    """One child process that runs functions of one submission, with limits.

    - submission_dir: the student's folder; the child works in a fresh copy of it
      (symlinks, special files, __pycache__ and .git are left out)
    - limits: a ``Limits``
    - allowed_modules: None, or the top-level modules student code may import
      besides the standard library and its own files (``{"numpy"}`` for a
      numpy-only part); ``grader`` is never importable from student code
    - preload: modules the child imports before any student code (their import
      time is not charged to a call; add "torch" for the transfer part)
    - hardening: which of ``HARDENING`` to apply where the OS allows (None: ``DEFAULT_HARDENING``):
      "network" (no network), "processes" (a pid namespace: whatever the child starts dies with
      it), "filesystem" (read-only outside the scratch folder, private /tmp, /dev/shm and /dev)
    - hidden: folders the child must not read (the grader's references), covered by an empty
      read-only tmpfs where "filesystem" applies (noted in ``start_notes``), and refused by
      the guard everywhere
    - protected: more folders (or files) the guard refuses to let student code read (the
      grader's package, the assignment's configuration)
    - rules: a ``Rules`` (default: ``Rules()``, the strictest), or ``OPEN_RULES`` for no guard
    - trusted: folders (besides the grader's own) that ``call_trusted`` may load files from;
      with ``hidden`` and ``protected`` applied on top, they are part of the child's view
      of the file system, with Python, its libraries and the scratch folder: other
      top-level folders (``/home``, ``/root``, ``/work``, ...) are covered where mount
      namespaces work, and closed to reads by the guard everywhere
    - template: a ``warm.Template`` whose ``preload`` and thread count are this session's: the
      child is forked from it instead of started cold (``warm``); None: the process's shared
      template where a batch worker turned them on (``warm.shared``), else a cold start

    Attributes for reports: ``pid``, ``alive``, ``dead_reason`` (why calls no
    longer run), ``startup_s`` (seconds until the child was ready),
    ``start_notes`` (limits this OS could not set), ``copy_notes`` (files left
    out of the copy), ``protections`` ({"network", "processes", "filesystem"}:
    what this child got, e.g. "isolated (net namespace)", "pid namespace",
    "read-only outside scratch ...", or "not available: <why>"; "user": the user id student code
    runs as), ``events`` (every ``Event`` of every call so far, in order, across restarts), ``warm``
    (whether the child was forked from a warm template).
    A Session is not thread-safe: one thread per session.
    """

    def __init__(self, submission_dir, limits: Limits | None = None, *, allowed_modules=None, preload=("numpy",),
                 hardening=None, hidden=(), protected=(), rules: Rules | None = Rules(), trusted=(), template=None):
        self.submission_dir = Path(submission_dir)
        if not self.submission_dir.is_dir():
            raise InputFileError(f"submission folder {str(submission_dir)!r} does not exist or is not a folder")
        self.limits = limits or Limits()
        if not isinstance(self.limits, Limits):
            raise TypeError(f"limits must be a Limits, not {type(self.limits).__name__}")
        self.allowed_modules = None if allowed_modules is None else sorted(set(allowed_modules))
        self.preload = tuple(preload)
        self.hardening = tuple(DEFAULT_HARDENING if hardening is None else hardening)
        if rules is not None and not isinstance(rules, Rules):
            raise TypeError(f"rules must be a Rules or None, not {type(rules).__name__}")
        self.rules = rules
        # the installed packages of the forbidden modules: hidden like the references, and any
        # read of them (importlib, spec_from_file_location) counts as importing them
        self.forbidden_folders = module_folders(rules.forbidden_modules if rules else ())
        self.hidden = _real_paths(tuple(hidden)) + tuple(self.forbidden_folders)
        self.protected = self.hidden + _real_paths(tuple(protected))
        self.trusted = grader_folders() + _real_paths(tuple(trusted))
        self.events: list[Event] = []
        self._requests: dict[tuple, list] = {}  # framed requests by (module, trusted file, function, repeat, each)
        if not set(self.hardening) <= set(HARDENING):
            raise ValueError(f"hardening must be a subset of {HARDENING}, got {hardening!r}")
        self.closed = False
        self._child: ChildProcess | None = None
        self._template = template  # a warm.Template to fork from (None: this process's shared one, if any)
        # the process that started the child owns it: a copy made by fork (a batch worker)
        # neither uses the child (its pipes are shared) nor ends it
        self._owner = os.getpid()
        self._start()

    # --- public

    @property
    def alive(self) -> bool:
        """Whether calls will run (not closed, the child has not ended, and this is
        the process that started it: a forked copy of a Session is never alive)."""
        return not self.closed and self.dead_reason is None and self._owner == os.getpid()

    @property
    def owner(self) -> int:
        """The process id of the process that started this session (its only user)."""
        return self._owner

    @property
    def pid(self) -> int | None:
        """The child's process id (also its process group and session id)."""
        return self._child.pid if self._child else None

    def call(self, module: str, function: str, args=(), kwargs=None, *, repeat: int = 1,
             timeout_s: float | None = None) -> CallResult:
        """Call ``module.function(*args, **kwargs)`` from the submission, ``repeat`` times.

        ``module`` is a module of the submission, imported as a package would be
        (the submission folder is first on sys.path): ``"conv"`` for conv.py,
        ``"cs231n.layers"`` (or ``"cs231n/layers.py"``) for a package layout.
        Every repeat gets fresh copies of the arguments.  ``timeout_s`` replaces
        ``limits.call_timeout_s`` for this call.
        """
        module = _module_name(module)
        notes = ["trusted code is loaded in this process and visible to student code"] if self._trusted_loaded else []
        result = self._run({"module": module, "trusted": None}, function, args, kwargs, repeat, timeout_s, notes)
        self._student_ran = True
        if (result.stdout or result.stderr) and module in self._imported:  # (not what importing it printed)
            self._loud.add((module, function))  # (its calls together would be made again one by one)
        if result.ok or result.kind == "exception":  # (the module imported: the function ran)
            self._imported.add(module)
        return result

    def call_each(self, module: str, function: str, calls, *, timeout_s: float | None = None) -> list[CallResult]:
        """Call ``module.function(*args)`` for each ``args`` of ``calls`` (a list of tuples), in order,
        once each, in one request, and give each call's ``CallResult`` as ``call`` would have (its value,
        error, traceback, notes, the events its kind says).  The child answers each call as it returns,
        and each answer is waited for with one call's time limit (``timeout_s``, else
        ``limits.call_timeout_s``).  What comes back is the results of the first calls, in order: all
        of them, or fewer, and then make the rest one by one with ``call`` (first ``restart`` where the
        session is no longer ``alive``):
        - a call that exited, ran out of memory, timed out or ended the child is the last made (told
          as alone);
        - where the calls cannot be told apart, or told as they would be alone, none of the request's
          results is given: something was printed (whose output it is, is not known), the guard or the
          parent noticed anything, a reply was out of step (the child is ended: student code wrote on
          the reply socket), a result could not be sent, or a call took longer than its time limit by
          the child's clock;
        - the first call into a module this child has not imported yet is made alone (so that what
          importing it prints, notes or does is that call's, as with ``call``), then the rest together;
        - a function that printed in this child (whose calls together would be made again one by one) is
          left to ``call`` at once: nothing comes back."""
        if not isinstance(calls, (list, tuple)) or not calls or not all(isinstance(a, (tuple, list)) for a in calls):
            raise TypeError("calls must be a non-empty list of argument tuples")
        module = _module_name(module)
        made: list[CallResult] = []
        if (module, function) in self._loud:
            return made
        if module not in self._imported:
            made.append(self.call(module, function, calls[0], timeout_s=timeout_s))
            calls = calls[1:]
            if (not calls or made[0].kind in ("exit", "memory") or module not in self._imported or not self.alive
                    or (module, function) in self._loud):
                return made
        return made + self._each(module, function, calls, float(timeout_s or self.limits.call_timeout_s))

    def _each(self, module: str, function: str, calls, each_s: float) -> list[CallResult]:
        """One request of several calls.  The child answers each call as it returns, and each answer is
        waited for with one call's time limit, as ``call`` waits for its one.  See ``call_each``."""
        notes = ["trusted code is loaded in this process and visible to student code"] if self._trusted_loaded else []
        target = {"module": module, "trusted": None}
        where, quiet = f"{module}.{function}", Exchange(None, Capture(0), Capture(0))  # (what a call's kind says)
        made: list[CallResult] = []
        told = True  # every call so far told as it would be alone: nothing printed, nothing noticed
        for n in range(len(calls)):
            result = self._run(target, function, calls, None, 1, each_s, notes, each=True, listen=n > 0)
            raw, self._last_reply = self._last_reply, None
            if raw is None:  # no answer: the child ended, or ran out of time, on this call (it is ended now)
                if told and not (result.stdout or result.stderr or result.events):
                    made.append(self._told(result, where, quiet))  # as it ends when made alone, after the same calls
                    return made
                return []
            if raw.get("alone") or raw.get("each") != n or (raw["ok"] and type(raw["value"]) is not bytes):
                # ("alone", or the request's own failure, before any call: importing, no such function)
                if not (raw.get("alone") or (n == 0 and "each" not in raw)):
                    # not the answer to this call: what follows cannot be trusted either
                    self._end_tampered()
                return []
            try:
                value = wire.decode(raw["value"], ref=self._make_ref) if raw["ok"] else None
            except wire.WireError:  # (the child encodes what it sends: not its answer)
                self._end_tampered()
                return []
            if result.stdout or result.stderr:
                self._loud.add((module, function))
            told = told and not (result.stdout or result.stderr or result.events
                                 or max(result.durations, default=0.0) > each_s)
            made.append(replace(result, value=value))
            if result.kind in ("exit", "memory"):  # the child makes no more calls
                break
        if self._child._pending_bytes():  # more than the calls' answers: something else writes to the socket
            self._end_tampered()
            return []
        return [self._told(result, where, quiet) for result in made] if told else []

    def _end_tampered(self) -> None:
        """End the child: a reply that is not its next answer came (student code wrote on the socket), and
        what follows cannot be trusted to be in step either."""
        self._child.kill()
        self.dead_reason = TAMPERED

    def _told(self, result: CallResult, where: str, quiet: Exchange) -> CallResult:
        """A call of a request of several, used: the events its kind says, as ``call`` tells them."""
        events = observed_events(result, where, quiet)
        self.events.extend(e for e in events if e not in self.events)
        return replace(result, events=tuple(events)) if events else result

    def call_trusted(self, path, function: str, args=(), kwargs=None, *, repeat: int = 1,
                     timeout_s: float | None = None) -> CallResult:
        """Call ``function`` from the grader's own file ``path`` inside the child.

        For code that must run next to student code: a harness that builds and
        inspects a student's nn.Module, or a reference timed under the same
        limits.  The file is imported as ``<package>.<stem>`` with its folder as
        the package, so ``from .params import ...`` works; the package's
        ``__init__`` does not run.  Student code in the same child can see and
        change it: never load secrets (the reference's answers) into a child
        that runs student code afterwards, and time a reference in a session of
        its own when a student could slow it down.
        """
        path = Path(path).resolve()
        if path.suffix != ".py" or not path.is_file():
            raise ValueError(f"call_trusted needs an existing .py file, got {str(path)!r}")
        if not any(path.is_relative_to(folder) for folder in self._visible):
            raise ValueError(f"call_trusted: {str(path)!r} is outside this session's view (pass its folder in trusted=)")
        notes = ["student code ran earlier in this process and may have changed it"] if self._student_ran else []
        result = self._run({"module": None, "trusted": str(path)}, function, args, kwargs, repeat, timeout_s, notes)
        self._trusted_loaded = True
        return result

    def restart(self) -> None:
        """End the child and start a fresh one from a fresh copy (old Refs become invalid)."""
        self._check_open()
        self._stop()
        self._start()

    def close(self) -> None:
        """End the child and everything it started, and remove its scratch folder."""
        if not self.closed:
            self._stop()
            self.closed = True

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # --- starting and stopping

    def _start(self) -> None:
        self.dead_reason: str | None = "the sandbox did not start"
        self.warm = False
        self._student_ran = self._trusted_loaded = False
        self._imported: set[str] = set()  # modules of the submission this child has imported (``call``)
        self._loud: set[tuple[str, str]] = set()  # (module, function)s that printed: made one by one (``call_each``)
        self._last_reply: dict | None = None  # the last reply as the child sent it (``_each``)
        self._token = object()  # Refs carry it; a new child gets a new one
        _sweep_once()
        self._scratch = Path(tempfile.mkdtemp(prefix=cleanup.scratch_prefix()))  # 0700, named after its owner
        folder, home = self._scratch / "submission", self._scratch / "home"
        self.copy_notes = copy_submission(self.submission_dir, folder)
        home.mkdir()
        self._visible = visible_paths(self._scratch, library_paths(self.preload), self.trusted)
        user, self._group = sandbox_user(), None
        if user:  # the child may switch to this user, in a group of its own: the copy is the group's to read
            self._group = cleanup.session_group(str(self._scratch))
            user = dict(user, gid=self._group)
            for path in (self._scratch, *self._scratch.rglob("*")):
                os.chown(path, 0, self._group, follow_symlinks=False)
                os.chmod(path, 0o750 if path.is_dir() else 0o640, follow_symlinks=False)
            os.chmod(home, 0o770)  # (the same uid runs every session's child: only the group tells them apart)
        self._reported: set = set()  # what the leftover scans have reported already
        config = {
            "folder": str(folder),
            "home": str(home),
            "user": user,
            "rules": None if self.rules is None else {
                "forbidden": list(self.rules.forbidden_modules), "blocked": list(BLOCKED_MODULES),
                "forbidden_folders": [[f, m] for f, m in self.forbidden_folders.items()],
                "protected": list(self.protected), "readable": [str(Path(r).resolve()) for r in self.rules.readable],
                "writable": [str(home)], "visible": self._visible, "processes": self.rules.processes,
                "network": self.rules.network,
                "native_code": self.rules.native_code,
            },
            "library_paths": library_paths(self.preload),
            "preload": preload_imports(self.preload),
            "allowed_modules": self.allowed_modules,
            "blocked_modules": list(BLOCKED_MODULES),
            "max_result_bytes": self.limits.max_result_bytes,
            "filter_syscalls": SYSCALL_FILTER,
            "limits": {"memory_mb": self.limits.memory_mb, "cpu_s": self.limits.cpu_s,
                       "file_size_mb": self.limits.file_size_mb, "processes": self.limits.processes,
                       "open_files": self.limits.open_files},
        }
        started = time.monotonic()
        unshare, why = namespace_support()
        if not self.hardening:
            unshare, why = None, "not requested"
        config["init"] = bool(unshare) and "processes" in self.hardening
        if unshare and "filesystem" in self.hardening:
            config["confine"] = {
                "scratch": str(self._scratch), "cwd": str(folder), "home": str(home), "tmpfs_mb": TMPFS_MB,
                "tmpfs_files": TMPFS_FILES,
                "user": user,
                "host_mnt_ns": _mount_namespace(), "visible": self._visible,
                "hidden": list(self.hidden),
            }
        template = self._warm_template()
        ready, ex = self._launch(folder, home, config, unshare, started, template)
        warm_notes = [f"started cold: {self._child.warm_failure}"] if self._child and self._child.warm_failure else []
        if self._child is not None and self._child.warm and not (isinstance(ready, dict) and ready.get("ready") is True):
            # the clone could not be made what a cold start makes (say why): a cold start, as before
            why = ready.get("error") if isinstance(ready, dict) else ex.stderr.text()[-300:].strip() or ex.failure
            warm_notes = [f"started cold: the warm child did not start ({why})"]
            self._child.close()
            self._finalizer.detach()
            self._child = None
            ready, ex = self._launch(folder, home, config, unshare, time.monotonic())
        genuine = isinstance(ready, dict) and isinstance(ready.get("error"), str) and not ready.get("confinement_failed")
        if unshare and not genuine and not (isinstance(ready, dict) and ready.get("ready") is True):
            # the namespaces or the mounts failed here: start the child without them, and say why
            why = (ready["error"] if isinstance(ready, dict) and isinstance(ready.get("error"), str)
                   else f"the namespaced child did not start ({ex.stderr.text()[-300:].strip() or ex.failure})")
            if self._child is not None:
                self._child.close()
                self._finalizer.detach()
                self._child = None
            unshare = None
            config.pop("confine", None)
            config["init"] = False
            ready, ex = self._launch(folder, home, config, None, time.monotonic())
        if not (isinstance(ready, dict) and ready.get("ready") is True):
            self._stop()
            why = ready.get("error") if isinstance(ready, dict) else f"no answer ({ex.failure})"
            raise SandboxError(f"the sandbox could not start: {why}. stderr: {ex.stderr.text()[-1000:].strip()!r}")
        filesystem = ready.get("filesystem") if isinstance(ready.get("filesystem"), str) else "unknown"
        active = {**namespace_labels(), "filesystem": filesystem}
        self.protections = {k: (v if unshare else f"not available: {why}") if k in self.hardening else "not requested"
                            for k, v in active.items()}
        self.protections["user"] = ready["user"] if isinstance(ready.get("user"), str) else "unknown"
        self.syscalls_filtered = ready.get("syscalls") is True  # SysV IPC and mknod end the child
        self.startup_s = time.monotonic() - started
        self.start_notes = tuple(n for n in ready.get("notes", ()) if isinstance(n, str)) + tuple(warm_notes)
        self.warm = self._child.warm
        self._child.private_tmp = filesystem.startswith("read-only") and not any(
            n.startswith("no private /tmp") for n in self.start_notes)
        self._budget_s = self.limits.total_timeout_s  # what is left of total_timeout_s
        self._seq = 1  # the number the child's next reply carries (its "ready" was 0)
        self.dead_reason = None

    def _warm_template(self):
        """The template to fork this session's child from, or None (GRADER_SANDBOX_WARM=0 turns them off)."""
        from . import warm

        if warm.switched_off():
            return None
        if self._template is not None:
            return self._template
        return warm.shared(self.preload, self.limits.threads)

    def _launch(self, folder: Path, home: Path, config: dict, unshare, started: float, template=None):
        """Start a child and wait for its first message: (the message or None, the Exchange)."""
        try:
            self._child = ChildProcess(folder, child_env(home, self.limits.threads), config, unshare, self.hardening,
                                       serious=VIOLATIONS, template=template)
        except OSError as exc:
            if unshare:  # unshare itself would not start: the plain child may
                self._child = None
                return None, Exchange(None, Capture(0), Capture(0), failure=f"unshare: {exc}")
            cleanup.remove_tree(str(self._scratch))
            raise SandboxError(f"could not start the sandbox's Python ({sys.executable}): {exc}") from None
        self._finalizer = weakref.finalize(self, _cleanup, self._child, self._scratch, self._owner, self._group)
        ex = self._child.exchange([], started + self.limits.start_timeout_s, REPLY_SLACK_BYTES, 4000)
        return (self._decode(ex) if ex.body is not None else None), ex

    def _stop(self) -> None:
        if self._child is not None:
            self._finalizer()
            self._child = None
        self.dead_reason = "the session was stopped"

    def _check_open(self) -> None:
        if self.closed:
            raise RuntimeError("this Session is closed")
        if self._owner != os.getpid():
            raise RuntimeError(f"this Session belongs to process {self._owner} (it was copied by fork)")

    # --- one call

    def _run(self, target: dict, function, args, kwargs, repeat, timeout_s, notes, each: bool = False,
             listen: bool = False) -> CallResult:
        """One call (``each``: the first of a request of several, ``args`` a list of argument tuples;
        ``listen``: the next of that request's replies, nothing sent)."""
        self._check_open()
        self._last_reply = None
        if not (isinstance(function, str) and NAME.match(function)):
            raise ValueError(f"function must be a Python name, got {function!r}")
        if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
            raise ValueError(f"repeat must be a positive int, got {repeat!r}")
        if timeout_s is not None and not (isinstance(timeout_s, (int, float)) and timeout_s > 0):
            raise ValueError(f"timeout_s must be a positive number, got {timeout_s!r}")
        if not isinstance(args, (tuple, list)):
            raise TypeError(f"args must be a tuple or list, not {type(args).__name__}")
        try:
            payload = None if listen else wire.encode_parts(
                [(tuple(a), {}) for a in args] if each else (tuple(args), dict(kwargs or {})), fallback=self._send_ref)
        except wire.WireError as exc:
            raise TypeError(f"arguments must be plain data (numpy arrays, numbers, str, None, lists, tuples, "
                            f"dicts) or Refs from this session: {exc}") from None
        if self.dead_reason is not None:
            return CallResult(False, error=f"not run: {self.dead_reason}", kind="dead", notes=tuple(notes))
        timeout = float(timeout_s or self.limits.call_timeout_s)
        budget_bound = self._budget_s < timeout
        key = (target["module"], target["trusted"], function, repeat, each)
        request = self._requests.get(key)
        if request is None:  # (the same few requests, again and again: encoded once)
            request = wire.frame(wire.encode_parts(dict(target, function=function, repeat=repeat,
                                                        **({"each": True} if each else {}))))
            self._requests[key] = request
        deadline = time.monotonic() + min(timeout, self._budget_s)
        try:  # the request, then its arguments: the child decodes those afresh for every repeat
            ex = self._child.exchange([] if listen else request + wire.frame(payload), deadline,
                                      self.limits.max_result_bytes + REPLY_SLACK_BYTES, self.limits.max_output_bytes,
                                      more=each)
        except BaseException:  # KeyboardInterrupt in the parent: the child's reply would go to the next call
            self._child.kill()
            self.dead_reason = "the parent was interrupted during a call"
            raise
        self._budget_s -= ex.wall_s
        reply = self._decode(ex) if ex.body is not None else None
        where = f"{target['module'] or 'trusted code'}.{function}"
        if ex.failure is None and isinstance(reply, dict):
            # every reply carries its number: one that is not the next is not the child's answer (student
            # code wrote it on the socket), however soon the answer itself follows it
            if reply.get("seq") != self._seq or type(reply.get("seq")) is not int:
                ex.failure = "garbage"
            else:
                self._seq += 1
        self._last_reply = reply if ex.failure is None and _valid_reply(reply) else None
        if ex.failure is None and _valid_reply(reply):
            result = CallResult(
                ok=reply["ok"], value=reply["value"] if reply["ok"] else None, error=reply["error"],
                kind=reply["kind"], stdout=ex.stdout.text(), stderr=ex.stderr.text(),
                durations=tuple(reply["durations"]), wall_s=ex.wall_s, traceback=reply["traceback"],
                notes=tuple(notes + reply["notes"] + _truncation_notes(ex)),
            )
        else:
            error, kind = self._failure(ex, timeout, budget_bound)
            self.dead_reason = error
            result = CallResult(False, error=error, kind=kind, stdout=ex.stdout.text(), stderr=ex.stderr.text(),
                                wall_s=ex.wall_s, notes=tuple(notes + _truncation_notes(ex)))
        reported = guard_events(*self._child.events.take())  # whatever became of the call: they were written
        if self._child.reaped and self._child.proc.returncode == GUARD_LOST_STATUS:
            reported.append(Event("tamper", f"{where}: the guard's channel to the grader was closed or replaced"))
        # (a call of a request of several: what its kind and output say is told by ``_each``, where it is used)
        events = _dedupe(reported + ([] if each else observed_events(result, where, ex)) + self._leftovers(where))
        self.events.extend(e for e in events if e not in self.events)
        return replace(result, events=tuple(events)) if events else result

    def _leftovers(self, where: str) -> list[Event]:
        """What the child made that would outlive it, looked for where nothing else stops it: SysV
        IPC objects without an IPC namespace or a system-call filter; files of its group in the
        shared temporary folders without a private /tmp, where native code runs unwatched (no
        guard, or one that allows ctypes).  Each is reported once and removed when the child ends."""
        found = []
        child = self._child
        if not child.namespaced and not self.syscalls_filtered:
            found += [(o.kind, o.id, o.describe()) for o in cleanup.objects_of(child.members, self._group)]
        if (self._group is not None and not child.private_tmp
                and (self.rules is None or self.rules.native_code or not self.syscalls_filtered)):
            found += [("file", path, path) for path in cleanup.files_of(self._group, keep=(str(self._scratch),))]
        events = []
        for kind, key, what in found:
            if (kind, key) not in self._reported:
                self._reported.add((kind, key))
                events.append(Event("leftover", f"{where} left {what}, which would outlive the sandbox "
                                                "(removed when the session ends)"))
        return events

    def _failure(self, ex: Exchange, timeout: float, budget_bound: bool) -> tuple[str, str]:
        """Kill the child and say why the call got no usable reply."""
        status = self._child.kill(DEATH_GRACE_S if ex.failure == "exited" else 0.0)
        self._child.drain(ex)
        if ex.failure == "timeout":
            if budget_bound:
                return f"the session's time limit of {self.limits.total_timeout_s:g} s was used up", "timeout"
            return f"timed out after {timeout:g} s", "timeout"
        if ex.failure == "too_large":
            return (f"the result is too large to send back ({ex.reply_length} bytes; "
                    f"the limit is {self.limits.max_result_bytes})"), "result"
        if ex.failure == "exited":
            return exit_message(status, self.limits)
        return TAMPERED, "channel"

    # --- plain data and Refs

    def _send_ref(self, obj, encode_item):
        if type(obj) is not Ref:
            raise wire.WireError(f"cannot send a value of type {type(obj).__module__}.{type(obj).__qualname__}")
        if obj.owner is not self._token:
            raise wire.WireError("this Ref belongs to another session, or to a child that has since ended")
        return {"r": [obj.id, list(obj.path)]}

    def _make_ref(self, payload) -> Ref:
        if (len(payload) != 3 or type(payload[0]) is not int
                or not all(type(p) is str and len(p) <= 1000 for p in payload[1:])):
            raise wire.WireError("malformed reference")
        return Ref(payload[0], payload[1], payload[2], (), self._token)

    def _decode(self, ex: Exchange):
        try:
            return wire.decode(ex.body, ref=self._make_ref)
        except wire.WireError:
            ex.failure = "garbage"
            return None


# ---------------------------------------------------------------- helpers


def guard_events(lines: list[bytes], garbled: int) -> list[Event]:
    """The guard's lines (``code<TAB>detail``) as Events.  Student code can write on that pipe
    too: a line that is not the guard's (an unknown code, a line too long) is itself tampering."""
    events = []
    for line in lines:
        code, tab, detail = line.partition(b"\t")
        name = code.decode("ascii", "replace")
        if tab and name in VIOLATIONS.keys() | NOTICES.keys() | INFORMATION.keys():
            events.append(Event(name, detail.decode("utf-8", "replace")[:MAX_EVENT_DETAIL]))
        else:
            garbled += 1
    if garbled:
        events.append(Event("tamper", f"wrote {garbled} line(s) of its own on the guard's channel to the grader"))
    return _dedupe(events)


def observed_events(result: CallResult, where: str, ex: Exchange) -> list[Event]:
    """What the parent itself saw of a call: how it failed, and what it printed."""
    events = []
    error = result.error or ""
    if result.kind == "exit":
        events.append(Event("exit", f"{where}: {error}"))
    elif result.kind in ("timeout", "memory", "cpu", "crash", "result"):
        events.append(Event(result.kind, f"{where}: {error}"))
    elif result.kind == "exception" and error.startswith("raised KeyboardInterrupt"):
        events.append(Event("interrupt", f"{where}: {error}"))
    elif result.kind == "channel":  # a reply the child did not send as its answer (student code wrote it)
        events.append(Event("tamper", f"{where}: {error}"))
    for name, cap in (("stdout", ex.stdout), ("stderr", ex.stderr)):
        if cap.dropped:
            events.append(Event("output", f"{where} flooded its output: {name} was {cap.dropped + len(cap.kept)} "
                                          f"bytes long (kept: {len(cap.kept)})"))
        match = FAKE_RESULTS.search(cap.kept.decode("utf-8", errors="replace"))
        if match:
            events.append(Event("fake-results", f"{where} printed what looks like fake results on {name}: "
                                                f"{match.group(0)!r}"))
    return events


def _dedupe(events: list[Event]) -> list[Event]:
    return list(dict.fromkeys(events))


@functools.lru_cache(maxsize=None)
def grader_folders() -> tuple[str, ...]:
    """The grader's own code: its package and (in a source checkout) the reference folder.
    Found once per process (every session asks: 0.1 ms each); where it is does not change."""
    folders = [str(Path(__file__).resolve().parents[1])]
    try:
        spec = importlib.util.find_spec("grader.reference")
        folders += [str(Path(p).resolve()) for p in (spec.submodule_search_locations or [])] if spec else []
    except ImportError:
        pass
    return tuple(dict.fromkeys(folders))


def visible_paths(scratch: Path, libraries, trusted) -> list[str]:
    """What the child must see: its scratch folder, Python (every prefix), the libraries and
    the trusted folders, as real paths (the mounts and the guard compare real paths)."""
    installed = _real_paths((*libraries, sys.prefix, sys.base_prefix, sys.exec_prefix, *trusted))
    return sorted({os.path.realpath(scratch), *installed})


def _real_paths(paths: tuple) -> tuple[str, ...]:
    """The real path of each of ``paths`` (the folders a session hides, protects, trusts or shows:
    the grader's, its config's, Python's and the libraries', the same for every session of a process),
    worked out once for absolute paths; a relative one depends on the working directory: found again."""
    if all(os.path.isabs(p) for p in paths):
        return _real_absolute(paths)
    return tuple(os.path.realpath(p) for p in paths)


@functools.lru_cache(maxsize=64)
def _real_absolute(paths: tuple) -> tuple[str, ...]:
    return tuple(os.path.realpath(p) for p in paths)


def module_folders(names) -> dict[str, str]:
    """{folder: module} for the installed top-level packages among ``names`` ("torch");
    found without importing them (a dotted name would import its package: left out).

    Every session asks, with the same names (0.3 ms of import-system look-ups each): the answer is
    remembered for as long as ``sys.path`` and the modification times of its folders are what they
    were (installing or removing a package changes its folder's), so a package installed while a
    batch runs is still found and hidden."""
    key = (tuple(names), *((_absolute(p), _mtime_ns(p)) for p in sys.path))
    found = _MODULE_FOLDERS.get(key)
    if found is None:
        if len(_MODULE_FOLDERS) >= 16:  # (one key a process, in practice; clear() is atomic: sessions start in threads)
            _MODULE_FOLDERS.clear()
        found = _MODULE_FOLDERS[key] = _module_folders(key[0])
    return dict(found)


_MODULE_FOLDERS: dict[tuple, dict[str, str]] = {}


def _absolute(path: str) -> str:
    """A ``sys.path`` entry as the folder it stands for now ("" is the working directory)."""
    try:
        return os.path.abspath(path or ".")
    except OSError:  # (a working directory that was removed)
        return path


def _mtime_ns(path: str) -> int | None:
    try:
        return os.stat(path or ".").st_mtime_ns
    except OSError:
        return None


def _module_folders(names) -> dict[str, str]:
    folders = {}
    for name in names:
        if "." in name:
            continue
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        for location in (spec.submodule_search_locations or []) if spec else []:
            folders[str(Path(location).resolve())] = name
    return folders


def sandbox_user() -> dict | None:
    """The user student code runs as when the grader is root: ``SANDBOX_USER`` (or
    $GRADER_SANDBOX_USER; empty: stay root), as {"uid", "gid", "name"}; None when the grader is
    not root or that user does not exist."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or user_namespace():
        return None  # (a user namespace maps one uid: there is no other to switch to)
    name = os.environ.get("GRADER_SANDBOX_USER", SANDBOX_USER)
    if not name:
        return None
    try:
        import pwd

        entry = pwd.getpwnam(name) if not name.isdigit() else pwd.getpwuid(int(name))
    except (ImportError, KeyError):
        return None
    if entry.pw_uid == 0:
        return None
    return {"uid": entry.pw_uid, "gid": entry.pw_gid, "name": entry.pw_name}


def _valid_reply(reply) -> bool:
    """The reply has the shape the child sends (student code can forge one: only its shape is checked)."""
    return (
        isinstance(reply, dict)
        and type(reply.get("ok")) is bool
        and (reply.get("error") is None or type(reply["error"]) is str)
        and (reply.get("kind") is None or reply["kind"] in FAILURE_KINDS)
        and (reply.get("traceback") is None or type(reply["traceback"]) is str)
        and type(reply.get("durations")) is list
        and all(type(d) is float and d >= 0 for d in reply["durations"])
        and type(reply.get("notes")) is list
        and all(type(n) is str for n in reply["notes"])
        and type(reply.get("events", [])) is list
        and all(type(e) is list and len(e) == 2 and e[0] in VIOLATIONS.keys() | NOTICES.keys() and type(e[1]) is str
                for e in reply.get("events", []))
        and "value" in reply
    )


def _truncation_notes(ex: Exchange) -> list[str]:
    return [f"{name} was {cap.dropped + len(cap.kept)} bytes long; only the first {len(cap.kept)} are kept"
            for name, cap in (("stdout", ex.stdout), ("stderr", ex.stderr)) if cap.dropped]


def exit_message(status: int | None, limits: Limits) -> tuple[str, str]:
    """A student-facing sentence for a child that ended during a call, and its kind."""
    if status is None:
        return "the process stopped answering and could not be ended", "crash"
    if status == GUARD_LOST_STATUS:
        return "the sandbox ended the process: its guard's channel to the grader was closed or replaced", "exit"
    if status >= 0:
        return f"the process exited with status {status} during the call (sys.exit/os._exit?)", "exit"
    sig = -status
    name = signal.Signals(sig).name if sig in signal.valid_signals() else f"signal {sig}"
    if sig == getattr(signal, "SIGXCPU", None):
        return f"killed: CPU time limit of {limits.cpu_s} s exceeded", "cpu"
    if sig == getattr(signal, "SIGXFSZ", None):
        return f"killed: file size limit of {limits.file_size_mb} MB exceeded", "crash"
    if sig == getattr(signal, "SIGSYS", None):
        return ("killed for a system call the sandbox forbids (SysV IPC, POSIX message queues or mknod: "
                "what would outlive it)"), "crash"
    memory = f"; exceeding the memory limit of {limits.memory_mb} MB can cause this" if limits.memory_mb else ""
    if sig in (signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT, signal.SIGILL):
        return f"the process crashed during the call ({name}{memory})", "crash"
    return f"the process was killed by {name} during the call", "crash"


def _module_name(module) -> str:
    """'conv', 'cs231n.layers', 'cs231n/layers.py' -> a dotted module name."""
    if not isinstance(module, str):
        raise TypeError(f"module must be a str, not {type(module).__name__}")
    name = module.removesuffix(".py").replace("/", ".").replace(os.sep, ".")
    if not all(NAME.match(part) for part in name.split(".")):
        raise ValueError(f"module must be a module name like 'conv' or 'cs231n.layers', got {module!r}")
    return name


def copy_submission(source: Path, target: Path) -> tuple[str, ...]:
    """Copy regular files and folders of ``source`` to ``target``; return notes on what was left out."""
    notes = []
    target.mkdir()
    try:
        entries = sorted(os.scandir(source), key=lambda e: e.name)
    except OSError as exc:
        return (f"could not read {source}: {exc.strerror}",)
    for entry in entries:
        if entry.name in SKIPPED_NAMES:
            continue
        try:
            if entry.is_symlink():
                notes.append(f"left out {entry.name}: a symbolic link")
            elif entry.is_dir(follow_symlinks=False):
                notes.extend(copy_submission(Path(entry.path), target / entry.name))
            elif entry.is_file(follow_symlinks=False):
                shutil.copyfile(entry.path, target / entry.name, follow_symlinks=False)
            else:
                notes.append(f"left out {entry.name}: not a regular file")
        except OSError as exc:
            notes.append(f"left out {entry.name}: {exc.strerror or exc}")
    return tuple(notes)


def preload_imports(preload) -> list[str]:
    """The modules a child imports before any student code runs: ``preload``, and what a preload
    leaves to be imported later whose import does something the guard refuses, which student
    code that imports it would be blamed for.  NumPy 1.25 to 2.0 run ``lscpu`` as numpy.testing
    loads (to learn whether the CPU has SVE): a submission that imports numpy.testing (old
    cs231n files import its nosetester) would be told it started a process and lose the part."""
    names = list(preload)
    if "numpy" in names and "numpy.testing" not in names and _numpy_runs_lscpu_on_testing_import():
        names.append("numpy.testing")
    return names


@functools.lru_cache(maxsize=None)
def _numpy_runs_lscpu_on_testing_import() -> bool:
    import numpy

    return runs_lscpu_on_testing_import(numpy.__version__)


def runs_lscpu_on_testing_import(version: str) -> bool:
    """Whether numpy ``version``'s numpy.testing runs ``lscpu`` when it is imported (1.25 to 2.0;
    from 2.1 on it asks only when a test needs to know)."""
    from numpy.lib import NumpyVersion

    return "1.25.0.dev0" <= NumpyVersion(version) < "2.1.0.dev0"


def library_paths(preload) -> list[str]:
    """The parent's site-packages folders, and the folders its preload modules come from."""
    paths = [p for p in sys.path if os.path.basename(os.path.normpath(p)) in ("site-packages", "dist-packages")]
    for name in preload:
        spec = importlib.util.find_spec(name.partition(".")[0])
        origin = spec and (spec.submodule_search_locations or [spec.origin])
        if origin and origin[0]:
            folder = os.path.dirname(os.path.normpath(next(iter(origin))))
            if folder not in paths:
                paths.append(folder)
    return paths


def child_env(home: Path, threads: int) -> dict:
    """The child's whole environment: nothing of the grader's but what numpy/torch need."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "TMPDIR": str(home),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
    }
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                 "VECLIB_MAXIMUM_THREADS"):
        env[name] = str(threads)
    if "CUDA_VISIBLE_DEVICES" in os.environ:
        env["CUDA_VISIBLE_DEVICES"] = os.environ["CUDA_VISIBLE_DEVICES"]
    return env


def _mount_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/mnt")
    except OSError:
        return ""


_swept: set[int] = set()  # the processes that have removed the scratch folders of dead graders


def _sweep_once() -> None:
    """Once per process: remove the scratch folders that graders killed before they could
    (``cleanup.sweep_stale_scratch``)."""
    if os.getpid() not in _swept:
        _swept.add(os.getpid())
        cleanup.sweep_stale_scratch(tempfile.gettempdir())


def _cleanup(child: ChildProcess, scratch: Path, owner: int, group: int | None) -> None:
    """Kill the child's session, remove what it left outside its namespaces (``cleanup``) and its
    scratch folder (also at GC and interpreter exit), in the process that started it only: a
    forked copy that is collected leaves all of it alone."""
    if os.getpid() != owner:
        return
    try:
        child.close()
        if not child.namespaced:
            cleanup.remove_sysv(cleanup.objects_of(child.members, group))
        if group is not None and not child.private_tmp:
            for path in cleanup.files_of(group, keep=(str(scratch),)):
                cleanup.remove_tree(path)
    finally:
        cleanup.remove_tree(str(scratch))
