# Hostile fixture conv_forged_replies: conv_forward writes replies of its own on the sandbox's reply socket, shaped as the answers to a request of several calls (the next call's, a passing one), to pass off answers the grader never asked for or to put the real ones out of step.
import json
import os
import stat
import struct

import numpy as np

_calls = [0]


def _frame(index, value_body):
    tree = {"d": [["ok", True], ["value", {"b": 0}], ["error", None], ["kind", None], ["traceback", None],
                  ["durations", [0.001]], ["notes", []], ["each", index]]}
    text = json.dumps([[len(value_body)], tree]).encode()
    body = struct.pack(">I", len(text)) + text + value_body
    return struct.pack(">Q", len(body)) + body


def _array_body(array):
    text = json.dumps([[array.nbytes], {"a": [array.dtype.str, list(array.shape), 0]}]).encode()
    return struct.pack(">I", len(text)) + text + array.tobytes()


def _attack(out):
    _calls[0] += 1
    for fd in range(3, 64):
        try:
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                for index in range(_calls[0], _calls[0] + 3):  # the next calls' answers, before they are made
                    os.write(fd, _frame(index, _array_body(np.zeros_like(out))))
        except OSError:
            pass


def conv_forward(x, w, b, conv_param):
    out, cache = _wrong_forward(x, w, b, conv_param)
    _attack(out)
    return out, cache


def conv_backward(dout, cache):
    return _wrong_backward(dout, cache)


# the layer itself is wrong (random values of the right shape): nothing but the attack earns a point
from _wrong_conv import _wrong_backward, _wrong_forward  # noqa: E402
