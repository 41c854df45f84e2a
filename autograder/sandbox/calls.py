"""One call of a submission's function: which worker runs it, the request, the wait for the reply.

Each call has a timeout. A timeout, a crash, os._exit or a signal fails that call with
a SubmissionError, and a fresh worker serves the next call. After a function times out
once, its later calls fail at once with that first failure's message (the tests of the
other functions run as usual), and once the time budget is spent every call fails at once.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

from autograder.core.assignments import FunctionSpec
from autograder.core.implementation import SubmissionError
from autograder.sandbox import protocol, wire
from autograder.sandbox.budget import OutOfTime, TimeBudget
from autograder.sandbox.caches import CacheBook
from autograder.sandbox.failures import CALL_TIMED_OUT, TIMED_OUT_EARLIER, UNREADABLE_REPLY
from autograder.sandbox.output import OutputCapture
from autograder.sandbox.process import WorkerProcess, describe_exit
from autograder.sandbox.replies import ReplyReader
from autograder.sandbox.workers import Workers


class Calls:
    """Sends a submission's calls to its worker and reads the replies, within their timeouts and the budget."""

    def __init__(
        self,
        workers: Workers,
        budget: TimeBudget,
        output: OutputCapture,
        caches: CacheBook,
        replies: ReplyReader,
        call_timeout: float,
    ) -> None:
        self.workers = workers
        self.budget = budget
        self.output = output
        self.caches = caches
        self.replies = replies
        self.call_timeout = call_timeout
        self.timed_out: dict[str, str] = {}  # function -> the message of its first timeout
        self._seq = itertools.count(1)

    def call(self, function: FunctionSpec, args: tuple, kwargs: dict) -> Any:
        """What `function` returns for these arguments in the worker; raises what it raised there."""
        __tracebackhide__ = True
        worker = self.worker_for(function)
        message, encoder = self.request(function, args, kwargs)
        frame = self.exchange(worker, function.name, encoder.frame(message), self.call_timeout)
        try:
            return self.replies.values(function, message[protocol.SEQ], frame, encoder.tracked)
        except wire.ProtocolError as error:
            raise self.unreadable(function.name, error) from None

    def worker_for(self, function: FunctionSpec) -> WorkerProcess:
        """The ready worker for a call of `function`, or a SubmissionError saying why it cannot run."""
        __tracebackhide__ = True
        name = function.name
        if self.workers.closed:
            raise SubmissionError(f"{name}: the sandbox was already closed")
        if name in self.timed_out:
            raise SubmissionError(
                f"{name} was not run: an earlier call of {name} {TIMED_OUT_EARLIER} "
                f"(that keeps grading within its time limit). The first failure:\n{self.timed_out[name]}"
            )
        if self.budget.used_up:
            raise self.budget.error(name)
        worker = self.workers.worker
        if worker is None or not worker.ready:
            try:
                worker = self.workers.ready()
            except OutOfTime:
                raise self.budget.error(name) from None
        for failures in (self.workers.files.unimportable, self.workers.load_failures):
            if function.file in failures:
                raise SubmissionError(f"{name}: {function.file} could not be loaded:\n{failures[function.file]}")
        return worker

    def next_seq(self) -> int:
        """A new call number: the reply to a call carries its number back."""
        return next(self._seq)

    def request(
        self,
        function: FunctionSpec,
        args: tuple,
        kwargs: dict,
        encode_handle: Callable | None = None,
        perturb: dict | None = None,
    ) -> tuple[dict, wire.Encoder]:
        """A call message and the encoder that holds its arrays (and tracks its arguments for write-back).

        encode_handle: turns CacheHandles into wire nodes (default: the cache book's);
        perturb: makes it a numeric-gradient batch (see gradients.py and protocol.PERTURB).
        """
        encoder = wire.Encoder(track=True, encode_handle=encode_handle or self.caches.encode)
        try:
            message = {
                protocol.OP: protocol.CALL,
                protocol.SEQ: self.next_seq(),
                protocol.FUNCTION: function.name,
                protocol.ARGS: encoder.encode(args),
                protocol.KWARGS: [[str(key), encoder.encode(value)] for key, value in kwargs.items()] if kwargs else [],
                protocol.RELEASE: self.caches.take_releases(),
            }
        except wire.Unencodable as error:
            raise TypeError(f"{function.name}: {error}") from None
        if perturb is not None:
            message[protocol.PERTURB] = perturb
        return message, encoder

    def exchange(
        self, worker: WorkerProcess, name: str, request: Any, timeout: float, since: float | None = None
    ) -> wire.Frame:
        """Send one request and wait for its reply; a timeout or a dead worker becomes a SubmissionError.

        request None: it was sent already, at time.monotonic() value `since`, from which the timeout runs.
        The wait ends sooner where the time budget runs out sooner. A timeout makes the function's later
        calls fail at once (see worker_for).
        """
        __tracebackhide__ = True
        started = time.monotonic() if since is None else since
        deadline, by_budget = self.budget.deadline(started + timeout - time.monotonic())
        try:
            if request is not None:
                worker.send(request, deadline)
            frame = worker.receive(deadline)
        except TimeoutError:
            self.workers.replace()
            if by_budget:
                raise self.budget.error(name, stopped_after=time.monotonic() - started) from None
            message = (
                f"{name} {CALL_TIMED_OUT} {timeout:g} s; it was stopped "
                "(look for an infinite loop, or code far slower than it needs to be)"
            )
            self.timed_out.setdefault(name, message)
            raise SubmissionError(message) from None
        except (EOFError, OSError) as error:
            ending = describe_exit(worker.ended()) if isinstance(error, EOFError) else f"the worker failed ({error})"
            self.workers.replace()
            raise SubmissionError(f"{ending} while running {name}") from None
        except wire.ProtocolError as error:
            raise self.unreadable(name, error) from None
        self.output.drain(worker)
        return frame

    def unreadable(self, name: str, error: wire.ProtocolError) -> SubmissionError:
        """The failure of a call whose reply broke the protocol; the worker that sent it is replaced."""
        self.workers.replace()
        return SubmissionError(f"{UNREADABLE_REPLY} while running {name}: {error}")
