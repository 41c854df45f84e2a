"""Forward-pass caches kept in the worker: the handles tests hold, and the caller's arguments each one used."""

from __future__ import annotations

from typing import Any

from autograder.core.implementation import SubmissionError
from autograder.sandbox import wire


class CacheHandle:
    """A forward pass's cache, kept in the sandboxed worker; pass it to the matching backward function."""

    __slots__ = ("_token", "_generation", "_id", "_function", "_releases")

    def __init__(self, token: object, generation: int, handle_id: int, function: str, releases: list) -> None:
        self._token = token
        self._generation = generation
        self._id = handle_id
        self._function = function
        self._releases = releases

    def __repr__(self) -> str:
        return f"<cache of {self._function}, kept in the sandbox>"

    def __del__(self) -> None:
        # Tell the worker, with the next call, that nobody can pass this cache any more.
        try:
            self._releases.append((self._generation, self._id))
        except Exception:  # noqa: BLE001, S110 - interpreter shutdown
            pass


class CacheBook:
    """The handles of one submission's caches, and the worker generation they belong to.

    A cache lives in one worker: a replaced worker (after a crash or a timeout) starts a
    new generation, and the handles of the old one are refused. For each live handle the
    book keeps the caller's arguments of the call that made it, so that a later call
    through the cache that changes them in place can be mirrored into them (see replies.py).
    """

    def __init__(self) -> None:
        self._token = object()  # tells this submission's handles from another sandbox's
        self._generation = 0
        self._releases: list[tuple[int, int]] = []  # (generation, id) of handles nobody holds any more
        self._arguments: dict[int, list] = {}  # handle id -> the caller's arguments of the call that made it

    def handle(self, handle_id: int, function: str, arguments: list) -> CacheHandle:
        """A new handle for the cache `handle_id` that `function` made from `arguments` in the current worker."""
        self._arguments[handle_id] = arguments
        return CacheHandle(self._token, self._generation, handle_id, function, self._releases)

    def arguments(self, handle_id: Any) -> list | None:
        """The caller's arguments of the call that made a live cache; None for an unknown handle."""
        return self._arguments.get(handle_id) if type(handle_id) is int else None

    def encode(self, value: Any) -> list | None:
        """A handle's wire node (None for anything else); SubmissionError for a handle of another worker."""
        if type(value) is not CacheHandle:
            return None
        if value._token is not self._token:
            raise SubmissionError(f"a cache of {value._function} from a different submission was passed in")
        if value._generation != self._generation:
            raise SubmissionError(
                f"this cache of {value._function} was made by a sandbox worker that has since been replaced "
                "(after a crash or a timeout in an earlier call); it is gone"
            )
        return [wire.HANDLE, value._id]

    def take_releases(self) -> list[int]:
        """The ids of the current worker's caches nobody holds any more, to send with the next call."""
        if not self._releases:
            return []
        releases, self._releases[:] = list(self._releases), []
        handles = [handle for generation, handle in releases if generation == self._generation]
        for handle in handles:
            self._arguments.pop(handle, None)
        return handles

    def forget_releases(self) -> None:
        """A new worker holds no caches: nothing to release in it."""
        self._releases.clear()

    def new_generation(self) -> None:
        """The worker is gone, and its caches with it."""
        self._generation += 1
        self._arguments.clear()
