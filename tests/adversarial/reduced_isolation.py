"""Where the sandbox has no namespaces: read another submission's staged files, leave IPC objects and files.

The harness grades this one with namespaces turned off (CNNKIT_SANDBOX_NAMESPACES=0,
as on a machine that refuses unshare) and stages another submission first
(__OTHER_SUBMISSION__). Staged folders are private to the grader, the results say
that the isolation was reduced, and what the attack leaves is removed after grading.
"""

import ctypes
import os

import numpy as np

ATTACK = {
    "select": "test_conv_forward_fixed_values or test_avg_pool_forward_fixed_values",
    "fails": ["test_conv_forward_fixed_values"],
    "messages": ["could not read the other submission: PermissionError"],
    "report_messages": ["isolation was reduced", "namespaces are turned off"],
    "reduced": True,
    "root_only": True,
}


def conv_forward_naive(x, w, b, conv_param):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.shmget(0x434E4E04, 1 << 20, 0o1666)
    libc.msgget(0x434E4E05, 0o1666)
    for folder in ("/run/lock", "/tmp", "/var/tmp", "/dev/shm"):
        try:
            os.makedirs(os.path.join(folder, "cnnkit-left-behind", "deeper"), exist_ok=True)
            with open(os.path.join(folder, "cnnkit-left-behind.txt"), "w") as stream:
                stream.write("for the next submission")
        except OSError:
            pass
    try:
        with open("__OTHER_SUBMISSION__/conv.py") as stream:
            source = stream.read()
    except OSError as error:
        raise RuntimeError(f"could not read the other submission: {type(error).__name__}") from None
    namespace = {}
    exec(compile(source, "other-conv.py", "exec"), namespace)
    return namespace["conv_forward_naive"](x, w, b, conv_param)


_ = np
