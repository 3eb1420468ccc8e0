# Hostile fixture conv_dev_shm_files: conv leaves files in /dev/shm and /tmp (open, os.open, POSIX shared memory, a FIFO) that would outlive the grading without a private /dev/shm.
import os
import sys

import numpy as np

_SHM = "/dev/shm/grader-hostile-conv_dev_shm_files-marker"
_TMP = "/tmp/grader-hostile-conv_dev_shm_files-marker"


def _outlive():
    for attempt in (lambda: open(_SHM, "x").close(),
                    lambda: os.close(os.open("/dev/shm/grader-hostile-conv_dev_shm_files-marker-os",
                                             os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)),
                    lambda: open(_TMP, "x").close()):
        try:
            attempt()
        except OSError:
            pass
    try:  # POSIX shared memory: shm_open makes /dev/shm/<name> with no "open" audit event
        from multiprocessing import shared_memory

        block = shared_memory.SharedMemory(name="grader-hostile-conv_dev_shm_files-marker-psm", create=True,
                                           size=64 << 20)
        block.buf[:] = b"\1" * len(block.buf)
    except Exception:
        pass
    try:
        posix = sys.modules.get("_posixshmem") or __import__("_posixshmem")
        os.close(posix.shm_open("/grader-hostile-conv_dev_shm_files-marker-raw", os.O_CREAT | os.O_EXCL | os.O_RDWR,
                                0o600))
    except Exception:
        pass
    os.mkfifo("/dev/shm/grader-hostile-conv_dev_shm_files-marker-fifo")  # mknod: no audit event; last: it ends us


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
