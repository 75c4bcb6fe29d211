"""Worker function: plan the jobs and score the shards in an SQS batch (the score queue's
and the shard queue's messages), reporting failed records only.

Powertools' batch processor parses each record's body into a queue message (the tagged
union of `rag_eval.domain.messages`); one that is not one fails its record, which the queue
retries and then keeps in the dead-letter queue.

A record that raises goes back to its queue (partial batch response) and, after the
queue's last receive, to the dead-letter queue; by then its job or shard is recorded as
failed or unscored. A delivery that died outright (a timeout, out of memory) recorded
nothing: the worker consumes the dead-letter queue too, and a record from it (its
eventSourceARN names SCORE_DLQ_URL's queue) closes that work without trying it again, so
no job is left running.
"""

from functools import cache
from typing import Any

from aws_lambda_powertools import Tracer
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Json

from rag_eval.adapters.aws.metrics import handler_metrics
from rag_eval.adapters.aws.observability import handler_logger
from rag_eval.adapters.aws.worker_root import job_processor
from rag_eval.app.delivery import from_queue
from rag_eval.app.processing import JobProcessor
from rag_eval.domain.messages import QueueMessage
from rag_eval.domain.settings import Settings

logger = handler_logger()
tracer = Tracer()
metrics = handler_metrics()


class QueueRecord(SqsRecordModel):
    body: Json[QueueMessage]  # the record's body, parsed


# A batch whose records all failed is still a partial response: the queue retries exactly
# those records, the same as when only some fail.
batch = BatchProcessor(
    event_type=EventType.SQS, model=QueueRecord, raise_on_entire_batch_failure=False
)


@cache
def settings() -> Settings:
    return Settings.from_env()


@cache
def processor() -> JobProcessor:
    return job_processor(settings(), metrics)


@tracer.capture_method
def record_handler(record: QueueRecord, lambda_context: LambdaContext) -> str:
    receive_count = int(record.attributes.ApproximateReceiveCount or 1)
    seconds_left = lambda_context.get_remaining_time_in_millis() / 1000
    dead_letter = from_queue(record.eventSourceARN, settings().dlq_url)
    outcome = processor().process(record.body, receive_count, seconds_left, dead_letter)
    logger.info("record processed", message_id=record.messageId, outcome=outcome.value)
    return outcome


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=batch, context=context
    )
