"""Run work on an uploaded file in a child process under hard resource limits.

Parsing a bias-check upload and computing its metrics run in a child process started from a
``forkserver`` (a clean process that imported the readers once, so a child starts in tens of
milliseconds and inherits no database connection, lock or thread of the web process). The
child sets ``RLIMIT_AS`` (address space) and ``RLIMIT_CPU`` before it touches the file, and
the parent kills it past a wall-clock limit. A hostile or huge file can then exhaust only
its own child: the check is refused (422) or ends ``failed`` with the reason, and the web
process (or RQ worker) is untouched.

Only small, plain values cross the pipe: the function's return value, or an error's class
name, message and field errors, which are raised again in the parent as the same
:mod:`registry.errors` class.
"""

from __future__ import annotations

import multiprocessing
import resource
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from registry import errors as domain_errors

__all__ = ["Limits", "ResourceLimitExceeded", "run_limited"]

_PRELOAD = ["assessments.bias_spec", "assessments.metrics_whatif", "assessments.verdicts"]
_lock = threading.Lock()
_context: Any = None


@dataclass(frozen=True)
class Limits:
    """The child's hard limits: address space (bytes), CPU time and wall-clock seconds."""

    memory_bytes: int
    cpu_seconds: int
    wall_seconds: int


class ResourceLimitExceeded(Exception):
    """The child ran out of memory or time, or died; ``message`` says which, in figures."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


def _get_context() -> Any:
    global _context
    with _lock:
        if _context is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(_PRELOAD)
            _context = context
        return _context


def _human(n: int) -> str:
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n:,} bytes"


def _child(conn: Any, limits: Limits, func: Callable[..., Any], args: tuple, kwargs: dict) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 5))
    try:
        outcome: tuple[str, Any] = ("ok", func(*args, **kwargs))
    except domain_errors.DomainError as error:
        outcome = ("domain", (type(error).__name__, error.message, error.errors))
    except MemoryError as error:  # numpy's, and pyarrow's ArrowMemoryError
        outcome = ("memory", str(error)[:200])
    except BaseException:  # noqa: BLE001 - anything else is reported to the parent, not lost
        outcome = ("error", traceback.format_exc()[-4000:])
    try:
        conn.send(outcome)
    except MemoryError:
        conn.send(("memory", "the result could not be sent"))
    finally:
        conn.close()


def run_limited(
    func: Callable[..., Any],
    *args: Any,
    limits: Limits,
    heartbeat: Callable[[], None] | None = None,
    heartbeat_seconds: float = 10.0,
    **kwargs: Any,
) -> Any:
    """``func(*args, **kwargs)`` in a child process under ``limits``; its result or its error.

    ``func`` must be a module-level function, and its arguments and result picklable.
    ``heartbeat`` (if given) is called every ``heartbeat_seconds`` while the child works.

    Raises:
        registry.errors.DomainError: the class the child raised (a ValidationFailed stays one).
        ResourceLimitExceeded: the child ran out of memory, CPU or wall-clock time, or died.
        RuntimeError: any other failure in the child, with its traceback.
    """
    context = _get_context()
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(
        target=_child, args=(sender, limits, func, args, kwargs), name="registry-sandbox"
    )
    process.start()
    sender.close()
    try:
        deadline = time.monotonic() + limits.wall_seconds
        while not receiver.poll(max(0.0, min(heartbeat_seconds, deadline - time.monotonic()))):
            if time.monotonic() >= deadline:
                raise ResourceLimitExceeded(
                    f"the work took longer than the limit of {limits.wall_seconds:,} s"
                )
            if heartbeat is not None:
                heartbeat()
        try:
            status, payload = receiver.recv()
        except EOFError:
            process.join(5)
            raise ResourceLimitExceeded(_death(process.exitcode, limits)) from None
    finally:
        receiver.close()
        if process.is_alive():
            process.kill()
        process.join(5)
        process.close()
    if status == "ok":
        return payload
    if status == "domain":
        name, message, errors = payload
        error_class = getattr(domain_errors, name, domain_errors.ValidationFailed)
        raise error_class(message, errors)
    if status == "memory":
        raise ResourceLimitExceeded(
            f"the work needed more memory than the limit of {_human(limits.memory_bytes)}"
        )
    raise RuntimeError("the sandboxed work failed:\n" + str(payload))


def _death(exitcode: int | None, limits: Limits) -> str:
    import signal

    if exitcode is not None and exitcode < 0:
        number = -exitcode
        if number == signal.SIGXCPU:
            return f"the work used more than the limit of {limits.cpu_seconds:,} s of CPU time"
        if number == signal.SIGKILL:
            return "the work was killed (out of memory)"
        return (
            f"the work stopped on signal {signal.Signals(number).name}, most likely out of "
            f"its memory limit of {_human(limits.memory_bytes)}"
        )
    return f"the work's process ended without a result (exit code {exitcode})"
