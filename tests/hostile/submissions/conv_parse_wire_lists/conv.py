# Hostile fixture conv_parse_wire_lists: conv_forward returns a list of 3,000,000 empty lists (9 MB on the wire,
# some 250 MB once decoded, 3 GB and 141 s at 20,000,000 before the decoder had bounds). The child must
# refuse to send it, and the parent must never build it.
from _wrong_conv import _wrong_backward


def conv_forward(x, w, b, conv_param):
    return [[]] * 3_000_000, (x, w, b, conv_param)


def conv_backward(dout, cache):
    return _wrong_backward(dout, cache)
