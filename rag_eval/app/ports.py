"""The ports of the use cases: what they need from storage and queues, as Protocols.

`rag_eval.adapters` implements them on DynamoDB, SQS and S3 (and a folder); the unit tests
hand in small in-memory fakes with the same methods.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from rag_eval.domain.budget import BudgetLimits
from rag_eval.domain.events import JobEvent
from rag_eval.domain.job import JobStatus
from rag_eval.domain.labels import HumanLabel
from rag_eval.domain.results import ShardResult, ShardTally, TokenUsage
from rag_eval.domain.states import JobState
from rag_eval.domain.suites import SuiteSummary
from rag_eval.domain.trust import MetricTrust


class JobRepository(Protocol):
    """The job index as the API and list functions use it."""

    def create(self, job: JobStatus, request_hash: str, expires_at: int) -> None:
        """Record a new job; JobExists when its id is taken."""

    def get(self, job_id: str) -> tuple[JobStatus, str] | None:
        """The job and the hash of its request, or None."""

    def mark_queued(self, job_id: str, now: str) -> None:
        """Record that the job's message was sent (only while it is still `queued`)."""

    def discard(self, job_id: str) -> None:
        """Delete a job that never left `queued` (it could not be queued)."""

    def list(
        self, owner: str, limit: int, cursor: str | None, status: str | None
    ) -> tuple[list[JobStatus], str | None]:
        """A page of the owner's jobs, newest first, and the cursor of the next page."""

    def cancel(self, job_id: str, now: str) -> bool:
        """queued|running -> cancelled; False when the job had ended already."""

    def request_comparison(self, job_id: str, request: str) -> bool:
        """Record that a comparison was asked of the worker (`request`: the baseline and a
        time window); False when it was recorded before, and need not be asked again."""


class JobReader(Protocol):
    def get(self, job_id: str) -> tuple[JobStatus, str] | None:
        """The job and the hash of its request, or None."""


class SuiteReader(Protocol):
    """A suite's earlier runs, as the drift test reads them."""

    def completed_runs(self, owner: str, suite: str, before: str, count: int) -> list[JobStatus]:
        """Up to `count` completed runs of the owner's suite created before `before`,
        newest first."""


class SuiteRepository(Protocol):
    """The owner's suites and their runs, as the list function reads them."""

    def suites(
        self, owner: str, limit: int, cursor: str | None
    ) -> tuple[list[SuiteSummary], str | None]:
        """A page of the owner's suites, most recently run first, and the next cursor."""

    def runs(
        self, owner: str, suite: str, limit: int, cursor: str | None
    ) -> tuple[list[JobStatus], JobStatus | None, str | None]:
        """A page of the suite's runs, newest first; the run before the page's last one
        (None: none); and the next cursor."""


class JobEnder(JobReader, Protocol):
    """What every step of the worker needs of the job index: read the job, fail it."""

    def mark_failed(self, job_id: str, error: str, finished_at: str) -> bool:
        """queued|running -> failed; False when the job is already final."""


class BudgetCounters(Protocol):
    """A job's judge budget on its record, shared by its shards."""

    def reserve_judge_call(self, job_id: str, limits: BudgetLimits) -> bool:
        """Count one judge call of the job, unless its calls or dollars reached a limit."""

    def add_judge_spend(self, job_id: str, usd: float) -> None: ...

    def judge_spend(self, job_id: str) -> tuple[int, float]:
        """The judge calls counted and the dollars spent so far."""


class PlanRepository(JobEnder, Protocol):
    """The job index as planning moves a job along. Every write is conditional."""

    def start(
        self, job_id: str, now: str, token: str, epoch: float, lease: float
    ) -> JobStatus | None:
        """queued|running -> running under the job's lease for `lease` seconds; None when
        the job has ended or another delivery holds its lease."""

    def release_job(self, job_id: str, token: str) -> None: ...

    def record_plan(self, job: JobStatus, metrics: list[str]) -> JobStatus | None:
        """Planning's counts and summary, only while running; None otherwise."""


class ShardRepository(JobEnder, BudgetCounters, Protocol):
    """The job index as a shard is scored and counted."""

    def add_metric_calls(self, job_id: str, calls: int, now: str) -> None:
        """Live progress inside a shard (only while running)."""

    def claim_shard(self, job_id: str, shard: int, token: str, now: float, lease: float) -> bool:
        """The shard's lease for `lease` seconds; False while another delivery holds it."""

    def release_shard(self, job_id: str, shard: int, token: str) -> None: ...

    def count_shard(self, job_id: str, shard: int, tally: ShardTally, now: str) -> JobStatus | None:
        """Count a shard once (running or cancelled jobs); None when counted before."""


class FanInRepository(JobEnder, BudgetCounters, Protocol):
    def finish(self, job: JobStatus) -> bool:
        """Fan-in: running -> completed, or a cancelled job's partial results."""


class TrustRepository(JobReader, Protocol):
    def record_trust(
        self, job: JobStatus, corrected: dict[str, MetricTrust], trust_key: str, as_of: str
    ) -> bool:
        """Labels set against the judge: the job's `corrected` and judge-trust.json's key,
        unless figures from later labels (`as_of`) were recorded first (False then)."""


class WorkerRepository(PlanRepository, ShardRepository, FanInRepository, TrustRepository, Protocol):
    """The job index as the worker moves a job along: every step's port."""


class JobQueue(Protocol):
    def send(self, body: str) -> None: ...

    def send_batch(self, bodies: list[str]) -> None:
        """Send every body (in as few calls as the queue allows); raises if one fails."""


class DelayedQueue(Protocol):
    def send_later(self, body: str, delay_seconds: int) -> None:
        """Send `body`, received no sooner than `delay_seconds` from now (at most 900)."""


class EventOutbox(Protocol):
    """Each (job, status) event's marker on the job's item (`rag_eval.app.announce`): who
    publishes it, and whether it was published."""

    def claim(self, job_id: str, status: JobState, now: float, lease: float) -> bool:
        """The event is this caller's to publish: unclaimed, or claimed more than `lease`
        seconds before `now` and never sent. False otherwise."""

    def mark_sent(self, job_id: str, status: JobState) -> None: ...

    def release(self, job_id: str, status: JobState, claimed: float) -> None:
        """Give back the claim made at `claimed` (publishing failed): the next may claim."""


class EventBus(Protocol):
    def publish(self, event: JobEvent) -> None:
        """Put the event on the bus; raises when it was not taken."""


class WebhookSecrets(Protocol):
    """Each caller's webhook signing secret (SSM Parameter Store on AWS)."""

    def secret(self, owner: str) -> str | None:
        """The owner's secret, or None when none was made yet."""

    def issue(self, owner: str) -> str:
        """The owner's secret, made on the first call."""


class WebhookSender(Protocol):
    def check(self, url: str) -> None:
        """Raise WebhookRefused when the service may not call `url` (why, what may be)."""

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        """POST to `url`, checked again and pinned to the checked address; the answer's
        status. OSError when it could not be reached or timed out."""


class ObjectStore(Protocol):
    def put(self, key: str, body: bytes, content_type: str) -> None: ...

    def get(self, key: str) -> bytes: ...

    def presign(self, key: str, expires_in: int) -> str: ...

    def find(self, key: str) -> bytes | None:
        """The object, or None when there is none."""

    def lines(self, key: str) -> Iterator[bytes]:
        """The object's lines, streamed (a dataset may be larger than memory)."""

    def get_range(self, key: str, start: int, length: int) -> bytes:
        """`length` bytes of the object from byte `start`: one line of a large file."""

    def size(self, key: str) -> int | None:
        """The object's size in bytes, or None when there is none."""


class UploadStore(ObjectStore, Protocol):
    """The bucket as the API uses it: an `ObjectStore` that also takes browser uploads (a
    folder, `rag-eval score`'s store, cannot)."""

    def presign_post(self, key: str, max_bytes: int, expires_in: int) -> dict[str, object]:
        """A browser-style POST upload to `key`, its size capped by the policy:
        {"url", "fields"}."""


class LabelStore(Protocol):
    """People's labels of a job's run: one record per (sample, metric, labeler), so that a
    label given again replaces the one before (`rag_eval.domain.layout.label_name`)."""

    def put_labels(self, job_id: str, labels: list[HumanLabel]) -> None:
        """Store each label, replacing the one of its (sample, metric, labeler)."""

    def labels(
        self, job_id: str, limit: int, after: str | None
    ) -> tuple[list[HumanLabel], str | None]:
        """Up to `limit` labels of the job in the store's order (the same on every call),
        from the one after `after`; and where the next page starts (None: no more)."""

    def names(self, job_id: str) -> list[str]:
        """The names of every label of the job (`rag_eval.domain.layout.label_name`),
        without reading one: which samples are labelled on which metric."""


class JobMetrics(Protocol):
    """What operators count (CloudWatch metrics on AWS): each event once, where it happens,
    i.e. where its conditional write succeeded, never on a duplicate delivery."""

    def job_submitted(self, samples: int) -> None: ...

    def job_ended(self, state: JobState, latency_ms: int | None) -> None:
        """A job reached `state` (completed, failed or cancelled)."""

    def shard_scored(self, result: ShardResult) -> None:
        """Samples scored, judge calls, 429s, tokens and metric latencies of one scoring."""

    def judge_used(self, usage: TokenUsage) -> None:
        """Judge calls, 429s and tokens outside scoring (the advice's narrative)."""


class NoMetrics:
    """JobMetrics that counts nothing: the command line and the unit tests."""

    def job_submitted(self, samples: int) -> None:
        pass

    def job_ended(self, state: JobState, latency_ms: int | None) -> None:
        pass

    def shard_scored(self, result: ShardResult) -> None:
        pass

    def judge_used(self, usage: TokenUsage) -> None:
        pass
