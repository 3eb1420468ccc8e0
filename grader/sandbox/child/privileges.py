"""Privileges: who the child runs as, and what it may never regain.

As root: every capability leaves the bounding set, ``no_new_privs`` is set, and the child
switches to the sandbox's user (``nobody``) with a group of its own session (the parent picks
a group id no other session and no real group has), so that the files and IPC objects it
creates carry that group and nothing else of the machine does: other sessions' scratch
folders are closed to it, and the parent finds what it left behind by that group.  As
anyone else there is nothing to drop.  Standard library only: loaded by path by ``main.py``.
"""

from __future__ import annotations

import os


def outside_uid() -> int | None:
    """In a user namespace (``unshare --user --map-root-user``): the uid outside that this
    process's uid 0 stands for; None in the initial namespace (or where it cannot be told)."""
    try:
        with open("/proc/self/uid_map") as f:
            first = f.readline().split()
    except OSError:
        return None
    if len(first) != 3 or first == ["0", "0", "4294967295"]:
        return None
    return int(first[1])


def drop_privileges(user: dict | None, needed: list[str], home: str) -> tuple[str, list[str]]:
    """As root: switch to the sandbox's user (``user``: uid, the session's gid, name) when it
    can read every folder in ``needed`` (it gets ``home``, through its group: the folder stays
    root's, mode 0770, so that no other session's child, the same uid, may enter it), else stay
    root but in the session's group; drop every capability either way.  As anyone else, nothing
    to drop.  Returns a line for reports and notes.

    After this, student code cannot remount, mknod, raise hard limits, regain privileges
    by exec (no_new_privs), or (as another user) write the grader's files, signal the
    grader or escape RLIMIT_NPROC."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "the grader's own user (not root: no other user to switch to)", []
    notes, line = [], "root, every capability dropped"
    outside = outside_uid()
    if outside is not None:  # root of a user namespace that maps one uid: no other user to switch to
        user = None
        line = (f"the grader's user (uid {outside}) as root of a user namespace, every capability of "
                "that namespace dropped")
    if user:
        blocked = _unreadable(needed, user["uid"], user["gid"])
        if blocked:
            line = f"root, every capability dropped (not {user['name']}: it cannot read {blocked})"
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
        PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 24, 38, 47, 4
        for cap in range(64):
            if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
                break  # EINVAL past the last capability this kernel knows (EPERM: not allowed to)
        libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
        if user and line.startswith("root,") and "(not" not in line:
            os.chown(home, 0, user["gid"])
            os.chmod(home, 0o770)
            os.setgroups([])
            os.setgid(user["gid"])
            os.setuid(user["uid"])  # from uid 0 to another: the kernel clears every capability
            line = f"uid {user['uid']} ({user['name']}) in a group of its own (gid {user['gid']}), no capabilities"
        elif user:  # stays root: in the session's group all the same, which marks what it makes for the parent
            os.chown(home, 0, user["gid"])
            os.setgroups([])
            os.setgid(user["gid"])
            line += f", in a group of its own (gid {user['gid']})"
        header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
        if libc.capset(header, (ctypes.c_uint32 * 6)()) != 0:
            raise OSError(ctypes.get_errno(), "capset")
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "no_new_privs")
    except OSError as exc:
        if os.geteuid() == 0:
            within = f" of its user namespace (uid {outside} outside)" if outside is not None else ""
            line = f"root{within}, capabilities kept (could not drop them: {exc.strerror or exc})"
        notes.append(f"privilege drop incomplete: {exc}")
    return line, notes


def _unreadable(needed: list[str], uid: int, gid: int) -> str | None:
    """The first of ``needed`` that ``uid`` could not read (or enter), tried with seteuid."""
    modes = [(path, os.R_OK | (os.X_OK if os.path.isdir(path) else 0)) for path in needed if os.path.exists(path)]
    os.setgroups([])
    os.setegid(gid)
    os.seteuid(uid)
    try:
        for path, mode in modes:  # (looked up as root: as uid, a path it cannot reach does not "exist")
            if not os.access(path, mode, effective_ids=True):
                return path
        return None
    finally:
        os.seteuid(0)
        os.setegid(0)

