"""The sandbox's wire format: plain data in frames, and nothing that can run code.

Both sides use this module: the parent imports it as ``grader.sandbox.wire``,
the child loads the same file by path (it never has ``grader`` on its path).
It imports only the standard library; numpy is looked up when an array shows up.

A frame is ``length (8 bytes, big-endian) | body``; a body is

    json_length (4 bytes, big-endian) | JSON [buffer lengths, tree] | buffer 0 | buffer 1 | ...

and the tree is the value itself, with these few tags (a JSON object is
always a tag, so nothing else can be read as one):

    None, bool, int, float, str, list  ->  themselves (floats may be NaN/Infinity)
    tuple                              ->  {"t": [items]}
    dict                               ->  {"d": [[key, value], ...]}   (any plain key)
    bytes                              ->  {"b": buffer_index}
    numpy.ndarray                      ->  {"a": [dtype.str, shape, buffer_index]}   (C order)
    numpy scalar (numpy.float64, ...)  ->  {"s": [dtype.str, buffer_index]}
    a reference to an object that stays in the child
        child -> parent                ->  {"r": [ref_id, type_name, description]}
        parent -> child                ->  {"r": [ref_id, [key, ...]]}

Decoding builds only those types: arrays come from raw bytes with a dtype that
must be plain (booleans, numbers, strings, dates; no objects, no fields), so
the parent never unpickles and never imports anything the child names.
Anything malformed raises ``WireError``.

What a body may cost the side that decodes it is bounded, since the child's side is
written by student code: its bytes (the frame's length, checked before reading), its
items (``MAX_ITEMS``, a bound on the values in the tree counted in the JSON text before
``json.loads`` builds anything: a list of millions of empty lists is 3 bytes an item
on the wire and 80 in memory), its nesting (``MAX_DEPTH``), its time (``MAX_DECODE_S``:
dict keys chosen to collide cost quadratic time) and its arrays (each buffer is
used once, and an array's data must fill its shape, so no array outgrows the body).
Encoding refuses values over the same bounds, so an honest but huge result fails
in the child with that reason rather than in the parent.
"""

from __future__ import annotations

import json
import struct
import sys
import time

MAX_DEPTH = 64  # nesting of lists/tuples/dicts
MAX_ITEMS = 1_000_000  # brackets and commas in one body's JSON (see tree_items); an array is one value
MAX_DECODE_S = 10.0  # seconds one decode may take (1,000,000 items take well under one)
MAX_NDIM = 32
FRAME_HEADER = struct.Struct(">Q")
JSON_HEADER = struct.Struct(">I")
PLAIN_DTYPE_KINDS = "biufcSUmM"  # bool, int, uint, float, complex, bytes, str, timedelta, datetime
TOO_MANY = (f"it holds more than {MAX_ITEMS:,} values (lists, tuples, dicts and their items): "
            "send numbers as numpy arrays")


class WireError(ValueError):
    """A value that cannot be sent, or a body that is not a well-formed message."""


def _numpy():
    np = sys.modules.get("numpy")
    if np is None:
        import numpy as np
    return np


def plain_dtype(dtype) -> bool:
    """Whether arrays of ``dtype`` may cross: no objects, no fields, no sub-arrays."""
    return (
        dtype.kind in PLAIN_DTYPE_KINDS
        and not dtype.hasobject
        and dtype.fields is None
        and dtype.subdtype is None
    )


def encode(value, fallback=None) -> bytes:
    """The body (no frame header) that carries ``value``, in one piece."""
    return b"".join(encode_parts(value, fallback))


def encode_parts(value, fallback=None) -> list:
    """The body that carries ``value`` as a list of buffers, without copying arrays' data.

    ``fallback(obj, encode_item)`` is called for anything that is not plain
    data and returns a tree node (for example a ``{"r": ...}`` reference, or
    ``encode_item(converted)``); without one such values raise WireError.
    The buffers may be views of the arrays in ``value``: send them before
    changing those arrays.
    """
    buffers: list = []

    def add(buffer) -> int:
        buffers.append(buffer)
        return len(buffers) - 1

    count = 1  # values met so far: the whole value, then each container's items as it is reached

    def enc(v, depth=0):
        nonlocal count
        if depth > MAX_DEPTH:
            raise WireError(f"nested more than {MAX_DEPTH} levels deep")
        t = type(v)
        if t is list or t is tuple or t is dict:  # stop before encoding what the text's count would refuse
            count += 2 * len(v) if t is dict else len(v)
            if count > MAX_ITEMS + 1:
                raise WireError(TOO_MANY)
        if v is None or t is bool or t is int or t is float or t is str:
            return v
        if t is list:
            return [enc(x, depth + 1) for x in v]
        if t is tuple:
            return {"t": [enc(x, depth + 1) for x in v]}
        if t is dict:
            return {"d": [[enc(k, depth + 1), enc(x, depth + 1)] for k, x in v.items()]}
        if t is bytes:
            return {"b": add(v)}
        np = sys.modules.get("numpy")
        if np is not None:
            if t is np.ndarray and plain_dtype(v.dtype):
                return {"a": [v.dtype.str, list(v.shape), add(_raw(v))]}
            if isinstance(v, np.generic) and t.__module__ == "numpy" and plain_dtype(v.dtype):
                return {"s": [v.dtype.str, add(np.asarray(v).tobytes())]}
        if fallback is None:
            raise WireError(f"cannot send a value of type {t.__module__}.{t.__qualname__}")
        return fallback(v, lambda x: enc(x, depth + 1))

    tree = enc(value)
    try:
        text = json.dumps([[len(b) for b in buffers], tree], separators=(",", ":")).encode("utf-8")
    except (ValueError, TypeError, RecursionError) as exc:  # huge ints, lone surrogates
        raise WireError(str(exc)) from None
    if tree_items(text) > MAX_ITEMS:
        raise WireError(TOO_MANY)
    return [JSON_HEADER.pack(len(text)) + text, *buffers]


def tree_items(text: bytes) -> int:
    """A bound on the values in the JSON ``text``, counted without parsing it: every value
    but the first is a container or follows a comma.  Brackets and commas inside strings
    count too (a quick, safe over-count: no honest result holds a million of them)."""
    return text.count(b"[") + text.count(b"{") + text.count(b",")


def _raw(array):
    """The array's bytes in C order: a view when it is C-contiguous, else a copy."""
    array = _numpy().ascontiguousarray(array)
    try:
        return memoryview(array).cast("B")
    except (TypeError, ValueError):  # empty arrays of 2+ dimensions ("zeros in shape"); datetime64, timedelta64
        return array.tobytes()


def size(parts) -> int:
    """The number of bytes in ``parts``."""
    return sum(memoryview(p).nbytes for p in parts)


def decode(body: bytes, ref=None):
    """The value carried by ``body``; ``ref(node_list)`` builds references (else WireError).
    A body over the bounds of the module docstring raises WireError too."""
    try:
        return _decode(memoryview(body), ref)
    except WireError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, RecursionError, struct.error) as exc:
        raise WireError(f"malformed message: {type(exc).__name__}: {exc}") from None


def _decode(body: memoryview, ref):
    deadline = time.monotonic() + MAX_DECODE_S
    (text_length,) = JSON_HEADER.unpack_from(body, 0)
    pos = JSON_HEADER.size + text_length
    if pos > len(body):
        raise WireError("malformed message: the JSON is longer than the body")
    text = bytes(body[JSON_HEADER.size:pos])
    if tree_items(text) > MAX_ITEMS:
        raise WireError(f"the message is refused: {TOO_MANY}")
    envelope = json.loads(text.decode("utf-8"))
    if type(envelope) is not list or len(envelope) != 2:
        raise WireError("malformed message: bad envelope")
    lengths, tree = envelope
    if type(lengths) is not list or not all(type(n) is int and n >= 0 for n in lengths):
        raise WireError("malformed message: bad buffer table")
    if pos + sum(lengths) != len(body):
        raise WireError("malformed message: buffers do not add up")
    offsets = []
    for n in lengths:
        offsets.append((pos, n))
        pos += n

    used = set()
    count = 0

    def buffer(index):
        if type(index) is not int or not 0 <= index < len(offsets):
            raise WireError("malformed message: bad buffer index")
        if index in used:  # one buffer behind many arrays would multiply the body's size
            raise WireError("malformed message: a buffer used twice")
        used.add(index)
        start, n = offsets[index]
        return body[start:start + n]

    def dec(node, depth=0):
        nonlocal count
        if depth > MAX_DEPTH:
            raise WireError(f"nested more than {MAX_DEPTH} levels deep")
        count += 1
        if not count & 0xFFF and time.monotonic() > deadline:
            raise WireError(f"the message is refused: decoding it took more than {MAX_DECODE_S:g} s")
        t = type(node)
        if node is None or t is bool or t is int or t is float or t is str:
            return node
        if t is list:  # decoded in place: no second copy of a long list
            for i, x in enumerate(node):
                node[i] = dec(x, depth + 1)
            return node
        if t is not dict or len(node) != 1:
            raise WireError("malformed message: unknown node")
        (tag, payload), = node.items()
        if tag == "t" and type(payload) is list:
            return tuple(dec(x, depth + 1) for x in payload)
        if tag == "d" and type(payload) is list:
            out = {}
            for pair in payload:
                if type(pair) is not list or len(pair) != 2:
                    raise WireError("malformed message: bad dict entry")
                out[dec(pair[0], depth + 1)] = dec(pair[1], depth + 1)
            return out
        if tag == "b":
            return bytes(buffer(payload))
        if tag == "a" and type(payload) is list and len(payload) == 3:
            return _array(payload[0], payload[1], buffer(payload[2]))
        if tag == "s" and type(payload) is list and len(payload) == 2:
            return _array(payload[0], [], buffer(payload[1]))[()]
        if tag == "r" and ref is not None and type(payload) is list:
            return ref(payload)
        raise WireError(f"malformed message: unknown tag {tag!r}")

    return dec(tree)


def _array(dtype_str, shape, data):
    np = _numpy()
    if type(dtype_str) is not str or len(dtype_str) > 16:
        raise WireError("malformed message: bad dtype")
    dtype = np.dtype(dtype_str)
    if not plain_dtype(dtype):
        raise WireError(f"malformed message: dtype {dtype_str!r} is not plain data")
    if type(shape) is not list or len(shape) > MAX_NDIM or not all(type(n) is int and n >= 0 for n in shape):
        raise WireError("malformed message: bad shape")
    count = 1
    for n in shape:
        count *= n
    if count * dtype.itemsize != len(data) or (dtype.itemsize == 0 and count):  # "S0": no bytes, any shape
        raise WireError("malformed message: array data does not match its shape")
    if count == 0 or dtype.itemsize == 0:
        return np.zeros(shape, dtype)
    return np.frombuffer(data, dtype=dtype, count=count).reshape(shape).copy()  # writeable, owns its data


def frame(parts) -> list:
    """The body ``parts`` with their total length in front, ready to send one after the other."""
    return [FRAME_HEADER.pack(size(parts)), *parts]
