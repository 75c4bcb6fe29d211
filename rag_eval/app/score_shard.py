"""Score one shard of a planned job, under the shard's own lease (two copies at once score
it once). Its result is stored before it is counted, and counted once (a conditional
update); whoever counts the last shard fans in. A fault of ours raises (the queue retries
the message); on its last delivery, or from the dead-letter queue (every delivery died,
not tried again), the shard is stored unscored (`worker_error`). Scoring
that would outlive the invocation is stopped while the worker still can, and the shard
ends unscored: a retry would run out of time again.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from rag_eval.app.delivery import FINISH_MARGIN_SECONDS, Delivery, hold_lease
from rag_eval.app.fan_in import FanIn
from rag_eval.app.job_record import JobRecord, Outcome
from rag_eval.app.live import job_budget, progress_reporter
from rag_eval.app.ports import JobMetrics, ShardRepository
from rag_eval.app.work_files import Plan, ScoredShard, WorkFiles
from rag_eval.domain.errors import JobTimeout, MalformedMessage, ShardBusy
from rag_eval.domain.job import JobStatus, iso, utc_now
from rag_eval.domain.messages import ShardMessage
from rag_eval.domain.results import ReasonCode, ShardResult
from rag_eval.domain.sample import Sample
from rag_eval.domain.settings import Settings
from rag_eval.domain.states import JobState

if TYPE_CHECKING:  # the pipeline loads ragas: imported on first use only
    from rag_eval.app.pipeline import ScoringPipeline

logger = logging.getLogger(__name__)

DIED_EVERY_DELIVERY = (
    "WorkerDied: failed every delivery without recording why; the process died "
    "(e.g. a timeout or out of memory)"
)


class ScoreShard:
    def __init__(
        self,
        settings: Settings,
        repository: ShardRepository,
        files: WorkFiles,
        pipeline: Callable[[], ScoringPipeline],
        fan_in: FanIn,
        metrics: JobMetrics,
        clock: Callable[[], float] = time.time,
        progress_interval_seconds: float = 2.0,
    ) -> None:
        self._settings = settings
        self._repository = repository
        self._files = files
        self._pipeline = pipeline
        self._fan_in = fan_in
        self._metrics = metrics
        self._clock = clock
        self._progress_interval = progress_interval_seconds
        self._record = JobRecord(repository, metrics)

    def handle(self, message: ShardMessage, delivery: Delivery) -> Outcome:
        job = self._record.active(message.job_id, cancelled_too=True)
        if isinstance(job, Outcome):
            return job
        plan = self._files.plan(job.job_id)
        if message.shard >= plan.shards_total:
            raise MalformedMessage(
                f"shard {message.shard} is not one of the job's {plan.shards_total}"
            )
        return self._run(job, plan, message.shard, delivery)

    def _run(self, job: JobStatus, plan: Plan, index: int, delivery: Delivery) -> Outcome:
        token = uuid.uuid4().hex
        lease = delivery.lease_seconds(self._settings)
        claimed = hold_lease(
            lambda: self._repository.claim_shard(job.job_id, index, token, self._clock(), lease),
            delivery,
        )
        if not claimed:
            raise ShardBusy(f"shard {index} is being scored by another delivery")
        try:
            result = self._files.result(job.job_id, index)
            if result is None:
                result = self.score(job, plan, index, None, delivery)
                self._files.put_result(job.job_id, index, result)
            counted = self._repository.count_shard(
                job.job_id, index, result.tally(), iso(utc_now())
            )
            now = counted or self._record.current(job.job_id)
            logger.info(
                "shard counted" if counted else "shard was counted before",
                extra={
                    "shard": index,
                    "shards_done": now.progress.shards_done,
                    "shards_total": plan.shards_total,
                },
            )
            if now.progress.shards_done < plan.shards_total or not now.awaits_fan_in:
                return Outcome.SHARD_DONE
            return self._fan_in.run(now, plan, ScoredShard(index, result), delivery)
        finally:
            self._repository.release_shard(job.job_id, index, token)

    def score(
        self,
        job: JobStatus,
        plan: Plan,
        index: int,
        samples: list[Sample] | None,
        delivery: Delivery,
    ) -> ShardResult:
        """The shard's result, scored or, when that cannot be, its samples unscored with why
        (`samples`: when the worker has them in memory; else read from the work files)."""
        samples = samples if samples is not None else self._files.shard(job.job_id, index)
        ids = [s.sample_id or "" for s in samples]
        if job.status is JobState.CANCELLED:
            return ShardResult.unscored(
                ids, plan.options.metrics, ReasonCode.CANCELLED, "the job was cancelled first"
            )
        if delivery.dead:
            logger.error("shard failed every delivery: its samples stay unscored")
            return ShardResult.unscored(
                ids, plan.options.metrics, ReasonCode.WORKER_ERROR, DIED_EVERY_DELIVERY
            )
        try:
            scored = asyncio.run(self._scored(job.job_id, plan, samples, delivery))
            self._metrics.shard_scored(scored)
            return scored
        except JobTimeout as exc:
            logger.error("shard stopped at the worker's time limit", extra={"shard": index})
            return ShardResult.unscored(
                ids, plan.options.metrics, ReasonCode.WORKER_ERROR, f"JobTimeout: {exc}"
            )
        except Exception as exc:
            if not delivery.last:
                logger.exception(
                    "shard attempt failed; the queue will retry it",
                    extra={"shard": index, "receive_count": delivery.receive_count},
                )
                raise
            logger.exception("shard failed on its last delivery: its samples stay unscored")
            return ShardResult.unscored(
                ids,
                plan.options.metrics,
                ReasonCode.WORKER_ERROR,
                f"{type(exc).__name__}: {exc}"[:300],
            )

    async def _scored(
        self, job_id: str, plan: Plan, samples: list[Sample], delivery: Delivery
    ) -> ShardResult:
        run = self._pipeline().score_shard(
            plan.options,
            samples,
            plan.skipped,
            progress_reporter(self._repository, job_id, self._progress_interval),
            job_budget(self._repository, job_id, plan.options, self._settings),
        )
        if delivery.seconds_left is None:
            return await run
        budget = max(1.0, delivery.seconds_left - FINISH_MARGIN_SECONDS)
        try:
            return await asyncio.wait_for(run, timeout=budget)
        except TimeoutError:
            raise JobTimeout(
                f"scoring {len(samples)} sample(s) took longer than the worker's {budget:.0f} s; "
                "lower RAGAS_SHARD_SIZE or raise RAGAS_MAX_CONCURRENCY (and the judge's quota)"
            ) from None
