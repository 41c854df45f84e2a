"""Datasets of the kit: MNIST, Fashion-MNIST and CIFAR-10, read from their distributed files.

    from cnn_datasets import load, normalize
    images, labels = load("mnist", "test")       # (10000, 1, 28, 28) uint8, (10000,) int64
    x = normalize(images, "mnist")               # float32, per-channel standardized

Files live in the data directory (default datasets/cache inside the kit, or
$CNNKIT_DATA_DIR), one folder per dataset (mnist/, fashion-mnist/, cifar10/); see
manifest.py for the exact files. Missing files are downloaded and checked when
the network answers; otherwise the error says which files to put where.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .cifar import read_cifar_batch
from .files import DatasetUnavailable, data_dir, ensure_files
from .idx import read_idx
from .manifest import DATASETS, NORMALIZATION, DatasetInfo

__all__ = [
    "DATASETS",
    "NORMALIZATION",
    "DatasetUnavailable",
    "data_dir",
    "load",
    "load_digits_28",
    "load_digits_rgb_32",
    "normalize",
]


def load(
    name: str | DatasetInfo,
    split: str,
    root: str | Path | None = None,
    verify: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, C, H, W) uint8 and labels (N,) int64 of one split ('train' or 'test') of a dataset.

    name: 'mnist', 'fashion-mnist', 'cifar10' or a DatasetInfo. root: the data
    directory (default: data_dir()). verify=False skips the size and md5 checks,
    for small files written in the real formats. Raises DatasetUnavailable when
    the files are missing or corrupt and cannot be downloaded.
    """
    info = DATASETS[name] if isinstance(name, str) else name
    paths = ensure_files(info, split, data_dir(root), verify=verify)
    if info.kind == "cifar":
        parts = [read_cifar_batch(path) for path in paths]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    images, labels = read_idx(paths[0]), read_idx(paths[1]).astype(np.int64)
    if images.ndim != 3 or len(images) != len(labels):
        raise ValueError(f"{info.name} {split}: images of shape {images.shape} do not fit {len(labels)} labels")
    return images[:, None, :, :], labels


def normalize(images: np.ndarray, dataset: str) -> np.ndarray:
    """float32 images (N, C, H, W): uint8 values scaled to [0, 1], then standardized per channel.

    Uses NORMALIZATION[dataset]; the training driver and the grader both call this,
    so a checkpoint always sees inputs scaled as in training.
    """
    mean, std = NORMALIZATION[dataset]
    scaled = np.asarray(images, dtype=np.float32) / 255.0
    mean_array = np.asarray(mean, dtype=np.float32).reshape(1, -1, 1, 1)
    std_array = np.asarray(std, dtype=np.float32).reshape(1, -1, 1, 1)
    return (scaled - mean_array) / std_array


def load_digits_28(split: str, test_fraction: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits as MNIST-shaped data: images (N, 1, 28, 28) uint8, labels (N,) int64.

    The stand-in when MNIST cannot be had: each 8x8 image (values 0-16) is scaled to
    0-255, enlarged 3x by pixel repetition to 24x24 and padded by 2 to 28x28. The
    1,797 images are split once with a fixed seed. Needs scikit-learn, which the kit
    does not require: ImportError says so when it is missing.
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:
        raise ImportError(
            "the digits fallback needs scikit-learn (pip install scikit-learn); it is optional in the kit"
        ) from error
    digits = load_digits()
    images = np.asarray(digits.images, dtype=np.float64)
    labels = np.asarray(digits.target, dtype=np.int64)
    scaled = np.clip(np.round(images * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    enlarged = scaled.repeat(3, axis=1).repeat(3, axis=2)
    padded = np.pad(enlarged, ((0, 0), (2, 2), (2, 2)))[:, None, :, :]
    order = np.random.default_rng(seed).permutation(len(labels))
    test_count = int(round(len(labels) * test_fraction))
    chosen = order[:test_count] if split == "test" else order[test_count:]
    if split not in ("train", "test"):
        raise ValueError(f"digits has splits train, test, not {split!r}")
    return padded[chosen], labels[chosen]


def load_digits_rgb_32(split: str, test_fraction: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits as CIFAR-shaped data: images (N, 3, 32, 32) uint8, labels (N,) int64.

    The stand-in when CIFAR-10 cannot be had, to try the ResNet path offline: each
    digit is enlarged 4x by pixel repetition to 32x32 and painted in a random colour
    on a random background colour (both drawn once with a fixed seed), so that the
    three channels carry the shape together and colour alone says nothing about the
    class. Same split as load_digits_28. Not CIFAR-10: its accuracy says nothing
    about CIFAR-10 targets. Needs scikit-learn (ImportError says so when missing).
    """
    images, labels = load_digits_28(split, test_fraction, seed)
    digits = images[:, 0, 2:26, 2:26].reshape(-1, 8, 3, 8, 3)[:, :, 0, :, 0]  # back to 8x8, values 0-255
    ink = (digits.repeat(4, axis=1).repeat(4, axis=2) / 255.0)[:, None, :, :]
    colours = np.random.default_rng([seed, 32, 0 if split == "train" else 1]).uniform(0, 255, (len(labels), 2, 3))
    foreground = colours[:, 0, :, None, None]
    background = colours[:, 1, :, None, None]
    painted = background + ink * (foreground - background)
    return np.clip(np.round(painted), 0, 255).astype(np.uint8), labels
