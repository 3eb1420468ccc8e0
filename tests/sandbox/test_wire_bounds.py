"""What a reply may cost the parent that decodes it: items, buffers, array sizes and time are
bounded, so a student's return value cannot take the grader's memory or time (issue 12)."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import textwrap
from dataclasses import replace

import numpy as np
import pytest

from grader.sandbox import wire

from sandbox_helpers import FAST


def body(tree, buffers=()):
    text = json.dumps([[len(b) for b in buffers], tree], separators=(",", ":")).encode()
    return struct.pack(">I", len(text)) + text + b"".join(buffers)


def test_a_million_values_are_refused_when_sent():
    with pytest.raises(wire.WireError, match="values"):
        wire.encode([[]] * wire.MAX_ITEMS)
    with pytest.raises(wire.WireError, match="values"):
        wire.encode({"t": tuple(range(wire.MAX_ITEMS + 1))})


def test_a_large_value_within_the_bound_round_trips():
    value = [list(range(1000)) for _ in range(400)]  # 400,400 values
    assert wire.decode(wire.encode(value)) == value


def test_the_bound_counts_values_of_the_json_text():
    # the count never falls below the values but one, and a long string costs nothing
    for value in ([], [[]], [1, [2, (3, 4)], {"k": [5]}], "x" * 10_000, [[[]]] * 7):
        text = json.dumps(json.loads(wire.encode(value)[4:])[1], separators=(",", ":")).encode()
        nodes = _values(json.loads(text))
        assert nodes - 1 <= wire.tree_items(text) <= 2 * nodes, value


def _values(tree) -> int:
    if isinstance(tree, list):
        return 1 + sum(_values(x) for x in tree)
    if isinstance(tree, dict):
        return 1 + sum(_values(x) for x in tree.values())
    return 1


@pytest.mark.skipif(not os.path.isfile("/proc/self/status"), reason="reads the peak memory from /proc")
def test_millions_of_empty_lists_are_refused_before_they_are_built():
    """The attack of the issue (3 GB and 141 s in the parent before): refused, and the parent's
    peak memory barely moves, measured in a fresh process."""
    script = textwrap.dedent("""
        import struct
        from grader.sandbox import wire

        def peak_kb():  # this process image's own peak (ru_maxrss would count the forked pytest too)
            with open("/proc/self/status") as status:
                return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))

        n = 20_000_000
        text = b'[[],[' + b'[],' * (n - 1) + b'[]]]'
        forged = struct.pack('>I', len(text)) + text
        before = peak_kb()
        try:
            wire.decode(forged)
            print('decoded')
        except wire.WireError as exc:
            print('refused:', exc)
        print((peak_kb() - before) // 1024)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    verdict, grew_mb = done.stdout.strip().splitlines()
    assert verdict.startswith("refused:") and "values" in verdict, verdict
    assert int(grew_mb) < 200, f"the refusal itself took {grew_mb} MB"


@pytest.mark.parametrize("forged", [
    body([{"a": ["<f8", [1000], 0]}, {"a": ["<f8", [1000], 0]}], [b"\x00" * 8000]),  # one buffer, two arrays
    body([{"b": 0}, {"b": 0}], [b"x" * 100]),
    body({"a": ["|S0", [10 ** 6, 1000], 0]}, [b""]),  # no bytes, yet numpy would allocate 1 GB of "S1"
    body({"a": ["<U0", [10 ** 9], 0]}, [b""]),
    struct.pack(">I", 1000) + b"[[],1]",  # a JSON length past the body
])
def test_no_array_or_bytes_outgrows_the_body(forged):
    with pytest.raises(wire.WireError):
        wire.decode(forged)


def test_empty_arrays_of_sized_dtypes_still_round_trip():
    for array in (np.zeros((0, 3), "S4"), np.zeros((2, 0), np.float32)):
        back = wire.decode(wire.encode(array))
        assert back.shape == array.shape and back.dtype == array.dtype


def test_decoding_stops_at_its_time_limit(monkeypatch):
    # int keys that all hash alike (k * (2**61 - 1)): each insertion walks every earlier key;
    # with the limit at zero the first check, 4096 values in, ends it
    colliding = {"d": [[k * (2 ** 61 - 1), 0] for k in range(5000)]}
    forged = body(colliding)
    assert len(wire.decode(forged)) == 5000  # within the default limit
    monkeypatch.setattr(wire, "MAX_DECODE_S", 0.0)
    with pytest.raises(wire.WireError, match="took more than"):
        wire.decode(forged)


def test_a_student_value_over_the_bound_fails_its_call_with_the_reason(session):
    s = session({"big.py": """
        def lists():
            return [[]] * 1_100_000
        def fine():
            return [1.5] * 1000
    """}, limits=replace(FAST, call_timeout_s=30.0))  # encoding a million values takes a loaded machine a while
    result = s.call("big", "lists")
    assert not result.ok and result.kind == "result", result
    assert "could not be sent back" in result.error and "values" in result.error
    assert s.call("big", "fine").value == [1.5] * 1000  # the session goes on
