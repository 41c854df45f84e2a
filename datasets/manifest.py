"""What each dataset is made of: its files as distributed, their sizes and md5 checksums, and where they come from.

The checksums are the canonical ones published with the datasets (and used by
every major loader); a file that does not match them is refused. A size or md5 of
None means no canonical value was available to the kit: that check is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FileInfo:
    """One file of a dataset, as distributed."""

    name: str
    size: int | None  # bytes; None: unknown, not checked
    md5: str | None  # hex digest; None: unknown, not checked


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset: the folder it lives in under the data directory and the files of each split.

    IDX datasets (MNIST, Fashion-MNIST) list (images, labels) files per split, each
    downloadable from any of `mirrors` by file name. CIFAR-10 is distributed as one
    archive; its splits list the extracted batch files inside `extracted_folder`.
    """

    name: str
    folder: str
    kind: str  # 'idx' or 'cifar'
    splits: dict[str, tuple[FileInfo, ...]]
    mirrors: tuple[str, ...] = ()
    archive: FileInfo | None = None
    extracted_folder: str = ""
    classes: tuple[str, ...] = field(default_factory=tuple)
    channels: int = 1
    image_size: int = 28


MNIST = DatasetInfo(
    name="mnist",
    folder="mnist",
    kind="idx",
    splits={
        "train": (
            FileInfo("train-images-idx3-ubyte.gz", 9912422, "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
            FileInfo("train-labels-idx1-ubyte.gz", 28881, "d53e105ee54ea40749a09fcbcd1e9432"),
        ),
        "test": (
            FileInfo("t10k-images-idx3-ubyte.gz", 1648877, "9fb629c4189551a2d022fa330f9573f3"),
            FileInfo("t10k-labels-idx1-ubyte.gz", 4542, "ec29112dd5afa0611ce80d1b7f02629c"),
        ),
    },
    # The original site has refused scripted downloads for years; the S3 mirror serves the same bytes.
    mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
    classes=tuple(str(digit) for digit in range(10)),
)

FASHION_MNIST = DatasetInfo(
    name="fashion-mnist",
    folder="fashion-mnist",
    kind="idx",
    splits={
        "train": (
            FileInfo("train-images-idx3-ubyte.gz", 26421880, "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
            FileInfo("train-labels-idx1-ubyte.gz", 29515, "25c81989df183df01b3e8a0aad5dffbe"),
        ),
        "test": (
            FileInfo("t10k-images-idx3-ubyte.gz", 4422102, "bef4ecab320f06d8554ea6380940ec79"),
            FileInfo("t10k-labels-idx1-ubyte.gz", 5148, "bb300cfdad3c16e7a12a480ee83cd310"),
        ),
    },
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
)

# The extracted batches' sizes were not available to the kit: only their md5s are checked.
CIFAR10 = DatasetInfo(
    name="cifar10",
    folder="cifar10",
    kind="cifar",
    splits={
        "train": (
            FileInfo("data_batch_1", None, "c99cafc152244af753f735de768cd75f"),
            FileInfo("data_batch_2", None, "d4bba439e000b95fd0a9bffe97cbabec"),
            FileInfo("data_batch_3", None, "54ebc095f3ab1f0389bbae665268c751"),
            FileInfo("data_batch_4", None, "634d18415352ddfa80567beed471001a"),
            FileInfo("data_batch_5", None, "482c414d41f54cd18b22e5b47cb7c3cb"),
        ),
        "test": (FileInfo("test_batch", None, "40351d587109b95175f43aff81a1287e"),),
    },
    mirrors=("https://www.cs.toronto.edu/~kriz/",),
    archive=FileInfo("cifar-10-python.tar.gz", 170498071, "c58f30108f718f92721af3b95e74349a"),
    extracted_folder="cifar-10-batches-py",
    classes=("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
    channels=3,
    image_size=32,
)

DATASETS: dict[str, DatasetInfo] = {info.name: info for info in (MNIST, FASHION_MNIST, CIFAR10)}

# Per-channel mean and standard deviation of the training images, in [0, 1] units: the
# driver normalizes with these and the grader feeds checkpoints the same inputs.
NORMALIZATION: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "mnist": ((0.1307,), (0.3081,)),
    "fashion-mnist": ((0.2860,), (0.3530,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "digits": ((0.1307,), (0.3081,)),  # the fallback stands in for MNIST, so it is fed like MNIST
    "digits-rgb": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),  # stands in for CIFAR-10, fed like it
}
