"""How isolated a sandbox is here: why it may be reduced, and the fallbacks for where it is.

Confinement (see jail.py): as root, the worker runs as a dedicated uid in private mount,
IPC and network namespaces, in a root file system built from an allow-list (the
interpreter, the standard library, shared libraries, site-packages, the submission and a
private size-limited scratch): nothing else of the host exists for it. Limits: CPU time,
address space, file size and core dumps per process; memory and processes of the whole
sandbox through a control group where one can be made (else a note says so); replies
bounded in size before they are read; a seccomp filter against namespaces, mounts,
ptrace, keys and the like. Closing the sandbox kills every process of the uid and removes
the control group; the IPC namespace takes the System V objects with it.

Reduced isolation: without root, where unshare is refused (a container's seccomp profile),
or with namespaces turned off ($CNNKIT_SANDBOX_NAMESPACES=0), the worker sees the host's
files. As root it still runs as the slot uid, the kit's secrets and staged submissions are
private to root, and closing also removes the uid's System V objects and the files it
left in the world-writable folders. Without root it runs as the grader's own user, can
read what that user can read and could signal the grader; the daemons it starts are found
by a marker in their environment, which a determined student can wipe. The sandbox's
`reduced` says why the isolation was reduced ('' when it was not), and the results say so
(see autograder/core/runner.py).
"""

from __future__ import annotations

import os
from pathlib import Path

from autograder.core.assignments import KIT_ROOT
from autograder.sandbox.process import namespaces_refused, running_as_root

HIDE_VARIABLE = "CNNKIT_SANDBOX_HIDE"  # folders (os.pathsep-separated) that must stay hidden from submissions
NAMESPACES_VARIABLE = "CNNKIT_SANDBOX_NAMESPACES"  # "0": no namespaces, as where unshare is refused


def reduced_by_configuration(as_root: bool, namespaces: bool) -> str:
    """Why a sandbox cannot use namespaces at all ('' : it will try them)."""
    if not as_root:
        return "the grader does not run as root: no namespaces, the worker runs as the grader's own user"
    if not namespaces or os.environ.get(NAMESPACES_VARIABLE) == "0":
        return f"namespaces are turned off (SandboxLimits.namespaces or {NAMESPACES_VARIABLE}=0)"
    return ""


def reduced_isolation_here() -> str:
    """Why a sandbox started here would have reduced isolation ('' : it would not); may fork once to try unshare."""
    return reduced_by_configuration(running_as_root(), True) or namespaces_refused()


def exposed_folder_notes(hide: tuple[str, ...]) -> list[str]:
    """With reduced isolation, a note for each folder that must stay hidden ($CNNKIT_SANDBOX_HIDE) yet others may read.

    In its own root the worker sees none of them; without one only permissions protect them.
    """
    folders = [*hide, *filter(None, os.environ.get(HIDE_VARIABLE, "").split(os.pathsep))]
    notes = []
    for folder in folders:
        try:
            exposed = Path(folder).stat().st_mode & 0o005
        except OSError:
            continue
        if exposed:
            notes.append(f"{folder} is readable by other users, so by the sandboxed code (make it 0700)")
    return notes


def protect_secrets() -> None:
    """Take 'other' permissions off the reference and the repository's history (root only).

    The mount namespace hides them already; this is the fallback where namespaces are
    not permitted (a container without CAP_SYS_ADMIN): the worker's uid is 'other'.
    """
    for folder in (KIT_ROOT / "reference", KIT_ROOT / ".git"):
        try:
            mode = folder.stat().st_mode
            if mode & 0o007:
                folder.chmod(mode & ~0o007)
        except OSError:
            pass
