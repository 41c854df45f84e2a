"""CIFAR-10's python batches, read without letting the pickle run code.

Each batch file is a pickle (protocol 2, written by Python 2) of a dict with keys
b'batch_label' (bytes), b'labels' (a list of 10,000 ints), b'data' (a uint8 ndarray
of shape (10000, 3072): 1024 red, 1024 green, then 1024 blue values per image, rows
top to bottom) and b'filenames' (a list of bytes). pickle.load would call any
global the file names; the unpickler here resolves only the few that rebuild
numpy arrays and refuses everything else.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

# The globals a pickled dict of lists, bytes and uint8 arrays needs, under the names that
# numpy 1 and 2 (and the Python 2 writers of the real files) use, and nothing else.
_ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,
    ("numpy.core.numeric", "_frombuffer"): np._core.numeric._frombuffer,
    ("numpy._core.numeric", "_frombuffer"): np._core.numeric._frombuffer,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    # Python 3 writes bytes under protocol 2 as _codecs.encode(text, 'latin1').
    ("_codecs", "encode"): __import__("_codecs").encode,
}


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle that asks for a global outside the allow-list."""


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"refused to load {module}.{name}: a CIFAR batch holds only lists, bytes and numpy arrays"
            ) from None


def safe_unpickle(data: bytes) -> Any:
    """Unpickle `data`, resolving only the globals needed to rebuild numpy arrays (bytes kept as bytes)."""
    return _RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()


def read_cifar_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 3, 32, 32) uint8 and labels (N,) int64 of one CIFAR-10 python batch file."""
    path = Path(path)
    try:
        batch = safe_unpickle(path.read_bytes())
    except UnsafePickleError as error:
        raise UnsafePickleError(f"{path.name}: {error}") from None
    if not isinstance(batch, dict):
        raise ValueError(f"{path.name}: expected a pickled dict, found a {type(batch).__name__}")
    # Keys are bytes in the real (Python 2) files and str in files written by Python 3.
    batch = {key.decode() if isinstance(key, bytes) else key: value for key, value in batch.items()}
    if "data" not in batch or "labels" not in batch:
        raise ValueError(f"{path.name}: a CIFAR batch needs 'data' and 'labels', found {sorted(batch)}")
    data = np.asarray(batch["data"], dtype=np.uint8)
    labels = np.asarray(batch["labels"], dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(labels) != len(data):
        raise ValueError(f"{path.name}: data of shape {data.shape} and {len(labels)} labels do not make CIFAR images")
    return data.reshape(-1, 3, 32, 32), labels


def write_cifar_batch(path: str | Path, images: np.ndarray, labels: np.ndarray, protocol: int = 2) -> Path:
    """Write images (N, 3, 32, 32) uint8 and labels (N,) as a CIFAR-10 python batch (for tests and small data)."""
    path = Path(path)
    images = np.asarray(images, dtype=np.uint8)
    batch = {
        b"batch_label": b"written by cnn_datasets",
        b"labels": [int(label) for label in labels],
        b"data": images.reshape(len(images), -1),
        b"filenames": [f"image_{index}.png".encode() for index in range(len(images))],
    }
    path.write_bytes(pickle.dumps(batch, protocol=protocol))
    return path


def read_label_names(path: str | Path) -> list[str]:
    """The class names of a batches.meta file."""
    meta = safe_unpickle(Path(path).read_bytes())
    names = meta.get(b"label_names", meta.get("label_names", []))
    return [name.decode() if isinstance(name, bytes) else str(name) for name in names]
