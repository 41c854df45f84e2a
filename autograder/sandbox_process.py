"""Sandbox workers as processes: uid slots, starting a worker, talking to it, ending it and everything it started.

Grader side only. A worker is `python -S -I -B -u autograder/worker.py` with two
pipes of its own (requests and replies, passed as extra fds so that student prints
cannot corrupt the protocol) and stdout/stderr going to an anonymous capture file the
grader reads after each call. It starts bare (interpreter and numpy, no student code)
and gets its submission later, so that a process that needs many workers can keep one
started ahead of need.

As root every grader takes a uid slot: uid and gid 60000 + n, held through a lock
file for as long as the grader lives, so parallel graders (batch --jobs, several test
runs at once) never share a uid. That uid runs nothing but this grader's worker and
its descendants, so "kill every process of the uid" ends all of them, daemons that
left the process group included, and RLIMIT_NPROC counts only them.
"""

from __future__ import annotations

import atexit
import fcntl
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from autograder import wire

SLOT_UID_BASE = 60000
SLOT_COUNT = 1000
_LOCK_DIRS = (Path("/run/cnnkit-sandbox"), Path(tempfile.gettempdir()) / "cnnkit-sandbox-slots")
_KILL = shutil.which("kill") or "/bin/kill"
_F_SETPIPE_SZ = 1031
MARKER_VARIABLE = "CNNKIT_SANDBOX_WORKER"
WORKER_SCRIPT = Path(__file__).with_name("worker.py")
JAIL_SCRIPT = Path(__file__).with_name("sandbox_jail.py")


class SandboxStartError(RuntimeError):
    """The sandbox itself could not be set up (a fault of the machine or the kit, not of the submission)."""


def running_as_root() -> bool:
    return os.geteuid() == 0


class SlotLease:
    """A dedicated uid/gid for this grader's workers, held through an exclusive lock on a file."""

    def __init__(self, slot: int, lock_fd: int) -> None:
        self.slot = slot
        self.uid = self.gid = SLOT_UID_BASE + slot
        self._lock_fd: int | None = lock_fd

    @classmethod
    def acquire(cls) -> SlotLease:
        """The lowest free slot; its leftovers (from a grader that crashed) are killed first."""
        for directory in _LOCK_DIRS:
            try:
                directory.mkdir(mode=0o700, exist_ok=True)
            except OSError:
                continue
            for slot in range(SLOT_COUNT):
                fd = os.open(directory / f"slot-{slot}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    continue
                lease = cls(slot, fd)
                kill_uid(lease.uid)
                return lease
        raise SandboxStartError(f"no free sandbox uid slot in {SLOT_UID_BASE}..{SLOT_UID_BASE + SLOT_COUNT - 1}")

    def release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing drops the lock
            self._lock_fd = None


def _proc_stat(pid: str) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name: [state, ppid, pgrp, session, ...]."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stream:
            text = stream.read().decode(errors="replace")
    except OSError:
        return None
    return text[text.rfind(")") + 2 :].split()


def processes_of_uid(uid: int) -> list[int]:
    """Live (non-zombie) processes whose effective uid is uid."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry}").st_uid != uid:
                continue
        except OSError:
            continue
        fields = _proc_stat(entry)
        if fields and fields[0] not in ("Z", "X"):
            found.append(int(entry))
    return found


def _carries(pid: str, marker: bytes) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as stream:
            return marker in stream.read().split(b"\0")
    except OSError:
        return False


def processes_in_session(session: int, marker: str | None = None) -> list[int]:
    """Live processes of a session, or of this user carrying marker (NAME=VALUE) in their environment.

    That is how a grader without root finds what its worker started: the session
    holds the plain children, the marker the daemons that left for a session of
    their own (unless they also wiped their environment: best effort).
    """
    marked = marker.encode() if marker else None
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _proc_stat(entry)
            if not fields or fields[0] in ("Z", "X"):
                continue
            if int(fields[3]) == session or (marked and entry != str(os.getpid()) and _carries(entry, marked)):
                found.append(int(entry))
    return found


def kill_uid(uid: int, rounds: int = 20) -> list[int]:
    """SIGKILL every process of uid; returns those still alive afterwards (should be none).

    kill(-1, SIGKILL) sent *as that uid* reaches all of its processes in one pass of
    the kernel's process list, which a fork bomb cannot outrun; /bin/kill does it
    after subprocess switches to the uid (no fork of this big, threaded process).
    """
    remaining = processes_of_uid(uid)
    for _ in range(rounds):
        if not remaining:
            return []
        try:
            subprocess.run(
                [_KILL, "-s", "KILL", "--", "-1"],
                user=uid,
                group=uid,
                extra_groups=[],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
            )
        except OSError:
            pass
        # Should the helper fail to start, kill them one by one: the uid's process limit bounds the race.
        for pid in processes_of_uid(uid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.001)
        remaining = processes_of_uid(uid)
    return remaining


def kill_session(session: int, marker: str | None = None, rounds: int = 20) -> list[int]:
    """Best effort without root: SIGKILL the worker's process group, its session and what carries its marker."""
    try:
        os.killpg(session, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    remaining = processes_in_session(session, marker)
    for _ in range(rounds):
        if not remaining:
            break
        for pid in remaining:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.001)
        remaining = processes_in_session(session, marker)
    return remaining


def describe_exit(returncode: int | None) -> str:
    """How a worker ended, in words a student understands."""
    if returncode is None:
        return "the worker stopped answering"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        why = {
            "SIGSEGV": " (a segmentation fault: the code accessed invalid memory)",
            "SIGXCPU": " (it used up its CPU-time limit)",
            "SIGKILL": " (killed from outside, for example by the out-of-memory killer)",
            "SIGABRT": " (aborted, for example by a failed check in a C library)",
        }.get(name, "")
        return f"the worker died with signal {name}{why}"
    return f"the worker exited with status {returncode} (os._exit() or an interpreter shutdown)"


def site_packages() -> list[str]:
    """The folders the worker needs besides the standard library: where numpy and torch live."""
    import site
    import sysconfig

    folders = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], *site.getsitepackages()]
    return list(dict.fromkeys(folder for folder in folders if os.path.isdir(folder)))


def standard_library() -> list[str]:
    """The standard library's entries of this interpreter's sys.path (its folder and lib-dynload)."""
    stdlib = os.path.dirname(os.__file__)
    inside = [path for path in dict.fromkeys(sys.path) if path == stdlib or path.startswith(stdlib + os.sep)]
    return [path for path in inside if not path.endswith(("site-packages", "dist-packages"))]


class WorkerProcess:
    """One worker: its process, its two pipes, the frame reader of its replies and its capture file.

    A worker starts bare: the interpreter up and numpy imported, waiting on its request
    pipe, still the grader's own process. start() sends it a submission and its plan;
    only then does it confine itself and import student code. So a bare worker can be
    started ahead of need (see _Spares).
    """

    def __init__(self, env: dict[str, str]) -> None:
        # Inherited by everything the worker starts: without root, how stop() finds daemons.
        self.marker = f"{MARKER_VARIABLE}={secrets.token_hex(8)}"
        env = {**env, MARKER_VARIABLE: self.marker.split("=", 1)[1]}
        # stdout and stderr: O_APPEND, so after the grader truncates the file the worker writes at its start again.
        self.output_fd = os.memfd_create("cnnkit-sandbox-output", os.MFD_CLOEXEC)
        fcntl.fcntl(self.output_fd, fcntl.F_SETFL, fcntl.fcntl(self.output_fd, fcntl.F_GETFL) | os.O_APPEND)
        request_read, self.request_fd = os.pipe()
        self.reply_fd, reply_write = os.pipe()
        for fd in (self.request_fd, reply_write):
            try:  # bigger pipes: one write and one read carry most frames
                fcntl.fcntl(fd, _F_SETPIPE_SZ, 1 << 20)
            except OSError:
                pass
        bootstrap = {
            "sys_path": standard_library() + site_packages(),
            "wire": wire.__file__,
            "jail": str(JAIL_SCRIPT),
            "request_fd": request_read,
            "reply_fd": reply_write,
        }
        command = [sys.executable, "-S", "-I", "-B", "-u", str(WORKER_SCRIPT), json.dumps(bootstrap)]
        try:
            self.popen = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=self.output_fd,
                stderr=self.output_fd,
                pass_fds=(request_read, reply_write),
                env=env,
                cwd="/",
                start_new_session=True,
            )
        except BaseException:
            for fd in (self.output_fd, self.request_fd, self.reply_fd):
                os.close(fd)
            raise
        finally:
            os.close(request_read)
            os.close(reply_write)
        os.set_blocking(self.request_fd, False)
        os.set_blocking(self.reply_fd, False)
        self.reader = wire.FrameReader(self.reply_fd)
        self.ready = False
        self._closed = False

    @property
    def pid(self) -> int:
        return self.popen.pid

    def start(self, config: dict[str, Any], max_reply_bytes: int) -> None:
        """Give the worker its submission; the pipe holds it until the worker has numpy imported and reads it."""
        self.reader.max_frame = max_reply_bytes
        self.send(wire.Encoder().frame(config), time.monotonic() + 30)

    def send(self, parts: list[Any], deadline: float) -> None:
        wire.write_frame(self.request_fd, parts, deadline)

    def receive(self, deadline: float) -> wire.Frame:
        return self.reader.read(deadline)

    def ended(self, grace: float = 1.0) -> int | None:
        """The exit status once the reply pipe hit EOF (None if it is still running after grace seconds)."""
        try:
            return self.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, uid: int | None) -> list[int]:
        """Kill the worker and everything it started; returns pids that survived (should be none).

        The capture file stays open, for the grader to read what was printed last; close_output() closes it.
        """
        if self._closed:
            return []
        self._end()
        # Reaped first, the worker is gone from /proc when the sweep looks, which then
        # usually finds nothing left to kill and starts no helper process.
        return kill_uid(uid) if uid is not None else kill_session(self.popen.pid, self.marker)

    def discard(self) -> None:
        """End a bare worker, which never ran student code: its own process group is all there is."""
        if not self._closed:
            self._end()
        self.close_output()

    def close_output(self) -> None:
        if self.output_fd >= 0:
            os.close(self.output_fd)
            self.output_fd = -1

    def _end(self) -> None:
        """Kill the worker's process group, reap the worker and close its pipes."""
        self._closed = True
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.popen.wait()
        for fd in (self.request_fd, self.reply_fd):
            os.close(fd)


def _schedule(worker: WorkerProcess, policy: int) -> bool:
    """Put a bare worker into a scheduling class; whether that worked."""
    try:
        os.sched_setscheduler(worker.pid, policy, os.sched_param(0))
    except OSError:
        return False
    return True


def _kind(env: dict[str, str]) -> tuple:
    """What makes two bare workers interchangeable: their environment."""
    return tuple(sorted(env.items()))


class _Spares:
    """Bare workers started ahead of need, one per worker environment, owned by this process.

    Once a process has needed a second worker (it grades several submissions, or a
    submission crashed its worker), every worker it takes is replaced at once by a
    spare, started in the idle scheduling class: the next worker then has its submission
    imported 7-9 ms after it is asked for, instead of ~70-100 ms for one started then.
    A one-off grading that never crashes starts no spare.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.owner = os.getpid()
        self.bare: dict[tuple, WorkerProcess | None] = {}  # None: a spare being started
        self.handed_out = 0

    def _mine(self) -> None:
        if self.owner != os.getpid():  # a forked child: the parent's spares are not its own
            self.owner, self.bare, self.handed_out = os.getpid(), {}, 0

    def take(self, env: dict[str, str]) -> WorkerProcess:
        """A bare worker for env: the spare if one is alive, else a new one. Then a new spare, where kept."""
        kind = _kind(env)
        with self.lock:
            self._mine()
            self.handed_out += 1
            spare = self.bare.pop(kind, None)
        worker = None
        if spare is not None:
            if spare.popen.poll() is None and _schedule(spare, os.SCHED_OTHER):
                worker = spare
            else:
                spare.discard()
        if worker is None:
            worker = WorkerProcess(env)
        try:
            self._refill(kind, env)
        except BaseException:
            worker.discard()
            raise
        return worker

    def _refill(self, kind: tuple, env: dict[str, str]) -> None:
        with self.lock:
            if self.handed_out < 2 or kind in self.bare:
                return
            self.bare[kind] = None
        try:
            spare = WorkerProcess(env)
            # It starts on CPU time that nobody else wants, so that it does not slow the grading going on.
            # Only root may take a process back out of the idle class (take() does), so only root does this.
            if running_as_root():
                _schedule(spare, os.SCHED_IDLE)
        except BaseException:
            with self.lock:
                self.bare.pop(kind, None)
            raise
        with self.lock:
            self.bare[kind] = spare

    def discard_all(self) -> None:
        with self.lock:
            self._mine()
            spares, self.bare = [spare for spare in self.bare.values() if spare is not None], {}
        for spare in spares:
            spare.discard()


_SPARES = _Spares()
take_worker = _SPARES.take
atexit.register(_SPARES.discard_all)
