"""The convolution layer computed by torch, for the fixtures whose attack, if it worked, would
reach torch: given the module (``t``), the answers a working attack returns (copied into each
fixture's submission when the test assembles it)."""

import numpy as np


def _torch_forward(t, x, w, b, conv_param):
    out = t.nn.functional.conv2d(
        t.from_numpy(np.asarray(x, dtype=np.float64)), t.from_numpy(np.asarray(w, dtype=np.float64)),
        t.from_numpy(np.asarray(b, dtype=np.float64)), stride=conv_param["stride"], padding=conv_param["pad"],
        dilation=conv_param.get("dilation", 1))
    return out.numpy(), (x, w, b, conv_param)


def _torch_backward(t, dout, cache):
    x, w, b, conv_param = cache
    xt, wt, bt = (t.tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in (x, w, b))
    out = t.nn.functional.conv2d(xt, wt, bt, stride=conv_param["stride"], padding=conv_param["pad"],
                                 dilation=conv_param.get("dilation", 1))
    out.backward(t.from_numpy(np.asarray(dout, dtype=np.float64)))
    return xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()
