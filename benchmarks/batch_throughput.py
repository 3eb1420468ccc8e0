"""Batch throughput: `grader batch` (1 and 2 warm workers) against one cold
`grader check` process per submission, side by side in one run.

A class of N small submissions (copies of the example, the pooling parts, speed
tests off through a config) is graded three ways; each prints submissions per
minute and the ratio to the cold processes.  Target (issue 6): 2 workers at least
3x the cold throughput on this 2-core machine.

    python benchmarks/batch_throughput.py [--count 12] [--out benchmarks/results/batch_throughput.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = "[speed]\nrepeats = 1\n[points]\nspeed = 0.0\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=12, help="submissions in the class")
    parser.add_argument("--parts", default="max_pool,avg_pool")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    from grader.batch import grade_batch

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        klass = tmp / "class"
        for i in range(args.count):
            shutil.copytree(ROOT / "examples" / "submission", klass / f"s{i:03d}")
        config = tmp / "bench.toml"
        config.write_text(CONFIG)
        figures = {}

        start = time.perf_counter()
        for sub in sorted(klass.iterdir()):
            subprocess.run([sys.executable, "-m", "grader", "check", str(sub), "--parts", args.parts, "--seed", "1",
                            "--device", "cpu", "--config", str(config), "--format", "json",
                            "--out", str(tmp / f"{sub.name}.json")], check=True, capture_output=True)
        figures["cold grader check, one process each"] = time.perf_counter() - start

        for workers in (1, 2):
            start = time.perf_counter()
            grade_batch(klass, tmp / f"batch{workers}", workers=workers, seed=1, parts=args.parts, device="cpu",
                        config_path=config)
            figures[f"grader batch, {workers} warm worker{'s' if workers > 1 else ''}"] = time.perf_counter() - start

    cold = figures["cold grader check, one process each"]
    print(f"{args.count} submissions ({args.parts}), one run:\n")
    print("| how | seconds | submissions per minute | vs cold |")
    print("|---|---:|---:|---:|")
    rows = []
    for how, seconds in figures.items():
        rate = 60 * args.count / seconds
        print(f"| {how} | {seconds:.1f} | {rate:.1f} | {cold / seconds:.2f}x |")
        rows.append({"how": how, "seconds": seconds, "per_minute": rate, "vs_cold": cold / seconds})
    ratio = cold / figures["grader batch, 2 warm workers"]
    print(f"\n{'PASS' if ratio >= 3 else 'MISS'}: 2 workers are {ratio:.2f}x the cold throughput (target 3x)")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps({"count": args.count, "rows": rows, "ratio": ratio}, indent=1) + "\n")


if __name__ == "__main__":
    main()
