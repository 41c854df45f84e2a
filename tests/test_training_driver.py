"""The training driver: device choice, mixed precision, on-device data and augmentation, outputs.

No GPU is needed: the CUDA and MPS choices are checked with torch's availability
functions patched, and the code paths CUDA takes (bfloat16 or float16 autocast with
a gradient scaler, channels_last) run on the CPU, where torch supports them too.
"""

import io
import json
import sys
import types
import warnings

import numpy as np
import pytest
import torch
from cnn_assignments.training import driver
from cnn_datasets.cifar import write_cifar_batch
from cnn_datasets.idx import write_idx

# This module's torch work runs on one thread (see tests/conftest.py).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch, no_gpu):
    assert driver.select_device("auto") == torch.device("cpu")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert driver.select_device("auto") == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert driver.select_device("auto") == torch.device("cuda")


def test_an_explicit_device_must_exist(no_gpu):
    assert driver.select_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="no CUDA GPU"):
        driver.select_device("cuda")
    with pytest.raises(ValueError, match="MPS is not available"):
        driver.select_device("mps")


def test_the_chosen_device_is_described(monkeypatch):
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H100 80GB HBM3")
    assert driver.describe_device(torch.device("cuda")) == "cuda (NVIDIA H100 80GB HBM3)"
    assert driver.describe_device(torch.device("mps")).startswith("mps")
    assert driver.describe_device(torch.device("cpu")).startswith("cpu (")


def test_mixed_precision_on_cuda_is_bf16_where_supported_else_fp16_with_a_scaler(monkeypatch):
    cuda = torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: True)
    assert driver.mixed_precision(cuda) == (torch.bfloat16, None)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a CUDA GradScaler on a machine without CUDA warns that it is disabled
        dtype, scaler = driver.mixed_precision(cuda)
    assert dtype == torch.float16 and isinstance(scaler, torch.amp.GradScaler)
    assert driver.mixed_precision(cuda, "off") == (None, None)


def test_mixed_precision_elsewhere_only_when_asked():
    cpu = torch.device("cpu")
    assert driver.mixed_precision(cpu) == (None, None)
    assert driver.mixed_precision(torch.device("mps")) == (None, None)
    assert driver.mixed_precision(cpu, "bf16") == (torch.bfloat16, None)
    dtype, scaler = driver.mixed_precision(cpu, "fp16")
    assert dtype == torch.float16 and scaler is not None and scaler.is_enabled()
    with pytest.raises(ValueError, match="unknown mixed-precision mode"):
        driver.mixed_precision(cpu, "fp8")


def test_channels_last_on_cuda_by_default():
    assert driver.use_channels_last(torch.device("cuda"))
    assert not driver.use_channels_last(torch.device("cpu"))
    assert driver.use_channels_last(torch.device("cpu"), "on")
    assert not driver.use_channels_last(torch.device("cuda"), "off")


def test_random_crop_flip_cuts_windows_of_the_padded_images():
    images = torch.arange(2 * 3 * 5 * 6, dtype=torch.float32).reshape(2, 3, 5, 6) + 1
    assert torch.equal(driver.random_crop_flip(images, 0, flip=False), images)
    padded = torch.nn.functional.pad(images, (2, 2, 2, 2))
    out = driver.random_crop_flip(images, 2, torch.Generator().manual_seed(0))
    assert out.shape == images.shape
    for index in range(2):
        windows = [
            window
            for top in range(5)
            for left in range(5)
            for window in (padded[index, :, top : top + 5, left : left + 6],)
            for window in (window, window.flip(-1))
        ]
        assert any(torch.equal(out[index], window) for window in windows), "not a (mirrored) crop of the padded image"


def test_random_crop_flip_mirrors_about_half_and_is_seeded():
    images = torch.rand(400, 1, 4, 4)
    out = driver.random_crop_flip(images, 0, torch.Generator().manual_seed(1))
    mirrored = [torch.equal(o, i.flip(-1)) and not torch.equal(o, i) for o, i in zip(out, images)]
    assert 150 < sum(mirrored) < 250
    again = driver.random_crop_flip(images, 0, torch.Generator().manual_seed(1))
    assert torch.equal(out, again)


def test_device_loader_serves_every_image_once_per_pass_normalized():
    images = np.arange(10, dtype=np.uint8).reshape(10, 1, 1, 1) * 20
    labels = np.arange(10)
    loader = driver.DeviceLoader(images, labels, 4, torch.device("cpu"), (0.5,), (0.25,), shuffle=True, seed=3)
    assert len(loader) == 3
    orders = []
    for _ in range(2):
        batches = list(loader)
        assert [len(y) for _, y in batches] == [4, 4, 2]
        x = torch.cat([b[0] for b in batches]).flatten()
        y = torch.cat([b[1] for b in batches])
        assert sorted(y.tolist()) == list(range(10))
        torch.testing.assert_close(x, (y.float() * 20 / 255 - 0.5) / 0.25)
        orders.append(y.tolist())
    assert orders[0] != orders[1], "each pass draws a new order"


def test_device_loader_augments_and_uses_channels_last():
    images = np.random.default_rng(0).integers(0, 256, (6, 3, 8, 8), dtype=np.uint8)
    loader = driver.DeviceLoader(
        images, np.zeros(6), 6, torch.device("cpu"), (0, 0, 0), (1, 1, 1), augment=True, channels_last=True
    )
    x, _ = next(iter(loader))
    assert x.shape == (6, 3, 8, 8) and x.is_contiguous(memory_format=torch.channels_last)
    assert not torch.equal(x, torch.as_tensor(images).float() / 255)


def test_progress_bar_writes_one_line_when_not_on_a_terminal():
    stream = io.StringIO()
    batches = [(None, [0] * 3)] * 4
    assert list(driver.ProgressBar(batches, 4, "epoch 1/1", stream)) == batches
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("epoch 1/1 [" + "#" * 30 + "] 4/4")
    assert "img/s" in lines[0]


def test_progress_bar_redraws_in_place_on_a_terminal():
    stream = io.StringIO()
    stream.isatty = lambda: True
    list(driver.ProgressBar([(None, [0])] * 3, 3, "epoch", stream))
    assert stream.getvalue().startswith("\r") and stream.getvalue().endswith("\n")


def _tiny_loaders(channels=1, size=28, count=64, seed=0):
    rng = np.random.default_rng(seed)
    images, labels = rng.integers(0, 256, (count, channels, size, size), dtype=np.uint8), rng.integers(0, 10, count)
    mean, std = (0.5,) * channels, (0.25,) * channels
    train = driver.DeviceLoader(images, labels, 16, torch.device("cpu"), mean, std, shuffle=True)
    return train, driver.DeviceLoader(images[:32], labels[:32], 16, torch.device("cpu"), mean, std)


@pytest.mark.parametrize("amp, scaler", [("bf16", False), ("fp16", True)])
def test_the_cuda_recipe_runs_on_the_cpu(amp, scaler):
    """Autocast, a gradient scaler and channels_last: what CUDA gets, on the CPU."""
    from cnn_reference.training import models, train

    model = models.LeNet5()
    recipe = driver.Recipe(epochs=2, batch_size=16, lr=0.05, weight_decay=5e-4)
    train_loader, test_loader = _tiny_loaders()
    stream = io.StringIO()
    history = driver.fit(model, train, train_loader, test_loader, recipe, torch.device("cpu"), amp, "on", True, stream)
    assert history.setup["amp"] == {"bf16": "bfloat16", "fp16": "float16"}[amp]
    assert history.setup["grad_scaler"] is scaler and history.setup["channels_last"] is True
    assert model.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    assert len(history.epochs) == 2 and all(np.isfinite(r["train_loss"]) for r in history.epochs)
    assert "epoch  2: train loss" in stream.getvalue()


def test_the_one_cycle_schedule_steps_every_batch():
    from cnn_reference.training import models, train

    model = models.LeNet5()
    # OneCycleLR peaks at step warmup_fraction * total_steps - 1 = 0.625 * 8 - 1 = 4.
    recipe = driver.Recipe(epochs=2, batch_size=16, lr=0.1, weight_decay=0.0, warmup_fraction=0.625)
    train_loader, test_loader = _tiny_loaders()
    history = driver.fit(model, train, train_loader, test_loader, recipe, torch.device("cpu"), progress=False)
    start, middle = (r["lr_at_start"] for r in history.epochs)
    # Four batches per epoch: the second epoch starts at the peak only if the first stepped four times.
    assert start == pytest.approx(0.01) and middle == pytest.approx(0.1)


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """Small MNIST and CIFAR-10 folders in the real file formats (their checksums are not the canonical ones)."""
    monkeypatch.setenv("CNNKIT_NO_DOWNLOAD", "1")
    rng = np.random.default_rng(0)
    mnist = tmp_path / "data" / "mnist"
    mnist.mkdir(parents=True)
    for prefix, count in (("train", 96), ("t10k", 48)):
        write_idx(mnist / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (count, 28, 28), dtype=np.uint8))
        write_idx(mnist / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, count).astype(np.uint8))
    cifar = tmp_path / "data" / "cifar10" / "cifar-10-batches-py"
    cifar.mkdir(parents=True)
    for name in ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"):
        write_cifar_batch(cifar / name, rng.integers(0, 256, (8, 3, 32, 32), dtype=np.uint8), rng.integers(0, 10, 8))
    return tmp_path / "data"


def _run(argv, capsys):
    code = driver.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_quick_lenet_run_writes_checkpoint_metrics_and_curves(data_dir, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["--model", "lenet", "--dataset", "mnist", "--epochs", "2", "--device", "auto", "--reference"]
    argv += ["--data-dir", str(data_dir), "--no-verify", "--out-dir", str(out), "--limit-train", "64"]
    code, stdout, stderr = _run(argv, capsys)
    assert code == 0, stderr
    assert "device: cpu" in stdout and "64 train / 48 test images, 2 epochs" in stdout
    assert "epoch  2/2 [" in stderr  # the progress bar
    state = torch.load(out / "lenet_mnist.pt", weights_only=True)
    from cnn_reference.training.models import LeNet5

    LeNet5().load_state_dict(state, strict=True)
    metrics = json.loads((out / "lenet_mnist.json").read_text())
    assert metrics["model"] == "lenet" and metrics["dataset"] == "mnist" and metrics["device"].startswith("cpu")
    assert len(metrics["epochs"]) == 2 and metrics["parameters"] == 61_706 and metrics["amp"] == "off"
    assert 0 <= metrics["final_test_accuracy"] <= 1
    assert (out / "lenet_mnist.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_resnet_run_on_cifar_augments_on_the_device(data_dir, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["--model", "resnet18", "--dataset", "cifar10", "--epochs", "1", "--batch-size", "20", "--reference"]
    argv += ["--data-dir", str(data_dir), "--no-verify", "--out-dir", str(out), "--limit-train", "20"]
    argv += ["--limit-test", "8", "--no-progress"]
    code, stdout, stderr = _run(argv, capsys)
    assert code == 0, stderr
    metrics = json.loads((out / "resnet18_cifar10.json").read_text())
    assert metrics["recipe"]["augment"] is True and metrics["parameters"] == 11_173_962
    assert metrics["train_images"] == 20 and metrics["test_images"] == 8


def test_the_stubs_say_what_to_do(data_dir, tmp_path, capsys):
    argv = ["--data-dir", str(data_dir), "--no-verify", "--out-dir", str(tmp_path), "--epochs", "1"]
    code, _, stderr = _run(argv, capsys)
    assert code == 2 and "is not written yet" in stderr and "pytest" in stderr


def test_lenet_on_cifar_is_refused(data_dir, capsys):
    code, _, stderr = _run(["--model", "lenet", "--dataset", "cifar10", "--data-dir", str(data_dir)], capsys)
    assert code == 2 and "LeNet5 takes 28x28 images" in stderr


def test_missing_data_names_the_files(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CNNKIT_NO_DOWNLOAD", "1")
    monkeypatch.setitem(sys.modules, "sklearn", None)  # the fallback is unavailable too
    code, _, stderr = _run(["--reference", "--data-dir", str(tmp_path)], capsys)
    assert code == 2
    assert "train-images-idx3-ubyte.gz" in stderr and str(tmp_path / "mnist") in stderr and "scikit-learn" in stderr


def test_mnist_falls_back_to_the_digits_loudly(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CNNKIT_NO_DOWNLOAD", "1")
    rng = np.random.default_rng(0)
    fake = types.ModuleType("sklearn.datasets")
    fake.load_digits = lambda: types.SimpleNamespace(
        images=rng.integers(0, 17, (60, 8, 8)).astype(float), target=rng.integers(0, 10, 60)
    )
    monkeypatch.setitem(sys.modules, "sklearn", types.ModuleType("sklearn"))
    monkeypatch.setitem(sys.modules, "sklearn.datasets", fake)
    argv = ["--reference", "--data-dir", str(tmp_path / "none"), "--out-dir", str(tmp_path / "out"), "--epochs", "1"]
    code, stdout, stderr = _run(argv + ["--no-progress"], capsys)
    assert code == 0, stderr
    assert "NOT MNIST" in stdout and "train-images-idx3-ubyte.gz" in stdout
    assert json.loads((tmp_path / "out" / "lenet_digits.json").read_text())["dataset"] == "digits"
