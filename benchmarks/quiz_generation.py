"""Quiz generation: 1,000 per-student variants of a 10-question quiz in every
format (HTML, Moodle XML, Markdown, JSON) plus the key, timed in one run.

Target (issue 7): under 10 seconds on the project's 2-core machine.

    python benchmarks/quiz_generation.py [--students 1000] [--count 10]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from grader.quiz import generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--count", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        roster = Path(tmp) / "roster.csv"
        roster.write_text("student_id\n" + "".join(f"s{i:05d}\n" for i in range(args.students)))
        start = time.perf_counter()
        written = generate(Path(tmp) / "quiz", count=args.count, seed=1, roster=roster)
        seconds = time.perf_counter() - start
    print(f"| students | questions | files | seconds |\n|---:|---:|---:|---:|\n"
          f"| {args.students} | {args.count} | {len(written)} | {seconds:.1f} |")
    print(f"\n{'PASS' if seconds < 10 else 'MISS'}: {seconds:.1f} s (target: under 10 s)")


if __name__ == "__main__":
    main()
