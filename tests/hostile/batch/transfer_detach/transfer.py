# Hostile batch fixture transfer_detach: build_model double-forks through libc (setsid between: out of the sandbox's session), and the detached process waits for the batch to write gradebook.csv, then creates grader-hostile-transfer_detach-marker beside it: proof that it outlived the batch and could rewrite its files.
from _native import libc, parent_of, read

MARKER = b"grader-hostile-transfer_detach-marker"
O_WRONLY, O_CREAT, O_EXCL = 0o1, 0o100, 0o200


def _batch_out(worker):
    """The --out folder on the command line of the worker's parent (`grader batch`), or None."""
    argv = read(b"/proc/%d/cmdline" % parent_of(worker)).split(b"\0")
    return argv[argv.index(b"--out") + 1] if b"--out" in argv[:-1] else None


def _linger(out):
    for _ in range(600):  # bounded: 60 s at most
        if libc.access(out + b"/gradebook.csv", 0) == 0:
            libc.open(out + b"/" + MARKER, O_WRONLY | O_CREAT | O_EXCL, 0o644)  # a new file, never one of the batch's
            break
        libc.usleep(100000)
    libc._exit(0)


def _attack():
    worker = libc.getppid()
    out = _batch_out(worker) if worker > 1 else None  # (a pid namespace hides the worker)
    if not out:
        return
    middle = libc.fork()
    if middle == 0:
        libc.setsid()
        if libc.fork() == 0:
            _linger(out)
        libc._exit(0)
    if middle > 0:
        libc.waitpid(middle, None, 0)


def build_model(pretrained, num_classes, mode):
    _attack()
    raise RuntimeError("no model: this submission only attacks")


def make_optimizer(model, mode):
    raise RuntimeError("no optimizer: this submission only attacks")
