"""Use the host's world-writable folders: read what another submission left in /run/lock, leave files for the next.

During a batch, a file planted in /run/lock (or /tmp, /var/tmp, /dev/shm) carried one
submission's code to the next. The harness plants such a file (__CARRIED__) before
grading; this attack uses it if it can read it, and leaves 32 MiB in each folder.
"""

import os

import numpy as np

ATTACK = {
    "select": "test_conv_forward_fixed_values_stride_2 or test_avg_pool_forward_fixed_values",
    "fails": ["test_conv_forward_fixed_values_stride_2"],
    "messages": ["could not read the carried file: FileNotFoundError"],
}

_honest_conv_forward_naive = conv_forward_naive  # noqa: F821 - the reference's, defined above this attack


def conv_forward_naive(x, w, b, conv_param):
    for folder in ("/run/lock", "/tmp", "/var/tmp", "/dev/shm"):
        try:
            with open(os.path.join(folder, "cnnkit-left-for-the-next.bin"), "wb") as stream:
                for _ in range(32):
                    stream.write(b"\0" * (1 << 20))
        except OSError:
            pass
    try:
        with open("__CARRIED__") as stream:
            stream.read()
    except OSError as error:
        raise RuntimeError(f"could not read the carried file: {type(error).__name__}") from None
    return _honest_conv_forward_naive(x, w, b, conv_param)


_ = np
