"""Deliver a job's event to its webhook (`WebhookMessage`, on the score queue), signed.

The URL is the job's (`notify.url`), checked again before each attempt and called on the
address that check resolved (`WebhookSender`). A 2xx ends it. A 5xx, a 429, a timeout or a
refused connection sends the message again, delayed `base * 2**attempt` seconds (at most
900, SQS's longest delay), up to `MAX_ATTEMPTS` attempts; any other answer, a URL no longer
allowed, or a job gone gives up. Giving up is logged with the URL's scheme, host and path
only: its query and the body may hold what is not for logs. Nothing here raises for the
receiver's faults, so the queue never redelivers a delivery that reached it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from rag_eval.app.job_record import Outcome
from rag_eval.app.ports import DelayedQueue, JobReader, WebhookSecrets, WebhookSender
from rag_eval.domain.events import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    JobEvent,
    WebhookRefused,
    sign,
)
from rag_eval.domain.messages import WebhookMessage

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
MAX_DELAY_SECONDS = 900  # SQS's DelaySeconds limit
RETRIED_STATUSES = frozenset({429})  # and every 5xx


def retry_delay(attempt: int, base_seconds: int) -> int:
    """Seconds before the attempt after `attempt` (0 the first): doubling, capped."""
    return int(min(MAX_DELAY_SECONDS, base_seconds * 2**attempt))


def loggable(url: str) -> str:
    """The URL without its query, fragment or credentials: what a log line may hold."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{parts.path}"


class DeliverWebhooks:
    def __init__(
        self,
        repository: JobReader,
        secrets: WebhookSecrets,
        sender: WebhookSender,
        queue: DelayedQueue,
        retry_base_seconds: int = 5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._repository = repository
        self._secrets = secrets
        self._sender = sender
        self._queue = queue
        self._base = retry_base_seconds
        self._clock = clock

    def handle(self, message: WebhookMessage) -> Outcome:
        found = self._repository.get(message.job_id)
        job = found[0] if found is not None else None
        if job is None or job.notify is None:
            logger.warning("webhook delivery dropped: the job or its webhook is gone")
            return Outcome.UNKNOWN_JOB
        url = job.notify.url
        secret = self._secrets.secret(job.owner)
        if secret is None:  # the API makes it when a job with a webhook is submitted
            return self._give_up(message, url, "its owner has no webhook secret")
        event = JobEvent.model_validate_json(message.event)
        body = message.event.encode("utf-8")
        timestamp = int(self._clock())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "ragas-serverless-webhook/1",
            EVENT_ID_HEADER: event.event_id,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(secret, timestamp, body),
        }
        try:
            status = self._sender.post(url, body, headers)
        except WebhookRefused as exc:
            return self._give_up(message, url, f"the URL is no longer allowed: {exc}")
        except OSError as exc:  # timeouts and refused connections: the receiver may recover
            return self._retry(message, url, f"{type(exc).__name__}")
        if 200 <= status < 300:
            logger.info(
                "webhook delivered",
                extra={"event_id": event.event_id, "status": status, "attempt": message.attempt},
            )
            return Outcome.DELIVERED
        if status >= 500 or status in RETRIED_STATUSES:
            return self._retry(message, url, f"answered {status}")
        return self._give_up(message, url, f"answered {status}")

    def _retry(self, message: WebhookMessage, url: str, why: str) -> Outcome:
        if message.attempt + 1 >= MAX_ATTEMPTS:
            return self._give_up(message, url, f"{why}, on every one of {MAX_ATTEMPTS} attempts")
        delay = retry_delay(message.attempt, self._base)
        again = message.model_copy(update={"attempt": message.attempt + 1})
        self._queue.send_later(again.body(), delay)
        logger.warning(
            "webhook delivery failed; sent again",
            extra={
                "url": loggable(url),
                "why": why,
                "attempt": message.attempt,
                "delay_seconds": delay,
            },
        )
        return Outcome.RESENT

    def _give_up(self, message: WebhookMessage, url: str, why: str) -> Outcome:
        logger.error(
            "webhook delivery given up",
            extra={"url": loggable(url), "why": why, "attempt": message.attempt},
        )
        return Outcome.UNDELIVERED
