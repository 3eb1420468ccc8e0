"""Batch throughput: `grader batch` (1 and 2 warm workers) against one cold
`grader check` process per submission, side by side in one run.

A class of N small submissions (copies of the example, the pooling parts, speed
tests off through a config) is graded three ways, --repeats times in turn (so
that load on the machine hits all three alike); each prints submissions per
minute (median of the repeats) and the ratio to the cold processes.  Target
(issue 6): 2 workers at least 3x the cold throughput on this 2-core machine.

    python benchmarks/batch_throughput.py [--count 12] [--repeats 1]
                                          [--out benchmarks/results/batch_throughput.json]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from _common import ROOT, cold, fail, grader_env, machine, median, out_file, print_verdicts, target, write_json

CONFIG = "[speed]\nrepeats = 1\n[points]\nspeed = 0.0\n"
COLD = "cold grader check, one process each"
TARGET = 3.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=12, help="submissions in the class")
    parser.add_argument("--parts", default="max_pool,avg_pool")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each way (median)")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args()
    if args.count < 1 or args.repeats < 1:
        fail("--count and --repeats must be at least 1")
    out = out_file(args.out)
    from grader.batch import grade_batch

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        klass = tmp / "class"
        for i in range(args.count):
            shutil.copytree(ROOT / "examples" / "submission", klass / f"s{i:03d}")
        config = tmp / "bench.toml"
        config.write_text(CONFIG)
        env = grader_env()
        cold(["--version"], env=env)  # fills the .pyc cache, as pip install leaves it
        figures: dict[str, list[float]] = {}
        for repeat in range(args.repeats):
            start = time.perf_counter()
            for sub in sorted(klass.iterdir()):
                cold(["check", str(sub), "--parts", args.parts, "--seed", "1", "--device", "cpu", "--config",
                      str(config), "--format", "json", "--out", str(tmp / f"{sub.name}.json")], env=env)
            figures.setdefault(COLD, []).append(time.perf_counter() - start)
            for workers in (1, 2):
                start = time.perf_counter()
                grade_batch(klass, tmp / f"batch{workers}-{repeat}", workers=workers, seed=1, parts=args.parts,
                            device="cpu", config_path=config)
                how = f"grader batch, {workers} warm worker{'s' if workers > 1 else ''}"
                figures.setdefault(how, []).append(time.perf_counter() - start)

    seconds = {how: median(times) for how, times in figures.items()}
    print(f"{args.count} submissions ({args.parts}), median of {args.repeats}:\n")
    print("| how | seconds | submissions per minute | vs cold |")
    print("|---|---:|---:|---:|")
    rows = []
    for how, s in seconds.items():
        rate = 60 * args.count / s
        print(f"| {how} | {s:.1f} | {rate:.1f} | {seconds[COLD] / s:.2f}x |")
        rows.append({"how": how, "seconds": s, "per_minute": rate, "vs_cold": seconds[COLD] / s,
                     "runs_s": figures[how]})
    ratio = seconds[COLD] / seconds["grader batch, 2 warm workers"]
    print()
    targets = [target("batch throughput: 2 warm workers vs cold processes",
                      f"{ratio:.2f}x ({rows[2]['per_minute']:.0f} vs {rows[0]['per_minute']:.0f} submissions/min; "
                      f"1 worker {rows[1]['vs_cold']:.2f}x)", f">= {TARGET:g}x", ratio >= TARGET, ratio=ratio)]
    print_verdicts(targets)
    write_json(out, {"benchmark": "batch_throughput", "machine": machine(), "count": args.count, "parts": args.parts,
                     "repeats": args.repeats, "rows": rows, "ratio": ratio, "targets": targets})


if __name__ == "__main__":
    main()
