"""Confining a sandbox worker: namespaces, a root built from an allow-list, limits, seccomp, an unprivileged user.

This runs inside the worker process as its first act, while it is still the kit's code
and before any student file exists in it. It uses the standard library only: the
worker loads this file by path, since it cannot import the kit's packages.

confine() does, in this order: join the sandbox's control groups (process.SandboxCgroup)
while the host's tree is still there; as root, new mount, IPC and network namespaces and
a root file system holding only the allow-listed folders (the worker is chrooted into
it); the kit modules and the student's files; resource limits; the switch to the slot's
uid and gid with no way back; last, the seccomp filter (apply_seccomp). Without root,
or where unshare is refused, the steps that need it are skipped and the notes say the
isolation was reduced (isolation.py). docs/sandbox.md says what each step defends against.
"""

from __future__ import annotations

import ctypes
import errno as errnos
import os
import resource
import signal
import stat
from typing import Any

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWTIME = 0x00000080
NAMESPACE_FLAGS = (
    CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWTIME
)  # fmt: skip
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_MOVE = 0x2000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
# Device files the worker gets (numpy and Python read /dev/urandom; /dev/null for redirections).
DEVICES = ("/dev/null", "/dev/zero", "/dev/random", "/dev/urandom")
# Folders every program expects to write into: each is a world-writable folder of the private root.
SCRATCH_FOLDERS = ("/tmp", "/var/tmp", "/dev/shm")
# What the seccomp filter refuses with EPERM: namespaces, mounts, tracing other processes, the
# kernel's key store, BPF, performance counters, modules, rebooting, swap and the clock.
DENIED_SYSCALLS = (
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen",
    "fsconfig", "fsmount", "fspick", "mount_setattr", "ptrace", "process_vm_readv", "process_vm_writev",
    "kcmp", "pidfd_getfd", "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load", "reboot", "swapon",
    "swapoff", "acct", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "open_by_handle_at",
    "name_to_handle_at", "io_uring_setup", "io_uring_enter", "io_uring_register", "vhangup",
    "quotactl", "lookup_dcookie", "syslog", "uselib", "fanotify_init", "nfsservctl",
)  # fmt: skip
SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_CMP_MASKED_EQ = 7


def _errno_action(number: int) -> int:
    return 0x00050000 | (number & 0xFFFF)  # SCMP_ACT_ERRNO(number)


class _ArgumentCheck(ctypes.Structure):
    """libseccomp's struct scmp_arg_cmp."""

    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]


def _load_libseccomp() -> tuple[Any, str]:
    """libseccomp, loaded once in the zygote (before any worker enters its root), or None and why not."""
    try:
        library = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    except OSError as error:
        return None, f"libseccomp not found ({error})"
    library.seccomp_init.restype = ctypes.c_void_p
    library.seccomp_init.argtypes = [ctypes.c_uint32]
    library.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    library.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint, ctypes.POINTER(_ArgumentCheck)
    ]  # fmt: skip
    library.seccomp_load.argtypes = [ctypes.c_void_p]
    library.seccomp_release.argtypes = [ctypes.c_void_p]
    return library, ""


_seccomp, _seccomp_missing = _load_libseccomp()


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


def _bind(source: str, target: str, read_only: bool) -> None:
    """Bind source (a host path) at target (in the new root), read-only unless told otherwise."""
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o644))
    _mount(source, target, None, MS_BIND | MS_REC)
    if read_only:
        _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _build_root(root: str, keep: list[str], private: list[str], root_bytes: int, notes: list[str]) -> None:
    """Mount a tmpfs at root and put into it only the allow-list: keep (read-only), devices, /proc, private folders.

    Every path keeps its host name. A kept symbolic link (/lib -> usr/lib) is copied as
    a link; a path under a folder kept already is covered by it. Nothing here follows a
    link inside the new root: it holds no link but the copied ones, made after the folders.
    """
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, f"size={root_bytes},mode=755")
    kept: list[str] = []
    links = []
    for path in sorted(set(keep), key=len):
        if any(_inside(path, folder) for folder in kept) or not os.path.lexists(path):
            continue
        if os.path.islink(path):
            links.append(path)
        else:
            _bind(path, root + path, read_only=True)
        kept.append(path)
    for path in links:
        os.makedirs(os.path.dirname(root + path), exist_ok=True)
        os.symlink(os.readlink(path), root + path)
    for device in DEVICES:
        if os.path.exists(device):
            _bind(device, root + device, read_only=False)
    for folder in SCRATCH_FOLDERS:
        os.makedirs(root + folder, exist_ok=True)
        os.chmod(root + folder, 0o1777)
    for folder in private:
        os.makedirs(root + folder, exist_ok=True)
    os.makedirs(root + "/proc", exist_ok=True)
    # A procfs of our own with hidepid=2: the worker cannot read other users' command
    # lines or environments. Before Linux 5.8 every procfs of a pid namespace shares
    # its options, so there hidepid would change the host's /proc too: mounted without it.
    release = tuple(int(part) for part in os.uname().release.split(".")[:2] if part.isdigit())
    try:
        _mount(
            "proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=2" if release >= (5, 8) else None
        )
    except OSError as error:
        notes.append(f"no /proc in the sandbox: {error}")


def _enter_root(root: str) -> None:
    """Move the root's mount onto / and chroot into it; the host's tree stays beneath, out of reach.

    Cheaper than pivot_root and unmounting the host's tree (that unmount waits for the
    kernel's RCU grace period: 2-16 ms per worker, measured here). Out of reach: a
    process without CAP_SYS_CHROOT cannot leave a chroot, the seccomp filter refuses
    chroot, mount and umount anyway, and /proc/self/mountinfo lists only the mounts
    inside the chroot.
    """
    os.chdir(root)
    _mount(root, "/", None, MS_MOVE)
    os.chroot(".")
    os.chdir("/")


def _join_cgroups(procs_files: list[str]) -> None:
    """Move this process into the sandbox's control groups (while root: the files are root's)."""
    pid = str(os.getpid()).encode()
    for path in procs_files:
        fd = os.open(path, os.O_WRONLY)
        try:
            os.write(fd, pid)
        finally:
            os.close(fd)


def apply_seccomp() -> str:
    """Load the seccomp filter (DENIED_SYSCALLS, clone with namespace flags, clone3); '' or why it was not applied.

    clone3 answers ENOSYS, so that glibc falls back to clone, whose flags the filter can see.
    Calls of a foreign architecture (32-bit int 0x80) kill the process: libseccomp's default.
    """
    if _seccomp is None:
        return f"seccomp filter not applied: {_seccomp_missing}"
    context = _seccomp.seccomp_init(SCMP_ACT_ALLOW)
    if not context:
        return "seccomp filter not applied: seccomp_init failed"
    try:
        deny = _errno_action(errnos.EPERM)
        for name in DENIED_SYSCALLS:
            number = _seccomp.seccomp_syscall_resolve_name(name.encode())
            if number >= 0 and _seccomp.seccomp_rule_add_array(context, deny, number, 0, None) != 0:
                return f"seccomp filter not applied: no rule for {name}"
        clone = _seccomp.seccomp_syscall_resolve_name(b"clone")
        for flag in NAMESPACE_FLAGS:
            check = _ArgumentCheck(0, SCMP_CMP_MASKED_EQ, flag, flag)
            if _seccomp.seccomp_rule_add_array(context, deny, clone, 1, ctypes.byref(check)) != 0:
                return "seccomp filter not applied: no rule for clone's flags"
        clone3 = _seccomp.seccomp_syscall_resolve_name(b"clone3")
        if clone3 >= 0 and _seccomp.seccomp_rule_add_array(context, _errno_action(errnos.ENOSYS), clone3, 0, None):
            return "seccomp filter not applied: no rule for clone3"
        result = _seccomp.seccomp_load(context)
        if result != 0:
            return f"seccomp filter not applied: seccomp_load failed ({os.strerror(-result)})"
        return ""
    finally:
        _seccomp.seccomp_release(context)


def read_artifacts(directory: str, names: list[str], limit: int) -> dict[str, bytes]:
    """The submission's data files (trained checkpoints) that are plain regular files; the others are left out.

    Opened without following links and checked through the descriptor, as
    autograder/grading/intake.py does for code files; a missing file is no error.
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


def _enter_namespaces(plan: dict[str, Any], root_bytes: int, notes: list[str]) -> tuple[bool, str]:
    """New network, IPC and mount namespaces and the allow-list root.

    Returns whether the worker now lives in that root, and '' or why the isolation is reduced.
    """
    if not _unshare(CLONE_NEWNET):
        notes.append(f"no network namespace ({os.strerror(ctypes.get_errno())}); the network stays reachable")
    reduced = ""
    if not _unshare(CLONE_NEWIPC):
        reduced = f"no IPC namespace ({os.strerror(ctypes.get_errno())}): System V objects are the host's"
    if not _unshare(CLONE_NEWNS):
        return False, f"no mount namespace ({os.strerror(ctypes.get_errno())}): the host's files are visible"
    # Private propagation: nothing mounted here leaks back to the host.
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    root = plan["root"]
    _build_root(root, plan["keep"], [plan["work_dir"], plan["kit_dir"]], root_bytes, notes)
    _enter_root(root)
    return True, reduced


def confine(plan: dict[str, Any], files: dict[str, bytes], kit_modules: dict[str, bytes], parent_pid: int) -> dict:
    """Confine the calling process as `plan` says and write the student's files.

    plan keys: uid and gid (None: stay who we are), namespaces (try them), reduced (why
    there are none, when namespaces is false), root (an empty folder to build the new
    root on), keep (host paths the worker may read), work_dir, kit_dir (the kit modules),
    scratch_bytes, cgroups (cgroup.procs files to join), seccomp (apply the filter),
    limits (cpu_seconds, memory_bytes, file_bytes, processes). parent_pid: the process
    whose end ends this one. Returns {"notes": what was skipped, "reduced": '' or why the
    isolation is reduced}.
    """
    notes: list[str] = []
    uid, gid = plan["uid"], plan["gid"]
    _join_cgroups(plan.get("cgroups", []))  # while the host's tree is still there
    root_bytes = plan["scratch_bytes"] + sum(len(content) for content in files.values()) + (1 << 20)
    rooted, reduced = _enter_namespaces(plan, root_bytes, notes) if plan["namespaces"] else (False, plan["reduced"])
    owner = (uid, gid) if uid is not None else None
    _write_files(plan["kit_dir"], kit_modules, None, 0o755)
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
    os.environ["HOME"] = plan["work_dir"]
    os.environ["TMPDIR"] = "/tmp" if rooted else plan["work_dir"]
    if plan.get("seccomp", True):
        missing = apply_seccomp()  # last: it also refuses the mounts above
        if missing:
            notes.append(missing)
    return {"notes": notes, "reduced": reduced}
