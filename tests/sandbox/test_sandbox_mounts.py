"""The read-only view of a namespaced child, read back from its own mount table: every mount it can
see is read-only but its scratch folder, its $TMPDIR, its private /tmp and /dev/shm, and its /proc;
and the one-call way ``confine`` makes the mounts read-only (``mount_setattr``, Linux 5.12) leaves
exactly what the older remount of each mount leaves."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.sandbox import session as session_module
from grader.sandbox.process import USERNS_ARGS, namespace_support, user_namespace
from grader.sandbox.session import OPEN_RULES, grader_folders, library_paths, visible_paths

pytestmark = pytest.mark.usefixtures("fully_hardened")  # (conftest.py: every test twice, all of HARDENING)
needs_namespaces = pytest.mark.skipif(namespace_support()[0] is None,
                                      reason=f"namespaces not available: {namespace_support()[1]}")
NAMESPACES = Path(session_module.__file__).with_name("child") / "namespaces.py"
TABLE = '''
def visible():
    """{mount point: its first option (rw or ro)} of the mounts that the points of the mount table
    reach: a mount covered by another, at its point or at a folder above it, is not reached."""
    import os
    mounts = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            mounts[fields[0]] = (fields[4].encode().decode("unicode_escape"), fields[5].split(",")[0])
    reached = {}
    for point in {point for point, _ in mounts.values()}:
        try:
            fd = os.open(point, os.O_PATH)
        except OSError:  # (under a cover: not there)
            continue
        try:
            with open(f"/proc/self/fdinfo/{fd}") as f:
                mount_id = dict(line.split(":", 1) for line in f if ":" in line)["mnt_id"].strip()
        finally:
            os.close(fd)
        if mounts.get(mount_id, ("",))[0] == point:  # the root of the mount on top there
            reached[point] = mounts[mount_id][1]
    return reached
'''


@needs_namespaces
@pytest.mark.parametrize("warm", ["1", "0"])
def test_every_mount_the_child_sees_is_read_only_but_its_own(session, monkeypatch, warm):
    monkeypatch.setenv("GRADER_SANDBOX_WARM", warm)  # a clone of the warm template, and a cold child
    s = session({"table.py": TABLE + "\nimport os\ndef home():\n    return os.environ['TMPDIR']\n"},
                rules=OPEN_RULES)  # (the mounts are under test, not the guard)
    if not s.protections["filesystem"].startswith("read-only outside scratch"):
        pytest.skip(f"no private mount namespace here: {s.protections['filesystem']}")
    mounts, home = s.call("table", "visible").value, s.call("table", "home").value
    writable = {home, str(Path(home).parent), "/dev/shm", "/proc"}  # $TMPDIR, the scratch folder
    if mounts.get("/tmp") == "rw":  # a private tmpfs (absent where the grader itself lives under /tmp)
        writable.add("/tmp")
    assert {point for point, mode in mounts.items() if mode == "rw"} == writable, mounts
    assert mounts["/"] == "ro" and mounts[str(Path(home).parent / "submission")] == "ro"
    assert len(mounts) > len(writable) + 3, mounts  # the system's folders and the grader's view, all read-only


CONFINE = '''
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("namespaces", sys.argv[1])
namespaces = importlib.util.module_from_spec(spec)
spec.loader.exec_module(namespaces)
used = []
if sys.argv[3] == "remounts":
    namespaces.read_only_tree = lambda notes: used.append(False) or False
else:
    one_call = namespaces.read_only_tree
    namespaces.read_only_tree = lambda notes: used.append(one_call(notes)) or used[-1]
line, notes = namespaces.confine(json.loads(sys.argv[2]))
print(json.dumps({"line": line, "notes": notes, "one_call": used, "visible": visible()}))
'''


def confined(tmp_path: Path, how: str) -> dict:
    """``confine`` run by itself in fresh namespaces (as ``unshare`` makes them for a cold child)
    on a scratch folder of its own: what it says and the mounts it leaves."""
    scratch = tmp_path / how
    for folder in (scratch / "submission", scratch / "home"):
        folder.mkdir(parents=True)
    spec = {"scratch": str(scratch), "cwd": str(scratch / "submission"), "home": str(scratch / "home"),
            "tmpfs_mb": 16, "tmpfs_files": 1000, "host_mnt_ns": os.readlink("/proc/self/ns/mnt"),
            "visible": visible_paths(scratch, library_paths(("numpy",)), grader_folders()), "hidden": []}
    prefix = USERNS_ARGS if user_namespace() else ()
    command = [shutil.which("unshare", path="/usr/bin:/bin:/usr/sbin:/sbin"), *prefix, "--mount", "--pid", "--fork",
               "--mount-proc", sys.executable, "-I", "-S", "-c", TABLE + CONFINE, str(NAMESPACES), json.dumps(spec), how]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@needs_namespaces
def test_one_call_and_a_remount_per_mount_leave_the_same_view(tmp_path):
    fast, each = confined(tmp_path, "one-call"), confined(tmp_path, "remounts")
    if fast["one_call"] != [True]:
        pytest.skip("mount_setattr is not available here: only the remounts run")
    assert each["one_call"] == [False]
    assert fast["line"] == each["line"] and fast["line"].startswith("read-only outside scratch")

    def view(result: dict, how: str) -> dict:  # the two scratch folders are the only difference in name
        return {point.replace(f"/{how}", "/SCRATCH"): mode for point, mode in result["visible"].items()}

    # (a mount the remounts could not make read-only, with a note, is one the single call did)
    missed = {n.removeprefix("could not make ").split(" read-only:")[0] for n in each["notes"]
              if n.startswith("could not make ")}
    assert view(fast, "one-call") == {p: "ro" if p in missed else m for p, m in view(each, "remounts").items()}
    assert view(fast, "one-call")["/"] == "ro" and view(fast, "one-call")["/proc"] == "rw"
    assert [n.replace("/one-call", "") for n in fast["notes"]] == [n.replace("/remounts", "") for n in each["notes"]
                                                                   if not n.startswith("could not make ")]
