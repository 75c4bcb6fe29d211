"""A job's states, named once. Plain `enum` (no pydantic): the API client imports it too.

A job moves `queued -> running -> completed | failed` and never back; `cancelled` ends a
queued or running job at the caller's request. A late or duplicate message finds the job
further along and leaves it as it is (docs/ARCHITECTURE.md, "Job").
"""

from __future__ import annotations

from enum import StrEnum


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


# Where a job ends; nothing moves it on from there.
FINAL_STATES = frozenset({JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED})
# Where a worker may still pick it up.
ACTIVE_STATES = frozenset({JobState.QUEUED, JobState.RUNNING})
