"""DynamoDB's per-item atomicity, which moto lacks: writes to one table run one at a time.

DynamoDB applies each write to an item atomically, so that two conditional updates of the
same item at once (two shards counted together) both land, one after the other. moto
applies an update as read, change, store, with no lock: in its threaded server two
concurrent updates can both pass their conditions and one overwrite the other, losing a
count. Holding one lock around moto's item writes gives the semantics the service relies
on. moto's request handlers also copy or serialise an item while another thread writes
it ("dictionary changed size during iteration"), so each DynamoDB request is handled
under the same lock too: one at a time, as fast as moto is (microseconds a request).
"""

from __future__ import annotations

import functools
import threading

_WRITES = ("put_item", "update_item", "delete_item", "batch_write_item", "transact_write_items")
_lock = threading.RLock()


def serialize_writes() -> None:
    """Wrap moto's DynamoDB item writes, and its request handling, in one lock, once per
    process."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler

    for owner, name in [*((DynamoDBBackend, n) for n in _WRITES), (DynamoHandler, "call_action")]:
        method = getattr(owner, name)
        if getattr(method, "_serialized", False):
            continue

        @functools.wraps(method)
        def serialized(self, *args, _method=method, **kwargs):
            with _lock:
                return _method(self, *args, **kwargs)

        serialized._serialized = True  # type: ignore[attr-defined]
        setattr(owner, name, serialized)
