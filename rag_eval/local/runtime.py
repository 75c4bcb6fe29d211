"""How Lambda runs a function, played on this machine: its code, its context, its
execution environments (made on demand, reused warm).

An execution environment (`sandbox.py`) is either a fresh copy of the handler's module in
this process (isolation "thread": light, and tests can patch it) or a child process of its
own, as on Lambda (isolation "process": environments run truly in parallel, and a crash or
a timeout ends that environment only). The context handed to handlers is
`rag_eval.local.lambda_context.LambdaContext`.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rag_eval.local.handler_output import HandlerLog
from rag_eval.local.lambda_context import LambdaContext
from rag_eval.local.sandbox import Environment, ModuleEnvironment, ProcessEnvironment
from rag_eval.local.template import TEMPLATE_PATH, load_template

logger = logging.getLogger(__name__)

REPO_ROOT = TEMPLATE_PATH.parent
_HANDLER_CMD = re.compile(r'^CMD\s+\[\s*"([\w.]+)"', re.MULTILINE)


@dataclass(frozen=True)
class FunctionCode:
    """Where a function's handler lives in this repository, and its Lambda limits."""

    logical_id: str
    path: Path  # the handler's module file
    handler: str  # the handler's name in that module
    timeout_seconds: int
    memory_mb: int


def function_code(logical_id: str) -> FunctionCode:
    """A zip function: CodeUri + Handler. An image function: the Dockerfile's CMD, its module
    copied from the Dockerfile's folder (functions/worker/Dockerfile -> functions/worker/app.py).
    """
    template = load_template()
    resource = template["Resources"].get(logical_id)
    if resource is None or resource["Type"] != "AWS::Serverless::Function":
        raise ValueError(f"{logical_id} is not a function of {TEMPLATE_PATH.name}")
    properties = resource["Properties"]
    globals_ = template.get("Globals", {}).get("Function", {})
    if properties.get("PackageType") == "Image":
        dockerfile = REPO_ROOT / resource["Metadata"]["Dockerfile"]
        match = _HANDLER_CMD.search(dockerfile.read_text(encoding="utf-8"))
        if match is None:
            raise ValueError(f'{dockerfile}: no CMD ["module.handler"] to run locally')
        folder, handler = dockerfile.parent, match.group(1)
    else:
        folder, handler = REPO_ROOT / properties["CodeUri"], properties["Handler"]
    module, _, name = handler.rpartition(".")
    return FunctionCode(
        logical_id=logical_id,
        path=folder / f"{module.replace('.', '/')}.py",
        handler=name,
        timeout_seconds=int(properties.get("Timeout", globals_.get("Timeout", 3))),
        memory_mb=int(properties.get("MemorySize", globals_.get("MemorySize", 128))),
    )


def resolve_function(name: str) -> str:
    """`api`, `ApiFunction`, `apifunction` -> `ApiFunction` (the template's logical id)."""
    functions = [
        logical_id
        for logical_id, resource in load_template()["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    ]
    for logical_id in functions:
        if name.lower() in (logical_id.lower(), logical_id.lower().removesuffix("function")):
            return logical_id
    raise ValueError(f"unknown function {name!r}; the template has {', '.join(functions)}")


Isolation = Literal["thread", "process"]
DEFAULT_MAX_ENVIRONMENTS = 10


class LocalFunction:
    """A function of the template run on this machine, as Lambda runs it.

    Each execution environment has its own module globals (resolver, caches, cold start)
    and serves one invocation at a time; environments are made on demand, up to
    `max_environments`, and reused warm. With isolation "process" each one is a child
    process, stopped by `close()`, and an invocation past the function's Timeout is stopped
    as Lambda stops it (`TaskTimedOut`); with "thread" it is only logged. `handler_log`:
    where a process's handler writes its JSON lines (a thread's: wherever this process's
    stdout goes).
    """

    def __init__(
        self,
        code: FunctionCode,
        function_name: str = "",
        max_environments: int = DEFAULT_MAX_ENVIRONMENTS,
        isolation: Isolation = "thread",
        handler_log: HandlerLog | None = None,
    ) -> None:
        if isolation not in ("thread", "process"):
            raise ValueError(f"isolation is 'thread' or 'process', not {isolation!r}")
        self.code = code
        self.function_name = function_name or code.logical_id
        self.isolation = isolation
        self._handler_log = handler_log
        self._max = max_environments
        self._environments: list[Environment] = []  # started and not yet dropped
        self._idle: list[Environment] = []
        self._made = 0  # started or being started
        self._closed = False
        self._available = threading.Condition()

    def invoke(self, event: dict[str, Any]) -> Any:
        with self._environment() as environment:
            # Lambda's clock starts with the invocation, after any wait and cold start.
            context = LambdaContext(
                self.function_name, self.code.memory_mb, self.code.timeout_seconds
            )
            started = time.monotonic()
            result = environment.invoke(event, context)
        took = time.monotonic() - started
        if self.isolation == "thread" and took > self.code.timeout_seconds:
            logger.warning(
                "%s ran %.1f s, over its Timeout of %d s: Lambda would have stopped it",
                self.code.logical_id,
                took,
                self.code.timeout_seconds,
            )
        return result

    def environment_pids(self) -> list[int]:
        """The process ids of the live execution environments ("process" isolation)."""
        with self._available:
            environments = list(self._environments)
        return [pid for pid in (e.live_pid() for e in environments) if pid is not None]

    def close(self) -> None:
        """Stop every execution environment, idle or busy (a busy invocation raises
        RuntimeExited). Later invocations raise RuntimeError. Idempotent."""
        with self._available:
            self._closed = True
            idle, self._idle = self._idle, []
            for environment in idle:
                self._forget(environment)
            busy = list(self._environments)
            self._available.notify_all()
        for environment in busy:
            environment.kill()
        for environment in idle:
            environment.close()

    @contextmanager
    def _environment(self) -> Iterator[Environment]:
        environment = self._acquire()
        try:
            yield environment
        finally:
            self._release(environment)

    def _acquire(self) -> Environment:
        dead: list[Environment] = []
        try:
            with self._available:
                while True:
                    if self._closed:
                        raise RuntimeError(f"{self.function_name} is closed")
                    if self._idle:
                        environment = self._idle.pop()
                        if environment.usable():
                            return environment
                        # Died while idle: Lambda would just give the next invocation another.
                        self._forget(environment)
                        dead.append(environment)
                        continue
                    if self._made < self._max:
                        self._made += 1
                        break
                    self._available.wait()
        finally:
            for environment in dead:
                environment.close()
        try:
            environment = self._start_environment()
        except BaseException:
            with self._available:
                self._made -= 1
                self._available.notify()
            raise
        with self._available:
            closed = self._closed
            if closed:
                self._made -= 1
            else:
                self._environments.append(environment)
        if closed:
            environment.close()
            raise RuntimeError(f"{self.function_name} is closed")
        try:
            environment.wait_ready()
        except BaseException:
            self._release(environment)
            raise
        return environment

    def _release(self, environment: Environment) -> None:
        with self._available:
            self._available.notify()
            if environment.usable() and not self._closed:
                self._idle.append(environment)
                return
            self._forget(environment)
        environment.close()

    def _forget(self, environment: Environment) -> None:
        if environment in self._environments:
            self._environments.remove(environment)
            self._made -= 1

    def _start_environment(self) -> Environment:
        code = self.code
        if self.isolation == "process":
            return ProcessEnvironment(
                code.path, code.handler, code.logical_id, self.function_name, self._handler_log
            )
        return ModuleEnvironment(code.path, code.handler, code.logical_id)
