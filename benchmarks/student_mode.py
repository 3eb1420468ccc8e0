"""Student mode against the instructor's mode: the same submission checked cold by each,
side by side in one run (issue 11).

Exports the student install once (``grader export student``, timed), then alternates
cold ``grader check`` runs of the shipped correct example in the instructor's mode and in
student mode (``--public``, the public cases of that export: what the student wheel
runs), for the numpy parts and for the transfer part, and reports medians and ratios.
Also reports the wheel's size and what it holds.  No verdict: the figures are reported.

    python benchmarks/student_mode.py [--repeats 3] [--out benchmarks/results/student_mode.json]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import zipfile
from pathlib import Path

from _common import ROOT, cold, fail, machine, median, out_file, print_verdicts, target, write_json

SUBMISSION = str(ROOT / "examples" / "submission")
WORKLOADS = {"numpy parts": "conv,max_pool,avg_pool", "transfer": "transfer"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="cold checks per mode and workload (median)")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args()
    if args.repeats < 1:
        fail("--repeats must be at least 1")
    out = out_file(args.out)
    with tempfile.TemporaryDirectory(prefix="grader-bench-student-") as tmp:
        export_s, _ = cold(["export", "student", "--out", str(Path(tmp) / "release")])
        (wheel,) = (Path(tmp) / "release").glob("*.whl")
        wheel_bytes = wheel.stat().st_size
        with zipfile.ZipFile(wheel) as archive:
            names = archive.namelist()
            archive.extractall(Path(tmp) / "unpacked", [n for n in names if n.startswith("grader/public/")])
            public_bytes = sum(i.file_size for i in archive.infolist() if i.filename.startswith("grader/public/"))
        public = str(Path(tmp) / "unpacked" / "grader" / "public")
        times: dict[str, dict[str, list[float]]] = {w: {"instructor": [], "student": []} for w in WORKLOADS}
        for _ in range(args.repeats):
            for workload, parts in WORKLOADS.items():  # alternating: load on the machine hits both alike
                for mode in ("instructor", "student"):
                    extra = ["--public", public] if mode == "student" else []
                    seconds, _ = cold(["check", SUBMISSION, "--parts", parts, "--seed", "1", "--device", "cpu",
                                       "--format", "json", "--out", str(Path(tmp) / f"{mode}.json"), *extra])
                    times[workload][mode].append(seconds)
    rows, targets = [], []
    for workload in WORKLOADS:
        teacher, student = median(times[workload]["instructor"]), median(times[workload]["student"])
        rows.append(f"| {workload} | {teacher:.2f} | {student:.2f} | {student / teacher:.2f}x |")
        targets.append(target(f"student-mode check of the correct example ({workload}) against the instructor's",
                              f"{student:.2f} s against {teacher:.2f} s ({student / teacher:.2f}x)", "reported",
                              None, instructor_s=teacher, student_s=student))
    size_mb = wheel_bytes / 1e6
    targets.append(target("student wheel", f"{size_mb:.2f} MB, {len(names)} files "
                           f"({public_bytes / 1e6:.2f} MB of public cases unpacked), exported in {export_s:.1f} s",
                           "reported", None, wheel_bytes=wheel_bytes, files=len(names)))
    print(f"| workload | instructor's mode (s) | student mode (s) | ratio |\n|---|---:|---:|---:|\n"
          + "\n".join(rows) + f"\n\n(cold `grader check`, median of {args.repeats} each, alternating)\n")
    print_verdicts(targets)
    write_json(out, {"benchmark": "student_mode", "machine": machine(), "times_s": times, "export_s": export_s,
                     "wheel": {"name": wheel.name, "bytes": wheel_bytes, "files": names},
                     "targets": targets})


if __name__ == "__main__":
    main()
