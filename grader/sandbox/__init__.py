"""The boundary between the grader and student code.

Student code never runs in the grader's process.  A ``Session`` starts one
child process for one submission (one part of it, usually), imports the
student's modules there, calls their functions with plain data (numpy arrays,
numbers, strings, lists, tuples, dicts) and returns plain data in a
``CallResult``; every comparison and every score is computed in the parent.
A crash, a hang, an exit, a memory blow-up, stray output or a monkeypatch ends
at most that session and comes back as a result with ``ok`` false and a
message a student can act on.

    from grader.sandbox import Limits, Session

    with Session(submission_dir, Limits(call_timeout_s=5)) as s:
        r = s.call("conv", "conv_forward", (x, w, b, {"stride": 1, "pad": 1}))
        r.ok, r.value, r.error, r.stdout, r.duration_s

Nothing else in grader imports student code or starts a child: this package
owns the boundary.  Its modules:

- ``session``: ``Limits``, ``Session``, ``CallResult``, ``Ref`` (the API and its policy)
- ``process``: the child process, its channels, and killing its whole session
- ``wire``: the plain-data format both sides speak (no pickle)
- ``child/``: the program that runs in the child (standard library only, run by path; one
  file per mechanism: namespaces, privileges, limits, syscalls, guard, watch, calls, main)
- ``cleanup``: what a child can leave outside its namespaces (SysV IPC, shared temporary
  files), found and removed by the parent
- ``probe``: which protections this machine offers, for reports

Hardening later means tightening what ``process`` starts (a pid and network
namespace via ``unshare``, read-only mounts, another user) and what ``Limits``
holds; the API stays.
"""

from .probe import probe
from .session import FAILURE_KINDS, CallResult, Limits, Ref, SandboxError, Session

__all__ = ["FAILURE_KINDS", "CallResult", "Limits", "Ref", "SandboxError", "Session", "probe"]
