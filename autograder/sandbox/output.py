"""What a submission printed: moved from its workers' capture files into one bounded buffer."""

from __future__ import annotations

import os

from autograder.sandbox.process import WorkerProcess

OUTPUT_KEEP = 64 * 1024  # bytes of student output kept between two take_output() calls


class OutputCapture:
    """The submission's output since the last take(), at most OUTPUT_KEEP bytes of it."""

    def __init__(self) -> None:
        self._kept = bytearray()
        self._dropped = 0  # bytes past OUTPUT_KEEP, counted, not kept

    def drain(self, worker: WorkerProcess | None, keep: bool = True) -> None:
        """Move what a worker printed into the buffer (keep=False: drop it) and empty its capture file.

        Called after every call, so each call gets the whole file-size limit to print into.
        """
        output_fd = worker.output_fd if worker is not None else -1
        if output_fd < 0:
            return
        try:
            size = os.fstat(output_fd).st_size
        except OSError:
            return
        if not size:
            return
        if not keep:
            os.ftruncate(output_fd, 0)
            return
        room = OUTPUT_KEEP - len(self._kept)
        if room > 0:
            self._kept += os.pread(output_fd, min(size, room), 0)
        self._dropped += max(0, size - max(room, 0))
        os.ftruncate(output_fd, 0)

    def take(self) -> str:
        """The text kept since the last take(), with a line saying how much was not kept."""
        text = self._kept.decode("utf-8", errors="replace")
        if self._dropped:
            text += f"\n[{self._dropped} more bytes of output were not kept]"
        self._kept = bytearray()
        self._dropped = 0
        return text
