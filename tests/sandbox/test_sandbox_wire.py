"""The wire format: plain data round-trips; anything else, or anything malformed, is refused."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from grader.sandbox import probe, wire


def body(tree, buffers=()):
    text = json.dumps([[len(b) for b in buffers], tree]).encode()
    return struct.pack(">I", len(text)) + text + b"".join(buffers)


def test_plain_data_round_trips():
    value = {"x": np.arange(6.0).reshape(2, 3), 1: (None, True, 2.5, "s", b"b", [np.float32(1.5)]),
             (1, "k"): np.array(3, dtype=np.uint8), "inf": float("inf")}
    back = wire.decode(wire.encode(value))
    assert back.keys() == value.keys()
    np.testing.assert_array_equal(back["x"], value["x"])
    assert back[1][:5] == value[1][:5] and type(back[1][5][0]) is np.float32
    assert back[(1, "k")].shape == () and back[(1, "k")].dtype == np.uint8 and back["inf"] == float("inf")
    assert back["x"].flags.writeable and back["x"].flags.owndata


@pytest.mark.parametrize("array", [
    np.array(["2026-12-03", "1970-01-01"], dtype="datetime64[D]"),
    np.array([1, -5], dtype="timedelta64[s]"),
    np.arange(12.0).reshape(3, 4)[:, ::2],  # not C-contiguous: sent as a copy
    np.array([1 + 2j], dtype=np.complex64),
    np.zeros((2, 0, 3)),
], ids=["datetime64", "timedelta64", "strided view", "complex64", "empty 3-d"])
def test_arrays_memoryview_cannot_express_or_does_not_hold_in_order_round_trip(array):
    back = wire.decode(wire.encode(array))
    assert back.dtype == array.dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)


def nested(depth):
    value = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("make", [
    object,
    lambda: np.array([object()]),
    lambda: np.zeros(2, dtype=[("a", "f8")]),
    lambda: nested(wire.MAX_DEPTH + 2),
    lambda: 10 ** 5000,
], ids=["object", "object array", "structured array", "too deep", "huge int"])
def test_what_is_not_plain_data_is_refused(make):
    with pytest.raises(wire.WireError):
        wire.encode(make())


def test_a_fallback_handles_the_rest():
    tree = wire.decode(wire.encode([object()], fallback=lambda obj, enc: {"r": [1, "object", "an object"]}),
                       ref=lambda payload: ("ref", *payload))
    assert tree == [("ref", 1, "object", "an object")]


@pytest.mark.parametrize("forged", [
    b"",
    b"\x00\x00\x00\x05junk!",
    body({"a": ["|O", [1], 0]}, [b"\x00" * 8]),  # an object array
    body({"a": ["<f8", [2], 0]}, [b"\x00" * 8]),  # data shorter than the shape says
    body({"a": ["<f8", [-1], 0]}, [b""]),
    body({"a": ["V8,O", [1], 0]}, [b"\x00" * 8]),
    body({"a": [{"descr": "O"}, [1], 0]}, [b"\x00" * 8]),
    body({"a": ["<f8", [1], 3]}, [b"\x00" * 8]),  # no such buffer
    body({"p": "cos\nsystem\n(S'echo pwned'\ntR."}),  # pickle, which is no tag here
    body({"d": [[[1], 2]]}),  # an unhashable key
    body({"t": [], "d": []}),  # two tags
    body({"r": [1, []]}),  # a reference where none is expected
    body([1, 2], [b"extra"])[:-2],  # buffers that do not add up
])
def test_malformed_bodies_raise_wire_error(forged):
    with pytest.raises(wire.WireError):
        wire.decode(forged)


def test_probe_reports_the_protections():
    report = probe()
    assert {"platform", "root", "rlimits", "process_groups", "proc_scan", "namespaces", "applied", "not_yet",
            "notes"} <= report.keys()
    assert isinstance(report["namespaces"], bool) and all(isinstance(n, str) for n in report["notes"])
    json.dumps(report)  # plain data, ready for a report
