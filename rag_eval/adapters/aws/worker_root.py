"""The composition root of the worker function: the job processor on AWS."""

from __future__ import annotations

from aws_lambda_powertools import Metrics

from rag_eval.adapters.aws.dynamodb import DynamoJobRepository
from rag_eval.adapters.aws.labels import S3LabelStore
from rag_eval.adapters.aws.metrics import CloudWatchJobMetrics
from rag_eval.adapters.aws.s3 import S3ObjectStore
from rag_eval.adapters.aws.sqs import SqsJobQueue
from rag_eval.adapters.aws.ssm import resolve_secrets
from rag_eval.adapters.aws.verdicts import DynamoVerdictStore
from rag_eval.app.processing import JobProcessor
from rag_eval.domain.settings import Settings


def job_processor(settings: Settings, metrics: Metrics) -> JobProcessor:
    """The processor on the template's tables, bucket and shard queue, with the judge's key
    resolved; what it counts goes to `metrics` (the handler's)."""
    store = S3ObjectStore(settings.artifacts_bucket)
    return JobProcessor(
        resolve_secrets(settings),
        DynamoJobRepository(settings.jobs_table),
        store,
        SqsJobQueue(settings.shard_queue_url),
        metrics=CloudWatchJobMetrics(metrics),
        verdicts=(
            DynamoVerdictStore(settings.cache_table, store, settings.cache_ttl_days)
            if settings.cache_table
            else None
        ),
        labels=S3LabelStore(settings.artifacts_bucket),
    )
