"""The sandbox's wire format, unit by unit: frames, .npy blobs, the value codec and its refusals."""

from __future__ import annotations

import ast
import io
import json
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from autograder.sandbox import protocol, wire


def roundtrip(value, **decoder_options):
    """Encode value as a grader request and decode it as the worker does; returns (decoded, decoder)."""
    encoder = wire.Encoder(track=True)
    node = encoder.encode(value)
    parts, total = encoder.frame({"value": node})
    data = bytearray(b"".join(memoryview(part).tobytes() for part in parts))
    assert len(data) == total
    frame = wire.parse_frame(data)
    decoder = wire.Decoder(frame, track=True, **decoder_options)
    return decoder.decode(frame.message["value"]), decoder


def frame_bytes(message, blobs=()):
    parts, _ = wire.build_frame(message, list(blobs))
    return bytearray(b"".join(memoryview(part).tobytes() for part in parts))


ARRAYS = [
    np.arange(12.0).reshape(3, 4),
    np.arange(24.0).reshape(2, 3, 4)[:, ::2, 1:],  # not contiguous
    np.asfortranarray(np.arange(6.0).reshape(2, 3)),
    np.array(3.5),  # zero dimensions
    np.zeros((0, 3)),
    np.arange(5, dtype=">f8"),  # big-endian
    np.array([True, False]),
    np.arange(4, dtype=np.int32),
    np.arange(3, dtype=np.uint8),
    np.array([1 + 2j]),
    np.arange(4, dtype=np.float32),
]


@pytest.mark.parametrize("array", ARRAYS, ids=lambda array: f"{array.dtype}{array.shape}")
def test_arrays_roundtrip_exactly(array):
    decoded, _ = roundtrip(array)
    assert type(decoded) is np.ndarray
    assert decoded.dtype == array.dtype and decoded.shape == array.shape
    assert np.array_equal(decoded, array)
    assert decoded.flags.writeable


def test_blobs_are_npy_files_that_np_load_reads_without_pickle():
    array = np.arange(10.0).reshape(2, 5)
    encoder = wire.Encoder()
    encoder.array(array)
    header, data, length = encoder.blobs[0]
    blob = bytes(header) + memoryview(data).tobytes()
    assert len(blob) == length
    assert np.array_equal(np.load(io.BytesIO(blob), allow_pickle=False), array)
    assert len(header) % 64 == 0  # data lands 64-byte aligned in the frame


def test_decoded_arrays_are_aligned_views_into_the_frame():
    decoded, decoder = roundtrip((np.ones(7), np.ones((3, 3))))
    for array in decoded:
        assert array.flags.aligned and array.base is not None
    assert [index for _, index, _ in decoder.arrays] == [0, 1]


def test_plain_values_and_containers_roundtrip():
    value = {"mode": "train", "eps": 1e-5, "n": 3, "flag": True, "none": None, "nested": [1, (2.5, "x"), {"k": []}]}
    decoded, _ = roundtrip(value)
    assert decoded == value
    assert type(decoded["nested"][1]) is tuple


def test_numpy_scalars_keep_their_type():
    decoded, _ = roundtrip([np.float64(0.5), np.int64(3), np.float32(1.5), np.bool_(True)])
    assert [type(v) for v in decoded] == [np.float64, np.int64, np.float32, np.bool_]
    assert decoded == [0.5, 3, 1.5, True]


def test_non_finite_floats_survive():
    decoded, _ = roundtrip([float("nan"), float("inf"), -float("inf")])
    assert np.isnan(decoded[0]) and decoded[1:] == [float("inf"), -float("inf")]


def test_aliasing_survives_the_trip():
    x = np.ones(3)
    shared = {"a": 1}
    decoded, _ = roundtrip((x, x, shared, [shared]))
    assert decoded[0] is decoded[1]
    assert decoded[2] is decoded[3][0]


def test_cycles_are_references_not_infinite_recursion():
    loop: list = [1]
    loop.append(loop)
    decoded, _ = roundtrip(loop)
    assert decoded[1] is decoded


def test_read_only_arrays_stay_read_only():
    array = np.ones(3)
    array.flags.writeable = False
    decoded, _ = roundtrip(array)
    assert not decoded.flags.writeable


@pytest.mark.parametrize(
    "value",
    [object(), np.array([object()], dtype=object), np.zeros(2, dtype=[("a", "f8")]), lambda: 0, b"bytes"],
    ids=["object", "object-array", "structured-array", "function", "bytes"],
)
def test_unencodable_values_are_refused_or_described(value):
    with pytest.raises(wire.Unencodable, match="cannot pass"):
        wire.Encoder().encode(value)
    node = wire.Encoder(lenient=True).encode(value)
    assert node[0] == "x" and isinstance(node[1], str)


def test_subclasses_of_plain_types_travel_as_the_plain_type():
    import enum

    class Size(enum.IntEnum):
        SMALL = 2

    assert wire.Encoder().encode(Size.SMALL) == 2


def test_describe_says_type_dtype_and_shape():
    assert wire.describe(np.zeros((2, 3), dtype=np.int64)) == "an ndarray with dtype int64 and shape (2, 3)"

    class Sub(np.ndarray):
        pass

    assert "subclass " in wire.describe(np.zeros(2).view(Sub)) and "Sub with dtype float64" in wire.describe(
        np.zeros(2).view(Sub)
    )
    assert wire.describe([1, 2]) == "a list of 2 values"
    assert wire.describe(None) == "None"

    class Hostile:
        def __len__(self):
            raise RuntimeError

    assert "Hostile" in wire.describe(Hostile())


def test_object_dtype_npy_blobs_are_refused():
    stream = io.BytesIO()
    np.save(stream, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    blob = stream.getvalue()
    buffer = frame_bytes({"v": ["a", 0, 1]}, [(blob, b"", len(blob))])
    frame = wire.parse_frame(buffer)
    with pytest.raises(wire.ProtocolError, match="not accepted|unreadable"):
        wire.Decoder(frame).decode(frame.message["v"])


def test_blob_with_a_lying_header_is_refused():
    encoder = wire.Encoder()
    encoder.array(np.ones(4))
    header, data, _ = encoder.blobs[0]
    short = bytes(header) + memoryview(data).tobytes()[:16]
    frame = wire.parse_frame(frame_bytes({"v": ["a", 0, 1]}, [(short, b"", len(short))]))
    with pytest.raises(wire.ProtocolError, match="promises"):
        wire.Decoder(frame).decode(frame.message["v"])


@pytest.mark.parametrize(
    "node",
    [["q", 1], ["r", 5], ["a", 9, 1], {"dict": 1}, ["t", 1, 2, 3], ["h", 1], ["x", "opaque"], ["n", "O", 1]],
    ids=["unknown-tag", "bad-reference", "missing-blob", "json-object", "malformed", "handle", "opaque", "scalar"],
)
def test_malformed_values_raise_protocol_errors(node):
    frame = wire.parse_frame(frame_bytes({"v": node}))
    with pytest.raises(wire.ProtocolError):
        wire.Decoder(frame).decode(frame.message["v"])


def test_deep_nesting_is_refused():
    node: list = ["l", []]
    for _ in range(200):
        node = ["l", [node]]
    frame = wire.parse_frame(frame_bytes({"v": node}))
    with pytest.raises(wire.ProtocolError):
        wire.Decoder(frame).decode(frame.message["v"])


def test_frames_with_bad_lengths_are_refused():
    good = frame_bytes({"a": 1})
    with pytest.raises(wire.ProtocolError):
        wire.parse_frame(good[:-1])
    bad = bytearray(good)
    bad[8:12] = (10**6).to_bytes(4, "little")  # JSON length past the end
    with pytest.raises(wire.ProtocolError):
        wire.parse_frame(bad)
    junk = frame_bytes({"a": 1})
    junk[wire.PREFIX.size] = ord("{") + 1
    with pytest.raises(wire.ProtocolError):
        wire.parse_frame(junk)


def test_reader_reads_large_frames_through_a_pipe():
    read_fd, write_fd = os.pipe()
    big = np.random.default_rng(0).standard_normal(300_000)  # 2.4 MB: more than a pipe holds
    encoder = wire.Encoder()
    node = encoder.array(big)
    frame = encoder.frame({"v": node, "text": "x" * 70_000})
    writer = threading.Thread(target=wire.write_frame, args=(write_fd, frame))
    writer.start()
    received = wire.FrameReader(read_fd).read()
    writer.join()
    assert np.array_equal(wire.Decoder(received).decode(received.message["v"]), big)
    os.close(read_fd)
    os.close(write_fd)


def test_reader_times_out_and_sees_end_of_file():
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    reader = wire.FrameReader(read_fd)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        reader.read(deadline=time.monotonic() + 0.2)
    assert 0.15 < time.monotonic() - started < 2
    os.write(write_fd, bytes(frame_bytes({"a": 1}))[:10])  # half a frame, then the peer is gone
    os.close(write_fd)
    with pytest.raises(EOFError):
        reader.read(deadline=time.monotonic() + 1)
    os.close(read_fd)


def test_max_frame_is_enforced_before_allocating():
    read_fd, write_fd = os.pipe()
    os.write(write_fd, wire.PREFIX.pack(1 << 40, 0, 0))
    with pytest.raises(wire.ProtocolError, match="over the limit"):
        wire.FrameReader(read_fd, max_frame=1 << 20).read()
    os.close(read_fd)
    os.close(write_fd)


def test_a_small_frame_over_the_limit_is_refused_too():
    # A whole frame that arrives in the first read takes another path than a long one.
    read_fd, write_fd = os.pipe()
    os.write(write_fd, bytes(frame_bytes({"pad": "x" * 500})))
    with pytest.raises(wire.FrameTooLarge, match="over the limit of 256 bytes"):
        wire.FrameReader(read_fd, max_frame=256).read()
    os.close(read_fd)
    os.close(write_fd)


def test_the_json_part_is_bounded_before_it_is_read():
    # Parsed JSON takes many times its size: the prefix's JSON length is checked before any of it is read.
    read_fd, write_fd = os.pipe()
    os.write(write_fd, wire.PREFIX.pack(1 << 30, 1 << 30, 0))
    with pytest.raises(wire.FrameTooLarge, match="bytes of JSON, over the limit"):
        wire.FrameReader(read_fd, max_json=1 << 20).read()
    os.close(read_fd)
    os.close(write_fd)


def test_writer_times_out_when_the_peer_stops_reading():
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    frame = wire.build_frame({"pad": "x" * (4 << 20)}, [])
    with pytest.raises(TimeoutError):
        wire.write_frame(write_fd, frame, deadline=time.monotonic() + 0.2)
    os.close(read_fd)
    os.close(write_fd)


def test_frames_are_json_plus_blobs():
    data = frame_bytes({"k": [1, 2]})
    rest, json_length, blobs = wire.PREFIX.unpack_from(data, 0)
    assert blobs == 0 and json.loads(data[wire.PREFIX.size : wire.PREFIX.size + json_length]) == {"k": [1, 2]}
    assert len(data) % 64 == 0 and rest + wire.PREFIX.size == len(data)


# --- the protocol: one module names what both ends say ---------------------------------------------

PROTOCOL_KEYS = {value for name, value in vars(protocol).items() if name.isupper() and type(value) is str}
# The modules that build or read the conversation's messages (jail.py's plan and notes are its own).
CONVERSING_MODULES = ("worker.py", "process.py", "briefing.py", "workers.py", "calls.py", "gradients.py", "replies.py")
JAIL_OWNED = {"plan", "confined"}  # variables that hold jail.confine's argument and its result
SANDBOX_FOLDER = Path(protocol.__file__).parent


def _string_keys(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, string) of each string constant used as a subscript, a .get() key or a dict display's key."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and not (isinstance(node.value, ast.Name) and node.value.id in JAIL_OWNED):
            keys = [node.slice]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
            keys = node.args[:1]
        elif isinstance(node, ast.Dict):
            keys = [key for key in node.keys if key is not None]
        else:
            keys = []
        found += [(key.lineno, key.value) for key in keys if isinstance(key, ast.Constant) and type(key.value) is str]
    return found


@pytest.mark.parametrize("module", CONVERSING_MODULES)
def test_both_ends_name_the_protocols_keys_never_spell_them(module):
    tree = ast.parse((SANDBOX_FOLDER / module).read_text())
    # The plan's keys are jail.confine's, not the conversation's.
    tree.body = [node for node in tree.body if getattr(node, "name", "") != "jail_plan"]
    spelled = [(line, key) for line, key in _string_keys(tree) if key in PROTOCOL_KEYS]
    # The worker spells one key out: the bootstrap's path of protocol.py itself.
    allowed = [(line, key) for line, key in spelled if module == "worker.py" and key == "protocol"]
    assert [item for item in spelled if item not in allowed] == [], "use autograder/sandbox/protocol.py's names"
