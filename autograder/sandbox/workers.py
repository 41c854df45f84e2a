"""The life of a submission's workers: the uid slot and folders they run in, starting, replacing and ending them.

One worker serves the calls. A second one, the gradient worker (see gradients.py), may
take half of each numeric gradient's evaluations; it is started and used there, and
ended here with the first. A worker that times out or crashes is replaced by a fresh
one, forked in a millisecond or two by the grader's zygote (see process.py).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from autograder.sandbox import protocol, wire
from autograder.sandbox.briefing import SubmissionFiles, jail_plan, worker_environment
from autograder.sandbox.budget import OutOfTime, TimeBudget
from autograder.sandbox.caches import CacheBook
from autograder.sandbox.failures import IMPORT_TIMED_OUT, PROTOCOL_BROKEN
from autograder.sandbox.isolation import exposed_folder_notes, protect_secrets, reduced_by_configuration
from autograder.sandbox.limits import SandboxLimits
from autograder.sandbox.output import OutputCapture
from autograder.sandbox.process import (
    SandboxCgroup,
    SandboxStartError,
    SlotLease,
    WorkerProcess,
    describe_exit,
    remove_files_of,
    remove_ipc_objects,
    running_as_root,
)

GRADIENT_WORKER_PREFIX = "gradient-"  # what the gradient worker's folders start with (the worker's: nothing)


class Workers:
    """The workers of one submission and what they run in: uid slot, folders, control group.

    notes and reduced say what the sandbox could not do on this machine, for the results.
    open() sets the sandbox up; close() ends every process it started and removes it all.
    """

    def __init__(
        self,
        files: SubmissionFiles,
        limits: SandboxLimits,
        call_timeout: float,
        budget: TimeBudget,
        output: OutputCapture,
        caches: CacheBook,
    ) -> None:
        self.files = files
        self.limits = limits
        self.call_timeout = call_timeout
        self.budget = budget
        self.output = output
        self.caches = caches
        self.notes: list[str] = []  # what the sandbox could not do on this machine
        self.reduced = ""  # why the isolation is reduced ('' : it is not)
        self.load_failures: dict[str, str] = {}  # file -> why the worker could not import it
        self.worker: WorkerProcess | None = None
        self.gradient_worker: WorkerProcess | None = None
        self.gradient_worker_answering = False  # its half counts: what it printed is the submission's output
        self.closed = False
        self.as_root = running_as_root()
        self.lease: SlotLease | None = None
        self.base: Path | None = None  # the sandbox's folder: the workers' roots and work folders
        self.cgroup: SandboxCgroup | None = None

    @property
    def uid(self) -> int | None:
        """The slot's uid, which runs nothing but these workers (None without root)."""
        return self.lease.uid if self.lease is not None else None

    def open(self) -> None:
        """Take a uid slot, make the sandbox's folder and control group, and start the worker."""
        self.lease = SlotLease.acquire() if self.as_root else None
        self.base = Path(tempfile.mkdtemp(prefix="cnnkit-sandbox-"))
        self.reduced = reduced_by_configuration(self.as_root, self.limits.namespaces)
        if self.reduced:
            self.notes += exposed_folder_notes(self.limits.hide)
        if self.as_root:
            self.base.chmod(0o711)  # the worker's uid may pass through, not list
            protect_secrets()
            self.cgroup = self._make_cgroup()
        self.start()  # it boots while the caller goes on

    def _make_cgroup(self) -> SandboxCgroup | None:
        name = f"cnnkit-sandbox-{self.lease.slot}"
        cgroup, why = SandboxCgroup.create(name, self.limits.sandbox_memory_bytes, self.limits.processes)
        if cgroup is None:
            self.notes.append(
                f"no limit on the memory and processes of the sandbox as a whole (no control group: {why}); "
                "each process has its own limits only"
            )
        return cgroup

    def start(self) -> None:
        """Start a fresh worker for the calls; it imports the submission while the caller goes on."""
        self.worker = self.launch("")
        self.caches.forget_releases()

    def launch(self, prefix: str) -> WorkerProcess:
        """A worker given the submission, which it imports while the caller goes on; prefix names its folders."""
        if self.reduced:
            # Without a mount namespace the worker writes into the real folder: start it empty.
            for name in (f"{prefix}work", f"{prefix}lib"):
                shutil.rmtree(self.base / name, ignore_errors=True)
        cgroup_procs = self.cgroup.procs_files if self.cgroup is not None else []
        plan = jail_plan(self.limits, self.base, prefix, self.uid, cgroup_procs, self.reduced)
        worker = WorkerProcess(worker_environment(self.limits))
        try:
            start = self.files.start_message(plan, self.limits.cache_limit)
            worker.start(start, self.limits.max_reply_bytes, self.limits.max_reply_json)
        except BaseException:
            worker.discard()
            raise
        return worker

    def ready(self) -> WorkerProcess:
        """The worker once it has imported the submission.

        A file whose import hangs or ends the worker is marked unimportable, and a new
        worker starts without it, so only the functions of that file fail.
        OutOfTime where the time budget runs out first.
        """
        modules = self.files.modules
        for _ in range(len(modules) + 2):
            if self.worker is None:
                self.start()
            worker = self.worker
            if worker.ready:
                return worker
            importing = None
            deadline, by_budget = self.budget.deadline(self.limits.startup_timeout)
            try:
                while True:
                    message = worker.receive(deadline).message
                    op = message.get(protocol.OP) if type(message) is dict else None
                    if op == protocol.IMPORTING and message.get(protocol.FILE) in modules:
                        importing = message[protocol.FILE]
                        deadline, by_budget = self.budget.deadline(self.call_timeout)
                    elif op == protocol.READY:
                        failures = dict(message.get(protocol.FAILURES, {}))
                        self.load_failures = {str(k): str(v) for k, v in failures.items()}
                        self._take_notes(message)
                        worker.ready = True
                        return worker
                    elif op == protocol.FAILED:
                        self.stop_all()
                        why = message.get(protocol.MESSAGE)
                        raise SandboxStartError(f"the sandbox could not be set up:\n{why}")
                    else:
                        raise wire.ProtocolError(f"unexpected start-up message {str(message)[:200]}")
            except (TimeoutError, EOFError, OSError, wire.ProtocolError) as error:
                if isinstance(error, TimeoutError) and by_budget:
                    self.stop_all()
                    raise OutOfTime from None
                what = self._start_failure(worker, error)
                self.stop_all()
                if importing is None:
                    raise SandboxStartError(f"the sandbox worker did not start: {what}") from None
                self.files.unimportable[importing] = f"importing {importing} in the sandbox {what}"
        raise SandboxStartError("the sandbox worker did not start")

    def _start_failure(self, worker: WorkerProcess, error: BaseException) -> str:
        """What went wrong while a worker started or imported a file, in words that follow the file's name."""
        if isinstance(error, TimeoutError):
            return f"{IMPORT_TIMED_OUT} {self.call_timeout:g} s"
        if isinstance(error, wire.ProtocolError):
            return f"{PROTOCOL_BROKEN} ({error})"
        return f"ended it: {describe_exit(worker.ended())}"

    def _take_notes(self, ready: dict[str, Any]) -> None:
        """Keep what a worker's start-up says it could not do, once each."""
        notes = ready.get(protocol.NOTES)
        for note in notes if type(notes) is list else []:
            if str(note) not in self.notes:
                self.notes.append(str(note))
        if ready.get(protocol.REDUCED) and not self.reduced:
            self.reduced = str(ready[protocol.REDUCED])[:500]

    def stop_all(self) -> None:
        """End the worker and the gradient worker, with everything they started; keep what they printed last."""
        workers = [(self.worker, True), (self.gradient_worker, self.gradient_worker_answering)]
        workers = [(worker, keep) for worker, keep in workers if worker is not None]
        self.worker = self.gradient_worker = None
        for worker, _ in workers:
            survivors = worker.stop(self.uid)
            if survivors:
                self.notes.append(f"processes {survivors} survived the end of a worker")
        for worker, keep in workers:
            self.output.drain(worker, keep)
            worker.close_output()
        self.caches.new_generation()  # the caches died with the worker

    def stop_gradient_worker(self) -> None:
        """End the gradient worker alone, dropping what it printed: the worker's results stand without it.

        Only its own session is swept (a sweep of the uid would end the worker too);
        whatever escaped it goes with the worker's next sweep, at the latest in close().
        """
        gradient_worker, self.gradient_worker = self.gradient_worker, None
        if gradient_worker is not None:
            gradient_worker.stop(None)
            gradient_worker.close_output()

    def replace(self) -> None:
        """After a crash or a timeout: end the worker and start a fresh one for the next call.

        None starts once the time budget is spent: no call would use it.
        """
        self.stop_all()
        if not self.closed and not self.budget.used_up:
            self.start()

    def close(self) -> None:
        """End every worker and process they started; remove the control group and folders, release the slot."""
        if self.closed:
            return
        self.closed = True
        self.stop_all()
        if self.cgroup is not None:
            problem = self.cgroup.close()
            if problem:
                self.notes.append(f"the sandbox's control group could not be removed: {problem}")
        if self.lease is not None:
            self._sweep(self.lease.uid)
        if self.base is not None:
            shutil.rmtree(self.base, ignore_errors=True)
        if self.lease is not None:
            self.lease.release()

    def _sweep(self, uid: int) -> None:
        """Remove what the slot uid left beside its processes: System V IPC objects; files, where it saw the host."""
        left = remove_ipc_objects(uid)
        if left:
            self.notes.append(f"System V IPC objects {left} of the sandbox could not be removed")
        if self.reduced:  # in its own root it could write nowhere else
            failed = remove_files_of(uid)
            if failed:
                self.notes.append(f"files the sandbox left could not be removed: {failed[:10]}")
