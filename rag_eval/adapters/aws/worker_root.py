"""The composition root of the worker function: the job processor on AWS."""

from __future__ import annotations

from aws_lambda_powertools import Metrics

from rag_eval.adapters.aws.dynamodb import DynamoJobRepository
from rag_eval.adapters.aws.events import SqsDelayedQueue, SsmWebhookSecrets, worker_job_index
from rag_eval.adapters.aws.labels import S3LabelStore
from rag_eval.adapters.aws.metrics import CloudWatchJobMetrics
from rag_eval.adapters.aws.s3 import S3ObjectStore
from rag_eval.adapters.aws.sqs import SqsJobQueue
from rag_eval.adapters.aws.ssm import resolve_secrets
from rag_eval.adapters.aws.suites import DynamoSuiteRepository
from rag_eval.adapters.aws.verdicts import DynamoVerdictStore
from rag_eval.adapters.webhook_target import WebhookClient
from rag_eval.app.processing import JobProcessor
from rag_eval.app.webhooks import DeliverWebhooks
from rag_eval.domain.settings import Settings


def job_processor(settings: Settings, metrics: Metrics) -> JobProcessor:
    """The processor on the template's tables, bucket and shard queue, with the judge's key
    resolved; what it counts goes to `metrics` (the handler's)."""
    store = S3ObjectStore(settings.artifacts_bucket)
    return JobProcessor(
        resolve_secrets(settings),
        worker_job_index(settings),
        store,
        SqsJobQueue(settings.shard_queue_url),
        metrics=CloudWatchJobMetrics(metrics),
        verdicts=(
            DynamoVerdictStore(settings.cache_table, store, settings.cache_ttl_days)
            if settings.cache_table
            else None
        ),
        labels=S3LabelStore(settings.artifacts_bucket),
        suites=DynamoSuiteRepository(settings.jobs_table),
        webhooks=webhook_delivery(settings),
    )


def webhook_delivery(settings: Settings) -> DeliverWebhooks:
    """Deliveries to the jobs' webhooks; a failed one is sent again to the score queue."""
    return DeliverWebhooks(
        DynamoJobRepository(settings.jobs_table),
        SsmWebhookSecrets(settings.webhook_secret_prefix),
        WebhookClient(settings.webhook_allow_loopback),
        SqsDelayedQueue(settings.queue_url),
        settings.webhook_retry_base_seconds,
    )
