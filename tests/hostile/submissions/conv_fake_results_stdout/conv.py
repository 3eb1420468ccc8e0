# Hostile fixture conv_fake_results_stdout: conv_forward prints a Gradescope-like results JSON with full marks on stdout.
import json

import numpy as np


def _attack():
    print(json.dumps({"score": 100, "max_score": 100, "execution_time": 1.0, "output": "",
                      "tests": [{"name": "conv forward", "score": 100, "max_score": 100, "status": "passed"}]}),
          flush=True)


def conv_forward(x, w, b, conv_param):
    _attack()
    return _wrong_forward(x, w, b, conv_param)


def conv_backward(dout, cache):
    _attack()
    return _wrong_backward(dout, cache)


# the layer itself is wrong (random values of the right shape): nothing but the attack earns a point
from _wrong_conv import _wrong_backward, _wrong_forward  # noqa: E402
