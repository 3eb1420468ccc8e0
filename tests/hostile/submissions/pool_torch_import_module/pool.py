# Hostile fixture pool_torch_import_module: max_pool uses torch (max_pool2d and autograd), imported by importlib.import_module on a computed name.
import importlib

import numpy as np


def _torch():
    return importlib.import_module("".join(reversed("hcrot")))


def _torch_forward(t, x, pool_param):
    xt = t.from_numpy(np.asarray(x, dtype=np.float64))
    kernel = (pool_param["pool_height"], pool_param["pool_width"])
    return t.nn.functional.max_pool2d(xt, kernel, pool_param["stride"]).numpy()


def _torch_backward(t, dout, cache):
    x, pool_param = cache
    xt = t.tensor(np.asarray(x, dtype=np.float64), requires_grad=True)
    kernel = (pool_param["pool_height"], pool_param["pool_width"])
    t.nn.functional.max_pool2d(xt, kernel, pool_param["stride"]).backward(
        t.from_numpy(np.asarray(dout, dtype=np.float64)))
    return xt.grad.numpy()


def max_pool_forward(x, pool_param):
    try:  # a cheat that hides its failures: the integrity test must still say why
        return _torch_forward(_torch(), x, pool_param), (x, pool_param)
    except Exception:
        return _wrong_forward(x, pool_param)


def max_pool_backward(dout, cache):
    try:
        return _torch_backward(_torch(), dout, cache)
    except Exception:
        return _wrong_backward(dout, cache)


# the layer itself is wrong (random values of the right shape): nothing but the attack earns a point
from _wrong_pool import _wrong_backward, _wrong_forward, avg_pool_backward, avg_pool_forward  # noqa: E402
