# Hostile batch fixture transfer_kill_workers: build_model SIGKILLs its grading worker (its parent) and every other worker of the batch (its parent's siblings), with libc through ctypes: native code the guard does not see.
from _native import libc, parent_of, read


def _attack():
    worker = libc.getppid()
    if worker <= 1:  # a pid namespace hides every process outside it: nothing to reach
        return
    batch = parent_of(worker)
    if batch > 1:  # the batch's other children are the other workers
        pid_max = int(read("/proc/sys/kernel/pid_max").strip() or 32768)
        for pid in range(2, min(pid_max, 1 << 22)):
            if pid != worker and libc.kill(pid, 0) == 0 and parent_of(pid) == batch:
                libc.kill(pid, 9)
    libc.kill(worker, 9)


def build_model(pretrained, num_classes, mode):
    _attack()
    raise RuntimeError("no model: this submission only attacks")


def make_optimizer(model, mode):
    raise RuntimeError("no optimizer: this submission only attacks")
