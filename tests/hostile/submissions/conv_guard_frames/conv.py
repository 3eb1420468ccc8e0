# Hostile fixture conv_guard_frames: conv reaches for the guard's state through a refusal's traceback (its frame's locals, closures, defaults, code and globals), the guard's module in sys.modules and ctypes' PyFrame_LocalsToFast, then uses torch.
import importlib
import sys
import types


def _noop(*args, **kwargs):
    return None


def _disarm(function):
    """Whatever a function of the guard holds, made harmless: its code, defaults and closure."""
    for name, value in (("__code__", _noop.__code__), ("__defaults__", None), ("__kwdefaults__", None)):
        try:
            setattr(function, name, value)
        except Exception:
            pass
    for cell in function.__closure__ or ():
        try:
            cell.cell_contents = None
        except Exception:
            pass


def _empty(value):
    if isinstance(value, (list, set, dict)):
        value.clear()
    elif isinstance(value, types.FunctionType):
        _disarm(value)


def _attack():
    try:  # a refusal: its traceback runs through the guard's own frames
        importlib.import_module("tor" + "ch")
    except ImportError as exc:
        tb = exc.__traceback__.tb_next  # (the first frame is ours)
        while tb is not None:
            frame = tb.tb_frame
            for name, value in list(frame.f_locals.items()):
                _empty(value)
                frame.f_locals[name] = None
            try:  # write those Nones back into the frame itself
                import ctypes
                ctypes.pythonapi.PyFrame_LocalsToFast(ctypes.py_object(frame), ctypes.c_int(1))
            except Exception:
                pass
            for name, value in list(frame.f_globals.items()):
                if not name.startswith("__"):
                    _empty(value)
                    frame.f_globals[name] = None
            tb = tb.tb_next
    for name, module in list(sys.modules.items()):
        if "guard" in name or "child" in name:
            for attr, value in list(vars(module).items()):
                if isinstance(value, (types.FunctionType, list, set, dict)):
                    _empty(value)
    return importlib.import_module("tor" + "ch")


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
