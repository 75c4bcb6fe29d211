"""How Lambda runs a function, played in this process: its code, its context, its
execution environments (a fresh copy of the handler's module each, reused warm).

The context handed to handlers is `rag_eval.local.lambda_context.LambdaContext`.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag_eval.local.lambda_context import LambdaContext
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


class LocalFunction:
    """A function of the template run in this process, as Lambda runs it.

    Each execution environment is a fresh copy of the handler's module (its own resolver,
    caches and cold start) serving one invocation at a time; copies are made on demand, up
    to `max_environments`, and reused warm.
    """

    def __init__(
        self, code: FunctionCode, function_name: str = "", max_environments: int = 10
    ) -> None:
        self.code = code
        self.function_name = function_name or code.logical_id
        self._max = max_environments
        self._idle: list[Callable[[dict, Any], Any]] = []
        self._made = 0
        self._available = threading.Condition()

    def invoke(self, event: dict[str, Any]) -> Any:
        context = LambdaContext(self.function_name, self.code.memory_mb, self.code.timeout_seconds)
        with self._environment() as handler:
            started = time.monotonic()
            result = handler(event, context)
        took = time.monotonic() - started
        if took > self.code.timeout_seconds:
            logger.warning(
                "%s ran %.1f s, over its Timeout of %d s: Lambda would have stopped it",
                self.code.logical_id,
                took,
                self.code.timeout_seconds,
            )
        return result

    @contextmanager
    def _environment(self) -> Iterator[Callable[[dict, Any], Any]]:
        with self._available:
            while not self._idle and self._made >= self._max:
                self._available.wait()
            if self._idle:
                handler = self._idle.pop()
            else:
                self._made += 1
                handler = None
        if handler is None:
            try:
                handler = self._load()
            except BaseException:
                with self._available:
                    self._made -= 1
                    self._available.notify()
                raise
        try:
            yield handler
        finally:
            with self._available:
                self._idle.append(handler)
                self._available.notify()

    def _load(self) -> Callable[[dict, Any], Any]:
        import importlib.util

        # A unique module name: every copy has its own module globals (a cold start).
        name = f"local_{self.code.logical_id}_{uuid.uuid4().hex[:8]}"
        spec = importlib.util.spec_from_file_location(name, self.code.path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {self.code.path}")
        module = importlib.util.module_from_spec(spec)
        started = time.monotonic()
        spec.loader.exec_module(module)
        logger.debug(
            "%s: new execution environment (init %.0f ms)",
            self.code.logical_id,
            (time.monotonic() - started) * 1000,
        )
        return getattr(module, self.code.handler)
