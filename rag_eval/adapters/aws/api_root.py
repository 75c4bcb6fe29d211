"""The composition root of the API and list functions: the job service on AWS.

Kept apart from the worker's root so that nothing of the scoring path is on their imports.
"""

from __future__ import annotations

from aws_lambda_powertools import Metrics

from rag_eval.adapters.aws.events import SsmWebhookSecrets, api_job_index
from rag_eval.adapters.aws.labels import S3LabelStore
from rag_eval.adapters.aws.metrics import CloudWatchJobMetrics
from rag_eval.adapters.aws.s3 import S3ObjectStore
from rag_eval.adapters.aws.sqs import SqsJobQueue
from rag_eval.adapters.aws.suites import DynamoSuiteRepository
from rag_eval.adapters.aws.verdicts import DynamoVerdictStore
from rag_eval.app.jobs import JobService
from rag_eval.app.labels import LabelService
from rag_eval.app.suites import SuiteService
from rag_eval.domain.settings import Settings


def job_service(settings: Settings, metrics: Metrics | None = None) -> JobService:
    """The service on the template's tables, queue and bucket; what it counts goes to
    `metrics` (the handler's, which writes them once per invocation)."""
    store = S3ObjectStore(settings.artifacts_bucket)
    return JobService(
        settings,
        api_job_index(settings),
        SqsJobQueue(settings.queue_url),
        store,
        CloudWatchJobMetrics(metrics) if metrics is not None else None,
        verdicts=(
            DynamoVerdictStore(settings.cache_table, store, settings.cache_ttl_days)
            if settings.cache_table
            else None
        ),
    )


def label_service(settings: Settings, jobs: JobService) -> LabelService:
    """People's labels of the jobs of `jobs` (whose callers own them), on the job bucket."""
    return LabelService(
        jobs,
        S3ObjectStore(settings.artifacts_bucket),
        S3LabelStore(settings.artifacts_bucket),
        SqsJobQueue(settings.queue_url),
    )


def suite_service(settings: Settings) -> SuiteService:
    """The caller's suites and their runs, on the template's jobs table."""
    return SuiteService(DynamoSuiteRepository(settings.jobs_table))


def webhook_secrets(settings: Settings) -> SsmWebhookSecrets:
    """The callers' webhook signing secrets (GET /webhook-secret), kept in SSM."""
    return SsmWebhookSecrets(settings.webhook_secret_prefix)
