"""The worker pool hands out jobs as workers free up, whatever the timing: two workers that
come back idle in the same round with one job left must not both be given it (found by the
hostile batch in CI, as an IndexError in the parent: 'list index out of range')."""

from __future__ import annotations

import os

from grader.workers import WorkerPool


def _square(n: int) -> int:
    return n * n


class _Conn:
    def __init__(self):
        self.sent = []

    def send(self, job):
        self.sent.append(job)


class _Idle:
    def __init__(self):
        self.job, self.conn = None, _Conn()


def test_two_idle_workers_and_one_job_left_give_it_to_one():
    pool = WorkerPool(2, _square)
    pool.workers = [_Idle(), _Idle()]
    pending = [("last",)]
    pool._hand_out(pending, 2)
    assert pending == [] and [w.job for w in pool.workers] == [("last",), None]
    assert pool.workers[0].conn.sent == [("last",)] and pool.workers[1].conn.sent == []


def test_every_job_runs_once():
    for _ in range(3):
        with WorkerPool(2, _square) as pool:
            assert sorted(reply for _, reply in pool.run([(n,) for n in range(5)])) == [0, 1, 4, 9, 16]


_received: list = []


def _remember(value) -> None:
    _received.append(value)


def _what_was_shared(n: int) -> tuple:
    return n, tuple(_received)


def test_what_is_shared_reaches_every_worker_before_its_jobs_started_or_not():
    with WorkerPool(2, _what_was_shared, receive=_remember) as pool:
        pool.prestart(1)  # one worker now, the other started by run(), after share()
        assert len(pool.workers) == 1
        pool.share("the class's references")
        replies = dict(pool.run([(n,) for n in range(6)]))
        assert len(pool.workers) == 2
    assert sorted(replies) == [(n,) for n in range(6)]
    assert set(replies.values()) == {(n, ("the class's references",)) for n in range(6)}
    assert _received == []  # received in the workers, never in this process


def test_own_children_are_what_a_scan_of_every_process_finds_zombies_and_adopted_orphans_too():
    """A batch sweeps for adopted orphans after every submission from its own lists of children; they
    must name what reading every process's entry names: a child that has ended and is not yet reaped,
    and a process whose parent left it to this one (a child subreaper)."""
    import subprocess
    import sys
    import time

    import pytest

    from grader.workers import ProcessGuard, children, own_children

    if not sys.platform.startswith("linux"):
        pytest.skip("Linux's /proc")
    with ProcessGuard() as guard:
        if not guard.active:
            pytest.skip("no child subreaper here")
        ended = subprocess.Popen(["true"])
        detached = subprocess.run(["sh", "-c", "sleep 30 >/dev/null 2>&1 & echo $!"], capture_output=True, text=True,
                                  check=True)
        orphan = int(detached.stdout)
        time.sleep(0.2)
        try:
            mine = sorted(own_children())
            assert mine == sorted(children(os.getpid()))
            assert {ended.pid, orphan} <= {pid for pid, _ in mine}
        finally:
            assert guard.sweep(until_gone=True) >= 2  # the orphan and the unreaped child: not started by the guard
