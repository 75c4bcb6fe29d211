"""Lambda's execution environments (its "sandboxes"): a fresh copy of a handler's module
in this process, or a process of its own that serves one invocation at a time over a pipe.

`rag_eval.local.runtime.LocalFunction` makes them on demand and reuses them warm.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import multiprocessing
import pickle
import signal
import sys
import time
import traceback
import uuid
from collections.abc import Callable
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any, overload

from rag_eval.local.handler_output import HandlerLog, route_output
from rag_eval.local.lambda_context import LambdaContext

logger = logging.getLogger(__name__)


class InvocationError(Exception):
    """An invocation that failed in its execution environment, as Lambda reports one: an
    error type and message, and the handler's stack trace when the handler raised."""

    def __init__(self, error_type: str, message: str, stack_trace: str = "") -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.error_message = message
        self.stack_trace = stack_trace


class RuntimeExited(InvocationError):
    """The environment's process ended during the invocation (killed, crashed, exited)."""


class TaskTimedOut(InvocationError):
    """The invocation ran past the function's Timeout: its environment was stopped."""


class Environment:
    """One execution environment: serves one invocation at a time, warm between them."""

    def usable(self) -> bool:
        return True

    def live_pid(self) -> int | None:
        return None

    def wait_ready(self) -> None:
        pass

    def invoke(self, event: dict[str, Any], context: LambdaContext) -> Any:
        raise NotImplementedError

    def kill(self) -> None:
        pass

    def close(self) -> None:
        pass


class ModuleEnvironment(Environment):
    """An environment in this process: a fresh copy of the handler's module."""

    def __init__(self, path: Path, handler: str, logical_id: str) -> None:
        started = time.monotonic()
        self._handler = load_handler(path, handler, logical_id)
        logger.debug(
            "%s: new execution environment (init %.0f ms)",
            logical_id,
            (time.monotonic() - started) * 1000,
        )

    def invoke(self, event: dict[str, Any], context: LambdaContext) -> Any:
        return self._handler(event, context)


class ProcessEnvironment(Environment):
    """An environment in a child process of its own, spoken to over a pipe (`_serve`).

    Spawned, not forked: this process has threads (moto, the API front, the pollers) whose
    locks a forked child could inherit held. The child inherits os.environ as it is now,
    and this process's stderr and stdout; with `handler_log`, the handler's JSON lines go
    to that file instead of stdout (`handler_output.py`). As for any spawned process, the
    child imports this process's main script first: a script needs its
    `if __name__ == "__main__":`.
    """

    def __init__(
        self,
        path: Path,
        handler: str,
        logical_id: str,
        function_name: str,
        handler_log: HandlerLog | None = None,
    ) -> None:
        self._logical_id = logical_id
        context = multiprocessing.get_context("spawn")
        self._connection, child_end = context.Pipe()
        # Daemonic: should this process exit without close(), multiprocessing ends the child.
        self._process = context.Process(
            target=_serve,
            args=(child_end, str(path), handler, logical_id, _logging_setup(), handler_log),
            name=f"{function_name} execution environment",
            daemon=True,
        )
        self._started = time.monotonic()
        self._process.start()
        # Only the child may hold its end: its exit is then an end of file here.
        child_end.close()
        self._alive = True
        self.pid: int = self._process.pid  # type: ignore[assignment]

    def usable(self) -> bool:
        return self._alive and self._process.is_alive()

    def live_pid(self) -> int | None:
        return self.pid if self._process.is_alive() else None

    def wait_ready(self) -> None:
        status, body = self._receive(None, "")
        if status != "ready":
            self._alive = False
            raise self._failure(body, "")
        logger.info(
            "%s: new execution environment, process %d (cold start %.0f ms, of which the "
            "module's init %.0f ms)",
            self._logical_id,
            self.pid,
            (time.monotonic() - self._started) * 1000,
            body,
        )

    def invoke(self, event: dict[str, Any], context: LambdaContext) -> Any:
        fields = {
            field.name: getattr(context, field.name)
            for field in dataclasses.fields(context)
            if field.init and not field.name.startswith("_")
        }
        remaining = context.get_remaining_time_in_millis() / 1000
        request_id = context.aws_request_id
        message = (json.dumps(event), fields, remaining)
        with contextlib.suppress(OSError):  # the process is gone: _receive says how
            self._connection.send(message)
        reply = self._receive(remaining, request_id)
        if reply is None:
            self._alive = False
            self.kill()
            logger.error(
                "%s: RequestId %s: Task timed out after %.2f seconds; process %d stopped",
                self._logical_id,
                request_id,
                context.timeout_seconds,
                self.pid,
            )
            raise TaskTimedOut(
                "Sandbox.Timedout", f"Task timed out after {context.timeout_seconds:.2f} seconds"
            )
        status, body = reply
        if status == "ok":
            return json.loads(body)
        raise self._failure(body, request_id)

    @overload
    def _receive(self, timeout: None, request_id: str) -> tuple[str, Any]: ...
    @overload
    def _receive(self, timeout: float, request_id: str) -> tuple[str, Any] | None: ...
    def _receive(self, timeout: float | None, request_id: str) -> tuple[str, Any] | None:
        """The child's next message (status, what the pipe carried); None if none came within
        `timeout` seconds. The child exited: RuntimeExited."""
        if not wait([self._connection, self._process.sentinel], timeout):
            return None
        try:
            # A message sent just before the child exited is still there to read.
            if self._connection.poll():
                return self._connection.recv()
        except (EOFError, OSError):
            pass
        self._alive = False
        self._process.join(timeout=5)
        status = _exit_status(self._process.exitcode)
        logger.error(
            "%s: %s: process %d exited (%s)",
            self._logical_id,
            _phase(request_id),
            self.pid,
            status,
        )
        raise RuntimeExited("Runtime.ExitError", f"Runtime exited with error: {status}")

    def _failure(self, body: dict[str, str], request_id: str) -> InvocationError:
        error = InvocationError(body["errorType"], body["errorMessage"], body["stackTrace"])
        logger.error(
            "%s: %s: %s, in process %d:\n%s",
            self._logical_id,
            _phase(request_id),
            error,
            self.pid,
            error.stack_trace.rstrip() or "(no stack trace)",
        )
        return error

    def kill(self) -> None:
        if self._process.exitcode is None:
            self._process.kill()
        self._process.join(timeout=5)

    def close(self) -> None:
        self._alive = False
        self._connection.close()  # an idle child reads the end of file and returns
        self._process.join(timeout=2)
        self.kill()


def _phase(request_id: str) -> str:
    return f"RequestId {request_id}" if request_id else "init"


def _exit_status(exitcode: int | None) -> str:
    if exitcode is None:
        return "unknown"
    if exitcode < 0:
        try:
            return f"signal: {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"signal: {-exitcode}"
    return f"exit status {exitcode}"


def load_handler(path: Path, handler: str, logical_id: str) -> Callable[[dict, Any], Any]:
    import importlib.util

    # A unique module name: every copy has its own module globals (a cold start).
    name = f"local_{logical_id}_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, handler)


def _error_body(exc: BaseException) -> dict[str, str]:
    return {
        "errorType": type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": "".join(traceback.format_exception(exc)),
    }


def _logging_setup() -> bytes:
    """This process's logging as far as a child can take it: the root's level, its handlers
    on stderr or stdout (level, format, filters), and the levels set on named loggers."""
    streams = {
        id(sys.stderr): "stderr",
        id(sys.__stderr__): "stderr",
        id(sys.stdout): "stdout",
        id(sys.__stdout__): "stdout",
    }
    root = logging.getLogger()
    handlers = []
    for handler in root.handlers:
        # Only plain stream handlers: not files, nor test runners' capturing handlers.
        stream = streams.get(id(getattr(handler, "stream", None)))
        if type(handler) is not logging.StreamHandler or stream is None:
            continue
        formatter = handler.formatter if _picklable(handler.formatter) else None
        filters = [f for f in handler.filters if _picklable(f)]
        handlers.append((stream, handler.level, formatter, filters))
    levels = {
        name: logger.level
        for name, logger in list(logging.Logger.manager.loggerDict.items())
        if isinstance(logger, logging.Logger) and logger.level != logging.NOTSET
    }
    return pickle.dumps((root.level, handlers, levels))


def _picklable(value: object) -> bool:
    try:
        pickle.dumps(value)
    except Exception:
        return False
    return True


def _apply_logging_setup(setup: bytes) -> None:
    try:
        root_level, handlers, levels = pickle.loads(setup)
    except Exception:
        return  # e.g. a filter class this process cannot import: Python's default then
    root = logging.getLogger()
    for stream, level, formatter, filters in handlers:
        handler = logging.StreamHandler(getattr(sys, stream))
        handler.setLevel(level)
        if formatter is not None:
            handler.setFormatter(formatter)
        for log_filter in filters:
            handler.addFilter(log_filter)
        root.addHandler(handler)
    root.setLevel(root_level)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def _serve(
    connection: Any,
    path: str,
    handler_name: str,
    logical_id: str,
    setup: bytes,
    handler_log: HandlerLog | None,
) -> None:
    """An execution environment's process: the cold start once, then one invocation at a
    time until the parent closes the pipe. Events and results cross it as JSON, as on Lambda."""
    # Ctrl-C in a terminal reaches the whole process group; the parent decides when to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A line logged just before a crash should not die in a buffer.
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)
    _apply_logging_setup(setup)
    if handler_log is not None:
        # Before the handler's module loads: its logger keeps the stdout it finds then.
        route_output(handler_log)
    started = time.monotonic()
    try:
        handler = load_handler(Path(path), handler_name, logical_id)
    except Exception as exc:
        connection.send(("error", _error_body(exc)))
        return
    connection.send(("ready", (time.monotonic() - started) * 1000))
    while True:
        try:
            event, fields, remaining = connection.recv()
        except EOFError:
            return
        context = LambdaContext(**fields)
        context._deadline = time.monotonic() + remaining
        reply: tuple[str, Any]
        try:
            result = handler(json.loads(event), context)
        except Exception as exc:
            reply = ("error", _error_body(exc))
        else:
            try:
                reply = ("ok", json.dumps(result))
            except (TypeError, ValueError) as exc:
                reply = (
                    "error",
                    {
                        "errorType": "Runtime.MarshalError",
                        "errorMessage": f"Unable to marshal response: {exc}",
                        "stackTrace": "",
                    },
                )
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
        connection.send(reply)
