# Hostile fixture conv_results_json: conv_forward writes a full-marks results.json into the parent of its cwd and into a /tmp marker folder.
import json
import os

import numpy as np


MARKER = "/tmp/grader-hostile-conv_results_json-marker"
_done = []  # once per process


def _attack():
    if _done:
        return
    _done.append(True)
    payload = json.dumps({"score": 100, "max_score": 100, "tests": []})
    try:
        os.makedirs(MARKER, exist_ok=True)
    except Exception:
        pass
    for path in (os.path.join(os.getcwd(), os.pardir, "results.json"), os.path.join(MARKER, "results.json")):
        try:
            with open(path, "x") as f:  # "x": never overwrites a file that is there
                f.write(payload)
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
