# Hostile fixture conv_sysv_shm_ctypes: conv makes SysV shared memory (64 MB, written to), a semaphore set and a message queue through ctypes, that would outlive the grading without an IPC namespace.
import ctypes

import numpy as np

_made = []


def _outlive():
    if _made:
        return
    libc = ctypes.CDLL(None)  # refused in a numpy part: and if it were not, the system-call filter ends us
    libc.shmat.restype = ctypes.c_void_p
    shmid = libc.shmget(0, 64 << 20, 0o1600)  # IPC_PRIVATE, IPC_CREAT | 0600
    _made.append(shmid)
    if shmid >= 0:
        address = libc.shmat(shmid, None, 0)
        if address not in (None, ctypes.c_void_p(-1).value):
            ctypes.memset(address, 1, 64 << 20)  # the memory is really used
    _made.append(libc.semget(0, 4, 0o1600))
    _made.append(libc.msgget(0, 0o1600))


def conv_forward(x, w, b, conv_param):
    try:
        _outlive()
    except Exception:
        pass
    return _wrong_forward(x, w, b, conv_param)


def conv_backward(dout, cache):
    return _wrong_backward(dout, cache)


# the layer itself is wrong (random values of the right shape): nothing but the attack earns a point
from _wrong_conv import _wrong_backward, _wrong_forward  # noqa: E402
