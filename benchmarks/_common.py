"""Helpers shared by the benchmark scripts (not a benchmark itself).

- ``machine()``: what the figures were measured on (CPU model, cores, RAM, GPU,
  Python, numpy and torch versions, date), without importing torch;
- ``out_file()``: check an ``--out`` path before a long run, so that a bad one
  costs one line on stderr and no traceback; ``write_json()`` writes it;
- ``target()``: one target's verdict, the row every script reports and
  ``benchmarks/run.py`` collects;
- ``grader_command()`` and ``cold()``: ``grader ...`` in a fresh process, as the
  console script runs it, with the bytecode cache an installed grader has.
"""

from __future__ import annotations

import atexit
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What `grader = "grader.cli:main"` (pyproject's console script) runs, with this interpreter.
CONSOLE_SCRIPT = "import sys; from grader.cli import main; sys.exit(main())"
_PYCACHE = tempfile.mkdtemp(prefix="grader-bench-pycache-")  # shared by every cold run of one script
atexit.register(shutil.rmtree, _PYCACHE, True)
_ENVIRON = dict(os.environ)  # before a script changes its own (thread counts)


def fail(message: str) -> None:
    """End the script with one line on stderr (exit code 2)."""
    print(f"{Path(sys.argv[0]).name}: error: {message}", file=sys.stderr)
    sys.exit(2)


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def has_nvidia_driver() -> bool:
    """Whether an NVIDIA driver is there (what ``grader --device auto`` looks at before importing torch)."""
    return os.path.exists("/proc/driver/nvidia/version") or shutil.which("nvidia-smi") is not None


def machine() -> dict:
    """The machine and the versions the figures come from."""
    return {
        "cpu": _cpu_model(),
        "arch": platform.machine(),
        "cores": os.cpu_count(),
        "ram_gib": _ram_gib(),
        "nvidia_driver": has_nvidia_driver(),
        "os": platform.platform(terse=True),
        "python": platform.python_version(),
        "numpy": _version("numpy"),
        "torch": _version("torch"),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def out_file(path: str | None) -> Path | None:
    """``path`` as a Path once its folder exists and is writable; one-line error otherwise."""
    if path is None:
        return None
    out = Path(path)
    if out.is_dir():
        fail(f"--out {path} is a folder: give a file name (e.g. {out / 'result.json'})")
    blocking = next((p for p in out.parents if p.exists()), None)
    if blocking is not None and not blocking.is_dir():
        fail(f"--out {path}: {blocking} is a file, not a folder")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"--out {path}: cannot create its folder: {exc.strerror or exc}")
    if not os.access(out.parent, os.W_OK):
        fail(f"--out {path}: its folder {out.parent} is not writable")
    return out


def write_json(path: Path | None, data: dict) -> None:
    if path is None:
        return
    try:
        path.write_text(json.dumps(data, indent=1) + "\n")
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror or exc}")


def target(name: str, figure: str, goal: str, passed: bool | None, **numbers) -> dict:
    """One target's row: what was measured (``figure``), against what (``goal``), and
    PASS, MISS or, where ``passed`` is None, REPORTED (a figure with no target)."""
    verdict = "REPORTED" if passed is None else "PASS" if passed else "MISS"
    return {"target": name, "figure": figure, "goal": goal, "result": verdict, **numbers}


def print_verdicts(targets: list[dict]) -> None:
    for t in targets:
        print(f"{t['result']}: {t['target']}: {t['figure']} (target: {t['goal']})")


def median(values) -> float:
    return statistics.median(values)


def grader_env(bytecode: bool = True, **extra: str) -> dict:
    """The environment of a cold ``grader`` process.  With ``bytecode``, compiled modules
    are cached (in a folder of this run) as they are for an installed grader, whose
    .pyc files pip writes; without it, PYTHONDONTWRITEBYTECODE=1 as on the project's
    VM: the grader's modules (a source checkout with no __pycache__) are compiled
    from source on every run, the libraries' shipped .pyc files still serve."""
    env = dict(_ENVIRON, **extra)
    if bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = _PYCACHE
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.pop("PYTHONPYCACHEPREFIX", None)
    return env


def grader_command(*args: str, python_flags: tuple[str, ...] = ()) -> list[str]:
    """``grader ARGS...`` as the console script runs it, with this interpreter."""
    return [sys.executable, *python_flags, "-c", CONSOLE_SCRIPT, *args]


def cold(args: list[str], env: dict | None = None, python_flags: tuple[str, ...] = ()) -> tuple[float, str]:
    """Run ``grader ARGS`` in a fresh process from the repository root: (wall seconds, stderr).
    A failure ends the benchmark with the command's last line of stderr."""
    start = time.perf_counter()
    done = subprocess.run(grader_command(*args, python_flags=python_flags), cwd=ROOT, env=env or grader_env(),
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        fail(f"`grader {' '.join(args)}` exited with {done.returncode}: {last}")
    return seconds, done.stderr
