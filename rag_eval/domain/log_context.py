"""Which job a log line belongs to: set once per job, stamped on every record of `rag_eval`.

A context variable, so that the scorer's concurrent tasks (which copy the context they are
created in) log the job id without passing it along. The handlers install `JobContextFilter`
on the structured log handler (`rag_eval.adapters.aws.observability`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_job_id: ContextVar[str | None] = ContextVar("rag_eval_job_id", default=None)


@contextmanager
def job_context(job_id: str) -> Iterator[None]:
    token = _job_id.set(job_id)
    try:
        yield
    finally:
        _job_id.reset(token)


class JobContextFilter(logging.Filter):
    """Adds `job_id` to a record logged inside `job_context` (an explicit one wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        job_id = _job_id.get()
        if job_id is not None and not hasattr(record, "job_id"):
            record.job_id = job_id
        return True
