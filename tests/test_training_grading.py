"""The training assignment's tests grade as designed.

The reference passes every public and hidden test (but the checkpoint ones, which
skip with their reason when no checkpoint is submitted); the stubs fail every one;
submitted checkpoints are measured on the grader's test set, scored by threshold,
and refused when they are not plain state_dicts.
"""

import gzip
import shutil

import cnn_datasets
import numpy as np
import pytest
import torch
from cnn_datasets.cifar import write_cifar_batch
from cnn_datasets.idx import write_idx
from cnn_datasets.manifest import DatasetInfo, FileInfo

from autograder.core.assignments import TRAINING
from autograder.core.results import GRADER_LACKS, GradeReport, TestResult
from autograder.core.runner import run_tests

# This module's torch work runs on one thread (see tests/conftest.py).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def reference_report(tmp_path_factory):
    """The reference's code alone: staff may keep trained checkpoints beside it, which would change the report."""
    folder = tmp_path_factory.mktemp("reference")
    for file_name in TRAINING.files:
        shutil.copy(TRAINING.reference_dir / file_name, folder / file_name)
    return run_tests(TRAINING, folder, hidden=True)


@pytest.fixture(scope="module")
def stub_report():
    return run_tests(TRAINING, TRAINING.student_dir, hidden=True)


def _is_hidden(test) -> bool:
    return test.visibility == "after_published"


def _is_checkpoint(test) -> bool:
    return test.part == "checkpoints"


def test_reference_passes_every_public_and_hidden_test(reference_report):
    assert not reference_report.output, reference_report.output
    failed = [f"{t.name}: {t.output}" for t in reference_report.tests if t.status != "passed" and not _is_checkpoint(t)]
    assert not failed, "\n".join(failed)
    public = [t for t in reference_report.tests if not _is_hidden(t)]
    hidden = [t for t in reference_report.tests if _is_hidden(t)]
    assert len(public) >= 30 and len(hidden) >= 20
    assert {t.part for t in public} == {"lenet", "resnet", "training"}
    assert {t.part for t in hidden} == set(TRAINING.parts)


def test_checkpoint_tests_skip_with_their_reason_when_nothing_is_submitted(reference_report, monkeypatch):
    monkeypatch.setenv("CNNKIT_NO_DOWNLOAD", "1")  # as the grader looks: only files already in place count
    checkpoint_tests = [t for t in reference_report.tests if _is_checkpoint(t)]
    assert len(checkpoint_tests) == 8
    for test in checkpoint_tests:
        assert test.status == "failed" and test.score == 0
        # The grader's missing test set comes first: it is the reason whatever was submitted.
        dataset = "mnist" if test.name.startswith("lenet") else "cifar10"
        reason = "was not submitted" if _grader_has(dataset) else f"{GRADER_LACKS} {dataset} test set"
        assert "skipped, so not graded" in test.output and reason in test.output, test.output


def _grader_has(dataset: str) -> bool:
    """Whether the hidden tests find the test set of `dataset` where the grader looks, without downloading."""
    from cnn_reference.training.hidden_tests.conftest import data_roots

    for root in data_roots():
        try:
            cnn_datasets.files.ensure_files(cnn_datasets.DATASETS[dataset], "test", root)
        except cnn_datasets.DatasetUnavailable:
            continue
        return True
    return False


def test_points_the_grader_cannot_grade_are_reported_at_the_top():
    lacking = TestResult(
        "a", "checkpoints", 2.0, 0.0, "failed", f"skipped, so not graded: {GRADER_LACKS} x test set", skipped=True
    )
    not_submitted = TestResult(
        "b", "checkpoints", 1.0, 0.0, "failed", "skipped, so not graded: b.pt was not submitted", skipped=True
    )
    report = GradeReport("training", tests=[lacking, lacking, not_submitted])
    assert report.grader_lacks_note().startswith("Note: 4 points (2 tests) were not graded")
    assert f"{GRADER_LACKS} x test set" in report.grader_lacks_note()
    assert GradeReport("training", tests=[not_submitted]).grader_lacks_note() == ""


def test_every_test_fails_on_the_stubs(stub_report, reference_report):
    passed = [t.name for t in stub_report.tests if t.status == "passed"]
    assert not passed, passed
    assert len(stub_report.tests) == len(reference_report.tests)
    assert stub_report.score == 0
    for test in stub_report.tests:
        assert test.output, f"{test.name} failed without a message"
        if not _is_checkpoint(test):
            assert "NotImplementedError" in test.output and "Hint:" in test.output, test.output


def test_every_test_carries_points_and_a_part(reference_report):
    for test in reference_report.tests:
        assert test.max_score > 0, f"{test.name} has no points marker"
        assert test.part in TRAINING.parts, f"{test.name} has part {test.part!r}"
        assert test.visibility == ("after_published" if "hidden" in test.nodeid else "visible"), test.nodeid


# --- submitted checkpoints, measured on a test set the grader holds -----------------------------------------------


@pytest.fixture
def lenet_submission(tmp_path):
    """A submission folder: the reference's files plus a LeNet checkpoint of random weights."""
    folder = tmp_path / "submission"
    folder.mkdir()
    for file_name in TRAINING.files:
        shutil.copy(TRAINING.reference_dir / file_name, folder / file_name)
    from cnn_reference.training.models import LeNet5

    torch.manual_seed(0)
    model = LeNet5()
    torch.save(model.state_dict(), folder / "lenet_mnist.pt")
    return folder, model


@pytest.fixture
def grader_mnist(tmp_path, monkeypatch, lenet_submission):
    """A grader data folder whose MNIST test set holds 300 images, labelled so the checkpoint gets `correct` right.

    The manifest entry is replaced by one with these files' own checksums: the grader
    verifies its test set as it would the real one.
    """
    _, model = lenet_submission

    def make(correct: int) -> None:
        root = tmp_path / "grader-data"
        (root / "mnist").mkdir(parents=True, exist_ok=True)
        images = np.random.default_rng(0).integers(0, 256, (300, 28, 28), dtype=np.uint8)
        with torch.no_grad():
            predicted = model(torch.as_tensor(cnn_datasets.normalize(images[:, None], "mnist"))).argmax(1).numpy()
        labels = predicted.copy()
        labels[correct:] = (labels[correct:] + 1) % 10
        files = []
        for name, array in (("t10k-images-idx3-ubyte.gz", images), ("t10k-labels-idx1-ubyte.gz", labels)):
            path = write_idx(root / "mnist" / name, array.astype(np.uint8))
            files.append(FileInfo(name, path.stat().st_size, cnn_datasets.files.md5_of(path)))
        info = DatasetInfo(name="mnist", folder="mnist", kind="idx", splits={"test": tuple(files)})
        monkeypatch.setitem(cnn_datasets.DATASETS, "mnist", info)
        monkeypatch.setenv("CNNKIT_DATA_DIR", str(root))

    return make


def _checkpoint_results(folder):
    report = run_tests(TRAINING, folder, hidden=True, extra_args=("-k", "checkpoint_accuracy"))
    return {t.name.split("[")[-1].rstrip("]"): t for t in report.tests if t.name.startswith("lenet_mnist.pt")}


def test_checkpoint_accuracy_earns_points_by_threshold(lenet_submission, grader_mnist):
    folder, _ = lenet_submission
    grader_mnist(correct=292)  # 97.33%: passes 95% and 97%, not 98% or 98.5%
    results = _checkpoint_results(folder)
    assert {name: t.status for name, t in results.items()} == {
        "95.0%": "passed",
        "97.0%": "passed",
        "98.0%": "failed",
        "98.5%": "failed",
    }
    assert "97.33% of the MNIST test set, below 98.0%" in results["98.0%"].output
    assert sum(t.score for t in results.values()) == 2


def test_a_perfect_checkpoint_earns_every_point(lenet_submission, grader_mnist):
    folder, _ = lenet_submission
    grader_mnist(correct=300)
    results = _checkpoint_results(folder)
    assert all(t.status == "passed" for t in results.values()) and sum(t.score for t in results.values()) == 5


def test_checkpoint_tests_skip_when_the_grader_has_no_test_set(lenet_submission, monkeypatch, tmp_path):
    folder, _ = lenet_submission
    monkeypatch.setenv("CNNKIT_DATA_DIR", str(tmp_path / "empty"))
    # A "kit" whose folders are the real ones but with no ../shared beside it.
    kit = tmp_path / "kit"
    kit.mkdir()
    for folder_name in ("assignments", "reference"):
        (kit / folder_name).symlink_to(TRAINING.student_dir.parent.parent / folder_name)
    monkeypatch.setattr("autograder.core.assignments.KIT_ROOT", kit)
    report = run_tests(TRAINING, folder, hidden=True, extra_args=("-k", "checkpoint_accuracy"))
    assert len(report.tests) == 8, report.output
    for test in report.tests:
        dataset = "mnist" if test.name.startswith("lenet") else "cifar10"
        assert test.score == 0 and f"the grader has no {dataset} test set" in test.output, test.output
    # Every checkpoint point is lost for want of data: the results say so at the top.
    assert report.grader_lacks_note().startswith("Note: 10 points (8 tests) were not graded")


def test_a_pickle_with_code_is_refused(lenet_submission, grader_mnist):
    folder, _ = lenet_submission
    grader_mnist(correct=300)
    # A checkpoint whose unpickling would call a function: weights_only=True refuses it before it runs.
    (folder / "lenet_mnist.pt").unlink()
    torch.save({"conv1.weight": torch.zeros(1), "hook": gzip.compress}, folder / "lenet_mnist.pt")
    results = _checkpoint_results(folder)
    for test in results.values():
        assert test.score == 0 and "not a plain state_dict" in test.output and "weights_only" in test.output


def test_a_checkpoint_with_wrong_keys_is_refused(lenet_submission, grader_mnist):
    folder, _ = lenet_submission
    grader_mnist(correct=300)
    torch.save({"features.0.weight": torch.zeros(6, 1, 5, 5)}, folder / "lenet_mnist.pt")
    results = _checkpoint_results(folder)
    for test in results.values():
        assert test.score == 0 and "does not fit your LeNet5" in test.output and "missing keys" in test.output


def test_a_resnet_checkpoint_is_measured_on_cifar10(tmp_path, monkeypatch):
    folder = tmp_path / "submission"
    folder.mkdir()
    for file_name in TRAINING.files:
        shutil.copy(TRAINING.reference_dir / file_name, folder / file_name)
    from cnn_reference.training.models import resnet18

    torch.manual_seed(0)
    model = resnet18().eval()
    torch.save(model.state_dict(), folder / "resnet18_cifar10.pt")
    images = np.random.default_rng(0).integers(0, 256, (100, 3, 32, 32), dtype=np.uint8)
    with torch.no_grad():
        labels = model(torch.as_tensor(cnn_datasets.normalize(images, "cifar10"))).argmax(1).numpy()
    labels[82:] = (labels[82:] + 1) % 10  # 82% right: the 70% and 80% steps, not 85% or 90%
    extracted = tmp_path / "grader-data" / "cifar10" / "cifar-10-batches-py"
    extracted.mkdir(parents=True)
    batch = write_cifar_batch(extracted / "test_batch", images, labels)
    info = DatasetInfo(
        name="cifar10",
        folder="cifar10",
        kind="cifar",
        splits={"test": (FileInfo("test_batch", None, cnn_datasets.files.md5_of(batch)),)},
        archive=FileInfo("cifar-10-python.tar.gz", None, None),
        extracted_folder="cifar-10-batches-py",
    )
    monkeypatch.setitem(cnn_datasets.DATASETS, "cifar10", info)
    monkeypatch.setenv("CNNKIT_DATA_DIR", str(tmp_path / "grader-data"))
    report = run_tests(TRAINING, folder, hidden=True, extra_args=("-k", "resnet18_checkpoint_accuracy"))
    results = {t.name.split("[")[-1].rstrip("]"): t for t in report.tests}
    assert {name: t.status for name, t in results.items()} == {
        "70.0%": "passed",
        "80.0%": "passed",
        "85.0%": "failed",
        "90.0%": "failed",
    }, [t.output for t in results.values()]
    assert "82.00% of the CIFAR-10 test set, below 85.0%" in results["85.0%"].output
