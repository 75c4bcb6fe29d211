"""The ports of the use cases: what they need from storage and queues, as Protocols.

`rag_eval.adapters` implements them on DynamoDB, SQS and S3 (and a folder); the unit tests
hand in small in-memory fakes with the same methods.
"""

from __future__ import annotations

from typing import Protocol

from rag_eval.domain.job import JobStatus, Progress


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
        self, limit: int, cursor: str | None, status: str | None
    ) -> tuple[list[JobStatus], str | None]:
        """A page of jobs, newest first, and the cursor of the next page."""


class WorkerRepository(Protocol):
    """The job index as the worker moves a job along. Every write is conditional."""

    def get(self, job_id: str) -> tuple[JobStatus, str] | None: ...

    def start(self, job_id: str, now: str) -> JobStatus | None:
        """queued|running -> running; None when the job is already final."""

    def save_progress(self, job_id: str, progress: Progress, now: str) -> None:
        """Only while running."""

    def complete(self, job: JobStatus) -> bool:
        """running -> completed; False when the job was not running."""

    def mark_failed(self, job_id: str, error: str, finished_at: str) -> bool:
        """queued|running -> failed; False when the job is already final."""


class JobQueue(Protocol):
    def send(self, body: str) -> None: ...


class ObjectStore(Protocol):
    def put(self, key: str, body: bytes, content_type: str) -> None: ...

    def get(self, key: str) -> bytes: ...

    def presign(self, key: str, expires_in: int) -> str: ...
