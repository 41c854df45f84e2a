"""The time budget of one submission: every second the grader waits on it, and what a spent budget stops."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from autograder.core.implementation import SubmissionError
from autograder.sandbox.failures import BUDGET_USED_UP

# Seconds of a submission's time budget (see SandboxLimits.time_budget): with Gradescope's default
# limit of 10 minutes per submission, this leaves over 3 minutes for the container's start,
# the grader's own work (about a second for `layers`) and writing the results.
DEFAULT_TIME_BUDGET = 400.0
# Seconds one call of a student function may take (grade's and batch's --call-timeout).
DEFAULT_CALL_TIMEOUT = 10.0


class OutOfTime(Exception):
    """The time budget ran out while a worker started or imported the submission."""


class TimeBudget:
    """Seconds charged to a submission so far, against `seconds` in all.

    Worker starts and imports, calls, numeric-gradient batches and the gradient worker
    are all charged. Each wait is cut to what is left (deadline()), and once the budget
    is spent every call fails at once, so a submission that hangs everywhere still
    grades in a bounded time.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._spent = 0.0
        self._charge_started: float | None = None  # since when the block being charged now runs

    @contextlib.contextmanager
    def charged(self) -> Iterator[None]:
        """Charge the time the block takes, once however deeply such blocks nest."""
        if self._charge_started is not None:
            yield
            return
        self._charge_started = time.monotonic()
        try:
            yield
        finally:
            self._spent += time.monotonic() - self._charge_started
            self._charge_started = None

    @property
    def spent(self) -> float:
        """Seconds charged so far, the running block's included."""
        if self._charge_started is None:
            return self._spent
        return self._spent + time.monotonic() - self._charge_started

    @property
    def used_up(self) -> bool:
        """Whether the budget is spent (every later call fails at once)."""
        return self.spent >= self.seconds

    def deadline(self, seconds: float) -> tuple[float, bool]:
        """The time.monotonic() value `seconds` from now, or when the budget runs out if that is
        sooner; and whether it is the budget's end."""
        left = max(0.0, self.seconds - self.spent)
        return time.monotonic() + min(seconds, left), left < seconds

    def error(self, name: str, stopped_after: float | None = None) -> SubmissionError:
        """The failure of a call of `name` that the spent budget stops, or (stopped_after None) does not start."""
        why = (
            f"{BUDGET_USED_UP} of {self.seconds:g} s (the time spent starting "
            "its workers, importing its files and running its calls), so grading stopped early"
        )
        if stopped_after is None:
            return SubmissionError(f"{name} was not run: {why}")
        return SubmissionError(f"{name} was stopped after {stopped_after:.1f} s: {why}")
