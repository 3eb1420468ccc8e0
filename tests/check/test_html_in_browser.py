"""The HTML report opened in a real headless Chromium (Debian's `chromium`,
installed by .ci/run): the score and every test render.  Skips where no
Chromium is installed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from grader.grading import grade_submission
from grader.report import write
from grader.report.common import num

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)")
def test_the_report_renders_every_test_and_the_score(tmp_path):
    report = grade_submission(ROOT / "examples" / "buggy_submission", seed=2, device="cpu", parts="conv,max_pool,avg_pool",
                              config_path=Path(__file__).resolve().parent / "fast.toml")
    page = tmp_path / "report.html"
    write(report, "html", str(page))
    proc = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
         "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    assert f"<strong>{num(report.score)}</strong>" in dom and f"{report.percent:.1f}%" in dom
    for test in report.tests:
        assert test.name.split(": ", 1)[-1] in dom, test.name
    assert "<svg" in dom  # heat maps and speed bars drew
