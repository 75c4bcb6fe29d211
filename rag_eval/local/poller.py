"""The local SQS event source mapping: what Lambda's poller does for the worker.

It long-polls the queue for up to the mapping's BatchSize messages with every system
attribute (the handler reads ApproximateReceiveCount), invokes the function with an SQS
event, and deletes the messages that succeeded: with ReportBatchItemFailures, all but the
ones the function listed in `batchItemFailures`; none if the function raised. What it does
not delete comes back after the queue's visibility timeout, and moves to the dead-letter
queue after maxReceiveCount receives: that is the queue's (moto's) own redrive, as on AWS.
The template maps the dead-letter queue to the worker too: it is polled the same way.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from rag_eval.local.runtime import LocalFunction
from rag_eval.local.template import DEFAULT_REGION

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueueEventSource:
    """An SQS event source mapping of the template (what the poller plays)."""

    function: str  # logical id of the function it invokes
    queue: str  # logical id of the queue
    batch_size: int
    report_batch_item_failures: bool


def queue_event_sources(template: Mapping[str, Any]) -> list[QueueEventSource]:
    """The SQS event source mappings of the expanded template."""
    sources = []
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::Lambda::EventSourceMapping":
            continue
        properties = resource["Properties"]
        source_arn = properties.get("EventSourceArn", {})
        if not isinstance(source_arn, dict) or "Fn::GetAtt" not in source_arn:
            continue
        queue = source_arn["Fn::GetAtt"][0]
        if template["Resources"][queue]["Type"] != "AWS::SQS::Queue":
            continue
        sources.append(
            QueueEventSource(
                function=properties["FunctionName"]["Ref"],
                queue=queue,
                batch_size=int(properties.get("BatchSize", 10)),
                report_batch_item_failures="ReportBatchItemFailures"
                in properties.get("FunctionResponseTypes", []),
            )
        )
    return sources


class BatchOutcome(NamedTuple):
    received: int
    failed: int  # messages left on the queue for redelivery


class QueuePoller:
    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        source: QueueEventSource,
        function: LocalFunction,
        *,
        wait_time_seconds: int = 1,
        concurrency: int = 1,
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._source = source
        self._function = function
        # Lambda long-polls for 20 s; a shorter wait lets stop() return promptly.
        self._wait = wait_time_seconds
        self._concurrency = concurrency
        self._queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for index in range(self._concurrency):
            thread = threading.Thread(
                target=self._run, name=f"local-poller-{self._source.function}-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop polling; a batch in flight is left to finish (or to the visibility timeout)."""
        self._stopping.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                logger.warning(
                    "%s still busy with a batch; its messages return to the queue after the "
                    "visibility timeout",
                    self._source.function,
                )
        self._threads = []

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.poll_once()
            except Exception:
                if self._stopping.is_set():
                    return
                logger.exception("polling %s failed; retrying in 1 s", self._source.queue)
                self._stopping.wait(1.0)

    def poll_once(self) -> BatchOutcome | None:
        """Receive one batch and hand it to the function; None if the queue had nothing."""
        response = self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=self._source.batch_size,
            WaitTimeSeconds=self._wait,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        if not messages:
            return None
        started = time.monotonic()
        event = {"Records": [self._record(message) for message in messages]}
        failed_ids = self._invoke(event)
        done = [m for m in messages if m["MessageId"] not in failed_ids]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                    for index, message in enumerate(done)
                ],
            )
        receives = ",".join(m["Attributes"].get("ApproximateReceiveCount", "?") for m in messages)
        logger.info(
            "%s: batch of %d record(s) from %s (receive count %s), %d failure(s), %.0f ms",
            self._source.function,
            len(messages),
            self._source.queue,
            receives,
            len(messages) - len(done),
            (time.monotonic() - started) * 1000,
        )
        return BatchOutcome(len(messages), len(messages) - len(done))

    def _invoke(self, event: dict[str, Any]) -> set[str]:
        """The message ids to leave on the queue, by Lambda's rules for SQS responses."""
        every_id = {record["messageId"] for record in event["Records"]}
        try:
            response = self._function.invoke(event)
        except Exception:
            logger.exception("%s raised: the whole batch is retried", self._source.function)
            return every_id
        if not self._source.report_batch_item_failures or not response:
            return set()
        failures = response.get("batchItemFailures") if isinstance(response, dict) else None
        if not failures:
            return set()
        ids = {(failure or {}).get("itemIdentifier") for failure in failures}
        if not ids <= every_id:
            # Lambda treats a missing or unknown itemIdentifier as a failure of the batch.
            logger.error("batchItemFailures names unknown messages %s", ids - every_id)
            return every_id
        return ids  # type: ignore[return-value]

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return sqs_record(message, self._queue_arn)


def sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """A message as the SQS API gives it (received with every attribute) -> a record of the
    SQS event Lambda's event source hands the function."""
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {
            name: _lambda_attribute(value)
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": DEFAULT_REGION,
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def _lambda_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """A message attribute as the SQS API gives it -> as Lambda's SQS event spells it."""
    binary = value.get("BinaryValue")
    return {
        "stringValue": value.get("StringValue"),
        "binaryValue": base64.b64encode(binary).decode("ascii") if binary else None,
        "stringListValues": value.get("StringListValues", []),
        "binaryListValues": [
            base64.b64encode(item).decode("ascii") for item in value.get("BinaryListValues", [])
        ],
        "dataType": value["DataType"],
    }
