"""SandboxImplementation: the same behaviour as in-process, and containment of everything else.

Most tests use a small made-up assignment, `probe`, whose functions misbehave on request;
the rest use the layers reference and compare with LocalImplementation.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from autograder.core.assignments import KIT_ROOT, LAYERS, AssignmentSpec, FunctionSpec
from autograder.core.gradcheck import forward_of, numeric_gradient
from autograder.core.implementation import LocalImplementation, SubmissionError
from autograder.sandbox import jail as sandbox_jail
from autograder.sandbox import process as sandbox_process
from autograder.sandbox.caches import CacheHandle
from autograder.sandbox.grader import SandboxImplementation

AS_ROOT = os.geteuid() == 0
root_only = pytest.mark.skipif(not AS_ROOT, reason="the grader confines workers this way only as root")

PROBE = AssignmentSpec(
    name="probe",
    files=("probe.py", "other.py"),
    parts=("probe",),
    functions={
        spec.name: spec
        for spec in (
            FunctionSpec("echo", "probe.py", ("json",)),
            FunctionSpec("peek", "probe.py", ("json",)),
            FunctionSpec("double", "probe.py"),
            FunctionSpec("forward", "probe.py", ("array", "cache")),
            FunctionSpec("backward", "probe.py"),
            FunctionSpec("backward_scaling_input", "probe.py"),
            FunctionSpec("mutate", "probe.py"),
            FunctionSpec("behave", "probe.py"),
            FunctionSpec("hang", "probe.py"),
            FunctionSpec("triple", "probe.py", ("array", "array", "array")),
            FunctionSpec("jail_facts", "probe.py", ("json",)),
            FunctionSpec("other_value", "other.py", ("json",)),
        )
    },
)

PROBE_SOURCE = """
import ctypes
import os
import sys
import time

import numpy as np


class WidthError(ValueError):
    pass


class Agreeable(np.ndarray):
    pass


def echo(value):
    return value


def peek(params):
    return len(params)


def double(x):
    return x * 2


def forward(x):
    return x + 1, {"x": x}


def backward(dout, cache):
    return dout * cache["x"]


def backward_scaling_input(dout, cache):
    cache["x"] *= 2  # the forward's input, reached through the cache
    return dout * cache["x"]


def mutate(x, params):
    x *= 2
    params["seen"] = True
    params.pop("drop", None)
    params["new"] = np.arange(3.0)
    params["items"].append(5)
    return x.copy()


def behave(kind):
    if kind == "value_error":
        raise ValueError("the width does not fit")
    if kind == "custom_error":
        raise WidthError("a subclass of ValueError")
    if kind == "key_error":
        raise KeyError("stride")
    if kind == "system_exit":
        sys.exit(3)
    if kind == "keyboard":
        raise KeyboardInterrupt
    if kind == "assert":
        assert False, "my own check"
    if kind == "exit":
        os._exit(3)
    if kind == "segfault":
        ctypes.string_at(0)
    if kind == "loop":
        while True:
            pass
    if kind == "print":
        print("to stdout")
        print("to stderr", file=sys.stderr)
    if kind == "flood":
        print("x" * 200_000)
    if kind == "daemon":
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                time.sleep(600)
            os._exit(0)
        time.sleep(0.2)
    if kind == "huge":
        return np.empty(32 << 20)  # 256 MiB
    if kind == "list":
        return [1.0, 2.0]
    if kind == "object_array":
        return np.array([1.0, None], dtype=object)
    if kind == "int_array":
        return np.arange(3)
    if kind == "subclass":
        return np.zeros(2).view(Agreeable)
    if kind == "none":
        return None
    if kind == "scalar":
        return np.float64(1.0)
    return np.zeros(2)


def hang(kind):  # behave under another name: after a timeout, a function's later calls fail at once
    return behave(kind)


def triple(kind):
    if kind == "two":
        return np.zeros(1), np.zeros(1)
    return np.zeros(1), np.zeros(1), np.zeros(1)


def jail_facts(kit_root, plant="/tmp/cnnkit-planted"):
    import resource
    import socket

    facts = {"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(), "cwd": os.getcwd()}
    for name, path in [
        ("reference", os.path.join(kit_root, "reference", "layers", "conv.py")),
        ("hidden", os.path.join(kit_root, "reference", "layers", "hidden_tests", "conftest.py")),
        ("git", os.path.join(kit_root, ".git", "HEAD")),
        ("autograder", os.path.join(kit_root, "autograder", "grading", "grade.py")),
    ]:
        try:
            with open(path) as stream:
                stream.read(10)
            facts[name] = "read"
        except OSError as error:
            facts[name] = type(error).__name__
    try:
        import cnn_reference  # noqa: F401

        facts["import_reference"] = "imported"
    except ImportError as error:
        facts["import_reference"] = type(error).__name__
    try:
        import autograder.grading.grade  # noqa: F401

        facts["import_grading"] = "imported"
    except ImportError as error:
        facts["import_grading"] = type(error).__name__
    try:
        with socket.create_connection(("127.0.0.1", 9), timeout=1):
            facts["network"] = "connected"
    except OSError as error:
        facts["network"] = type(error).__name__ + ": " + str(error)
    facts["tmp"] = sorted(os.listdir("/tmp"))
    facts["processes"] = len([entry for entry in os.listdir("/proc") if entry.isdigit()])
    facts["nproc"] = resource.getrlimit(resource.RLIMIT_NPROC)[0]
    facts["address_space"] = resource.getrlimit(resource.RLIMIT_AS)[0]
    try:
        with open(plant, "w") as stream:
            stream.write("x")
        facts["wrote_tmp"] = True
    except OSError:
        facts["wrote_tmp"] = False
    facts["sys_path"] = sys.path
    facts["root"] = sorted(os.listdir("/"))
    host_folders = ("/run/lock", "/home", "/root", "/var/lib", "/sys")
    facts["host_folders"] = [path for path in host_folders if os.path.exists(path)]
    with open("/proc/self/status") as stream:
        facts["seccomp"] = [line.split()[1] for line in stream if line.startswith("Seccomp:")]
    with open("/proc/self/cgroup") as stream:
        facts["cgroups"] = stream.read()
    facts["namespaces"] = {kind: os.readlink(f"/proc/self/ns/{kind}") for kind in ("ipc", "mnt", "net")}
    return facts
"""


def make_probe(folder: Path, probe: str = PROBE_SOURCE, other: str | None = "def other_value():\n    return 42\n"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "probe.py").write_text(probe)
    if other is not None:
        (folder / "other.py").write_text(other)
    return folder


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    with SandboxImplementation(PROBE, make_probe(tmp_path_factory.mktemp("probe")), call_timeout=2) as impl:
        yield impl


@pytest.fixture(scope="module")
def layers_pair():
    local = LocalImplementation(LAYERS, LAYERS.reference_dir, label="sandbox_test")
    with SandboxImplementation(LAYERS, LAYERS.reference_dir) as remote:
        yield local, remote


# --- the same results as in-process ------------------------------------------------------


def test_reference_layers_give_the_same_outputs_as_in_process(layers_pair):
    local, remote = layers_pair
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    conv_param = {"stride": 1, "pad": 1}
    out, cache = remote.conv_forward_naive(x, w, b, conv_param)
    expected, local_cache = local.conv_forward_naive(x, w, b, conv_param)
    assert type(out) is np.ndarray and np.array_equal(out, expected)
    assert isinstance(cache, CacheHandle)
    dout = rng.standard_normal(out.shape)
    for got, want in zip(remote.conv_backward_naive(dout, cache), local.conv_backward_naive(dout, local_cache)):
        assert np.array_equal(got, want)


@pytest.mark.parametrize("wrt", [0, 1, 2])
def test_numeric_gradients_agree_with_in_process_ones(layers_pair, wrt):
    # The sandbox evaluates every perturbation in one round trip; the numbers must not change.
    local, remote = layers_pair
    rng = np.random.default_rng(1)
    arguments = (rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3))
    conv_param = {"stride": 2, "pad": 1}
    dout = rng.standard_normal((2, 3, 3, 3))
    remote_forward = forward_of(remote.conv_forward_naive, (*arguments, conv_param), wrt=wrt)
    local_forward = forward_of(local.conv_forward_naive, (*arguments, conv_param), wrt=wrt)
    assert hasattr(remote_forward, "perturbed") and not hasattr(local_forward, "perturbed")
    expected = numeric_gradient(local_forward, arguments[wrt], dout)
    assert np.array_equal(numeric_gradient(remote_forward, arguments[wrt], dout), expected)


def test_perturbed_evaluations_check_what_comes_back(sandbox):
    dout = np.array([1.0, -2.0, 0.5])
    assert np.allclose(numeric_gradient(forward_of(sandbox.double, (np.ones(3),), wrt=0), np.ones(3), dout), 2 * dout)
    with pytest.raises(TypeError, match="must be a float ndarray"):
        forward_of(sandbox.double, (np.arange(3),), wrt=0).perturbed(np.arange(3), 1e-6)
    with pytest.raises(ValueError, match="is not an array"):
        forward_of(sandbox.forward, (np.ones(3),), wrt=0, output=1).perturbed(np.ones(3), 1e-6)


def test_running_statistics_are_written_into_the_callers_dict(layers_pair):
    local, remote = layers_pair
    x = np.random.default_rng(1).standard_normal((8, 3))
    remote_param, local_param = {"mode": "train", "momentum": 0.5}, {"mode": "train", "momentum": 0.5}
    remote.batchnorm_forward(x, np.ones(3), np.zeros(3), remote_param)
    local.batchnorm_forward(x, np.ones(3), np.zeros(3), local_param)
    assert remote_param.keys() == local_param.keys()
    assert np.array_equal(remote_param["running_mean"], local_param["running_mean"])


def test_errors_keep_their_builtin_type_and_message(layers_pair):
    _, remote = layers_pair
    with pytest.raises(ValueError, match="(?i)width") as raised:
        remote.conv_forward_naive(np.zeros((1, 1, 7, 6)), np.zeros((1, 1, 3, 3)), np.zeros(1), {"stride": 2, "pad": 0})
    assert raised.type is ValueError
    assert "in the sandbox" in "".join(raised.value.__notes__)


def test_in_place_changes_of_arguments_are_mirrored(sandbox):
    x = np.arange(4.0)
    view = np.arange(8.0)[::2]  # a caller's non-contiguous view is updated in place too
    items = [1]
    params = {"drop": 1, "items": items}
    result = sandbox.mutate(x, params)
    assert np.array_equal(x, [0, 2, 4, 6]) and np.array_equal(result, x)
    assert params["seen"] is True and "drop" not in params and np.array_equal(params["new"], [0, 1, 2])
    assert params["items"] is items and items == [1, 5]
    sandbox.mutate(view, {"items": []})
    assert np.array_equal(view, [0, 4, 8, 12])


def test_changes_to_an_earlier_calls_arguments_through_a_cache_are_mirrored(sandbox):
    # In-process, a backward pass that writes into the forward's input changes the caller's array.
    x = np.ones(3)
    _, cache = sandbox.forward(x)
    sandbox.backward_scaling_input(np.ones(3), cache)
    assert np.array_equal(x, np.full(3, 2.0))
    sandbox.backward(np.ones(3), cache)  # reading only: nothing more comes back
    assert np.array_equal(x, np.full(3, 2.0))


def test_unchanged_arguments_keep_their_identity(sandbox):
    x = np.ones(3)
    params = {"x": x}
    assert sandbox.peek(params) == 1
    assert params["x"] is x


def test_cache_handles_round_trip(sandbox):
    x = np.arange(3.0)
    out, cache = sandbox.forward(x)
    assert np.array_equal(out, x + 1)
    assert np.array_equal(sandbox.backward(np.ones(3), cache), x)
    assert "kept in the sandbox" in repr(cache)


def test_an_evicted_cache_gives_a_clear_error(tmp_path):
    with SandboxImplementation(PROBE, make_probe(tmp_path), cache_limit=2) as impl:
        _, first = impl.forward(np.ones(2))
        keep = [impl.forward(np.ones(2))[1] for _ in range(3)]
        with pytest.raises(SubmissionError, match="no longer held"):
            impl.backward(np.ones(2), first)
        assert keep


def test_a_cache_from_another_submission_is_refused(sandbox, tmp_path):
    with SandboxImplementation(PROBE, make_probe(tmp_path)) as other:
        _, foreign = other.forward(np.ones(2))
        with pytest.raises(SubmissionError, match="different submission"):
            sandbox.backward(np.ones(2), foreign)


def test_json_returns_are_plain_python(sandbox):
    value = sandbox.echo({"loss": np.float64(0.5), "history": [np.int64(1), 2], "name": "x"})
    assert value == {"loss": 0.5, "history": [1, 2], "name": "x"}
    assert type(value["loss"]) is float and type(value["history"][0]) is int
    with pytest.raises(SubmissionError, match="plain"):
        sandbox.echo({"weights": np.ones(2)})


# --- what comes back is checked ------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, message",
    [
        ("list", "is a list of 2 values; expected a float ndarray"),
        ("object_array", "an ndarray with dtype object and shape (2,)"),
        ("int_array", "an ndarray with dtype int64 and shape (3,)"),
        ("subclass", "an ndarray subclass"),
        ("none", "is None"),
        ("scalar", "a numpy scalar of type float64"),
    ],
)
def test_only_exact_float_arrays_come_back(sandbox, kind, message):
    with pytest.raises(SubmissionError, match="expected a float ndarray") as raised:
        sandbox.behave(kind)
    assert message in str(raised.value)


def test_a_tuple_of_the_wrong_length_is_refused(sandbox):
    with pytest.raises(SubmissionError, match=r"returned a tuple of 2 values; expected a tuple of 3 values"):
        sandbox.triple("two")
    assert len(sandbox.triple("three")) == 3


def test_student_exception_classes_keep_name_and_builtin_base(sandbox):
    with pytest.raises(ValueError, match="subclass of ValueError") as raised:
        sandbox.behave("custom_error")
    assert raised.type is not ValueError and raised.type.__name__ == "WidthError"
    with pytest.raises(KeyError) as raised:
        sandbox.behave("key_error")
    assert raised.value.args == ("stride",)


@pytest.mark.parametrize(
    "kind, message",
    [("system_exit", "SystemExit: 3"), ("keyboard", "KeyboardInterrupt"), ("assert", "my own check")],
)
def test_exits_interrupts_and_asserts_become_submission_errors(sandbox, kind, message):
    with pytest.raises(SubmissionError, match=message):
        sandbox.behave(kind)
    assert sandbox.other_value() == 42  # the same worker goes on


# --- crashes, timeouts, limits -------------------------------------------------------------


@pytest.mark.parametrize(
    "function, kind, message",
    [
        ("behave", "exit", r"the worker exited with status 3 \(os._exit\(\) .*\) while running behave"),
        ("behave", "segfault", "the worker died with signal SIGSEGV"),
        ("hang", "loop", "hang did not return within 2 s"),
    ],
)
def test_a_crash_or_timeout_fails_the_call_and_a_fresh_worker_takes_over(sandbox, function, kind, message):
    before = sandbox._workers.worker.pid
    _, cache = sandbox.forward(np.ones(2))
    with pytest.raises(SubmissionError, match=message):
        getattr(sandbox, function)(kind)
    assert np.array_equal(sandbox.double(np.ones(2)), [2, 2])
    assert sandbox._workers.worker.pid != before
    with pytest.raises(SubmissionError, match="has since been replaced"):
        sandbox.backward(np.ones(2), cache)


def test_the_cpu_limit_kills_with_sigxcpu(tmp_path):
    with SandboxImplementation(PROBE, make_probe(tmp_path), call_timeout=20, cpu_seconds=1) as impl:
        with pytest.raises(SubmissionError, match="SIGXCPU"):
            impl.behave("loop")


# --- bounded grading time: fail at once after a timeout, one time budget ---------------------


def test_after_a_timeout_the_functions_later_calls_fail_at_once_quoting_it(tmp_path):
    with SandboxImplementation(PROBE, make_probe(tmp_path), call_timeout=1) as impl:
        with pytest.raises(SubmissionError, match="behave did not return within 1 s"):
            impl.behave("loop")
        started = time.monotonic()
        skipped = r"behave was not run: an earlier call of behave timed out(.|\n)*\nbehave did not return within 1 s"
        with pytest.raises(SubmissionError, match=skipped):
            impl.behave("zeros")  # a call that would return at once
        assert time.monotonic() - started < 0.5
        # The other functions run as before, in the fresh worker.
        assert np.array_equal(impl.double(np.ones(2)), [2, 2])
        assert np.array_equal(impl.hang("zeros"), [0, 0])


def test_the_time_budget_cuts_a_call_short_and_then_every_call_fails_at_once(tmp_path):
    with SandboxImplementation(PROBE, make_probe(tmp_path), call_timeout=30, time_budget=1.5) as impl:
        started = time.monotonic()
        stopped = r"behave was stopped after [0-9.]+ s: the submission used up its time budget of 1.5 s"
        with pytest.raises(SubmissionError, match=stopped):
            impl.behave("loop")
        assert time.monotonic() - started < 5  # not the call's 30 s
        assert impl.out_of_time and impl.time_spent >= 1.5
        started = time.monotonic()
        for call in (lambda: impl.double(np.ones(1)), lambda: impl.other_value()):
            with pytest.raises(SubmissionError, match="was not run: the submission used up its time budget of 1.5 s"):
                call()
        assert time.monotonic() - started < 0.5


CRASH_AFTER_SLOW_IMPORT = """
import os
import time

time.sleep(0.5)


def behave(kind):
    os._exit(3)
"""


def test_time_spent_importing_is_charged_to_the_time_budget(tmp_path):
    # Every call ends its worker, so every call waits for a fresh worker's slow import first.
    folder = make_probe(tmp_path, probe=CRASH_AFTER_SLOW_IMPORT)
    started = time.monotonic()
    with SandboxImplementation(PROBE, folder, call_timeout=2, time_budget=2.5) as impl:
        messages = []
        while len(messages) < 20 and "time budget" not in (messages or [""])[-1]:
            with pytest.raises(SubmissionError) as failure:
                impl.behave("exit")
            messages.append(str(failure.value))
    assert "was not run: the submission used up its time budget of 2.5 s" in messages[-1], messages
    assert len(messages) <= 7 and time.monotonic() - started < 2.5 + 3


def test_output_is_captured_per_call_and_bounded(sandbox):
    sandbox.take_output()
    sandbox.behave("print")
    text = sandbox.take_output()
    assert "to stdout" in text and "to stderr" in text
    assert sandbox.take_output() == ""
    sandbox.behave("flood")
    flood = sandbox.take_output()
    assert "more bytes of output were not kept" in flood and len(flood) < 100_000


# --- the submission's files ------------------------------------------------------------------


def test_a_broken_file_fails_only_its_own_functions(tmp_path):
    with SandboxImplementation(PROBE, make_probe(tmp_path, probe="def echo(:\n")) as impl:
        with pytest.raises(SubmissionError, match="probe.py could not be loaded:(.|\n)*SyntaxError"):
            impl.echo(1)
        assert impl.other_value() == 42


def test_a_missing_file_fails_only_its_own_functions(tmp_path):
    with SandboxImplementation(PROBE, make_probe(tmp_path, other=None)) as impl:
        with pytest.raises(SubmissionError, match="other.py was not submitted"):
            impl.other_value()
        assert impl.echo(1) == 1


def test_exiting_at_import_time_fails_only_that_file(tmp_path):
    with SandboxImplementation(PROBE, make_probe(tmp_path, probe="import os\nos._exit(0)\n"), call_timeout=2) as impl:
        with pytest.raises(SubmissionError, match="importing probe.py in the sandbox ended it"):
            impl.echo(1)
        assert impl.other_value() == 42


def test_a_symlinked_file_is_not_taken(tmp_path):
    folder = make_probe(tmp_path / "submission")
    (folder / "other.py").unlink()
    (folder / "other.py").symlink_to(folder / "probe.py")
    with SandboxImplementation(PROBE, folder) as impl:
        with pytest.raises(SubmissionError, match="symbolic link"):
            impl.other_value()


def test_unknown_names_are_attribute_errors(sandbox):
    with pytest.raises(AttributeError):
        sandbox.not_a_graded_function  # noqa: B018


# --- confinement -----------------------------------------------------------------------------


def test_nothing_of_the_kit_is_importable_in_the_worker(sandbox):
    facts = sandbox.jail_facts(str(KIT_ROOT))
    assert facts["import_reference"] == "ModuleNotFoundError"
    assert facts["import_grading"] == "ModuleNotFoundError"
    assert not any(path.rstrip("/") == str(KIT_ROOT) for path in facts["sys_path"])


@root_only
def test_as_root_the_worker_is_jailed(sandbox):
    plant = Path(tempfile.gettempdir()) / f"cnnkit-planted-{os.getpid()}"
    facts = sandbox.jail_facts(str(KIT_ROOT), str(plant))
    assert sandbox_process.SLOT_UID_BASE <= facts["uid"] < sandbox_process.SLOT_UID_BASE + sandbox_process.SLOT_COUNT
    assert facts["gid"] == facts["uid"] and facts["groups"] == []
    for secret in ("reference", "hidden", "git", "autograder"):
        assert facts[secret] in ("FileNotFoundError", "PermissionError"), (secret, facts[secret])
    assert facts["network"] != "connected"
    assert facts["nproc"] == 32 and facts["address_space"] == 4 << 30
    assert facts["processes"] <= 3  # hidepid: the worker sees its own processes only
    assert facts["wrote_tmp"] and not plant.exists()  # it wrote into a private tmpfs
    # Its root holds the allow-list only: no /run, /home, /root or /sys of the host.
    assert set(facts["root"]) <= {"dev", "etc", "lib", "lib64", "proc", "tmp", "usr", "var", KIT_ROOT.parts[1]}
    assert facts["host_folders"] == []

    if sandbox_jail._seccomp is not None:
        assert facts["seccomp"] == ["2"]  # a filter is loaded
    else:  # this machine has no libseccomp: the results say so
        assert any(note.startswith("seccomp filter not applied") for note in sandbox.notes)
    for kind, namespace in facts["namespaces"].items():  # System V IPC objects die with the worker's namespace
        assert namespace != os.readlink(f"/proc/self/ns/{kind}"), kind
    # Nothing else was left out (a machine without writable control groups gets a note about them).
    assert [note for note in sandbox.notes if "control group" not in note and "seccomp" not in note] == []
    assert sandbox.reduced == ""


@root_only
def test_the_sandbox_as_a_whole_has_a_control_group_that_goes_with_it(tmp_path):
    impl = SandboxImplementation(PROBE, make_probe(tmp_path), sandbox_memory_bytes=1 << 30, processes=16)
    if impl._workers.cgroup is None:
        impl.close()
        pytest.skip(f"no control group can be made here: {impl.notes}")
    facts = impl.jail_facts(str(KIT_ROOT))
    folders = impl._workers.cgroup.folders
    assert all(f"{folder.name}\n" in facts["cgroups"] for folder in folders), facts["cgroups"]
    names = ("memory.max", "memory.limit_in_bytes", "pids.max")
    limits = {
        name: (folder / name).read_text().strip() for folder in folders for name in names if (folder / name).exists()
    }
    assert limits.get("memory.max", limits.get("memory.limit_in_bytes")) == str(1 << 30)
    assert limits["pids.max"] == "16"
    impl.behave("daemon")
    impl.close()
    assert not any(folder.exists() for folder in folders)


@root_only
def test_without_a_control_group_the_sandbox_says_so_and_still_works(tmp_path, monkeypatch):
    monkeypatch.setattr(sandbox_process, "CGROUP_MOUNT", tmp_path / "no-cgroups-here")
    with SandboxImplementation(PROBE, make_probe(tmp_path / "probe")) as impl:
        assert impl._workers.cgroup is None and impl.other_value() == 42
        assert "no limit on the memory and processes of the sandbox as a whole" in impl.isolation_report()


def test_a_huge_reply_is_refused_before_the_grader_reads_it(tmp_path):
    script = f"""
import resource, sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from test_sandbox import PROBE, make_probe
from autograder.sandbox.grader import SandboxImplementation
from pathlib import Path
with SandboxImplementation(PROBE, make_probe(Path({str(tmp_path)!r}))) as impl:
    impl.double(__import__("numpy").ones(3))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        impl.behave("huge")
    except Exception as error:
        print(type(error).__name__, error)
    print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    *message, growth = completed.stdout.strip().splitlines()
    assert "SubmissionError" in message[0] and "over the limit of 67,108,864 bytes" in message[0], completed.stderr
    assert int(growth) < 32, f"the grader grew by {growth} MiB"


def test_seccomp_says_so_when_it_cannot_be_applied(monkeypatch):

    monkeypatch.setattr(sandbox_jail, "_seccomp", None)
    monkeypatch.setattr(sandbox_jail, "_seccomp_missing", "libseccomp not found (test)")
    assert sandbox_jail.apply_seccomp() == "seccomp filter not applied: libseccomp not found (test)"


@root_only
def test_as_root_without_namespaces_permissions_still_hide_the_reference(tmp_path):
    with SandboxImplementation(PROBE, make_probe(tmp_path), namespaces=False) as impl:
        assert "namespaces are turned off" in impl.reduced
        assert "isolation was reduced" in impl.isolation_report()
        plant = Path(tempfile.gettempdir()) / f"cnnkit-planted-{os.getpid()}"
        facts = impl.jail_facts(str(KIT_ROOT), str(plant))
        plant.unlink(missing_ok=True)  # without a mount namespace /tmp is the host's
        assert facts["uid"] >= sandbox_process.SLOT_UID_BASE
        for secret in ("reference", "hidden"):
            assert facts[secret] == "PermissionError", (secret, facts[secret])
        # In a git worktree .git is a file that points elsewhere, so .git/HEAD is not a path.
        assert facts["git"] in ("PermissionError", "NotADirectoryError")
        assert facts["import_reference"] == "ModuleNotFoundError"
    assert (KIT_ROOT / "reference").stat().st_mode & 0o007 == 0


@root_only
def test_close_kills_every_process_of_the_submission(tmp_path):
    impl = SandboxImplementation(PROBE, make_probe(tmp_path))
    uid = impl._workers.lease.uid
    impl.behave("daemon")
    assert len(sandbox_process.processes_of_uid(uid)) >= 2  # the worker and the daemon
    impl.close()
    assert sandbox_process.processes_of_uid(uid) == []


@root_only
def test_parallel_sandboxes_get_different_uids(tmp_path):
    with (
        SandboxImplementation(PROBE, make_probe(tmp_path / "a")) as first,
        SandboxImplementation(PROBE, make_probe(tmp_path / "b")) as second,
    ):
        assert first._workers.lease.uid != second._workers.lease.uid
        assert first.jail_facts(str(KIT_ROOT))["uid"] == first._workers.lease.uid


# --- the zygote: workers forked from one started process ------------------------------------


def _gone(pid: int) -> bool:
    fields = sandbox_process._proc_stat(str(pid))
    return fields is None or fields[0] in ("Z", "X")


def _parent(pid: int) -> int:
    return int(sandbox_process._proc_stat(str(pid))[1])


@pytest.fixture
def zygotes(monkeypatch):
    """Zygotes of the test's own, so that the test may kill them without touching other tests' sandboxes."""
    registry = sandbox_process._Zygotes()
    monkeypatch.setattr(sandbox_process, "_ZYGOTES", registry)
    yield registry
    registry.close_all()


def test_workers_are_forked_by_one_zygote_that_never_runs_student_code(tmp_path, zygotes):
    with (
        SandboxImplementation(PROBE, make_probe(tmp_path / "a")) as first,
        SandboxImplementation(PROBE, make_probe(tmp_path / "b")) as second,
    ):
        assert first.other_value() == second.other_value() == 42
        (zygote,) = zygotes.running.values()
        assert _parent(zygote.popen.pid) == os.getpid()
        assert _parent(first._workers.worker.pid) == _parent(second._workers.worker.pid) == zygote.popen.pid
        # Each worker shows its own marker in /proc, where a grader without root looks for its daemons.
        for worker in (first._workers.worker, second._workers.worker):
            assert sandbox_process._carries(str(worker.pid), worker.marker.encode())
            assert not sandbox_process._carries(str(zygote.popen.pid), worker.marker.encode())
        if AS_ROOT:
            assert os.stat(f"/proc/{zygote.popen.pid}").st_uid == 0
            assert os.stat(f"/proc/{first._workers.worker.pid}").st_uid == first._workers.lease.uid


def test_a_zygote_that_died_is_replaced(tmp_path, zygotes):
    with SandboxImplementation(PROBE, make_probe(tmp_path / "a")) as first:
        assert first.other_value() == 42
    (zygote,) = zygotes.running.values()
    os.kill(zygote.popen.pid, 9)
    zygote.popen.wait()
    with SandboxImplementation(PROBE, make_probe(tmp_path / "b")) as second:
        assert second.other_value() == 42
        assert _parent(second._workers.worker.pid) != zygote.popen.pid


def test_a_forked_child_does_not_use_its_parents_zygote(zygotes):
    env = {"PATH": "/usr/bin:/bin", "OPENBLAS_NUM_THREADS": "1"}
    first = zygotes.get(env)
    assert zygotes.get(env) is first
    zygotes.owner = -1  # as if this process were a fork of the one that started the zygote
    assert zygotes.get(env) is not first
    first.close()


ENDING_SCRIPT = """
import os, signal, sys
import numpy as np
from autograder.sandbox import process as sandbox_process
from autograder.core.assignments import LAYERS
from autograder.sandbox.briefing import worker_environment
from autograder.sandbox.grader import SandboxImplementation
impl = SandboxImplementation(LAYERS, LAYERS.reference_dir)
impl.conv_forward_naive(np.ones((1, 1, 3, 3)), np.ones((1, 1, 3, 3)), np.zeros(1), {"stride": 1, "pad": 0})
spare = sandbox_process.WorkerProcess(worker_environment(impl.limits))  # forked, never given a submission
(zygote,) = sandbox_process._ZYGOTES.running.values()
print(zygote.popen.pid, impl._workers.worker.pid, spare.pid, flush=True)
if sys.argv[1] == "killed":
    os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.parametrize("ending", ["exits", "killed"])
def test_the_zygote_and_its_workers_end_with_the_grader(ending):
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(ENDING_SCRIPT), ending], capture_output=True, text=True, timeout=120
    )
    pids = completed.stdout.split()
    assert len(pids) == 3 and all(pid.isdigit() for pid in pids), completed.stderr[-3000:]
    deadline = time.monotonic() + 10
    while not all(_gone(int(pid)) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [pid for pid in pids if not _gone(int(pid))] == []


# --- numeric gradients shared with the gradient worker --------------------------------------

GRADIENT_PROBE = AssignmentSpec(
    name="gradient_probe",
    files=("probe.py",),
    parts=("probe",),
    functions={"entry": FunctionSpec("entry", "probe.py"), "double": FunctionSpec("double", "probe.py")},
)

# entry(x, plan) sees x with one entry moved off zero: the entry a numeric gradient is at.
GRADIENT_PROBE_SOURCE = """
import ctypes

import numpy as np


def entry(x, plan):
    position = int(np.flatnonzero(x)[0])
    if plan.get("print"):
        print(f"entry {position}")
    if plan.get("count"):  # a forward pass that changes its arguments: later entries see the change
        plan["calls"] = plan.get("calls", 0) + 1
        return x * plan["calls"]
    if position >= plan.get("fail_from", x.size):
        raise ValueError(f"failed at entry {position}")
    if position >= plan.get("crash_from", x.size):
        ctypes.string_at(0)
    if position >= plan.get("hang_from", x.size):
        while True:
            pass
    if position >= plan.get("reshape_from", x.size):
        return np.zeros(x.size + 1)
    return x * 2


def double(x):
    return x * 2
"""


def _ready_gradient_worker(impl: SandboxImplementation) -> sandbox_process.WorkerProcess:
    impl._workers.ready()  # the worker first: the gradient worker must load what it loaded
    deadline = time.monotonic() + 30
    while (gradient_worker := impl._gradients.ready_gradient_worker()) is None:
        assert time.monotonic() < deadline, "the gradient worker did not start"
        time.sleep(0.01)
    return gradient_worker


@pytest.fixture
def shared_batches(tmp_path):
    """A sandbox whose gradient worker is ready, and a record of what the gradient worker was sent."""
    folder = tmp_path / "shared_batches"
    folder.mkdir()
    (folder / "probe.py").write_text(GRADIENT_PROBE_SOURCE)
    with SandboxImplementation(GRADIENT_PROBE, folder, call_timeout=5) as impl:
        gradient_worker = _ready_gradient_worker(impl)
        sent = []
        original = gradient_worker.send
        gradient_worker.send = lambda parts, deadline: (sent.append(parts), original(parts, deadline))[1]
        yield impl, sent, LocalImplementation(GRADIENT_PROBE, folder, label="gradient_probe")


def _evaluations(impl, plan: dict, size: int = 4) -> np.ndarray:
    return forward_of(impl.entry, (np.zeros(size), plan), wrt=0).perturbed(np.zeros(size), 1e-6)


def _in_process(local, plan: dict, size: int = 4) -> np.ndarray:
    outputs = []
    for position in range(size):
        for sign in (1.0, -1.0):
            moved = np.zeros(size)
            moved[position] += sign * 1e-6
            outputs.append(local.entry(moved, plan))
    return np.array(outputs)


def test_a_numeric_gradient_split_between_two_workers_is_the_one_workers(layers_pair, shared_batches):
    impl, sent, local = shared_batches
    assert np.array_equal(_evaluations(impl, {}, size=6), _in_process(local, {}, size=6))
    assert len(sent) == 1  # the second half went to the gradient worker
    # The reference's layers too, bit for bit, with the gradient worker of their own sandbox.
    local_layers, remote_layers = layers_pair
    _ready_gradient_worker(remote_layers)
    rng = np.random.default_rng(5)
    arguments = (rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3))
    dout = rng.standard_normal((2, 3, 3, 3))
    for wrt in range(3):
        remote = forward_of(remote_layers.conv_forward_naive, (*arguments, {"stride": 2, "pad": 1}), wrt=wrt)
        local_forward = forward_of(local_layers.conv_forward_naive, (*arguments, {"stride": 2, "pad": 1}), wrt=wrt)
        expected = numeric_gradient(local_forward, arguments[wrt], dout)
        assert np.array_equal(numeric_gradient(remote, arguments[wrt], dout), expected)


def test_output_of_a_split_batch_comes_in_the_order_of_the_entries(shared_batches):
    impl, sent, _ = shared_batches
    _evaluations(impl, {"print": True})
    assert len(sent) == 1
    assert impl.take_output().split("\n") == [f"entry {i // 2}" for i in range(8)] + [""]


def test_a_forward_pass_that_changes_its_arguments_is_evaluated_as_in_one_process(shared_batches):
    # From the first changed call on, the worker goes on alone: the gradient worker's start would be stale.
    impl, sent, local = shared_batches
    got = _evaluations(impl, {"count": True})
    assert len(sent) == 1
    assert np.array_equal(got, _in_process(local, {"count": True}))
    assert got[4, 2] == 1e-6 * 5  # entry 2 saw the fifth call, not a first one


@pytest.mark.parametrize("fail_from, message", [(1, "failed at entry 1"), (3, "failed at entry 3")])
def test_the_first_failing_entry_is_reported_and_only_output_before_it_shown(shared_batches, fail_from, message):
    impl, sent, local = shared_batches
    with pytest.raises(ValueError, match=message):
        _evaluations(impl, {"print": True, "fail_from": fail_from})
    assert len(sent) == 1
    printed = 2 * fail_from + 1  # both signs of each entry before it, and the first sign of it
    assert impl.take_output().split("\n") == [f"entry {i // 2}" for i in range(printed)] + [""]
    assert np.array_equal(_evaluations(impl, {}), _in_process(local, {}))  # the batch after it is whole


def test_a_crash_in_the_gradient_workers_half_fails_the_batch_and_fresh_workers_take_over(shared_batches):
    impl, _, local = shared_batches
    before = impl._workers.worker.pid
    with pytest.raises(SubmissionError, match="SIGSEGV"):
        _evaluations(impl, {"crash_from": 3})
    assert impl._workers.gradient_worker is None and impl._workers.worker.pid != before
    assert np.array_equal(_evaluations(impl, {}), _in_process(local, {}))


def test_a_hang_in_the_gradient_workers_half_times_out_the_batch(tmp_path):
    folder = tmp_path / "hang"
    folder.mkdir()
    (folder / "probe.py").write_text(GRADIENT_PROBE_SOURCE)
    with SandboxImplementation(GRADIENT_PROBE, folder, call_timeout=1) as impl:
        _ready_gradient_worker(impl)
        started = time.monotonic()
        with pytest.raises(SubmissionError, match="entry did not return within 1 s"):
            _evaluations(impl, {"hang_from": 3})
        assert time.monotonic() - started < 3
        with pytest.raises(SubmissionError, match="an earlier call of entry timed out"):
            _evaluations(impl, {})
        assert np.array_equal(impl.double(np.ones(2)), [2, 2])  # fresh workers carry on


def test_a_gradient_batch_times_out_after_a_few_calls_time_whatever_its_size(tmp_path):
    folder = tmp_path / "hang"
    folder.mkdir()
    (folder / "probe.py").write_text(GRADIENT_PROBE_SOURCE)
    with SandboxImplementation(GRADIENT_PROBE, folder, call_timeout=0.5) as impl:
        started = time.monotonic()
        # 800 evaluations: one call's time per ten of them would be 40 s.
        with pytest.raises(SubmissionError, match="entry did not return within 1.5 s"):
            _evaluations(impl, {"hang_from": 0}, size=400)
        assert time.monotonic() - started < 5


def test_halves_of_different_shapes_fail_the_batch(shared_batches):
    impl, sent, _ = shared_batches
    with pytest.raises(SubmissionError, match=r"returned shape \(5,\) after shape \(4,\)"):
        _evaluations(impl, {"reshape_from": 2})
    assert len(sent) == 1


def test_no_gradient_worker_where_there_is_one_cpu_or_it_is_turned_off(tmp_path, monkeypatch):
    folder = tmp_path / "alone"
    folder.mkdir()
    (folder / "probe.py").write_text(GRADIENT_PROBE_SOURCE)
    with SandboxImplementation(GRADIENT_PROBE, folder, gradient_workers=1) as impl:
        for _ in range(3):
            _evaluations(impl, {})
        assert impl._workers.gradient_worker is None and impl._gradients.gradient_worker_starts == 0
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    with SandboxImplementation(GRADIENT_PROBE, folder) as impl:
        _evaluations(impl, {})
        assert impl._workers.gradient_worker is None and impl._gradients.gradient_worker_starts == 0


NON_ROOT_SCRIPT = """
import json, sys
import numpy as np
from autograder.core.assignments import LAYERS
from autograder.sandbox.grader import SandboxImplementation
with SandboxImplementation(LAYERS, sys.argv[1]) as impl:
    x, w = np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3))
    out, cache = impl.conv_forward_naive(x, w, np.zeros(1), {"stride": 1, "pad": 1})
    dx, dw, db = impl.conv_backward_naive(np.ones_like(out), cache)
    try:
        impl.conv_forward_naive(None, None, None, None)
    except Exception as error:
        kind = type(error).__name__
    print(json.dumps({"out": out.sum(), "db": db.tolist(), "error": kind, "reduced": impl.reduced}))
"""


NOBODY = {"user": 65534, "group": 65534, "extra_groups": [], "cwd": "/"}


def _unprivileged_python(top: Path) -> tuple[list[str], dict[str, str]]:
    """A command and environment that run Python with numpy and the kit as nobody.

    The kit's own environment when nobody can reach it; else (a clone in a folder others
    cannot traverse, such as one under /root or mktemp -d) the interpreter's real file
    with copies of autograder/ and numpy put into top, which nobody may read.
    """
    env = {"PATH": os.environ.get("PATH", ""), "HOME": "/tmp"}
    probe = [sys.executable, "-c", "import numpy, autograder.sandbox.grader"]
    if _runs_as_nobody(probe, env) == "":
        return [sys.executable], env
    interpreter = os.path.realpath(sys.executable)
    library = top / "lib"
    shutil.copytree(KIT_ROOT / "autograder", library / "autograder", ignore=shutil.ignore_patterns("__pycache__"))
    numpy_folder = Path(np.__file__).parent
    for name in (numpy_folder.name, f"{numpy_folder.name}.libs"):
        if (numpy_folder.parent / name).is_dir():
            shutil.copytree(numpy_folder.parent / name, library / name, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(["chmod", "-R", "a+rX", str(top)], check=True)
    env["PYTHONPATH"] = str(library)
    probe[0] = interpreter
    failure = _runs_as_nobody(probe, env)
    if failure:
        pytest.skip(f"nobody cannot run {interpreter} with numpy, even from a copy: {failure}")
    return [interpreter], env


def _runs_as_nobody(command: list[str], env: dict[str, str]) -> str:
    """'' if command succeeds as nobody, else why not (the interpreter may not even be reachable)."""
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env, **NOBODY)
    except OSError as error:
        return str(error)
    return "" if completed.returncode == 0 else completed.stderr[-300:] or f"status {completed.returncode}"


@root_only
def test_a_grader_without_root_still_sandboxes_best_effort():
    # A folder nobody can read: pytest's tmp_path lies under a folder private to root.
    top = Path(tempfile.mkdtemp(prefix="cnnkit-non-root-"))
    top.chmod(0o755)
    try:
        folder = top / "layers"
        folder.mkdir(mode=0o755)
        for name in LAYERS.files:
            shutil.copyfile(LAYERS.reference_dir / name, folder / name)
            (folder / name).chmod(0o644)
        python, env = _unprivileged_python(top)
        completed = subprocess.run(
            [*python, "-c", textwrap.dedent(NON_ROOT_SCRIPT), str(folder)],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            **NOBODY,
        )
    finally:
        shutil.rmtree(top)
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout.splitlines()[-1])
    assert result["out"] == 100.0 and result["db"] == [16.0] and result["error"] == "TypeError"
    assert "does not run as root" in result["reduced"]
