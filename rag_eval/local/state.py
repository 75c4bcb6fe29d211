"""The local stack's AWS state in a folder: saved as it changes, restored on the next start.

moto keeps S3, SQS, DynamoDB and the stack's CloudFormation record in memory. Here its
backends are pickled together (one pickle, so objects they share stay shared) into
`<state dir>/moto-state.pickle`, written whole and renamed into place: a file is always a
complete snapshot. A snapshot is taken while no request that changes anything is inside
moto (such requests hold a shared lock, the snapshot the exclusive one), so it is a state
moto really was in. Receives stay outside the lock: they long-poll for up to a second, and
change only what a restore resets anyway (which messages are in flight).

When: about once a second after a request that changed something, and on a clean stop. A
hard kill (SIGKILL, power loss) loses at most the writes of that last second, which the
service already survives: to the worker it is a delivery that never happened, retried.

A restart ends every execution environment of the old stack, as a crash of Lambda's hosts
would: the messages they were handling are made visible again at once (not after the
queue's visibility timeout), and the leases they held on jobs and shards are given back
(not left to run out), so a job that was running when the stack died goes on at once.
"""

from __future__ import annotations

import collections
import contextlib
import io
import logging
import os
import pickle
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

STATE_FILE = "moto-state.pickle"
# What the stack's resources and the service's data live in; moto's other services hold
# nothing of ours.
SERVICES = (
    *("s3", "sqs", "dynamodb", "cloudformation", "iam", "awslambda", "logs", "cloudwatch"),
    *("events", "ssm"),  # the jobs' event bus and its rules; the callers' webhook secrets
)
# Requests that change nothing worth keeping. A receive changes a message's visibility only,
# which a restore resets anyway. Everything else (S3 PUT/POST/DELETE, item writes, sends,
# deletes) is a change.
_READS = frozenset(
    {
        "GetItem",
        "BatchGetItem",
        "Query",
        "Scan",
        "DescribeTable",
        "DescribeTimeToLive",
        "ReceiveMessage",
        "GetQueueAttributes",
        "GetQueueUrl",
        "ListQueues",
    }
)
SAVE_INTERVAL_SECONDS = 1.0
# A snapshot of a large state takes time, with moto paused: wait at least this many times
# as long before the next, so that saving never takes more than a fifth of moto's time.
SAVE_PAUSE_FACTOR = 4


class _SharedOrExclusive:
    """Many requests at once, or one snapshot alone; a waiting snapshot goes first."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._inside = 0
        self._exclusive = False
        self._waiting = 0

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        with self._condition:
            self._condition.wait_for(lambda: not (self._exclusive or self._waiting))
            self._inside += 1
        try:
            yield
        finally:
            with self._condition:
                self._inside -= 1
                self._condition.notify_all()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._condition:
            self._waiting += 1
            self._condition.wait_for(lambda: not (self._exclusive or self._inside))
            self._waiting -= 1
            self._exclusive = True
        try:
            yield
        finally:
            with self._condition:
                self._exclusive = False
                self._condition.notify_all()


class _BackendPickler(pickle.Pickler):
    """moto's backends hold a few things pickle refuses: locks (made anew), weak maps (kept
    with their entries, which the same pickle holds strongly) and defaultdicts of lambdas."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, _RLOCK_TYPE):
            return (threading.RLock, ())
        if isinstance(obj, _LOCK_TYPE):
            return (threading.Lock, ())
        if isinstance(obj, weakref.WeakValueDictionary):
            return (weakref.WeakValueDictionary, (dict(obj),))
        if (
            isinstance(obj, collections.defaultdict)
            and obj.default_factory is not None
            and _is_lambda(obj.default_factory)
        ):
            factory = type(obj.default_factory())
            return (collections.defaultdict, (factory,), None, None, iter(obj.items()))
        return NotImplemented


_RLOCK_TYPE = type(threading.RLock())
_LOCK_TYPE = type(threading.Lock())


def _is_lambda(function: Any) -> bool:
    return getattr(function, "__name__", "") == "<lambda>"


def _backends() -> dict[str, Any]:
    import moto.backends

    # moto types `get_backend` by one overload per service name, a Literal each; these names
    # are plain strings, and the backends are pickled whole, never read: taken as Any.
    backends: Any = moto.backends
    return {name: backends.get_backend(name) for name in SERVICES}


class LocalState:
    """The folder the local stack keeps its AWS state in, and the saving of it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / STATE_FILE
        self._lock = _SharedOrExclusive()
        self._changed = threading.Event()
        self._stopping = threading.Event()
        self._saver: threading.Thread | None = None
        self._saving = threading.Lock()  # one snapshot at a time (the saver, a stop)
        self.last_save_seconds = 0.0
        self.last_save_bytes = 0

    # --- restore -----------------------------------------------------------------------

    def restore(self) -> bool:
        """Put the saved backends into moto (before it serves). False: nothing saved, or a
        file this moto cannot read (set aside as `.unreadable`, and the stack starts empty)."""
        if not self.path.exists():
            return False
        try:
            saved = pickle.loads(self.path.read_bytes())
        except Exception as exc:  # another moto's pickle, a truncated file: start empty
            aside = self.path.with_suffix(".unreadable")
            self.path.replace(aside)
            logger.warning(
                "could not read the saved state (%s); starting empty, kept as %s", exc, aside
            )
            return False
        for name, live in _backends().items():
            live.clear()  # in place: moto's modules hold these very dicts
            live.update(saved.get(name, {}))
        _release_messages(_all_queues())
        return True

    # --- saving ------------------------------------------------------------------------

    def wrap(self, app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
        """moto's WSGI app, with each request inside the shared lock and changes noted."""

        def recorded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            if _operation(environ) == "ReceiveMessage":
                return app(environ, start_response)
            with self._lock.shared():
                answer = list(app(environ, start_response))  # the whole answer, inside
            if _changes(environ):
                self._changed.set()
            return answer

        return recorded

    def start_saving(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._saver = threading.Thread(target=self._save_while_running, daemon=True)
        self._saver.start()

    def stop_saving(self) -> None:
        """Stop the saver and save what changed since its last snapshot."""
        self._stopping.set()
        if self._saver is not None:
            self._saver.join()
            self._saver = None
        if self._changed.is_set():
            self.save()

    def _save_while_running(self) -> None:
        while not self._stopping.wait(
            max(SAVE_INTERVAL_SECONDS, SAVE_PAUSE_FACTOR * self.last_save_seconds)
        ):
            if self._changed.is_set():
                try:
                    self.save()
                except Exception:  # keep serving; the next change tries again
                    logger.exception("could not save the local stack's state")

    def save(self) -> None:
        """One consistent snapshot, written whole, then renamed over the last one."""
        with self._saving:
            started = time.monotonic()
            with self._lock.exclusive():
                self._changed.clear()
                data = _snapshot()
            self.last_save_seconds = time.monotonic() - started
            self._write(data)

    def _write(self, data: bytes) -> None:
        self.last_save_bytes = len(data)
        partial = self.path.with_suffix(".partial")
        with open(partial, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        partial.replace(self.path)


def _snapshot(attempts: int = 5) -> bytes:
    """The backends pickled. A receive running meanwhile may resize a queue's set of
    in-flight messages under the pickler; that state is reset on restore, so try again."""
    for attempts_left in range(attempts - 1, -1, -1):
        buffer = io.BytesIO()
        try:
            _BackendPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(_backends())
            return buffer.getvalue()
        except RuntimeError:  # "Set changed size during iteration"
            if not attempts_left:
                raise
    return b""  # attempts < 1


def _operation(environ: dict[str, Any]) -> str:
    """The API operation of a JSON-protocol request (X-Amz-Target), else ''."""
    return environ.get("HTTP_X_AMZ_TARGET", "").rpartition(".")[2]


def _changes(environ: dict[str, Any]) -> bool:
    if environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
        return False
    operation = _operation(environ)
    return operation not in _READS if operation else True


def _all_queues() -> Iterator[Any]:
    from moto.backends import get_backend

    for account in get_backend("sqs").values():
        for region in account.values():
            yield from region.queues.values()


def _release_messages(queues: Iterable[Any]) -> None:
    """Messages in flight when the stack stopped are visible again: their consumers are gone."""
    for queue in queues:
        for message in queue._messages:
            message.visible_at = 0.0
        queue._pending_messages = set()


def release_leases(dynamodb: Any, table: str) -> int:
    """Give back every lease on the jobs table (job items and shard lease items): whoever
    held one ran in an execution environment that ended with the old stack. The attribute
    names are the repository's (rag_eval/adapters/aws/dynamodb.py)."""
    released = 0
    pages = dynamodb.get_paginator("scan").paginate(
        TableName=table,
        FilterExpression="attribute_exists(lease_until)",
        ProjectionExpression="job_id",
    )
    for page in pages:
        for item in page["Items"]:
            dynamodb.update_item(
                TableName=table,
                Key={"job_id": item["job_id"]},
                UpdateExpression="REMOVE lease_owner, lease_until",
            )
            released += 1
    return released
