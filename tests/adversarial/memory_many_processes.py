"""Ten processes that each hold 300 MiB: each is under the per-process limit, together they are over the sandbox's.

The whole-sandbox memory limit (2 GiB, a control group) has the kernel kill some of
them (each child holds its memory for 1.5 s, so all ten hold it at once unless stopped).
"""

import os
import time

import numpy as np

ATTACK = {
    "select": "test_conv_forward_fixed_values_stride_2 or test_avg_pool_forward_fixed_values",
    "fails": ["test_conv_forward_fixed_values_stride_2"],
    "messages": ["the sandbox's memory limit held"],
    "call_timeout": 30.0,
    "needs_cgroup": True,
}


def conv_forward_naive(x, w, b, conv_param):
    read_end, write_end = os.pipe()
    children = []
    for _ in range(10):
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            hoard = np.ones(300 << 17)  # 300 MiB, every page touched
            os.write(write_end, b"x")
            time.sleep(1.5)
            os._exit(0 if hoard[-1] else 1)
        children.append(pid)
    os.close(write_end)
    held = 0
    while os.read(read_end, 1):
        held += 300
    killed = sum(os.waitpid(pid, 0)[1] != 0 for pid in children)
    if not killed:
        raise RuntimeError(f"ten processes held {held} MiB together; none was stopped")
    raise RuntimeError(f"the sandbox's memory limit held: {killed} of the ten processes were killed")
