# Hostile fixture transfer_sysv_shm: the transfer part, where ctypes is allowed, makes SysV shared memory (64 MB, written to), a semaphore set and a message queue that would outlive the grading without an IPC namespace.
import ctypes

_made = []


def _outlive():
    libc = ctypes.CDLL(None)  # allowed here (torch loads native code as it goes): the system-call filter ends us
    libc.shmat.restype = ctypes.c_void_p
    shmid = libc.shmget(0, 64 << 20, 0o1600)  # IPC_PRIVATE, IPC_CREAT | 0600
    _made.append(shmid)
    if shmid >= 0:
        address = libc.shmat(shmid, None, 0)
        if address not in (None, ctypes.c_void_p(-1).value):
            ctypes.memset(address, 1, 64 << 20)  # the memory is really used
    _made.append(libc.semget(0, 4, 0o1600))
    _made.append(libc.msgget(0, 0o1600))


def build_model(pretrained, num_classes, mode):
    _outlive()
    return pretrained  # wrong (the old head): nothing but the attack happens here


def make_optimizer(model, mode):
    raise NotImplementedError("never reached when the sandbox holds")
