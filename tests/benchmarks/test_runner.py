"""benchmarks/run.py works end to end on its cheapest benchmark: it writes the benchmark's JSON,
a summary (JSON and Markdown) with the machine and a verdict per target, and says PASS or MISS.
Detection, not time: the numeric-gradient benchmark's verdict does not depend on the machine."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_runner_writes_json_and_markdown_with_a_verdict(tmp_path):
    done = subprocess.run([sys.executable, "benchmarks/run.py", "--quick", "--only", "numeric_gradient",
                           "--out", str(tmp_path)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert {"machine", "benchmarks"} <= summary.keys() and summary["machine"]["cores"] >= 1
    table = (tmp_path / "summary.md").read_text()
    assert "| 2 | numeric gradient" in table and "| PASS |" in table  # every planted bug caught, < 5% of calls
    assert (tmp_path / "numeric_gradient.json").is_file()
    assert "PASS: numeric gradient" in done.stdout


def test_a_bad_output_folder_is_one_line_not_a_traceback(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    done = subprocess.run([sys.executable, "benchmarks/run.py", "--quick", "--only", "numeric_gradient",
                           "--out", str(blocker / "out")], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 2 and "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
