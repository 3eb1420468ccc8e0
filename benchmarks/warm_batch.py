"""Warm batches (issue 16): what one more submission costs a batch, warm children against cold
ones, a cold `grader check` against a bare import of numpy and torch, and the transfer part's cost
per submission in a batch beside the student's own training.

1. Marginal cost: classes of --small and --large submissions whose code does no work (every layer
   returns zeros at once: wrong, so no speed test) are graded on 2 workers, the three numpy parts,
   warm (the default) and cold (GRADER_SANDBOX_WARM=0), interleaved, --repeats times.  Each batch
   runs in a process of its own; its wall seconds and its CPU seconds give the slope per submission.
   CPU is counted two ways: every process of the batch (a cgroup made for it, where this process
   may make one: root on Linux), and the kernel's account of the processes it waited for
   (``getrusage``), the figure of the earlier stops.  The second misses the processes that run
   student code: each is ended with its pid namespace, whose dying init leaves its children to be
   reaped unaccounted, so it shows about two thirds of the CPU (see benchmarks/README.md).
2. Cold check: `grader check examples/submission --parts conv,max_pool,avg_pool --seed 1` (as the
   console script runs it, with the .pyc files an installed grader has) against a bare
   `python -c "import numpy, torch"`, interleaved, --cold-checks times each after one discarded.
3. Transfer: a class of --transfer-count copies of the example graded on its transfer part alone
   (2 workers; each grader first grades a class of one, discarded, as the cold check's first run is):
   batch wall seconds per submission against the student's own training time (the
   report's speed tests: both modes' training); and beside it each submission's own grading in its
   worker (its report's execution time), which leaves out the class's one-off costs (the reference
   trained once, the workers' start) that a class of four shares between only four.

--before DIR runs every measurement a second time, interleaved with this checkout's, with the
grader in DIR (a copy of the code before a change: its processes start in DIR, so that `import
grader` finds that copy): before and after, side by side in one run.

    python benchmarks/warm_batch.py [--small 8] [--large 32] [--repeats 2] [--cold-checks 5]
                                    [--transfer-count 4] [--before DIR]
                                    [--out benchmarks/results/warm_batch.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import (ROOT, fail, grader_command, grader_env, machine, median, out_file, print_verdicts, target,
                     write_json)

PARTS = "conv,max_pool,avg_pool"
NO_WORK = '''import numpy as np
def conv_forward(x, w, b, conv_param):
    return np.zeros((x.shape[0], w.shape[0], x.shape[2], x.shape[3])), None
def conv_backward(dout, cache):
    return None, None, None
'''
NO_WORK_POOL = '''import numpy as np
def max_pool_forward(x, pool_param):
    return np.zeros((1,)), None
def max_pool_backward(dout, cache):
    return None
def avg_pool_forward(x, pool_param):
    return np.zeros((1,)), None
def avg_pool_backward(dout, cache):
    return None
'''
BATCH = ("import json, sys; from grader.batch import grade_batch; "
         "r = grade_batch(sys.argv[1], sys.argv[2], workers=2, seed=1, parts=sys.argv[3], device='cpu'); "
         "print(json.dumps([row.status for row in r.rows]))")
CPU_TARGET_S = 0.050
TRANSFER_TARGET = 1.2
COLD_TARGET = 0.5  # a cold check of the numpy parts, as a share of a bare `import numpy, torch`
CHECK = ["check", "examples/submission", "--parts", PARTS, "--seed", "1", "--format", "json"]
BARE = [sys.executable, "-c", "import numpy, torch"]


class CpuGroup:
    """A cgroup that counts the CPU of every process started in it and of their descendants, however
    they end (cgroup v1's cpuacct, or v2's cpu.stat); ``make`` gives None where none can be made."""

    _made = 0

    def __init__(self, folder: Path, counter: str):
        self.folder, self.counter = folder, counter

    @classmethod
    def make(cls) -> CpuGroup | None:
        for root, counter in ((Path("/sys/fs/cgroup/cpuacct"), "cpuacct.usage"),
                              (Path("/sys/fs/cgroup/unified"), "cpu.stat"), (Path("/sys/fs/cgroup"), "cpu.stat")):
            if (root / counter).is_file() or (root / "cgroup.controllers").is_file():
                cls._made += 1
                folder = root / f"grader-bench-{os.getpid()}-{cls._made}"
                try:
                    folder.mkdir()
                except OSError:
                    continue
                if (folder / counter).is_file():
                    return cls(folder, counter)
                folder.rmdir()
        return None

    def enter(self) -> None:
        """In the process to count, before it starts anything (``preexec_fn``)."""
        (self.folder / "cgroup.procs").write_text("0")

    def seconds(self) -> float:
        text = (self.folder / self.counter).read_text()
        if self.counter == "cpuacct.usage":
            return int(text) / 1e9
        return int(dict(line.split() for line in text.splitlines())["usage_usec"]) / 1e6

    def remove(self) -> None:
        for _ in range(50):  # (a process that has just ended may still be counted in it for a moment)
            try:
                self.folder.rmdir()
                return
            except OSError:
                time.sleep(0.1)


def timed(command: list[str], cwd: Path, env: dict | None = None) -> tuple[float, float, subprocess.CompletedProcess, float | None]:
    """(wall, CPU, the finished process, CPU of every process) of ``command``: the CPU from the
    kernel's account of the processes it waited for (itself, workers, templates, the sandbox
    children's inits), and that of every process it started (None where no cgroup can be made)."""
    import resource

    group = CpuGroup.make()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=cwd, env=env or grader_env(), capture_output=True, text=True,
                              preexec_fn=group.enter if group else None)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        every = group.seconds() if group else None
    finally:
        if group:
            group.remove()
    return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime), done, every


def measured(klass: Path, out: Path, parts: str, warm: bool, code: Path = ROOT) -> tuple[float, float, float | None]:
    """(wall, CPU as waited for, CPU of every process) seconds of one batch, with the grader in ``code``."""
    env = grader_env()
    if not warm:
        env["GRADER_SANDBOX_WARM"] = "0"
    wall, cpu, done, every = timed([sys.executable, "-c", BATCH, str(klass), str(out), parts], code, env)
    if done.returncode != 0:
        fail(f"a batch failed: {done.stderr[-500:]}")
    statuses = json.loads(done.stdout.strip().splitlines()[-1])
    if any(s != "graded" for s in statuses):
        fail(f"a batch did not grade everyone: {statuses}")
    return wall, cpu, every


def cold_check(code: Path, report: Path) -> float:
    """Wall seconds of one cold `grader check` of the numpy parts, with the grader in ``code``."""
    wall, _, done, _ = timed(grader_command(*CHECK, "--out", str(report)), code)
    if done.returncode != 0:
        fail(f"`grader check` failed in {code}: {done.stderr.strip()[-300:]}")
    return wall


def make_class(folder: Path, count: int, files: dict[str, str] | None = None) -> Path:
    for i in range(count):
        sub = folder / f"s{i:03d}"
        if files is None:
            shutil.copytree(ROOT / "examples" / "submission", sub)
        else:
            sub.mkdir(parents=True)
            for name, text in files.items():
                (sub / name).write_text(text)
    return folder


def training_seconds(report: Path) -> float:
    data = json.loads(report.read_text())
    return sum(t["details"]["speed"]["student_s"] for t in data["tests"]
               if t["part"] == "transfer" and t["kind"] == "speed" and "speed" in t["details"])


def slope(runs: dict, way: str, small: int, large: int) -> dict:
    """Wall and CPU seconds per submission between the medians of the small and the large classes
    (``cpu_all_s``: every process's CPU, None where it could not be counted)."""
    every = all(r[2] is not None for n in (small, large) for r in runs[(way, n)])
    low = [median([r[i] for r in runs[(way, small)]]) if i < 2 or every else None for i in (0, 1, 2)]
    high = [median([r[i] for r in runs[(way, large)]]) if i < 2 or every else None for i in (0, 1, 2)]
    return {"wall_s": (high[0] - low[0]) / (large - small), "cpu_s": (high[1] - low[1]) / (large - small),
            "cpu_all_s": (high[2] - low[2]) / (large - small) if every else None, "small": low, "large": high}


def transfer_batch(klass: Path, out: Path, code: Path) -> dict:
    """One transfer batch: seconds per submission against the student's own training (median)."""
    wall, cpu, _ = measured(klass, out, "transfer", True, code)
    reports = [p / "report.json" for p in sorted(out.iterdir()) if (p / "report.json").is_file()]
    own = [training_seconds(report) for report in reports]
    # each submission's own grading in its worker (the report's execution time): the class's one-off
    # costs (its reference, the workers' start) left out, the other worker's contention in
    grading = [json.loads(report.read_text())["execution_time"] for report in reports]
    count = len(list(klass.iterdir()))
    return {"wall_s": wall, "cpu_s": cpu, "per_submission_s": wall / count, "student_training_s": own,
            "ratio": wall / count / median(own), "grading_s": grading, "grading_ratio": median(grading) / median(own)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=8)
    parser.add_argument("--large", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--cold-checks", type=int, default=5, help="0: leave the cold check out")
    parser.add_argument("--transfer-count", type=int, default=4, help="0: leave the transfer part out")
    parser.add_argument("--transfer-repeats", type=int, default=1)
    parser.add_argument("--before", default=None, help="a copy of the grader's code to compare with, side by side")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    if not 1 <= args.small < args.large or args.repeats < 1 or args.cold_checks < 0 or args.transfer_repeats < 1:
        fail("need 1 <= --small < --large, --repeats >= 1, --cold-checks >= 0 and --transfer-repeats >= 1")
    before = Path(args.before).resolve() if args.before else None
    if before is not None and not (before / "grader" / "__init__.py").is_file():
        fail(f"--before {args.before}: no grader package in that folder")
    for name, code in (("--before", before), ("this checkout", ROOT)):
        if code is not None and Path(code).resolve().is_relative_to("/tmp"):
            # (the sandbox then gives its children no private /tmp, and each session scans the shared one)
            fail(f"{name} is under /tmp ({code}): a grader there runs its sandbox children without a private "
                 "/tmp and so pays several ms more per child: copy it elsewhere (e.g. /root/h16-before)")
    out = out_file(args.out)
    ways = {"cold": (ROOT, False), "warm": (ROOT, True), **({"before": (before, True)} if before else {})}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        files = {"conv.py": NO_WORK, "pool.py": NO_WORK_POOL}
        classes = {n: make_class(tmp / f"class{n}", n, files) for n in (args.small, args.large)}
        runs: dict[tuple[str, int], list[tuple[float, float, float | None]]] = {}
        for repeat in range(args.repeats):  # interleaved: load hits every way alike
            for n, klass in classes.items():
                for way, (code, warm) in ways.items():
                    runs.setdefault((way, n), []).append(
                        measured(klass, tmp / f"out-{way}-{n}-{repeat}", PARTS, warm, code))
        slopes = {way: slope(runs, way, args.small, args.large) for way in ways}
        print(f"Marginal cost of a submission that does no work ({PARTS}, 2 workers, slope {args.small} -> "
              f"{args.large}, median of {args.repeats}):\n")
        print("| grader, children | wall s (small / large) | CPU s waited for (small / large) | wall s per submission "
              "| CPU s per submission, waited for | CPU s per submission, every process |")
        print("|---|---:|---:|---:|---:|---:|")
        names = {"cold": "this one, cold children", "warm": "this one, warm children",
                 "before": "before, warm children"}
        for way, s in slopes.items():
            every = f"{s['cpu_all_s']:.3f}" if s["cpu_all_s"] is not None else "not counted (no cgroup)"
            print(f"| {names[way]} | {s['small'][0]:.2f} / {s['large'][0]:.2f} | {s['small'][1]:.2f} / "
                  f"{s['large'][1]:.2f} | {s['wall_s']:.3f} | {s['cpu_s']:.3f} | {every} |")
        warm_cpu = slopes["warm"]["cpu_s"]
        was = f"; before: {slopes['before']['cpu_s'] * 1000:.0f} ms" if before else ""
        targets = [target("warm batch overhead: CPU per submission (numpy parts, no work), waited-for processes",
                          f"{warm_cpu * 1000:.0f} ms (cold children: {slopes['cold']['cpu_s'] * 1000:.0f} ms; wall "
                          f"{slopes['warm']['wall_s'] * 1000:.0f} vs {slopes['cold']['wall_s'] * 1000:.0f} ms{was})",
                          f"<= {CPU_TARGET_S * 1000:.0f} ms", warm_cpu <= CPU_TARGET_S, cpu_s=warm_cpu)]
        every = slopes["warm"]["cpu_all_s"]
        if every is not None:  # the same target, every process counted
            was = f"; before: {slopes['before']['cpu_all_s'] * 1000:.0f} ms" if before else ""
            targets.append(target("warm batch overhead: CPU per submission (numpy parts, no work), every process",
                                  f"{every * 1000:.0f} ms (cold children: {slopes['cold']['cpu_all_s'] * 1000:.0f} ms"
                                  f"{was})", f"<= {CPU_TARGET_S * 1000:.0f} ms", every <= CPU_TARGET_S, cpu_s=every))
        checks = None
        if args.cold_checks:
            codes = {"after": ROOT, **({"before": before} if before else {})}
            walls: dict[str, list[float]] = {name: [] for name in (*codes, "bare")}
            for name, code in codes.items():  # discarded: fills the bytecode cache, as pip install does
                cold_check(code, tmp / "check.json")
            timed(BARE, ROOT)
            for _ in range(args.cold_checks):  # interleaved
                for name, code in codes.items():
                    walls[name].append(cold_check(code, tmp / "check.json"))
                walls["bare"].append(timed(BARE, ROOT)[0])
            checks = {name: median(w) for name, w in walls.items()}
            print(f"\nCold `grader {' '.join(CHECK)}` against a bare `python -c \"import numpy, torch\"`, median of "
                  f"{args.cold_checks}, interleaved:\n")
            print("| grader | check s | bare import s | share |\n|---|---:|---:|---:|")
            for name in codes:
                print(f"| {name} | {checks[name]:.3f} | {checks['bare']:.3f} | {checks[name] / checks['bare']:.2f}x |")
            share = checks["after"] / checks["bare"]
            was = f"; before: {checks['before']:.2f} s = {checks['before'] / checks['bare']:.2f}x" if before else ""
            targets.append(target("cold check of the numpy parts vs a bare `import numpy, torch`",
                                  f"{checks['after']:.2f} s / {checks['bare']:.2f} s = {share:.2f}x{was}",
                                  f"<= {COLD_TARGET:g}x", share <= COLD_TARGET, share=share, walls_s=walls))
        transfer = None
        if args.transfer_count:
            klass = make_class(tmp / "transfer", args.transfer_count)
            codes = {"after": ROOT, **({"before": before} if before else {})}
            batches: dict[str, list[dict]] = {name: [] for name in codes}
            one = make_class(tmp / "transfer-one", 1)
            for name, code in codes.items():  # discarded: the first batch to import torch reads it from disk
                transfer_batch(one, tmp / f"out-transfer-{name}-discarded", code)
            for repeat in range(args.transfer_repeats):
                for name, code in codes.items():
                    batches[name].append(transfer_batch(klass, tmp / f"out-transfer-{name}-{repeat}", code))
            transfer = {name: {"ratio": median([b["ratio"] for b in runs_]),
                               "per_submission_s": median([b["per_submission_s"] for b in runs_]),
                               "student_training_s": median([median(b["student_training_s"]) for b in runs_]),
                               "grading_s": median([median(b["grading_s"]) for b in runs_]),
                               "grading_ratio": median([b["grading_ratio"] for b in runs_]),
                               "batches": runs_} for name, runs_ in batches.items()}
            for name, t in transfer.items():
                print(f"\nTransfer part in a batch of {args.transfer_count} (2 workers, {name}): "
                      f"{t['per_submission_s']:.2f} s per submission (the class's wall / {args.transfer_count}); "
                      f"the student's own training (both modes) {t['student_training_s']:.2f} s: {t['ratio']:.3f}x; "
                      f"one submission's grading in its worker {t['grading_s']:.2f} s: {t['grading_ratio']:.3f}x")
            after = transfer["after"]
            was = f"; before: {transfer['before']['ratio']:.3f}x" if before else ""
            targets.append(target("transfer part in a batch: seconds per submission vs the student's own training",
                                  f"{after['ratio']:.3f}x ({after['per_submission_s']:.2f} s vs "
                                  f"{after['student_training_s']:.2f} s{was})", f"<= {TRANSFER_TARGET:g}x",
                                  after["ratio"] <= TRANSFER_TARGET, ratio=after["ratio"]))
    print()
    print_verdicts(targets)
    write_json(out, {"benchmark": "warm_batch", "machine": machine(), "load": os.getloadavg(), "parts": PARTS,
                     "small": args.small, "large": args.large, "repeats": args.repeats, "before": str(before or ""),
                     "slopes": slopes, "runs": {f"{w}-{n}": v for (w, n), v in runs.items()},
                     "cold_checks": checks, "transfer": transfer, "targets": targets})


if __name__ == "__main__":
    main()
