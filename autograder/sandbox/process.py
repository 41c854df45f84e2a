"""Sandbox workers as processes: uid slots, starting a worker, talking to it, ending it and everything it started.

Grader side only. A worker is a fork of this grader's zygote, `python -S -I -B -u
autograder/sandbox/worker.py` started once with numpy imported (see _Zygote), with two pipes of
its own (requests and replies, passed as extra fds so that student prints cannot
corrupt the protocol) and stdout/stderr going to an anonymous capture file the grader
reads after each call. It starts bare (no student code) and gets its submission later.

As root every grader takes a uid slot: uid and gid 60000 + n, held through a lock
file for as long as the grader lives, so parallel graders (batch --jobs, several test
runs at once) never share a uid. That uid runs nothing but this grader's workers and
their descendants, so "kill every process of the uid" ends all of them, daemons that
left the process group included, and RLIMIT_NPROC counts only them.
"""

from __future__ import annotations

import atexit
import fcntl
import functools
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from autograder.sandbox import protocol, wire
from autograder.sandbox.failures import WORKER_DIED, WORKER_EXITED, WORKER_SILENT

SLOT_UID_BASE = 60000
SLOT_COUNT = 1000
_LOCK_DIRS = (Path("/run/cnnkit-sandbox"), Path(tempfile.gettempdir()) / "cnnkit-sandbox-slots")
_KILL = shutil.which("kill") or "/bin/kill"
_F_SETPIPE_SZ = 1031
MARKER_VARIABLE = "CNNKIT_SANDBOX_WORKER"
MARKER_LENGTH = 16  # hex digits
WORKER_SCRIPT = Path(__file__).with_name("worker.py")
JAIL_SCRIPT = Path(__file__).with_name("jail.py")


class SandboxStartError(RuntimeError):
    """The sandbox itself could not be set up (a fault of the machine or the kit, not of the submission)."""


def running_as_root() -> bool:
    return os.geteuid() == 0


def namespaces_refused() -> str:
    """Why this machine refuses the worker's namespaces ('' : it allows them), tried in a short-lived child."""
    import ctypes

    flags = 0x00020000 | 0x08000000 | 0x40000000  # CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWNET
    pid = os.fork()
    if pid == 0:
        libc = ctypes.CDLL(None, use_errno=True)
        os._exit(0 if libc.unshare(flags) == 0 else min(255, ctypes.get_errno() or 1))
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    return "" if code == 0 else f"unshare is refused here ({os.strerror(code) if code > 0 else code})"


class SlotLease:
    """A dedicated uid/gid for this grader's workers, held through an exclusive lock on a file."""

    def __init__(self, slot: int, lock_fd: int) -> None:
        self.slot = slot
        self.uid = self.gid = SLOT_UID_BASE + slot
        self._lock_fd: int | None = lock_fd

    @classmethod
    def acquire(cls) -> SlotLease:
        """The lowest free slot; its leftovers (from a grader that crashed) are killed or removed first."""
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
                remove_ipc_objects(lease.uid)  # where a grader that crashed ran without an IPC namespace
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
        # Should /bin/kill fail to start, kill them one by one: the uid's process limit bounds the race.
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


CGROUP_MOUNT = Path("/sys/fs/cgroup")


def _write(path: Path, text: str) -> None:
    path.write_text(text)


def _own_cgroup(controller: str) -> str | None:
    """This process's group in the hierarchy of controller ('' for cgroup v2), from /proc/self/cgroup."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(",") or controllers == controller:
            return path
    return None


class SandboxCgroup:
    """Control groups holding every process of one sandbox: memory and process count of the sandbox as a whole.

    cgroup v2 where /sys/fs/cgroup is a cgroup2 mount whose memory and pids controllers
    this process may give to a child of its own group; else the cgroup v1 memory and
    pids hierarchies. Workers join it while still root (jail._join_cgroups);
    what they fork stays in it. close() kills what is left and removes the groups.
    """

    def __init__(self, folders: list[Path], version: int) -> None:
        self.folders = folders
        self.version = version

    @property
    def procs_files(self) -> list[str]:
        return [str(folder / "cgroup.procs") for folder in self.folders]

    @classmethod
    def create(cls, name: str, memory_bytes: int, processes: int) -> tuple[SandboxCgroup | None, str]:
        """The sandbox's groups, named name under this process's own, or None and why there are none."""
        try:
            if (CGROUP_MOUNT / "cgroup.controllers").exists():
                return cls._create_v2(name, memory_bytes, processes), ""
            return cls._create_v1(name, memory_bytes, processes), ""
        except (OSError, LookupError) as error:
            return None, str(error)

    @classmethod
    def _create_v2(cls, name: str, memory_bytes: int, processes: int) -> SandboxCgroup:
        parent = CGROUP_MOUNT / (_own_cgroup("") or "/").lstrip("/")
        available = (parent / "cgroup.controllers").read_text().split()
        if not {"memory", "pids"} <= set(available):
            raise LookupError(f"cgroup v2 without the memory and pids controllers in {parent}")
        enabled = (parent / "cgroup.subtree_control").read_text().split()
        if not {"memory", "pids"} <= set(enabled):
            _write(parent / "cgroup.subtree_control", "+memory +pids")
        group = cls([parent / name], 2)
        group._fresh(parent / name)
        _write(parent / name / "memory.max", str(memory_bytes))
        if (parent / name / "memory.swap.max").exists():
            _write(parent / name / "memory.swap.max", "0")
        _write(parent / name / "pids.max", str(processes))
        return group

    @classmethod
    def _create_v1(cls, name: str, memory_bytes: int, processes: int) -> SandboxCgroup:
        folders = []
        for controller in ("memory", "pids"):
            own = _own_cgroup(controller)
            mount = CGROUP_MOUNT / controller
            if own is None or not (mount / "cgroup.procs").exists():
                raise LookupError(f"no cgroup v1 {controller} hierarchy at {mount}")
            folders.append(mount / own.lstrip("/") / name)
        group = cls(folders, 1)
        for folder in folders:
            group._fresh(folder)
        memory, pids = folders
        _write(memory / "memory.limit_in_bytes", str(memory_bytes))
        try:  # memory and swap together: only where the kernel accounts swap
            _write(memory / "memory.memsw.limit_in_bytes", str(memory_bytes))
        except OSError:
            pass
        _write(pids / "pids.max", str(processes))
        return group

    def _fresh(self, folder: Path) -> None:
        """Make folder an empty group: one left by a grader that crashed in this slot is emptied and removed."""
        if folder.exists():
            self._empty(folder)
        folder.mkdir()

    @staticmethod
    def _members(folder: Path) -> list[int]:
        try:
            return [int(pid) for pid in (folder / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    def _empty(self, folder: Path, rounds: int = 200) -> None:
        """Kill every process of the group and remove it; OSError if it will not go."""
        for _ in range(rounds):
            if (folder / "cgroup.kill").exists():
                try:
                    _write(folder / "cgroup.kill", "1")
                except OSError:
                    pass
            for pid in self._members(folder):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                folder.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.005)  # killed processes leave the group once they are reaped
        folder.rmdir()

    def close(self) -> str:
        """Kill what is left in the groups and remove them; '' or what could not be removed."""
        problems = []
        for folder in self.folders:
            try:
                self._empty(folder)
            except OSError as error:
                problems.append(f"{folder}: {error}")
        return "; ".join(problems)


_IPC_REMOVE = {"shm": "shmctl", "msg": "msgctl", "sem": "semctl"}
_IPC_RMID = 0


def ipc_objects_of(uid: int) -> list[tuple[str, int]]:
    """System V shared memory segments, message queues and semaphore sets that uid owns or created: (kind, id)."""
    found = []
    for kind in _IPC_REMOVE:
        try:
            lines = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()
        except OSError:
            continue
        if not lines:
            continue
        header = lines[0].split()
        owner, creator, ident = header.index("uid"), header.index("cuid"), 1  # the id is always the second column
        for line in lines[1:]:
            fields = line.split()
            if len(fields) > max(owner, creator) and uid in (int(fields[owner]), int(fields[creator])):
                found.append((kind, int(fields[ident])))
    return found


def remove_ipc_objects(uid: int) -> list[tuple[str, int]]:
    """Remove uid's System V IPC objects (needed where the worker had no IPC namespace); returns those left."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for kind, ident in ipc_objects_of(uid):
        remove = getattr(libc, _IPC_REMOVE[kind])
        if kind == "sem":
            remove(ident, 0, _IPC_RMID)
        else:
            remove(ident, _IPC_RMID, None)
    return ipc_objects_of(uid)


# Folders where any user may create files: what a worker without a mount namespace could write into.
WORLD_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/dev/mqueue")


def files_of(uid: int, folders: tuple[str, ...] = WORLD_WRITABLE, limit: int = 100_000) -> list[str]:
    """What uid created under folders: its entries in them and in the world-writable folders below them.

    A process of uid (no supplementary groups) can create entries only in folders it
    owns, which count whole, or in world-writable ones, which are searched. Links are
    never followed.
    """
    pending = list(dict.fromkeys([*folders, tempfile.gettempdir()]))
    found, seen = [], 0
    while pending and seen < limit:
        try:
            entries = list(os.scandir(pending.pop()))
        except OSError:
            continue
        for entry in entries:
            seen += 1
            try:
                status = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if status.st_uid == uid:
                found.append(entry.path)
            elif entry.is_dir(follow_symlinks=False) and status.st_mode & 0o002:
                pending.append(entry.path)
    return found


def remove_files_of(uid: int) -> list[str]:
    """Remove what uid created in the world-writable folders (see files_of); returns what could not be removed."""
    failed = []
    for path in files_of(uid):
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
        except OSError:
            failed.append(path)
    return failed


def describe_exit(returncode: int | None) -> str:
    """How a worker ended, in words a student understands."""
    if returncode is None:
        return WORKER_SILENT
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
        return f"{WORKER_DIED} {name}{why}"
    return f"{WORKER_EXITED} {returncode} (os._exit() or an interpreter shutdown)"


@functools.cache  # the same for the life of the grader; _plan asks for it at every worker start
def site_packages() -> tuple[str, ...]:
    """The folders the worker needs besides the standard library: where numpy and torch live."""
    import site
    import sysconfig

    import numpy

    folders = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], *site.getsitepackages()]
    # Where this process found numpy, should that be elsewhere (PYTHONPATH): the worker needs it too.
    folders.append(os.path.dirname(os.path.dirname(numpy.__file__)))
    folders = [folder for folder in dict.fromkeys(folders) if os.path.isdir(folder)]
    # A package linked into site-packages from elsewhere (a venv laid over another) is reached
    # through its link, which leads nowhere in the worker's root unless its target is there too.
    targets = []
    for folder in folders:
        with os.scandir(folder) as entries:
            targets += [os.path.dirname(os.path.realpath(entry.path)) for entry in entries if entry.is_symlink()]
    return tuple(dict.fromkeys([*folders, *(target for target in targets if os.path.isdir(target))]))


def standard_library() -> list[str]:
    """The standard library's entries of this interpreter's sys.path (its folder and lib-dynload)."""
    stdlib = os.path.dirname(os.__file__)
    inside = [path for path in dict.fromkeys(sys.path) if path == stdlib or path.startswith(stdlib + os.sep)]
    return [path for path in inside if not path.endswith(("site-packages", "dist-packages"))]


class _Zygote:
    """A bare worker process that forks the real ones: python and numpy started once, not per worker.

    It runs autograder/sandbox/worker.py as far as numpy, then waits on a socket for requests
    from this process (named in protocol.py): "fork" (with the new worker's pipes and capture file, passed as
    file descriptors) and "wait" (reap a worker it forked, with its exit status). A
    forked worker is bare, as the zygote was: it confines itself and imports student
    code only once it has its start message. The zygote never runs student code, dies
    with this process, and forks in about a millisecond what takes 70-100 ms to start
    from nothing. Replies come in the order of the requests; a fork's reply (the pid) is
    read only when the pid is needed, so the new worker starts while the caller goes on.
    """

    def __init__(self, env: dict[str, str]) -> None:
        grader_end, zygote_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        bootstrap = {
            protocol.SYS_PATH: [*standard_library(), *site_packages()],
            protocol.WIRE_PATH: wire.__file__,
            protocol.JAIL_PATH: str(JAIL_SCRIPT),
            protocol.CONTROL_FD: zygote_end.fileno(),
            protocol.MARKER_VARIABLE: MARKER_VARIABLE,
            protocol.PARENT_PID: os.getpid(),
            protocol.PROTOCOL_PATH: protocol.__file__,
        }
        # The marker's value is written over in each forked worker's own copy of the environment,
        # where /proc/PID/environ shows it (see processes_in_session).
        env = {**env, MARKER_VARIABLE: "0" * MARKER_LENGTH}
        command = [sys.executable, "-S", "-I", "-B", "-u", str(WORKER_SCRIPT), json.dumps(bootstrap)]
        try:
            self.popen = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                pass_fds=(zygote_end.fileno(),),
                env=env,
                cwd="/",
                start_new_session=True,
            )
        except BaseException:
            grader_end.close()
            raise
        finally:
            zygote_end.close()
        self.control = grader_end
        self.lock = threading.Lock()
        self._sent = 0
        self._received = 0
        self._replies: dict[int, dict] = {}
        self.broken: str | None = None

    def request(self, message: dict[str, Any], fds: tuple[int, ...] = ()) -> int:
        """Send a request; returns its number, for reply()."""
        with self.lock:
            if self.broken is None:
                try:
                    socket.send_fds(self.control, [json.dumps(message).encode()], list(fds))
                except OSError as error:
                    self.broken = f"the worker zygote does not take requests ({error})"
            self._sent += 1
            return self._sent

    def reply(self, number: int, timeout: float) -> dict[str, Any]:
        """The reply to request `number`; SandboxStartError if the zygote has failed."""
        with self.lock:
            self.control.settimeout(timeout)
            while number not in self._replies and self.broken is None:
                try:
                    data = self.control.recv(4096)
                    reply = json.loads(data) if data else None
                except (OSError, ValueError) as error:
                    self.broken = f"the worker zygote did not answer ({error})"
                    break
                if type(reply) is not dict:
                    self.broken = "the worker zygote ended" + self._last_words()
                    break
                self._received += 1
                self._replies[self._received] = reply
            if number in self._replies:
                return self._replies.pop(number)
        raise SandboxStartError(str(self.broken))

    def _last_words(self) -> str:
        try:
            self.popen.kill()
            text = self.popen.communicate(timeout=5)[1].decode(errors="replace")
        except (OSError, subprocess.TimeoutExpired):
            return ""
        return f":\n{text[-3000:]}" if text.strip() else ""

    def close(self) -> None:
        self.control.close()
        self.popen.kill()
        self.popen.wait()
        if self.popen.stderr is not None:
            self.popen.stderr.close()


class _Zygotes:
    """The zygotes of this process, one per worker environment, made on first use; a forked child makes its own."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.owner = os.getpid()
        self.running: dict[tuple, _Zygote] = {}

    def get(self, env: dict[str, str]) -> _Zygote:
        key = tuple(sorted(env.items()))
        with self.lock:
            if self.owner != os.getpid():  # the parent's zygotes answer the parent only
                self.owner, self.running = os.getpid(), {}
            zygote = self.running.get(key)
            if zygote is None or zygote.broken is not None or zygote.popen.poll() is not None:
                if zygote is not None:
                    zygote.close()
                zygote = self.running[key] = _Zygote(env)
            return zygote

    def close_all(self) -> None:
        with self.lock:
            zygotes = list(self.running.values()) if self.owner == os.getpid() else []
            self.running = {}
        for zygote in zygotes:
            zygote.close()


_ZYGOTES = _Zygotes()
atexit.register(_ZYGOTES.close_all)


class WorkerProcess:
    """One worker: its process, its two pipes, the frame reader of its replies and its capture file.

    A worker starts bare, forked by the zygote of its environment (see _Zygote): the
    interpreter up and numpy imported, waiting on its request pipe. start() sends it a
    submission and its plan; only then does it confine itself and import student code.
    """

    def __init__(self, env: dict[str, str]) -> None:
        # Inherited by everything the worker starts: without root, how stop() finds daemons.
        token = secrets.token_hex(MARKER_LENGTH // 2)
        self.marker = f"{MARKER_VARIABLE}={token}"
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
        try:
            self._zygote = _ZYGOTES.get(env)
            self._forked = self._zygote.request(
                {protocol.OP: protocol.FORK, protocol.MARKER: token}, (request_read, reply_write, self.output_fd)
            )
        except BaseException:
            for fd in (self.output_fd, self.request_fd, self.reply_fd):
                os.close(fd)
            raise
        finally:
            os.close(request_read)
            os.close(reply_write)
        self._pid: int | None = None
        os.set_blocking(self.request_fd, False)
        os.set_blocking(self.reply_fd, False)
        self.reader = wire.FrameReader(self.reply_fd)
        self.ready = False
        self._closed = False
        self._status: int | None = None

    @property
    def pid(self) -> int:
        if self._pid is None:
            reply = self._zygote.reply(self._forked, timeout=60)
            pid = reply.get(protocol.PID)
            if type(pid) is not int or pid <= 0:
                why = reply.get(protocol.REFUSED, reply)
                raise SandboxStartError(f"the worker zygote could not start a worker: {why}")
            self._pid = pid
        return self._pid

    def start(self, config: dict[str, Any], max_reply_bytes: int, max_reply_json: int) -> None:
        """Give the worker its submission; the pipe holds it until the worker reads it.

        Its replies may hold at most max_reply_bytes, max_reply_json of them JSON: checked
        from a frame's prefix, before the grader allocates or parses anything of it.
        """
        self.reader.max_frame = max_reply_bytes
        self.reader.max_json = max_reply_json
        self.send(wire.Encoder().frame(config), time.monotonic() + 30)

    def send(self, parts: list[Any], deadline: float) -> None:
        wire.write_frame(self.request_fd, parts, deadline)

    def receive(self, deadline: float) -> wire.Frame:
        return self.reader.read(deadline)

    def has_reply(self) -> bool:
        """Whether the worker has sent something that is not read yet."""
        return self.reader.waiting()

    def ended(self, grace: float = 1.0) -> int | None:
        """The exit status once the reply pipe hit EOF (None if it is still running after grace seconds).

        Negative: the signal that ended it, as subprocess reports it."""
        if self._status is None:
            try:
                request = {protocol.OP: protocol.WAIT, protocol.PID: self.pid, protocol.WAIT_TIMEOUT: grace}
                number = self._zygote.request(request)
                self._status = self._zygote.reply(number, grace + 30).get(protocol.STATUS)
            except SandboxStartError:
                return None
        return self._status

    def stop(self, uid: int | None) -> list[int]:
        """Kill the worker and everything it started; returns pids that survived (should be none).

        The capture file stays open, for the grader to read what was printed last; close_output() closes it.
        """
        if self._closed:
            return []
        pid = self._end()
        # Reaped first, the worker is gone from /proc when the sweep looks, which then
        # usually finds nothing left to kill and runs no /bin/kill.
        if uid is not None:
            return kill_uid(uid)
        return kill_session(pid, self.marker) if pid is not None else []

    def discard(self) -> None:
        """End a bare worker, which never ran student code: its own process group is all there is."""
        if not self._closed:
            self._end()
        self.close_output()

    def close_output(self) -> None:
        if self.output_fd >= 0:
            os.close(self.output_fd)
            self.output_fd = -1

    def _end(self) -> int | None:
        """Kill the worker's process group, reap the worker and close its pipes; its pid (None: never forked)."""
        self._closed = True
        for fd in (self.request_fd, self.reply_fd):
            os.close(fd)
        try:
            pid = self.pid
        except SandboxStartError:
            return None
        for kill in (os.killpg, os.kill):  # the group, and the worker itself should it not have made its group yet
            try:
                kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.ended(grace=10.0)
        return pid
