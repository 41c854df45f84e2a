"""What a sandboxed submission may use: SandboxLimits, one keyword argument of SandboxImplementation per field."""

from __future__ import annotations

from dataclasses import dataclass

from autograder.sandbox.budget import DEFAULT_TIME_BUDGET

_GIB = 1 << 30
_MIB = 1 << 20


@dataclass(frozen=True)
class SandboxLimits:
    """What a worker may use. Every field is a keyword argument of SandboxImplementation."""

    memory_bytes: int = 4 * _GIB  # address space per process (torch needs several GiB of it)
    sandbox_memory_bytes: int = 2 * _GIB  # memory of all the sandbox's processes together (root, cgroup)
    cpu_seconds: int = 600  # CPU time per worker process, a backstop behind the per-call timeout
    file_bytes: int = 16 * _MIB  # largest file a worker may write, its captured output included
    processes: int = 32  # processes and threads of the worker's uid, and of the sandbox's cgroup
    scratch_bytes: int = 64 * _MIB  # the tmpfs root a worker may write into: work folder, /tmp, /dev/shm (root only)
    cache_limit: int = 512  # forward-pass caches a worker keeps (least recently used go first)
    time_budget: float = DEFAULT_TIME_BUDGET  # seconds the grader may wait on the submission in all
    startup_timeout: float = 30.0  # seconds for a worker to start, before it imports student files
    max_reply_bytes: int = 64 * _MIB  # a worker's reply, checked from its length before it is read
    max_reply_json: int = 4 * _MIB  # the JSON part of a reply (arrays travel beside it)
    threads: int = 1  # BLAS and OpenMP threads of a worker
    namespaces: bool = True  # use namespaces when running as root (False: reduced isolation)
    hide: tuple[str, ...] = ()  # folders that must never be visible; outside the allow-list anyway (root only)
    gradient_workers: int = 2  # workers that share a numeric gradient's evaluations (more CPUs than 1 needed)
