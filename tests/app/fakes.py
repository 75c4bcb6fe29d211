"""Small in-memory fakes of the ports, with the same conditional semantics as DynamoDB's."""

from __future__ import annotations

import asyncio

from rag_eval.domain.errors import JobExists
from rag_eval.domain.job import JobStatus, Progress
from rag_eval.domain.request import ScoreRequest
from rag_eval.domain.states import ACTIVE_STATES, JobState


class InMemoryJobs:
    """Both repository ports: one dict of job id -> (job, request hash)."""

    def __init__(self) -> None:
        self.items: dict[str, tuple[JobStatus, str]] = {}

    def create(self, job: JobStatus, request_hash: str, expires_at: int) -> None:
        if job.job_id in self.items:
            raise JobExists(job.job_id)
        self.items[job.job_id] = (job, request_hash)

    def get(self, job_id: str) -> tuple[JobStatus, str] | None:
        return self.items.get(job_id)

    def mark_queued(self, job_id: str, now: str) -> None:
        if job_id in self.items and self.items[job_id][0].status is JobState.QUEUED:
            self._set(job_id, queued_at=now)

    def discard(self, job_id: str) -> None:
        if job_id in self.items and self.items[job_id][0].status is JobState.QUEUED:
            del self.items[job_id]

    def list(self, limit, cursor, status):
        jobs = [job for job, _ in self.items.values() if status is None or job.status == status]
        return sorted(jobs, key=lambda j: j.created_at, reverse=True)[:limit], None

    def _set(self, job_id: str, **fields) -> JobStatus:
        job, request_hash = self.items[job_id]
        job = job.model_copy(update=fields)
        self.items[job_id] = (job, request_hash)
        return job

    def start(self, job_id: str, now: str) -> JobStatus | None:
        if self.items[job_id][0].status not in ACTIVE_STATES:
            return None
        return self._set(job_id, status=JobState.RUNNING, updated_at=now)

    def save_progress(self, job_id: str, progress: Progress, now: str) -> None:
        if self.items[job_id][0].status is JobState.RUNNING:
            self._set(job_id, progress=progress, updated_at=now)

    def complete(self, job: JobStatus) -> bool:
        if self.items[job.job_id][0].status is not JobState.RUNNING:
            return False
        self.items[job.job_id] = (job, self.items[job.job_id][1])
        return True

    def mark_failed(self, job_id: str, error: str, finished_at: str) -> bool:
        if self.items[job_id][0].status not in ACTIVE_STATES:
            return False
        self._set(job_id, status=JobState.FAILED, error=error, finished_at=finished_at)
        return True

    def status(self, job_id: str) -> JobState:
        return self.items[job_id][0].status


class InMemoryQueue:
    def __init__(self, *, down: bool = False) -> None:
        self.sent: list[str] = []
        self.down = down

    def send(self, body: str) -> None:
        if self.down:
            raise ConnectionError("the queue is down")
        self.sent.append(body)


class InMemoryStore:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self.objects[key] = body

    def get(self, key: str) -> bytes:
        return self.objects[key]

    def presign(self, key: str, expires_in: int) -> str:
        return f"memory://{key}?expires_in={expires_in}"


class ScriptedPipeline:
    """Stands in for the scoring pipeline: completes the job, or fails as told."""

    def __init__(self, failure: Exception | None = None, seconds: float = 0.0) -> None:
        self.failure = failure
        self.seconds = seconds
        self.runs: list[str] = []

    async def arun(self, job: JobStatus, request: ScoreRequest, on_progress=None) -> JobStatus:
        self.runs.append(job.job_id)
        if self.seconds:
            await asyncio.sleep(self.seconds)
        if self.failure is not None:
            raise self.failure
        return job.model_copy(
            update={
                "status": JobState.COMPLETED,
                "run_id": f"run-{job.job_id}",
                "scores": dict.fromkeys(request.metrics, 1.0),
                "weighted_score": 1.0,
            }
        )
