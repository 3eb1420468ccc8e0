# Hostile fixture conv_forged_audit_events: conv raises audit events of its own with odd arguments (missing, extra, str and int subclasses that lie, objects that raise) to crash or confuse the guard, then uses torch.
import importlib
import sys


class _Liar(str):
    """A path or module name whose comparisons say whatever helps."""

    def startswith(self, *args):
        return False

    def __eq__(self, other):
        return True

    __hash__ = str.__hash__


class _Number(int):
    def __eq__(self, other):  # "I am your own pid": a signal to oneself is allowed
        return True

    __hash__ = int.__hash__

    def __and__(self, other):  # "no write flag here"
        return 0


class _Bomb:
    def __getattribute__(self, name):
        raise RecursionError("the guard asked me something")


_FORGED = [
    ("open",), ("open", None), ("open", _Bomb(), "r", 0), ("open", "/etc/hostname", _Bomb(), 0),
    ("open", _Liar("/etc/hostname"), "r", 0), ("open", "/etc/passwd", "r"), ("open", "/etc/passwd", "r", 0, 1, 2),
    ("import", _Liar("numpy")), ("import", _Bomb()), ("import",), ("os.kill", _Number(1), 9),
    ("os.listdir", _Bomb()), ("os.chmod", "/etc/a"), ("os.mkdir", "x", 0o700, _Number(3)),
    ("socket.connect", None, (_Liar("1.1.1.1"), _Number(80))), ("grader.event", _Bomb(), _Bomb()),
    ("grader.event",), ("sys.settrace",), ("open", "\0", "r", 0), ("open", b"\xff\xfe", "rb", 0),
]


def _attack():
    for args in _FORGED:
        try:
            sys.audit(*args)
        except BaseException:
            pass
    return importlib.import_module("tor" + "ch")  # the guard must still be there


def conv_forward(x, w, b, conv_param):
    try:  # a cheat that hides its failures: the integrity test must still say why
        return _torch_forward(_attack(), x, w, b, conv_param)
    except Exception:
        return _wrong_forward(x, w, b, conv_param)


def conv_backward(dout, cache):
    return _wrong_backward(dout, cache)


# the layer itself is wrong (random values of the right shape): nothing but the attack earns a point
from _torch_conv import _torch_forward  # noqa: E402
from _wrong_conv import _wrong_backward, _wrong_forward  # noqa: E402
