# Hostile fixture conv_memo_nearby: conv_forward is right, but hands back the output it computed for the
# nearest input it has seen (every entry within 1e-3), so the numeric-gradient test's finite differences
# see a flat function and "agree" with a conv_backward that returns zeros. Its honest twin (ATTACK = False)
# computes every output; both must score the same.
import numpy as np

ATTACK = True
_seen = []  # (x, w, b, conv_param, out) of every output computed


def _near(a, b):
    return a.shape == b.shape and float(np.max(np.abs(a - b), initial=0.0)) < 1e-3


def conv_forward(x, w, b, conv_param):
    if ATTACK:
        for sx, sw, sb, sp, out in _seen:
            if sp == conv_param and _near(x, sx) and _near(w, sw) and _near(b, sb):
                return out.copy(), (x, w, b, conv_param)
    out, cache = _right_forward(x, w, b, conv_param)
    _seen.append((x.copy(), w.copy(), b.copy(), dict(conv_param), out.copy()))
    return out, cache


def conv_backward(dout, cache):
    x, w, b, _ = cache
    return np.zeros_like(x), np.zeros_like(w), np.zeros_like(b)


from _right_conv import _right_forward  # noqa: E402
