"""Syscalls that any unprivileged process may make but a sandbox must not: each must be refused by seccomp.

PTRACE_TRACEME, keyctl(KEYCTL_GET_KEYRING_ID) and unshare(CLONE_NEWUSER) succeed for a
plain user on most kernels; mount would need a new user namespace first.
"""

import ctypes
import os

import numpy as np

ATTACK = {
    "select": "test_conv_forward_fixed_values_stride_2 or test_avg_pool_forward_fixed_values",
    "fails": ["test_conv_forward_fixed_values_stride_2"],
    "messages": [
        "ptrace: Operation not permitted",
        "keyctl: Operation not permitted",
        "unshare: Operation not permitted",
        "mount: Operation not permitted",
        "Seccomp:\t2",
    ],
    "root_only": True,
    "needs_seccomp": True,
}

SYS_KEYCTL = {"x86_64": 250, "aarch64": 219}


def conv_forward_naive(x, w, b, conv_param):
    libc = ctypes.CDLL(None, use_errno=True)
    attempts = {
        "ptrace": lambda: libc.ptrace(0, 0, None, None),  # PTRACE_TRACEME
        "keyctl": lambda: libc.syscall(SYS_KEYCTL.get(os.uname().machine, -1), 0, -3, 0),  # the session keyring
        "unshare": lambda: libc.unshare(0x10000000),  # CLONE_NEWUSER
        "mount": lambda: libc.mount(b"none", b"/tmp", b"tmpfs", 0, None),
    }
    outcome = []
    for name, attempt in attempts.items():
        result = attempt()
        outcome.append(f"{name}: " + (os.strerror(ctypes.get_errno()) if result == -1 else f"succeeded ({result})"))
    with open("/proc/self/status") as stream:
        outcome += [line.strip("\n") for line in stream if line.startswith("Seccomp:")]
    raise RuntimeError("; ".join(outcome))


_ = np
