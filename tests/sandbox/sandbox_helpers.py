"""Shared bits of the sandbox tests (plain functions; the fixtures live in conftest.py)."""

from __future__ import annotations

import os

import pytest

from grader.sandbox import Limits

FAST = Limits(call_timeout_s=1.0, total_timeout_s=60.0, memory_mb=512, cpu_s=60, max_output_bytes=2000)


def process_state(pid: int) -> str | None:
    """The /proc state letter of ``pid`` ('R', 'S', 'Z', ...), or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0].decode()
    except (OSError, IndexError):
        return None


def running(pid: int) -> bool:
    return process_state(pid) not in (None, "Z", "X")


needs_proc = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc")


def processes_with(marker: str) -> list[int]:
    """Live processes whose command line contains ``marker``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"/proc/{entry}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if marker.encode() in cmdline and state not in (b"Z", b"X"):
            found.append(int(entry))
    return found
