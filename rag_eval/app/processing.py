"""The worker's job: queue messages -> planned, sharded, scored and fanned-in jobs (and
comparisons of two runs), safely under at-least-once delivery and concurrent copies.

A job's message (score queue) is planned under the job's lease: its samples are read,
validated and cut into shards, one message each to the shard queue; a job of one shard is
scored right away. A shard is scored under its own lease (two copies at once score it
once), its results stored before it is counted, and counted once (a conditional update).
Whoever counts the last shard writes the run folder (the fan-in). Every status write is
conditional: a late or duplicate message never redoes a job nor moves a status back. A
fault of ours raises (SQS retries the record); on the last delivery a shard is stored
unscored (`worker_error`), a planning or fan-in fails the job. ragas loads on first use.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from pydantic import ValidationError

from rag_eval.app.comparing import write_comparison
from rag_eval.app.delivery import (
    FINISH_MARGIN_SECONDS,
    Delivery,
    hold_lease,
    message_request,
    parse_message,
)
from rag_eval.app.live import JobBudget, progress_reporter
from rag_eval.app.planning import Planner
from rag_eval.app.ports import JobMetrics, JobQueue, NoMetrics, ObjectStore, WorkerRepository
from rag_eval.app.work_files import Plan, WorkFiles
from rag_eval.domain.budget import budget_limits
from rag_eval.domain.errors import DatasetInvalid, JobTimeout, MalformedMessage, ShardBusy
from rag_eval.domain.job import JobStatus, iso, utc_now
from rag_eval.domain.log_context import job_context
from rag_eval.domain.messages import CompareMessage, JobMessage, ShardMessage
from rag_eval.domain.request import DatasetJob, Sample, ScoreOptions, ScoreRequest
from rag_eval.domain.results import ShardResult, lost_to_worker_errors
from rag_eval.domain.settings import Settings
from rag_eval.domain.states import FINAL_STATES, JobState
from rag_eval.domain.verdicts import VerdictStore
from rag_eval.judges.preflight import judge_failure, judge_unreachable

if TYPE_CHECKING:  # the pipeline loads ragas: imported on first use only
    from rag_eval.app.pipeline import ScoringPipeline

logger = logging.getLogger(__name__)


def _default_pipeline(
    settings: Settings, store: ObjectStore, verdicts: VerdictStore | None
) -> ScoringPipeline:
    from rag_eval.app.pipeline import ScoringPipeline

    return ScoringPipeline(settings, store, verdicts)


class JobProcessor:
    def __init__(
        self,
        settings: Settings,
        repository: WorkerRepository,
        store: ObjectStore,
        shard_queue: JobQueue,
        pipeline_factory: Callable[
            [Settings, ObjectStore, VerdictStore | None], ScoringPipeline
        ] = _default_pipeline,
        preflight: Callable[[Settings, list[str]], str | None] = judge_unreachable,
        progress_interval_seconds: float = 2.0,
        clock: Callable[[], float] = time.time,
        metrics: JobMetrics | None = None,
        verdicts: VerdictStore | None = None,
    ) -> None:
        self._settings = settings
        self._verdicts = verdicts
        self._repository = repository
        self._store = store
        self._files = WorkFiles(store)
        self._shard_queue = shard_queue
        self._pipeline_factory = pipeline_factory
        self._preflight = preflight
        self._pipeline: ScoringPipeline | None = None
        self._progress_interval = progress_interval_seconds
        self._clock = clock
        self._metrics = metrics or NoMetrics()
        self._plans: dict[str, Plan] = {}  # warm invocations reuse a job's plan

    def process(self, body: str, receive_count: int = 1, seconds_left: float | None = None) -> str:
        """Handle one message; returns what happened (for logs and tests).

        `seconds_left`: the invocation's remaining time. Scoring that would outlive it is
        stopped while the worker still can: a Lambda timeout would kill the process and
        leave nothing stored, and a retry would time out again.
        """
        message = parse_message(body)
        job_id = message.job_id
        with job_context(job_id):
            if isinstance(message, CompareMessage):
                return write_comparison(self._repository, self._store, job_id, message.baseline)
            last = receive_count >= self._settings.max_receive_count
            delivery = Delivery(receive_count, seconds_left, last)
            if isinstance(message, ShardMessage):
                return self._shard(job_id, message.shard, delivery)
            return self._plan(job_id, message, delivery)

    # -- planning ---------------------------------------------------------------------------

    def _plan(self, job_id: str, message: JobMessage, delivery: Delivery) -> str:
        job = self._active_job(job_id)
        if isinstance(job, str):
            return job
        token = uuid.uuid4().hex
        outcome = ""
        try:
            try:
                request = message_request(message, self._store)
            except ValidationError as exc:
                # Validated at submission: failing now is a changed contract, no retry fixes it.
                self._fail(job_id, f"RequestInvalid: {exc}")
                logger.error("job failed: its request no longer validates")
                return JobState.FAILED
            # The job's lease: two copies of its message at once plan (and score) it once.
            running = hold_lease(
                lambda: self._repository.start(
                    job_id,
                    iso(utc_now()),
                    token,
                    self._clock(),
                    delivery.lease_seconds(self._settings),
                ),
                delivery,
            )
            if running is None:
                if self._active_job(job_id) == "duplicate":
                    return "duplicate"  # finished or cancelled meanwhile
                raise ShardBusy("the job is being planned by another delivery")
            outcome = self._planned(running, request, delivery)
            return outcome
        except Exception as exc:
            if delivery.last and not isinstance(exc, ShardBusy):
                self._fail(job_id, f"{type(exc).__name__}: {exc}")
                logger.exception("planning failed on its last delivery")
            else:
                logger.exception(
                    "planning failed; the queue will retry it",
                    extra={"receive_count": delivery.receive_count},
                )
            raise
        finally:
            if outcome not in FINAL_STATES:  # an ended job needs no lease given back
                self._repository.release_job(job_id, token)

    def _planned(
        self, running: JobStatus, request: ScoreRequest | DatasetJob, delivery: Delivery
    ) -> str:
        job_id = running.job_id
        clock = time.monotonic()
        try:
            planned = Planner(self._settings, self._store).plan(running, request)
        except DatasetInvalid as exc:
            problem = exc.problems[0]
            self._fail(job_id, f"DatasetInvalid: {problem['field']}: {problem['message']}")
            logger.error("job failed: its dataset cannot be read")
            return JobState.FAILED
        logger.info(
            "job planned",
            extra={
                "samples": planned.plan.sample_count,
                "invalid_rows": planned.invalid_rows,
                "shards": planned.plan.shards_total,
                "receive_count": delivery.receive_count,
                "planning_ms": int((time.monotonic() - clock) * 1000),
            },
        )
        single = planned.first_shard is not None
        if single and isinstance(request, ScoreRequest):
            # Its counts were known at submission and the fan-in writes the rest: one write
            # fewer for a small job.
            recorded: JobStatus | None = planned.job
        else:
            recorded = self._repository.record_plan(
                planned.job.model_copy(update={"updated_at": iso(utc_now())}),
                list(planned.plan.options.metrics),
            )
        if recorded is None:
            return "cancelled"  # cancelled while planning: nothing is scored
        failure = planned.failure or self._judge_failure(planned.plan.options)
        if failure:
            self._fail(job_id, failure)
            return JobState.FAILED
        self._plans[job_id] = planned.plan
        if single:  # one shard: scored here under the job's lease, no second hop
            first = planned.first_shard
            result = self._score_or_give_up(recorded, planned.plan, 0, first, delivery)
            return self._fan_in(recorded, planned.plan, {0: (first, result)}, delivery)
        shards = range(planned.plan.shards_total)
        self._shard_queue.send_batch([ShardMessage(job_id=job_id, shard=i).body() for i in shards])
        return "planned"

    # -- shards -----------------------------------------------------------------------------

    def _shard(self, job_id: str, index: int, delivery: Delivery) -> str:
        job = self._active_job(job_id, cancelled_too=True)
        if isinstance(job, str):
            return job
        plan = self._plans.get(job_id) or self._files.plan(job_id)
        self._plans[job_id] = plan
        if not 0 <= index < plan.shards_total:
            raise MalformedMessage(f"shard {index} is not one of the job's {plan.shards_total}")
        return self._run_shard(job, plan, index, delivery)

    def _run_shard(self, job: JobStatus, plan: Plan, index: int, delivery: Delivery) -> str:
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
                result = self._score_or_give_up(job, plan, index, None, delivery)
                self._files.put_result(job.job_id, index, result)
            counted = self._repository.count_shard(
                job.job_id, index, result.tally(), iso(utc_now())
            )
            now = counted or self._current(job.job_id)
            logger.info(
                "shard counted" if counted else "shard was counted before",
                extra={
                    "shard": index,
                    "shards_done": now.progress.shards_done,
                    "shards_total": plan.shards_total,
                },
            )
            if now.progress.shards_done < plan.shards_total or not now.awaits_fan_in:
                return "shard_done"
            return self._fan_in(now, plan, {index: (None, result)}, delivery)
        finally:
            self._repository.release_shard(job.job_id, index, token)

    def _score_or_give_up(
        self,
        job: JobStatus,
        plan: Plan,
        index: int,
        samples: list[Sample] | None,
        delivery: Delivery,
    ) -> ShardResult:
        samples = samples if samples is not None else self._files.shard(job.job_id, index)
        ids = [s.sample_id or "" for s in samples]
        if job.status is JobState.CANCELLED:
            return ShardResult.unscored(
                ids, plan.options.metrics, "cancelled", "the job was cancelled first"
            )
        try:
            scored = asyncio.run(self._score(job.job_id, plan, samples, delivery))
            self._metrics.shard_scored(scored)
            return scored
        except JobTimeout as exc:
            # A retry would run out of time again: the shard ends here, unscored.
            logger.error("shard stopped at the worker's time limit", extra={"shard": index})
            return ShardResult.unscored(
                ids, plan.options.metrics, "worker_error", f"JobTimeout: {exc}"
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
                ids, plan.options.metrics, "worker_error", f"{type(exc).__name__}: {exc}"[:300]
            )

    async def _score(
        self, job_id: str, plan: Plan, samples: list[Sample], delivery: Delivery
    ) -> ShardResult:
        run = self._pipeline_for().score_shard(
            plan.options,
            samples,
            plan.skipped,
            progress_reporter(self._repository, job_id, self._progress_interval),
            self._budget(plan),
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

    # -- fan-in -----------------------------------------------------------------------------

    def _fan_in(
        self,
        job: JobStatus,
        plan: Plan,
        known: dict[int, tuple[list[Sample] | None, ShardResult]],
        delivery: Delivery,
    ) -> str:
        clock = time.monotonic()
        try:
            samples, scored = self._files.gather(plan, known)
            lost = lost_to_worker_errors(scored.results)
            if lost is not None:
                # Not one sample scored, for our fault alone: a failure, not a result.
                self._fail(job.job_id, lost)
                logger.error("job failed: every shard failed")
                return JobState.FAILED
            final = asyncio.run(
                self._pipeline_for().fan_in(job, plan, samples, scored, self._budget(plan))
            )
        except Exception as exc:
            if delivery.last:
                self._fail(job.job_id, f"{type(exc).__name__}: {exc}")
                logger.exception("fan-in failed on its last delivery")
            raise
        if not self._repository.finish(final):
            current = self._current(job.job_id)
            if not (current.status is JobState.CANCELLED and current.run_id is None):
                return "duplicate"  # another copy's fan-in finished first
            # Cancelled while its last samples were scored: it keeps them, all of them.
            final = final.model_copy(
                update={"status": JobState.CANCELLED, "finished_at": current.finished_at}
            )
            if not self._repository.finish(final):
                return "duplicate"
        self._metrics.judge_used(final.token_usage.minus(scored.usage))  # the narrative's
        if final.status is not JobState.CANCELLED:  # a cancel was counted when it was asked
            completed = final.status is JobState.COMPLETED
            self._metrics.job_ended(final.status, final.latency_ms if completed else None)
        logger.info(
            {
                JobState.COMPLETED: "job completed",
                JobState.FAILED: "job failed: nothing scored",
            }.get(final.status, "cancelled job's results kept"),
            extra={
                "run_id": final.run_id,
                "latency_ms": final.latency_ms,
                "weighted_score": final.weighted_score,
                "samples": len(scored.results),
                "fan_in_ms": int((time.monotonic() - clock) * 1000),
            },
        )
        return final.status.value

    # -- helpers ----------------------------------------------------------------------------

    def _active_job(self, job_id: str, cancelled_too: bool = False) -> JobStatus | str:
        found = self._repository.get(job_id)
        if found is None:
            # Jobs are recorded before they are queued, so this job never existed or
            # has expired: nothing to do, and retrying would not change that.
            logger.warning("message for unknown job dropped")
            return "unknown_job"
        job = found[0]
        if job.status in (JobState.QUEUED, JobState.RUNNING):
            return job
        if cancelled_too and job.awaits_fan_in:
            return job  # its remaining shards are counted unscored, then its results kept
        logger.info("delivery for an ended job ignored", extra={"status": job.status.value})
        return "duplicate"

    def _current(self, job_id: str) -> JobStatus:
        found = self._repository.get(job_id)
        if found is None:
            raise RuntimeError("the job disappeared while its shard was scored")
        return found[0]

    def _judge_failure(self, options: ScoreOptions) -> str | None:
        """A judge that cannot answer at all fails the job before any sample is scored."""
        return judge_failure(options, self._settings, self._preflight)

    def _fail(self, job_id: str, error: str) -> None:
        if self._repository.mark_failed(job_id, error[:1000], iso(utc_now())):
            self._metrics.job_ended(JobState.FAILED, None)

    def _budget(self, plan: Plan) -> JobBudget | None:
        limits = budget_limits(plan.options, self._settings)
        return JobBudget(self._repository, plan.job_id, limits) if limits.any else None

    def _pipeline_for(self) -> ScoringPipeline:
        if self._pipeline is None:
            self._pipeline = self._pipeline_factory(self._settings, self._store, self._verdicts)
        return self._pipeline
