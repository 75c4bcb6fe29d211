"""Where the handlers' own output goes on this machine: a log file, not the console.

On Lambda the handlers write JSON lines to stdout (Powertools Logger's logs, Powertools
Metrics' EMF documents) and CloudWatch keeps them; that stays as it is. Locally a person
reads the console, so while the stack runs, stdout is a `HandlerOutput`: each JSON line is
appended to the stack's log file, and the console gets what it had before minus that JSON,
plus a warning or error of a handler as one readable log line. With `echo` (`--verbose`)
the console gets the JSON lines too.

The stack routes its own process's stdout (the API's handlers run there) and each worker
process routes its own (`sandbox._serve`), all into the one file.
"""

from __future__ import annotations

import io
import json
import logging
import re
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

_LINES = re.compile(r"[^\n]*\n|[^\n]+")
# The fields of every Powertools record (and the module's name, which the handlers add):
# the console's own line says them its way, or they are the same on every line.
_EVERY_RECORDS = frozenset(
    {
        "level",
        "location",
        "message",
        "timestamp",
        "service",
        "name",
        "sampling_rate",
        "xray_trace_id",
        "cold_start",
        "function_name",
        "function_memory_size",
        "function_arn",
        "function_request_id",
        "exception",
        "exception_name",
        "stack_trace",
        "taskName",  # Python 3.12's LogRecord field: the asyncio task
    }
)


def _explicit_levels() -> dict[str, int]:
    """The levels set on this process's loggers, the root's under ""."""
    levels = {
        name: logger.level
        for name, logger in list(logging.Logger.manager.loggerDict.items())
        if isinstance(logger, logging.Logger) and logger.level != logging.NOTSET
    }
    return levels | {"": logging.getLogger().level}


@dataclass(frozen=True)
class HandlerLog:
    """The file the handlers' JSON lines go to; `echo`: to the console as well.

    `console_levels`: the levels of this process's loggers when it is made, i.e. as the
    console is set up, before any handler's module sets its packages' levels for Powertools
    (a worker process is spawned after that): a handler's line the console would not show
    stays off it.
    """

    path: Path
    echo: bool = False
    console_levels: dict[str, int] = field(default_factory=_explicit_levels)


class HandlerOutput(io.TextIOBase):
    """A stdout that appends JSON lines to a file and passes everything else to `console`.

    Threads write side by side (the API front serves each request in a thread of its own,
    and print() writes a line and its end separately): each thread's line is held back on
    its own, and only while it may be JSON, i.e. when it starts with "{".
    """

    def __init__(self, console: TextIO, log: HandlerLog) -> None:
        super().__init__()
        self._console = console
        self._log = log
        log.path.parent.mkdir(parents=True, exist_ok=True)
        # Line-buffered and appended: each line is one write, whichever process wrote it.
        self._file = log.path.open("a", encoding="utf-8", buffering=1)
        self._lock = threading.Lock()
        self._held: dict[int, str] = {}  # thread -> the start of a line that may be JSON
        self._mid_line: set[int] = set()  # threads whose last write did not end a line

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._console, "encoding", "utf-8")

    def isatty(self) -> bool:
        return self._console.isatty()

    def fileno(self) -> int:
        return self._console.fileno()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if self.closed:  # a handler's logger may outlive the stack that routed it
            return self._console.write(text)
        thread = threading.get_ident()
        with self._lock:
            for piece in _LINES.findall(text):
                held = self._held.pop(thread, None)
                if held is not None:
                    held += piece
                elif thread not in self._mid_line and piece.startswith("{"):
                    held = piece
                else:
                    self._console.write(piece)
                if piece.endswith("\n"):
                    self._mid_line.discard(thread)
                    if held is not None:
                        self._line(held)
                else:
                    self._mid_line.add(thread)
                    if held is not None:
                        self._held[thread] = held
        return len(text)

    def flush(self) -> None:
        self._console.flush()

    def close(self) -> None:
        """Give the console what is still held back (a line never ended), close the file."""
        with self._lock:
            for held in self._held.values():
                self._console.write(held)
            self._held.clear()
        self._console.flush()
        self._file.close()
        super().close()

    def _line(self, line: str) -> None:
        try:
            document = json.loads(line)
        except ValueError:
            document = None
        if not isinstance(document, dict):
            self._console.write(line)
            return
        self._file.write(line)
        if self._log.echo:
            self._console.write(line)
        else:
            self._to_console(document)

    def _to_console(self, document: dict[str, Any]) -> None:
        """A handler's warning or error, as the console's own log lines read."""
        level = logging.getLevelName(str(document.get("level", "")).upper())
        if not isinstance(level, int) or level < logging.WARNING:
            return
        name = str(document.get("name") or document.get("service") or "handler")
        if level < _level_for(name, self._log.console_levels):
            return
        record = logging.makeLogRecord(
            {"name": name, "levelno": level, "levelname": logging.getLevelName(level)}
        )
        record.msg = readable(document, self._log.path)
        logging.getLogger().handle(record)


def readable(document: dict[str, Any], log_path: Path) -> str:
    """A Powertools log record as one line: its message, then what it adds to the fields
    every record has (`job 1a2b`, `metric faithfulness`), and where its traceback is."""
    message = str(document.get("message", ""))
    details = [
        f"{key.removesuffix('_id')} {value}"
        for key, value in document.items()
        if key not in _EVERY_RECORDS and value not in (None, "") and str(value) not in message
    ]
    if document.get("exception"):
        details.append(f"{document.get('exception_name', 'traceback')} in {log_path}")
    line = message + (f" ({'; '.join(details)})" if details else "")
    return " ".join(line.split())


def route_output(log: HandlerLog) -> Callable[[], None]:
    """Make this process's stdout a `HandlerOutput` for `log`; returns what undoes it."""
    original = sys.stdout
    routed = HandlerOutput(original, log)
    sys.stdout = routed

    def undo() -> None:
        if sys.stdout is routed:  # unless someone has replaced it since
            sys.stdout = original
        routed.close()

    return undo


def _level_for(name: str, levels: dict[str, int]) -> int:
    while name not in levels:
        name = name.rpartition(".")[0]
    return levels[name]
