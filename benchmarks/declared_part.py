"""A declared part's check against a built-in one, side by side in one run (issue 15).

Alternates cold ``grader check`` runs of the batch-norm example (a part declared in
``examples/batchnorm/assignment.toml``: its reference loaded from the instructor's file, its
cases drawn from the declaration) and of the shipped example's conv part (built in), and
reports the medians, the ratio, and the time per test of each.  No verdict: the figures are
reported.

    python benchmarks/declared_part.py [--repeats 5] [--out benchmarks/results/declared_part.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from _common import ROOT, cold, fail, machine, median, out_file, print_verdicts, target, write_json

RUNS = {
    "declared: spatial_batchnorm": [str(ROOT / "examples" / "batchnorm" / "correct"), "--config",
                                    str(ROOT / "examples" / "batchnorm" / "assignment.toml")],
    "built in: conv": [str(ROOT / "examples" / "submission"), "--parts", "conv"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="cold checks of each (median)")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args()
    if args.repeats < 1:
        fail("--repeats must be at least 1")
    out = out_file(args.out)
    times: dict[str, list[float]] = {name: [] for name in RUNS}
    tests: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="grader-bench-declared-") as tmp:
        for _ in range(args.repeats):
            for name, command in RUNS.items():  # alternating: load on the machine hits both alike
                report = Path(tmp) / "report.json"
                seconds, _ = cold(["check", *command, "--seed", "1", "--device", "cpu", "--format", "json",
                                   "--out", str(report)])
                data = json.loads(report.read_text(encoding="utf-8"))
                if data["score"] < data["max_score"]:
                    fail(f"{name}: the example did not get full marks ({data['score']} / {data['max_score']})")
                tests[name] = len(data["tests"])
                times[name].append(seconds)
    declared, builtin = (median(times[n]) for n in RUNS)
    (d_name, b_name) = RUNS
    rows = [f"| {n} | {tests[n]} | {median(times[n]):.2f} | {1000 * median(times[n]) / tests[n]:.0f} |" for n in RUNS]
    print("| check | tests | cold check (s) | ms per test |\n|---|---:|---:|---:|\n" + "\n".join(rows)
          + f"\n\n(cold `grader check`, median of {args.repeats} each, alternating; ratio "
          f"{declared / builtin:.2f}x)\n")
    targets = [target("a declared part's cold check against a built-in part's",
                      f"{declared:.2f} s ({tests[d_name]} tests) against {builtin:.2f} s ({tests[b_name]} tests): "
                      f"{declared / builtin:.2f}x", "reported", None, declared_s=declared, builtin_s=builtin)]
    print_verdicts(targets)
    write_json(out, {"benchmark": "declared_part", "machine": machine(), "times_s": times, "tests": tests,
                     "targets": targets})


if __name__ == "__main__":
    main()
