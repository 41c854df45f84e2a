"""The IDX format of MNIST and Fashion-MNIST: a magic number, big-endian dimensions, then raw values.

Header: two zero bytes, a type code (0x08 for unsigned bytes), the number of
dimensions, then each dimension as a big-endian uint32. Files are usually gzipped
(as distributed); both forms are read.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

# The type codes of the format, for the types the kit reads and writes.
_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


class IdxFormatError(ValueError):
    """A file that is not valid IDX data."""


def _open(path: Path):
    with open(path, "rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gzipped else open(path, "rb")


def read_idx(path: str | Path) -> np.ndarray:
    """The array stored in an IDX file (gzipped or not), in native byte order.

    Returns an ndarray whose shape is the file's dimensions, e.g. (N, 28, 28) uint8
    for images and (N,) uint8 for labels. Raises IdxFormatError on a malformed file.
    """
    path = Path(path)
    with _open(path) as stream:
        header = stream.read(4)
        if len(header) != 4 or header[:2] != b"\x00\x00" or header[2] not in _TYPES:
            raise IdxFormatError(f"{path.name}: not an IDX file (header bytes {header!r})")
        dtype, ndim = _TYPES[header[2]], header[3]
        dims = struct.unpack(f">{ndim}I", stream.read(4 * ndim))
        count = int(np.prod(dims)) if dims else 1
        data = stream.read(count * dtype.itemsize + 1)
    if len(data) != count * dtype.itemsize:
        raise IdxFormatError(
            f"{path.name}: dimensions {dims} need {count * dtype.itemsize} bytes of data, the file has {len(data)}"
        )
    return np.frombuffer(data, dtype=dtype).reshape(dims).astype(dtype.newbyteorder("="))


def write_idx(path: str | Path, array: np.ndarray, compress: bool | None = None) -> Path:
    """Write `array` as an IDX file; gzipped when compress is True or, by default, when the name ends in .gz."""
    path = Path(path)
    array = np.asarray(array)
    codes = {dtype.newbyteorder("="): code for code, dtype in _TYPES.items()}
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None:
        raise ValueError(f"write_idx: no IDX type code for dtype {array.dtype}")
    payload = struct.pack(f">BBBB{array.ndim}I", 0, 0, code, array.ndim, *array.shape)
    payload += np.ascontiguousarray(array, dtype=_TYPES[code]).tobytes()
    if compress if compress is not None else path.suffix == ".gz":
        # mtime=0 keeps the bytes, and so the md5, the same from run to run.
        with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as stream:
            stream.write(payload)
    else:
        path.write_bytes(payload)
    return path
