"""``grader batch``: grade a whole class into a gradebook.

    result = grade_batch("submissions/", "graded/", workers=2, seed=7, roster="roster.csv")

Every immediate subfolder (or ``.zip`` file) of the root is one submission,
named by its folder (or zip) name.  For each, ``graded/<folder>/`` gets
``results.json`` (Gradescope's schema), ``report.json`` (the same with
details), ``report.html`` and ``source.json`` (what was graded: the name, a
hash of the content, a hash of the settings); then come ``gradebook.csv``, the
class page ``index.html`` and, with a roster, the Canvas and Moodle gradebooks
(:mod:`grader.gradebook`).  ``<folder>`` is the submission's own name, unless
that name is one of the batch's own files (``gradebook.csv``, ``index.html``,
``seed.txt``...), starts with ``%`` or is not UTF-8 (LMS exports): then it is
``%`` and the name's bytes percent-encoded (``%gradebook.csv``, ``Jos%E9``).

- Resubmissions are noticed: a submission is graded again when its content (or
  the seed, parts, device, config or grader version) differs from what its
  ``source.json`` recorded; otherwise its earlier results are kept.
- One seed per class, kept in ``seed.txt``: ``force`` regrades everyone with it;
  a new seed only with ``new_seed`` or an explicit ``seed``.
- Loss-free: a submission that cannot be graded (a broken zip, a worker that
  died while it graded that submission alone) is an ``error`` row worth 0 of
  the maximum, never dropped.
- Students cannot reach the outputs.  Workers grade and send back their files;
  only this process writes, through a descriptor of the output folder (made
  ``0700``), never following a link a student could plant
  (:mod:`grader.outfolder`).  Processes a submission detached are ended before
  the last write, and every file is checked and, if something changed it,
  rewritten from memory at the end (:mod:`grader.workers`).
- Fast: workers are started once and reused; every submission still runs its
  student code in sandbox children of its own.  ``executor="dask"`` sends the
  submissions to a Dask distributed cluster instead.
- Same results: with the same seed, a submission's results equal those of
  ``grader check`` on it alone.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import os
import secrets
import shutil
import signal
import stat
import tempfile
import threading
import time
import urllib.parse
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from grader import gradebook
from grader.errors import UsageError
from grader.gradebook import ABSENT, INTERRUPTED, OUTPUTS, Row
from grader.outfolder import Kept, OutFolder
from grader.roster import Roster, match, read_roster

EXECUTORS = ("local", "dask")
MAX_ZIP_BYTES = 200 << 20  # unpacked size of one submission zip
MAX_ZIP_FILES = 2000
REPORT_FILES = ("report.json", "report.html", "source.json", "results.json")  # results.json last: it marks "done"


@dataclass(frozen=True)
class Submission:
    name: str  # the folder's (or zip's) name as the file system gives it (not UTF-8: with surrogate escapes)
    path: Path
    is_zip: bool = False

    @property
    def display(self) -> str:
        """The name as people read it: not UTF-8 bytes show as ``\\xNN``."""
        return os.fsencode(self.name).decode("utf-8", "backslashreplace")

    @property
    def folder(self) -> str:
        """Its folder in the output (see the module docstring)."""
        return output_folder(self.name)


@dataclass
class BatchResult:
    rows: list[Row]
    seed: int
    out: Path
    skipped: int = 0
    interrupted: bool = False
    resubmitted: list[str] = field(default_factory=list)  # graded again because their content changed
    notes: list[str] = field(default_factory=list)  # what the instructor should know, one line each
    written: list[Path] = field(default_factory=list)  # the class-level files written


# ---------------------------------------------------------------- names


def _plain(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    reserved = {o.casefold() for o in OUTPUTS}
    return not (name.startswith(("%", ".")) or name.casefold() in reserved
                or any(ord(c) < 32 or ord(c) == 127 for c in name))


def output_folder(name: str) -> str:
    """The output folder of the submission named ``name``: the name itself when it is plain, else
    ``%`` and its bytes percent-encoded (a plain name never starts with ``%``, so the two never meet)."""
    if _plain(name):
        return name
    raw = os.fsencode(name)
    escaped = "%" + urllib.parse.quote(raw, safe="")
    if len(escaped) > 200:  # file names are at most 255 bytes
        escaped = "%" + urllib.parse.quote(raw[:50], safe="") + "~" + hashlib.sha256(raw).hexdigest()[:16]
    return escaped


def discover(root: str | os.PathLike, exclude: Path | None = None) -> list[Submission]:
    """The submissions under ``root``: its immediate subfolders and .zip files (not ``exclude``,
    the output folder when it lies inside ``root``).  A zip whose name without ``.zip`` is another
    submission's name keeps the ``.zip`` in its name."""
    folder = Path(root)
    if not folder.is_dir():
        raise UsageError(f"{root} is not a folder of submissions")
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        raise UsageError(f"cannot list the submissions in {root}: {exc.strerror or exc}") from None
    dirs, zips = [], []
    for entry in entries:
        if entry.name.startswith(".") or (exclude is not None and _same(entry, exclude)):
            continue
        if entry.is_dir() and not entry.is_symlink():
            dirs.append(entry)
        elif entry.is_file() and not entry.is_symlink() and entry.suffix.lower() == ".zip":
            zips.append(entry)
    names = {e.name: e for e in dirs}
    stems = [z.stem for z in zips]
    full = {z for z in zips if z.stem in names or stems.count(z.stem) > 1}
    while True:  # a zip named by its stem may meet another zip kept whole ("a.zip" beside "a.zip.zip")
        taken = set(names) | {z.name for z in full}
        clash = {z for z in zips if z not in full and z.stem in taken}
        if not clash:
            break
        full |= clash
    found = [Submission(d.name, d) for d in dirs]
    found += [Submission(z.name if z in full else z.stem, z, is_zip=True) for z in zips]
    return sorted(found, key=lambda s: os.fsencode(s.name))


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or os.path.samefile(a, b)
    except OSError:
        return False


def content_hash(sub: Submission) -> str:
    """A hash of what is graded: the zip's bytes, or every regular file of the folder (path and
    content; links and special files are left out, as the sandbox's copy leaves them out)."""
    digest = hashlib.sha256()
    if sub.is_zip:
        files = [(b"", sub.path)]
    else:
        files = []
        for top, dirs, names in os.walk(sub.path):
            dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(top, d))]
            for name in names:
                path = Path(top) / name
                if stat.S_ISREG(path.lstat().st_mode):
                    files.append((os.fsencode(path.relative_to(sub.path)), path))
    for rel, path in sorted(files):
        digest.update(len(rel).to_bytes(8, "big") + rel + path.stat().st_size.to_bytes(8, "big"))
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def unpack(zip_path: Path, target: Path, name: str) -> Path:
    """Extract a submission zip safely (no absolute paths, no '..', size caps); a zip holding one
    top folder is graded from inside it.  ``name`` is the submission's, for messages."""
    with zipfile.ZipFile(zip_path) as archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) > MAX_ZIP_FILES or sum(m.file_size for m in members) > MAX_ZIP_BYTES:
            raise ValueError(f"{name}.zip is too large to grade ({len(members)} files)")
        for member in members:
            path = Path(member.filename)
            if path.is_absolute() or ".." in path.parts:
                raise ValueError(f"{name}.zip holds an unsafe path: {member.filename}")
            if path.parts and path.parts[0] == "__MACOSX":
                continue
            destination = target / path
            destination.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as src, open(destination, "wb") as dst:
                shutil.copyfileobj(src, dst)
    entries = [p for p in target.iterdir() if p.name != "__MACOSX"]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return target


# ---------------------------------------------------------------- one submission (runs in a worker)


def grade_one(name: str, path: str, is_zip: bool, seed: int, options: dict[str, Any]) -> dict[str, Any]:
    """Grade one submission and return its reports as text (the batch's process writes them).
    Never raises: anything that goes wrong is an ``error`` status."""
    from grader.grading import grade_submission
    from grader.report.data import to_json_and_gradescope
    from grader.report.html import to_html

    display = os.fsencode(name).decode("utf-8", "backslashreplace")
    started = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="grader-batch-") as scratch:
            where = unpack(Path(path), Path(scratch), display) if is_zip else Path(path)
            result = grade_submission(where, seed=seed, **options)
        result.submission = display
        report_json, results_json = to_json_and_gradescope(result)
        files = {"report.json": report_json, "report.html": to_html(result), "results.json": results_json}
        return {"status": "graded", "files": files, "seconds": time.perf_counter() - started}
    except Exception as exc:  # noqa: BLE001 - one broken submission never stops the batch
        message = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        return {"status": f"error: {message}", "files": {}, "seconds": time.perf_counter() - started}


def _warm(parts: tuple[str, ...]) -> None:
    """Worker start-up: import what every grading needs, once; start the warm templates that
    every sandbox child of this worker is forked from (``grader.sandbox.warm``), and time the
    references once per worker (``checks.speed.share_reference_timings``)."""
    import numpy  # noqa: F401

    import grader.grading  # noqa: F401
    import grader.report.data  # noqa: F401 - the reporters every submission writes
    import grader.report.html  # noqa: F401
    from grader.checks.speed import share_reference_timings
    from grader.sandbox import warm

    share_reference_timings()
    warm.enable()
    warm.shared(("numpy",), 1)
    if "transfer" in parts:
        from grader.checks.transfer import PRELOAD

        warm.shared(PRELOAD, 1)
    # What is here now (modules, the references' results) lives as long as the worker: out of the
    # collector's sight, so that its full collections walk only what a submission makes
    gc.collect()
    gc.freeze()


def _receive(shared: dict) -> None:
    """In a worker: what the batch shares with every worker (the class's transfer references)."""
    from grader.checks.transfer import receive_references

    receive_references(shared)


def _share_references(pool, jobs: list[tuple], parts: tuple[str, ...]) -> list[str]:
    """One reference per class: the transfer part's reference pipelines, trained here once for the
    class's seed and device while ``pool``'s workers warm up (started first: importing torch into
    their templates takes seconds that the training's child leaves a core free for), then sent to
    every worker before its first job.  Notes on failure (then each worker trains its own, as a
    single check does)."""
    if "transfer" not in parts or not jobs:
        return []
    from grader import config as config_module
    from grader.checks.transfer import share_references
    from grader.sessions import limits_for

    pool.prestart(len(jobs))
    seed, options = jobs[0][3], jobs[0][4]
    try:
        cfg = config_module.load(options["config_path"])
        pool.share(share_references(cfg, seed, options["device"], limits_for(cfg)))
    except Exception as exc:  # noqa: BLE001 - each worker tries again, and reports it per submission
        return [f"the transfer part's reference could not be trained once for the class "
                f"({type(exc).__name__}: {exc}); each worker trained its own"]
    return []


# ---------------------------------------------------------------- executors


def _run_local(jobs: list[tuple], workers: int, parts: tuple[str, ...], guard) -> Iterator[tuple[tuple, dict]]:
    from functools import partial

    from grader.workers import WorkerDied, WorkerPool

    with WorkerPool(workers, grade_one, partial(_warm, parts), guard, receive=_receive) as pool:
        guard.notes += _share_references(pool, jobs, parts)
        try:
            for job, reply in pool.run(jobs):
                if isinstance(reply, WorkerDied):
                    reply = {"status": f"error: the grading worker died while grading it alone ({reply.how})",
                             "files": {}, "seconds": 0.0}
                yield job, reply
        finally:
            if pool.deaths:
                guard.notes.append(f"{pool.deaths} grading worker(s) died (killed, or out of memory); the "
                                   "submissions they held were graded again, each alone")


def _run_dask(jobs: list[tuple], workers: int, scheduler: str | None) -> Iterator[tuple[tuple, dict]]:
    try:
        from dask.distributed import Client, LocalCluster, as_completed as dask_completed
    except ImportError:
        raise UsageError("--executor dask needs dask.distributed: pip install 'cnn-grader[dask]'") from None
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    try:
        futures = {client.submit(grade_one, *job, key=f"grade-{i}-{secrets.token_hex(4)}", pure=False): job
                   for i, job in enumerate(jobs)}
        for future in dask_completed(list(futures)):
            try:
                yield futures[future], future.result()
            except Exception as exc:  # noqa: BLE001
                yield futures[future], {"status": f"error: dask task failed ({type(exc).__name__}: {exc})",
                                        "files": {}, "seconds": 0.0}
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


# ---------------------------------------------------------------- the batch


def class_seed(out: OutFolder, seed: int | None, new_seed: bool) -> int:
    """The class's seed: ``seed`` when given, a new one with ``new_seed``, else the one in
    ``seed.txt`` (a first run draws one)."""
    if seed is not None and new_seed:
        raise UsageError("--seed and --new-seed ask for two different seeds: give one")
    if seed is not None:
        return int(seed)
    kept = None if new_seed else out.read("seed.txt")
    if kept is None:
        return secrets.randbelow(2**31)
    try:
        return int(kept.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        raise UsageError(f"{out.path / 'seed.txt'} does not hold a seed: fix it, or pass --seed N or --new-seed") \
            from None


def settings_hash(seed: int, parts: Iterable[str], device: str, config_path: str | os.PathLike | None) -> str:
    """What, besides a submission's content, decides its results: a change grades it again."""
    from grader import __version__

    config = hashlib.sha256(Path(config_path).read_bytes()).hexdigest() if config_path else "default"
    text = json.dumps({"seed": seed, "parts": list(parts), "device": device, "config": config,
                       "grader": __version__}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class _Run:
    """One batch run: where it writes, what it wrote, what every row counts against, and the
    settings and content hashes that tell a kept result from one to grade again."""

    out: OutFolder
    maximum: dict[str, float]  # points per part of the assignment
    settings: str
    kept: Kept = field(default_factory=Kept)
    digests: dict[str, str] = field(default_factory=dict)


def _earlier(run: _Run, sub: Submission) -> tuple[dict[str, bytes], bool]:
    """The files of an earlier grading of ``sub`` that still holds (same content, same settings),
    or {}; and whether there was an earlier grading of other content (a resubmission)."""
    files = {name: run.out.read(name, sub.folder) for name in REPORT_FILES}
    if any(data is None for data in files.values()):
        return {}, False
    try:
        source = json.loads(files["source.json"])
        json.loads(files["report.json"])
        json.loads(files["results.json"])
    except ValueError:
        return {}, False
    if source.get("settings") != run.settings:
        return {}, False
    if source.get("sha256") != run.digests[sub.name]:
        return {}, True
    return files, False


def _plan(run: _Run, submissions: list[Submission], force: bool, result: BatchResult) -> dict[str, Row]:
    """The rows of the submissions kept from an earlier run (or that cannot be read); the rest are to grade."""
    rows: dict[str, Row] = {}
    for sub in submissions:
        try:
            run.digests[sub.name] = content_hash(sub)
        except OSError as exc:
            rows[sub.name] = _row(sub, None, run.maximum, f"error: cannot read it ({exc.strerror or exc})")
            continue
        files, resubmitted = ({}, False) if force else _earlier(run, sub)
        if resubmitted:
            result.resubmitted.append(sub.display)
        if files:
            for name, data in files.items():
                run.kept.keep(name, data, sub.folder)
            rows[sub.name] = _row(sub, json.loads(files["report.json"]), run.maximum, "graded (earlier run)")
    result.skipped = sum(row.graded for row in rows.values())
    return rows


def grade_batch(
    root: str | os.PathLike,
    out: str | os.PathLike,
    workers: int = 2,
    executor: str = "local",
    scheduler: str | None = None,
    seed: int | None = None,
    force: bool = False,
    new_seed: bool = False,
    parts: str | None = None,
    device: str = "auto",
    config_path: str | os.PathLike | None = None,
    roster: str | os.PathLike | None = None,
    lms_column: str | None = None,
    progress: Callable[[int, int, Row], None] | None = None,
    require_isolation: bool = False,
) -> BatchResult:
    """Grade every submission under ``root`` into ``out`` (see the module docstring).
    ``require_isolation`` (or the assignment's ``[sandbox] require_isolation``) refuses,
    before any worker starts, where the sandbox cannot have its namespaces; each
    submission's grading then checks its own children too."""
    from grader import config as config_module
    from grader.grading import parse_parts, part_points, resolve_device
    from grader.workers import ProcessGuard

    if executor not in EXECUTORS:
        raise UsageError(f"--executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    if workers < 1:
        raise UsageError(f"--workers must be at least 1, got {workers}")
    cfg = config_module.load(config_path)  # fail early on a bad config or roster, before any worker starts
    require_isolation = require_isolation or cfg.require_isolation
    if require_isolation:
        from grader.sessions import check_isolation

        check_isolation()  # one line and exit 2, not an error row per submission
    wanted = parse_parts(parts, cfg)
    device = resolve_device(device)
    students = read_roster(roster) if roster is not None else None
    graded_parts = tuple(p for p in cfg.parts if wanted is None or p in wanted)
    out_dir = OutFolder(out)
    try:
        submissions = discover(root, exclude=out_dir.path)
        seed = class_seed(out_dir, seed, new_seed)
        run = _Run(out_dir, {p: part_points(p, cfg) for p in graded_parts},
                   settings_hash(seed, graded_parts, device, config_path))
        run.kept.put(out_dir, "seed.txt", f"{seed}\n".encode())
        result = BatchResult([], seed, out_dir.path)
        rows = _plan(run, submissions, force, result)
        options = {"parts": ",".join(wanted) if wanted else None, "device": device,
                   "config_path": str(Path(config_path).resolve()) if config_path else None,
                   "require_isolation": require_isolation}
        jobs = [(s.name, str(s.path.resolve()), s.is_zip, seed, options) for s in submissions if s.name not in rows]
        by_name = {s.name: s for s in submissions}
        guard = ProcessGuard() if executor == "local" else contextlib.nullcontext()
        runner = _run_local(jobs, workers, graded_parts, guard) if executor == "local" else \
            _run_dask(jobs, workers, scheduler)
        try:
            with _terminate_as_interrupt(), guard, contextlib.closing(runner):
                for job, reply in runner:
                    sub = by_name[job[0]]
                    rows[sub.name] = _record(run, sub, reply)
                    if progress:
                        progress(len(rows), len(submissions), rows[sub.name])
        except KeyboardInterrupt:
            result.interrupted = True
        finally:
            for sub in submissions:  # a submission never dropped: not graded yet is a row too
                rows.setdefault(sub.name, _row(sub, None, run.maximum, INTERRUPTED))
            result.rows = [rows[s.name] for s in submissions]
            result.notes += getattr(guard, "notes", [])
            _finish(result, run, graded_parts, students, lms_column or cfg.name or "grader")
    finally:
        out_dir.close()
    return result


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (a job scheduler, ``timeout``) ends the batch as Ctrl-C does: the workers and what
    they started are ended, and what is done is written, gradebook and class page included."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _row(sub: Submission, report: dict | None, maximum: dict[str, float], status: str) -> Row:
    from grader.report.common import clean_text

    row = gradebook.row_for(sub.display, report, maximum, clean_text(status).replace("\n", " "))
    row.folder = sub.folder if report is not None else ""
    return row


def _record(run: _Run, sub: Submission, reply: dict) -> Row:
    """Write a graded submission's files (as they come: an interrupted batch keeps them) and make its row."""
    files = reply.get("files") or {}
    if not files:
        return _row(sub, None, run.maximum, reply["status"])
    source = {"submission": sub.display, "name_bytes": os.fsencode(sub.name).hex(), "zip": sub.is_zip,
              "sha256": run.digests[sub.name], "settings": run.settings}
    files = {**files, "source.json": json.dumps(source, indent=1) + "\n"}
    for name in REPORT_FILES:
        run.kept.put(run.out, name, files[name].encode("utf-8", "backslashreplace"), sub.folder)  # (a path not UTF-8)
    row = _row(sub, json.loads(files["report.json"]), run.maximum, reply["status"])
    row.seconds = float(reply.get("seconds", 0.0))
    return row


def _finish(result: BatchResult, run: _Run, parts: tuple[str, ...], students: Roster | None, column: str) -> None:
    """Restore any file something changed while the batch ran, then write the class's files."""
    changed = run.kept.restore(run.out)
    if changed:
        result.notes.append(f"{len(changed)} output file(s) were changed during the batch by something else and "
                            f"were written again: {', '.join(changed[:5])}")
    total = round(sum(run.maximum.values()), 2)
    if students is not None:
        matching = match(students, [r.submission for r in result.rows])
        for row in result.rows:
            row.student = matching.by_submission.get(row.submission)
        result.rows += [Row("", 0.0, total, dict.fromkeys(run.maximum, 0.0), ABSENT, student=s)
                        for s in matching.absent]
        result.notes += matching.notes
        if matching.unmatched:
            result.notes.append(f"{len(matching.unmatched)} submission(s) match no student of the roster "
                                f"(left out of the LMS gradebooks): {', '.join(matching.unmatched[:5])}")
        for name, text in (("gradebook-canvas.csv", gradebook.canvas_csv(result.rows, students, column, total)),
                           ("gradebook-moodle.csv", gradebook.moodle_csv(result.rows, students, column))):
            result.written.append(run.kept.put(run.out, name, text.encode("utf-8")))
    book = gradebook.gradebook_csv(result.rows, parts, roster=students is not None)
    result.written.insert(0, run.kept.put(run.out, "gradebook.csv", book.encode("utf-8")))
    page = gradebook.class_page(result.rows, parts, result.seed, total, roster=students is not None)
    result.written.insert(1, run.kept.put(run.out, "index.html", page.encode("utf-8")))
