"""Warm batches (issue 16): what one more submission costs a batch, warm children against cold
ones, and the transfer part's cost per submission in a batch beside the student's own training.

1. Marginal cost: classes of --small and --large submissions whose code does no work (every layer
   returns zeros at once: wrong, so no speed test) are graded on 2 workers, the three numpy parts,
   warm (the default) and cold (GRADER_SANDBOX_WARM=0), interleaved, --repeats times.  Each batch
   runs in a process of its own; its wall seconds and its CPU seconds (itself and every process it
   waited for: workers, templates, sandbox children) give the slope per submission.
2. Transfer: a class of --transfer-count copies of the example graded on its transfer part alone
   (2 workers): batch wall seconds per submission against the student's own training time (the
   report's speed tests: both modes' training).

    python benchmarks/warm_batch.py [--small 8] [--large 32] [--repeats 2] [--transfer-count 4]
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

from _common import ROOT, fail, grader_env, machine, median, out_file, print_verdicts, target, write_json

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


def measured(klass: Path, out: Path, parts: str, warm: bool) -> tuple[float, float]:
    """(wall, CPU) seconds of one batch, the CPU from the kernel's account of the batch's process tree."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    env = grader_env()
    if not warm:
        env["GRADER_SANDBOX_WARM"] = "0"
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", BATCH, str(klass), str(out), parts], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        fail(f"a batch failed: {done.stderr[-500:]}")
    statuses = json.loads(done.stdout.strip().splitlines()[-1])
    if any(s != "graded" for s in statuses):
        fail(f"a batch did not grade everyone: {statuses}")
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return wall, cpu


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=8)
    parser.add_argument("--large", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--transfer-count", type=int, default=4, help="0: leave the transfer part out")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    if not 1 <= args.small < args.large or args.repeats < 1:
        fail("need 1 <= --small < --large and --repeats >= 1")
    out = out_file(args.out)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        files = {"conv.py": NO_WORK, "pool.py": NO_WORK_POOL}
        classes = {n: make_class(tmp / f"class{n}", n, files) for n in (args.small, args.large)}
        runs: dict[tuple[str, int], list[tuple[float, float]]] = {}
        for repeat in range(args.repeats):  # interleaved: load hits both alike
            for n, klass in classes.items():
                for way in ("cold", "warm"):
                    runs.setdefault((way, n), []).append(
                        measured(klass, tmp / f"out-{way}-{n}-{repeat}", PARTS, way == "warm"))
        slopes = {}
        for way in ("cold", "warm"):
            small = [median([r[i] for r in runs[(way, args.small)]]) for i in (0, 1)]
            large = [median([r[i] for r in runs[(way, args.large)]]) for i in (0, 1)]
            slopes[way] = {"wall_s": (large[0] - small[0]) / (args.large - args.small),
                           "cpu_s": (large[1] - small[1]) / (args.large - args.small),
                           "small": small, "large": large}
        print(f"Marginal cost of a submission that does no work ({PARTS}, 2 workers, slope {args.small} -> "
              f"{args.large}, median of {args.repeats}):\n")
        print("| children | wall s (small / large) | CPU s (small / large) | wall s per submission | "
              "CPU s per submission |")
        print("|---|---:|---:|---:|---:|")
        for way, s in slopes.items():
            print(f"| {way} | {s['small'][0]:.2f} / {s['large'][0]:.2f} | {s['small'][1]:.2f} / {s['large'][1]:.2f} "
                  f"| {s['wall_s']:.3f} | {s['cpu_s']:.3f} |")
        warm_cpu = slopes["warm"]["cpu_s"]
        targets = [target("warm batch overhead: CPU per submission (numpy parts, no work)",
                          f"{warm_cpu * 1000:.0f} ms (cold children: {slopes['cold']['cpu_s'] * 1000:.0f} ms; wall "
                          f"{slopes['warm']['wall_s'] * 1000:.0f} vs {slopes['cold']['wall_s'] * 1000:.0f} ms)",
                          f"<= {CPU_TARGET_S * 1000:.0f} ms", warm_cpu <= CPU_TARGET_S, cpu_s=warm_cpu)]
        transfer = None
        if args.transfer_count:
            klass = make_class(tmp / "transfer", args.transfer_count)
            wall, cpu = measured(klass, tmp / "out-transfer", "transfer", True)
            own = [training_seconds(p / "report.json") for p in sorted((tmp / "out-transfer").iterdir())
                   if (p / "report.json").is_file()]
            per = wall / args.transfer_count
            ratio = per / median(own)
            transfer = {"count": args.transfer_count, "wall_s": wall, "cpu_s": cpu, "per_submission_s": per,
                        "student_training_s": own, "ratio": ratio}
            print(f"\nTransfer part in a batch of {args.transfer_count} (2 workers): {wall:.1f} s, {per:.2f} s per "
                  f"submission; the student's own training (both modes) {median(own):.2f} s: {ratio:.2f}x\n")
            targets.append(target("transfer part in a batch: seconds per submission vs the student's own training",
                                  f"{ratio:.2f}x ({per:.2f} s vs {median(own):.2f} s)", f"<= {TRANSFER_TARGET:g}x",
                                  ratio <= TRANSFER_TARGET, ratio=ratio))
    print_verdicts(targets)
    write_json(out, {"benchmark": "warm_batch", "machine": machine(), "parts": PARTS, "small": args.small,
                     "large": args.large, "repeats": args.repeats, "slopes": slopes,
                     "runs": {f"{w}-{n}": v for (w, n), v in runs.items()}, "transfer": transfer,
                     "targets": targets})


if __name__ == "__main__":
    main()
