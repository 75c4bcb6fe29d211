"""The score queue on SQS: the `JobQueue` port."""

from __future__ import annotations

from typing import Any

from rag_eval.adapters.aws.clients import aws_client


class SqsJobQueue:
    def __init__(self, queue_url: str, client: Any = None) -> None:
        self._queue_url = queue_url
        self._client = client

    def send(self, body: str) -> None:
        client = self._client or aws_client("sqs")
        client.send_message(QueueUrl=self._queue_url, MessageBody=body)
