# Hostile fixture conv_parse_deep_nesting: a helper file (_deep.py, never imported) holds an expression nested
# 5,000 deep, which Python's parser refuses with RecursionError. The grader's static import scan parses
# every .py file of the submission in its own process: it must name the file as not scanned, not fail
# (an internal error cost every part its points, the correct max_pool included).
from _wrong_conv import _wrong_backward, _wrong_forward


def conv_forward(x, w, b, conv_param):
    return _wrong_forward(x, w, b, conv_param)


def conv_backward(dout, cache):
    return _wrong_backward(dout, cache)
