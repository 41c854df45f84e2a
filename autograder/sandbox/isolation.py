"""How isolated a sandbox is here: why it may be reduced, and the fallbacks for where it is."""

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
