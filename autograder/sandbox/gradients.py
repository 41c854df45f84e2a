"""Numeric gradients: a forward pass evaluated at every entry moved by +step and -step, in one round trip.

Where the grader may use more than one CPU, a second worker, the gradient worker, takes
half of each batch's entries. The result, the error and the printed output are those of
one worker doing it all: the gradient worker starts from the arguments as sent, which is
what the second half would see unless the first half changed them, and then the worker
goes on through the second half itself (protocol.SETTLE); the first half's failure comes
first; output comes in the order of the entries.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from autograder.core.assignments import FunctionSpec
from autograder.core.implementation import SubmissionError
from autograder.sandbox import protocol, wire
from autograder.sandbox.calls import Calls
from autograder.sandbox.output import OutputCapture
from autograder.sandbox.process import WorkerProcess
from autograder.sandbox.replies import ReplyReader
from autograder.sandbox.workers import GRADIENT_WORKER_PREFIX, Workers

# A submission that keeps killing its workers gets no more gradient workers after this many.
GRADIENT_WORKER_STARTS = 3
# A numeric-gradient batch (one round trip for all of a gradient's evaluations) may take the
# time of this many calls, whatever its size. The reference's largest batch (352 evaluations
# of conv_forward_naive) took 0.12 s on a loaded 2-core machine, 250 times less than the 30 s
# this allows with the default 10 s per call; only a hanging forward pass runs into it.
GRADIENT_BATCH_CALLS = 3.0


class GradientBatches:
    """Runs numeric-gradient batches on the worker, and on the gradient worker where there is one."""

    def __init__(
        self, calls: Calls, workers: Workers, replies: ReplyReader, output: OutputCapture, gradient_workers: int
    ) -> None:
        self.calls = calls
        self.workers = workers
        self.replies = replies
        self.output = output
        self.gradient_workers = gradient_workers  # SandboxLimits.gradient_workers: 1 turns the gradient worker off
        self.gradient_worker_starts = 0
        self._gradient_worker_deadline = 0.0  # when a starting gradient worker must be ready

    def call_perturbed(
        self, function: FunctionSpec, arguments: list, *, wrt: int, take: int, step: float
    ) -> np.ndarray:
        """Return value `take` of `function` on arguments[wrt] + step and - step at each of its entries.

        The worker makes the perturbed copies and sends the outputs stacked: shape
        (2 * arguments[wrt].size, *output shape), entries in row-major order, + before -.
        The worker keeps no caches and sends no in-place changes back. The first
        evaluation that raises, or returns anything but a float ndarray of the first
        one's shape, fails the whole batch. The batch's timeout grows with its size up
        to GRADIENT_BATCH_CALLS calls' time.
        """
        __tracebackhide__ = True
        name = function.name
        point = arguments[wrt]
        if type(point) is not np.ndarray or point.dtype.kind != "f":
            raise TypeError(f"{name}: the argument to perturb must be a float ndarray")
        if function.returns[take] != "array":
            raise ValueError(f"{name}: return value {take} is not an array")
        worker = self.calls.worker_for(function)
        perturb = {protocol.WRT: int(wrt), protocol.TAKE: int(take), protocol.STEP: float(step)}
        handles: list = []

        def encode_handle(value: Any) -> list | None:
            node = self.calls.caches.encode(value)
            handles.append(node)
            return node

        message, encoder = self.calls.request(function, tuple(arguments), {}, encode_handle, perturb)
        # One call's time per ten evaluations, and at most GRADIENT_BATCH_CALLS calls' time: a forward pass
        # small enough for a numeric gradient takes a millisecond or less, so only a hanging one runs into this.
        timeout = self.calls.call_timeout * min(max(1.0, 2 * point.size / 10), GRADIENT_BATCH_CALLS)
        gradient_worker, second_half_message = self._share(message, encoder, point.size, any(handles))
        started = time.monotonic()
        frame = self.calls.exchange(worker, name, encoder.frame(message), timeout)
        # The gradient worker has had as long for its half as the worker for its own: it is done, or nearly.
        patience = max(0.05, time.monotonic() - started)
        # The worker answers for its half, or for all the entries where it went on alone.
        covers = (point.size,) if gradient_worker is None else (point.size // 2, point.size)
        try:
            outputs, covered = self._outputs(function, take, message[protocol.SEQ], frame, encoder, covers)
        except BaseException:
            if gradient_worker is not None:
                self._drop_reply(patience)  # the batch ends at the first half's failure, as in one process
            raise
        if gradient_worker is None:
            return outputs
        if covered == point.size:  # the worker went on through the second half itself
            self._drop_reply(patience)
            return outputs
        self.workers.gradient_worker_answering = True
        try:
            frame = self.calls.exchange(gradient_worker, name, None, timeout, since=started)
        finally:
            self.workers.gradient_worker_answering = False
        rest = point.size - covered
        second_half, _ = self._outputs(function, take, second_half_message[protocol.SEQ], frame, encoder, (rest,))
        if second_half.shape[1:] != outputs.shape[1:]:
            raise SubmissionError(
                f"{name}: returned shape {second_half.shape[1:]} after shape {outputs.shape[1:]} for the same call"
            )
        return np.concatenate([outputs, second_half])

    def _share(
        self, message: dict, encoder: wire.Encoder, size: int, passes_caches: bool
    ) -> tuple[WorkerProcess | None, dict | None]:
        """Give the second half of a batch's `size` entries to the gradient worker, where one is ready, and
        narrow `message` to the first half; returns the gradient worker and its message, or None twice."""
        # The gradient worker cannot resolve the worker's cache handles.
        gradient_worker = self.ready_gradient_worker() if size > 1 and not passes_caches else None
        if gradient_worker is None:
            return None, None
        half, perturb = size // 2, message[protocol.PERTURB]
        second_half_message = {**message, protocol.SEQ: self.calls.next_seq(), protocol.RELEASE: []}
        second_half_message[protocol.PERTURB] = {**perturb, protocol.ENTRIES: [half, size]}
        try:  # an idle gradient worker reads at once; one that does not is dropped, not waited for
            gradient_worker.send(encoder.frame(second_half_message), time.monotonic() + 1.0)
        except (TimeoutError, OSError):
            self.workers.stop_gradient_worker()
            return None, None
        message[protocol.PERTURB] = {**perturb, protocol.ENTRIES: [0, half], protocol.SETTLE: True}
        return gradient_worker, second_half_message

    def _outputs(
        self, function: FunctionSpec, take: int, seq: int, frame: wire.Frame, encoder: wire.Encoder, covers: tuple
    ) -> tuple[np.ndarray, int]:
        """The stacked outputs of a batch's reply and how many entries they cover; an unreadable one fails the call."""
        __tracebackhide__ = True
        try:
            return self.replies.perturbed(function, take, seq, frame, encoder.tracked, covers)
        except wire.ProtocolError as error:
            raise self.calls.unreadable(function.name, error) from None

    def ready_gradient_worker(self) -> WorkerProcess | None:
        """The gradient worker if it is ready; starts one if there is none (it is ready some calls later).

        Only where this process may run on more than one CPU, and at most GRADIENT_WORKER_STARTS
        times per submission.
        """
        gradient_worker = self.workers.gradient_worker
        if gradient_worker is None:
            if (
                self.gradient_workers > 1
                and self.gradient_worker_starts < GRADIENT_WORKER_STARTS
                and len(os.sched_getaffinity(0)) > 1
            ):
                self.gradient_worker_starts += 1
                self.workers.gradient_worker = self.workers.launch(GRADIENT_WORKER_PREFIX)
                self._gradient_worker_deadline = time.monotonic() + self.workers.limits.startup_timeout
            return None
        if gradient_worker.ready:
            return gradient_worker
        # Take the start-up messages that have come, without waiting for more.
        try:
            while gradient_worker.has_reply():
                message = gradient_worker.receive(time.monotonic() + 1.0).message
                op = message.get(protocol.OP) if type(message) is dict else None
                if op == protocol.READY and type(message.get(protocol.FAILURES)) is dict:
                    # The same files must have failed to load as in the worker, or the two would differ.
                    if set(message[protocol.FAILURES]) != set(self.workers.load_failures):
                        raise wire.ProtocolError("the gradient worker loaded other files than the worker")
                    self.output.drain(gradient_worker, keep=False)  # the import's output: the worker's was kept
                    gradient_worker.ready = True
                    return gradient_worker
                if op != protocol.IMPORTING:
                    raise wire.ProtocolError(f"unexpected start-up message {str(message)[:200]}")
            if time.monotonic() > self._gradient_worker_deadline:
                raise TimeoutError("the gradient worker did not start in time")
        except (TimeoutError, EOFError, OSError, wire.ProtocolError):
            self.workers.stop_gradient_worker()
        return None

    def _drop_reply(self, patience: float) -> None:
        """Discard the gradient worker's half of a batch that ended without it: its reply if it comes
        within `patience` seconds, else the gradient worker itself."""
        gradient_worker = self.workers.gradient_worker
        if gradient_worker is None:
            return
        try:
            gradient_worker.receive(time.monotonic() + patience)
        except (TimeoutError, EOFError, OSError, wire.ProtocolError):
            self.workers.stop_gradient_worker()
            return
        self.output.drain(gradient_worker, keep=False)
