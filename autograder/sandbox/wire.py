"""The sandbox's wire format: frames of one JSON message plus .npy blobs, and the value codec.

Both ends of the sandbox use this file: the grader imports it as `autograder.sandbox.wire`, the
worker loads it by path (the worker cannot import the kit's packages). It depends on
numpy and the standard library only, and never pickles anything.

A frame is

    <Q rest> <I json_length> <I blob_count> <Q blob_length> * blob_count
    json bytes, zero padding to a multiple of 64, then each blob padded to a multiple of 64

where `rest` counts every byte after the first 16. Each blob is a complete .npy file
(format 1.0, whose header numpy pads to a multiple of 64 bytes), so array data starts
64-byte aligned and readers build arrays as views into the frame's buffer, without a copy.

Values travel as JSON trees: None, bools, ints, floats and strings as themselves,
everything else as a tagged list:

    ["t", [items]]          tuple
    ["l", [items]]          list
    ["o", {key: value}]     dict whose keys are all strings (the usual case: conv_param, bn_param)
    ["d", [[key, value]]]   any other dict, in insertion order
    ["a", blob, writeable]  ndarray of a plain numeric dtype (bool, int, uint, float, complex)
    ["n", dtype, value]     numpy scalar (bool, int, uint or float)
    ["h", id]               a cache the worker keeps (see autograder.sandbox.grader)
    ["r", index]            the index-th array, dict or list of the request, by identity
    ["x", description]      a value the worker could not send, described in words

Arrays, dicts and lists of a request are numbered in the order they are first met; a
second meeting is sent as ["r", index], so aliasing survives the trip, and a reply can
point at the caller's own objects ("the bn_param you passed", "your x") by number.
"""

from __future__ import annotations

import io
import json
import math
import os
import select
import struct
import time
from collections.abc import Callable
from typing import Any

import numpy as np

PREFIX = struct.Struct("<QII")
BLOB_LENGTH = struct.Struct("<Q")
ALIGN = 64
# Plain numeric kinds only: no objects, strings, structured or datetime dtypes.
ARRAY_KINDS = frozenset("biufc")
SCALAR_KINDS = frozenset("biuf")
MAX_BLOBS = 100_000
_PADDING = bytes(ALIGN)
_PLAIN = frozenset((type(None), bool, int, float, str))
_dumps = json.JSONEncoder(separators=(",", ":")).encode
_loads = json.JSONDecoder().decode
_NPY_MAGIC = b"\x93NUMPY"
# A reader of a non-blocking pipe retries for this long before it sleeps in poll(). Most
# replies (and the next request, in the worker) come within it, and waking a sleeping
# process costs tens of microseconds on a virtual machine: a call's round trip halves.
SPIN_SECONDS = 0.0002
# The tags of the nodes that the grader and the worker also build or read themselves.
HANDLE = "h"  # [HANDLE, id]: a cache the worker keeps
NOT_SENT = "x"  # [NOT_SENT, description]: a value the worker could not or would not send
LIST = "l"  # [LIST, [items]]: a list (the worker builds one to send a changed list argument back)


class ProtocolError(Exception):
    """A frame or value that does not follow this format (a broken or hostile peer)."""


class FrameTooLarge(ProtocolError):
    """A frame whose prefix announces more bytes than the reader accepts (refused before reading it)."""


class Unencodable(TypeError):
    """A value of a type the wire format cannot carry."""


def describe(value: Any) -> str:
    """A short description of any value ('an ndarray with dtype int64 and shape (2, 3)'), never raising."""
    try:
        kind = type(value)
        name = f"{kind.__module__}.{kind.__qualname__}"
        if isinstance(value, np.ndarray):
            what = "an ndarray" if kind is np.ndarray else f"an ndarray subclass {name}"
            return f"{what} with dtype {value.dtype} and shape {value.shape}"
        if isinstance(value, np.generic):
            return f"a numpy scalar of type {kind.__name__}"
        if value is None or kind is bool:
            return repr(value)
        if kind in (tuple, list, dict):
            return f"a {kind.__name__} of {len(value)} values"
        if kind in (int, float):
            return f"the {kind.__name__} {value!r}"
        if kind is str:
            return f"a str of length {len(value)}"
        return f"an object of type {name}"
    except Exception:  # noqa: BLE001 - a hostile object may raise from anything we touch
        return "an object that cannot be described"


# --- .npy blobs ---------------------------------------------------------------------------

_header_cache: dict[Any, bytes] = {}
_parse_cache: dict[bytes, tuple[np.dtype, tuple[int, ...], str, int, int]] = {}


def npy_header(dtype: np.dtype, shape: tuple[int, ...]) -> bytes:
    """The .npy (format 1.0) header of a C-ordered array, cached: gradient checks send one shape many times."""
    key = (dtype, shape)
    header = _header_cache.get(key)
    if header is None:
        stream = io.BytesIO()
        np.lib.format.write_array_header_1_0(
            stream, {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": shape}
        )
        header = stream.getvalue()
        if len(_header_cache) > 4096:
            _header_cache.clear()
        _header_cache[key] = header
    return header


def _parse_npy_header(header: bytes) -> tuple[np.dtype, tuple[int, ...], str, int, int]:
    """(dtype, shape, order, element count, data bytes) of a .npy header, refusing anything but plain numbers.

    numpy's own header reader does the parsing: it evaluates the header as a literal,
    never as code. Callers cache the result by the header's exact bytes.
    """
    if header[:6] != _NPY_MAGIC:
        raise ProtocolError("an array blob is not in .npy format")
    stream = io.BytesIO(header[8:])
    try:
        if header[6] == 1:
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
    except Exception as error:  # noqa: BLE001 - numpy raises several types for bad headers
        raise ProtocolError(f"unreadable .npy header: {error}") from None
    if dtype.hasobject or dtype.kind not in ARRAY_KINDS or dtype.fields is not None or dtype.subdtype:
        raise ProtocolError(f"arrays of dtype {dtype} are not accepted (plain numbers only)")
    count = 1
    for extent in shape:
        count *= extent
    return dtype, tuple(shape), "F" if fortran else "C", count, count * dtype.itemsize


def array_from_blob(buffer: bytearray, start: int, length: int) -> np.ndarray:
    """The array stored as a .npy blob at buffer[start:start+length], as a writeable view into buffer.

    Equivalent to np.load(allow_pickle=False) on those bytes, without the copy: the
    header's parse is cached, so a gradient check's thousandth array of one shape
    costs a dict lookup.
    """
    if length < 12:
        raise ProtocolError("an array blob too short for an .npy header")
    major = buffer[start + 6]
    if major == 1:
        end = 10 + (buffer[start + 8] | buffer[start + 9] << 8)
    elif major in (2, 3):
        end = 12 + int.from_bytes(buffer[start + 8 : start + 12], "little")
    else:
        raise ProtocolError(f"unsupported .npy format version {major}")
    if end > length or end > 100_000:
        raise ProtocolError("an .npy header runs past its blob")
    header = bytes(buffer[start : start + end])
    parsed = _parse_cache.get(header)
    if parsed is None:
        parsed = _parse_npy_header(header)
        if len(_parse_cache) > 4096:
            _parse_cache.clear()
        _parse_cache[header] = parsed
    dtype, shape, order, count, nbytes = parsed
    if nbytes != length - end:
        raise ProtocolError(f"an array blob holds {length - end} bytes, its header promises shape {shape}")
    array = np.frombuffer(buffer, dtype=dtype, count=count, offset=start + end)
    return array if len(shape) == 1 else array.reshape(shape, order=order)


# --- frames -------------------------------------------------------------------------------


class Frame:
    """A received frame: the parsed JSON message, its buffer and where each blob lies in it."""

    __slots__ = ("message", "buffer", "spans")

    def __init__(self, message: Any, buffer: bytearray, spans: list[tuple[int, int]]) -> None:
        self.message = message
        self.buffer = buffer
        self.spans = spans  # (start, length) of each blob

    def array(self, index: Any) -> np.ndarray:
        if type(index) is not int or not 0 <= index < len(self.spans):
            raise ProtocolError(f"no blob number {index!r} in this frame")
        start, length = self.spans[index]
        return array_from_blob(self.buffer, start, length)


def build_frame(message: Any, blobs: list[tuple[bytes, Any, int]]) -> tuple[list[Any], int]:
    """The buffers of one frame, ready for os.writev, and their total length.

    message goes as JSON; blobs are (npy header, data, length) with data any
    C-contiguous buffer (the array itself: writev reads its memory directly).
    """
    text = _dumps(message).encode()
    table = struct.pack(f"<{len(blobs)}Q", *[blob[2] for blob in blobs]) if blobs else b""
    body = len(table) + len(text)
    pad = _PADDING[: -(PREFIX.size + body) % ALIGN]
    parts: list[Any] = [None, table, text, pad]
    rest = body + len(pad)
    for header, data, length in blobs:
        pad = _PADDING[: -length % ALIGN]
        parts += (header, data, pad)
        rest += length + len(pad)
    parts[0] = PREFIX.pack(rest, len(text), len(blobs))
    return parts, PREFIX.size + rest


def parse_frame(buffer: bytearray) -> Frame:
    """Split a whole frame (prefix included) into its message and blob spans, checking every length."""
    rest, json_length, blob_count = PREFIX.unpack_from(buffer, 0)
    size = len(buffer)
    if blob_count > MAX_BLOBS or rest + PREFIX.size != size:
        raise ProtocolError("a frame's lengths do not add up")
    position = PREFIX.size + 8 * blob_count
    lengths = struct.unpack_from(f"<{blob_count}Q", buffer, PREFIX.size) if blob_count else ()
    if position + json_length > size:
        raise ProtocolError("a frame's JSON runs past its end")
    try:
        message = _loads(buffer[position : position + json_length].decode())
    except (ValueError, RecursionError) as error:
        raise ProtocolError(f"a frame's JSON does not parse: {error}") from None
    position += json_length
    position += -position % ALIGN
    spans = []
    for length in lengths:
        spans.append((position, length))
        position += length + -length % ALIGN
    if position > size:
        raise ProtocolError("a frame's blobs run past its end")
    return Frame(message, buffer, spans)


def _wait(poll: select.poll, deadline: float | None) -> None:
    """Block until poll reports the fd ready, or raise TimeoutError at the deadline (None: wait forever)."""
    if deadline is None:
        poll.poll()
        return
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the peer did not answer in time")
        if poll.poll(math.ceil(remaining * 1000)):
            return


def write_frame(fd: int, frame: tuple[list[Any], int], deadline: float | None = None) -> None:
    """Write a frame from build_frame: one writev for any frame that fits in the pipe.

    With a deadline (a time.monotonic() value) the fd must be non-blocking, and a
    peer that stops reading raises TimeoutError instead of blocking the writer.
    """
    parts, total = frame
    try:
        written = os.writev(fd, parts) if len(parts) <= 1024 else 0
    except BlockingIOError:
        written = 0
    if written == total:
        return
    views = [memoryview(part).cast("B") for part in parts if memoryview(part).nbytes]
    poll = None
    while True:
        while written:
            if written >= len(views[0]):
                written -= len(views.pop(0))
            else:
                views[0] = views[0][written:]
                written = 0
        if not views:
            return
        if deadline is not None:
            if poll is None:
                poll = select.poll()
                poll.register(fd, select.POLLOUT)
            _wait(poll, deadline)
        try:
            written = os.writev(fd, views[:1024])
        except BlockingIOError:
            written = 0


class FrameReader:
    """Reads whole frames from a pipe; with a deadline the fd must be non-blocking.

    On a blocking fd a read waits in the kernel; on a non-blocking one it retries for
    SPIN_SECONDS before it waits in poll(), until the deadline or (None) for ever.

    One read into a reused scratch buffer usually brings a whole small frame; the rest
    of a larger frame is read straight into its final buffer.
    """

    def __init__(self, fd: int, max_frame: int = 1 << 31, max_json: int = 1 << 31) -> None:
        self.fd = fd
        self.max_frame = max_frame  # checked from the prefix, before the frame's buffer is allocated
        self.max_json = max_json  # likewise: parsed JSON takes many times its size in memory
        self._pending = b""
        self._scratch = bytearray(1 << 16)
        self._scratch_view = memoryview(self._scratch)
        self._poll = select.poll()
        self._poll.register(fd, select.POLLIN)

    def _read_into(self, view: memoryview, deadline: float | None) -> int:
        spin_until = time.perf_counter() + SPIN_SECONDS
        while True:
            try:
                count = os.readv(self.fd, [view])
            except BlockingIOError:
                if time.perf_counter() > spin_until:
                    _wait(self._poll, deadline)
                continue
            if not count:
                raise EOFError("the peer closed its end")
            return count

    def _check_size(self, total: int, json_length: int) -> None:
        if total > self.max_frame:
            raise FrameTooLarge(f"a frame of {total:,} bytes, over the limit of {self.max_frame:,} bytes")
        if json_length > self.max_json:
            raise FrameTooLarge(
                f"a frame with {json_length:,} bytes of JSON, over the limit of {self.max_json:,} bytes"
            )

    def waiting(self) -> bool:
        """Whether data has arrived that a read would take without waiting (part of a frame, at least)."""
        return bool(self._pending) or bool(self._poll.poll(0))

    def read(self, deadline: float | None = None) -> Frame:
        """The next frame; TimeoutError past the deadline, EOFError when the peer has gone."""
        head = self._pending
        if not head:  # the usual case: the whole frame arrives in one read into the scratch buffer
            count = self._read_into(self._scratch_view, deadline)
            if count >= PREFIX.size:
                total = PREFIX.size + PREFIX.unpack_from(self._scratch, 0)[0]
                self._check_size(total, PREFIX.unpack_from(self._scratch, 0)[1])
                if total <= count:
                    self._pending = bytes(self._scratch[total:count])
                    return parse_frame(self._scratch[:total])
            head = bytes(self._scratch[:count])
        while len(head) < PREFIX.size:
            head += self._scratch[: self._read_into(self._scratch_view, deadline)]
        total = PREFIX.size + PREFIX.unpack_from(head, 0)[0]
        self._check_size(total, PREFIX.unpack_from(head, 0)[1])
        if len(head) >= total:
            buffer = bytearray(head[:total])
            self._pending = bytes(head[total:])
        else:
            buffer = bytearray(total)
            buffer[: len(head)] = head
            self._pending = b""
            have, view = len(head), memoryview(buffer)
            while have < total:
                have += self._read_into(view[have:], deadline)
        return parse_frame(buffer)


# --- values -------------------------------------------------------------------------------


class Encoder:
    """Turns values into JSON trees and .npy blobs for one frame.

    track=True (the grader sending a request) numbers every array, dict and list it
    meets, so a second meeting becomes a reference. known maps id(object) to the
    number of an object of the request (the worker pointing back at arguments).
    lenient=True describes unencodable values as ["x", ...] instead of raising.
    encode_handle turns the caller's own handle objects into ["h", id] nodes.
    """

    def __init__(
        self,
        *,
        track: bool = False,
        known: dict[int, int] | None = None,
        lenient: bool = False,
        encode_handle: Callable[[Any], list | None] | None = None,
        max_depth: int = 64,
    ) -> None:
        self.blobs: list[tuple[bytes, Any, int]] = []
        self.tracked: list[Any] = []
        self._known = {} if known is None else known
        self._track = track
        self._lenient = lenient
        self._encode_handle = encode_handle
        self._max_depth = max_depth

    def array(self, array: np.ndarray) -> list:
        """A new blob holding array's data, whatever its layout."""
        flags = array.flags
        data = array if flags.c_contiguous else np.ascontiguousarray(array)
        header = _header_cache.get((data.dtype, data.shape)) or npy_header(data.dtype, data.shape)
        self.blobs.append((header, data, len(header) + data.nbytes))
        return ["a", len(self.blobs) - 1, 1 if flags.writeable else 0]

    def _register(self, value: Any) -> None:
        if self._track:
            self._known[id(value)] = len(self.tracked)
            self.tracked.append(value)

    def encode(self, value: Any, depth: int = 0) -> Any:
        kind = type(value)
        if kind in _PLAIN:
            return value
        reference = self._known.get(id(value))
        if reference is not None:
            return ["r", reference]
        if depth > self._max_depth:
            return self._refuse(value, "it is nested too deeply")
        if kind is np.ndarray:
            if value.dtype.kind not in ARRAY_KINDS or value.dtype.hasobject or value.dtype.fields is not None:
                return self._refuse(value, "only arrays of plain numbers cross the sandbox")
            self._register(value)
            return self.array(value)
        depth += 1
        if kind is tuple:
            return ["t", [item if type(item) in _PLAIN else self.encode(item, depth) for item in value]]
        if kind is list:
            self._register(value)
            return [LIST, [item if type(item) in _PLAIN else self.encode(item, depth) for item in value]]
        if kind is dict:
            self._register(value)
            return self.dict_node(value, depth)
        if isinstance(value, np.generic) and kind is not np.ndarray and value.dtype.kind in SCALAR_KINDS:
            return ["n", value.dtype.str, value.item()]
        if self._encode_handle is not None:
            node = self._encode_handle(value)
            if node is not None:
                return node
        for plain in (bool, int, float, str):  # subclasses such as IntEnum travel as their base type
            if isinstance(value, plain):
                return plain(value)
        return self._refuse(value, "the sandbox carries numbers, strings, arrays, tuples, lists and dicts")

    def dict_node(self, value: dict, depth: int = 1) -> list:
        """A dict's node: a JSON object when every key is a string, else a list of pairs."""
        if all(type(key) is str for key in value):
            return ["o", {k: v if type(v) in _PLAIN else self.encode(v, depth) for k, v in value.items()}]
        return ["d", [[self.encode(k, depth), self.encode(v, depth)] for k, v in value.items()]]

    def _refuse(self, value: Any, why: str) -> list:
        if self._lenient:
            return [NOT_SENT, describe(value)]
        raise Unencodable(f"cannot pass {describe(value)} to the sandbox: {why}")

    def frame(self, message: Any) -> tuple[list[Any], int]:
        return build_frame(message, self.blobs)


class Opaque:
    """Stands in for a value the worker could not send (it put an unsupported object into a dict)."""

    __slots__ = ("description",)

    def __init__(self, description: str) -> None:
        self.description = description

    def __repr__(self) -> str:
        return f"<not sent by the sandbox: {self.description}>"


class Decoder:
    """Turns JSON trees of one frame back into values.

    track=True (the worker reading a request) numbers arrays, dicts and lists as it
    meets them, in the same order as the sender's Encoder, and resolves ["r", i]
    among them. Otherwise references resolve among `known` (the grader's own
    arguments, for a reply). decode_handle resolves ["h", id] nodes; without it they are refused.
    """

    def __init__(
        self,
        frame: Frame,
        *,
        track: bool = False,
        known: list[Any] | None = None,
        decode_handle: Callable[[Any], Any] | None = None,
        allow_opaque: bool = False,
    ) -> None:
        self.frame = frame
        self.known: list[Any] = [] if known is None else known
        # (array, its number among the tracked objects, its blob number) of every array met
        self.arrays: list[tuple[np.ndarray, int, int]] = []
        self._track = track
        self._decode_handle = decode_handle
        self._allow_opaque = allow_opaque

    def decode(self, node: Any, depth: int = 0) -> Any:
        if type(node) is not list:
            if type(node) in _PLAIN:
                return node
            raise ProtocolError(f"unexpected JSON {type(node).__name__} where a value belongs")
        if depth > 100 or len(node) not in (2, 3):
            raise ProtocolError("a malformed or too deeply nested value")
        tag = node[0]
        if tag == "a" and len(node) == 3:
            index, spans = node[1], self.frame.spans
            if type(index) is not int or not 0 <= index < len(spans):
                raise ProtocolError(f"no blob number {index!r} in this frame")
            array = array_from_blob(self.frame.buffer, *spans[index])
            if not node[2]:
                array.flags.writeable = False
            self.arrays.append((array, len(self.known), node[1]))
            if self._track:
                self.known.append(array)
            return array
        if tag == "o" or tag == "d":
            mapping: dict = {}
            if self._track:
                self.known.append(mapping)
            self.fill_dict(mapping, node, depth)
            return mapping
        if tag == "t" and type(node[1]) is list:
            return tuple([item if type(item) in _PLAIN else self.decode(item, depth + 1) for item in node[1]])
        if tag == "r":
            index = node[1]
            if type(index) is not int or not 0 <= index < len(self.known):
                raise ProtocolError(f"a reference to object {index!r}, which does not exist")
            return self.known[index]
        if tag == HANDLE and self._decode_handle is not None:
            return self._decode_handle(node[1])
        if tag == LIST and type(node[1]) is list:
            result: list = []
            if self._track:
                self.known.append(result)
            result.extend([item if type(item) in _PLAIN else self.decode(item, depth + 1) for item in node[1]])
            return result
        if tag == "n" and len(node) == 3:
            return self._scalar(node[1], node[2])
        if tag == NOT_SENT and self._allow_opaque and type(node[1]) is str:
            return Opaque(node[1][:500])
        raise ProtocolError(f"an unknown or malformed value of tag {str(tag)[:20]!r}")

    def fill_dict(self, mapping: dict, node: Any, depth: int = 0) -> None:
        """Decode a dict node ("o" or "d") into mapping."""
        if type(node) is not list or len(node) != 2:
            raise ProtocolError("a malformed dict")
        items = node[1]
        if node[0] == "o" and type(items) is dict:
            for key, value in items.items():
                mapping[key] = value if type(value) in _PLAIN else self.decode(value, depth + 1)
            return
        if node[0] != "d" or type(items) is not list:
            raise ProtocolError("a malformed dict")
        for item in items:
            if type(item) is not list or len(item) != 2:
                raise ProtocolError("a dict entry that is not a [key, value] pair")
            key = self.decode(item[0], depth + 1)
            try:
                mapping[key] = self.decode(item[1], depth + 1)
            except TypeError:
                raise ProtocolError("an unhashable dict key") from None

    def fill_list(self, target: list, node: Any, depth: int = 0) -> None:
        """Decode a list node into the existing list target."""
        if type(node) is not list or len(node) != 2 or node[0] != LIST or type(node[1]) is not list:
            raise ProtocolError("a malformed list")
        target[:] = [self.decode(item, depth + 1) for item in node[1]]

    @staticmethod
    def _scalar(dtype_text: Any, value: Any) -> np.generic:
        try:
            dtype = np.dtype(dtype_text)
        except (TypeError, ValueError):
            raise ProtocolError(f"an unknown scalar dtype {str(dtype_text)[:20]!r}") from None
        if dtype.kind not in SCALAR_KINDS or type(value) not in (bool, int, float):
            raise ProtocolError(f"a scalar of dtype {dtype} is not accepted")
        try:
            return dtype.type(value)
        except (OverflowError, ValueError):
            raise ProtocolError(f"the value {value!r} does not fit dtype {dtype}") from None
