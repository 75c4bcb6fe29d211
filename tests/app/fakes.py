"""Small in-memory fakes of the ports, with the same conditional semantics as DynamoDB's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rag_eval.app.ports import JobQueue, JobRepository, UploadStore
from rag_eval.domain.errors import JobExists
from rag_eval.domain.job import JobStatus
from rag_eval.domain.states import ACTIVE_STATES, JobState


class InMemoryJobs:
    """The API's repository port: one dict of job id -> (job, request hash)."""

    def __init__(self) -> None:
        self.items: dict[str, tuple[JobStatus, str]] = {}
        self.comparisons: set[tuple[str, str]] = set()  # (job id, request) recorded

    def create(self, job: JobStatus, request_hash: str, expires_at: int) -> None:
        if job.job_id in self.items:
            raise JobExists(job.job_id)
        self.items[job.job_id] = (job, request_hash)

    def get(self, job_id: str) -> tuple[JobStatus, str] | None:
        return self.items.get(job_id)

    def request_comparison(self, job_id: str, request: str) -> bool:
        if (job_id, request) in self.comparisons:
            return False
        self.comparisons.add((job_id, request))
        return True

    def mark_queued(self, job_id: str, now: str) -> None:
        if job_id in self.items and self.items[job_id][0].status is JobState.QUEUED:
            self._set(job_id, queued_at=now)

    def discard(self, job_id: str) -> None:
        if job_id in self.items and self.items[job_id][0].status is JobState.QUEUED:
            del self.items[job_id]

    def list(
        self, owner: str, limit: int, cursor: str | None, status: str | None
    ) -> tuple[list[JobStatus], str | None]:
        jobs = [
            job
            for job, _ in self.items.values()
            if job.owner == owner and (status is None or job.status == status)
        ]
        return sorted(jobs, key=lambda j: j.created_at, reverse=True)[:limit], None

    def _set(self, job_id: str, **fields: Any) -> JobStatus:
        job, request_hash = self.items[job_id]
        job = job.model_copy(update=fields)
        self.items[job_id] = (job, request_hash)
        return job

    def cancel(self, job_id: str, now: str) -> bool:
        if self.items[job_id][0].status not in ACTIVE_STATES:
            return False
        self._set(job_id, status=JobState.CANCELLED, updated_at=now, finished_at=now)
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

    def send_batch(self, bodies: list[str]) -> None:
        for body in bodies:  # a queue that is down takes none of them
            self.send(body)


class InMemoryStore:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self.objects[key] = body

    def get(self, key: str) -> bytes:
        return self.objects[key]

    def presign(self, key: str, expires_in: int) -> str:
        return f"memory://{key}?expires_in={expires_in}"

    def find(self, key: str) -> bytes | None:
        return self.objects.get(key)

    def lines(self, key: str) -> Iterator[bytes]:
        # As S3's streamed body splits them: each line with its ending.
        yield from self.objects[key].splitlines(keepends=True)

    def get_range(self, key: str, start: int, length: int) -> bytes:
        return self.objects[key][start : start + max(0, length)]

    def size(self, key: str) -> int | None:
        return len(self.objects[key]) if key in self.objects else None

    def presign_post(self, key: str, max_bytes: int, expires_in: int) -> dict[str, object]:
        return {"url": "memory://uploads", "fields": {"key": key, "max": str(max_bytes)}}


# Each fake stands in for its port: mypy checks it has every method, with the same types.
_jobs: JobRepository = InMemoryJobs()
_queue: JobQueue = InMemoryQueue()
_store: UploadStore = InMemoryStore()
