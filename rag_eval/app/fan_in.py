"""Fan in: once every shard of a job is counted, whoever counted the last one writes the
run folder and ends the job. Its one input is that last shard (`ScoredShard`); the others
are read from the work files. Ending the job is a conditional write: when another copy of
the fan-in finished first, this one is a duplicate.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from rag_eval.app.canary import JudgeCanary
from rag_eval.app.delivery import Delivery
from rag_eval.app.job_record import JobRecord, Outcome, ended_as
from rag_eval.app.live import job_budget
from rag_eval.app.ports import FanInRepository, JobMetrics, SuiteReader
from rag_eval.app.suite_drift import with_suite_fields
from rag_eval.app.work_files import Plan, ScoredShard, WorkFiles
from rag_eval.domain.job import JobStatus
from rag_eval.domain.results import lost_to_worker_errors
from rag_eval.domain.settings import Settings
from rag_eval.domain.states import JobState

if TYPE_CHECKING:  # the pipeline loads ragas: imported on first use only
    from rag_eval.app.pipeline import ScoringPipeline

logger = logging.getLogger(__name__)


class FanIn:
    def __init__(
        self,
        settings: Settings,
        repository: FanInRepository,
        files: WorkFiles,
        pipeline: Callable[[], ScoringPipeline],
        metrics: JobMetrics,
        suites: SuiteReader | None = None,
        canary: JudgeCanary | None = None,
    ) -> None:
        self._canary = canary  # an anchor job's finding on the judge
        self._settings = settings
        self._suites = suites  # a suite run's earlier runs, for its drift test
        self._repository = repository
        self._files = files
        self._pipeline = pipeline
        self._metrics = metrics
        self._record = JobRecord(repository, metrics)

    def run(self, job: JobStatus, plan: Plan, last: ScoredShard, delivery: Delivery) -> Outcome:
        clock = time.monotonic()
        try:
            samples, scored = self._files.gather(plan, last)
            lost = lost_to_worker_errors(scored.results)
            if lost is not None:
                # Not one sample scored, for our fault alone: a failure, not a result.
                self._record.fail(job.job_id, lost)
                logger.error("job failed: every shard failed")
                return Outcome.FAILED
            budget = job_budget(self._repository, plan.job_id, plan.options, self._settings)
            final = asyncio.run(self._pipeline().fan_in(job, plan, samples, scored, budget))
            final = with_suite_fields(final, plan.options, samples, self._suites)
            if self._canary is not None and final.anchor_of is not None:
                final = final.model_copy(update={"canary": self._canary.check(final)})
        except Exception as exc:
            if delivery.last:
                self._record.fail(job.job_id, f"{type(exc).__name__}: {exc}")
                logger.exception("fan-in failed on its last delivery")
            raise
        if not self._repository.finish(final):
            current = self._record.current(job.job_id)
            if not (current.status is JobState.CANCELLED and current.run_id is None):
                return Outcome.DUPLICATE  # another copy's fan-in finished first
            # Cancelled while its last samples were scored: it keeps them, all of them.
            final = final.model_copy(
                update={"status": JobState.CANCELLED, "finished_at": current.finished_at}
            )
            if not self._repository.finish(final):
                return Outcome.DUPLICATE
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
        return ended_as(final.status)
