"""The report and the class page opened in a real headless Chromium, on a phone (400 px wide) and
on a desktop (1280 px): nothing sticks out past the right edge, so the Parts card and the status
column of the submissions table stay in view (at 400 px they used to overflow and hide it).
Skips where no Chromium is installed (Debian: apt-get install chromium)."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from grader.batch import grade_batch

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "tests" / "check" / "fast.toml"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)")

# A page that shows the page under test in a frame of the width asked for (headless Chromium's
# window is at least 500 px wide; a frame's media queries see the frame), and then measures every
# element's box against the frame, after layout; the result goes in a <pre> that --dump-dom prints.
PROBE = """<!DOCTYPE html>
<html><body style="margin: 0">
<iframe id="page" src="%(src)s" style="border: 0; width: %(width)dpx; height: 900px"></iframe>
<script>
window.addEventListener("load", function () {
  var doc = document.getElementById("page").contentDocument, width = doc.documentElement.clientWidth, out = [];
  doc.querySelectorAll("body *").forEach(function (el) {
    var box = el.getBoundingClientRect();
    if (box.width > 0 && (box.right > width + 0.5 || box.left < -0.5)) {
      out.push(el.tagName + "." + el.getAttribute("class") + ": " + (el.textContent || "").trim().slice(0, 40));
    }
  });
  var shown = Array.prototype.filter.call(doc.querySelectorAll("td.status, td.tally, td.name"),
                                          function (el) { return el.getBoundingClientRect().width > 0; }).length;
  var pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify({width: width, scroll: doc.documentElement.scrollWidth, outside: out,
                                    shown: shown});
  document.body.appendChild(pre);
});
</script>
</body></html>
"""


def measure(page: Path, width: int, tmp_path: Path) -> dict:
    probe = page.with_name(f"probe-{width}-{page.name}")
    probe.write_text(PROBE % {"src": page.name, "width": width}, encoding="utf-8")
    proc = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--allow-file-access-from-files", "--virtual-time-budget=5000", f"--user-data-dir={tmp_path / 'profile'}",
         f"--window-size={width + 100},1000", "--dump-dom", probe.as_uri()],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = re.search(r'<pre id="probe">(.*?)</pre>', proc.stdout, re.S)
    assert found, proc.stdout[-2000:]
    return json.loads(html.unescape(found.group(1)))


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory) -> Path:
    klass = tmp_path_factory.mktemp("browser") / "class"
    shutil.copytree(ROOT / "examples" / "buggy_submission", klass / "bob")  # failing tests: heat maps, long lists
    shutil.copytree(ROOT / "examples" / "cs231n_submission", klass / "a_rather_long_submission_folder_name_from_an_lms")
    (klass / "broken.zip").write_bytes(b"not a zip")  # an error row: the longest status
    out = klass.parent / "out"
    grade_batch(klass, out, workers=2, seed=2, parts="conv,max_pool,avg_pool", device="cpu", config_path=CONFIG)
    return out


@pytest.mark.parametrize("width", [400, 1280])
@pytest.mark.parametrize("page", ["index.html", "bob/report.html"])
def test_nothing_sticks_out_of_the_page(graded_class, tmp_path, page, width):
    seen = measure(graded_class / page, width, tmp_path)
    assert abs(seen["width"] - width) <= 20, seen  # the page was laid out at the width asked for
    assert seen["outside"] == [] and seen["scroll"] <= seen["width"], seen
    assert seen["shown"] >= 3  # the status cells (class page), the Parts rows (report) are laid out and in view
