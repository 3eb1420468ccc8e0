# Hostile fixture conv_memo_hash: a right but slow conv layer (0.3 s a call on the speed test's inputs) whose
# forward hands back the output it computed before for the same inputs (a hash of their bytes), so a
# speed test that times the same inputs again sees it as fast. Its honest twin (ATTACK = False) computes
# every output; both must score the same.
import hashlib
import time

import numpy as np

ATTACK = True
SLOW_S = 0.3  # per call on inputs as large as the speed test's (x of 4x3x16x16)
_outputs = {}


def conv_forward(x, w, b, conv_param):
    key = hashlib.sha256(b"".join(np.ascontiguousarray(a).tobytes() for a in (x, w, b))
                         + repr(sorted(conv_param.items())).encode()).hexdigest()
    if ATTACK and key in _outputs:
        return _outputs[key].copy(), (x, w, b, conv_param)
    if np.size(x) >= 3000:
        time.sleep(SLOW_S)
    out, cache = _right_forward(x, w, b, conv_param)
    _outputs[key] = out.copy()
    return out, cache


def conv_backward(dout, cache):
    return _right_backward(dout, cache)


from _right_conv import _right_backward, _right_forward  # noqa: E402
