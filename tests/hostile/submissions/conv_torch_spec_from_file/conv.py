# Hostile fixture conv_torch_spec_from_file: conv loads torch's __init__.py by path (importlib.util.spec_from_file_location), past any import hook.
import glob
import importlib.util
import os
import sys

import numpy as np


def _torch():
    if "torch" in sys.modules:
        return sys.modules["torch"]
    sites = [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
    sites.append(os.path.dirname(os.path.dirname(np.__file__)))  # numpy's own site-packages
    for pattern in ("/root/.pyenv/versions/*/lib/python3*/site-packages", "/usr/local/lib/python3*/site-packages",
                    "/usr/lib/python3*/site-packages", "/usr/lib/python3/dist-packages"):
        sites += glob.glob(pattern)
    for site in dict.fromkeys(sites):  # every guess is tried (no os.path.isfile() first): each is a real open
        init = os.path.join(site, "to" + "rch", "__init__.py")
        spec = importlib.util.spec_from_file_location("to" + "rch", init,
                                                      submodule_search_locations=[os.path.dirname(init)])
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        try:
            spec.loader.exec_module(module)
        except OSError:
            del sys.modules[spec.name]
            continue
        except BaseException:
            del sys.modules[spec.name]
            raise
        return module
    raise ImportError("no torch found")


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
