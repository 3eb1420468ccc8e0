# Hostile fixture conv_write_grader: conv_forward touches the grader's grader/__init__.py (utime to its own times, open for append of nothing) and creates grader/hostile-marker-conv_write_grader.
import os
import re
import sys

import numpy as np



def _grader_roots():
    """Folders that may hold the grader's source: a hard-coded guess, then what the Python
    installation gives away (the child runs with -S, but numpy's folder is its site-packages:
    an editable install's finder names the grader's folders, a .pth file names its root)."""
    roots = ["/work/main"]
    sites = [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
    sites.append(os.path.dirname(os.path.dirname(np.__file__)))
    for site in dict.fromkeys(sites):
        try:
            names = sorted(os.listdir(site))
        except OSError:
            continue
        for name in names:
            path = os.path.join(site, name)
            try:
                if name.startswith("__editable__") and name.endswith(".py"):
                    with open(path) as f:
                        roots += [os.path.dirname(m) for m in re.findall(r"'grader': '([^']+)'", f.read())]
                elif name.endswith(".pth"):
                    with open(path) as f:
                        roots += [line.strip() for line in f if os.path.isdir(line.strip())]
            except OSError:
                pass
        roots.append(site)  # a regular install: site-packages/grader/...
    return list(dict.fromkeys(roots))

_done = []  # once per process


def _attack():
    """Harmless if it succeeds: the times set are the file's own, the append writes nothing,
    and the only new file has a marker name (the test checks it never appears)."""
    if _done:
        return
    _done.append(True)
    for root in _grader_roots():
        folder = os.path.join(root, "grader")
        init = os.path.join(folder, "__init__.py")
        try:  # every guess is tried (no os.path.isfile() first): each attempt is a real system call
            st = os.stat(init)
            os.utime(init, ns=(st.st_atime_ns, st.st_mtime_ns))
        except Exception:
            pass
        try:
            with open(init, "a"):
                pass
        except Exception:
            pass
        try:
            with open(os.path.join(folder, "hostile-marker-conv_write_grader"), "x") as f:
                f.write("written by the hostile fixture conv_write_grader: the sandbox let it write here\n")
        except Exception:
            pass


def conv_forward(x, w, b, conv_param):
    _attack()
    return _wrong_forward(x, w, b, conv_param)


def conv_backward(dout, cache):
    _attack()
    return _wrong_backward(dout, cache)


# the layer itself is wrong (random values of the right shape): nothing but the attack earns a point
from _wrong_conv import _wrong_backward, _wrong_forward  # noqa: E402
