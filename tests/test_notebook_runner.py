"""The notebook runner's recorded reference: what hidden cells replay must be what the reference did."""

from __future__ import annotations

import numpy as np
import pytest

from autograder.builders.notebook_runner import RecordedReference, call_key, pack, unpack
from autograder.core.gradcheck import forward_of, numeric_gradient


class Reference:
    """A stand-in reference with a running statistic written into its dict argument, as batchnorm does."""

    @staticmethod
    def scale(x, param):
        param["calls"] = param.get("calls", 0) + 1
        return x * param["factor"], {"cache": x.copy()}

    @staticmethod
    def square(x):
        return x**2


def test_call_keys_tell_values_dtypes_and_structure_apart():
    x = np.arange(4.0)
    assert call_key("f", (x,)) == call_key("f", (x.copy(),))
    assert call_key("f", (x,)) != call_key("g", (x,))
    assert call_key("f", (x,)) != call_key("f", (x.astype(np.float32),))
    assert call_key("f", (x,)) != call_key("f", (x.reshape(2, 2),))
    assert call_key("f", ({"a": 1},)) != call_key("f", ({"a": 1.0},))
    assert call_key("f", ([1, 2],)) != call_key("f", ((1, 2),))
    with pytest.raises(TypeError, match="object"):
        call_key("f", (object(),))


def test_pack_round_trips():
    value = {"sources": {"a.py": "x = 1\n"}, "records": {"k": {"result": np.arange(3.0), "after": {}}}}
    unpacked = unpack(pack(value))
    assert unpacked["sources"] == value["sources"]
    assert np.array_equal(unpacked["records"]["k"]["result"], value["records"]["k"]["result"])


def test_replay_gives_the_recorded_results_and_redoes_changes_to_arguments():
    records: dict = {}
    recording = RecordedReference(records, Reference())
    x = np.arange(3.0)
    recorded_param = {"factor": 2.0}
    out, cache = recording.scale(x, recorded_param)
    replaying = RecordedReference(unpack(pack(records)))
    replayed_param = {"factor": 2.0}
    replayed_out, replayed_cache = replaying.scale(x, replayed_param)
    assert np.array_equal(replayed_out, out) and np.array_equal(replayed_cache["cache"], cache["cache"])
    assert replayed_param == recorded_param == {"factor": 2.0, "calls": 1}
    with pytest.raises(RuntimeError, match="no recorded answer"):
        replaying.scale(x + 1, {"factor": 2.0})


def test_replayed_numeric_gradient_equals_the_reference_one():
    records: dict = {}
    x, dout = np.array([[1.0, -2.0], [0.5, 3.0]]), np.array([[1.0, 2.0], [-1.0, 0.5]])
    expected = numeric_gradient(forward_of(Reference().square, (x,), wrt=0), x, dout)
    recorded = numeric_gradient(forward_of(RecordedReference(records, Reference()).square, (x,), wrt=0), x, dout)
    replaying = RecordedReference(unpack(pack(records)))
    replayed = numeric_gradient(forward_of(replaying.square, (x,), wrt=0), x, dout)
    assert np.array_equal(recorded, expected) and np.array_equal(replayed, expected)
    with pytest.raises(RuntimeError, match="no recorded answer"):
        numeric_gradient(forward_of(replaying.square, (x,), wrt=0), x, dout * 2)
