"""The score and shard queues on SQS: the `JobQueue` port."""

from __future__ import annotations

from typing import Any

from rag_eval.adapters.aws.clients import LazyClient

BATCH = 10  # SendMessageBatch's most entries per call


class SqsJobQueue(LazyClient):
    service = "sqs"

    def __init__(self, queue_url: str, client: Any = None) -> None:
        super().__init__(client)
        self._queue_url = queue_url

    def send(self, body: str) -> None:
        self.client.send_message(QueueUrl=self._queue_url, MessageBody=body)

    def send_batch(self, bodies: list[str]) -> None:
        for start in range(0, len(bodies), BATCH):
            entries = [
                {"Id": str(index), "MessageBody": body}
                for index, body in enumerate(bodies[start : start + BATCH])
            ]
            failed = self.client.send_message_batch(QueueUrl=self._queue_url, Entries=entries).get(
                "Failed", []
            )
            if failed:
                # A failed entry is not sent: raise, and the sender's redelivery sends again.
                raise RuntimeError(f"{len(failed)} message(s) not sent: {failed[0].get('Code')}")
