"""The sandbox worker: runs one submission's functions for the grader, one call at a time.

autograder/sandbox/process.py starts this file once per grader process (and worker
environment) as the *zygote*:

    python -S -I -B -u autograder/sandbox/worker.py BOOTSTRAP_JSON

-S -I means no site module, no .pth files (so not the kit's editable install), no
PYTHON* variables and no script folder on sys.path: nothing of the kit is importable.
The bootstrap gives the exact sys.path (the standard library and the environment's
site-packages), the paths of this file's three companions, autograder/sandbox/wire.py,
autograder/sandbox/protocol.py and autograder/sandbox/jail.py, which are loaded by path,
and a socket. The zygote imports
numpy, then forks one worker per request on the socket (serve_forks); it never runs
student code. A forked worker gets its own request and reply pipes and capture file
(stdout and stderr) with the request, and waits, bare, for its start message, or
ends at the pipe's end-of-file (the grader dropped it). autograder/sandbox/protocol.py
names every message and key of the conversation that follows.

The grader trusts nothing it receives: student code runs in this process and can
rewrite any of it. What this file guarantees is only the honest case, fast.
"""

from __future__ import annotations

import base64
import importlib
import importlib.util
import itertools
import json
import os
import socket
import sys
import time
import traceback
import types
from collections import OrderedDict
from typing import Any

PACKAGE = "submission"
_MISSING = object()


class CallRefused(Exception):
    """The call cannot run: its file did not load, the function is missing, or a cache expired."""

    def __init__(self, kind: str, message: str) -> None:
        # kind: protocol.NOT_LOADED, CACHE_GONE or BAD_RETURNS
        super().__init__(message)
        self.kind = kind


def _load_companion(name: str, path: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _flush_output() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001, S110 - the student may have replaced or closed the streams
            pass


def _error_text(error: BaseException) -> str:
    """The exception with its traceback, at most a few thousand characters (the end, where the cause is)."""
    try:
        text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    except BaseException:  # noqa: BLE001 - a hostile exception may break formatting
        text = f"{type(error).__name__} (its traceback could not be formatted)"
    return text if len(text) <= 4000 else "...\n" + text[-4000:]


def _frames_text(error: BaseException) -> str:
    """The traceback of an exception raised by a student function: its frames, without this file's."""
    try:
        frames = traceback.format_tb(error.__traceback__.tb_next)
        text = "Traceback (most recent call last):\n" + "".join(frames) if frames else ""
    except BaseException:  # noqa: BLE001 - a hostile traceback may break formatting
        text = ""
    return text if len(text) <= 4000 else "...\n" + text[-4000:]


def _exception_report(protocol: types.ModuleType, error: BaseException, frames: str, encoder: Any) -> dict:
    """The error report of a student function that raised `error`; frames: its traceback's text."""
    kind = type(error)
    try:
        message = str(error)
    except BaseException:  # noqa: BLE001
        message = "(str() of the exception failed)"
    try:
        arguments = encoder.encode(tuple(error.args))
    except BaseException:  # noqa: BLE001
        arguments = None
    return {
        protocol.ERROR_KIND: protocol.RAISED,
        protocol.EXCEPTION_TYPE: str(getattr(kind, "__qualname__", "Exception"))[:100],
        protocol.BASES: [base.__name__ for base in kind.__mro__ if base.__module__ == "builtins"],
        protocol.EXCEPTION_ARGS: arguments,
        protocol.MESSAGE: message[:10_000],
        protocol.TRACEBACK: frames,
    }


def _snapshot(container: Any) -> list:
    return list(container.items()) if type(container) is dict else list(container)


def _containers(decoder: Any) -> list[tuple[int, Any, list]]:
    """(number, object, snapshot) of each dict and list among a request's arguments, to find later changes."""
    return [(i, obj, _snapshot(obj)) for i, obj in enumerate(decoder.known) if type(obj) in (dict, list)]


def _changed(container: Any, snapshot: list) -> bool:
    if len(container) != len(snapshot):
        return True
    if type(container) is dict:
        return any(container.get(key, _MISSING) is not value for key, value in snapshot)
    return any(now is not before for now, before in zip(container, snapshot))


class KeptCaches:
    """The forward-pass caches a worker keeps for the grader's handles; the least recently used go first.

    For each cache it also keeps the array arguments of the call that made it, with their
    bytes after that call: a later call through the cache may change them in place, and
    the caller must see that, as in-process.
    """

    def __init__(self, wire: types.ModuleType, protocol: types.ModuleType, limit: int) -> None:
        self.wire = wire
        self.protocol = protocol
        self.limit = limit
        self.values: OrderedDict[int, Any] = OrderedDict()
        # handle -> [(argument index, array, bytes after the call)] of the call that made the cache
        self.inputs: dict[int, list[tuple[int, Any, bytes]]] = {}
        self.next_handle = 1

    def get(self, handle: Any) -> Any:
        """The cache of a handle the grader sent; CallRefused where it is no longer kept."""
        try:
            value = self.values[handle]
        except (KeyError, TypeError):
            raise CallRefused(
                self.protocol.CACHE_GONE,
                f"the cache passed in is no longer held by the sandbox (it keeps the last {self.limit}); "
                "call the forward function again",
            ) from None
        self.values.move_to_end(handle)
        return value

    def keep(self, value: Any) -> list:
        """Keep a returned cache; its handle's wire node, for the grader."""
        handle = self.next_handle
        self.next_handle += 1
        self.values[handle] = value
        if len(self.values) > self.limit:
            evicted, _ = self.values.popitem(last=False)
            self.inputs.pop(evicted, None)
        return [self.wire.HANDLE, handle]

    def release(self, handles: list) -> None:
        """Drop the caches whose handles the grader no longer holds."""
        for handle in handles:
            self.values.pop(handle, None)
            self.inputs.pop(handle, None)

    def remember_inputs(self, nodes: list, arrays: list) -> None:
        """Snapshot the array arguments of a call whose caches were kept (see inputs)."""
        handle_tag = self.wire.HANDLE
        handles = [node[1] for node in nodes if type(node) is list and len(node) == 2 and node[0] == handle_tag]
        if handles and arrays:
            inputs = [(index, array, array.tobytes()) for array, index, _ in arrays]
            for handle in handles:
                self.inputs[handle] = inputs

    def changed_inputs(self, handles: list, encoder: Any) -> list:
        """[handle, argument index, array] for each remembered input that changed since its snapshot."""
        changed = []
        for handle in handles:
            inputs = self.inputs.get(handle, ())
            for position, (index, array, before) in enumerate(inputs):
                now = array.tobytes()
                if now != before:
                    changed.append([handle, index, encoder.array(array)])
                    inputs[position] = (index, array, now)
        return changed


class Worker:
    """Holds the imported submission and the caches of its forward passes; answers calls."""

    def __init__(
        self, wire: types.ModuleType, protocol: types.ModuleType, reader: Any, reply_fd: int, config: dict
    ) -> None:
        self.wire = wire
        self.protocol = protocol
        self.reader = reader
        self.reply_fd = reply_fd
        self.functions: dict[str, list] = config[protocol.FUNCTIONS]  # name -> [file, returns]
        self.caches = KeptCaches(wire, protocol, config[protocol.CACHE_LIMIT])
        self.failures: dict[str, str] = {}
        self.modules: dict[str, types.ModuleType] = {}
        self.pid = os.getpid()

    def send(self, message: dict, encoder: Any = None) -> None:
        if os.getpid() != self.pid:  # a child forked by student code must never answer for us
            os._exit(0)
        self.wire.write_frame(self.reply_fd, (encoder or self.wire.Encoder()).frame(message))

    # --- loading the submission ---------------------------------------------------------

    def load(self, files: list[str], skip: dict[str, str], work_dir: str) -> None:
        """Import each allow-listed file as a submodule of one package, so relative imports work."""
        package = types.ModuleType(PACKAGE)
        package.__path__ = [work_dir]
        sys.modules[PACKAGE] = package
        for file_name in files:
            if file_name in skip:
                self.failures[file_name] = skip[file_name]
                continue
            if not os.path.isfile(os.path.join(work_dir, file_name)):
                self.failures[file_name] = f"{file_name} was not submitted"
                continue
            self.send({self.protocol.OP: self.protocol.IMPORTING, self.protocol.FILE: file_name})
            try:
                self.modules[file_name] = importlib.import_module(f"{PACKAGE}.{file_name[:-3]}")
            except BaseException as error:  # noqa: BLE001 - SystemExit at import time is a broken file too
                self.failures[file_name] = _error_text(error)
        _flush_output()

    # --- calls ----------------------------------------------------------------------------

    def function(self, name: str) -> Any:
        not_loaded = self.protocol.NOT_LOADED
        entry = self.functions.get(name)
        if entry is None:
            raise CallRefused(not_loaded, f"{name} is not a graded function")
        file_name = entry[0]
        if file_name in self.failures:
            raise CallRefused(not_loaded, f"{file_name} could not be loaded:\n{self.failures[file_name]}")
        try:
            function = getattr(self.modules[file_name], name, None)
        except BaseException as error:  # noqa: BLE001 - a module __getattr__ may raise anything
            raise CallRefused(not_loaded, f"looking up {name} in {file_name} failed:\n{_error_text(error)}") from None
        if not callable(function):
            raise CallRefused(not_loaded, f"{file_name} defines no function named {name}")
        return function

    def encode_returns(self, result: Any, returns: list[str], encoder: Any) -> list:
        """One node per declared return value; whatever is not of the declared kind is described, not sent."""
        describe = self.wire.describe
        if len(returns) == 1:
            values = (result,)
        elif type(result) in (tuple, list) and len(result) == len(returns):
            values = tuple(result)
        else:
            raise CallRefused(
                self.protocol.BAD_RETURNS,
                f"returned {describe(result)}; expected a tuple of {len(returns)} values ({', '.join(returns)})",
            )
        nodes = []
        for kind, value in zip(returns, values):
            if kind == "array":
                exact_float = type(value) is self.wire.np.ndarray and value.dtype.kind == "f"
                nodes.append(encoder.encode(value) if exact_float else [self.wire.NOT_SENT, describe(value)])
            elif kind == "cache":
                nodes.append(self.caches.keep(value))
            else:  # 'json': plain values; the grader checks what came
                nodes.append(encoder.encode(value))
        return nodes

    def refusal(self, refused: CallRefused) -> dict:
        """The error report of a call that could not run."""
        return {self.protocol.ERROR_KIND: refused.kind, self.protocol.MESSAGE: str(refused)}

    def answer(self, frame: Any) -> None:
        message = frame.message
        wire, protocol = self.wire, self.protocol
        reply: dict[str, Any] = {protocol.SEQ: message.get(protocol.SEQ)}
        try:
            if message[protocol.RELEASE]:
                self.caches.release(message[protocol.RELEASE])
            used_handles: list = []

            def cache_of(handle: Any) -> Any:
                value = self.caches.get(handle)
                used_handles.append(handle)
                return value

            decoder = wire.Decoder(frame, track=True, decode_handle=cache_of)
            args = decoder.decode(message[protocol.ARGS])
            keywords = message[protocol.KWARGS]
            kwargs = {str(name): decoder.decode(node) for name, node in keywords} if keywords else {}
            function = self.function(message[protocol.FUNCTION])
            returns = self.functions[message[protocol.FUNCTION]][1]
        except CallRefused as refused:
            reply[protocol.ERROR] = self.refusal(refused)
            self.send(reply)
            return
        if message.get(protocol.PERTURB) is not None:
            self.answer_perturbed(function, args, message[protocol.PERTURB], returns, reply, frame, decoder)
            return
        # What the call may change in place: the request's arrays (compared byte for byte
        # with a snapshot of the frame) and its dicts and lists (compared by identity).
        snapshot = bytes(frame.buffer) if decoder.arrays else b""
        containers = _containers(decoder)
        try:
            result = function(*args, **kwargs)
            error = frames = None
        except BaseException as raised:  # noqa: BLE001 - SystemExit and KeyboardInterrupt are the student's too
            result, error = None, raised
            # Format the traceback now, then drop the frames' locals: after a MemoryError
            # they may hold most of the memory the reply needs.
            frames = _frames_text(raised)
            traceback.clear_frames(raised.__traceback__)
        _flush_output()
        encoder = wire.Encoder(known={id(obj): i for i, obj in enumerate(decoder.known)}, lenient=True)
        try:
            if error is None:
                reply[protocol.RETURNED] = self.encode_returns(result, returns, encoder)
                self.caches.remember_inputs(reply[protocol.RETURNED], decoder.arrays)
            else:
                reply[protocol.ERROR] = _exception_report(protocol, error, frames, encoder)
        except CallRefused as refused:
            reply[protocol.ERROR] = self.refusal(refused)
        self.add_changes(reply, frame, snapshot, decoder, containers, used_handles, encoder)
        self.send(reply, encoder)

    def add_changes(
        self,
        reply: dict,
        frame: Any,
        snapshot: bytes,
        decoder: Any,
        containers: list,
        used_handles: list,
        encoder: Any,
    ) -> None:
        """Add to a reply what the call changed of its arguments, for the grader to mirror into its objects.

        snapshot: the request frame's bytes before the call (its arrays are views into the frame);
        containers: _containers(decoder) before the call; used_handles: the caches the call was
        passed, whose arguments count too.
        """
        protocol = self.protocol
        mutated = []
        for array, index, blob in decoder.arrays:
            start, length = frame.spans[blob]
            if frame.buffer[start : start + length] != snapshot[start : start + length]:
                mutated.append([index, encoder.array(array)])
        if mutated:
            reply[protocol.MODIFIED] = mutated
        changed_inputs = self.caches.changed_inputs(used_handles, encoder)
        if changed_inputs:
            reply[protocol.MODIFIED_THROUGH_CACHE] = changed_inputs
        changed = []
        for index, container, before in containers:
            if _changed(container, before):
                if type(container) is dict:
                    changed.append([index, encoder.dict_node(container)])
                else:
                    changed.append([index, [self.wire.LIST, [encoder.encode(item, 1) for item in container]]])
        if changed:
            reply[protocol.CHANGED] = changed

    def answer_perturbed(
        self, function: Any, arguments: Any, perturb: dict, returns: list[str], reply: dict, frame: Any, decoder: Any
    ) -> None:
        """Value `take` of `function` with arguments[wrt] moved by +step and -step at each entry, stacked.

        For numeric gradients: no caches kept, no in-place changes sent back, since
        every evaluation gets a fresh copy of the perturbed argument. perturb[ENTRIES]
        ([first, stop], flat indices) limits the batch to part of the entries: the grader
        gives the rest to the gradient worker, which starts from the arguments as sent. With
        perturb[SETTLE], an evaluation that changes the other arguments (a dict entry,
        an array in place) makes this worker go on to the last entry itself, since the
        next evaluation in one process would have seen the change; reply[COVERED]
        says where it stopped.
        """
        np, describe, protocol = self.wire.np, self.wire.describe, self.protocol
        wrt, take = int(perturb[protocol.WRT]), int(perturb[protocol.TAKE])
        step = float(perturb[protocol.STEP])
        encoder = self.wire.Encoder(lenient=True)
        point = arguments[wrt]
        first, stop = perturb.get(protocol.ENTRIES) or (0, point.size)
        first, stop = max(0, int(first)), min(point.size, int(stop))
        before = None
        if perturb.get(protocol.SETTLE):
            before = (bytes(frame.buffer), _containers(decoder))
        outputs = None
        capacity = (point.size if before is not None else stop) - first
        entry = first
        try:
            for index in itertools.islice(np.ndindex(point.shape), first, None):
                if entry >= stop:
                    break
                for sign_position, sign in enumerate((1.0, -1.0)):
                    moved = point.copy()
                    moved[index] += sign * step
                    try:
                        result = function(*arguments[:wrt], moved, *arguments[wrt + 1 :])
                    except BaseException as raised:  # noqa: BLE001 - SystemExit and the like are the student's too
                        frames = _frames_text(raised)
                        traceback.clear_frames(raised.__traceback__)
                        reply[protocol.ERROR] = _exception_report(protocol, raised, frames, encoder)
                        return
                    if len(returns) > 1:
                        if type(result) not in (tuple, list) or len(result) != len(returns):
                            raise CallRefused(
                                protocol.BAD_RETURNS, f"returned {describe(result)}; expected {len(returns)} values"
                            )
                        result = result[take]
                    if type(result) is not np.ndarray or result.dtype.kind != "f":
                        reply[protocol.RETURNED] = [[self.wire.NOT_SENT, describe(result)]]
                        return
                    if outputs is None:
                        outputs = np.empty((2 * capacity, *result.shape))
                    if result.shape != outputs.shape[1:]:
                        raise CallRefused(
                            protocol.BAD_RETURNS,
                            f"returned shape {result.shape} after shape {outputs.shape[1:]} for the same call",
                        )
                    outputs[2 * (entry - first) + sign_position] = result
                entry += 1
                if before is not None and (
                    frame.buffer != before[0] or any(_changed(obj, snapshot) for _, obj, snapshot in before[1])
                ):
                    stop, before = point.size, None
            covered = outputs[: 2 * (entry - first)] if outputs is not None else np.empty((0,))
            reply[protocol.RETURNED] = [encoder.encode(covered)]
            reply[protocol.COVERED] = entry - first
        except CallRefused as refused:
            reply[protocol.ERROR] = self.refusal(refused)
        finally:
            _flush_output()
            self.send(reply, encoder)

    def serve(self) -> None:
        while True:
            try:
                frame = self.reader.read()
            except EOFError:
                return
            try:
                self.answer(frame)
            except BaseException as error:  # noqa: BLE001 - the worker must outlive its own failures
                protocol = self.protocol
                failure = {protocol.ERROR_KIND: protocol.INTERNAL, protocol.MESSAGE: _error_text(error)}
                self.send({protocol.SEQ: frame.message.get(protocol.SEQ), protocol.ERROR: failure})


def _wait_for(pid: int, timeout: float) -> int | None:
    """Reap a forked worker: its exit status as subprocess gives it, or None if it runs on past timeout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            reaped, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return None
        if reaped:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.0005)


def serve_forks(jail: types.ModuleType, protocol: types.ModuleType, bootstrap: dict) -> tuple[int, int]:
    """The zygote (see autograder/sandbox/process.py): fork a bare worker for each request of the grader.

    Returns only in a forked worker, with its request and reply pipes; the zygote itself
    exits when the grader closes the socket.
    """
    control = socket.socket(fileno=bootstrap[protocol.CONTROL_FD])
    jail.die_with_parent(bootstrap[protocol.PARENT_PID])
    marker_variable = bootstrap[protocol.MARKER_VARIABLE]
    marker = os.environb[marker_variable.encode()]
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(control, 4096, 3)
        except OSError:
            os._exit(0)
        if not data:  # the grader has gone
            os._exit(0)
        request = json.loads(data)
        if request[protocol.OP] == protocol.FORK and len(fds) == 3:
            try:
                pid = os.fork()
            except OSError as error:  # out of processes or memory: this worker fails, the zygote goes on
                pid, answer = -1, {protocol.REFUSED: f"fork failed: {error}"}
            if pid == 0:
                control.close()
                os.setsid()
                request_fd, reply_fd, output_fd = fds
                os.dup2(output_fd, 1)
                os.dup2(output_fd, 2)
                os.close(output_fd)
                # Its own marker, in its own copy of the environment block, where /proc shows it.
                jail.overwrite_environment_value(marker_variable, marker, request[protocol.MARKER].encode())
                return request_fd, reply_fd
            if pid > 0:
                answer = {protocol.PID: pid}
        elif request[protocol.OP] == protocol.WAIT:
            status = _wait_for(int(request[protocol.PID]), float(request[protocol.WAIT_TIMEOUT]))
            answer = {protocol.STATUS: status}
        else:
            answer = {protocol.REFUSED: f"unknown request {str(request)[:100]}"}
        for fd in fds:
            os.close(fd)
        control.send(json.dumps(answer).encode())


def main() -> None:
    bootstrap = json.loads(sys.argv[1])
    # The one key spelled out here: it says where the names of all the others are.
    protocol = _load_companion("cnnkit_protocol", bootstrap["protocol"])
    sys.path[:] = bootstrap[protocol.SYS_PATH]
    wire = _load_companion("cnnkit_wire", bootstrap[protocol.WIRE_PATH])
    jail = _load_companion("cnnkit_jail", bootstrap[protocol.JAIL_PATH])
    request_fd, reply_fd = serve_forks(jail, protocol, bootstrap)
    parent = os.getppid()  # the zygote, which dies with the grader
    os.set_blocking(request_fd, False)  # so that reads spin before sleeping: wire.SPIN_SECONDS
    reader = wire.FrameReader(request_fd)
    try:
        config = reader.read().message
    except EOFError:  # a worker that was never given a submission: its grader has ended it
        os._exit(0)
    plan = config[protocol.PLAN]
    try:
        files = {name: base64.b64decode(text) for name, text in config[protocol.FILES].items()}
        kit_modules = {name: base64.b64decode(text) for name, text in config[protocol.KIT_MODULES].items()}
        artifacts = config[protocol.ARTIFACTS]
        folder, names = artifacts[protocol.ARTIFACT_FOLDER], artifacts[protocol.ARTIFACT_NAMES]
        files.update(jail.read_artifacts(folder, names, artifacts[protocol.ARTIFACT_LIMIT]))
        confined = jail.confine(plan, files, kit_modules, parent)
    except BaseException as error:  # noqa: BLE001 - report why the sandbox could not be built
        failed = {protocol.OP: protocol.FAILED, protocol.MESSAGE: _error_text(error)}
        wire.write_frame(reply_fd, wire.Encoder().frame(failed))
        os._exit(70)
    del files, kit_modules
    sys.path[:0] = [plan["work_dir"], plan["kit_dir"]]
    worker = Worker(wire, protocol, reader, reply_fd, config)
    worker.load(config[protocol.FILES_IN_ORDER], config[protocol.SKIP], plan["work_dir"])
    ready = {protocol.FAILURES: worker.failures, protocol.NOTES: confined["notes"]}
    worker.send({protocol.OP: protocol.READY, **ready, protocol.REDUCED: confined["reduced"]})
    del config
    worker.serve()
    os._exit(0)


if __name__ == "__main__":
    main()
