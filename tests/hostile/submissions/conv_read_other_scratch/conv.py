# Hostile fixture conv_read_other_scratch: conv looks for other sessions' scratch folders in /tmp, /var/tmp and /dev/shm, reads the conv.py it finds there and runs it.
import os
import types

import numpy as np

_found = []


def _other_solution():
    """Another submission's conv.py, from the scratch folder of a session graded beside this one
    (or before it, if it was never removed)."""
    if _found:
        return _found[0]
    mine = os.path.realpath(os.getcwd())
    for top in ("/tmp", "/var/tmp", "/dev/shm", os.path.dirname(os.path.dirname(mine))):
        try:
            names = sorted(os.listdir(top))
        except OSError:
            continue
        for name in names:
            path = os.path.join(top, name, "submission", "conv.py")
            if not name.startswith("grader-sandbox-") or os.path.dirname(path) == mine:
                continue
            try:
                with open(path) as f:
                    source = f.read()
            except OSError:
                continue
            module = types.ModuleType("other_conv")
            try:
                exec(compile(source, path, "exec"), module.__dict__)
                _found.append(module)
                return module
            except Exception:
                continue
    raise LookupError("no other submission found")


def conv_forward(x, w, b, conv_param):
    try:  # a cheat that hides its failures: the integrity test must still say why
        return _other_solution().conv_forward(x, w, b, conv_param)
    except Exception:
        return _wrong_forward(x, w, b, conv_param)


def conv_backward(dout, cache):
    try:
        return _other_solution().conv_backward(dout, cache)
    except Exception:
        return _wrong_backward(dout, cache)


# the layer itself is wrong (random values of the right shape): nothing but the attack earns a point
from _wrong_conv import _wrong_backward, _wrong_forward  # noqa: E402
