"""Plan a job: its samples read, validated and cut into shards under the job's lease (two
copies of its message at once plan it once), one message each to the shard queue. A job
of one shard is scored right away, in the same invocation. A request that no longer
validates, or a dataset that cannot be read, fails the job (no retry would fix it); any
other fault raises for the queue to retry, and fails the job on its last delivery; from the
dead-letter queue (every delivery died), the job is failed without planning it again.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable

from pydantic import ValidationError

from rag_eval.app.delivery import Delivery, hold_lease
from rag_eval.app.fan_in import FanIn
from rag_eval.app.job_record import JobRecord, Outcome
from rag_eval.app.planning import Planned, Planner
from rag_eval.app.ports import JobMetrics, JobQueue, ObjectStore, PlanRepository
from rag_eval.app.score_shard import ScoreShard
from rag_eval.app.work_files import ScoredShard, WorkFiles
from rag_eval.domain.errors import DatasetInvalid, ShardBusy
from rag_eval.domain.job import JobStatus, iso, utc_now
from rag_eval.domain.messages import JobMessage, ShardMessage
from rag_eval.domain.request import DatasetJob, ScoreRequest
from rag_eval.domain.settings import Settings
from rag_eval.judges.preflight import judge_failure

logger = logging.getLogger(__name__)


class PlanJob:
    def __init__(
        self,
        settings: Settings,
        repository: PlanRepository,
        store: ObjectStore,
        files: WorkFiles,
        shard_queue: JobQueue,
        score: ScoreShard,
        fan_in: FanIn,
        metrics: JobMetrics,
        preflight: Callable[[Settings, list[str]], str | None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._repository = repository
        self._store = store
        self._files = files
        self._shard_queue = shard_queue
        self._score = score
        self._fan_in = fan_in
        self._preflight = preflight
        self._clock = clock
        self._record = JobRecord(repository, metrics)

    def handle(self, message: JobMessage, delivery: Delivery) -> Outcome:
        job_id = message.job_id
        job = self._record.active(job_id)
        if isinstance(job, Outcome):
            return job
        if delivery.dead:
            self._record.fail(
                job_id,
                "WorkerDied: planning failed every delivery without recording why; the "
                "process died (e.g. a timeout or out of memory)",
            )
            logger.error("planning failed every delivery: the job is failed")
            return Outcome.FAILED
        token = uuid.uuid4().hex
        outcome: Outcome | None = None
        try:
            try:
                request = self._request(message)
            except ValidationError as exc:
                # Validated at submission: failing now is a changed contract, no retry fixes it.
                self._record.fail(job_id, f"RequestInvalid: {exc}")
                logger.error("job failed: its request no longer validates")
                return Outcome.FAILED
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
                if self._record.active(job_id) is Outcome.DUPLICATE:
                    return Outcome.DUPLICATE  # finished or cancelled meanwhile
                raise ShardBusy("the job is being planned by another delivery")
            outcome = self._planned(running, request, delivery)
            return outcome
        except Exception as exc:
            if delivery.last and not isinstance(exc, ShardBusy):
                self._record.fail(job_id, f"{type(exc).__name__}: {exc}")
                logger.exception("planning failed on its last delivery")
            else:
                logger.exception(
                    "planning failed; the queue will retry it",
                    extra={"receive_count": delivery.receive_count},
                )
            raise
        finally:
            if outcome not in _ENDED:  # an ended job needs no lease given back
                self._repository.release_job(job_id, token)

    def _request(self, message: JobMessage) -> ScoreRequest | DatasetJob:
        """The request, in the message or parked in the bucket (a large one)."""
        raw = (
            message.request
            if message.request is not None
            else json.loads(self._store.get(message.request_key or ""))
        )
        if isinstance(raw, dict) and "dataset" in raw:
            return DatasetJob.model_validate(raw)
        return ScoreRequest.model_validate(raw)

    def _planned(
        self, running: JobStatus, request: ScoreRequest | DatasetJob, delivery: Delivery
    ) -> Outcome:
        job_id = running.job_id
        clock = time.monotonic()
        try:
            planned = Planner(self._settings, self._store).plan(running, request)
        except DatasetInvalid as exc:
            problem = exc.problems[0]
            self._record.fail(job_id, f"DatasetInvalid: {problem['field']}: {problem['message']}")
            logger.error("job failed: its dataset cannot be read")
            return Outcome.FAILED
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
        recorded = self._record_plan(planned, request)
        if recorded is None:
            return Outcome.CANCELLED  # cancelled while planning: nothing is scored
        failure = planned.failure or judge_failure(
            planned.plan.options, self._settings, self._preflight
        )
        if failure:
            self._record.fail(job_id, failure)
            return Outcome.FAILED
        self._files.remember(planned.plan)
        first = planned.first_shard
        if first is not None:  # one shard: scored here under the job's lease, no second hop
            result = self._score.score(recorded, planned.plan, 0, first, delivery)
            return self._fan_in.run(recorded, planned.plan, ScoredShard(0, result, first), delivery)
        self._shard_queue.send_batch(
            [ShardMessage(job_id=job_id, shard=i).body() for i in range(planned.plan.shards_total)]
        )
        return Outcome.PLANNED

    def _record_plan(
        self, planned: Planned, request: ScoreRequest | DatasetJob
    ) -> JobStatus | None:
        """The job with its plan recorded; None when it was cancelled meanwhile."""
        if planned.first_shard is not None and isinstance(request, ScoreRequest):
            # Its counts were known at submission and the fan-in writes the rest: one write
            # fewer for a small job.
            return planned.job
        return self._repository.record_plan(
            planned.job.model_copy(update={"updated_at": iso(utc_now())}),
            list(planned.plan.options.metrics),
        )


# Outcomes that end the job: its lease is not given back (the job item says it ended).
_ENDED = frozenset({Outcome.COMPLETED, Outcome.FAILED, Outcome.CANCELLED})
