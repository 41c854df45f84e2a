"""SandboxImplementation: a submission's functions, run in a separate, confined worker process.

The grader never imports student code: it calls `impl.conv_forward_naive(x, w, b, conv_param)`
on this proxy exactly as on a LocalImplementation, and a worker process runs it. docs/sandbox.md
describes the whole sandbox; each part has its own module here:

- briefing.py: what a worker is given (the submission's files, the kit's modules, the jail plan);
- workers.py: the workers' life (uid slot, folders, control group; start, replace, stop, sweep);
- budget.py: the submission's time budget; calls.py: one call, its timeout and its reply;
- gradients.py: numeric-gradient batches, shared with the gradient worker;
- replies.py and caches.py: replies turned back into values, written back into the caller's arrays;
- output.py: what the submission printed; protocol.py and wire.py: what the two ends say, and how;
- limits.py, isolation.py, failures.py: what a worker may use, how isolated it is here, and the
  phrases of the failure messages.
"""

from __future__ import annotations

import atexit
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from autograder.core.assignments import AssignmentSpec, FunctionSpec
from autograder.sandbox.briefing import SubmissionFiles
from autograder.sandbox.budget import DEFAULT_CALL_TIMEOUT, TimeBudget
from autograder.sandbox.caches import CacheBook
from autograder.sandbox.calls import Calls
from autograder.sandbox.gradients import GradientBatches
from autograder.sandbox.limits import SandboxLimits
from autograder.sandbox.output import OutputCapture
from autograder.sandbox.replies import ReplyReader
from autograder.sandbox.workers import Workers

_OPEN: weakref.WeakSet = weakref.WeakSet()  # sandboxes not closed yet: closed at exit if their owner forgot


class SandboxImplementation:
    """The graded functions of one submission, each call run in a sandboxed worker process.

    Same attribute interface as LocalImplementation, plus take_output() and close().
    limits: any field of SandboxLimits.
    """

    def __init__(
        self, spec: AssignmentSpec, directory: Path, call_timeout: float = DEFAULT_CALL_TIMEOUT, **limits: Any
    ) -> None:
        self.spec = spec
        self.directory = Path(directory)
        self.call_timeout = float(call_timeout)
        self.limits = SandboxLimits(**limits)
        self._budget = TimeBudget(self.limits.time_budget)
        self._output = OutputCapture()
        caches = CacheBook()
        replies = ReplyReader(caches)
        files = SubmissionFiles(spec, self.directory)
        self._workers = Workers(files, self.limits, self.call_timeout, self._budget, self._output, caches)
        self._calls = Calls(self._workers, self._budget, self._output, caches, replies, self.call_timeout)
        self._gradients = GradientBatches(
            self._calls, self._workers, replies, self._output, self.limits.gradient_workers
        )
        _OPEN.add(self)
        try:
            self._workers.open()
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
            with self._budget.charged():
                return self._call(function_spec, args, kwargs)

        def call_perturbed(arguments: list, *, wrt: int, take: int, step: float) -> np.ndarray:
            __tracebackhide__ = True
            with self._budget.charged():
                return self._gradients.call_perturbed(function_spec, arguments, wrt=wrt, take=take, step=step)

        call.__name__ = call.__qualname__ = name
        call.__doc__ = f"{name} of the submission, run in the sandbox."
        # Numeric gradients evaluate a forward pass hundreds of times: one round trip for all of them.
        call.call_perturbed = call_perturbed
        self.__dict__[name] = call  # later lookups skip __getattr__
        return call

    def _call(self, function: FunctionSpec, args: tuple, kwargs: dict) -> Any:
        """One call of `function` in the worker (tests/bench/bench_grading.py counts them by patching this)."""
        __tracebackhide__ = True
        return self._calls.call(function, args, kwargs)

    @property
    def notes(self) -> list[str]:
        """What the sandbox could not do on this machine."""
        return self._workers.notes

    @property
    def reduced(self) -> str:
        """Why the isolation is reduced ('' : it is not)."""
        return self._workers.reduced

    def take_output(self) -> str:
        """What the submission printed (stdout and stderr) since the last take_output()."""
        self._output.drain(self._workers.worker)
        return self._output.take()

    @property
    def time_spent(self) -> float:
        """Seconds of the time budget used so far (time the grader waited on the submission)."""
        return self._budget.spent

    @property
    def out_of_time(self) -> bool:
        """Whether the submission has used up its time budget (every later call fails at once)."""
        return self._budget.used_up

    def isolation_report(self) -> str:
        """What the results' top-level output says about the sandbox: reduced isolation and what it could not do."""
        lines = [f"The sandbox's isolation was reduced: {self.reduced}." if self.reduced else ""]
        lines += [f"Sandbox note: {note}" for note in self.notes]
        return "\n".join(line for line in lines if line)

    def close(self) -> None:
        """End the worker and every process it started; release the uid slot and the folders."""
        self._workers.close()

    def __enter__(self) -> SandboxImplementation:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@atexit.register
def _close_forgotten_sandboxes() -> None:
    for implementation in list(_OPEN):
        implementation.close()
