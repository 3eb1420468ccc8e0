"""Transfer grading: seconds per submission to grade the transfer part, cold and warm.

- cold: `grader check examples/submission --parts transfer --seed 1 --device DEVICE` in
  a fresh process, as the console script runs it: torch imported, the task's data made,
  the student's and the reference's pipelines trained (both modes), median of --repeats;
- warm: `grade_submission` again and again in this process (torch already imported, to
  see the device), as a `grader batch` worker does: the first run pays for the task's
  data and the reference pipeline, which the process keeps for every later submission
  of the same seed; the later runs (median of --warm) are what each further submission
  costs.

The cold and warm runs alternate, so load on the machine hits both alike.  Each figure
says which device it came from (`--device cuda` grades on the GPU where there is one;
"auto" takes it when torch sees one).  Issue 7 sets no number here: the criterion is
that a submission finishes, and the target taken is under 60 s per submission, cold.

    python benchmarks/transfer_grading.py [--device cpu] [--repeats 3] [--warm 3]
                                          [--out benchmarks/results/transfer_grading.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from _common import ROOT, cold, fail, grader_env, has_nvidia_driver, machine, median, out_file, print_verdicts, \
    target, write_json

SUBMISSION = "examples/submission"
SEED = 1
LIMIT_S = 60.0


def resolve(device: str) -> dict:
    """The device the grading will use, and what this machine has."""
    import torch

    cuda = has_nvidia_driver() and torch.cuda.is_available()
    if device == "cuda" and not cuda:
        fail("--device cuda: torch sees no CUDA device here (use --device cpu or auto)")
    used = "cuda" if device == "cuda" or (device == "auto" and cuda) else "cpu"
    return {"device": used, "cuda_available": cuda, "gpu": torch.cuda.get_device_name(0) if cuda else None,
            "torch_threads": torch.get_num_threads()}


def training(tests: list[dict]) -> tuple[float, float]:
    """(student, reference) training seconds of both modes, from the speed tests' details."""
    speeds = [t["details"]["speed"] for t in tests if t["kind"] == "speed" and "speed" in t["details"]]
    return sum(s["student_s"] for s in speeds), sum(s["reference_s"] for s in speeds)


def cold_run(device: str, report: Path) -> dict:
    seconds, _ = cold(["check", SUBMISSION, "--parts", "transfer", "--seed", str(SEED), "--device", device,
                       "--format", "json", "--out", str(report)], env=grader_env())
    data = json.loads(report.read_text())
    if data["percent"] < 100:
        fail(f"the example submission scored {data['percent']:.1f}% on transfer: not a correct submission")
    student, reference = training(data["tests"])
    return {"wall_s": seconds, "student_training_s": student, "reference_training_s": reference}


def warm_run(device: str) -> dict:
    from grader.grading import grade_submission

    start = time.perf_counter()
    report = grade_submission(ROOT / SUBMISSION, parts="transfer", seed=SEED, device=device)
    seconds = time.perf_counter() - start
    if report.percent < 100:
        fail(f"the example submission scored {report.percent:.1f}% on transfer in-process")
    student, reference = training([{"kind": t.kind, "details": t.details} for t in report.tests])
    return {"wall_s": seconds, "student_training_s": student, "reference_training_s": reference}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu", help="where the grading trains")
    parser.add_argument("--repeats", type=int, default=3, help="cold runs")
    parser.add_argument("--warm", type=int, default=3, help="warm runs after the first in-process one")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args()
    if args.repeats < 1 or args.warm < 1:
        fail("--repeats and --warm must be at least 1")
    out = out_file(args.out)
    where = resolve(args.device)
    device = where["device"]

    colds, warms = [], []
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        cold_run(device, report)  # warm-up of the .pyc cache, as pip install leaves it
        first = warm_run(device)
        for i in range(max(args.repeats, args.warm)):
            if i < args.repeats:
                colds.append(cold_run(device, report))
            if i < args.warm:
                warms.append(warm_run(device))

    def med(runs, key):
        return median([r[key] for r in runs])

    rows = [("cold process (grader check)", colds), ("warm process, first submission", [first]),
            ("warm process, each further submission", warms)]
    label = f"{device}" + (f", {where['gpu']}" if where["gpu"] else f", {machine()['cpu']}")
    print(f"`grader check {SUBMISSION} --parts transfer --seed {SEED} --device {device}` ({label}; "
          f"torch sees CUDA: {'yes' if where['cuda_available'] else 'no'}); median of {args.repeats} cold, "
          f"{args.warm} warm runs on a shared machine\n")
    print("| how | device | seconds per submission | student's training s | reference's training s (once a process) |")
    print("|---|---|---:|---:|---:|")
    for how, runs in rows:
        print(f"| {how} | {device} | {med(runs, 'wall_s'):.1f} | {med(runs, 'student_training_s'):.1f} | "
              f"{med(runs, 'reference_training_s'):.1f} |")
    cold_s, warm_s = med(colds, "wall_s"), med(warms, "wall_s")
    targets = [
        target(f"transfer grading, cold, {device}", f"{cold_s:.1f} s per submission", f"finishes, < {LIMIT_S:g} s",
               cold_s < LIMIT_S, seconds=cold_s, device=device),
        target(f"transfer grading, warm worker, {device}", f"{warm_s:.1f} s per submission",
               "none (reported)", None, seconds=warm_s, device=device),
    ]
    print()
    print_verdicts(targets)
    write_json(out, {"benchmark": "transfer_grading", "machine": machine(), "device": where, "seed": SEED,
                     "cold": colds, "warm_first": first, "warm": warms, "targets": targets})


if __name__ == "__main__":
    main()
