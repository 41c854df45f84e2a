"""cnn_datasets: the file formats, the checks, downloading and the messages when data is missing.

Every format test writes small files in the real formats itself; the real MNIST test
set is read from ../shared/datasets/mnist where it exists (never copied into the kit).
"""

import gzip
import io
import pickle
import tarfile

import cnn_datasets
import numpy as np
import pytest
from cnn_datasets import DatasetUnavailable, load, normalize
from cnn_datasets.cifar import UnsafePickleError, read_cifar_batch, read_label_names, write_cifar_batch
from cnn_datasets.files import data_dir, md5_of
from cnn_datasets.idx import IdxFormatError, read_idx, write_idx
from cnn_datasets.manifest import CIFAR10, DATASETS, MNIST, DatasetInfo, FileInfo

SHARED_DATA = cnn_datasets.files.KIT_ROOT.parent / "shared" / "datasets"


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("CNNKIT_NO_DOWNLOAD", "1")


@pytest.mark.parametrize("name", ["a.gz", "a"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_idx_round_trip(tmp_path, name, dtype):
    array = (np.random.default_rng(0).standard_normal((3, 4, 5)) * 50).astype(dtype)
    path = write_idx(tmp_path / name, array)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")
    back = read_idx(path)
    assert back.dtype == array.dtype and back.dtype.isnative and np.array_equal(back, array)


def test_idx_header_is_the_published_one(tmp_path):
    path = write_idx(tmp_path / "labels.gz", np.array([7, 2, 1], dtype=np.uint8))
    assert gzip.decompress(path.read_bytes()) == b"\x00\x00\x08\x01\x00\x00\x00\x03\x07\x02\x01"


def test_idx_rejects_malformed_files(tmp_path):
    (tmp_path / "text").write_bytes(b"hello world")
    with pytest.raises(IdxFormatError, match="not an IDX file"):
        read_idx(tmp_path / "text")
    (tmp_path / "short").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x05\x01\x02")
    with pytest.raises(IdxFormatError, match="need 5 bytes of data, the file has 2"):
        read_idx(tmp_path / "short")


@pytest.mark.parametrize("protocol", [2, 5])
def test_cifar_batch_round_trip(tmp_path, protocol):
    images = np.random.default_rng(0).integers(0, 256, (4, 3, 32, 32), dtype=np.uint8)
    path = write_cifar_batch(tmp_path / "data_batch_1", images, [3, 1, 4, 1], protocol=protocol)
    back, labels = read_cifar_batch(path)
    assert back.dtype == np.uint8 and np.array_equal(back, images) and labels.tolist() == [3, 1, 4, 1]


def test_cifar_batch_layout_is_planes_of_rows(tmp_path):
    # The real files store 1024 red, then 1024 green, then 1024 blue values per image, row by row.
    row = np.arange(3072, dtype=np.uint16) % 256
    (tmp_path / "b").write_bytes(pickle.dumps({b"data": row.astype(np.uint8)[None], b"labels": [0]}, protocol=2))
    images, _ = read_cifar_batch(tmp_path / "b")
    assert images[0, 1, 0, 0] == 1024 % 256 and images[0, 0, 1, 0] == 32 and images[0, 2, 31, 31] == 3071 % 256


@pytest.mark.parametrize(
    "payload",
    [
        {"data": __import__("os").system},
        {"data": eval},
        {"labels": [1], "data": io.BytesIO},
    ],
    ids=["os.system", "builtins.eval", "io.BytesIO"],
)
def test_cifar_refuses_pickles_of_anything_else(tmp_path, payload):
    (tmp_path / "evil").write_bytes(pickle.dumps(payload, protocol=2))
    with pytest.raises(UnsafePickleError, match="refused to load"):
        read_cifar_batch(tmp_path / "evil")


def test_cifar_label_names(tmp_path):
    (tmp_path / "batches.meta").write_bytes(pickle.dumps({b"label_names": [b"airplane", b"automobile"]}, protocol=2))
    assert read_label_names(tmp_path / "batches.meta") == ["airplane", "automobile"]


def test_the_manifest_holds_the_canonical_values():
    test_images, test_labels = MNIST.splits["test"]
    assert (test_images.name, test_images.size, test_images.md5) == (
        "t10k-images-idx3-ubyte.gz",
        1648877,
        "9fb629c4189551a2d022fa330f9573f3",
    )
    assert (test_labels.size, test_labels.md5) == (4542, "ec29112dd5afa0611ce80d1b7f02629c")
    assert CIFAR10.archive.md5 == "c58f30108f718f92721af3b95e74349a" and CIFAR10.archive.size == 170498071
    for info in DATASETS.values():
        for files in info.splits.values():
            for file in files:
                assert file.md5 is None or len(file.md5) == 32 and int(file.md5, 16) >= 0


def test_data_dir_default_and_override(monkeypatch, tmp_path):
    monkeypatch.delenv("CNNKIT_DATA_DIR", raising=False)
    assert data_dir() == cnn_datasets.files.KIT_ROOT / "datasets" / "cache"
    monkeypatch.setenv("CNNKIT_DATA_DIR", str(tmp_path))
    assert data_dir() == tmp_path and data_dir("elsewhere").name == "elsewhere"


def _small_mnist(root, count=12):
    rng = np.random.default_rng(1)
    folder = root / "mnist"
    folder.mkdir(parents=True)
    images = rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, count).astype(np.uint8)
    write_idx(folder / "t10k-images-idx3-ubyte.gz", images)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", labels)
    return images, labels


def test_load_small_idx_files(tmp_path):
    images, labels = _small_mnist(tmp_path)
    x, y = load("mnist", "test", tmp_path, verify=False)
    assert x.shape == (12, 1, 28, 28) and x.dtype == np.uint8 and np.array_equal(x[:, 0], images)
    assert y.dtype == np.int64 and np.array_equal(y, labels)


def test_files_that_do_not_match_the_checksums_are_refused(tmp_path):
    _small_mnist(tmp_path)
    with pytest.raises(DatasetUnavailable) as raised:
        load("mnist", "test", tmp_path)
    message = str(raised.value)
    assert "t10k-images-idx3-ubyte.gz has" in message and "expected 1,648,877" in message
    assert "9fb629c4189551a2d022fa330f9573f3" in message and "CNNKIT_NO_DOWNLOAD" in message


def test_missing_files_are_named_with_where_to_put_them(tmp_path):
    with pytest.raises(DatasetUnavailable) as raised:
        load("fashion-mnist", "train", tmp_path)
    message = str(raised.value)
    assert str(tmp_path / "fashion-mnist") in message
    assert "train-images-idx3-ubyte.gz missing" in message and "26,421,880 bytes" in message
    assert "md5 8d4fb7e6c68d591d4c3dfef9ec88bf0d" in message and "CNNKIT_DATA_DIR" in message


def _mirrored(tmp_path):
    """A 'mirror' folder served by file:// URLs and a dataset whose manifest has its files' checksums."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    rng = np.random.default_rng(2)
    write_idx(mirror / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (5, 28, 28), dtype=np.uint8))
    write_idx(mirror / "t10k-labels-idx1-ubyte.gz", rng.integers(0, 10, 5).astype(np.uint8))
    files = tuple(
        FileInfo(name, (mirror / name).stat().st_size, md5_of(mirror / name))
        for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
    )
    return mirror, files


def test_missing_files_are_downloaded_and_checked(tmp_path, monkeypatch):
    monkeypatch.delenv("CNNKIT_NO_DOWNLOAD")
    mirror, files = _mirrored(tmp_path)
    dead = (tmp_path / "no-such-mirror").as_uri() + "/"
    info = DatasetInfo("tiny", "tiny", "idx", {"test": files}, mirrors=(dead, mirror.as_uri() + "/"))
    x, y = load(info, "test", tmp_path / "data")
    assert x.shape == (5, 1, 28, 28) and len(y) == 5
    assert sorted(p.name for p in (tmp_path / "data" / "tiny").iterdir()) == [f.name for f in files]


def test_a_corrupt_download_is_not_kept(tmp_path, monkeypatch):
    monkeypatch.delenv("CNNKIT_NO_DOWNLOAD")
    mirror, files = _mirrored(tmp_path)
    wrong = (FileInfo(files[0].name, files[0].size, "0" * 32), files[1])
    info = DatasetInfo("tiny", "tiny", "idx", {"test": wrong}, mirrors=(mirror.as_uri() + "/",))
    with pytest.raises(DatasetUnavailable, match="the downloaded file has md5 .*, expected 0{32}"):
        load(info, "test", tmp_path / "data")
    assert not (tmp_path / "data" / "tiny" / files[0].name).exists()
    assert not list((tmp_path / "data" / "tiny").glob("*.part"))


def test_cifar_is_extracted_from_its_archive_safely(tmp_path):
    rng = np.random.default_rng(3)
    staging = tmp_path / "staging"
    staging.mkdir()
    batch = write_cifar_batch(staging / "test_batch", rng.integers(0, 256, (6, 3, 32, 32), dtype=np.uint8), range(6))
    folder = tmp_path / "data" / "cifar10"
    folder.mkdir(parents=True)
    with tarfile.open(folder / "cifar-10-python.tar.gz", "w:gz") as tar:
        tar.add(batch, arcname="cifar-10-batches-py/test_batch")
        tar.add(batch, arcname="../escaped")  # never written: only the wanted members are extracted
    archive = FileInfo("cifar-10-python.tar.gz", None, md5_of(folder / "cifar-10-python.tar.gz"))
    info = DatasetInfo(
        "cifar10",
        "cifar10",
        "cifar",
        {"test": (FileInfo("test_batch", None, md5_of(batch)),)},
        archive=archive,
        extracted_folder="cifar-10-batches-py",
    )
    x, y = load(info, "test", tmp_path / "data")
    assert x.shape == (6, 3, 32, 32) and y.tolist() == list(range(6))
    assert not (tmp_path / "data" / "escaped").exists() and not (tmp_path / "escaped").exists()


def test_missing_cifar_names_the_archive_and_the_batches(tmp_path):
    with pytest.raises(DatasetUnavailable) as raised:
        load("cifar10", "train", tmp_path)
    message = str(raised.value)
    assert "cifar-10-python.tar.gz (170,498,071 bytes, md5 c58f30108f718f92721af3b95e74349a)" in message
    assert "data_batch_5" in message and str(tmp_path / "cifar10") in message


def test_normalize_standardizes_per_channel():
    images = np.full((2, 3, 4, 4), 255, dtype=np.uint8)
    images[:, 1] = 0
    x = normalize(images, "cifar10")
    mean, std = cnn_datasets.NORMALIZATION["cifar10"]
    assert x.dtype == np.float32 and x.shape == images.shape
    np.testing.assert_allclose(x[0, :, 0, 0], [(1 - mean[0]) / std[0], -mean[1] / std[1], (1 - mean[2]) / std[2]])


def test_the_digits_fallback_needs_scikit_learn(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "sklearn", None)
    with pytest.raises(ImportError, match="scikit-learn"):
        cnn_datasets.load_digits_28("train")


def test_the_digits_fallback_is_mnist_shaped(monkeypatch):
    import sys
    import types

    digits = np.zeros((10, 8, 8))
    digits[:, 0, 0] = 16
    fake = types.ModuleType("sklearn.datasets")
    fake.load_digits = lambda: types.SimpleNamespace(images=digits, target=np.arange(10))
    monkeypatch.setitem(sys.modules, "sklearn", types.ModuleType("sklearn"))
    monkeypatch.setitem(sys.modules, "sklearn.datasets", fake)
    train_x, train_y = cnn_datasets.load_digits_28("train")
    test_x, test_y = cnn_datasets.load_digits_28("test")
    assert train_x.shape == (8, 1, 28, 28) and test_x.shape == (2, 1, 28, 28) and train_x.dtype == np.uint8
    assert sorted(train_y.tolist() + test_y.tolist()) == list(range(10))
    # The top-left pixel (16 = full ink) becomes a 3x3 block of 255 inside a 2-pixel border.
    assert train_x[0, 0, 2:5, 2:5].min() == 255 and train_x[0, 0, :2].max() == 0 and train_x[0, 0, 5:].max() == 0


@pytest.mark.skipif(
    not (SHARED_DATA / "mnist" / "t10k-images-idx3-ubyte.gz").is_file(),
    reason=f"the real MNIST test set is not at {SHARED_DATA / 'mnist'}",
)
def test_the_real_mnist_test_set_loads_and_verifies():
    x, y = load("mnist", "test", SHARED_DATA)
    assert x.shape == (10000, 1, 28, 28) and x.dtype == np.uint8
    assert y[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert np.bincount(y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
