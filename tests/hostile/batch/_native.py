"""Shared by the batch fixtures (copied beside each attacker's transfer.py): libc through ctypes,
native code the guard in the sandbox does not see."""
import ctypes

libc = ctypes.CDLL(None)


def read(path):
    """A file's first 64 KB through libc's open and read (no Python open for the guard to see)."""
    fd = libc.open(path if isinstance(path, bytes) else path.encode(), 0)
    if fd < 0:
        return b""
    buffer = ctypes.create_string_buffer(65536)
    size = libc.read(fd, buffer, 65536)
    libc.close(fd)
    return buffer.raw[:max(size, 0)]


def parent_of(pid):
    """The parent of process ``pid`` (0 when it cannot be read), from /proc/PID/stat."""
    fields = read(b"/proc/%d/stat" % pid).rsplit(b")", 1)[-1].split()
    return int(fields[1]) if len(fields) > 1 else 0
