# Hostile fixture conv_network_udp: conv_forward sends a DNS query by UDP to 8.8.8.8:53 (sendto, no connect).
import socket

import numpy as np


_done = []  # once per process
# a DNS query for example.com, type A
QUERY = (b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
         b"\x07example\x03com\x00\x00\x01\x00\x01")


def _attack():
    if _done:
        return
    _done.append(True)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(1)
            s.sendto(QUERY, ("8.8.8.8", 53))
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
