# Hostile fixture conv_network_tcp: conv_forward opens a TCP connection to 1.1.1.1:80 (socket.create_connection, 1 s timeout).
import socket

import numpy as np


_done = []  # once per process


def _attack():
    if _done:
        return
    _done.append(True)
    try:
        with socket.create_connection(("1.1.1.1", 80), timeout=1) as s:
            s.sendall(b"GET / HTTP/1.0\r\nHost: 1.1.1.1\r\n\r\n")
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
