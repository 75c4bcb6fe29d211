"""One delivery of a queue message: its body read, and the leases that keep two copies of
it from doing the same work at once."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import ValidationError

from rag_eval.domain.errors import MalformedMessage
from rag_eval.domain.messages import QUEUE_MESSAGE, QueueMessage
from rag_eval.domain.settings import Settings

logger = logging.getLogger(__name__)

# Time kept back from the invocation's limit to store a timed-out shard as unscored.
FINISH_MARGIN_SECONDS = 15.0
LEASE_POLL_SECONDS = 5.0  # how often a last delivery asks again for a held lease


@dataclass(frozen=True)
class Delivery:
    """One delivery of a message: how many times it came, and the time left for it."""

    receive_count: int
    seconds_left: float | None
    last: bool  # no redelivery follows a failure of this one
    # From the dead-letter queue: every delivery died (a timeout, out of memory) before it
    # could record a failure. Not tried again, it would die again: the failure is recorded.
    dead: bool = False

    def lease_seconds(self, settings: Settings) -> float:
        """A lease never outlives the invocation that holds it."""
        return min(settings.shard_lease_seconds, self.seconds_left or float("inf"))


def hold_lease[T](take: Callable[[], T | None], delivery: Delivery) -> T | None:
    """What `take` gets (a lease), or None while another delivery holds it. On a message's
    last delivery, wait for a held lease to end while there is time: if its holder died,
    no later delivery would take the work over."""
    waited_until = time.monotonic() + (
        max(0.0, delivery.seconds_left - FINISH_MARGIN_SECONDS)
        if delivery.last and delivery.seconds_left
        else 0.0
    )
    while not (taken := take()):
        if time.monotonic() >= waited_until:
            return None
        logger.info("held by another delivery; waiting for its lease")
        time.sleep(min(LEASE_POLL_SECONDS, max(0.0, waited_until - time.monotonic())))
    return taken


def parse_message(body: str) -> QueueMessage:
    """A record's body as the message it is, checked (MalformedMessage else)."""
    try:
        return QUEUE_MESSAGE.validate_json(body)
    except ValidationError as exc:
        raise MalformedMessage(f"not a queue message: {exc}") from exc


def from_queue(source_arn: str, queue_url: str) -> bool:
    """A record's eventSourceARN names the queue at `queue_url` (false when that is unset).
    Compared by name: an ARN ends with it, as the URL's path does."""
    name = queue_url.rstrip("/").rpartition("/")[2]
    return bool(name) and source_arn.rpartition(":")[2] == name
