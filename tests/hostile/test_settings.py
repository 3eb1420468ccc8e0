"""The attacks on the sandbox's own machinery, graded again in the settings a root CI job does not
get by itself (SECURITY.md's table):

- root without namespaces: ``setpriv --bounding-set=-sys_admin`` (what an unprivileged container
  gives: unshare fails, the guard, the user switch and the system-call filter are the wall);
- a user other than root (``nobody``): inside a user namespace where the kernel allows one, and
  without namespaces too, through ``test_without_namespaces_the_guard_still_contains_it``.

The transfer part's fixture is left out (its first grading in a process trains the references,
15 s): its wall, the system-call filter, is the same in every setting, and ``test_hostile.py``
grades it with and without namespaces.

Each setting is one pytest run of its own of ``test_hostile.py``, limited (``-k``) to the
fixtures below; every problem it finds (a point earned, an attempt not named, a process, file,
SysV IPC object or change to the grader left behind) fails it there, and the output says which.
Where ``nobody`` cannot reach Python (a pyenv under a 0700 /root, as on this project's machines),
the run gets a private mount namespace in which only the folders on the way to Python, the
virtual environment and this checkout are shown to it: the rest of the machine is as it is."""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from grader.sandbox.cleanup import remove_tree

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SETPRIV, UNSHARE = shutil.which("setpriv"), shutil.which("unshare")
# the attacks on the sandbox itself: the guard argued with, and what outlives a grading
FIXTURES = ("conv_guard_fspath", "conv_guard_frames", "conv_forged_audit_events", "conv_sysv_shm_ctypes",
            "conv_dev_shm_files", "conv_read_other_scratch")
pytestmark = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0 or SETPRIV is None,
                                reason="the other settings are entered from root, with setpriv")


def hostile_run(prefix: list[str], names, tests: str, env: dict, basetemp: Path, timeout: int = 420):
    selection = f"({tests}) and ({' or '.join(names)})"
    command = [*prefix, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", selection,
               f"--basetemp={basetemp}", str(HERE / "test_hostile.py")]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **env})


def passed(proc, expected: int) -> None:
    tail = (proc.stdout + proc.stderr)[-6000:]
    assert proc.returncode == 0, tail
    summary = proc.stdout.strip().splitlines()[-1]
    assert f"{expected} passed" in summary and "skipped" not in summary, tail


@pytest.mark.slow
def test_as_root_without_namespaces(tmp_path):
    proc = hostile_run([SETPRIV, "--bounding-set=-sys_admin", "--"], FIXTURES, "earns_nothing", {}, tmp_path / "run")
    passed(proc, len(FIXTURES))


def blocked_on_the_way(paths) -> dict[str, list[str]]:
    """{folder others may not enter: [the paths under it nobody needs]}, for ``paths``."""
    blocked: dict[str, list[str]] = {}
    for path in paths:
        parts = Path(os.path.realpath(path)).parts
        for i in range(2, len(parts)):
            folder = os.path.join(*parts[:i])
            if not os.stat(folder).st_mode & 0o001:
                blocked.setdefault(folder, []).append(os.path.realpath(path))
                break
    return blocked


@pytest.mark.slow
def test_as_another_user_than_root(tmp_path):
    try:
        user = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user nobody")
    home = Path(tempfile.mkdtemp(prefix="grader-settings-run-"))  # (not a leftover's name: other runs look)
    try:
        os.chown(home, user.pw_uid, user.pw_gid)
        drop = [SETPRIV, f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups", "--"]
        blocked = blocked_on_the_way([sys.base_prefix, sys.prefix, ROOT])
        if blocked:  # show nobody the way to Python, the venv and the checkout, in a mount namespace of its own
            if UNSHARE is None:
                pytest.skip(f"nobody cannot reach {sorted(blocked)} and there is no unshare to show it the way")
            probe = subprocess.run([UNSHARE, "--mount", "--", "true"], capture_output=True, text=True, timeout=30)
            if probe.returncode != 0:  # root without CAP_SYS_ADMIN (setpriv, a container): no mount namespace
                pytest.skip(f"nobody cannot reach {sorted(blocked)}, and no mount namespace can show it the way "
                            f"here ({probe.stderr.strip() or 'unshare failed'})")
            script = ["set -e"]
            for fd, (folder, inside) in enumerate(sorted(blocked.items()), start=3):
                script += [f"exec {fd}<{shlex.quote(folder)}",
                           f"mount -t tmpfs -o mode=755,size=1m tmpfs {shlex.quote(folder)}"]
                for path in inside:
                    relative = os.path.relpath(path, folder)
                    script += [f"mkdir -p {shlex.quote(path)}",
                               f"mount --no-canonicalize --bind /proc/self/fd/{fd}/{shlex.quote(relative)} "
                               f"{shlex.quote(path)}"]
            script.append('exec "$@"')
            prefix = [UNSHARE, "--mount", "--propagation", "private", "--", "sh", "-c", "\n".join(script), "sh",
                      *drop]
        else:
            prefix = drop
        # (not root: the first is graded in a user namespace where the kernel allows one, the second without)
        proc = hostile_run(prefix, FIXTURES, "earns_nothing or without_namespaces", {"HOME": str(home)}, home / "run")
        passed(proc, 2 * len(FIXTURES))
    finally:
        remove_tree(str(home))
