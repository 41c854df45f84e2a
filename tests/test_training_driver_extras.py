"""The training driver's CPU thread choice, time estimates, stand-in data, fast recipe and profiler.

Everything runs on the CPU; the fast recipe's CUDA-only part (torch.compile) is
switched off there by the recipe itself, which is checked here too.
"""

import io
import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from cnn_assignments.training import driver
from cnn_datasets.idx import write_idx

# This module's torch work runs on one thread (see tests/conftest.py).
pytestmark = pytest.mark.usefixtures("one_torch_thread")

SHARED_DATA = Path(driver.KIT_ROOT).parent / "shared" / "datasets"


# --- threads and time -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("timings, best", [({1: 0.02, 2: 0.06}, 1), ({1: 0.9, 2: 0.5}, 2)])
def test_the_faster_thread_count_is_chosen_and_set(monkeypatch, timings, best):
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    chosen = []
    monkeypatch.setattr(torch, "set_num_threads", chosen.append)
    monkeypatch.setattr(driver, "seconds_per_step", lambda model, batch: timings[chosen[-1]])
    assert driver.choose_threads(torch.nn.Linear(1, 1), (None, None)) == (best, timings)
    assert chosen[-1] == best


def test_a_step_is_timed_on_a_copy_that_leaves_the_model_alone():
    from cnn_reference.training.models import ResNet

    model = ResNet([1, 1, 1, 1], num_classes=10, in_channels=3)
    before = {key: value.clone() for key, value in model.state_dict().items()}
    batch = (torch.randn(4, 3, 8, 8), torch.tensor([0, 1, 2, 3]))
    assert 0 < driver.seconds_per_step(model, batch, steps=1) < 60
    assert all(torch.equal(before[key], value) for key, value in model.state_dict().items())


def test_a_run_of_hours_is_warned_about():
    stream = io.StringIO()
    assert driver.warn_if_long(2.0, 3_900, stream, "resnet18", "cifar10") == 7_800
    assert "WARNING" in stream.getvalue() and "2:10:00" in stream.getvalue() and "GPU" in stream.getvalue()
    quiet = io.StringIO()
    driver.warn_if_long(0.01, 3_900, quiet, "lenet", "mnist")
    assert quiet.getvalue() == ""


def test_durations_read_as_clock_times():
    assert [driver.format_duration(s) for s in (0, 59.6, 61, 3_600, 36_125)] == [
        "0:00",
        "1:00",
        "1:01",
        "1:00:00",
        "10:02:05",
    ]
    assert driver.format_duration(float("nan")) == "?"


def test_the_progress_bar_shows_the_time_left_of_the_epoch_and_the_run(monkeypatch):
    clock = iter([100.0, 110.0, 110.0])  # started; then 10 s after the second of four batches
    monkeypatch.setattr(driver.time, "perf_counter", lambda: next(clock))
    bar = driver.ProgressBar([], 4, "epoch 1/3", io.StringIO(), later_batches=8)
    bar.images = 32
    # 5 s a batch: 2 batches left in this epoch, 2 + 8 in the run.
    assert bar.line(2).endswith("3 img/s, ETA 0:10, run ETA 0:50")


def test_a_cpu_run_names_its_thread_count(data_dir, tmp_path, capsys):
    argv = ["--reference", "--data-dir", str(data_dir), "--no-verify", "--out-dir", str(tmp_path), "--epochs", "1"]
    assert driver.main(argv + ["--no-progress", "--limit-train", "32"]) == 0
    assert "threads: 1, the fastest per training step of those timed (1: " in capsys.readouterr().out


# --- data -----------------------------------------------------------------------------------------------------------


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """A data folder holding only MNIST's test set files, in the real format (not the canonical checksums)."""
    monkeypatch.setenv("CNNKIT_NO_DOWNLOAD", "1")
    rng = np.random.default_rng(0)
    mnist = tmp_path / "data" / "mnist"
    mnist.mkdir(parents=True)
    write_idx(mnist / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (60, 28, 28), dtype=np.uint8))
    write_idx(mnist / "t10k-labels-idx1-ubyte.gz", rng.integers(0, 10, 60).astype(np.uint8))
    return tmp_path / "data"


def test_the_mnist_test_set_alone_is_split_for_a_real_data_run(data_dir, tmp_path, capsys):
    argv = ["--reference", "--data-dir", str(data_dir), "--no-verify", "--out-dir", str(tmp_path), "--epochs", "1"]
    assert driver.main(argv + ["--no-progress"]) == 0
    stdout = capsys.readouterr().out
    assert "its test set is here, so the run trains on 48 of its images and evaluates on 12 others" in stdout
    assert "not one to submit" in stdout and "To submit it" not in stdout
    metrics = json.loads((tmp_path / "lenet_mnist-test-split.json").read_text())
    assert metrics["train_images"] == 48 and metrics["test_images"] == 12


def test_the_test_set_split_is_fixed_and_disjoint():
    labels = np.arange(10_000)
    (train_x, train_y), (test_x, test_y) = driver.split_test_set(labels[:, None], labels)
    assert len(train_y) == 8_000 and len(test_y) == 2_000 and not set(train_y) & set(test_y)
    assert np.array_equal(driver.split_test_set(labels[:, None], labels)[1][1], test_y)


@pytest.mark.skipif(
    not (SHARED_DATA / "mnist" / "t10k-images-idx3-ubyte.gz").is_file(),
    reason=f"the real MNIST test set is not in {SHARED_DATA / 'mnist'}",
)
def test_a_real_data_lenet_run_on_the_shared_mnist_test_set(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CNNKIT_NO_DOWNLOAD", "1")
    argv = ["--reference", "--data-dir", str(SHARED_DATA), "--out-dir", str(tmp_path), "--epochs", "1"]
    assert driver.main(argv + ["--no-progress", "--threads", "1"]) == 0
    metrics = json.loads((tmp_path / "lenet_mnist-test-split.json").read_text())
    assert metrics["train_images"] == 8_000 and metrics["test_images"] == 2_000
    assert metrics["final_test_accuracy"] > 0.9  # one epoch of real digits; the bench measures the full recipe


@pytest.fixture
def fake_digits(monkeypatch):
    """scikit-learn's digits replaced by 60 random ones: the kit does not depend on scikit-learn."""
    rng = np.random.default_rng(0)
    digits = types.SimpleNamespace(images=rng.integers(0, 17, (60, 8, 8)).astype(float), target=rng.integers(0, 10, 60))
    fake = types.ModuleType("sklearn.datasets")
    fake.load_digits = lambda: digits
    monkeypatch.setitem(sys.modules, "sklearn", types.ModuleType("sklearn"))
    monkeypatch.setitem(sys.modules, "sklearn.datasets", fake)


def test_the_cifar_shaped_stand_in_paints_the_digits(fake_digits):
    from cnn_datasets import load_digits_28, load_digits_rgb_32

    images, labels = load_digits_rgb_32("train")
    _, gray_labels = load_digits_28("train")
    assert images.shape == (48, 3, 32, 32) and images.dtype == np.uint8 and np.array_equal(labels, gray_labels)
    # Each 8x8 pixel becomes a 4x4 block of one colour.
    block = images[:, :, :4, :4].reshape(48, 3, 16)
    assert np.all(block == block[:, :, :1])
    corner = images[:, :, 0, 0]
    assert len({tuple(colour) for colour in corner}) > 40, "backgrounds differ from image to image"


def test_cifar10_falls_back_to_the_stand_in_loudly(fake_digits, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CNNKIT_NO_DOWNLOAD", "1")
    argv = ["--reference", "--model", "resnet18", "--dataset", "cifar10", "--data-dir", str(tmp_path / "none")]
    argv += ["--out-dir", str(tmp_path / "out"), "--epochs", "1", "--batch-size", "16", "--limit-train", "16"]
    assert driver.main(argv + ["--limit-test", "8", "--no-progress"]) == 0
    stdout = capsys.readouterr().out
    assert "This is NOT CIFAR-10" in stdout and "cifar-10-python.tar.gz" in stdout
    metrics = json.loads((tmp_path / "out" / "resnet18_digits-rgb.json").read_text())
    assert metrics["dataset"] == "digits-rgb" and metrics["recipe"]["augment"] is True


# --- recipes --------------------------------------------------------------------------------------------------------


def _loaders(count=64, size=28, channels=1, **options):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (count, channels, size, size), dtype=np.uint8)
    labels = rng.integers(0, 10, count)
    mean, std = (0.5,) * channels, (0.25,) * channels
    train = driver.DeviceLoader(images, labels, 16, torch.device("cpu"), mean, std, shuffle=True, **options)
    return train, driver.DeviceLoader(images[:32], labels[:32], 16, torch.device("cpu"), mean, std)


def test_the_momentum_stays_as_the_recipe_says():
    from cnn_reference.training import models, train

    recipe = driver.Recipe(epochs=3, batch_size=16, lr=0.1, weight_decay=0.0, momentum=0.9)
    train_loader, test_loader = _loaders()
    history = driver.fit(models.LeNet5(), train, train_loader, test_loader, recipe, torch.device("cpu"), progress=False)
    assert [record["momentum"] for record in history.epochs] == [0.9, 0.9, 0.9]


def test_the_fast_recipe_uses_the_known_tricks_and_compiles_on_cuda_only():
    for model in ("lenet", "resnet18"):
        fast = driver.default_recipe(model, "cifar10" if model == "resnet18" else "mnist", torch.device("cpu"), "fast")
        assert fast.name == "fast" and fast.batch_size >= 1024 and fast.drop_last and fast.label_smoothing > 0
        assert not fast.decay_norm_and_bias and not fast.evaluate_every_epoch and not fast.compile
        assert driver.default_recipe(model, "mnist", torch.device("cuda"), "fast").compile
    resnet = driver.default_recipe("resnet18", "cifar10", torch.device("cuda"), "fast")
    assert resnet.ema_decay and resnet.flip_test and resnet.augment
    assert not driver.default_recipe("lenet", "mnist", torch.device("cuda"), "fast").flip_test  # digits don't mirror
    with pytest.raises(ValueError, match="unknown recipe"):
        driver.default_recipe("lenet", "mnist", torch.device("cpu"), "fastest")


def test_the_training_loader_follows_the_recipe_and_keeps_a_split_smaller_than_a_batch():
    recipe = driver.Recipe(epochs=1, batch_size=16, lr=0.1, weight_decay=0.0, drop_last=True, label_smoothing=0.2)
    images = np.random.default_rng(0).integers(0, 256, (40, 1, 8, 8), dtype=np.uint8)
    labels, cpu = np.arange(40) % 10, torch.device("cpu")
    loader = driver.training_loader(recipe, images, labels, cpu, (0.5,), (0.25,), seed=3)
    assert len(list(loader)) == 2, "40 images in batches of 16 with drop_last: two full batches"
    assert list(loader)[0][1].shape == (16, 10), "label smoothing gives class probabilities"
    first_orders = [torch.cat([y.argmax(1) for _, y in loader]) for _ in range(2)]
    assert not torch.equal(*first_orders), "a training loader shuffles every epoch"
    tiny = driver.training_loader(recipe, images[:5], labels[:5], cpu, (0.5,), (0.25,))
    assert [len(y) for _, y in tiny] == [5], "a split smaller than a batch still gives its one batch"


def test_labels_are_smoothed_and_the_last_batch_dropped():
    loader, _ = _loaders(count=40, drop_last=True, label_smoothing=0.2)
    batches = list(loader)
    assert len(loader) == len(batches) == 2 and all(len(y) == 16 for _, y in batches)
    targets = batches[0][1]
    assert targets.shape == (16, 10) and torch.allclose(targets.sum(1), torch.ones(16))
    assert torch.allclose(targets.max(1).values, torch.full((16,), 0.8 + 0.02))
    assert torch.allclose(targets.min(1).values, torch.full((16,), 0.02))


def test_weight_decay_spares_norms_and_biases_when_asked():
    from cnn_reference.training.models import BasicBlock

    block = BasicBlock(4, 8, stride=2)
    decayed, spared = driver.parameter_groups(block, 5e-4, decay_norm_and_bias=False)
    assert [p.dim() for p in decayed["params"]] == [4, 4, 4] and decayed["weight_decay"] == 5e-4
    assert len(spared["params"]) == 6 and spared["weight_decay"] == 0.0
    (everything,) = driver.parameter_groups(block, 5e-4, decay_norm_and_bias=True)
    assert len(everything["params"]) == 9


def test_flip_averaging_averages_each_image_with_its_mirror():
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3))
    x = torch.randn(2, 1, 3, 4)
    expected = 0.5 * (model(x) + model(x.flip(3)))
    torch.testing.assert_close(driver.FlipAveraged(model)(x), expected)


def test_the_fast_recipe_trains_a_resnet_with_your_loop(tmp_path):
    from cnn_reference.training import models, train

    model = models.ResNet([1, 1, 1, 1], num_classes=10, in_channels=3)
    recipe = driver.default_recipe("resnet18", "cifar10", torch.device("cpu"), "fast")
    recipe.epochs, recipe.batch_size = 2, 16
    train_loader, test_loader = _loaders(
        count=40, size=8, channels=3, drop_last=True, label_smoothing=recipe.label_smoothing, augment=True
    )
    stream = io.StringIO()
    history = driver.fit(model, train, train_loader, test_loader, recipe, torch.device("cpu"), stream=stream)
    first, last = history.epochs
    assert first["test_accuracy"] is None and 0 <= last["test_accuracy"] <= 1
    assert "evaluated after the last epoch only" in stream.getvalue()
    assert all(np.isfinite(record["train_loss"]) for record in history.epochs)
    assert history.setup["recipe"]["ema_decay"] == recipe.ema_decay
    assert driver.plot_curves(history, tmp_path / "curves.png", "fast").is_file()  # one tested epoch is plotted


def test_the_fast_recipe_runs_from_the_command_line(data_dir, tmp_path, capsys):
    argv = ["--reference", "--recipe", "fast", "--data-dir", str(data_dir), "--no-verify", "--out-dir", str(tmp_path)]
    assert driver.main(argv + ["--epochs", "2", "--no-progress"]) == 0
    metrics = json.loads((tmp_path / "lenet_mnist-test-split.json").read_text())
    assert metrics["recipe"]["name"] == "fast" and metrics["recipe"]["label_smoothing"] == 0.1
    assert metrics["epochs"][0]["test_accuracy"] is None and metrics["final_test_accuracy"] >= 0


# --- profile --------------------------------------------------------------------------------------------------------


def test_the_profile_breaks_the_forward_time_down_by_kind_of_layer(data_dir, tmp_path, capsys):
    argv = ["--reference", "--profile", "--data-dir", str(data_dir), "--no-verify", "--out-dir", str(tmp_path)]
    assert driver.main(argv) == 0
    assert "convolution" in capsys.readouterr().out
    profile = json.loads((tmp_path / "lenet_mnist-test-split_profile.json").read_text())
    layers = profile["layers"]
    assert {"convolution", "linear", "ReLU", "max pooling"} <= set(layers)
    assert layers["convolution"]["calls"] == 2 and layers["linear"]["calls"] == 3
    assert sum(entry["share"] for entry in layers.values()) == pytest.approx(1.0)
    assert profile["time"] == "cpu" and profile["forward_ms"] > 0
    assert (tmp_path / "lenet_mnist-test-split_profile.png").read_bytes()[:4] == b"\x89PNG"
    assert not (tmp_path / "lenet_mnist-test-split.pt").exists(), "--profile does not train"


# --- the GPU bench script -------------------------------------------------------------------------------------------


def _gpu_bench():
    import importlib.util

    path = Path(driver.KIT_ROOT) / "tests" / "bench" / "gpu.py"
    spec = importlib.util.spec_from_file_location("gpu_bench", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_gpu_bench_says_it_needs_cuda(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert _gpu_bench().main([]) == 2
    assert "needs a CUDA GPU" in capsys.readouterr().err


def test_the_gpu_bench_runs_its_code_paths_on_the_cpu(data_dir, tmp_path, capsys):
    from cnn_datasets.cifar import write_cifar_batch

    rng = np.random.default_rng(0)
    cifar = data_dir / "cifar10" / "cifar-10-batches-py"
    cifar.mkdir(parents=True)
    for name in ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"):
        write_cifar_batch(cifar / name, rng.integers(0, 256, (8, 3, 32, 32), dtype=np.uint8), rng.integers(0, 10, 8))
    assert _gpu_bench().main(["--smoke", "--data-dir", str(data_dir)]) == 0
    table = capsys.readouterr().out
    assert "LeNet-5, MNIST 8,000/2,000" in table and "not reached, best" in table
    assert "images/s" in table and "--recipe fast, CIFAR-10" in table and "SKIPPED" not in table
