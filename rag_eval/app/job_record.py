"""What every step of the worker does with its job's record: find the job still to be
worked on, or fail it; and what handling one message came to (`Outcome`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from rag_eval.app.ports import JobEnder, JobMetrics
from rag_eval.domain.job import JobStatus, iso, utc_now
from rag_eval.domain.states import JobState

logger = logging.getLogger(__name__)


class Outcome(StrEnum):
    """What handling a message came to: logged with its record, and what tests read. A job
    that ended with it ends in the `JobState` of the same name."""

    PLANNED = "planned"  # shards sent to the shard queue
    SHARD_DONE = "shard_done"  # a shard counted; others are still to come
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"  # cancelled while it was planned: nothing scored
    COMPARED = "compared"  # a comparison written
    CORRECTED = "corrected"  # people's labels set against the judge
    DUPLICATE = "duplicate"  # done before, or the job ended: nothing to do
    UNKNOWN_JOB = "unknown_job"  # no such job (never was, or expired): dropped
    DROPPED = "dropped"  # dead-lettered with no work of a job to close (a comparison, labels)
    DELIVERED = "delivered"  # a webhook took the job's event (2xx)
    RESENT = "resent"  # a webhook delivery failed and is sent again, later
    UNDELIVERED = "undelivered"  # a webhook delivery given up


def ended_as(state: JobState) -> Outcome:
    return Outcome(state.value)


@dataclass(frozen=True)
class JobRecord:
    repository: JobEnder
    metrics: JobMetrics

    def active(self, job_id: str, cancelled_too: bool = False) -> JobStatus | Outcome:
        """The job while a worker may move it on; else why this delivery has nothing to do.
        `cancelled_too`: a cancelled job still awaiting its fan-in (its remaining shards are
        counted unscored, then its results kept)."""
        found = self.repository.get(job_id)
        if found is None:
            # Jobs are recorded before they are queued, so this job never existed or has
            # expired: nothing to do, and retrying would not change that.
            logger.warning("message for unknown job dropped")
            return Outcome.UNKNOWN_JOB
        job = found[0]
        if job.status in (JobState.QUEUED, JobState.RUNNING):
            return job
        if cancelled_too and job.awaits_fan_in:
            return job
        logger.info("delivery for an ended job ignored", extra={"status": job.status.value})
        return Outcome.DUPLICATE

    def current(self, job_id: str) -> JobStatus:
        found = self.repository.get(job_id)
        if found is None:
            raise RuntimeError("the job disappeared while its shard was scored")
        return found[0]

    def fail(self, job_id: str, error: str) -> None:
        if self.repository.mark_failed(job_id, error[:1000], iso(utc_now())):
            self.metrics.job_ended(JobState.FAILED, None)
