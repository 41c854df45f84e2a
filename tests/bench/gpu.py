"""GPU measurements of the training assignment's reference models, in one table, in under 5 minutes.

    .venv/bin/python tests/bench/gpu.py                  # on a machine with a CUDA GPU
    .venv/bin/python tests/bench/gpu.py --smoke          # the same code paths on the CPU, tiny sizes

Measured, with the training driver's own code (recipes, on-device data, bfloat16
autocast, channels_last):

1. LeNet-5 on the MNIST test set split 8,000 / 2,000 (the split of
   bench_training.py), plain GPU recipe: seconds until the held-out accuracy first
   reaches 98.5% (evaluated after every epoch; evaluation time included).
2. ResNet-18 training throughput, images/s, batch 512 of 32x32 images, bfloat16
   autocast and channels_last (synthetic data: the speed does not depend on it).
3. The fast recipe (--recipe fast) on CIFAR-10, when the data is present: seconds
   (torch.compile included) and final test accuracy, against the 94% target.

The data is looked up in --data-dir (default ../shared/datasets beside the kit, as
bench_training.py does), then in the kit's data folder; nothing is downloaded. The
script is not one of `make bench`'s modules (it needs a GPU); without CUDA it says
so and exits with status 2.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

KIT_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = KIT_ROOT.parent / "shared" / "datasets"
LENET_TARGET, CIFAR_TARGET = 0.985, 0.94
NO_CUDA = (
    "tests/bench/gpu.py measures GPU training and needs a CUDA GPU, which torch does not see on this machine "
    "(torch.cuda.is_available() is False). Run it where a GPU is lent, or pass --smoke for a dry run on the CPU."
)


@dataclass
class Row:
    """One line of the table: what was measured, its value, the target and the verdict."""

    measure: str
    value: str
    target: str
    verdict: str


def load_split(name: str, data_dir: Path, split: str, verify: bool = True):
    """(images, labels) of one split from data_dir or the kit's data folder, or None when neither has it.

    verify=False accepts files whose checksums are not the canonical ones (a smoke run's small files).
    """
    from cnn_datasets import DatasetUnavailable, load
    from cnn_datasets import data_dir as kit_data_dir

    for root in (data_dir, kit_data_dir()):
        try:
            return load(name, split, root, verify=verify)
        except DatasetUnavailable:
            continue
    return None


def lenet_time_to_target(device: torch.device, data_dir: Path, smoke: bool) -> Row:
    """Seconds until the reference LeNet-5 first reaches 98.5% on the 2,000 held-out images of the MNIST test set."""
    from cnn_assignments.training import driver
    from cnn_datasets import NORMALIZATION
    from cnn_reference.training import models, train

    measure = "LeNet-5, MNIST 8,000/2,000: seconds to 98.5%"
    test_set = load_split("mnist", data_dir, "test", verify=not smoke)
    if test_set is None:
        return Row(measure, "no data", "(info)", f"SKIPPED: no MNIST test set in {data_dir}")
    (train_x, train_y), (test_x, test_y) = driver.split_test_set(*test_set)
    recipe = driver.default_recipe("lenet", "mnist", device)
    recipe.epochs = 1 if smoke else 20  # the recipe's 12 and some slack: the clock stops at the target
    driver.seed_everything(0)
    mean, std = NORMALIZATION["mnist"]
    train_loader = driver.training_loader(recipe, train_x, train_y, device, mean, std)
    test_loader = driver.DeviceLoader(test_x, test_y, 2048, device, mean, std)
    history = driver.fit(
        models.LeNet5(), train, train_loader, test_loader, recipe, device, progress=False, stream=io.StringIO()
    )
    elapsed = 0.0
    for record in history.epochs:
        elapsed += record["seconds"]
        if record["test_accuracy"] >= LENET_TARGET:
            return Row(measure, f"{elapsed:.1f} s (epoch {record['epoch']})", "<= 3 s", _verdict(elapsed <= 3.0))
    best = max(record["test_accuracy"] for record in history.epochs)
    return Row(measure, f"not reached, best {100 * best:.2f}%", "<= 3 s", "MISSED")


def resnet_images_per_second(device: torch.device, smoke: bool) -> Row:
    """Training images per second of the reference ResNet-18: batch 512, bfloat16 autocast, channels_last."""
    import torch.nn.functional as F
    from cnn_reference.training import models

    batch, steps = (8, 2) if smoke else (512, 30)
    model = models.resnet18().to(device).to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    x = torch.randn(batch, 3, 32, 32, device=device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,), device=device)

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16):
            loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(3 if not smoke else 1):  # cuDNN's autotuning and the allocator settle first
        step()
    _synchronize(device)
    started = time.perf_counter()
    for _ in range(steps):
        step()
    _synchronize(device)
    rate = batch * steps / (time.perf_counter() - started)
    return Row(
        "ResNet-18 training, bf16 + channels_last: images/s", f"{rate:,.0f}", ">= 30,000", _verdict(rate >= 30_000)
    )


def fast_recipe_on_cifar10(device: torch.device, data_dir: Path, smoke: bool) -> Row:
    """The fast recipe's wall time and final accuracy on CIFAR-10 (training, compilation and evaluation)."""
    from cnn_assignments.training import driver
    from cnn_datasets import NORMALIZATION
    from cnn_reference.training import models, train

    measure = "ResNet-18, --recipe fast, CIFAR-10: seconds, accuracy"
    train_set = load_split("cifar10", data_dir, "train", verify=not smoke)
    test_set = load_split("cifar10", data_dir, "test", verify=not smoke)
    if train_set is None or test_set is None:
        return Row(measure, "no data", ">= 94%", f"SKIPPED: no CIFAR-10 in {data_dir} or the kit's data folder")
    recipe = driver.default_recipe("resnet18", "cifar10", device, "fast")
    if smoke:
        recipe.epochs, recipe.batch_size, recipe.compile = 1, 16, False
        train_set, test_set = (train_set[0][:64], train_set[1][:64]), (test_set[0][:32], test_set[1][:32])
    driver.seed_everything(0)
    mean, std = NORMALIZATION["cifar10"]
    train_loader = driver.training_loader(recipe, *train_set, device, mean, std)
    test_loader = driver.DeviceLoader(*test_set, 2048, device, mean, std)
    amp = "auto" if device.type == "cuda" else "off"
    started = time.perf_counter()
    history = driver.fit(
        models.resnet18(), train, train_loader, test_loader, recipe, device, amp, progress=False, stream=io.StringIO()
    )
    seconds = time.perf_counter() - started
    accuracy = history.final_accuracy
    value = f"{seconds:.1f} s, {100 * accuracy:.2f}%"
    return Row(measure, value, ">= 94%", _verdict(accuracy >= CIFAR_TARGET))


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def print_table(rows: list[Row], device: torch.device) -> None:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)"
    print(f"device: {name}; torch {torch.__version__}")
    print(f"{'measure':<56} {'value':>26} {'target':>10}  verdict")
    for row in rows:
        print(f"{row.measure:<56} {row.value:>26} {row.target:>10}  {row.verdict}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=SHARED_DATA, help="where mnist/ and cifar10/ are looked up")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes on the CPU: checks the code paths only")
    parser.add_argument("--skip-cifar", action="store_true", help="leave out the fast CIFAR-10 run")
    args = parser.parse_args(argv)
    if not args.smoke and not torch.cuda.is_available():
        print(NO_CUDA, file=sys.stderr)
        return 2
    os.environ["CNNKIT_NO_DOWNLOAD"] = "1"  # a measurement must not wait on the network
    device = torch.device("cpu" if args.smoke else "cuda")
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    started = time.perf_counter()
    rows = [lenet_time_to_target(device, args.data_dir, args.smoke), resnet_images_per_second(device, args.smoke)]
    if not args.skip_cifar:
        rows.append(fast_recipe_on_cifar10(device, args.data_dir, args.smoke))
    print_table(rows, device)
    print(
        f"total {time.perf_counter() - started:.0f} s"
        + (" (smoke run: sizes too small to mean anything)" if args.smoke else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
