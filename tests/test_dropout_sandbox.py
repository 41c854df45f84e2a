"""Dropout's randomness inside the sandbox: a seed gives the in-process reference's mask in every worker.

The hidden tests compare a submission's seeded masks with the reference's, which runs
in the grader's own process; that is fair only if a seed means the same mask in a
sandboxed worker (forked by the zygote, as another uid, in its own namespaces) as
in-process, also after a worker is replaced. Without a seed, each worker must draw
its own numbers: forked workers must not share an entropy state.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from autograder.cli import main
from autograder.core.assignments import LAYERS
from autograder.core.implementation import LocalImplementation
from autograder.sandbox.grader import SandboxImplementation

SHAPE = (4, 3, 6, 6)
SEEDS = (0, 231, 2**40 + 7)


@pytest.fixture(scope="module")
def pair():
    local = LocalImplementation(LAYERS, LAYERS.reference_dir, label="dropout_sandbox_test")
    with SandboxImplementation(LAYERS, LAYERS.reference_dir) as remote:
        yield local, remote


def train_pass(impl, seed: int | None, p: float = 0.6) -> tuple[np.ndarray, np.ndarray]:
    """out and dx of a train-mode pass on ones with dout of ones: both are mask / p."""
    dropout_param = {"p": p, "mode": "train"} | ({} if seed is None else {"seed": seed})
    out, cache = impl.dropout_forward(np.ones(SHAPE), dropout_param)
    return out, impl.dropout_backward(np.ones(SHAPE), cache)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_seeded_mask_in_the_sandbox_is_the_in_process_one(pair, seed):
    local, remote = pair
    out, dx = train_pass(remote, seed)
    expected_out, expected_dx = train_pass(local, seed)
    assert 0 < np.count_nonzero(out) < out.size  # a mask that keeps some units and drops others
    assert np.array_equal(out, expected_out) and np.array_equal(dx, expected_dx)


def test_a_seed_gives_the_same_mask_after_the_worker_is_replaced(pair):
    local, remote = pair
    first, _ = train_pass(remote, 231)
    worker = remote._workers.worker.pid
    remote._workers.replace()  # what a crash or a timeout of an earlier call does
    again, _ = train_pass(remote, 231)
    assert remote._workers.worker.pid != worker
    with SandboxImplementation(LAYERS, LAYERS.reference_dir) as fresh:  # another submission's sandbox
        elsewhere, _ = train_pass(fresh, 231)
    expected, _ = train_pass(local, 231)
    assert np.array_equal(first, expected) and np.array_equal(again, expected) and np.array_equal(elsewhere, expected)


def test_without_a_seed_every_call_and_every_worker_draws_anew(pair):
    _, remote = pair
    first, _ = train_pass(remote, None)
    second, _ = train_pass(remote, None)
    remote._workers.replace()
    third, _ = train_pass(remote, None)
    masks = [out != 0 for out in (first, second, third)]
    # 432 units: two independent masks agree everywhere with probability below 1e-80.
    assert not np.array_equal(masks[0], masks[1]), "two unseeded calls in one worker drew the same mask"
    assert not np.array_equal(masks[0], masks[2]), "a replaced worker repeated its predecessor's unseeded mask"
    assert not np.array_equal(masks[1], masks[2])


def _dropout_results(folder, tmp_path) -> dict[str, tuple[float, float]]:
    out = tmp_path / f"{folder.name}.json"
    args = ["grade", str(folder), "--assignment", "layers", "--out", str(out), "-q", "-k", "dropout"]
    assert main(args) == 0
    tests = json.loads(out.read_text())["tests"]
    assert tests
    return {test["name"]: (test["score"], test["max_score"]) for test in tests}


def test_sandboxed_grading_gives_the_reference_every_dropout_point(tmp_path):
    results = _dropout_results(LAYERS.reference_dir, tmp_path)
    assert all(score == max_score for score, max_score in results.values()), results
    assert sum(max_score for _, max_score in results.values()) >= 25


def test_sandboxed_grading_fails_a_mask_from_another_generator(tmp_path):
    # numpy's legacy RandomState with the same seed draws other numbers: the seeded tests must see it.
    from cnn_reference.layers.bugs import materialize

    results = _dropout_results(materialize("dropout_legacy_random_state", tmp_path / "legacy"), tmp_path)
    lost = [name for name, (score, max_score) in results.items() if score < max_score]
    assert any("seeded" in name for name in lost), lost
