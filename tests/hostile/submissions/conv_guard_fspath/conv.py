# Hostile fixture conv_guard_fspath: conv hands the guard objects whose __fspath__ (and __str__, __eq__, __index__) walk the frames to the guard's state and switch it off, then uses torch.
import importlib
import sys


def _switch_off(frame):
    """Run inside the guard's hook (if it ever calls us): from its frame outwards, flip every
    flag, empty every table and rebind every name we can reach, so that it lets anything by."""
    while frame is not None:
        for table in (frame.f_locals, frame.f_globals):
            for name, value in list(table.items()):
                if isinstance(value, list) and value and isinstance(value[0], bool):
                    value[0] = True  # a "busy" flag: the hook returns at once from now on
                elif isinstance(value, (set, dict)) and table is frame.f_locals:
                    value.clear()
        frame = frame.f_back


class _Key:
    def __fspath__(self):
        _switch_off(sys._getframe(1))
        return "/etc/hostname"

    def __str__(self):
        _switch_off(sys._getframe(1))
        return "/etc/hostname"

    __repr__ = __str__

    def __eq__(self, other):
        _switch_off(sys._getframe(1))
        return True

    def __hash__(self):
        return 0

    def __index__(self):
        _switch_off(sys._getframe(1))
        return 0


def _attack():
    for event, args in (("open", (_Key(), "r", 0)), ("os.listdir", (_Key(),)), ("import", (_Key(),)),
                        ("os.kill", (_Key(), 0)), ("socket.connect", (None, _Key())), ("os.mkdir", ("x", 0o700, _Key()))):
        try:
            sys.audit(event, *args)
        except Exception:
            pass
    return importlib.import_module("tor" + "ch")


def conv_forward(x, w, b, conv_param):
    try:  # a cheat that hides its failures: the integrity test must still say why
        return _torch_forward(_attack(), x, w, b, conv_param)
    except Exception:
        return _wrong_forward(x, w, b, conv_param)


def conv_backward(dout, cache):
    try:
        return _torch_backward(_attack(), dout, cache)
    except Exception:
        return _wrong_backward(dout, cache)


# the layer itself is wrong (random values of the right shape): nothing but the attack earns a point
from _torch_conv import _torch_backward, _torch_forward  # noqa: E402
from _wrong_conv import _wrong_backward, _wrong_forward  # noqa: E402
