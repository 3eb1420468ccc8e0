"""``grader batch``: grade a whole class into a gradebook.

    result = grade_batch("submissions/", "graded/", workers=2, seed=7)

Every immediate subfolder (or ``.zip`` file) of the root is one submission,
named by its folder (or zip) name.  For each, ``graded/<name>/`` gets
``results.json`` (Gradescope's schema), ``report.json`` (the same with
details) and ``report.html``, each written atomically as soon as that
submission is done; then ``gradebook.csv`` and the class page ``index.html``.

- Resumable: a submission whose results.json exists is not graded again
  (unless ``force``); Ctrl-C or a crash keeps everything finished so far.
- Loss-free: a submission that cannot be graded (a broken zip, a sandbox
  that would not start) is an ``error`` row, never dropped.
- Fast: workers are started once and reused (numpy, torch and the grader
  imported once); every submission still runs its student code in sandbox
  children of its own.
- Scale-out: ``executor="dask"`` sends the submissions to a Dask distributed
  cluster (``scheduler="tcp://host:8786"``, or a local one).
- Same results: with the same seed, a submission's results equal those of
  ``grader check`` on it alone.
"""

from __future__ import annotations

import csv
import io
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from grader.errors import UsageError
from grader.results import PARTS

EXECUTORS = ("local", "dask")
MAX_ZIP_BYTES = 200 << 20  # unpacked size of one submission zip
MAX_ZIP_FILES = 2000


@dataclass(frozen=True)
class Submission:
    name: str
    path: Path
    is_zip: bool = False


@dataclass
class Row:
    """One gradebook row."""

    submission: str
    score: float = 0.0
    max_score: float = 0.0
    parts: dict[str, float] = field(default_factory=dict)
    status: str = "graded"
    seconds: float = 0.0


@dataclass
class BatchResult:
    rows: list[Row]
    seed: int
    out: Path
    skipped: int = 0
    interrupted: bool = False


def discover(root: str | os.PathLike) -> list[Submission]:
    """The submissions under ``root``: its immediate subfolders and .zip files."""
    folder = Path(root)
    if not folder.is_dir():
        raise UsageError(f"{root} is not a folder of submissions")
    found = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir() and not entry.is_symlink():
            found.append(Submission(entry.name, entry))
        elif entry.is_file() and entry.suffix.lower() == ".zip":
            found.append(Submission(entry.stem, entry, is_zip=True))
    names = [s.name for s in found]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise UsageError(f"two submissions are named {dupes[0]!r} (a folder and a zip?): rename one")
    return found


def unpack(zip_path: Path, target: Path) -> Path:
    """Extract a submission zip safely (no absolute paths, no '..', size caps);
    a zip holding one top folder is graded from inside it."""
    with zipfile.ZipFile(zip_path) as archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) > MAX_ZIP_FILES or sum(m.file_size for m in members) > MAX_ZIP_BYTES:
            raise ValueError(f"{zip_path.name} is too large to grade ({len(members)} files)")
        for member in members:
            name = Path(member.filename)
            if name.is_absolute() or ".." in name.parts:
                raise ValueError(f"{zip_path.name} holds an unsafe path: {member.filename}")
            if name.parts and name.parts[0] == "__MACOSX":
                continue
            destination = target / name
            destination.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as src, open(destination, "wb") as dst:
                shutil.copyfileobj(src, dst)
    entries = [p for p in target.iterdir() if p.name != "__MACOSX"]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return target


# ---------------------------------------------------------------- one submission (runs in a worker)


def grade_one(name: str, path: str, is_zip: bool, out: str, seed: int, options: dict[str, Any]) -> dict[str, Any]:
    """Grade one submission and write its files; return its gradebook row as a dict.
    Never raises: anything that goes wrong becomes an error row."""
    from grader import report as reporters
    from grader.grading import grade_submission

    started = time.perf_counter()
    folder = Path(out) / name
    try:
        with tempfile.TemporaryDirectory(prefix="grader-batch-") as scratch:
            where = unpack(Path(path), Path(scratch)) if is_zip else Path(path)
            result = grade_submission(where, seed=seed, **options)
        result.submission = name
        folder.mkdir(parents=True, exist_ok=True)
        reporters.write(result, "json", str(folder / "report.json"))
        reporters.write(result, "html", str(folder / "report.html"))
        reporters.write(result, "gradescope", str(folder / "results.json"))  # last: it marks "done"
        parts = {p: result.part_score(p)[0] for p in result.parts()}
        return {"submission": name, "score": result.score, "max_score": result.max_score, "parts": parts,
                "status": "graded", "seconds": time.perf_counter() - started}
    except Exception as exc:  # noqa: BLE001 - one broken submission never stops the batch
        message = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        return {"submission": name, "score": 0.0, "max_score": 0.0, "parts": {}, "status": f"error: {message}",
                "seconds": time.perf_counter() - started}


def _warm(parts: tuple[str, ...]) -> None:
    """Worker start-up: import what every grading needs, once."""
    import numpy  # noqa: F401

    import grader.grading  # noqa: F401
    import grader.report.data  # noqa: F401 - the reporters every submission writes
    import grader.report.html  # noqa: F401

    if "transfer" in parts:
        import torch  # noqa: F401


def row_from_results(name: str, folder: Path) -> Row | None:
    """The row of a submission graded earlier, from its report.json."""
    try:
        data = json.loads((folder / "report.json").read_text(encoding="utf-8"))
        json.loads((folder / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    parts: dict[str, float] = {}
    for test in data.get("tests", []):
        part = test.get("part")
        if part:
            parts[part] = parts.get(part, 0.0) + float(test.get("score", 0.0))
    return Row(name, round(float(data.get("score", 0.0)), 2), round(float(data.get("max_score", 0.0)), 2),
               {k: round(v, 2) for k, v in parts.items()}, "graded (earlier run)")


# ---------------------------------------------------------------- executors


def _run_local(jobs: list[tuple], workers: int, parts: tuple[str, ...]) -> Iterable[dict[str, Any]]:
    import multiprocessing

    context = multiprocessing.get_context("fork" if sys.platform != "win32" else "spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_warm, initargs=(parts,)) as pool:
        futures = {pool.submit(grade_one, *job): job[0] for job in jobs}
        try:
            for future in as_completed(futures):
                try:
                    yield future.result()
                except Exception as exc:  # noqa: BLE001 - a worker that died (killed, out of memory)
                    yield {"submission": futures[future], "score": 0.0, "max_score": 0.0, "parts": {},
                           "status": f"error: the grading worker died ({type(exc).__name__})", "seconds": 0.0}
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _run_dask(jobs: list[tuple], workers: int, scheduler: str | None) -> Iterable[dict[str, Any]]:
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
        futures = [client.submit(grade_one, *job, key=f"grade-{job[0]}-{secrets.token_hex(4)}", pure=False)
                   for job in jobs]
        for future in dask_completed(futures):
            try:
                yield future.result()
            except Exception as exc:  # noqa: BLE001
                yield {"submission": "?", "score": 0.0, "max_score": 0.0, "parts": {},
                       "status": f"error: dask task failed ({type(exc).__name__}: {exc})", "seconds": 0.0}
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


# ---------------------------------------------------------------- the batch


def grade_batch(
    root: str | os.PathLike,
    out: str | os.PathLike,
    workers: int = 2,
    executor: str = "local",
    scheduler: str | None = None,
    seed: int | None = None,
    force: bool = False,
    parts: str | None = None,
    device: str = "auto",
    config_path: str | os.PathLike | None = None,
    progress: Callable[[int, int, Row], None] | None = None,
) -> BatchResult:
    """Grade every submission under ``root`` into ``out`` (see the module docstring)."""
    from grader import config as config_module
    from grader.grading import parse_parts, resolve_device

    if executor not in EXECUTORS:
        raise UsageError(f"--executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    if workers < 1:
        raise UsageError(f"--workers must be at least 1, got {workers}")
    cfg = config_module.load(config_path)  # fail early on a bad config, before any worker starts
    wanted = parse_parts(parts)
    device = resolve_device(device)
    submissions = discover(root)
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    seed_file = out_dir / "seed.txt"
    if seed is None:
        seed = int(seed_file.read_text()) if seed_file.is_file() and not force else secrets.randbelow(2**31)
    seed_file.write_text(f"{seed}\n")
    options = {"parts": ",".join(wanted) if wanted else None, "device": device,
               "config_path": str(Path(config_path).resolve()) if config_path else None}
    rows: dict[str, Row] = {}
    jobs = []
    for sub in submissions:
        earlier = None if force else row_from_results(sub.name, out_dir / sub.name)
        if earlier is not None:
            rows[sub.name] = earlier
        else:
            jobs.append((sub.name, str(sub.path.resolve()), sub.is_zip, str(out_dir.resolve()), seed, options))
    result = BatchResult([], seed, out_dir, skipped=len(rows))
    done = len(rows)
    graded_parts = tuple(wanted or cfg.parts)
    runner = _run_local(jobs, workers, graded_parts) if executor == "local" else _run_dask(jobs, workers, scheduler)
    try:
        for data in runner:
            row = Row(data["submission"], round(data["score"], 2), round(data["max_score"], 2),
                      {k: round(v, 2) for k, v in data["parts"].items()}, data["status"], data["seconds"])
            rows[row.submission] = row
            done += 1
            if progress:
                progress(done, len(submissions), row)
    except KeyboardInterrupt:
        result.interrupted = True
    finally:
        for sub in submissions:  # a submission never dropped: not graded yet is a row too
            rows.setdefault(sub.name, Row(sub.name, status="not graded (interrupted)"))
        result.rows = [rows[s.name] for s in submissions]
        write_gradebook(result, graded_parts)
        write_index(result, graded_parts)
    return result


def write_gradebook(result: BatchResult, parts: tuple[str, ...]) -> Path:
    columns = [p for p in PARTS if p in parts]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["submission", "score", "max_score", *columns, "status"])
    for row in result.rows:
        writer.writerow([row.submission, f"{row.score:g}", f"{row.max_score:g}",
                         *[f"{row.parts[p]:g}" if p in row.parts else "" for p in columns], row.status])
    path = result.out / "gradebook.csv"
    _atomic(path, buffer.getvalue())
    return path


def _atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def class_summary(result: BatchResult) -> dict[str, Any]:
    """Plain data for the class page: the score distribution, pass rates per
    test, and the diagnosed mistakes by how many submissions made them."""
    scores = [r.score / r.max_score for r in result.rows if r.max_score > 0]
    bins = [0] * 10
    for s in scores:
        bins[min(int(s * 10), 9)] += 1
    passes: dict[str, list[int]] = {}
    mistakes: dict[str, set[str]] = {}
    for row in result.rows:
        try:
            data = json.loads((result.out / row.submission / "report.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for test in data.get("tests", []):
            tally = passes.setdefault(test["name"], [0, 0])
            tally[0] += test.get("status") == "passed"
            tally[1] += 1
            diagnosis = (test.get("details") or {}).get("diagnosis")
            if diagnosis:
                mistakes.setdefault(diagnosis, set()).add(row.submission)
    return {
        "count": len(result.rows),
        "graded": sum(r.status.startswith("graded") for r in result.rows),
        "errors": [r for r in result.rows if not r.status.startswith("graded")],
        "mean": sum(scores) / len(scores) if scores else 0.0,
        "bins": [{"label": f"{i * 10}–{i * 10 + 10}%", "count": n} for i, n in enumerate(bins)],
        "tests": [{"name": name, "passed": p, "total": t, "rate": p / t if t else 0.0}
                  for name, (p, t) in passes.items()],
        "mistakes": sorted(((k, len(v)) for k, v in mistakes.items()), key=lambda kv: -kv[1]),
    }


def write_index(result: BatchResult, parts: tuple[str, ...]) -> Path:
    from grader.reference import wrong
    from grader.render import render

    summary = class_summary(result)
    messages = {v.key: v.message for v in wrong.VARIANTS}
    peak = max((b["count"] for b in summary["bins"]), default=0) or 1
    html = render("batch_index.html.j2", result=result, rows=result.rows, summary=summary, peak=peak,
                  parts=[p for p in PARTS if p in parts], messages=messages)
    path = result.out / "index.html"
    _atomic(path, html)
    return path
