"""A worker's replies turned back into values: returns checked, errors rebuilt, in-place changes written back.

The grader trusts nothing a worker sends. An 'array' return arrives only if it is an
exact float ndarray; anything else (object arrays, subclasses, lists, objects whose ==
is always true, a tuple of the wrong length) raises SubmissionError saying what came
back. A 'cache' return stays in the worker: the test gets a CacheHandle. A 'json'
return is plain data. Dict arguments the call changed and arrays it modified in place
are written back into the caller's objects, so in-process semantics hold. An exception
of a builtin type comes back as that type with the same message, the student's
traceback as a note. A reply that breaks these rules raises wire.ProtocolError.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from autograder.core.assignments import FunctionSpec
from autograder.core.implementation import SubmissionError
from autograder.sandbox import protocol, wire
from autograder.sandbox.caches import CacheBook
from autograder.sandbox.failures import WORKER_FAILED


class ReplyReader:
    """Reads the replies to one submission's calls; the handles of returned caches go into `caches`."""

    def __init__(self, caches: CacheBook) -> None:
        self.caches = caches

    def values(self, function: FunctionSpec, seq: int, frame: wire.Frame, tracked: list) -> Any:
        """The return value(s) of a call, after its in-place changes are written into `tracked`
        (the caller's arguments, numbered as the request's encoder met them); raises what the call raised."""
        __tracebackhide__ = True
        reply = frame.message
        if type(reply) is not dict or reply.get(protocol.SEQ) != seq:
            raise wire.ProtocolError("a reply that does not answer the call")
        decoder = wire.Decoder(frame, known=tracked, allow_opaque=True)
        self._write_back(reply, decoder, tracked)
        if protocol.ERROR in reply:
            raise remote_error(function.name, reply[protocol.ERROR], decoder)
        nodes = reply.get(protocol.RETURNED)
        if type(nodes) is not list or len(nodes) != len(function.returns):
            raise wire.ProtocolError("a reply with the wrong number of values")
        return_kinds = enumerate(zip(function.returns, nodes))
        values = [
            self._returned(function, position, kind, node, decoder, tracked) for position, (kind, node) in return_kinds
        ]
        return values[0] if len(values) == 1 else tuple(values)

    def perturbed(
        self, function: FunctionSpec, take: int, seq: int, frame: wire.Frame, tracked: list, covers: tuple
    ) -> tuple[np.ndarray, int]:
        """The stacked outputs of a perturbation reply, and how many entries they cover (one of `covers`)."""
        __tracebackhide__ = True
        reply = frame.message
        if type(reply) is not dict or reply.get(protocol.SEQ) != seq:
            raise wire.ProtocolError("a reply that does not answer the call")
        decoder = wire.Decoder(frame, known=tracked, allow_opaque=True)
        if protocol.ERROR in reply:
            raise remote_error(function.name, reply[protocol.ERROR], decoder)
        nodes, covered = reply.get(protocol.RETURNED), reply.get(protocol.COVERED)
        if type(nodes) is not list or len(nodes) != 1 or type(covered) is not int or covered not in covers:
            raise wire.ProtocolError("a perturbation reply that is not one value for the entries asked for")
        outputs = self._returned(function, take, "array", nodes[0], decoder, tracked)
        if outputs.ndim < 1 or outputs.shape[0] != 2 * covered:
            raise wire.ProtocolError(f"perturbed outputs of shape {outputs.shape} for {covered} entries")
        return outputs, covered

    def _returned(
        self, function: FunctionSpec, position: int, kind: str, node: Any, decoder: wire.Decoder, tracked: list
    ) -> Any:
        """Return value `position` of `function`, of declared `kind` ('array', 'cache' or 'json')."""
        __tracebackhide__ = True
        if kind == "cache":
            if type(node) is not list or len(node) != 2 or node[0] != wire.HANDLE or type(node[1]) is not int:
                raise wire.ProtocolError("a cache that is not a handle")
            return self.caches.handle(node[1], function.name, tracked)
        what = _ordinal(position, len(function.returns))
        if type(node) is list and node and node[0] == wire.NOT_SENT and len(node) == 2:
            expected = "a float ndarray" if kind == "array" else "plain data"
            raise SubmissionError(f"{function.name}: {what} is {str(node[1])[:300]}; expected {expected}")
        value = decoder.decode(node)
        if kind == "array":
            if type(value) is not np.ndarray or value.dtype.kind != "f":
                raise SubmissionError(f"{function.name}: {what} is {wire.describe(value)}; expected a float ndarray")
            return value
        try:
            return _plain(value)
        except SubmissionError as error:
            raise SubmissionError(f"{function.name}: {what} holds {error}") from None

    def _write_back(self, reply: dict, decoder: wire.Decoder, tracked: list) -> None:
        """Mirror into the caller's objects what the call changed in its copies of them.

        That includes arrays passed to an earlier call whose cache this call used: a
        backward pass that writes into the forward's input changes the caller's array
        in-process, so it must here too.
        """
        for entry in reply.get(protocol.MODIFIED, ()):
            index, node = _entry(entry, tracked)
            _mirror_array(tracked[index], decoder.decode(node))
        for entry in reply.get(protocol.MODIFIED_THROUGH_CACHE, ()):
            arguments = self.caches.arguments(entry[0]) if type(entry) is list and len(entry) == 3 else None
            if arguments is None:
                raise wire.ProtocolError("an in-place change of an argument of an unknown cache")
            index, node = _entry(entry[1:], arguments)
            _mirror_array(arguments[index], decoder.decode(node))
        for entry in reply.get(protocol.CHANGED, ()):
            index, node = _entry(entry, tracked)
            _refill(tracked[index], node, decoder)


def _refill(target: Any, node: Any, decoder: wire.Decoder) -> None:
    """Give a dict or list argument the contents the call left in its copy."""
    if type(target) is dict:
        items: dict = {}
        decoder.fill_dict(items, node)
        target.clear()
        target.update(items)
    elif type(target) is list:
        decoder.fill_list(target, node)
    else:
        raise wire.ProtocolError("a changed container that does not fit its argument")


def _mirror_array(target: Any, value: Any) -> None:
    if type(target) is not np.ndarray or type(value) is not np.ndarray or target.shape != value.shape:
        raise wire.ProtocolError("an in-place change that does not fit its argument")
    if not target.flags.writeable:
        raise wire.ProtocolError("an in-place change of a read-only argument")
    target[...] = value


def _entry(entry: Any, tracked: list) -> tuple[int, Any]:
    """(argument index, node) of a write-back entry, checked against the arguments there are."""
    if type(entry) is not list or len(entry) != 2 or type(entry[0]) is not int or not 0 <= entry[0] < len(tracked):
        raise wire.ProtocolError("a write-back entry for an argument that does not exist")
    return entry[0], entry[1]


def remote_error(name: str, error: Any, decoder: wire.Decoder) -> BaseException:
    """The exception to raise in the grader for an error a worker reported in a call of `name`."""
    if type(error) is not dict:
        raise wire.ProtocolError("an error report that is not a dict")
    kind = error.get(protocol.ERROR_KIND)
    message = str(error.get(protocol.MESSAGE, ""))[:10_000]
    if kind != protocol.RAISED:
        if kind == protocol.INTERNAL:
            return SubmissionError(f"{name}: {WORKER_FAILED}:\n{message}")
        return SubmissionError(f"{name}: {message}")
    type_name = str(error.get(protocol.EXCEPTION_TYPE, "Exception"))[:100]
    traceback_text = str(error.get(protocol.TRACEBACK, ""))[:5000]
    base = _builtin_exception(error.get(protocol.BASES))
    if base is None or base is AssertionError or not type_name.isidentifier():
        return SubmissionError(f"{name} raised {type_name}: {message}\n\n{traceback_text}".rstrip())
    exception_type = _exception_type(type_name, base)
    try:
        arguments_node = error.get(protocol.EXCEPTION_ARGS)
        arguments = decoder.decode(arguments_node) if arguments_node is not None else (message,)
        exception = exception_type(*arguments) if type(arguments) is tuple else exception_type(message)
    except Exception:  # noqa: BLE001 - constructors of some builtin exceptions need particular arguments
        try:
            exception = exception_type(message)
        except Exception:  # noqa: BLE001
            return SubmissionError(f"{name} raised {type_name}: {message}\n\n{traceback_text}".rstrip())
    exception.add_note(f"Raised by {name} in the sandbox:\n{traceback_text}".rstrip())
    return exception


def _builtin_exception(bases: Any) -> type[Exception] | None:
    """The first builtin Exception subclass among the names of a remote exception's class hierarchy."""
    if type(bases) is not list:
        return None
    for name in bases:
        candidate = getattr(builtins, name, None) if type(name) is str else None
        if isinstance(candidate, type) and issubclass(candidate, Exception):
            return candidate
    return None


_exception_types: dict[tuple[str, type], type] = {}


def _exception_type(name: str, base: type[Exception]) -> type[Exception]:
    """A stand-in for a student's own exception class: same name, deriving from its builtin base."""
    if name == base.__name__:
        return base
    key = (name, base)
    if key not in _exception_types:
        _exception_types[key] = type(name, (base,), {"__module__": "submission"})
    return _exception_types[key]


def _ordinal(position: int, count: int) -> str:
    """How a failure message names return value `position` of `count`."""
    if count == 1:
        return "the value it returned"
    words = ("first", "second", "third", "fourth", "fifth")
    return f"the {words[position] if position < len(words) else f'#{position + 1}'} value it returned"


def _plain(value: Any, depth: int = 0) -> Any:
    """A 'json' return: numbers, strings, lists, tuples, dicts; numpy scalars become Python numbers."""
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if depth < 64 and type(value) in (list, tuple):
        return type(value)(_plain(item, depth + 1) for item in value)
    if depth < 64 and type(value) is dict:
        return {_plain(k, depth + 1): _plain(v, depth + 1) for k, v in value.items()}
    raise SubmissionError(f"{wire.describe(value)} where plain numbers, strings, lists or dicts were expected")
