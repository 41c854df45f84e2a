"""SandboxImplementation: a submission's functions, run in a separate, confined worker process.

The grader (the pytest process, which also holds the reference and the hidden tests)
never imports student code. It calls `impl.conv_forward_naive(x, w, b, conv_param)`
on this proxy exactly as on a LocalImplementation; the proxy sends the arguments to
a worker (autograder/sandbox/worker.py) as plain data (autograder/sandbox/wire.py: JSON and .npy,
never pickle) and turns the reply back into values:

- an 'array' return arrives only if it is an exact float ndarray; anything else
  (object arrays, subclasses, lists, objects whose == is always true, a tuple of the
  wrong length) raises SubmissionError saying what came back;
- a 'cache' return stays in the worker; the test gets a CacheHandle to pass back;
- a 'json' return is plain data (numbers, strings, lists, dicts);
- dict arguments the call changed (bn_param's running statistics) and arrays it
  modified in place are written back into the caller's objects, so in-process
  semantics hold and 'inputs are not modified' tests work unchanged;
- an exception of a builtin type comes back as that type with the same message
  (pytest.raises(ValueError, match=...) works), the student's traceback as a note.

Each call has a timeout. A timeout, a crash, os._exit or a signal fails that call with
a SubmissionError, and a fresh worker serves the next call (forked in a millisecond or
two by the grader's zygote: see sandbox_process._Zygote). close() ends the worker and
every process it started.

Grading time is bounded: after a function times out once, its later calls fail at
once with that first failure's message (the tests of the other functions run as
usual); and one time budget per submission (SandboxLimits.time_budget) covers every
second the grader waits on it: worker starts and imports, calls, numeric-gradient
batches and the helper. Each wait is cut to the budget left, and once it is spent
every call fails at once, so a submission that hangs or crashes everywhere still
grades in a bounded time with every test listed (out_of_time says whether it ran out).

Numeric gradients (call_perturbed) are shared with a second worker, the helper, where
the grader may use more than one CPU: each takes half of the entries, and the result,
the error and the printed output are those of one worker doing it all.

Confinement (see autograder/sandbox/jail.py): as root, the worker runs as a
dedicated uid in private mount, IPC and network namespaces, in a root file system
built from an allow-list (the interpreter, the standard library, shared libraries,
site-packages, the submission and a private size-limited scratch): nothing else of
the host exists for it. Limits: CPU time, address space, file size and core dumps
per process; memory and processes of the whole sandbox through a control group where
one can be made (else a note says so); replies bounded in size before they are read;
a seccomp filter against namespaces, mounts, ptrace, keys and the like. close() kills
every process of the uid and removes the control group; the IPC namespace takes the
System V objects with it.

Reduced isolation: without root, where unshare is refused (a container's seccomp
profile), or with namespaces turned off ($CNNKIT_SANDBOX_NAMESPACES=0), the worker
sees the host's files. As root it still runs as the slot uid, the kit's secrets and
staged submissions are private to root, and close() also removes the uid's System V
objects and the files it left in the world-writable folders. Without root it runs as
the grader's own user, can read what that user can read and could signal the grader;
the daemons it starts are found by a marker in their environment, which a determined
student can wipe. `reduced` says why the isolation was reduced ('' when it was not),
and the results say so (see autograder/core/runner.py).

Nothing of the kit is importable in the worker except a copy of autograder/core/gradcheck.py,
the checker the student README tells students to use, put beside the submission so
that a leftover `from autograder.core.gradcheck import ...` does not break a file.
"""

from __future__ import annotations

import atexit
import base64
import builtins
import contextlib
import itertools
import os
import shutil
import sys
import tempfile
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from autograder.core.assignments import KIT_ROOT, AssignmentSpec, FunctionSpec
from autograder.core.implementation import SubmissionError
from autograder.sandbox import wire
from autograder.sandbox.process import (
    SandboxCgroup,
    SandboxStartError,
    SlotLease,
    WorkerProcess,
    describe_exit,
    namespaces_refused,
    remove_files_of,
    remove_ipc_objects,
    running_as_root,
    site_packages,
    standard_library,
)
from autograder.sandbox.submitted_files import MAX_ARTIFACT_BYTES, UnsafeFile, read_submitted_file

OUTPUT_KEEP = 64 * 1024  # bytes of student output kept between two take_output() calls
_GIB = 1 << 30
_MIB = 1 << 20
# Modules of the student release that submissions may import (the README tells students to use gradcheck).
HELPER_MODULES = ("core/gradcheck.py",)
HIDE_VARIABLE = "CNNKIT_SANDBOX_HIDE"
# The phrases the sandbox's failure messages are built from. The class report
# (autograder/grading/class_report.py) sorts failed tests by them (its FAILURE_KINDS), so a
# message reworded here still lands in the right row of the report.
CALL_TIMED_OUT = "did not return within"
IMPORT_TIMED_OUT = "did not finish within"
BUDGET_USED_UP = "the submission used up its time budget"
TIMED_OUT_EARLIER = "timed out, so its later calls fail at once"
UNREADABLE_REPLY = "the worker sent an unreadable reply"
PROTOCOL_BROKEN = "broke the worker's protocol"
WORKER_FAILED = "the sandbox worker failed"
NAMESPACES_VARIABLE = "CNNKIT_SANDBOX_NAMESPACES"  # "0": no namespaces, as where unshare is refused
# Shared libraries the interpreter, numpy and torch load; bound read-only into the worker's root.
SHARED_LIBRARY_PATHS = ("/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/local/lib", "/etc/ld.so.cache")
# A submission that keeps killing its workers gets no more helpers after this many.
HELPER_STARTS = 3
# Seconds of a submission's time budget (see SandboxImplementation): with Gradescope's default
# limit of 10 minutes per submission, this leaves over 3 minutes for the container's start,
# the grader's own work (about a second for `layers`) and writing the results.
DEFAULT_TIME_BUDGET = 400.0
# A numeric-gradient batch (one round trip for all of a gradient's evaluations) may take the
# time of this many calls, whatever its size. The reference's largest batch (352 evaluations
# of conv_forward_naive) took 0.12 s on a loaded 2-core machine, 250 times less than the 30 s
# this allows with the default 10 s per call; only a hanging forward pass runs into it.
GRADIENT_BATCH_CALLS = 3.0
# glibc in a fresh process maps every block over 128 KiB on its own and unmaps it when
# freed, so each such array the worker builds costs a page fault per 4 KiB, every time.
# The worker keeps freed memory for reuse instead (its address-space limit still holds).
WORKER_HEAP = "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824"
_OPEN: weakref.WeakSet = weakref.WeakSet()  # sandboxes not closed yet: closed at exit if their owner forgot


@dataclass(frozen=True)
class SandboxLimits:
    """What a worker may use. Every field is a keyword argument of SandboxImplementation."""

    memory_bytes: int = 4 * _GIB  # address space per process (torch needs several GiB of it)
    sandbox_memory_bytes: int = 2 * _GIB  # memory of all the sandbox's processes together (root, cgroup)
    cpu_seconds: int = 600  # CPU time per worker process, a backstop behind the per-call timeout
    file_bytes: int = 16 * _MIB  # largest file a worker may write, its captured output included
    processes: int = 32  # processes and threads of the worker's uid, and of the sandbox's cgroup
    scratch_bytes: int = 64 * _MIB  # the tmpfs root a worker may write into: work folder, /tmp, /dev/shm (root only)
    cache_limit: int = 512  # forward-pass caches a worker keeps (least recently used go first)
    time_budget: float = DEFAULT_TIME_BUDGET  # seconds the grader may wait on the submission in all
    startup_timeout: float = 30.0  # seconds for a worker to start, before it imports student files
    max_reply_bytes: int = 64 * _MIB  # a worker's reply, checked from its length before it is read
    max_reply_json: int = 4 * _MIB  # the JSON part of a reply (arrays travel beside it)
    threads: int = 1  # BLAS and OpenMP threads of a worker
    namespaces: bool = True  # use namespaces when running as root (False: reduced isolation)
    hide: tuple[str, ...] = ()  # folders that must never be visible; outside the allow-list anyway (root only)
    gradient_workers: int = 2  # workers that share a numeric gradient's evaluations (more CPUs than 1 needed)


class CacheHandle:
    """A forward pass's cache, kept in the sandboxed worker; pass it to the matching backward function."""

    __slots__ = ("_token", "_generation", "_id", "_function", "_releases")

    def __init__(self, token: object, generation: int, handle_id: int, function: str, releases: list) -> None:
        self._token = token
        self._generation = generation
        self._id = handle_id
        self._function = function
        self._releases = releases

    def __repr__(self) -> str:
        return f"<cache of {self._function}, kept in the sandbox>"

    def __del__(self) -> None:
        # Tell the worker, with the next call, that nobody can pass this cache any more.
        try:
            self._releases.append((self._generation, self._id))
        except Exception:  # noqa: BLE001, S110 - interpreter shutdown
            pass


def _builtin_exception(bases: Any) -> type[Exception] | None:
    """The first builtin Exception subclass among the names of a remote exception's class hierarchy."""
    if type(bases) is not list:
        return None
    for name in bases:
        candidate = getattr(builtins, name, None) if type(name) is str else None
        if isinstance(candidate, type) and issubclass(candidate, Exception):
            return candidate
    return None


_exception_types: dict[tuple[str, type], type] = {}


def _exception_type(name: str, base: type[Exception]) -> type[Exception]:
    """A stand-in for a student's own exception class: same name, deriving from its builtin base."""
    if name == base.__name__:
        return base
    key = (name, base)
    if key not in _exception_types:
        _exception_types[key] = type(name, (base,), {"__module__": "submission"})
    return _exception_types[key]


def _ordinal(position: int, count: int) -> str:
    if count == 1:
        return "the value it returned"
    words = ("first", "second", "third", "fourth", "fifth")
    return f"the {words[position] if position < len(words) else f'#{position + 1}'} value it returned"


def _plain(value: Any, depth: int = 0) -> Any:
    """A 'json' return: numbers, strings, lists, tuples, dicts; numpy scalars become Python numbers."""
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if depth < 64 and type(value) in (list, tuple):
        return type(value)(_plain(item, depth + 1) for item in value)
    if depth < 64 and type(value) is dict:
        return {_plain(k, depth + 1): _plain(v, depth + 1) for k, v in value.items()}
    raise SubmissionError(f"{wire.describe(value)} where plain numbers, strings, lists or dicts were expected")


class SandboxImplementation:
    """The graded functions of one submission, each call run in a sandboxed worker process.

    Same attribute interface as LocalImplementation, plus take_output() and close().
    limits: any field of SandboxLimits.
    """

    def __init__(self, spec: AssignmentSpec, directory: Path, call_timeout: float = 10.0, **limits: Any) -> None:
        self.spec = spec
        self.directory = Path(directory)
        self.call_timeout = float(call_timeout)
        self.limits = SandboxLimits(**limits)
        self.notes: list[str] = []  # what the sandbox could not do on this machine
        self.reduced = ""  # why the isolation is reduced ('' : it is not)
        self._files: dict[str, bytes] = {}
        self._broken: dict[str, str] = {}  # file -> why it cannot be imported (unsafe, hung, ended the worker)
        for file_name in spec.files:
            try:
                content = read_submitted_file(self.directory, file_name)
            except UnsafeFile as error:
                self._broken[file_name] = f"{file_name} was not taken: {error}"
                continue
            if content is not None:
                self._files[file_name] = content
        # Kit-owned modules that join the submission's package (the training assignment's probes).
        for file_name in getattr(spec, "support_files", ()):
            self._files[file_name] = (spec.student_dir / file_name).read_bytes()
        self._load_failures: dict[str, str] = {}
        self._token = object()
        self._generation = 0
        self._seq = itertools.count(1)
        self._releases: list[tuple[int, int]] = []
        # handle id -> the caller's arguments of the call that made that cache (see _write_back)
        self._cache_arguments: dict[int, list] = {}
        # The time budget: seconds charged so far, and since when the block being charged now runs.
        self._spent = 0.0
        self._charge_started: float | None = None
        self._timed_out: dict[str, str] = {}  # function -> the message of its first timeout
        self._output = bytearray()
        self._output_dropped = 0
        self._worker: WorkerProcess | None = None
        # A second worker that takes half of each numeric gradient's evaluations (see _call_perturbed).
        self._helper: WorkerProcess | None = None
        self._helper_deadline = 0.0
        self._helper_starts = 0
        self._helper_answering = False  # the helper's half counts: what it printed is the submission's output
        self._closed = False
        self._as_root = running_as_root()
        self._lease: SlotLease | None = None
        self._base: Path | None = None
        self._cgroup: SandboxCgroup | None = None
        _OPEN.add(self)
        try:
            self._lease = SlotLease.acquire() if self._as_root else None
            self._base = Path(tempfile.mkdtemp(prefix="cnnkit-sandbox-"))
            self.reduced = self._reduced_from_the_start()
            if self.reduced:
                self._note_exposed_folders()
            if self._as_root:
                self._base.chmod(0o711)  # the worker's uid may pass through, not list
                _protect_secrets()
                self._cgroup = self._make_cgroup()
            self._start_worker()  # it boots while the caller goes on
        except BaseException:
            self.close()
            raise

    # --- the attribute interface ----------------------------------------------------------

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)
        function_spec = self.spec.function(name)  # AttributeError for names that are not graded

        # Everything a call does is charged to the time budget: waiting for a worker to start and
        # import the submission, the call itself, and replacing a worker that crashed or hung.
        def call(*args: Any, **kwargs: Any) -> Any:
            __tracebackhide__ = True  # pytest shows the test's line, not the proxy's frames
            with self._charged():
                return self._call(function_spec, args, kwargs)

        def call_perturbed(arguments: list, *, wrt: int, take: int, step: float) -> np.ndarray:
            __tracebackhide__ = True
            with self._charged():
                return self._call_perturbed(function_spec, arguments, wrt=wrt, take=take, step=step)

        call.__name__ = call.__qualname__ = name
        call.__doc__ = f"{name} of the submission, run in the sandbox."
        # Numeric gradients evaluate a forward pass hundreds of times: one round trip for all of them.
        call.call_perturbed = call_perturbed
        self.__dict__[name] = call  # later lookups skip __getattr__
        return call

    def take_output(self) -> str:
        """What the submission printed (stdout and stderr) since the last take_output()."""
        self._drain_output(self._worker)
        text = self._output.decode("utf-8", errors="replace")
        if self._output_dropped:
            text += f"\n[{self._output_dropped} more bytes of output were not kept]"
        self._output = bytearray()
        self._output_dropped = 0
        return text

    @property
    def time_spent(self) -> float:
        """Seconds of the time budget used so far (time the grader waited on the submission)."""
        if self._charge_started is None:
            return self._spent
        return self._spent + time.monotonic() - self._charge_started

    @property
    def out_of_time(self) -> bool:
        """Whether the submission has used up its time budget (every later call fails at once)."""
        return self.time_spent >= self.limits.time_budget

    def close(self) -> None:
        """End the worker and every process it started; release the uid slot and the folders."""
        if self._closed:
            return
        self._closed = True
        self._stop_worker()
        if self._cgroup is not None:
            problem = self._cgroup.close()
            if problem:
                self.notes.append(f"the sandbox's control group could not be removed: {problem}")
        if self._lease is not None:
            self._sweep(self._lease.uid)
        if self._base is not None:
            shutil.rmtree(self._base, ignore_errors=True)
        if self._lease is not None:
            self._lease.release()

    def __enter__(self) -> SandboxImplementation:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- isolation ----------------------------------------------------------------------

    def _reduced_from_the_start(self) -> str:
        """Why this sandbox cannot use namespaces at all ('' : it will try them)."""
        return _reduced_by_configuration(self._as_root, self.limits.namespaces)

    def _note_exposed_folders(self) -> None:
        """With reduced isolation, name the folders that must stay hidden ($CNNKIT_SANDBOX_HIDE) yet others may read.

        In its own root the worker sees none of them; without one only permissions protect them.
        """
        folders = [*self.limits.hide, *filter(None, os.environ.get(HIDE_VARIABLE, "").split(os.pathsep))]
        for folder in folders:
            try:
                exposed = Path(folder).stat().st_mode & 0o005
            except OSError:
                continue
            if exposed:
                self.notes.append(f"{folder} is readable by other users, so by the sandboxed code (make it 0700)")

    def _make_cgroup(self) -> SandboxCgroup | None:
        name = f"cnnkit-sandbox-{self._lease.slot}"
        cgroup, why = SandboxCgroup.create(name, self.limits.sandbox_memory_bytes, self.limits.processes)
        if cgroup is None:
            self.notes.append(
                f"no limit on the memory and processes of the sandbox as a whole (no control group: {why}); "
                "each process has its own limits only"
            )
        return cgroup

    def _sweep(self, uid: int) -> None:
        """Remove what the slot uid left beside its processes: System V IPC objects; files, where it saw the host."""
        left = remove_ipc_objects(uid)
        if left:
            self.notes.append(f"System V IPC objects {left} of the sandbox could not be removed")
        if self.reduced:  # in its own root it could write nowhere else
            failed = remove_files_of(uid)
            if failed:
                self.notes.append(f"files the sandbox left could not be removed: {failed[:10]}")

    def isolation_report(self) -> str:
        """What the results' top-level output says about the sandbox: reduced isolation and what it could not do."""
        lines = [f"The sandbox's isolation was reduced: {self.reduced}." if self.reduced else ""]
        lines += [f"Sandbox note: {note}" for note in self.notes]
        return "\n".join(line for line in lines if line)

    # --- workers ------------------------------------------------------------------------

    def _plan(self, prefix: str) -> dict[str, Any]:
        limits = self.limits
        uid = self._lease.uid if self._lease is not None else None
        keep = [*standard_library(), *site_packages(), os.path.realpath(sys.executable), *SHARED_LIBRARY_PATHS]
        return {
            "uid": uid,
            "gid": uid,
            "namespaces": not self.reduced,
            "reduced": self.reduced,
            "root": str(self._base),
            "keep": keep,
            "work_dir": str(self._base / f"{prefix}work"),
            "helper_dir": str(self._base / f"{prefix}lib"),
            "scratch_bytes": limits.scratch_bytes,
            "cgroups": self._cgroup.procs_files if self._cgroup is not None else [],
            "limits": {
                "cpu_seconds": limits.cpu_seconds,
                "memory_bytes": limits.memory_bytes,
                "file_bytes": limits.file_bytes,
                "processes": limits.processes,
            },
        }

    def _take_notes(self, ready: dict) -> None:
        """Keep what a worker's start-up says it could not do, once each."""
        for note in ready.get("notes", []) if type(ready.get("notes")) is list else []:
            if str(note) not in self.notes:
                self.notes.append(str(note))
        if ready.get("reduced") and not self.reduced:
            self.reduced = str(ready["reduced"])[:500]

    def _start_worker(self) -> None:
        self._worker = self._launch("")
        self._releases.clear()

    def _launch(self, prefix: str) -> WorkerProcess:
        """A worker given the submission, which it imports while the caller goes on; prefix names its folders."""
        if self.reduced:
            # Without a mount namespace the worker writes into the real folder: start it empty.
            for name in (f"{prefix}work", f"{prefix}lib"):
                shutil.rmtree(self._base / name, ignore_errors=True)
        engine = Path(__file__).resolve().parents[1]
        helpers = {f"autograder/{name}": (engine / name).read_bytes() for name in HELPER_MODULES}
        helpers["autograder/__init__.py"] = helpers["autograder/core/__init__.py"] = b""
        config = {
            "op": "start",
            "plan": self._plan(prefix),
            "files": {name: base64.b64encode(data).decode() for name, data in self._files.items()},
            "helpers": {name: base64.b64encode(data).decode() for name, data in helpers.items()},
            "files_in_order": [*self.spec.files, *getattr(self.spec, "support_files", ())],
            "artifacts": {
                "directory": str(self.directory),
                "names": list(getattr(self.spec, "artifacts", ())),
                "limit": MAX_ARTIFACT_BYTES,
            },
            "skip": self._broken,
            "functions": {name: [f.file, list(f.returns)] for name, f in self.spec.functions.items()},
            "cache_limit": self.limits.cache_limit,
        }
        worker = WorkerProcess(self._worker_env())
        try:
            worker.start(config, self.limits.max_reply_bytes, self.limits.max_reply_json)
        except BaseException:
            worker.discard()
            raise
        return worker

    def _worker_env(self) -> dict[str, str]:
        threads = str(self.limits.threads)
        return {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "OPENBLAS_NUM_THREADS": threads,
            "OMP_NUM_THREADS": threads,
            "MKL_NUM_THREADS": threads,
            "GLIBC_TUNABLES": WORKER_HEAP,
        }

    def _stop_worker(self) -> None:
        """End the worker and the helper, with everything they started; keep what they printed last."""
        workers = [(self._worker, True), (self._helper, self._helper_answering)]
        workers = [(worker, keep) for worker, keep in workers if worker is not None]
        self._worker = self._helper = None
        uid = self._lease.uid if self._lease is not None else None
        for worker, _ in workers:
            survivors = worker.stop(uid)
            if survivors:
                self.notes.append(f"processes {survivors} survived the end of a worker")
        for worker, keep in workers:
            self._drain_output(worker, keep)
            worker.close_output()
        self._generation += 1
        self._cache_arguments.clear()  # their caches died with the worker

    def _stop_helper(self) -> None:
        """End the helper alone, dropping what it printed: the worker's results stand without it.

        Only its own session is swept (a sweep of the uid would end the worker too);
        whatever escaped it goes with the worker's next sweep, at the latest in close().
        """
        helper, self._helper = self._helper, None
        if helper is not None:
            helper.stop(None)
            helper.close_output()

    def _replace_worker(self) -> None:
        """After a crash or a timeout: end the worker and start a fresh one for the next call.

        None starts once the time budget is spent: no call would use it.
        """
        self._stop_worker()
        if not self._closed and not self.out_of_time:
            self._start_worker()

    # --- the time budget ----------------------------------------------------------------

    @contextlib.contextmanager
    def _charged(self) -> Iterator[None]:
        """Charge the time the block takes to the time budget, once however deeply such blocks nest."""
        if self._charge_started is not None:
            yield
            return
        self._charge_started = time.monotonic()
        try:
            yield
        finally:
            self._spent += time.monotonic() - self._charge_started
            self._charge_started = None

    def _time_left(self) -> float:
        return self.limits.time_budget - self.time_spent

    def _budget_error(self, name: str, stopped_after: float | None = None) -> SubmissionError:
        """The failure of a call that the spent time budget stops, or (stopped_after None) does not start."""
        why = (
            f"{BUDGET_USED_UP} of {self.limits.time_budget:g} s (the time spent starting "
            "its workers, importing its files and running its calls), so grading stopped early"
        )
        if stopped_after is None:
            return SubmissionError(f"{name} was not run: {why}")
        return SubmissionError(f"{name} was stopped after {stopped_after:.1f} s: {why}")

    def _ready_worker(self) -> WorkerProcess:
        """The running worker once it has imported the submission.

        A file whose import hangs or ends the worker is marked broken, and a new
        worker starts without it, so only the functions of that file fail.
        _OutOfTime where the time budget runs out first.
        """
        modules = (*self.spec.files, *getattr(self.spec, "support_files", ()))
        for _ in range(len(modules) + 2):
            if self._worker is None:
                self._start_worker()
            worker = self._worker
            if worker.ready:
                return worker
            importing = None
            deadline, by_budget = self._deadline(self.limits.startup_timeout)
            try:
                while True:
                    message = worker.receive(deadline).message
                    op = message.get("op") if type(message) is dict else None
                    if op == "importing" and message.get("file") in modules:
                        importing = message["file"]
                        deadline, by_budget = self._deadline(self.call_timeout)
                    elif op == "ready":
                        self._load_failures = {str(k): str(v) for k, v in dict(message.get("failures", {})).items()}
                        self._take_notes(message)
                        worker.ready = True
                        return worker
                    elif op == "failed":
                        self._stop_worker()
                        raise SandboxStartError(f"the sandbox could not be set up:\n{message.get('message')}")
                    else:
                        raise wire.ProtocolError(f"unexpected start-up message {str(message)[:200]}")
            except (TimeoutError, EOFError, OSError, wire.ProtocolError) as error:
                if isinstance(error, TimeoutError) and by_budget:
                    self._stop_worker()
                    raise _OutOfTime from None
                if isinstance(error, TimeoutError):
                    what = f"{IMPORT_TIMED_OUT} {self.call_timeout:g} s"
                elif isinstance(error, wire.ProtocolError):
                    what = f"{PROTOCOL_BROKEN} ({error})"
                else:
                    what = f"ended it: {describe_exit(worker.ended())}"
                self._stop_worker()
                if importing is None:
                    raise SandboxStartError(f"the sandbox worker did not start: {what}") from None
                self._broken[importing] = f"importing {importing} in the sandbox {what}"
        raise SandboxStartError("the sandbox worker did not start")

    def _deadline(self, seconds: float) -> tuple[float, bool]:
        """The time.monotonic() value `seconds` from now, or when the time budget runs out if that is
        sooner; and whether it is the budget's end."""
        left = max(0.0, self._time_left())
        return time.monotonic() + min(seconds, left), left < seconds

    # --- calls ----------------------------------------------------------------------------

    def _encode_handle(self, value: Any) -> list | None:
        if type(value) is not CacheHandle:
            return None
        if value._token is not self._token:
            raise SubmissionError(f"a cache of {value._function} from a different submission was passed in")
        if value._generation != self._generation:
            raise SubmissionError(
                f"this cache of {value._function} was made by a sandbox worker that has since been replaced "
                "(after a crash or a timeout in an earlier call); it is gone"
            )
        return ["h", value._id]

    def _worker_for(self, function: FunctionSpec) -> WorkerProcess:
        """The ready worker for a call of `function`, or a SubmissionError saying why it cannot run."""
        __tracebackhide__ = True
        name = function.name
        if self._closed:
            raise SubmissionError(f"{name}: the sandbox was already closed")
        if name in self._timed_out:
            raise SubmissionError(
                f"{name} was not run: an earlier call of {name} {TIMED_OUT_EARLIER} "
                f"(that keeps grading within its time limit). The first failure:\n{self._timed_out[name]}"
            )
        if self.out_of_time:
            raise self._budget_error(name)
        worker = self._worker
        if worker is None or not worker.ready:
            try:
                worker = self._ready_worker()
            except _OutOfTime:
                raise self._budget_error(name) from None
        for failures in (self._broken, self._load_failures):
            if function.file in failures:
                raise SubmissionError(f"{name}: {function.file} could not be loaded:\n{failures[function.file]}")
        return worker

    def _request(
        self, function: FunctionSpec, args: tuple, kwargs: dict, encode_handle: Callable | None = None, **extra: Any
    ) -> tuple[dict, wire.Encoder]:
        """A call message and the encoder that holds its arrays (and tracks its arguments for write-back)."""
        encoder = wire.Encoder(track=True, encode_handle=encode_handle or self._encode_handle)
        try:
            message = {
                "op": "call",
                "seq": next(self._seq),
                "fn": function.name,
                "args": encoder.encode(args),
                "kwargs": [[str(key), encoder.encode(value)] for key, value in kwargs.items()] if kwargs else [],
                "release": self._take_releases() if self._releases else [],
                **extra,
            }
        except wire.Unencodable as error:
            raise TypeError(f"{function.name}: {error}") from None
        return message, encoder

    def _call(self, function: FunctionSpec, args: tuple, kwargs: dict) -> Any:
        __tracebackhide__ = True
        name = function.name
        worker = self._worker_for(function)
        message, encoder = self._request(function, args, kwargs)
        frame = self._exchange(worker, name, encoder.frame(message), self.call_timeout)
        try:
            return self._unpack(function, message["seq"], frame, encoder.tracked)
        except wire.ProtocolError as error:
            self._replace_worker()
            raise SubmissionError(f"{UNREADABLE_REPLY} while running {name}: {error}") from None

    def _exchange(
        self, worker: WorkerProcess, name: str, request: Any, timeout: float, since: float | None = None
    ) -> wire.Frame:
        """Send one request and wait for its reply; a timeout or a dead worker becomes a SubmissionError.

        request None: it was sent already, at time.monotonic() value `since`, from which the timeout runs.
        The wait ends sooner where the time budget runs out sooner. A timeout makes the function's later
        calls fail at once (see _worker_for).
        """
        __tracebackhide__ = True
        started = time.monotonic() if since is None else since
        deadline, by_budget = self._deadline(started + timeout - time.monotonic())
        try:
            if request is not None:
                worker.send(request, deadline)
            frame = worker.receive(deadline)
        except TimeoutError:
            self._replace_worker()
            if by_budget:
                raise self._budget_error(name, stopped_after=time.monotonic() - started) from None
            message = (
                f"{name} {CALL_TIMED_OUT} {timeout:g} s; it was stopped "
                "(look for an infinite loop, or code far slower than it needs to be)"
            )
            self._timed_out.setdefault(name, message)
            raise SubmissionError(message) from None
        except (EOFError, OSError) as error:
            ending = describe_exit(worker.ended()) if isinstance(error, EOFError) else f"the worker failed ({error})"
            self._replace_worker()
            raise SubmissionError(f"{ending} while running {name}") from None
        except wire.ProtocolError as error:
            self._replace_worker()
            raise SubmissionError(f"{UNREADABLE_REPLY} while running {name}: {error}") from None
        self._drain_output(worker)
        return frame

    def _call_perturbed(
        self, function: FunctionSpec, arguments: list, *, wrt: int, take: int, step: float
    ) -> np.ndarray:
        """Return value `take` of `function` on arguments[wrt] + step and - step at each of its entries.

        The worker makes the perturbed copies and sends the outputs stacked: shape
        (2 * arguments[wrt].size, *output shape), entries in row-major order, + before -.
        For numeric gradients only: the worker keeps no caches and sends no in-place
        changes back. The first evaluation that raises, or returns anything but a float
        ndarray of the first one's shape, fails the whole batch.

        Where a helper worker is ready, the worker evaluates the first half of the
        entries and the helper the second half at the same time. The result is the one
        a single worker gives: the helper starts from the arguments as sent, which is
        what the second half would see unless the first half changed them, and then the
        worker goes on through the second half itself ("settle"); the first half's
        failure comes first; output comes in the order of the entries.

        The batch's timeout grows with its size up to GRADIENT_BATCH_CALLS calls' time.
        """
        __tracebackhide__ = True
        name = function.name
        point = arguments[wrt]
        if type(point) is not np.ndarray or point.dtype.kind != "f":
            raise TypeError(f"{name}: the argument to perturb must be a float ndarray")
        if function.returns[take] != "array":
            raise ValueError(f"{name}: return value {take} is not an array")
        worker = self._worker_for(function)
        perturb = {"wrt": int(wrt), "take": int(take), "step": float(step)}
        handles: list = []

        def encode_handle(value: Any) -> list | None:
            node = self._encode_handle(value)
            handles.append(node)
            return node

        message, encoder = self._request(function, tuple(arguments), {}, encode_handle, perturb=perturb)
        # One call's time per ten evaluations, and at most GRADIENT_BATCH_CALLS calls' time: a forward pass
        # small enough for a numeric gradient takes a millisecond or less, so only a hanging one runs into this.
        timeout = self.call_timeout * min(max(1.0, 2 * point.size / 10), GRADIENT_BATCH_CALLS)
        # The helper cannot resolve the worker's cache handles.
        helper = self._gradient_helper() if point.size > 1 and not any(handles) else None
        if helper is not None:
            half = point.size // 2
            helper_message = {**message, "seq": next(self._seq), "release": []}
            helper_message["perturb"] = {**perturb, "entries": [half, point.size]}
            try:  # an idle helper reads at once; one that does not is dropped, not waited for
                helper.send(encoder.frame(helper_message), time.monotonic() + 1.0)
                message["perturb"] = {**perturb, "entries": [0, half], "settle": True}
            except (TimeoutError, OSError):
                self._stop_helper()
                helper = None
        started = time.monotonic()
        frame = self._exchange(worker, name, encoder.frame(message), timeout)
        # The helper has had as long for its half as the worker for its own: it is done, or nearly.
        patience = max(0.05, time.monotonic() - started)
        # The worker answers for its half, or for all the entries where it went on alone.
        covers = (point.size,) if helper is None else (point.size // 2, point.size)
        try:
            outputs, covered = self._perturbed_outputs(function, take, message["seq"], frame, encoder, covers)
        except BaseException:
            if helper is not None:
                self._drop_helper_reply(patience)  # the batch ends at the first half's failure, as in one process
            raise
        if helper is None:
            return outputs
        if covered == point.size:  # the worker went on through the second half itself
            self._drop_helper_reply(patience)
            return outputs
        self._helper_answering = True
        try:
            frame = self._exchange(helper, name, None, timeout, since=started)
        finally:
            self._helper_answering = False
        rest = point.size - covered
        second, _ = self._perturbed_outputs(function, take, helper_message["seq"], frame, encoder, (rest,))
        if second.shape[1:] != outputs.shape[1:]:
            raise SubmissionError(
                f"{name}: returned shape {second.shape[1:]} after shape {outputs.shape[1:]} for the same call"
            )
        return np.concatenate([outputs, second])

    def _gradient_helper(self) -> WorkerProcess | None:
        """The helper worker if it is ready; starts one if there is none (it is ready some calls later).

        Only where this process may run on more than one CPU, and at most HELPER_STARTS
        times per submission.
        """
        helper = self._helper
        if helper is None:
            if (
                self.limits.gradient_workers > 1
                and self._helper_starts < HELPER_STARTS
                and len(os.sched_getaffinity(0)) > 1
            ):
                self._helper_starts += 1
                self._helper = self._launch("helper-")
                self._helper_deadline = time.monotonic() + self.limits.startup_timeout
            return None
        if helper.ready:
            return helper
        # Take the start-up messages that have come, without waiting for more.
        try:
            while helper.has_reply():
                message = helper.receive(time.monotonic() + 1.0).message
                op = message.get("op") if type(message) is dict else None
                if op == "ready" and type(message.get("failures")) is dict:
                    # The same files must have failed to load as in the worker, or the two would differ.
                    if set(message["failures"]) != set(self._load_failures):
                        raise wire.ProtocolError("the helper loaded other files than the worker")
                    self._drain_output(helper, keep=False)  # the import's output: the worker's was kept
                    helper.ready = True
                    return helper
                if op != "importing":
                    raise wire.ProtocolError(f"unexpected start-up message {str(message)[:200]}")
            if time.monotonic() > self._helper_deadline:
                raise TimeoutError("the helper did not start in time")
        except (TimeoutError, EOFError, OSError, wire.ProtocolError):
            self._stop_helper()
        return None

    def _drop_helper_reply(self, patience: float) -> None:
        """Discard the helper's half of a batch that ended without it: its reply if it comes within
        `patience` seconds, else the helper itself."""
        helper = self._helper
        if helper is None:
            return
        try:
            helper.receive(time.monotonic() + patience)
        except (TimeoutError, EOFError, OSError, wire.ProtocolError):
            self._stop_helper()
            return
        self._drain_output(helper, keep=False)

    def _perturbed_outputs(
        self, function: FunctionSpec, take: int, seq: int, frame: wire.Frame, encoder: wire.Encoder, covers: tuple
    ) -> tuple[np.ndarray, int]:
        """The stacked outputs of a perturbation reply, and how many entries they cover (one of `covers`)."""
        __tracebackhide__ = True
        name = function.name
        reply = frame.message
        try:
            if type(reply) is not dict or reply.get("seq") != seq:
                raise wire.ProtocolError("a reply that does not answer the call")
            decoder = wire.Decoder(frame, known=encoder.tracked, allow_opaque=True)
            if "error" in reply:
                raise self._remote_error(name, reply["error"], decoder)
            nodes, covered = reply.get("ok"), reply.get("covered")
            if type(nodes) is not list or len(nodes) != 1 or type(covered) is not int or covered not in covers:
                raise wire.ProtocolError("a perturbation reply that is not one value for the entries asked for")
            outputs = self._returned(function, take, "array", nodes[0], decoder)
            if outputs.ndim < 1 or outputs.shape[0] != 2 * covered:
                raise wire.ProtocolError(f"perturbed outputs of shape {outputs.shape} for {covered} entries")
        except wire.ProtocolError as error:
            self._replace_worker()
            raise SubmissionError(f"{UNREADABLE_REPLY} while running {name}: {error}") from None
        return outputs, covered

    def _take_releases(self) -> list[int]:
        if not self._releases:
            return []
        releases, self._releases[:] = list(self._releases), []
        handles = [handle for generation, handle in releases if generation == self._generation]
        for handle in handles:
            self._cache_arguments.pop(handle, None)
        return handles

    def _unpack(self, function: FunctionSpec, seq: int, frame: wire.Frame, tracked: list) -> Any:
        __tracebackhide__ = True
        reply = frame.message
        if type(reply) is not dict or reply.get("seq") != seq:
            raise wire.ProtocolError("a reply that does not answer the call")
        decoder = wire.Decoder(frame, known=tracked, allow_opaque=True)
        self._write_back(reply, decoder, tracked)
        if "error" in reply:
            raise self._remote_error(function.name, reply["error"], decoder)
        nodes = reply.get("ok")
        if type(nodes) is not list or len(nodes) != len(function.returns):
            raise wire.ProtocolError("a reply with the wrong number of values")
        values = [
            self._returned(function, position, kind, node, decoder)
            for position, (kind, node) in enumerate(zip(function.returns, nodes))
        ]
        for value in values:
            if type(value) is CacheHandle:
                self._cache_arguments[value._id] = tracked
        return values[0] if len(values) == 1 else tuple(values)

    def _returned(self, function: FunctionSpec, position: int, kind: str, node: Any, decoder: wire.Decoder) -> Any:
        __tracebackhide__ = True
        if kind == "cache":
            if type(node) is not list or len(node) != 2 or node[0] != "h" or type(node[1]) is not int:
                raise wire.ProtocolError("a cache that is not a handle")
            return CacheHandle(self._token, self._generation, node[1], function.name, self._releases)
        if type(node) is list and node and node[0] == "x" and len(node) == 2:
            expected = "a float ndarray" if kind == "array" else "plain data"
            what = _ordinal(position, len(function.returns))
            raise SubmissionError(f"{function.name}: {what} is {str(node[1])[:300]}; expected {expected}")
        value = decoder.decode(node)
        if kind == "array":
            if type(value) is not np.ndarray or value.dtype.kind != "f":
                what = _ordinal(position, len(function.returns))
                raise SubmissionError(f"{function.name}: {what} is {wire.describe(value)}; expected a float ndarray")
            return value
        try:
            return _plain(value)
        except SubmissionError as error:
            what = _ordinal(position, len(function.returns))
            raise SubmissionError(f"{function.name}: {what} holds {error}") from None

    def _write_back(self, reply: dict, decoder: wire.Decoder, tracked: list) -> None:
        """Mirror into the caller's objects what the call changed in its copies of them.

        That includes arrays passed to an earlier call whose cache this call used: a
        backward pass that writes into the forward's input changes the caller's array
        in-process, so it must here too.
        """
        for entry in reply.get("m", ()):
            index, node = self._entry(entry, tracked)
            self._mirror_array(tracked[index], decoder.decode(node))
        for entry in reply.get("mh", ()):
            if type(entry) is not list or len(entry) != 3 or entry[0] not in self._cache_arguments:
                raise wire.ProtocolError("an in-place change of an argument of an unknown cache")
            index, node = self._entry(entry[1:], self._cache_arguments[entry[0]])
            self._mirror_array(self._cache_arguments[entry[0]][index], decoder.decode(node))
        for entry in reply.get("c", ()):
            index, node = self._entry(entry, tracked)
            target = tracked[index]
            if type(target) is dict:
                items: dict = {}
                decoder.fill_dict(items, node)
                target.clear()
                target.update(items)
            elif type(target) is list:
                decoder.fill_list(target, node)
            else:
                raise wire.ProtocolError("a changed container that does not fit its argument")

    @staticmethod
    def _mirror_array(target: Any, value: Any) -> None:
        if type(target) is not np.ndarray or type(value) is not np.ndarray or target.shape != value.shape:
            raise wire.ProtocolError("an in-place change that does not fit its argument")
        if not target.flags.writeable:
            raise wire.ProtocolError("an in-place change of a read-only argument")
        target[...] = value

    @staticmethod
    def _entry(entry: Any, tracked: list) -> tuple[int, Any]:
        if type(entry) is not list or len(entry) != 2 or type(entry[0]) is not int or not 0 <= entry[0] < len(tracked):
            raise wire.ProtocolError("a write-back entry for an argument that does not exist")
        return entry[0], entry[1]

    def _remote_error(self, name: str, error: Any, decoder: wire.Decoder) -> BaseException:
        """The exception to raise in the grader for an error reported by the worker."""
        if type(error) is not dict:
            raise wire.ProtocolError("an error report that is not a dict")
        kind = error.get("kind")
        message = str(error.get("message", ""))[:10_000]
        if kind != "exception":
            if kind == "internal":
                return SubmissionError(f"{name}: {WORKER_FAILED}:\n{message}")
            return SubmissionError(f"{name}: {message}")
        type_name = str(error.get("type", "Exception"))[:100]
        traceback_text = str(error.get("traceback", ""))[:5000]
        base = _builtin_exception(error.get("bases"))
        if base is None or base is AssertionError or not type_name.isidentifier():
            return SubmissionError(f"{name} raised {type_name}: {message}\n\n{traceback_text}".rstrip())
        exception_type = _exception_type(type_name, base)
        try:
            arguments = decoder.decode(error["args"]) if error.get("args") is not None else (message,)
            exception = exception_type(*arguments) if type(arguments) is tuple else exception_type(message)
        except Exception:  # noqa: BLE001 - constructors of some builtin exceptions need particular arguments
            try:
                exception = exception_type(message)
            except Exception:  # noqa: BLE001
                return SubmissionError(f"{name} raised {type_name}: {message}\n\n{traceback_text}".rstrip())
        exception.add_note(f"Raised by {name} in the sandbox:\n{traceback_text}".rstrip())
        return exception

    def _drain_output(self, worker: WorkerProcess | None, keep: bool = True) -> None:
        """Move what a worker printed into the grader's buffer (keep=False: drop it) and empty its capture file.

        Called after every call, so each call gets the whole file-size limit to print into.
        """
        output_fd = worker.output_fd if worker is not None else -1
        if output_fd < 0:
            return
        try:
            size = os.fstat(output_fd).st_size
        except OSError:
            return
        if not size:
            return
        if not keep:
            os.ftruncate(output_fd, 0)
            return
        room = OUTPUT_KEEP - len(self._output)
        if room > 0:
            self._output += os.pread(output_fd, min(size, room), 0)
        self._output_dropped += max(0, size - max(room, 0))
        os.ftruncate(output_fd, 0)


def _reduced_by_configuration(as_root: bool, namespaces: bool) -> str:
    if not as_root:
        return "the grader does not run as root: no namespaces, the worker runs as the grader's own user"
    if not namespaces or os.environ.get(NAMESPACES_VARIABLE) == "0":
        return f"namespaces are turned off (SandboxLimits.namespaces or {NAMESPACES_VARIABLE}=0)"
    return ""


def reduced_isolation_here() -> str:
    """Why a sandbox started here would have reduced isolation ('' : it would not); may fork once to try unshare."""
    return _reduced_by_configuration(running_as_root(), True) or namespaces_refused()


class _OutOfTime(Exception):
    """The time budget ran out while a worker started or imported the submission."""


@atexit.register
def _close_forgotten_sandboxes() -> None:
    for implementation in list(_OPEN):
        implementation.close()


def _protect_secrets() -> None:
    """Take 'other' permissions off the reference and the repository's history (root only).

    The mount namespace hides them already; this is the fallback where namespaces are
    not permitted (a container without CAP_SYS_ADMIN): the worker's uid is 'other'.
    """
    for folder in (KIT_ROOT / "reference", KIT_ROOT / ".git"):
        try:
            mode = folder.stat().st_mode
            if mode & 0o007:
                folder.chmod(mode & ~0o007)
        except OSError:
            pass
