"""The caller's suites and a suite's runs (GET /suites, GET /suites/{name+}): what each run
scored, what changed since the run before it, and the drift test of the newest completed
run (the worker's, stored on its job: rag_eval/app/suite_drift.py).

Light (the list function's cold start): no statistics here.
"""

from __future__ import annotations

import re

from rag_eval.app.jobs import MAX_LIST_LIMIT
from rag_eval.app.ports import SuiteRepository
from rag_eval.domain.errors import RequestInvalid, SuiteNotFound
from rag_eval.domain.job import JobStatus
from rag_eval.domain.states import JobState
from rag_eval.domain.suites import MAX_SUITE_CHARS, SUITE_PATTERN, SuitePage, SuiteRun, SuiteRuns


class SuiteService:
    """Owner-scoped: a caller sees only suites their own jobs named."""

    def __init__(self, repository: SuiteRepository) -> None:
        self._repository = repository

    def list(self, *, caller: str, limit: int = 20, cursor: str | None = None) -> SuitePage:
        """The caller's suites, most recently run first."""
        suites, next_cursor = self._repository.suites(caller, _checked(limit), cursor)
        return SuitePage(suites=suites, next_cursor=next_cursor)

    def get(
        self, name: str, *, caller: str, limit: int = 20, cursor: str | None = None
    ) -> SuiteRuns:
        """A page of the suite's runs, newest first; SuiteNotFound when the caller has none."""
        limit = _checked(limit)
        if len(name) > MAX_SUITE_CHARS or not re.fullmatch(SUITE_PATTERN, name):
            raise SuiteNotFound(name[:MAX_SUITE_CHARS])
        jobs, before, next_cursor = self._repository.runs(caller, name, limit, cursor)
        if not jobs and cursor is None:
            raise SuiteNotFound(name)
        older = [*jobs[1:], before]
        runs = [_run(job, previous) for job, previous in zip(jobs, older, strict=True)]
        newest = next((job for job in jobs if job.status is JobState.COMPLETED), None)
        return SuiteRuns(
            suite=name,
            runs=runs,
            drift=newest.drift if newest is not None else {},
            next_cursor=next_cursor,
        )


def _checked(limit: int) -> int:
    if not 1 <= limit <= MAX_LIST_LIMIT:
        raise RequestInvalid(
            [{"field": "limit", "message": "out of range", "allowed": f"1..{MAX_LIST_LIMIT}"}]
        )
    return limit


def _judge(job: JobStatus) -> str:
    return str(job.request_summary.get("judge_model") or "")


def _metrics(job: JobStatus) -> list[str]:
    return list(job.request_summary.get("metrics") or job.scores)


def _run(job: JobStatus, previous: JobStatus | None) -> SuiteRun:
    return SuiteRun(
        job_id=job.job_id,
        run_id=job.run_id,
        created_at=job.created_at,
        status=job.status,
        sample_count=job.sample_count,
        judge_model=_judge(job),
        metrics=_metrics(job),
        scores=job.scores,
        intervals=job.intervals,
        weighted_score=job.weighted_score,
        dataset=job.dataset_digest,
        changes=[
            *(changes(previous, job) if previous is not None else []),
            *_judge_moved(job),
        ],
        canary=job.canary,
    )


def _judge_moved(job: JobStatus) -> list[str]:
    """The run's anchor scored differently from the previous run's: the judge changed."""
    if job.canary is None or not job.canary.judge_changed:
        return []
    moved = [
        f"{m.metric} {m.difference:+.3f}"
        for m in job.canary.metrics
        if m.moved and m.difference is not None
    ]
    return ["judge answers changed (anchor): " + ", ".join(moved)]


def changes(before: JobStatus, after: JobStatus) -> list[str]:
    """What makes `after` score differently from `before` other than the system scored: the
    judge, the metrics and their definitions, the samples."""
    found = []
    if _judge(before) != _judge(after):
        found.append(f"judge: {_judge(before) or 'none'} -> {_judge(after) or 'none'}")
    old, new = _metrics(before), _metrics(after)
    moved = [f"+{m}" for m in new if m not in old] + [f"-{m}" for m in old if m not in new]
    if moved:
        found.append("metrics: " + " ".join(moved))
    redefined = [
        m for m in new if m in old and before.definitions.get(m) != after.definitions.get(m)
    ]
    if redefined:
        found.append("definition changed: " + ", ".join(redefined))
    if before.sample_count != after.sample_count:
        found.append(f"samples: {before.sample_count} -> {after.sample_count}")
    was, now = before.dataset_digest, after.dataset_digest
    if was and now and was != now:  # unknown (a run that failed before its fan-in): unsaid
        found.append("dataset changed")
    return found
