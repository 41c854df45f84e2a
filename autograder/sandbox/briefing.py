"""What a worker is given: the submission's files, the kit's modules beside them, and the jail plan."""

from __future__ import annotations

import base64
import os
import sys
from pathlib import Path
from typing import Any

from autograder.core.assignments import AssignmentSpec
from autograder.sandbox import protocol
from autograder.sandbox.limits import SandboxLimits
from autograder.sandbox.process import site_packages, standard_library
from autograder.sandbox.submitted_files import MAX_ARTIFACT_BYTES, UnsafeFile, read_submitted_file

# Modules of the student release that submissions may import: the README tells students to use
# gradcheck, so a leftover `from autograder.core.gradcheck import ...` must not break a file.
KIT_MODULES_FOR_SUBMISSIONS = ("core/gradcheck.py",)
# Shared libraries the interpreter, numpy and torch load; bound read-only into the worker's root.
SHARED_LIBRARY_PATHS = ("/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/local/lib", "/etc/ld.so.cache")
# glibc in a fresh process maps every block over 128 KiB on its own and unmaps it when
# freed, so each such array the worker builds costs a page fault per 4 KiB, every time.
# The worker keeps freed memory for reuse instead (its address-space limit still holds).
WORKER_HEAP = "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824"


class SubmissionFiles:
    """The files of one submission, read once from its folder, and those that cannot be imported.

    unimportable grows while grading: a file whose import hangs or ends a worker is
    added, so that the next worker skips it and only that file's functions fail.
    """

    def __init__(self, spec: AssignmentSpec, directory: Path) -> None:
        self.spec = spec
        self.directory = directory
        self.contents: dict[str, bytes] = {}
        self.unimportable: dict[str, str] = {}  # file -> why it is not imported (unsafe, hung, ended the worker)
        for file_name in spec.files:
            try:
                content = read_submitted_file(directory, file_name)
            except UnsafeFile as error:
                self.unimportable[file_name] = f"{file_name} was not taken: {error}"
                continue
            if content is not None:
                self.contents[file_name] = content
        # Kit-owned modules that join the submission's package (the training assignment's probes).
        for file_name in self.support_files:
            self.contents[file_name] = (spec.student_dir / file_name).read_bytes()

    @property
    def support_files(self) -> tuple[str, ...]:
        """The kit's own modules that join the submission's package (the training assignment's probes)."""
        return tuple(getattr(self.spec, "support_files", ()))

    @property
    def modules(self) -> tuple[str, ...]:
        """Every file the worker imports, in the order it imports them."""
        return (*self.spec.files, *self.support_files)

    def start_message(self, plan: dict[str, Any], cache_limit: int) -> dict[str, Any]:
        """The first message a worker gets (see protocol.py): the submission, the kit's modules and `plan`."""
        engine = Path(__file__).resolve().parents[1]
        kit_modules = {f"autograder/{name}": (engine / name).read_bytes() for name in KIT_MODULES_FOR_SUBMISSIONS}
        kit_modules["autograder/__init__.py"] = kit_modules["autograder/core/__init__.py"] = b""
        return {
            protocol.OP: protocol.START,
            protocol.PLAN: plan,
            protocol.FILES: _base64_values(self.contents),
            protocol.KIT_MODULES: _base64_values(kit_modules),
            protocol.FILES_IN_ORDER: list(self.modules),
            protocol.ARTIFACTS: {
                protocol.ARTIFACT_FOLDER: str(self.directory),
                protocol.ARTIFACT_NAMES: list(getattr(self.spec, "artifacts", ())),
                protocol.ARTIFACT_LIMIT: MAX_ARTIFACT_BYTES,
            },
            protocol.SKIP: self.unimportable,
            protocol.FUNCTIONS: {name: [f.file, list(f.returns)] for name, f in self.spec.functions.items()},
            protocol.CACHE_LIMIT: cache_limit,
        }


def _base64_values(files: dict[str, bytes]) -> dict[str, str]:
    return {name: base64.b64encode(data).decode() for name, data in files.items()}


def jail_plan(
    limits: SandboxLimits, root: Path, prefix: str, uid: int | None, cgroup_procs: list[str], reduced: str
) -> dict[str, Any]:
    """How a worker confines itself: the argument of jail.confine (its docstring names the keys).

    root: the sandbox's folder; prefix: what this worker's work and kit folders in it start with;
    uid: the slot's uid (None: stay the grader's user); reduced: '' or why there are no namespaces.
    """
    keep = [*standard_library(), *site_packages(), os.path.realpath(sys.executable), *SHARED_LIBRARY_PATHS]
    return {
        "uid": uid,
        "gid": uid,
        "namespaces": not reduced,
        "reduced": reduced,
        "root": str(root),
        "keep": keep,
        "work_dir": str(root / f"{prefix}work"),
        "kit_dir": str(root / f"{prefix}lib"),
        "scratch_bytes": limits.scratch_bytes,
        "cgroups": cgroup_procs,
        "limits": {
            "cpu_seconds": limits.cpu_seconds,
            "memory_bytes": limits.memory_bytes,
            "file_bytes": limits.file_bytes,
            "processes": limits.processes,
        },
    }


def worker_environment(limits: SandboxLimits) -> dict[str, str]:
    """The environment of a worker: a plain PATH, and BLAS and OpenMP held to limits.threads threads."""
    threads = str(limits.threads)
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "OPENBLAS_NUM_THREADS": threads,
        "OMP_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
        "GLIBC_TUNABLES": WORKER_HEAP,
    }
