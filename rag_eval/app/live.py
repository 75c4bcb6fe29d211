"""What a shard writes to its job's record while it scores: live progress, and the judge
calls and dollars counted against the job's budget (shared by every shard)."""

from __future__ import annotations

import time
from collections.abc import Callable

from rag_eval.app.ports import BudgetCounters, ShardRepository
from rag_eval.domain.budget import BudgetLimits, budget_limits
from rag_eval.domain.job import Progress, iso, utc_now
from rag_eval.domain.request import ScoreOptions
from rag_eval.domain.settings import Settings


def progress_reporter(
    repository: ShardRepository, job_id: str, interval_seconds: float
) -> Callable[[Progress], None]:
    """Live progress inside a shard: the metric calls done since the last report, at most
    once per interval."""
    last_at, last_calls = time.monotonic(), 0

    def report(progress: Progress) -> None:
        nonlocal last_at, last_calls
        now = time.monotonic()
        if now - last_at < interval_seconds:
            return
        calls = progress.metric_calls_done - last_calls
        last_at, last_calls = now, progress.metric_calls_done
        if calls:
            repository.add_metric_calls(job_id, calls, iso(utc_now()))

    return report


class JobBudget:
    """`JudgeBudget` on the job item: each judge call is counted by a conditional write
    before it starts, so however many shards run at once the calls never pass the limit,
    and dollars pass it by at most the calls already in flight."""

    def __init__(self, repository: BudgetCounters, job_id: str, limits: BudgetLimits) -> None:
        self._repository = repository
        self._job_id = job_id
        self._limits = limits

    def reserve(self) -> bool:
        return self._repository.reserve_judge_call(self._job_id, self._limits)

    def spend(self, usd: float) -> None:
        if usd > 0:
            self._repository.add_judge_spend(self._job_id, usd)

    def used(self) -> tuple[int, float]:
        return self._repository.judge_spend(self._job_id)


def job_budget(
    repository: BudgetCounters, job_id: str, options: ScoreOptions, settings: Settings
) -> JobBudget | None:
    """The job's running budget, or None when it has no limit (nothing to count)."""
    limits = budget_limits(options, settings)
    return JobBudget(repository, job_id, limits) if limits.any else None
