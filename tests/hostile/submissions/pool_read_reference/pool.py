# Hostile fixture pool_read_reference: max_pool open()s the grader's reference/numpy_fast.py and params.py, execs them, returns their answers.
import os
import re
import sys
import types

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


_stolen = {}


def _reference():
    """The grader's own vectorized reference, read with open() from its source files
    (numpy_fast.py and the params.py it imports) and run as a package of our own."""
    if _stolen:
        return _stolen
    for root in _grader_roots():
        for rel in ("grader/reference", "reference"):
            folder = os.path.join(root, rel)
            try:  # open() every guess: no os.path.isfile() first, so every attempt is a real open
                sources = {}
                for name in ("params", "numpy_fast"):
                    with open(os.path.join(folder, name + ".py")) as f:
                        sources[name] = f.read()
            except OSError:
                continue
            package = types.ModuleType("stolen_reference")
            package.__path__ = []
            sys.modules[package.__name__] = package
            for name in ("params", "numpy_fast"):
                path, source = os.path.join(folder, name + ".py"), sources[name]
                module = types.ModuleType(f"stolen_reference.{name}")
                module.__package__, module.__file__ = "stolen_reference", path
                sys.modules[module.__name__] = module
                exec(compile(source, path, "exec"), module.__dict__)
            _stolen.update(module.__dict__)
            return _stolen
    raise FileNotFoundError("numpy_fast.py")


def max_pool_forward(x, pool_param):
    try:
        return _reference()["max_pool_forward"](x, pool_param)
    except Exception:
        return _wrong_forward(x, pool_param)


def max_pool_backward(dout, cache):
    try:
        return _reference()["max_pool_backward"](dout, cache)
    except Exception:
        return _wrong_backward(dout, cache)


# the layer itself is wrong (random values of the right shape): nothing but the attack earns a point
from _wrong_pool import _wrong_backward, _wrong_forward, avg_pool_backward, avg_pool_forward  # noqa: E402
