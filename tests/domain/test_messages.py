"""The queue messages: one union, told apart by `kind`, and by their keys when sent before
`kind` existed (a message in flight during an update)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from rag_eval.domain.messages import QUEUE_MESSAGE, CompareMessage, JobMessage, ShardMessage


@pytest.mark.parametrize(
    "message",
    [
        JobMessage(job_id="a" * 24, request={"samples": [{"question": "q"}]}),
        JobMessage(job_id="a" * 24, request_key="score-requests/a.json"),
        ShardMessage(job_id="a" * 24, shard=3),
        CompareMessage(job_id="a" * 24, baseline="b" * 24),
    ],
)
def test_every_message_reads_back_as_itself(message: JobMessage) -> None:
    assert QUEUE_MESSAGE.validate_json(message.body()) == message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"job_id": "j", "request": {"samples": []}}', JobMessage),
        ('{"job_id": "j", "request_key": "k"}', JobMessage),
        ('{"job_id": "j", "shard": 0}', ShardMessage),
        ('{"job_id": "j", "compare": "b"}', CompareMessage),
    ],
)
def test_a_message_without_kind_is_named_by_its_keys(body: str, expected: type) -> None:
    assert isinstance(QUEUE_MESSAGE.validate_json(body), expected)


def test_a_compare_message_sent_before_kind_keeps_its_baseline() -> None:
    message = QUEUE_MESSAGE.validate_json('{"job_id": "j", "compare": "b"}')
    assert isinstance(message, CompareMessage)
    assert message.baseline == "b"


@pytest.mark.parametrize(
    "body",
    [
        '{"kind": "audit", "job_id": "j"}',  # a kind nobody handles
        '{"kind": "job", "job_id": "j"}',  # neither request nor request_key
        '{"kind": "job", "job_id": "j", "request": {}, "request_key": "k"}',  # both
        '{"kind": "shard", "job_id": "j", "shard": "0"}',  # a string where a number goes
        '{"kind": "shard", "job_id": "j", "shard": -1}',
        '{"kind": "shard", "job_id": "j", "shard": 0, "extra": 1}',
        '{"kind": "compare", "job_id": ""}',
        "[1, 2]",
    ],
)
def test_a_message_that_is_none_of_them_is_refused(body: str) -> None:
    with pytest.raises(ValidationError):
        QUEUE_MESSAGE.validate_json(body)
