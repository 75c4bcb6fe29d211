"""JobMetrics as CloudWatch metrics: Powertools' embedded metric format (EMF), one JSON
document per invocation on stdout, which CloudWatch Logs turns into metrics.

The namespace and the `service` dimension come from the template's Globals
(POWERTOOLS_METRICS_NAMESPACE, POWERTOOLS_SERVICE_NAME); the alarms in template.yaml use the
same names (tests/test_template.py holds them to these). Metric latency is one document per
metric name with that name as a dimension: a handful of names, never a job id.
"""

from __future__ import annotations

import warnings

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from rag_eval.domain.results import ShardResult, TokenUsage
from rag_eval.domain.states import JobState

JOBS_SUBMITTED = "JobsSubmitted"
JOBS_ENDED = {
    JobState.COMPLETED: "JobsCompleted",
    JobState.FAILED: "JobsFailed",
    JobState.CANCELLED: "JobsCancelled",
}
JOB_LATENCY = "JobLatency"
SAMPLES_SCORED = "SamplesScored"
JUDGE_CALLS = "JudgeCalls"
JUDGE_RATE_LIMITED = "JudgeRateLimited"
INPUT_TOKENS = "InputTokens"
OUTPUT_TOKENS = "OutputTokens"
METRIC_LATENCY = "MetricLatency"
# EMF takes at most 100 values of one metric in a document.
MAX_VALUES = 100


class CloudWatchJobMetrics:
    """Added to the invocation's document; the handler's `log_metrics` writes it."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def job_submitted(self, samples: int) -> None:
        self._metrics.add_metric(JOBS_SUBMITTED, MetricUnit.Count, 1)

    def job_ended(self, state: JobState, latency_ms: int | None) -> None:
        self._metrics.add_metric(JOBS_ENDED[state], MetricUnit.Count, 1)
        if latency_ms is not None:
            self._metrics.add_metric(JOB_LATENCY, MetricUnit.Milliseconds, latency_ms)

    def shard_scored(self, result: ShardResult) -> None:
        scored = sum(
            1 for sample in result.results if any(v is not None for v in sample.scores.values())
        )
        self._metrics.add_metric(SAMPLES_SCORED, MetricUnit.Count, scored)
        self.judge_used(result.usage)
        for metric, durations in result.metric_ms.items():
            for start in range(0, len(durations), MAX_VALUES):
                # Its own document, so that `metric` is a dimension of the latency only.
                document = EphemeralMetrics(
                    namespace=self._metrics.namespace, service=self._metrics.service
                )
                document.add_dimension("metric", metric)
                for duration in durations[start : start + MAX_VALUES]:
                    document.add_metric(METRIC_LATENCY, MetricUnit.Milliseconds, duration)
                document.flush_metrics()

    def judge_used(self, usage: TokenUsage) -> None:
        for name, value in (
            (JUDGE_CALLS, usage.requests),
            (JUDGE_RATE_LIMITED, usage.rate_limited),
            (INPUT_TOKENS, usage.input_tokens),
            (OUTPUT_TOKENS, usage.output_tokens),
        ):
            self._metrics.add_metric(name, MetricUnit.Count, value)


def handler_metrics() -> Metrics:
    """A handler's Metrics (namespace and service from the template's Globals). An
    invocation that counted nothing (a GET) writes no document, and says nothing of it."""
    warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)
    return Metrics()
