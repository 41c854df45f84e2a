"""Reading a submitted file without trusting it: no links, no special files, nothing over its size limit.

Both ends of a grade read student files: the intake (autograder.grading.intake) when it
stages a submission, and the sandbox's grader side when it hands the staged files to a
worker. This module is the one reader both use.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

MAX_FILE_BYTES = 1 << 20  # a code file
MAX_ARTIFACT_BYTES = 256 << 20  # a data file: a ResNet-18 checkpoint is about 45 MB


class UnsafeFile(ValueError):
    """One submitted file is refused (a link, a special file, too large)."""


def read_submitted_file(directory: Path, name: str, limit: int = MAX_FILE_BYTES) -> bytes | None:
    """The bytes of directory/name if it is a plain regular file; None if there is none; UnsafeFile otherwise.

    The file is opened without following a symbolic link and without blocking on a
    FIFO, then checked through the open descriptor, so it cannot be swapped in between.
    """
    path = Path(directory) / name
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise UnsafeFile(f"{name} is a symbolic link; submit the file itself") from None
        raise UnsafeFile(f"{name} cannot be read: {error.strerror}") from None
    with os.fdopen(fd, "rb") as stream:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise UnsafeFile(f"{name} is not a regular file")
        if status.st_nlink > 1:
            raise UnsafeFile(f"{name} is a hard link; submit the file itself")
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise UnsafeFile(f"{name} is larger than {limit} bytes")
    return data
