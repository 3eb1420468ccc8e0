"""What a hostile submission may leave behind when the sandbox fails, and how to look for it.

    before = snapshot()
    report = grade_submission(...)
    problems = leftovers(before, markers=expect.markers)   # [] when nothing escaped
    cleanup_markers(expect.markers)                        # hygiene, after the assertion message is built

``snapshot()`` records every process on the machine (pid and start time, so a reused pid
reads as new), the names in /tmp and /dev/shm, the SysV IPC objects (``ipcs``: shared memory,
semaphores, message queues), and a hash of every file of the grader's own folders (grader/,
reference/, problems/, templates/ of this checkout; __pycache__ left out).

``leftovers()`` reports, after waiting up to ``after_wait_s`` for stragglers to exit:

- new processes that belong to a sandbox: their environment's HOME or TMPDIR is under a
  ``grader-sandbox-*`` folder (the sandbox sets both), their command line or working folder
  names ``grader-sandbox``, ``grader-hostile`` or ``hostile-marker``, they run as the sandbox's
  user (``nobody`` when the grader is root), or they live in another pid namespace.  Parentage is
  not used: an escapee that called setsid() or whose parent died is re-parented to init.  Not
  reported: this process and its ancestors, zombies, the children (and their descendants) of
  ``grader.sandbox.session.Session`` objects of this interpreter that are still open (the grader's
  long-lived reference session for speed tests is one), ``ignore_pids``, and (unless
  ``others=False``) the sandboxes of another grader run on the machine: those whose nearest
  non-sandbox ancestor is a live Python process outside this process's lineage (an escapee is
  re-parented to init or a subreaper, so this uses parentage only to excuse, never to accuse);
- new names in /tmp and /dev/shm containing ``grader-hostile``, ``hostile-marker`` or
  ``grader-sandbox-`` (the scratch folders of open sessions and of other grader runs excepted);
- new SysV IPC objects (whoever made them: nothing on a test machine makes them but attacks);
- any change to the grader's folders (a file added, removed, or changed in size, mtime or content);
- every marker path that exists (relative paths are relative to the repository root).

The helpers only read, except ``cleanup_markers``, which removes only paths whose name says
they are markers.
"""

from __future__ import annotations

import gc
import hashlib
import os
import re
import shutil
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SUBMISSIONS = HERE / "submissions"
TREES = ("grader", "reference", "problems", "templates")
SKIPPED_DIRS = {"__pycache__"}
SCRATCH_PREFIX = "grader-sandbox-"
TMP_DIRS = ("/tmp", "/dev/shm")
SYSV_TABLES = {"shared memory segment": "/proc/sysvipc/shm", "semaphore set": "/proc/sysvipc/sem",
               "message queue": "/proc/sysvipc/msg"}
NAME_SIGNS = ("grader-hostile", "hostile-marker", SCRATCH_PREFIX)  # in /tmp and /dev/shm names
CMDLINE_SIGNS = (b"grader-sandbox", b"grader-hostile", b"hostile-marker")  # in a process's command line or cwd
MARKER_SIGNS = ("grader-hostile", "hostile-marker")  # what cleanup_markers agrees to remove


# ------------------------------------------------------------------ snapshots


@dataclass(frozen=True)
class Snapshot:
    """The machine as it was: see the module docstring."""

    processes: dict[int, int]  # pid -> start time (clock ticks since boot, /proc/<pid>/stat field 22)
    names: dict[str, frozenset[str]]  # "/tmp", "/dev/shm" -> the names in it
    tree: str  # sha256 over every file of the grader's folders
    files: dict[str, tuple[int, int, str]]  # path relative to root -> (size, mtime_ns, sha256 of the content)
    root: Path = ROOT
    trees: tuple[str, ...] = TREES
    taken: float = field(default_factory=time.time)
    ipc: frozenset[tuple[str, str, str]] = frozenset()  # (kind, id, creation time) of every SysV IPC object


def snapshot(root: str | os.PathLike | None = None, trees: tuple[str, ...] = TREES) -> Snapshot:
    """Processes, /tmp and /dev/shm names, and the grader tree's hash, now.  ``root`` and
    ``trees`` name the folders to hash (default: this checkout's grader folders)."""
    root = Path(root) if root is not None else ROOT
    files = tree_files(root, trees)
    return Snapshot(processes=processes(), names={d: list_names(d) for d in TMP_DIRS},
                    tree=tree_digest(files), files=files, root=root, trees=tuple(trees), ipc=sysv_objects())


def processes() -> dict[int, int]:
    """Every process on the machine: pid -> start time (a pid reused later gets another)."""
    found = {}
    for entry in _proc_pids():
        start = _start_time(entry)
        if start is not None:
            found[entry] = start
    return found


def sysv_objects() -> frozenset[tuple[str, str, str]]:
    """Every SysV IPC object of this IPC namespace, as ``ipcs`` lists them: (kind, id, ctime)."""
    found = set()
    for kind, path in SYSV_TABLES.items():
        try:
            with open(path) as f:
                header, *rows = [line.split() for line in f]
        except (OSError, ValueError):
            continue
        for row in rows:
            if len(row) == len(header):
                found.add((kind, row[1], row[header.index("ctime")]))
    return frozenset(found)


def stray_ipc(before: Snapshot) -> list[str]:
    return [f"SysV {kind} left: id {ident}" for kind, ident, _ in sorted(sysv_objects() - before.ipc)]


def list_names(folder: str) -> frozenset[str]:
    try:
        return frozenset(os.listdir(folder))
    except OSError:
        return frozenset()


def tree_files(root: Path, trees: tuple[str, ...] = TREES) -> dict[str, tuple[int, int, str]]:
    """Every file under ``root/<tree>`` (not following links, __pycache__ left out):
    relative path -> (size, mtime_ns, sha256).  A link is recorded with its target as content."""
    files = {}
    for tree in trees:
        top = Path(root) / tree
        if not top.exists():
            continue
        for folder, dirs, names in os.walk(top):
            dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
            for name in sorted(names):
                path = Path(folder) / name
                rel = path.relative_to(root).as_posix()
                try:
                    st = path.lstat()
                    if path.is_symlink():
                        digest = hashlib.sha256(os.readlink(path).encode()).hexdigest()
                    else:
                        digest = hashlib.sha256(path.read_bytes()).hexdigest()
                except OSError as exc:
                    files[rel] = (-1, -1, f"unreadable: {exc.strerror}")
                    continue
                files[rel] = (st.st_size, st.st_mtime_ns, digest)
    return files


def tree_digest(files: dict[str, tuple[int, int, str]]) -> str:
    h = hashlib.sha256()
    for rel in sorted(files):
        size, mtime_ns, digest = files[rel]
        h.update(f"{rel}\0{size}\0{mtime_ns}\0{digest}\n".encode())
    return h.hexdigest()


# ------------------------------------------------------------------ what is left


def leftovers(before: Snapshot, after_wait_s: float = 2.0, markers=(), ignore_pids=(), others: bool = True) -> list[str]:
    """Human-readable problems (empty when nothing escaped); see the module docstring.
    Waits up to ``after_wait_s`` seconds for new sandbox processes and scratch names to go away
    (a sandbox that is still tearing down is not a leftover).  ``others``: leave out the sandboxes
    of other grader runs on the machine (``foreign_sandboxes``)."""
    deadline = time.monotonic() + max(after_wait_s, 0.0)
    while True:
        live_pids, live_scratch = live_sessions()
        problems = (stray_processes(before, set(ignore_pids) | live_pids, others)
                    + stray_names(before, live_scratch, others) + stray_ipc(before))
        if not problems or time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    problems += tree_changes(before)
    problems += [f"marker exists: {p}" for p in resolve_markers(markers, before.root) if os.path.lexists(p)]
    return problems


def stray_processes(before: Snapshot, ignore=(), others: bool = True) -> list[str]:
    """New processes that look like the sandbox's (see the module docstring).  With ``others``,
    those of another grader running at the same time are left out (see ``foreign_sandboxes``)."""
    table = _table()  # pid -> (ppid, state, start)
    mine = _lineage(os.getpid(), table)
    spared = set(ignore) | mine
    spared |= _descendants(spared - mine, table)
    signs = _Signs()
    foreign = foreign_sandboxes(table, signs)[0] if others else set()
    problems = []
    for pid, (_, state, start) in sorted(table.items()):
        if pid in spared or pid in foreign or before.processes.get(pid) == start or state == "Z":
            continue
        why = signs(pid)
        if why:
            problems.append(f"process {pid} still running ({why}): {_describe(pid)}")
    return problems


def foreign_sandboxes(table=None, signs=None) -> tuple[set[int], set[str]]:
    """Sandbox processes of another grader run (another pytest worker, another user's
    `grader check`), and their scratch folders: the nearest ancestor of the process that is not
    itself a sandbox process is a live Python process outside this process's lineage.  A sandbox
    process that escaped is re-parented to init or a subreaper (not Python), or still hangs below
    this process: it is not foreign."""
    table = _table() if table is None else table
    signs = _Signs() if signs is None else signs
    mine = _lineage(os.getpid(), table)
    pids, scratch = set(), set()
    for pid in table:
        if pid in mine or not signs(pid):
            continue
        owner, seen = table[pid][0], {pid}
        while owner > 1 and owner not in seen and signs(owner):
            seen.add(owner)
            owner = table.get(owner, (0,))[0]
        if owner > 1 and owner not in mine and _is_python(owner):
            pids.add(pid)
            home = signs.env(pid).get(b"HOME", b"").decode("utf-8", "replace")
            found = re.match(rf"(.*/{SCRATCH_PREFIX}[^/]+)", home)
            if not found:  # another user's environment is not readable: its command line names the folder
                cmdline = _read(f"/proc/{pid}/cmdline").decode("utf-8", "replace")
                found = re.search(rf'"home": "(/[^"]*/{SCRATCH_PREFIX}[^/"]+)/', cmdline)
            if not found:  # a clone of a warm template shows the template's environment and command line
                try:
                    found = re.match(rf"(.*/{SCRATCH_PREFIX}[^/]+)", os.readlink(f"/proc/{pid}/cwd"))
                except OSError:
                    found = None
            if found:
                scratch.add(found.group(1))
    return pids, scratch


def stray_names(before: Snapshot, spared=(), others: bool = True) -> list[str]:
    spared = set(spared) | (foreign_sandboxes()[1] if others else set())
    problems = []
    for folder in TMP_DIRS:
        new = list_names(folder) - before.names.get(folder, frozenset())
        for name in sorted(new):
            path = os.path.join(folder, name)
            if any(sign in name for sign in NAME_SIGNS) and path not in spared:
                problems.append(f"new file left in {folder}: {path}")
    return problems


def tree_changes(before: Snapshot) -> list[str]:
    now = tree_files(before.root, before.trees)
    if tree_digest(now) == before.tree:
        return []
    problems = []
    for rel in sorted(now.keys() - before.files.keys()):
        problems.append(f"grader tree changed: new file {rel}")
    for rel in sorted(before.files.keys() - now.keys()):
        problems.append(f"grader tree changed: file removed {rel}")
    for rel in sorted(now.keys() & before.files.keys()):
        (s0, m0, d0), (s1, m1, d1) = before.files[rel], now[rel]
        what = [w for w, changed in (("size", s0 != s1), ("mtime", m0 != m1), ("content", d0 != d1)) if changed]
        if what:
            problems.append(f"grader tree changed: {rel} ({', '.join(what)})")
    return problems or ["grader tree changed"]


def resolve_markers(markers, root: Path = ROOT) -> list[str]:
    """Marker paths as absolute paths: relative ones are relative to the repository root."""
    if isinstance(markers, (str, os.PathLike)):
        markers = [markers]
    return [str(Path(m) if os.path.isabs(m) else Path(root) / m) for m in markers]


def cleanup_markers(paths, root: Path = ROOT) -> list[str]:
    """Remove the marker paths that exist (files, links or whole folders); returns those removed.
    Refuses (ValueError, before removing anything) a path whose name does not contain
    ``grader-hostile`` or ``hostile-marker``: it cannot be a marker."""
    resolved = resolve_markers(paths, root)
    for path in resolved:
        if not any(sign in os.path.basename(os.path.normpath(path)) for sign in MARKER_SIGNS):
            raise ValueError(f"not a marker path, not removing it: {path}")
    removed = []
    for path in resolved:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        elif os.path.lexists(path):
            os.unlink(path)
        else:
            continue
        removed.append(path)
    return removed


# ------------------------------------------------------------------ open sessions of this interpreter


def live_sessions() -> tuple[set[int], set[str]]:
    """(pids of the children of grader Sessions of this interpreter that are still open, and of all
    their descendants; the scratch folders of those sessions)."""
    module = sys.modules.get("grader.sandbox.session")
    cls = getattr(module, "Session", None)
    if cls is None:
        return set(), set()
    roots, scratch = set(), set()
    for obj in gc.get_objects():
        if type(obj) is cls and not obj.closed:  # type(), not isinstance: no __class__ of odd objects (torch)
            pid = getattr(getattr(getattr(obj, "_child", None), "proc", None), "pid", None)
            if isinstance(pid, int):
                roots.add(pid)
            folder = getattr(obj, "_scratch", None)
            if folder is not None:
                scratch.add(str(folder))
    return roots | _descendants(roots, _table()), scratch


# ------------------------------------------------------------------ /proc


def _proc_pids() -> list[int]:
    try:
        return [int(n) for n in os.listdir("/proc") if n.isdigit()]
    except OSError:
        return []


def _stat(pid: int) -> list[str] | None:
    """/proc/<pid>/stat fields after the command name: [state, ppid, ...] (field 3 onwards)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return None
    return text[text.rfind(")") + 2:].split()


def _start_time(pid: int) -> int | None:
    fields = _stat(pid)
    try:
        return int(fields[19]) if fields else None  # field 22 of stat
    except (IndexError, ValueError):
        return None


def _table() -> dict[int, tuple[int, str, int]]:
    table = {}
    for pid in _proc_pids():
        fields = _stat(pid)
        try:
            table[pid] = (int(fields[1]), fields[0], int(fields[19]))
        except (TypeError, IndexError, ValueError):
            continue
    return table


def _lineage(pid: int, table) -> set[int]:
    """``pid`` and its ancestors."""
    seen = set()
    while pid > 0 and pid not in seen:
        seen.add(pid)
        pid = table.get(pid, (0,))[0]
    return seen


def _descendants(roots, table) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = set(), list(roots)
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def _pid_ns(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


def _sandbox_uid() -> int | None:
    """The uid the sandbox runs student code as, where it switches users (the grader is root)."""
    try:
        from grader.sandbox.session import sandbox_user

        user = sandbox_user()
    except Exception:  # noqa: BLE001 - the grader's internals may change: fall back to nobody
        user = None
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            try:
                import pwd

                user = {"uid": pwd.getpwnam("nobody").pw_uid}
            except (ImportError, KeyError):
                pass
    return user["uid"] if user else None


class _Signs:
    """Why a pid looks like a sandbox process ('' when it does not), cached for one scan."""

    def __init__(self):
        self.user, self.own_ns = _sandbox_uid(), _pid_ns(os.getpid())
        self._why: dict[int, str] = {}
        self._env: dict[int, dict[bytes, bytes]] = {}

    def env(self, pid: int) -> dict[bytes, bytes]:
        if pid not in self._env:
            raw = _read(f"/proc/{pid}/environ").split(b"\0")
            self._env[pid] = dict(item.split(b"=", 1) for item in raw if b"=" in item)
        return self._env[pid]

    def __call__(self, pid: int) -> str:
        if pid not in self._why:
            self._why[pid] = _sandbox_signs(pid, self.env(pid), self.user, self.own_ns)
        return self._why[pid]


def _sandbox_signs(pid: int, env: dict[bytes, bytes], user: int | None, own_ns: str | None) -> str:
    for key in (b"HOME", b"TMPDIR"):
        if SCRATCH_PREFIX.encode() in env.get(key, b""):
            return f"{key.decode()} is a sandbox folder"
    cmdline = _read(f"/proc/{pid}/cmdline")
    for sign in CMDLINE_SIGNS:
        if sign in cmdline:
            return f"command line names {sign.decode()}"
    try:
        cwd = os.readlink(f"/proc/{pid}/cwd").encode()
    except OSError:
        cwd = b""
    for sign in CMDLINE_SIGNS:
        if sign in cwd:
            return f"working folder names {sign.decode()}"
    if user is not None:
        try:
            if os.stat(f"/proc/{pid}").st_uid == user:
                return f"runs as the sandbox's user (uid {user})"
        except OSError:
            pass
    ns = _pid_ns(pid)
    if ns and own_ns and ns != own_ns:
        return "lives in another pid namespace"
    return ""


def _is_python(pid: int) -> bool:
    try:
        return os.path.basename(os.readlink(f"/proc/{pid}/exe")).startswith("python")
    except PermissionError:  # another user's process (a root grader seen by a test run as nobody): its name
        return _read(f"/proc/{pid}/comm").startswith(b"python")
    except OSError:
        return False


def _describe(pid: int) -> str:
    cmdline = _read(f"/proc/{pid}/cmdline").replace(b"\0", b" ").decode("utf-8", "replace").strip()
    if len(cmdline) > 200:
        cmdline = cmdline[:200] + "..."
    return cmdline or f"[{_read(f'/proc/{pid}/comm').decode('utf-8', 'replace').strip()}]"


# ------------------------------------------------------------------ fixtures and their expectations


@dataclass(frozen=True)
class Expect:
    """A fixture's expect.toml (see README.md)."""

    folder: Path
    part: str
    other: str
    reason: tuple[str, ...]
    zero: bool
    description: str
    markers: tuple[str, ...] = ()  # absolute
    twin: tuple[str, ...] = ()  # (attack's text, honest text): the twin is the attacked file with one replaced

    @property
    def name(self) -> str:
        return self.folder.name


EXPECT_KEYS = {"part": str, "other": str, "reason": list, "zero": bool, "description": str, "markers": list,
               "twin": list}
OPTIONAL_KEYS = {"markers", "twin"}


def load_expect(folder: str | os.PathLike) -> Expect:
    """Read and check ``folder/expect.toml``."""
    folder = Path(folder)
    data = tomllib.loads((folder / "expect.toml").read_text())
    unknown = data.keys() - EXPECT_KEYS.keys()
    missing = EXPECT_KEYS.keys() - OPTIONAL_KEYS - data.keys()
    if unknown or missing:
        raise ValueError(f"{folder.name}/expect.toml: unknown keys {sorted(unknown)}, missing {sorted(missing)}")
    for key, kind in EXPECT_KEYS.items():
        if key in data and not isinstance(data[key], kind):
            raise ValueError(f"{folder.name}/expect.toml: {key} must be a {kind.__name__}")
    for key in ("reason", "markers", "twin"):
        if not all(isinstance(item, str) for item in data.get(key, [])):
            raise ValueError(f"{folder.name}/expect.toml: {key} must be a list of strings")
    if len(data.get("twin", ["", ""])) != 2:
        raise ValueError(f"{folder.name}/expect.toml: twin is [the attack's text, the honest text]")
    if any(r != r.lower() for r in data["reason"]):
        raise ValueError(f"{folder.name}/expect.toml: reasons are lowercase substrings")
    return Expect(folder, data["part"], data["other"], tuple(data["reason"]), data["zero"], data["description"],
                  tuple(resolve_markers(data.get("markers", []))), tuple(data.get("twin", ())))


EXAMPLE = ROOT / "examples" / "submission"
PART_FILES = {"conv": "conv.py", "max_pool": "pool.py", "transfer": "transfer.py"}
COMMON = HERE / "common"


def assemble(expect: Expect, target: str | os.PathLike, twin: bool = False) -> Path:
    """The submission to grade, in ``target``: the fixture's attacked file, the correct example's
    file for the other part, and the shared layers (``common/``) the attacked file imports.  With
    ``twin``, the attacked file is its honest twin (``expect.twin``: the attack's text replaced)."""
    target = Path(target)
    target.mkdir(parents=True)
    for path in expect.folder.iterdir():
        if path.suffix == ".py" and twin and path.name == PART_FILES[expect.part]:
            text, (attack, honest) = path.read_text(encoding="utf-8"), expect.twin
            if text.count(attack) != 1:
                raise ValueError(f"{expect.name}: {attack!r} must appear once in {path.name} to make its twin")
            (target / path.name).write_text(text.replace(attack, honest), encoding="utf-8")
        elif path.suffix == ".py":
            shutil.copyfile(path, target / path.name)
    shutil.copyfile(EXAMPLE / PART_FILES[expect.other], target / PART_FILES[expect.other])
    for pattern in ("_wrong_*.py", "_right_*.py", "_torch_*.py"):
        for path in COMMON.glob(pattern):
            shutil.copyfile(path, target / path.name)
    return target


def fixture_dirs() -> list[Path]:
    """Every fixture folder (one with an expect.toml), sorted by name."""
    return sorted(p.parent for p in SUBMISSIONS.glob("*/expect.toml"))


def integrity_feedback(report, part: str) -> str:
    """The feedback of ``part``'s integrity tests, joined and lowercased."""
    return " | ".join(t.feedback for t in report.tests if t.part == part and t.kind == "integrity").lower()


def twin_problems(report, twin_report, part: str) -> list[str]:
    """Where the attack (``report``) scored more than its honest twin on ``part``, test by test."""
    twin = {t.name: t.score for t in twin_report.tests if t.part == part}
    problems = [f"{part}: {t.name} scored {t.score:g}, its honest twin {twin.get(t.name, 0.0):g}: {t.feedback[:200]}"
                for t in report.tests if t.part == part and t.score > twin.get(t.name, 0.0) + 1e-9]
    if not twin:
        problems.append(f"the honest twin has no test of {part}")
    return problems


def expectation_problems(report, expect: Expect) -> list[str]:
    """What in ``report`` (graded with parts=f"{expect.part},{expect.other}") breaks ``expect``."""
    problems = []
    attacked = [t for t in report.tests if t.part == expect.part]
    if not attacked:
        problems.append(f"no test of the attacked part {expect.part}")
    if expect.zero:
        for t in attacked:
            if t.score > 1e-9:
                problems.append(f"{expect.part}: {t.name} scored {t.score:g} of {t.max_score:g}: {t.feedback[:200]}")
    feedback = integrity_feedback(report, expect.part)
    for reason in expect.reason:
        if reason not in feedback:
            problems.append(f"{expect.part}: integrity feedback lacks {reason!r}: {feedback[:300]!r}")
    other = [t for t in report.tests if t.part == expect.other]
    if not other:
        problems.append(f"no test of the other part {expect.other}")
    for t in other:
        if t.kind != "speed" and (t.score < t.max_score - 1e-9 or not t.passed):
            problems.append(f"{expect.other} (must be graded normally): {t.name} scored {t.score:g} of "
                            f"{t.max_score:g}: {t.feedback[:200]}")
    return problems
