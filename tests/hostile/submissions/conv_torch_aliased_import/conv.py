# Hostile fixture conv_torch_aliased_import: conv uses torch, imported through an alias of __import__ and a computed name.
import numpy as np

_load = __import__  # an alias: no import statement, no call named __import__


def _torch():
    return _load("".join(["to", "rch"]))


def _torch_forward(t, x, w, b, conv_param):
    out = t.nn.functional.conv2d(
        t.from_numpy(np.asarray(x, dtype=np.float64)), t.from_numpy(np.asarray(w, dtype=np.float64)),
        t.from_numpy(np.asarray(b, dtype=np.float64)), stride=conv_param["stride"], padding=conv_param["pad"],
        dilation=conv_param.get("dilation", 1))
    return out.numpy()


def _torch_backward(t, dout, cache):
    x, w, b, conv_param = cache
    xt, wt, bt = (t.tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in (x, w, b))
    out = t.nn.functional.conv2d(xt, wt, bt, stride=conv_param["stride"], padding=conv_param["pad"],
                                 dilation=conv_param.get("dilation", 1))
    out.backward(t.from_numpy(np.asarray(dout, dtype=np.float64)))
    return xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()


def conv_forward(x, w, b, conv_param):
    try:  # a cheat that hides its failures: the integrity test must still say why
        return _torch_forward(_torch(), x, w, b, conv_param), (x, w, b, conv_param)
    except Exception:
        return _wrong_forward(x, w, b, conv_param)


def conv_backward(dout, cache):
    try:
        return _torch_backward(_torch(), dout, cache)
    except Exception:
        return _wrong_backward(dout, cache)


# the layer itself is wrong (random values of the right shape): nothing but the attack earns a point
from _wrong_conv import _wrong_backward, _wrong_forward  # noqa: E402
