"""Quiz generation: 1,000 per-student variants of a 10-question quiz in every
format (HTML, Moodle XML, Markdown, JSON) plus the key, timed in one run.

Target (issue 7): under 10 seconds on the project's 2-core machine, for 1,000
students and 10 questions (other counts are reported without a verdict).  The
time is the median of --repeats generations.

    python benchmarks/quiz_generation.py [--students 1000] [--count 10] [--repeats 1]
                                         [--out benchmarks/results/quiz_generation.json]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from grader.quiz import generate

from _common import fail, machine, median, out_file, print_verdicts, target, write_json

LIMIT_S, STUDENTS, QUESTIONS = 10.0, 1000, 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=STUDENTS)
    parser.add_argument("--count", type=int, default=QUESTIONS)
    parser.add_argument("--repeats", type=int, default=1, help="generations timed (median)")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args()
    if min(args.students, args.count, args.repeats) < 1:
        fail("--students, --count and --repeats must be at least 1")
    out = out_file(args.out)
    times = []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            roster = Path(tmp) / "roster.csv"
            roster.write_text("student_id\n" + "".join(f"s{i:05d}\n" for i in range(args.students)))
            start = time.perf_counter()
            written = generate(Path(tmp) / "quiz", count=args.count, seed=1, roster=roster)
            times.append(time.perf_counter() - start)
    seconds = median(times)
    print(f"| students | questions | files | seconds (median of {args.repeats}) |\n|---:|---:|---:|---:|\n"
          f"| {args.students} | {args.count} | {len(written)} | {seconds:.1f} |\n")
    standard = (args.students, args.count) == (STUDENTS, QUESTIONS)
    targets = [target(f"quiz generation: {args.students:,} students x {args.count} questions, all formats + key",
                      f"{seconds:.1f} s ({len(written)} files)",
                      f"< {LIMIT_S:g} s" if standard else f"< {LIMIT_S:g} s for {STUDENTS:,} x {QUESTIONS} only",
                      seconds < LIMIT_S if standard else None, seconds=seconds)]
    print_verdicts(targets)
    write_json(out, {"benchmark": "quiz_generation", "machine": machine(), "students": args.students,
                     "questions": args.count, "files": len(written), "times_s": times, "targets": targets})


if __name__ == "__main__":
    main()
