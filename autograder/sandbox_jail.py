"""Confining a sandbox worker: namespaces, hidden folders, resource limits, an unprivileged user.

This runs inside the worker process as its first act, while it is still the kit's code
and before any student file exists in it. It uses the standard library only: the
worker loads this file by path, since it cannot import the kit's packages.

As root (what CI and Gradescope use):
- a private mount namespace in which every folder of `hide` (the kit with the
  reference and the hidden tests, the temporary folders, other submissions) is covered
  by an empty tmpfs, except the folders of `keep` (the Python environment), bound back
  read-only; /proc is remounted with hidepid=2 so the worker sees only its own processes;
- a network namespace of its own, with no interface up;
- the student's files written into `work_dir`, which lies inside one of those tmpfs
  mounts, so whatever the worker writes disappears with it;
- resource limits, then a switch to a dedicated uid and gid with no supplementary
  groups, no way to regain privileges, and SIGKILL if the grader dies.
Without root the same function applies the resource limits only: best effort, see
autograder/sandbox.py.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import stat
from typing import Any

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    encode = lambda text: text.encode() if text is not None else None  # noqa: E731
    _check(_libc.mount(encode(source), encode(target), encode(fstype), flags, encode(data)), f"mount {target}")


def _unshare(flags: int) -> bool:
    return _libc.unshare(flags) == 0


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _hide_folders(hide: list[list[Any]], keep: list[str], work_dir: str, work_bytes: int, notes: list[str]) -> None:
    """Cover each folder of hide with an empty tmpfs, then bind the kept folders inside it back, read-only.

    The tmpfs that will hold work_dir gets work_bytes more room, for the files written there.
    """
    # Open the kept folders first: once a tmpfs covers their parents, their paths lead nowhere.
    kept = {path: os.open(path, os.O_PATH | os.O_DIRECTORY) for path in keep if os.path.isdir(path)}
    for folder, mode, size in sorted(hide, key=lambda entry: len(entry[0])):
        if not os.path.isdir(folder):
            continue
        size += work_bytes if _inside(work_dir, folder) else 0
        _mount("tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode={mode:o}")
        for path, fd in kept.items():
            if _inside(path, folder):
                os.makedirs(path, exist_ok=True)
                _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
                _mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    for fd in kept.values():
        os.close(fd)
    # A procfs of our own with hidepid=2: the worker cannot read other users' command
    # lines or environments. Before Linux 5.8 every procfs of a pid namespace shares
    # its options, so there this would change the host's /proc: skip it.
    release = tuple(int(part) for part in os.uname().release.split(".")[:2] if part.isdigit())
    if release >= (5, 8):
        try:
            _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=2")
        except OSError as error:
            notes.append(f"/proc not remounted: {error}")


def read_artifacts(directory: str, names: list[str], limit: int) -> dict[str, bytes]:
    """The submission's data files (trained checkpoints) that are plain regular files; the others are left out.

    Opened without following links and checked through the descriptor, as
    autograder/submission.py does for code files; a missing file is no error.
    """
    found = {}
    for name in names:
        try:
            fd = os.open(os.path.join(directory, name), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            continue
        with os.fdopen(fd, "rb") as stream:
            status = os.fstat(fd)
            if stat.S_ISREG(status.st_mode) and status.st_nlink == 1 and status.st_size <= limit:
                data = stream.read(limit + 1)
                if len(data) <= limit:
                    found[name] = data
    return found


def _write_files(folder: str, files: dict[str, bytes], owner: tuple[int, int] | None, mode: int) -> None:
    os.makedirs(folder, exist_ok=True)
    for name, content in files.items():
        path = os.path.join(folder, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as stream:
            stream.write(content)
    if owner is not None:
        for root, directories, names in os.walk(folder):
            for name in directories + names:
                os.lchown(os.path.join(root, name), *owner)
        os.lchown(folder, *owner)
    os.chmod(folder, mode)


def _processes_of(uid: int) -> int:
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += 1
            except OSError:
                pass
    return count


def _set_limits(limits: dict[str, int], shared_uid: bool) -> None:
    """Resource limits; soft equals hard so the student cannot raise them again."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    cpu = limits["cpu_seconds"]
    # The soft limit sends SIGXCPU, the hard one a second later SIGKILL.
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_bytes"], limits["file_bytes"]))
    resource.setrlimit(resource.RLIMIT_AS, (limits["memory_bytes"], limits["memory_bytes"]))
    processes = limits["processes"]
    if shared_uid:
        # RLIMIT_NPROC counts every process of the user: leave room for the ones running now.
        processes += _processes_of(os.getuid())
    resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
    # An output flood then gets EFBIG from write() instead of being killed by SIGXFSZ.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def die_with_parent(parent_pid: int) -> None:
    """Have the kernel SIGKILL this process when its parent ends; exit now if it has ended already."""
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PDEATHSIG)")
    if os.getppid() != parent_pid:  # the parent died before the death signal was armed
        os._exit(1)


def overwrite_environment_value(name: str, old: bytes, new: bytes) -> None:
    """Write `new` over the value of environment variable `name` in this process's environment block.

    os.environ would only change what children get; /proc/PID/environ shows the block the
    process started with, which a fork shares with its parent. old and new have one length.
    """
    if len(old) != len(new):
        raise ValueError("the new value must have the old one's length")
    _libc.getenv.restype = ctypes.c_void_p
    address = _libc.getenv(name.encode())
    if not address or ctypes.string_at(address, len(old)) != old:
        raise RuntimeError(f"{name} is not in the environment as expected")
    ctypes.memmove(address, new, len(new))
    os.environ[name] = new.decode()


def confine(plan: dict[str, Any], files: dict[str, bytes], helpers: dict[str, bytes], parent_pid: int) -> list[str]:
    """Confine the calling process as `plan` says and write the student's files; returns notes on what was skipped.

    plan keys: uid and gid (None: stay who we are), namespaces (try them), hide
    ([folder, mode, tmpfs size] entries), keep (folders to bind back), work_dir,
    helper_dir, limits (cpu_seconds, memory_bytes, file_bytes, processes). parent_pid: the process
    whose end ends this one.
    """
    notes: list[str] = []
    uid, gid = plan["uid"], plan["gid"]
    if plan["namespaces"]:
        if not _unshare(CLONE_NEWNET):
            notes.append(f"no network namespace ({os.strerror(ctypes.get_errno())}); the network stays reachable")
        if _unshare(CLONE_NEWNS):
            # Private propagation: nothing mounted here leaks back to the host.
            _mount(None, "/", None, MS_REC | MS_PRIVATE)
            work_bytes = sum(len(content) for content in files.values()) + (1 << 20)
            _hide_folders(plan["hide"], plan["keep"], plan["work_dir"], work_bytes, notes)
        else:
            why = os.strerror(ctypes.get_errno())
            notes.append(f"no mount namespace ({why}); folders are hidden by permissions only")
    owner = (uid, gid) if uid is not None else None
    _write_files(plan["helper_dir"], helpers, None, 0o755)
    _write_files(plan["work_dir"], files, owner, 0o700)
    _set_limits(plan["limits"], shared_uid=uid is None)
    if uid is not None:
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
    # No setuid binary can give privileges back; the worker dies with its parent, the zygote,
    # which dies with the grader. (Changing credentials clears the death signal, so it is set after the switch.)
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")
    die_with_parent(parent_pid)
    os.chdir(plan["work_dir"])
    os.environ["HOME"] = os.environ["TMPDIR"] = plan["work_dir"]
    return notes
