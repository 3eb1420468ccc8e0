"""Student code that hangs, exits, crashes or eats memory ends (at most) its own session."""

from __future__ import annotations

import textwrap
import time
import uuid

import numpy as np
import pytest

from grader.sandbox.session import OPEN_RULES
from grader.sandbox import Limits

from sandbox_helpers import FAST, needs_proc, processes_with

BAD = """
    import os, signal, sys, time
    import numpy as np

    def ok(x):
        return x + 1

    def spin():
        while True:
            pass

    def sleep():
        time.sleep(100)

    def exit0():
        sys.exit(0)

    def hard_exit():
        os._exit(0)

    def system_exit():
        raise SystemExit

    def interrupt():
        raise KeyboardInterrupt

    def segfault():
        os.kill(os.getpid(), signal.SIGSEGV)

    def huge_array():
        return np.ones((10**11,))

    def growing_list():
        grow = []
        while True:
            grow.append(" " * 10**6)

    def big(n):
        return np.zeros(n)
"""


def line(snippet: str) -> int:
    """The line of BAD (as written to bad.py) that holds ``snippet``."""
    lines = textwrap.dedent(BAD).splitlines()
    return next(n for n, text in enumerate(lines, 1) if snippet in text)


@pytest.mark.parametrize("function", ["spin", "sleep"])
def test_a_hang_times_out_and_the_parent_gets_control_back(session, function):
    s = session({"bad.py": BAD})
    start = time.monotonic()
    r = s.call("bad", function)
    assert time.monotonic() - start < FAST.call_timeout_s + 1.0
    assert not r.ok and r.kind == "timeout" and r.error == "timed out after 1 s"
    assert not s.alive
    later = s.call("bad", "ok", (1,))  # a dead session answers at once
    assert later.kind == "dead" and later.error == "not run: timed out after 1 s" and later.wall_s == 0.0
    s.restart()
    assert s.call("bad", "ok", (1,)).value == 2


def test_a_call_can_have_its_own_timeout(session):
    s = session({"bad.py": BAD})
    r = s.call("bad", "sleep", timeout_s=0.3)
    assert r.error == "timed out after 0.3 s"


def test_the_session_time_limit_covers_all_calls_together(session):
    s = session({"nap.py": "import time\ndef nap(t):\n    time.sleep(t)\n"},
                limits=Limits(call_timeout_s=10, total_timeout_s=1.5))
    assert s.call("nap", "nap", (0.5,)).ok
    time.sleep(0.6)  # the parent's own time is not the student's
    assert s.call("nap", "nap", (0.5,)).ok
    r = s.call("nap", "nap", (0.6,))
    assert r.kind == "timeout" and r.error == "the session's time limit of 1.5 s was used up"


@pytest.mark.parametrize("function, error, alive", [
    ("exit0", f"raised SystemExit(0) (sys.exit?) (bad.py, line {line('sys.exit(0)')})", True),
    ("system_exit", f"raised SystemExit(None) (sys.exit?) (bad.py, line {line('raise SystemExit')})", True),
    ("hard_exit", "the process exited with status 0 during the call (sys.exit/os._exit?)", False),
])
def test_exits_are_reported(session, function, error, alive):
    s = session({"bad.py": BAD})
    r = s.call("bad", function)
    assert not r.ok and r.kind == "exit" and r.error == error
    assert s.alive is alive


def test_keyboard_interrupt_is_an_error(session):
    s = session({"bad.py": BAD})
    r = s.call("bad", "interrupt")
    assert r.kind == "exception" and r.error == f"raised KeyboardInterrupt (bad.py, line {line('raise KeyboardInterrupt')})"
    assert s.call("bad", "ok", (1,)).value == 2


def test_a_crash_is_reported_with_the_native_traceback(session):
    s = session({"bad.py": BAD})
    r = s.call("bad", "segfault")
    assert r.kind == "crash" and r.error.startswith("the process crashed during the call (SIGSEGV")
    assert "Segmentation fault" in r.stderr


def test_a_huge_array_hits_the_memory_limit(session):
    s = session({"bad.py": BAD}, limits=Limits(call_timeout_s=5, memory_mb=400))
    r = s.call("bad", "huge_array")
    assert r.kind == "memory"
    assert r.error.startswith("memory limit of 400 MB exceeded: MemoryError: Unable to allocate 745. GiB")
    assert r.error.endswith(f"(bad.py, line {line('10**11')})")
    assert s.call("bad", "ok", (1,)).value == 2


def test_the_memory_error_reserve_is_held_by_the_child_alone(monkeypatch):
    """The child's first reserve is made as its file loads (once, in a warm template) and handed to
    the child whole: dropping it on a MemoryError frees it (nothing else refers to it)."""
    import gc
    import importlib.util
    import sys
    from pathlib import Path

    from grader.sandbox import session as session_module, wire

    child = Path(session_module.__file__).with_name("child")

    def load(name):
        spec = importlib.util.spec_from_file_location(name, child / f"{name.removeprefix('_grader_child_')}.py")
        module = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, name, module)
        spec.loader.exec_module(module)
        return module

    load("_grader_child_failures")
    calls = load("_grader_child_calls")
    config = {"folder": "/nonexistent", "limits": {"memory_mb": None}, "max_result_bytes": 1 << 20}
    first = calls.Child(config, None, wire, ())
    assert len(first.reserve) == 1 << 20 and calls._RESERVE is None
    assert gc.get_referrers(first.reserve) in ([first], [vars(first)])  # (3.11 reports the object, not its dict)
    second = calls.Child(config, None, wire, ())
    assert len(second.reserve) == 1 << 20 and second.reserve is not first.reserve


def test_a_growing_list_hits_the_memory_limit_and_the_parent_survives(session):
    s = session({"bad.py": BAD}, limits=Limits(call_timeout_s=10, memory_mb=400))
    other = session({"bad.py": BAD})  # another part, in a session of its own
    r = s.call("bad", "growing_list")
    assert not r.ok and r.kind in ("memory", "crash"), r
    assert "400 MB" in r.error
    assert other.call("bad", "ok", (np.ones(2),)).ok


def test_the_cpu_limit_kills(session):
    s = session({"bad.py": BAD}, limits=Limits(call_timeout_s=10, cpu_s=1))
    r = s.call("bad", "spin")
    assert r.kind == "cpu" and r.error == "killed: CPU time limit of 1 s exceeded"


def test_a_result_over_the_limit_is_refused(session):
    s = session({"bad.py": BAD}, limits=Limits(call_timeout_s=5, max_result_bytes=10_000))
    r = s.call("bad", "big", (100_000,))
    assert r.kind == "result" and r.error.startswith("the result could not be sent back: the result is too large")
    assert s.call("bad", "big", (10,)).ok  # refused by the child: the session goes on


@needs_proc
@pytest.mark.parametrize("how", ["same group", "own group"])
def test_background_processes_die_with_the_session(session, how):
    marker = f"1000.{uuid.uuid4().int % 10**9}"  # found by command line: pids differ inside a pid namespace
    s = session({"spawn.py": f"""
        import subprocess
        def spawn():
            return subprocess.Popen(["sleep", "{marker}"], start_new_session=False,
                                    process_group={0 if how == "own group" else None}).pid
    """}, rules=OPEN_RULES)  # the OS-level kill is under test, not the guard that refuses processes
    assert s.call("spawn", "spawn").ok
    deadline = time.monotonic() + 2  # (Popen returns once exec has begun: the new command line follows)
    while not processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert processes_with(marker)
    s.close()
    deadline = time.monotonic() + 2
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not processes_with(marker)


@needs_proc
def test_a_timeout_kills_the_background_processes_too(session):
    marker = f"1000.{uuid.uuid4().int % 10**9}"
    s = session({"spawn.py": f"""
        import subprocess, time
        def spawn_and_hang():
            subprocess.Popen(["sleep", "{marker}"])
            time.sleep(100)
    """}, rules=OPEN_RULES)
    r = s.call("spawn", "spawn_and_hang")
    assert r.kind == "timeout"
    deadline = time.monotonic() + 2
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not processes_with(marker)


def test_one_failing_part_leaves_the_others_whole(session):
    parts = {name: session({"bad.py": BAD}) for name in ("conv", "max_pool", "avg_pool")}
    assert parts["conv"].call("bad", "hard_exit").kind == "exit"
    assert parts["max_pool"].call("bad", "spin").kind == "timeout"
    r = parts["avg_pool"].call("bad", "ok", (np.arange(3),))
    assert r.ok and r.value.tolist() == [1, 2, 3]
