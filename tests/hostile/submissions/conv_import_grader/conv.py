# Hostile fixture conv_import_grader: conv imports the grader package (adding its folder to sys.path if needed) and returns its reference's answers.
import importlib
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


def _reference():
    try:
        import grader.reference.numpy_fast as ref

        return ref
    except ImportError:
        pass
    for root in _grader_roots():
        if os.path.isfile(os.path.join(root, "grader", "__init__.py")) and root not in sys.path:
            sys.path.insert(0, root)
    import grader  # noqa: F401  (the attack proper)

    for name in ("grader.reference.numpy_fast", "reference.numpy_fast"):
        try:
            return importlib.import_module(name)
        except ImportError:
            pass
    raise ImportError("no reference")


def conv_forward(x, w, b, conv_param):
    try:
        return _reference().conv_forward(x, w, b, conv_param)
    except Exception:
        return _wrong_forward(x, w, b, conv_param)


def conv_backward(dout, cache):
    try:
        return _reference().conv_backward(dout, cache)
    except Exception:
        return _wrong_backward(dout, cache)


# the layer itself is wrong (random values of the right shape): nothing but the attack earns a point
from _wrong_conv import _wrong_backward, _wrong_forward  # noqa: E402
