"""Fixtures of the hidden tests of the training assignment.

`training` is the submission's graded surface (sandboxed when grading); `reference`
is the same surface over the reference models, in-process: it never meets student
code. `held_out` gives the grader's test sets, normalized as the training driver
feeds them, or skips with the reason when the grader has none.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import autograder.core.assignments
from autograder.core.assignments import TRAINING
from autograder.core.implementation import LocalImplementation
from autograder.core.plugin import implementation_for
from autograder.core.results import GRADER_LACKS


@pytest.fixture(scope="session")
def training(request):
    """The probes over the implementation under test (a sandboxed submission when grading)."""
    return implementation_for(request.config, "training")


@pytest.fixture(scope="session")
def reference():
    """The probes over the reference models and training loop, imported in-process."""
    return LocalImplementation(TRAINING, TRAINING.reference_dir, label="hidden_reference_training")


def data_roots() -> list[Path]:
    """Where the grader looks for test sets: $CNNKIT_DATA_DIR (or the kit's cache), then ../shared/datasets."""
    from cnn_datasets import data_dir

    roots = [data_dir()]
    shared = autograder.core.assignments.KIT_ROOT.parent / "shared" / "datasets"  # looked up now, not at import
    if shared.is_dir():
        roots.append(shared)
    return roots


@pytest.fixture(scope="session")
def held_out():
    """held_out(name) -> (images normalized float32 (N, C, H, W), labels (N,)), or a skip saying why not.

    Each test set is read once per grading session (the cache lives in this fixture,
    not in the module, so one process can grade many submissions).
    """
    from cnn_datasets import DatasetUnavailable, load, normalize

    test_sets: dict[str, tuple[np.ndarray, np.ndarray] | str] = {}

    def get(name: str) -> tuple[np.ndarray, np.ndarray]:
        if name not in test_sets:
            reasons = []
            # Grading must not wait on the network: only files already in place count.
            previous = os.environ.get("CNNKIT_NO_DOWNLOAD")
            os.environ["CNNKIT_NO_DOWNLOAD"] = "1"
            try:
                for root in data_roots():
                    try:
                        images, labels = load(name, "test", root)
                    except DatasetUnavailable as error:
                        reasons.append(str(error).splitlines()[0])
                        continue
                    test_sets[name] = (normalize(images, name), labels)
                    break
                else:
                    test_sets[name] = "; ".join(reasons)
            finally:
                if previous is None:
                    os.environ.pop("CNNKIT_NO_DOWNLOAD", None)
                else:
                    os.environ["CNNKIT_NO_DOWNLOAD"] = previous
        found = test_sets[name]
        if isinstance(found, str):
            pytest.skip(f"{GRADER_LACKS} {name} test set to measure the checkpoint on ({found})")
        return found

    return get
