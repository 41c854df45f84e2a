"""SandboxImplementation: a submission's functions, run in a separate, confined worker process.

The grader (the pytest process, which also holds the reference and the hidden tests)
never imports student code. It calls `impl.conv_forward_naive(x, w, b, conv_param)`
on this proxy exactly as on a LocalImplementation; the proxy sends the arguments to
a worker (autograder/worker.py) as plain data (autograder/wire.py: JSON and .npy,
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
a SubmissionError, and a fresh worker serves the next call (in a process that has
needed more than one worker, a spare that is already started: see
sandbox_process._Spares). close() ends the worker and every process it started.

Confinement (see autograder/sandbox_jail.py): as root, the worker runs as a
dedicated uid in private mount and network namespaces with the kit, the temporary
folders and any folders listed in $CNNKIT_SANDBOX_HIDE (os.pathsep-separated) covered
by empty tmpfs mounts, and with limits on CPU time, address space, processes, file
size and core dumps. Without root it is best effort: the same process isolation and
resource limits, but the worker runs as the grader's own user, can read what that
user can read, and could signal the grader; the daemons it starts are found by a
marker in their environment, which a determined student can wipe.

Nothing of the kit is importable in the worker except a copy of autograder/gradcheck.py,
the checker the student README tells students to use, put beside the submission so
that a leftover `from autograder.gradcheck import ...` does not break a file.
"""

from __future__ import annotations

import atexit
import base64
import builtins
import itertools
import os
import shutil
import sys
import tempfile
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from autograder import wire
from autograder.assignments import KIT_ROOT, AssignmentSpec, FunctionSpec
from autograder.implementation import SubmissionError
from autograder.sandbox_process import (
    SandboxStartError,
    SlotLease,
    WorkerProcess,
    describe_exit,
    running_as_root,
    site_packages,
    take_worker,
)
from autograder.submission import MAX_ARTIFACT_BYTES, UnsafeFile, read_submitted_file

OUTPUT_KEEP = 64 * 1024  # bytes of student output kept between two take_output() calls
_GIB = 1 << 30
_MIB = 1 << 20
# Modules of the student release that submissions may import (the README tells students to use gradcheck).
HELPER_MODULES = ("gradcheck.py",)
HIDE_VARIABLE = "CNNKIT_SANDBOX_HIDE"
# glibc in a fresh process maps every block over 128 KiB on its own and unmaps it when
# freed, so each such array the worker builds costs a page fault per 4 KiB, every time.
# The worker keeps freed memory for reuse instead (its address-space limit still holds).
WORKER_HEAP = "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824"
_OPEN: weakref.WeakSet = weakref.WeakSet()  # sandboxes not closed yet: closed at exit if their owner forgot


@dataclass(frozen=True)
class SandboxLimits:
    """What a worker may use. Every field is a keyword argument of SandboxImplementation."""

    memory_bytes: int = 4 * _GIB  # address space per process (torch needs several GiB of it)
    cpu_seconds: int = 600  # CPU time per worker process, a backstop behind the per-call timeout
    file_bytes: int = 16 * _MIB  # largest file a worker may write, its captured output included
    processes: int = 32  # processes and threads of the worker's uid
    scratch_bytes: int = 64 * _MIB  # the tmpfs a worker may write into (root only)
    cache_limit: int = 512  # forward-pass caches a worker keeps (least recently used go first)
    time_budget: float = 600.0  # seconds of calls per submission; past it every call fails at once
    startup_timeout: float = 30.0  # seconds for a worker to start, before it imports student files
    max_reply_bytes: int = 512 * _MIB
    threads: int = 1  # BLAS and OpenMP threads of a worker
    namespaces: bool = True  # use namespaces when running as root
    hide: tuple[str, ...] = ()  # more folders to hide from the worker (root only)


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
        self._budget = self.limits.time_budget
        self._output = bytearray()
        self._output_dropped = 0
        self._worker: WorkerProcess | None = None
        self._closed = False
        self._as_root = running_as_root()
        self._lease: SlotLease | None = None
        self._base: Path | None = None
        _OPEN.add(self)
        try:
            self._lease = SlotLease.acquire() if self._as_root else None
            self._base = Path(tempfile.mkdtemp(prefix="cnnkit-sandbox-"))
            if self._as_root:
                self._base.chmod(0o711)  # the worker's uid may pass through, not list
                _protect_secrets()
            self._start_worker()  # it boots while the caller goes on
        except BaseException:
            self.close()
            raise

    # --- the attribute interface ----------------------------------------------------------

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)
        function_spec = self.spec.function(name)  # AttributeError for names that are not graded

        def call(*args: Any, **kwargs: Any) -> Any:
            __tracebackhide__ = True  # pytest shows the test's line, not the proxy's frames
            return self._call(function_spec, args, kwargs)

        def call_perturbed(arguments: list, *, wrt: int, take: int, step: float) -> np.ndarray:
            __tracebackhide__ = True
            return self._call_perturbed(function_spec, arguments, wrt=wrt, take=take, step=step)

        call.__name__ = call.__qualname__ = name
        call.__doc__ = f"{name} of the submission, run in the sandbox."
        # Numeric gradients evaluate a forward pass hundreds of times: one round trip for all of them.
        call.call_perturbed = call_perturbed
        self.__dict__[name] = call  # later lookups skip __getattr__
        return call

    def take_output(self) -> str:
        """What the submission printed (stdout and stderr) since the last take_output()."""
        self._drain_output()
        text = self._output.decode("utf-8", errors="replace")
        if self._output_dropped:
            text += f"\n[{self._output_dropped} more bytes of output were not kept]"
        self._output = bytearray()
        self._output_dropped = 0
        return text

    def close(self) -> None:
        """End the worker and every process it started; release the uid slot and the folders."""
        if self._closed:
            return
        self._closed = True
        self._stop_worker()
        if self._base is not None:
            shutil.rmtree(self._base, ignore_errors=True)
        if self._lease is not None:
            self._lease.release()

    def __enter__(self) -> SandboxImplementation:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- workers ------------------------------------------------------------------------

    def _plan(self) -> dict[str, Any]:
        limits = self.limits
        uid = self._lease.uid if self._lease is not None else None
        temp = tempfile.gettempdir()
        hide = [[str(KIT_ROOT), 0o755, _MIB], [temp, 0o1777, limits.scratch_bytes]]
        hide += [[folder, 0o1777, limits.scratch_bytes] for folder in ("/var/tmp", "/dev/shm") if folder != temp]
        extra = [*limits.hide, *filter(None, os.environ.get(HIDE_VARIABLE, "").split(os.pathsep))]
        hide += [[str(Path(folder).resolve()), 0o755, _MIB] for folder in extra]
        keep = [sys.prefix] if sys.prefix != sys.base_prefix else []
        keep += site_packages()
        return {
            "uid": uid,
            "gid": uid,
            "namespaces": self._as_root and limits.namespaces,
            "hide": hide,
            "keep": keep,
            "work_dir": str(self._base / "work"),
            "helper_dir": str(self._base / "lib"),
            "grader_pid": os.getpid(),
            "limits": {
                "cpu_seconds": limits.cpu_seconds,
                "memory_bytes": limits.memory_bytes,
                "file_bytes": limits.file_bytes,
                "processes": limits.processes,
            },
        }

    def _start_worker(self) -> None:
        if not self._as_root or not self.limits.namespaces:
            # Without a mount namespace the worker writes into the real folder: start it empty.
            for name in ("work", "lib"):
                shutil.rmtree(self._base / name, ignore_errors=True)
        helpers = {f"autograder/{name}": (Path(__file__).parent / name).read_bytes() for name in HELPER_MODULES}
        helpers["autograder/__init__.py"] = b""
        config = {
            "op": "start",
            "plan": self._plan(),
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
        worker = take_worker(self._worker_env())
        try:
            worker.start(config, self.limits.max_reply_bytes)
        except BaseException:
            worker.discard()
            raise
        self._worker = worker
        self._releases.clear()

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
        worker = self._worker
        if worker is not None:
            survivors = worker.stop(self._lease.uid if self._lease is not None else None)
            if survivors:
                self.notes.append(f"processes {survivors} survived the end of a worker")
            self._drain_output()  # what it printed last
            worker.close_output()
            self._worker = None
        self._generation += 1
        self._cache_arguments.clear()  # their caches died with the worker

    def _replace_worker(self) -> None:
        """After a crash or a timeout: end the worker and start a fresh one for the next call."""
        self._stop_worker()
        if not self._closed:
            self._start_worker()

    def _ready_worker(self) -> WorkerProcess:
        """The running worker once it has imported the submission.

        A file whose import hangs or ends the worker is marked broken, and a new
        worker starts without it, so only the functions of that file fail.
        """
        modules = (*self.spec.files, *getattr(self.spec, "support_files", ()))
        for _ in range(len(modules) + 2):
            if self._worker is None:
                self._start_worker()
            worker = self._worker
            if worker.ready:
                return worker
            importing = None
            deadline = time.monotonic() + self.limits.startup_timeout
            try:
                while True:
                    message = worker.receive(deadline).message
                    op = message.get("op") if type(message) is dict else None
                    if op == "importing" and message.get("file") in modules:
                        importing = message["file"]
                        deadline = time.monotonic() + self.call_timeout
                    elif op == "ready":
                        self._load_failures = {str(k): str(v) for k, v in dict(message.get("failures", {})).items()}
                        self.notes = [str(note) for note in message.get("notes", [])]
                        worker.ready = True
                        return worker
                    elif op == "failed":
                        self._stop_worker()
                        raise SandboxStartError(f"the sandbox could not be set up:\n{message.get('message')}")
                    else:
                        raise wire.ProtocolError(f"unexpected start-up message {str(message)[:200]}")
            except (TimeoutError, EOFError, OSError, wire.ProtocolError) as error:
                if isinstance(error, TimeoutError):
                    what = f"did not finish within {self.call_timeout:g} s"
                elif isinstance(error, wire.ProtocolError):
                    what = f"broke the worker's protocol ({error})"
                else:
                    what = f"ended it: {describe_exit(worker.ended())}"
                self._stop_worker()
                if importing is None:
                    raise SandboxStartError(f"the sandbox worker did not start: {what}") from None
                self._broken[importing] = f"importing {importing} in the sandbox {what}"
        raise SandboxStartError("the sandbox worker did not start")

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
        if self._budget <= 0:
            raise SubmissionError(
                f"{name} was not run: the submission used up its {self.limits.time_budget:g} s of sandbox time"
            )
        worker = self._worker
        if worker is None or not worker.ready:
            worker = self._ready_worker()
        for failures in (self._broken, self._load_failures):
            if function.file in failures:
                raise SubmissionError(f"{name}: {function.file} could not be loaded:\n{failures[function.file]}")
        return worker

    def _request(self, function: FunctionSpec, args: tuple, kwargs: dict, **extra: Any) -> tuple[dict, wire.Encoder]:
        """A call message and the encoder that holds its arrays (and tracks its arguments for write-back)."""
        encoder = wire.Encoder(track=True, encode_handle=self._encode_handle)
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
            raise SubmissionError(f"the worker sent an unreadable reply while running {name}: {error}") from None

    def _exchange(self, worker: WorkerProcess, name: str, request: Any, timeout: float) -> wire.Frame:
        """Send one request and wait for its reply; a timeout or a dead worker becomes a SubmissionError."""
        __tracebackhide__ = True
        started = time.monotonic()
        try:
            worker.send(request, started + timeout)
            frame = worker.receive(started + timeout)
        except TimeoutError:
            self._replace_worker()
            raise SubmissionError(
                f"{name} did not return within {timeout:g} s; it was stopped "
                "(look for an infinite loop, or code far slower than it needs to be)"
            ) from None
        except (EOFError, OSError) as error:
            ending = describe_exit(worker.ended()) if isinstance(error, EOFError) else f"the worker failed ({error})"
            self._replace_worker()
            raise SubmissionError(f"{ending} while running {name}") from None
        except wire.ProtocolError as error:
            self._replace_worker()
            raise SubmissionError(f"the worker sent an unreadable reply while running {name}: {error}") from None
        finally:
            self._budget -= time.monotonic() - started
        self._drain_output()
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
        message, encoder = self._request(function, tuple(arguments), {}, perturb=perturb)
        # The batch gets one call's time per ten evaluations: a forward pass small enough for a numeric
        # gradient takes milliseconds, so only a hanging one runs into this.
        timeout = self.call_timeout * max(1.0, 2 * point.size / 10)
        frame = self._exchange(worker, name, encoder.frame(message), timeout)
        reply = frame.message
        try:
            if type(reply) is not dict or reply.get("seq") != message["seq"]:
                raise wire.ProtocolError("a reply that does not answer the call")
            decoder = wire.Decoder(frame, known=encoder.tracked, allow_opaque=True)
            if "error" in reply:
                raise self._remote_error(name, reply["error"], decoder)
            nodes = reply.get("ok")
            if type(nodes) is not list or len(nodes) != 1:
                raise wire.ProtocolError("a perturbation reply that is not one value")
            outputs = self._returned(function, take, "array", nodes[0], decoder)
        except wire.ProtocolError as error:
            self._replace_worker()
            raise SubmissionError(f"the worker sent an unreadable reply while running {name}: {error}") from None
        if outputs.ndim < 1 or outputs.shape[0] != 2 * point.size:
            raise wire.ProtocolError(f"perturbed outputs of shape {outputs.shape} for {point.size} entries")
        return outputs

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
                return SubmissionError(f"{name}: the sandbox worker failed:\n{message}")
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

    def _drain_output(self) -> None:
        """Move what the worker printed into the grader's buffer and empty the capture file.

        Called after every call, so each call gets the whole file-size limit to print into.
        """
        output_fd = self._worker.output_fd if self._worker is not None else -1
        if output_fd < 0:
            return
        try:
            size = os.fstat(output_fd).st_size
        except OSError:
            return
        if not size:
            return
        room = OUTPUT_KEEP - len(self._output)
        if room > 0:
            self._output += os.pread(output_fd, min(size, room), 0)
        self._output_dropped += max(0, size - max(room, 0))
        os.ftruncate(output_fd, 0)


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
